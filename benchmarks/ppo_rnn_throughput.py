"""Recurrent PPO training throughput: jaxrl vs PureJaxRL's ``ppo_rnn.py`` (issue 22).

The peer is PureJaxRL's own code (luchris429/purejaxrl ``purejaxrl/ppo_rnn.py`` + ``wrappers.py``,
commit 31756b1, copied byte for byte into ``benchmarks/peers/purejaxrl/``; see SOURCE.md there),
run in its own venv through ``purejaxrl_ppo_rnn_runner.py``:

- ``benchmarks/.venv-purejaxrl`` (``--peer-venv pinned``): the versions the code was
  written against -- jax/jaxlib 0.4.13, flax 0.6.11, optax 0.1.7, distrax 0.1.4 (+
  tensorflow-probability 0.21.0), chex 0.1.82, gymnax 0.0.6, numpy 1.25.2
  (``peers/purejaxrl/requirements-pinned.txt``, the full freeze). flax 0.6.11 is the newest flax
  whose ``GRUCell.initialize_carry(rng, batch_dims, size)`` is static, as ppo_rnn.py calls it
  (flax 0.7.0 raises TypeError); gymnax 0.0.6's ``step`` returns the 5-tuple the code unpacks.
- ``benchmarks/.venv-purejaxrl-modern`` (``--peer-venv modern``): jaxrl's jax 0.10.2 with
  rejax's venv's flax 0.12.8 / optax 0.2.8 / distrax 0.1.9 / gymnax 0.0.9
  (``requirements-modern.txt``), the same file run unchanged, with flax's GRUCell given its
  flax-0.6 call signature by the runner (``_legacy_gru_api``) and flax's orthogonal initializer
  wrapped in ``jax.custom_batching.sequential_vmap`` (``_sequential_orthogonal``: without it the
  32-seed program deadlocked with the CPU idle, jaxlib 0.10's batched-QR bug that
  ``jaxrl.networks.orthogonal`` works around; bitwise the same parameters).
  Why both: the jax version moves the peer's rate a lot, and not one way. XLA:CPU in jax 0.4.x
  pays ~20 us per ``lax.scan`` iteration where jax 0.10.2 pays ~3 us (this machine, a
  [1,128]x[128,128] matmul + tanh per iteration), which dominates at 1 seed (recurrent PPO is
  thousands of sequential scan iterations per update: modern 2.2x pinned by medians in the
  first run), and shrinks to 1.2x at 32 seeds (within that run's noise). Quote jaxrl (jax 0.10.2)
  against both, and take the faster peer at each point as the baseline a target is judged by.

env steps/s = seeds x env steps per seed / wall time of one ``jit(vmap(train))(keys)`` call
(compile excluded: AOT ``lower().compile()``, reported separately), median of ``--repeats``
calls, peer and jaxrl interleaved (order alternating each repeat), same steps per seed for both.

======================================================================================
THE SETTINGS THE JAXRL SIDE MUST COPY (PureJaxRL ppo_rnn.py's ``__main__`` config, CartPole-v1)
======================================================================================
(Checked at run time: ``PUREJAXRL_CONFIG`` below must equal the dict the runner reads from the
file, or the script stops.)

Sizes and schedule
- NUM_ENVS 4 (gymnax ``CartPole-v1``, vmapped), NUM_STEPS 128 per rollout -> 512 transitions per
  update. TOTAL_TIMESTEPS 5e5 -> NUM_UPDATES = 5e5 // 128 // 4 = 976 -> 499,712 env steps per
  seed (the benchmark overrides TOTAL_TIMESTEPS with ``--steps``; NUM_UPDATES = steps // 512, so
  give multiples of 512).
- UPDATE_EPOCHS 4, NUM_MINIBATCHES 4 -> 16 gradient steps per update.
- MINIBATCHES SPLIT ENVIRONMENTS, NOT TIME STEPS: each epoch draws a permutation of the 4 env
  indices (``jax.random.permutation(rng, NUM_ENVS)``) and cuts it into 4 groups of
  NUM_ENVS / NUM_MINIBATCHES = 1 env, so a minibatch is one env's whole 128-step sequence (128
  transitions; config's MINIBATCH_SIZE = 128 is informational only). The GRU is re-run over the
  full sequence from that env's hidden state at the START of the rollout (stored once per
  rollout, not per step), with gradients through all 128 steps (no truncated BPTT, no burn-in).
- Optimizer: ``optax.chain(optax.clip_by_global_norm(0.5), optax.adam(lr, eps=1e-5))`` (b1 0.9,
  b2 0.999), ONE optimizer over ONE parameter set (actor and critic share the trunk).
- LR 2.5e-4, ANNEAL_LR True: lr(count) = 2.5e-4 * (1 - (count // 16) / NUM_UPDATES), count =
  Adam's step count (minibatch updates done so far, from 0), i.e. constant within an update,
  2.5e-4 at update 0, 2.5e-4 / NUM_UPDATES at the last update (never 0).

Returns and losses
- GAMMA 0.99, GAE_LAMBDA 0.95. GAE by reverse ``lax.scan`` (unroll=16):
  delta_t = r_t + 0.99 * V_{t+1} * (1 - d_{t+1}) - V_t,
  A_t = delta_t + 0.99 * 0.95 * (1 - d_{t+1}) * A_{t+1}, where d_{t+1} is the done flag returned
  by the env step taken at t; for the last step V_{t+1} is the critic on the observation after
  the rollout (network run one step with the carried hidden state and the last done flag).
  targets = A + V_old.
- Advantages standardised PER MINIBATCH (over its 128 entries): (A - mean) / (std + 1e-8).
- Policy loss: -mean(min(ratio * A, clip(ratio, 0.8, 1.2) * A)), CLIP_EPS 0.2.
- Value loss CLIPPED with the same 0.2: 0.5 * mean(max((V - target)^2,
  (V_old + clip(V - V_old, -0.2, 0.2) - target)^2)).
- total = policy + VF_COEF 0.5 * value - ENT_COEF 0.01 * mean entropy; MAX_GRAD_NORM 0.5.

Network (``ActorCriticRNN``; float32; all biases zero-initialised)
- obs (CartPole: 4, flattened) -> Dense 128 (kernel orthogonal(sqrt 2)) -> ReLU
  -> GRU, hidden 128 (flax ``GRUCell``: r = sig(W_ir x + b_ir + W_hr h),
  z = sig(W_iz x + b_iz + W_hz h), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
  h' = (1 - z) * n + z * h; input kernels lecun_normal, recurrent kernels orthogonal(1), biases
  zero; six Dense layers, not fused)
  -> actor: Dense 128 (orthogonal(2) -- scale 2, not sqrt 2) -> ReLU -> Dense 2 (orthogonal(0.01))
     -> Categorical(logits) (distrax);
  -> critic: Dense 128 (orthogonal(2)) -> ReLU -> Dense 1 (orthogonal(1.0)).
- The GRU output (= its new hidden state) feeds both heads; no layer norm, no obs normalisation,
  no reward scaling.

Hidden state and episode boundaries
- Initial hidden state zeros [NUM_ENVS, 128]; initial ``last_done`` False.
- Reset on done, BEFORE the step: the network gets (obs_t, done flag that came with obs_t, i.e.
  the done returned by the previous env step) and replaces h by zeros where that flag is set,
  then runs the GRU on obs_t (obs_t is the auto-reset first observation of the new episode).
  The update replays the same flags, so resets happen at the same steps.
- The hidden state carries over from one rollout to the next (the rollout's final h, computed
  with the pre-update parameters, starts the next rollout and is its stored initial state).
- Truncation IS termination: gymnax 0.0.6 CartPole ``done`` = pole/cart out of bounds OR
  time >= 500 (``max_steps_in_episode``); the env auto-resets inside ``step`` and returns the
  reset observation; nothing bootstraps at the time limit. Reward 1.0 on every step (including
  the last).

Sampling and keys
- Per rollout step: one key split for the action (``pi.sample``), one split into NUM_ENVS env-step
  keys. ``train(rng)``: split for network init, split for the NUM_ENVS reset keys, split for the
  runner's key; one split per epoch for the permutation.
- Outputs: ``{"runner_state", "metric"}``, metric = LogWrapper's info stacked per step
  ([NUM_UPDATES, NUM_STEPS, NUM_ENVS] per key); DEBUG (per-episode print through
  ``jax.debug.callback``) is off in the timed runs.

jaxrl side: ``jaxrl_side(settings, seeds)`` (below) must return an object with
``prepare() -> {"compile_s": float}`` (build ``jit(vmap(train))`` for ``seeds`` seeds and compile
it ahead of time), ``run(rep) -> {"wall_s": float, "env_steps_per_seed": int}`` (one blocking
call on fresh keys) and ``free()``; ``settings`` is the peer's config dict as run (with
``TOTAL_TIMESTEPS`` = ``--steps``).

    .venv/bin/python benchmarks/ppo_rnn_throughput.py --peer-only [--seeds 1 32] [--steps 51200]
        [--repeats 3] [--peer-venv both|pinned|modern] [--call-timeout 900] [--out-md F]
        [--out-json F]

``--peer-venv both`` (the default) times both venvs' peers; each side is one
``purejaxrl_ppo_rnn_runner.py serve`` process.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402

PEER_DIR = os.path.join(HERE, "peers", "purejaxrl")
RUNNER = os.path.join(HERE, "purejaxrl_ppo_rnn_runner.py")
PEER_VENVS = {
    "pinned": (os.path.join(HERE, ".venv-purejaxrl"),
               os.path.join(PEER_DIR, "requirements-pinned.txt")),
    "modern": (os.path.join(HERE, ".venv-purejaxrl-modern"),
               os.path.join(PEER_DIR, "requirements-modern.txt")),
}

# ppo_rnn.py's __main__ config, copied for the jaxrl side; checked against the file at run time.
PUREJAXRL_CONFIG = {
    "LR": 2.5e-4,
    "NUM_ENVS": 4,
    "NUM_STEPS": 128,
    "TOTAL_TIMESTEPS": 5e5,
    "UPDATE_EPOCHS": 4,
    "NUM_MINIBATCHES": 4,
    "GAMMA": 0.99,
    "GAE_LAMBDA": 0.95,
    "CLIP_EPS": 0.2,
    "ENT_COEF": 0.01,
    "VF_COEF": 0.5,
    "MAX_GRAD_NORM": 0.5,
    "ENV_NAME": "CartPole-v1",
    "ANNEAL_LR": True,
    "DEBUG": True,
}
GRU_HIDDEN = 128   # hard-coded in ppo_rnn.py (initialize_carry(NUM_ENVS, 128), Dense 128)


def peer_settings(steps: int) -> dict:
  """The config ppo_rnn.py runs with ``TOTAL_TIMESTEPS = steps`` (DEBUG off), with the two keys
  its ``make_train`` adds; what ``jaxrl_side`` receives."""
  c = dict(PUREJAXRL_CONFIG, TOTAL_TIMESTEPS=steps, DEBUG=False)
  c["NUM_UPDATES"] = c["TOTAL_TIMESTEPS"] // c["NUM_STEPS"] // c["NUM_ENVS"]
  c["MINIBATCH_SIZE"] = c["NUM_ENVS"] * c["NUM_STEPS"] // c["NUM_MINIBATCHES"]
  return c


def log(*a):
  print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# jaxrl's side
# ------------------------------------------------------------------------------------------
def jaxrl_config(settings: dict):
  """jaxrl's ``PPOConfig`` with every number of the peer's ``settings`` (the module docstring).

  Differences that stay, and why: jaxrl bootstraps a truncated episode from its final
  observation (one more batched pass of the network over the rollout's ``obs_tp1``: the cost
  of not treating the time limit as a termination), its heads' hidden layers start from
  orthogonal(sqrt 2) rather than orthogonal(2), and its learning rate anneals to 0 rather than
  to ``lr / NUM_UPDATES``. The greedy evaluation (PureJaxRL has none) is cut to one step of one
  episode, once at the end, and one logging point is kept.
  """
  from jaxrl.agents import ppo  # pylint: disable=import-outside-toplevel
  c = settings
  total = c["NUM_UPDATES"] * c["NUM_ENVS"] * c["NUM_STEPS"]
  return ppo.PPOConfig(
      network="gru", hidden_sizes=(GRU_HIDDEN,), memory_size=GRU_HIDDEN,
      num_envs=c["NUM_ENVS"], num_steps=c["NUM_STEPS"], num_epochs=c["UPDATE_EPOCHS"],
      num_minibatches=c["NUM_MINIBATCHES"], total_steps=total, learning_rate=c["LR"],
      discount=c["GAMMA"], gae_lambda=c["GAE_LAMBDA"], clip_eps=c["CLIP_EPS"],
      entropy_coef=c["ENT_COEF"], value_coef=c["VF_COEF"], max_grad_norm=c["MAX_GRAD_NORM"],
      anneal_lr=c["ANNEAL_LR"], clip_value=True, normalize_advantages=True,
      log_every=total, eval_every=total, eval_episodes=1, eval_max_steps=1)


class JaxrlSide:
  """jaxrl's recurrent PPO at one point: ``jit(vmap(train))(keys)`` on one device."""

  def __init__(self, settings: dict, seeds: int):
    import jax  # pylint: disable=import-outside-toplevel
    from jaxrl import envs  # pylint: disable=import-outside-toplevel
    from jaxrl.agents import ppo  # pylint: disable=import-outside-toplevel
    self.jax, self.seeds, self.settings = jax, seeds, settings
    env, env_params = envs.make(settings["ENV_NAME"])
    self.train = jax.jit(jax.vmap(ppo.make_train(jaxrl_config(settings), env, env_params)))
    self.compiled = None

  def _keys(self, rep):
    return self.jax.random.split(self.jax.random.PRNGKey(1000 * (rep + 1)), self.seeds)

  def prepare(self):
    t0 = time.perf_counter()
    lowered = self.train.lower(self._keys(-1))
    t1 = time.perf_counter()
    self.compiled = lowered.compile()
    return dict(trace_lower_s=t1 - t0, compile_s=time.perf_counter() - t1, config=self.settings)

  def run(self, rep):
    import numpy as np  # pylint: disable=import-outside-toplevel
    t0 = time.perf_counter()
    state, metrics = self.jax.block_until_ready(self.compiled(self._keys(rep)))
    wall = time.perf_counter() - t0
    return dict(wall_s=wall, env_steps_per_seed=int(np.asarray(state.env_steps)[0]),
                last_update_episode_return_mean=float(np.nanmean(
                    np.asarray(metrics["episode_return"])[:, -1])))

  def free(self):
    self.compiled = None


def jaxrl_side(settings: dict, seeds: int):
  """jaxrl's recurrent PPO with the peer's ``settings`` (:func:`jaxrl_config`), ``seeds`` seeds
  as ``jit(vmap(train))(keys)`` on one device, like the peer."""
  return JaxrlSide(settings, seeds)


# ------------------------------------------------------------------------------------------
# the peer: PureJaxRL in its own venv
# ------------------------------------------------------------------------------------------
def ensure_purejaxrl_venv(kind: str) -> str:
  """Creates ``benchmarks/.venv-purejaxrl[-modern]`` from its requirements file if it is not
  there (marker ``.installed`` holding the file's text); returns its python."""
  venv, requirements = PEER_VENVS[kind]
  py = os.path.join(venv, "bin", "python")
  marker = os.path.join(venv, ".installed")
  wanted = open(requirements).read()
  if os.path.exists(marker) and open(marker).read() == wanted:
    return py
  log(f"creating {venv} from {os.path.relpath(requirements, HERE)} ...")
  if not os.path.exists(py):
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
  pip = [py, "-m", "pip", "install", "--quiet"]
  subprocess.run(pip + ["--upgrade", "pip"], check=True)
  subprocess.run(pip + ["-r", requirements], check=True)
  with open(marker, "w") as f:
    f.write(wanted)
  return py


class PeerServer:
  """``purejaxrl_ppo_rnn_runner.py serve`` in the peer's venv; one JSON line per command."""

  def __init__(self, python: str, timeout_s: float):
    self.timeout_s = timeout_s
    self.proc = subprocess.Popen([python, "-W", "ignore", RUNNER, "serve"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=sys.stderr, text=True, bufsize=1,
                                 cwd=HERE)
    self.hello = self._read("start")

  def _read(self, what):
    ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
    if not ready:
      self.kill()
      raise TimeoutError(f"PureJaxRL runner: '{what}' took more than {self.timeout_s:.0f} s")
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError("the PureJaxRL runner exited")
    return json.loads(line)

  def __call__(self, cmd, **kw):
    self.proc.stdin.write(json.dumps(dict(cmd=cmd, **kw)) + "\n")
    self.proc.stdin.flush()
    r = self._read(cmd)
    if not r.pop("ok"):
      raise RuntimeError(r["error"])
    return r

  def close(self):
    self.proc.stdin.write(json.dumps(dict(cmd="quit")) + "\n")
    self.proc.stdin.flush()
    self.proc.wait(timeout=30)

  def kill(self):
    if self.proc.poll() is None:
      self.proc.kill()


class Peer:
  """The peer at one point, with the interface ``jaxrl_side`` returns."""

  def __init__(self, server: PeerServer, seeds: int, steps: int):
    self.server, self.kw = server, dict(seeds=seeds, total_timesteps=steps)

  def prepare(self):
    return self.server("prepare", **self.kw)

  def run(self, rep):
    return self.server("run", rep=rep, **self.kw)

  def free(self):
    self.server("free", **self.kw)


# ------------------------------------------------------------------------------------------
def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--seeds", type=int, nargs="+", default=[1, 32])
  ap.add_argument("--steps", type=int, default=51_200,
                  help="env steps per seed (PureJaxRL's TOTAL_TIMESTEPS; default 1/10 of its 5e5, "
                       "rounded to whole updates of 512)")
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--peer-only", action="store_true", help="time only PureJaxRL; print its table")
  ap.add_argument("--peer-venv", choices=("pinned", "modern", "both"), default="both")
  ap.add_argument("--call-timeout", type=float, default=900.0,
                  help="seconds one compile or timed call may take before the benchmark stops")
  ap.add_argument("--out-md")
  ap.add_argument("--out-json")
  args = ap.parse_args()
  t_start = time.perf_counter()
  kinds = ["pinned", "modern"] if args.peer_venv == "both" else [args.peer_venv]
  res = dict(command="python " + " ".join(sys.argv), machine=common.machine_info(),
             repeats=args.repeats, steps=args.steps, peers={}, points=[])
  servers = {}
  try:
    for kind in kinds:
      servers[kind] = PeerServer(ensure_purejaxrl_venv(kind), args.call_timeout)
      hello = servers[kind].hello
      if hello["default_config"] != PUREJAXRL_CONFIG:
        raise RuntimeError(f"ppo_rnn.py's config {hello['default_config']} differs from "
                           f"PUREJAXRL_CONFIG {PUREJAXRL_CONFIG}: update the docstring and dict")
      res["peers"][kind] = dict(versions=hello["versions"], import_s=hello["import_s"])
    settings = peer_settings(args.steps)
    for seeds in args.seeds:
      sides = {f"purejaxrl_{k}": Peer(servers[k], seeds, args.steps) for k in kinds}
      if not args.peer_only:
        sides["jaxrl"] = jaxrl_side(dict(settings), seeds)
      p = dict(seeds=seeds, settings=settings, compile={}, runs={})
      for name, side in sides.items():
        log(f"seeds={seeds}: compiling {name} ...")
        p["compile"][name] = side.prepare()
        ran = p["compile"][name].pop("config", settings)
        if ran != settings:
          raise RuntimeError(f"{name} ran {ran}, not {settings}")
      p["runs"] = {name: [] for name in sides}
      order = list(sides)
      for rep in range(args.repeats):
        for name in (order if rep % 2 == 0 else order[::-1]):
          r = sides[name].run(rep)
          log(f"seeds={seeds} rep {rep} {name}: {r['wall_s']:.2f} s")
          p["runs"][name].append(r)
      for side in sides.values():
        side.free()
      p["steps_per_s"] = {name: seeds * runs[-1]["env_steps_per_seed"] /
                          statistics.median(r["wall_s"] for r in runs)
                          for name, runs in p["runs"].items()}
      res["points"].append(p)
  finally:
    for s in servers.values():
      s.kill()
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["wall_s"] = time.perf_counter() - t_start
  report = build_report(res)
  print(report, flush=True)
  if args.out_md:
    open(args.out_md, "w").write(report + "\n")
  if args.out_json:
    json.dump(res, open(args.out_json, "w"), indent=1, default=str)


def build_report(res) -> str:
  mi = res["machine"]
  L = ["## Recurrent PPO throughput: PureJaxRL ppo_rnn.py (CartPole-v1, its own settings)\n",
       f"Command: `{res['command']}`  \nDate: {mi['date']}; machine: {mi['cpu']}, {mi['cores']} "
       f"cores, {mi['memory']}; load average {mi['load average']} before, {res['load_after']} "
       f"after; whole benchmark {res['wall_s'] / 60:.1f} min.  "]
  for kind, peer in res["peers"].items():
    v = peer["versions"]
    L.append(f"PureJaxRL ({kind} venv): commit {v['purejaxrl_commit'][:7]}, python {v['python']}, "
             f"jax {v['jax']}, jaxlib {v['jaxlib']}, flax {v['flax']}, optax {v['optax']}, "
             f"distrax {v['distrax']}, gymnax {v['gymnax']}, chex {v['chex']}, numpy "
             f"{v['numpy']}; stand-ins for unused imports: "
             f"{', '.join(v['stubbed_unused_imports']) or 'none'}; "
             f"compat: {'; '.join(v['compat']) or 'none'}.  ")
  L.append(f"\nenv steps/s: seeds x env steps per seed / median wall time of {res['repeats']} "
           "calls of `jit(vmap(train))(keys)`, sides interleaved; compile = AOT "
           "`lower().compile()`, excluded.\n")
  L.append("| seeds | steps/seed | side | env steps/s | run s (each) | trace+lower s | compile s | "
           "mean return, last update |")
  L.append("|---:|---:|---|---:|---|---:|---:|---|")
  for p in res["points"]:
    for name, runs in p["runs"].items():
      c = p["compile"][name]
      rets = " / ".join(f"{r.get('last_update_episode_return_mean', float('nan')):.0f}"
                        for r in runs)
      each = " / ".join(f"{r['wall_s']:.2f}" for r in runs)
      L.append(f"| {p['seeds']} | {runs[-1]['env_steps_per_seed']:,} | {name} | "
               f"{p['steps_per_s'][name]:,.0f} | {each} | "
               f"{c.get('trace_lower_s', float('nan')):.1f} | {c['compile_s']:.1f} | {rets} |")
  if any("jaxrl" in p["steps_per_s"] for p in res["points"]):
    L.append("\n| seeds | " + " | ".join(f"jaxrl / {k}" for k in res["peers"]) + " |")
    L.append("|---:|" + "---:|" * len(res["peers"]))
    for p in res["points"]:
      s = p["steps_per_s"]
      L.append(f"| {p['seeds']} | " + " | ".join(f"{s['jaxrl'] / s[f'purejaxrl_{k}']:.2f}x"
                                                 for k in res["peers"]) + " |")
  L.append("")
  return "\n".join(L)


if __name__ == "__main__":
  main()
