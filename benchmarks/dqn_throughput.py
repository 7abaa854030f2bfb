"""DQN training throughput on CartPole-v1: jaxrl against rejax 0.1.3, in one run, seeds vmapped.

What is measured (all in one invocation, so that the ratios share the machine's load):

* **steps/s** of ``jax.jit(jax.vmap(train))(keys)`` at 1, 8, 32 and 128 seeds (env steps of all
  seeds together over the wall time of the call), for jaxrl (``jaxrl.agents.dqn``) and for rejax's
  DQN, which runs in its own virtual environment (``benchmarks/.venv-rejax``, created here if
  missing: rejax 0.1.3 steps environments with gymnax 0.0.9's 5-tuple API, while jaxrl uses gymnax
  1.x) through ``rejax_dqn_runner.py serve``. The two libraries' runs are interleaved rep by rep
  (rejax, jaxrl, jaxrl, rejax, ...) and the median of ``--repeats`` runs is reported;
* **compile time**: a fresh ``jax.jit`` (caches cleared) at one seed, first call minus second
  call, ``--compile-probes`` times each, interleaved, median reported; plus the AOT
  ``lower``/``compile`` time of every measured point;
* **recompilation**: the programs compiled during the second call (new keys), counted with
  ``jaxrl.training.count_compilations`` (jax.monitoring events),
  must be 0;
* **bare environment**: gymnax CartPole-v1 vmapped over ``10 * seeds`` environments, random
  actions, in a ``lax.scan`` (jaxrl's gymnax 1.x; rejax's 0.0.9 in its venv);
* **arithmetic floor**: the matmul FLOPs a DQN run must do (below), over the FLOP rate this CPU
  reaches on the dominant matmul shape ``[S, 100, 64] x [S, 64, 64]`` (a jitted ``fori_loop`` of
  batched dots), measured in the same run. ``floor %`` = achieved FLOP/s / that peak;
* a jaxrl **diagnostic**: the same runs with ``learning_starts > total_steps`` (acting,
  environment and replay buffer only, no gradient updates), so that full - no-update isolates
  the update cost; its FLOP rate is reported against the same peak.

Hyperparameters (identical in both): rejax's ``configs/gymnax/cartpole.yaml`` DQN, which jaxrl's
``DQNConfig`` defaults copy: 10 envs, buffer 50,000, batch 100, lr 1e-3, 5 updates per vectorized
step, max grad norm 10, Polyak target (rejax ``polyak=0.98``, jaxrl ``polyak_step=0.02``), epsilon
1 -> 0.05 over the first half of training, discount 0.99, double DQN, MLP 64x64 relu (rejax:
``agent="QNetwork"`` instead of the config's ``DuelingQNetwork``/swish). Update-free warm-up is
5% of the run (5,000 of 100,000 steps), scaled with ``total_steps`` so shortened runs keep the
same mix of work per step. Evaluation: one greedy episode at the end of training in both (rejax:
``eval_freq = total_timesteps``, ``skip_initial_evaluation``, a 1-episode ``evaluate`` callback;
jaxrl: ``eval_every = total_steps``, ``eval_episodes = 1``); ``--eval config`` instead uses the
config's evaluation (every 2,500 steps; 128 episodes, which jaxrl matches with
``eval_episodes=128``).

Differences that remain (same FLOPs, different semantics; listed in BENCHMARKS.md): rejax clips
gradients elementwise (``optax.clip``), jaxrl by global norm; rejax applies its Polyak step once
per vectorized step, jaxrl once per gradient update; rejax samples minibatches without
replacement (``jax.random.choice(p=...)`` over the whole 50,000-slot buffer), jaxrl with
replacement; rejax (gymnax 0.0.9) does not bootstrap on time-limit truncation, jaxrl does.

FLOPs per run and seed (multiply-add = 2 FLOPs; network 4 -> 64 -> 64 -> 2, 4,480 MACs forward):
  per update  = 100 x (forward+backward of the online net 13,184 MACs + target forward on
                next_obs 4,480 + online forward on next_obs for double DQN 4,480) x 2
              = 4.43 MFLOP;
  per env step, acting = one forward = 8,960 FLOP;
  run = updates x 4.43 MFLOP + env steps x 8,960 FLOP (elementwise work, Adam and the env are
  not counted).

Run (5-6 minutes on the quiet 2-core machine, about 13 when it is loaded; most of it is rejax):

    .venv/bin/python benchmarks/dqn_throughput.py

``--points 1:50000,8:5000,32:2500,128:1000`` sets seeds:total_steps per point (the default
shown: rejax runs 2.5-10k steps/s here whatever the number of seeds, so every point is kept to
40k-128k env steps in all, 10-50 s of rejax per run);
``--quick`` is a smoke test; ``--out-md``/``--out-json`` save the report.

``--floor-only`` (no rejax, a few minutes) measures instead, at each of ``--points``, jaxrl's rate
on one device (``jit(vmap(train))(keys)``) and with the seeds split over one CPU device per core
(``jaxrl.cpu_devices.use_all_cores`` + ``devices.shard_runs``, as ``jaxrl train`` runs them)
against the floor (:func:`network_floor`: the network passes, Adam and Polyak steps the setting
requires plus the bare environment, for all the seeds, timed with ``ppo_throughput``'s helpers so
that DQN's floor is built like PPO's and PQN's) on the same devices, and the no-update runs
against the floor's acting+environment part:

    .venv/bin/python benchmarks/dqn_throughput.py --floor-only \
        --points 1:20000,32:5000,128:2000 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

if __name__ == "__main__" and "--floor-only" in sys.argv[1:]:
  from jaxrl import cpu_devices  # noqa: E402
  cpu_devices.use_all_cores()    # before any JAX computation (importing jaxrl.envs runs one)

import common  # noqa: E402
from jaxrl.agents.dqn import DQNConfig, make_train  # noqa: E402
from jaxrl.envs import make  # noqa: E402
from jaxrl.training import count_compilations  # noqa: E402

REJAX_VENV = os.path.join(HERE, ".venv-rejax")
REJAX_PY = os.path.join(REJAX_VENV, "bin", "python")
REJAX_REQUIREMENTS = ["rejax==0.1.3", "gymnax==0.0.9"]

NUM_ENVS = 10
BATCH = 100
FWD_MACS = 4 * 64 + 64 * 64 + 64 * 2                       # 4,480
BWD_MACS = FWD_MACS + (64 * 64 + 64 * 2)                     # dW all layers + dx layers 2-3
UPDATE_FLOPS = 2 * BATCH * (FWD_MACS + BWD_MACS + FWD_MACS + FWD_MACS)
ACT_FLOPS = 2 * FWD_MACS


def log(*args):
  print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# rejax's virtual environment and server process
# ------------------------------------------------------------------------------------------
def ensure_rejax_venv() -> None:
  """Creates benchmarks/.venv-rejax with rejax 0.1.3 and gymnax 0.0.9 if it is not there."""
  marker = os.path.join(REJAX_VENV, ".installed")
  if os.path.exists(marker):
    return
  log(f"creating {REJAX_VENV} ({', '.join(REJAX_REQUIREMENTS)}) ...")
  subprocess.run([sys.executable, "-m", "venv", REJAX_VENV], check=True)
  pip = [REJAX_PY, "-m", "pip", "install", "--quiet"]
  subprocess.run(pip + ["--upgrade", "pip"], check=True)
  # rejax 0.1.3 asks for gymnax>=0.0.9, which resolves to gymnax 1.x, whose 6-tuple step() rejax
  # cannot unpack; gymnax 0.0.9 is the version it was written against.
  subprocess.run(pip + REJAX_REQUIREMENTS, check=True)
  with open(marker, "w") as f:
    f.write(" ".join(REJAX_REQUIREMENTS) + "\n")


class RejaxServer:
  def __init__(self, eval_mode: str):
    self.proc = subprocess.Popen(
        [REJAX_PY, "-W", "ignore", os.path.join(HERE, "rejax_dqn_runner.py"), "serve",
         json.dumps({"eval": eval_mode})],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, bufsize=1)
    self.hello = self._read()

  def _read(self) -> dict:
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError("the rejax runner exited (see its stderr above)")
    return json.loads(line)

  def __call__(self, cmd: str, **kwargs) -> dict:
    self.proc.stdin.write(json.dumps(dict(cmd=cmd, **kwargs)) + "\n")
    self.proc.stdin.flush()
    reply = self._read()
    if not reply.pop("ok"):
      raise RuntimeError(f"rejax runner failed on {cmd}: {reply['error']}")
    return reply

  def close(self):
    try:
      self.proc.stdin.write(json.dumps(dict(cmd="quit")) + "\n")
      self.proc.stdin.flush()
      self.proc.wait(timeout=30)
    except Exception:  # noqa: BLE001
      self.proc.kill()


# ------------------------------------------------------------------------------------------
# jaxrl side (same commands as the rejax runner)
# ------------------------------------------------------------------------------------------
def jaxrl_config(total_steps: int, eval_mode: str, updates: bool = True) -> DQNConfig:
  log_every = min(2_500, total_steps)
  cfg = DQNConfig(
      total_steps=total_steps,
      learning_starts=int(0.05 * total_steps) if updates else total_steps + 1,
      epsilon_decay_steps=total_steps / 2,
      log_every=log_every,
      eval_every=total_steps,
      eval_episodes=1,
  )
  if eval_mode == "config":
    # rejax: eval_freq 2,500 (or once, for shorter runs) with 128 episodes, and one before training
    # (jaxrl has no evaluation before training; its episodes always run the full 500 steps).
    cfg = dataclasses.replace(cfg, eval_every=log_every, eval_episodes=128)
  return cfg


def seed_keys(seeds: int, start: int):
  return jax.vmap(jax.random.PRNGKey)(jnp.arange(start, start + seeds))


class JaxrlSide:
  def __init__(self, eval_mode: str):
    self.eval_mode = eval_mode
    self.env, self.env_params = make("CartPole-v1")
    self.prepared = {}

  def compile_probe(self, seeds: int, total_timesteps: int) -> dict:
    jax.clear_caches()
    t0 = time.perf_counter()
    train_fn = make_train(jaxrl_config(total_timesteps, self.eval_mode), self.env, self.env_params)
    make_s = time.perf_counter() - t0
    train = jax.jit(jax.vmap(train_fn))
    keys0, keys1 = jax.block_until_ready((seed_keys(seeds, 0), seed_keys(seeds, 10_000)))
    t0 = time.perf_counter()
    jax.block_until_ready(train(keys0))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    with count_compilations() as compiled:
      jax.block_until_ready(train(keys1))
    second = time.perf_counter() - t0
    return dict(seeds=seeds, total_timesteps=total_timesteps, make_train_s=make_s,
                first_call_s=first, second_call_s=second, compile_s=first - second,
                second_call_compiles=compiled.count)

  def prepare(self, seeds: int, total_timesteps: int, updates: bool = True,
              cores: bool = False) -> dict:
    """AOT-compiles ``jit(vmap(train))`` for ``seeds`` keys; ``cores``: the seeds split over one
    CPU device per core as ``jaxrl train`` runs them (``devices.shard_runs``; needs
    ``jaxrl.cpu_devices.use_all_cores()`` first, as ``--floor-only`` calls it)."""
    cfg = jaxrl_config(total_timesteps, self.eval_mode, updates)
    batched = jax.vmap(make_train(cfg, self.env, self.env_params))
    devices_used = 1
    if cores:
      from jaxrl.training import devices  # pylint: disable=import-outside-toplevel
      mesh = devices.make_mesh(seeds)
      devices_used = int(mesh.devices.size)
      train = devices.shard_runs(batched, mesh)
    else:
      train = jax.jit(batched)
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(keys)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    self.prepared[(seeds, total_timesteps, updates, cores)] = compiled
    return dict(seeds=seeds, total_timesteps=total_timesteps, trace_lower_s=t1 - t0,
                compile_s=t2 - t1, fill_buffer=cfg.learning_starts, devices=devices_used)

  def run(self, seeds: int, total_timesteps: int, rep: int, updates: bool = True,
          cores: bool = False) -> dict:
    compiled = self.prepared[(seeds, total_timesteps, updates, cores)]
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    state, metrics = jax.block_until_ready(compiled(keys))
    wall = time.perf_counter() - t0
    final = np.asarray(metrics["eval_return"])[:, -1]
    return dict(seeds=seeds, total_timesteps=total_timesteps, rep=rep, wall_s=wall,
                env_steps_per_seed=int(np.asarray(state.env_steps).reshape(-1)[0]),
                updates_per_seed=int(np.asarray(state.updates).reshape(-1)[0]),
                final_eval_return_mean=float(final.mean()),
                final_eval_return_per_seed=[float(x) for x in final])

  def free(self, seeds: int, total_timesteps: int, updates: bool = True,
           cores: bool = False) -> None:
    self.prepared.pop((seeds, total_timesteps, updates, cores), None)


def bare_env_program(num_envs: int, steps: int):
  """One key -> a number: jaxrl's CartPole-v1 (gymnax 1.x), ``num_envs`` envs vmapped, random
  actions, ``steps`` steps in a ``lax.scan``, every step's outputs consumed (not jitted: callers
  jit it, or vmap it over seeds first, as ``ppo_throughput.network_floor`` does)."""
  env, params = make("CartPole-v1")

  def run(key):
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

    def body(carry, k):
      state, total = carry
      ka, ks = jax.random.split(k)
      a = jax.random.randint(ka, (num_envs,), 0, 2)
      obs, state, r, _, _, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
          jax.random.split(ks, num_envs), state, a, params)
      return (state, total + jnp.sum(r) + jnp.sum(obs)), None

    (_, total), _ = jax.lax.scan(body, (state, jnp.float32(0)), jax.random.split(key, steps))
    return total

  return run


def bare_env_rate(num_envs: int, steps: int, repeats: int = 3) -> dict:
  """Steps/s of :func:`bare_env_program`, jitted (median of ``repeats``, compile excluded)."""
  run = jax.jit(bare_env_program(num_envs, steps))

  jax.block_until_ready(run(jax.random.PRNGKey(0)))
  times = []
  for i in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(run(jax.random.PRNGKey(i + 1)))
    times.append(time.perf_counter() - t0)
  med = statistics.median(times)
  return dict(num_envs=num_envs, steps=steps, median_s=med, times_s=times,
              steps_per_s=num_envs * steps / med)


def matmul_peak(seeds: int, repeats: int = 5, target_flops: float = 2e10) -> float:
  """GFLOP/s of a jitted fori_loop of [S,100,64] x [S,64,64] batched dots (a dependent chain)."""
  m, k = BATCH, 64
  iters = max(10, int(target_flops / (2 * seeds * m * k * k)))
  x = jnp.full((seeds, m, k), 0.01, jnp.float32)
  w = jnp.full((seeds, k, k), 0.01, jnp.float32)

  @jax.jit
  def chain(x, w):
    return jax.lax.fori_loop(0, iters, lambda i, x: jnp.einsum("smk,skn->smn", x, w) * 0.5, x)

  jax.block_until_ready(chain(x, w))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(chain(x, w))
    times.append(time.perf_counter() - t0)
  return 2 * seeds * m * k * k * iters / statistics.median(times) / 1e9


def run_flops(updates_per_seed: int, steps_per_seed: int) -> float:
  return updates_per_seed * UPDATE_FLOPS + steps_per_seed * ACT_FLOPS


def network_floor(seeds: int, total: int, mesh=None, repeats: int = 3) -> dict:
  """Seconds that ``seeds`` independent DQN runs of ``total`` steps each (this file's setting,
  ``jaxrl_config``) spend in the work any DQN with this setting must do, each part timed alone as
  one program over all the seeds (``ppo_throughput.time_floor_parts``: ``vmap`` over the seeds of
  a one-seed ``scan_last``, on one device, or split over ``mesh``'s devices as the all-cores run
  is): per vectorized env step the Q-network's forward on the 10 observations (acting); per
  gradient update (as many as the run's schedule makes: 5 per vectorized step after the 5%
  warm-up) the online forward+backward on 100 rows, the target forward and the online forward
  (double DQN) on the 100 next observations, one Adam step and the Polyak average; and the bare
  environment, ``seeds`` x 10 envs stepped with random actions. Their sum is a floor that no
  implementation on this machine goes below (epsilon-greedy sampling, the replay buffer's writes
  and sampling, the TD loss, gradient clipping and logging all come on top)."""
  import optax  # pylint: disable=import-outside-toplevel
  from ppo_throughput import scan_last, time_floor_parts  # pylint: disable=import-outside-toplevel
  from jaxrl import networks  # pylint: disable=import-outside-toplevel
  from jaxrl.agents import off_policy  # pylint: disable=import-outside-toplevel

  cfg = jaxrl_config(total, "minimal")
  env, env_params = make("CartPole-v1")
  obs_dim = env.observation_space(env_params).shape[0]
  net = networks.make_q_network("mlp", env.action_space(env_params).n, (obs_dim,),
                                hidden_sizes=cfg.hidden_sizes)
  iterations = total // cfg.num_envs
  schedule = off_policy.update_schedule(
      "DQNConfig", updates_per_step=cfg.updates_per_step, num_envs=cfg.num_envs,
      learning_starts=cfg.learning_starts, batch_size=cfg.batch_size)
  updates = int(schedule.updates_before(iterations))
  optimizer = optax.adam(cfg.learning_rate)

  def init(k):
    params = net.init(k, jnp.zeros((obs_dim,)))
    return params, params, optimizer.init(params), jnp.float32(0)

  def update(state, x):   # x: [2, batch, obs]: the minibatch's obs and next_obs
    params, target, opt_state, _ = state
    def passes(p):
      q_next = net.apply(target, x[1]) + net.apply(p, x[1])   # target + double-DQN forwards
      return jnp.sum(net.apply(p, x[0])) + jax.lax.stop_gradient(jnp.sum(q_next))
    value, grads = jax.value_and_grad(passes)(params)
    step, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, step)
    return params, optax.incremental_update(params, target, cfg.polyak_step), opt_state, value

  states = jax.vmap(init)(seed_keys(seeds, 0))
  params = states[0]
  data = lambda *shape: jax.random.normal(jax.random.PRNGKey(1), (seeds,) + shape)  # noqa: E731
  parts = dict(   # name: (one seed's program, its inputs with the seed axis first)
      update=(scan_last(update), (states, data(updates, 2, cfg.batch_size, obs_dim))),
      act_per_step=(scan_last(net.apply), (params, data(iterations, cfg.num_envs, obs_dim))),
      bare_env=(bare_env_program(cfg.num_envs, iterations), (seed_keys(seeds, 1),)))
  out = time_floor_parts(parts, mesh, repeats)
  return dict(seconds=out, total_s=sum(out.values()), seeds=seeds, updates=updates,
              rows=cfg.batch_size, total_steps=total,
              devices=1 if mesh is None else int(mesh.devices.size))


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def fmt_rate(x: float) -> str:
  return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def jaxrl_versions() -> dict:
  from importlib import metadata
  out = {}
  for name in ("jax", "jaxlib", "flax", "optax", "gymnax", "chex", "numpy"):
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      out[name] = "not installed"
  out["python"] = sys.version.split()[0]
  return out


def build_report(res: dict) -> str:
  lines = []
  add = lines.append
  mi = res["machine"]
  add("## DQN training throughput: jaxrl vs rejax (CartPole-v1)\n")
  add(f"Command: `{res['command']}`  \n"
      f"Date: {mi['date']}; machine: {mi['cpu']}, {mi['cores']} cores ({mi['caches']}), "
      f"{mi['memory']}; load average {res['load_before']} before, {res['load_after']} after "
      f"(the machine is shared: absolute numbers move by tens of percent between runs, the ratios "
      f"below come from interleaved runs); wall time of the whole benchmark "
      f"{res['wall_s'] / 60:.1f} min.\n")
  jv, rv = res["jaxrl_versions"], res["rejax_versions"]
  add("| environment | python | jax | jaxlib | flax | optax | gymnax | chex | other |")
  add("|---|---|---|---|---|---|---|---|---|")
  add(f"| jaxrl (`.venv`) | {jv['python']} | {jv['jax']} | {jv['jaxlib']} | {jv['flax']} | "
      f"{jv['optax']} | {jv['gymnax']} | {jv['chex']} | numpy {jv['numpy']} |")
  add(f"| rejax (`benchmarks/.venv-rejax`) | {rv['python']} | {rv['jax']} | {rv['jaxlib']} | "
      f"{rv['flax']} | {rv['optax']} | {rv['gymnax']} | {rv['chex']} | rejax {rv['rejax']}, "
      f"distrax {rv['distrax']}, numpy {rv['numpy']} |")
  add("")
  add(f"Evaluation: `{res['eval']}`. Median of {res['repeats']} interleaved runs per point; "
      "steps/s = seeds x env steps per seed / wall time of one `jit(vmap(train))(keys)` call "
      "(compile excluded). `floor %` = matmul FLOP/s of the run (4.43 MFLOP per update + "
      "8,960 FLOP per acting step) / the FLOP rate of `[S,100,64] x [S,64,64]` batched dots "
      "measured in this run. Bare env = gymnax CartPole-v1, `10 x seeds` environments, random "
      "actions, `lax.scan` (gymnax 1.0.1, jaxrl's; rejax's 0.0.9 in parentheses).\n")
  add("| seeds | env steps per seed | jaxrl steps/s | rejax steps/s | jaxrl / rejax | "
      "jaxrl updates/s | rejax updates/s | matmul peak GFLOP/s | jaxrl floor % | "
      "rejax floor % | bare env steps/s | jaxrl / bare env |")
  add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for p in res["points"]:
    j, r = p["jaxrl"], p.get("rejax")
    bare = p["bare_env"]
    bare_r = p.get("bare_env_rejax")
    bare_txt = fmt_rate(bare["steps_per_s"]) + (f" ({fmt_rate(bare_r['steps_per_s'])})"
                                                if bare_r else "")
    add(f"| {p['seeds']} | {p['total_timesteps']:,} | {fmt_rate(j['steps_per_s'])} | "
        + (f"{fmt_rate(r['steps_per_s'])} | **{j['steps_per_s'] / r['steps_per_s']:.1f}x** | "
           if r else "- | - | ")
        + f"{fmt_rate(j['updates_per_s'])} | "
        + (f"{fmt_rate(r['updates_per_s'])} | " if r else "- | ")
        + f"{p['peak_gflops']:.0f} | {100 * j['floor_fraction']:.0f}% | "
        + (f"{100 * r['floor_fraction']:.1f}% | " if r else "- | ")
        + f"{bare_txt} | {100 * j['steps_per_s'] / bare['steps_per_s']:.1f}% |")
  add("")
  add("Runs (seconds per call, every rep; final greedy return = one evaluation episode at the "
      "end, mean over seeds):\n")
  add("| seeds | jaxrl walls (s) | rejax walls (s) | jaxrl final return | rejax final return | "
      "jaxrl AOT trace+lower / compile (s) | rejax AOT trace+lower / compile (s) |")
  add("|---:|---|---|---:|---:|---:|---:|")
  for p in res["points"]:
    j, r = p["jaxrl"], p.get("rejax")
    add(f"| {p['seeds']} | {', '.join(f'{t:.2f}' for t in j['times_s'])} | "
        + (', '.join(f'{t:.2f}' for t in r['times_s']) if r else "-")
        + f" | {j['final_return']:.0f} | " + (f"{r['final_return']:.0f}" if r else "-")
        + f" | {j['aot']['trace_lower_s']:.2f} / {j['aot']['compile_s']:.2f} | "
        + (f"{r['aot']['trace_lower_s']:.2f} / {r['aot']['compile_s']:.2f}" if r else "-")
        + " |")
  add("")
  c = res["compile"]
  add(f"Compile time (fresh `jax.jit`, caches cleared, 1 seed, {c['total_timesteps']:,} steps; "
      f"first call - second call; {len(c['jaxrl'])} probes each, interleaved):\n")
  add("| | compile (median) | all probes (s) | second call recompiled? |")
  add("|---|---:|---|---|")
  for lib in ("jaxrl", "rejax"):
    if not c.get(lib):
      continue
    probes = c[lib]
    med = statistics.median(q["compile_s"] for q in probes)
    recompiled = any(q["second_call_compiles"] != 0 for q in probes)
    add(f"| {lib} | {med:.2f} s | {', '.join('%.2f' % q['compile_s'] for q in probes)} | "
        f"{'YES' if recompiled else 'no'} (programs compiled by the second call: "
        f"{', '.join(str(q['second_call_compiles']) for q in probes)}) |")
  add("")
  if any(p.get("diagnostic") for p in res["points"]):
    add("jaxrl diagnostic: the same runs without gradient updates (`learning_starts > "
        "total_steps`: acting, environment, replay buffer, logging), and what the updates "
        "alone cost (full - no-update):\n")
    add("| seeds | no-update steps/s | full: share of time in updates | updates alone: "
        "updates/s | updates alone: GFLOP/s | of matmul peak |")
    add("|---:|---:|---:|---:|---:|---:|")
    for p in res["points"]:
      d = p.get("diagnostic")
      if not d:
        continue
      add(f"| {p['seeds']} | {fmt_rate(d['no_update_steps_per_s'])} | "
          f"{100 * d['update_share']:.0f}% | {fmt_rate(d['update_only_updates_per_s'])} | "
          f"{d['update_only_gflops']:.0f} | {100 * d['update_only_gflops'] / p['peak_gflops']:.0f}% |")
    add("")
  t = res["targets"]
  add("Targets:\n")
  for name, ok, detail in t:
    add(f"- {'MET' if ok else 'MISSED'}: {name} ({detail})")
  add("")
  return "\n".join(lines)


def floor_only(args) -> dict:
  """``--floor-only``: at each point, jaxrl's rate on one device (``jit(vmap(train))``) and split
  over one CPU device per core (as ``jaxrl train`` runs it), against :func:`network_floor` on the
  same devices; plus the no-update runs (``learning_starts`` past the end), each way, against the
  floor's acting+env part. Runs interleaved rep by rep, medians of ``args.repeats``. No rejax."""
  from jaxrl.training import devices  # pylint: disable=import-outside-toplevel
  t_start = time.perf_counter()
  points = [tuple(int(v) for v in p.split(":")) for p in args.points.split(",")]
  res = dict(command="python " + " ".join([os.path.relpath(sys.argv[0], os.getcwd())]
                                          + sys.argv[1:]),
             machine=common.machine_info(), repeats=args.repeats, jaxrl_versions=jaxrl_versions(),
             points=[], load_before=" ".join(f"{x:.2f}" for x in os.getloadavg()))
  jaxrl = JaxrlSide("minimal")
  variants = {"jaxrl": (True, False), "jaxrl_cores": (True, True),
              "no_update": (False, False), "no_update_cores": (False, True)}
  for seeds, total in points:
    p = dict(seeds=seeds, total_steps=total, compile={}, runs={k: [] for k in variants})
    for name, (upd, cores) in variants.items():
      p["compile"][name] = jaxrl.prepare(seeds, total, updates=upd, cores=cores)
    p["devices_used"] = p["compile"]["jaxrl_cores"]["devices"]
    order = list(variants)
    for rep in range(args.repeats):
      for name in (order if rep % 2 == 0 else order[::-1]):
        upd, cores = variants[name]
        r = jaxrl.run(seeds, total, rep, updates=upd, cores=cores)
        p["runs"][name].append(r)
        log(f"  seeds {seeds} rep {rep} {name}: {r['wall_s']:.2f}s")
    for name, (upd, cores) in variants.items():
      jaxrl.free(seeds, total, updates=upd, cores=cores)
    p["median_s"] = {k: statistics.median(r["wall_s"] for r in runs)
                     for k, runs in p["runs"].items()}
    p["updates_per_seed"] = p["runs"]["jaxrl"][-1]["updates_per_seed"]
    p["env_steps_per_seed"] = p["runs"]["jaxrl"][-1]["env_steps_per_seed"]
    p["floor"] = network_floor(seeds, total, repeats=args.repeats)
    p["floor_split"] = network_floor(seeds, total, devices.make_mesh(seeds), args.repeats)
    assert p["floor"]["updates"] == p["updates_per_seed"], (p["floor"]["updates"],
                                                            p["updates_per_seed"])
    p["steps_per_s"] = {k: seeds * p["env_steps_per_seed"] / t for k, t in p["median_s"].items()}
    for key in ("floor", "floor_split"):
      p["steps_per_s"][key] = seeds * total / p[key]["total_s"]
    log(f"seeds {seeds}: " + ", ".join(f"{k} {v:,.0f}" for k, v in p["steps_per_s"].items()))
    res["points"].append(p)
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["wall_s"] = time.perf_counter() - t_start
  return res


def build_floor_report(res: dict) -> str:
  mi, jv = res["machine"], res["jaxrl_versions"]
  k = lambda x: f"{x / 1e3:,.1f}k"  # noqa: E731
  L = ["## DQN training throughput against its floor (CartPole-v1, rejax's setting)\n",
       f"Command: `{res['command']}`  \nDate: {mi['date']}; machine: {mi['cpu']}, {mi['cores']} "
       f"cores ({mi['caches']}), {mi['memory']}, JAX backend {mi['jax backend']}; load average "
       f"{res['load_before']} before, {res['load_after']} after; whole run "
       f"{res['wall_s'] / 60:.1f} min.  \njaxrl venv: python {jv['python']}, jax {jv['jax']}, "
       f"jaxlib {jv['jaxlib']}, flax {jv['flax']}, optax {jv['optax']}, gymnax {jv['gymnax']}, "
       f"numpy {jv['numpy']}.\n",
       f"Steps/s = seeds x env steps per seed / median wall time of {res['repeats']} interleaved "
       "calls (compile excluded); 1 device: `jit(vmap(train))(keys)`; split: the seeds over one "
       "CPU device per core (`devices.shard_runs`, as `jaxrl train` runs them). Floor "
       "(`network_floor`): per gradient update the online forward+backward on 100 rows, the "
       "target and online forwards on the 100 next observations, one Adam step and the Polyak "
       "average; per vectorized step the forward on 10 observations (acting); the bare "
       "environment (10 envs per seed, random actions); each part one `vmap`-over-seeds program "
       "timed alone, on the same devices as the jaxrl rate it is set against.\n",
       "| seeds | steps/seed | updates/seed | jaxrl, 1 device | jaxrl, split (devices) | "
       "floor, 1 device | floor, split | % of floor, 1 device | % of floor, split |",
       "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for p in res["points"]:
    s = p["steps_per_s"]
    L.append(f"| {p['seeds']} | {p['total_steps']:,} | {p['updates_per_seed']:,} | "
             f"{k(s['jaxrl'])} | {k(s['jaxrl_cores'])} ({p['devices_used']}) | {k(s['floor'])} | "
             f"{k(s['floor_split'])} ({p['floor_split']['devices']}) | "
             f"{s['jaxrl'] / s['floor']:.0%} | {s['jaxrl_cores'] / s['floor_split']:.0%} |")
  L.append("\nWhere the time goes (seconds of one call, medians): jaxrl's full run and its "
           "no-update run (`learning_starts` past the end: acting, environment, replay writes, "
           "logging), against the floor's parts; full - no-update = what the updates cost, "
           "against the floor's update part:\n")
  L.append("| seeds | devices | jaxrl full | jaxrl no-update | floor act + env | no-update / "
           "(act + env) | full - no-update | floor update part | (full - no-update) / update "
           "part | walls full; no-update |")
  L.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
  for p in res["points"]:
    for label, full, noup, floor in (("1", "jaxrl", "no_update", "floor"),
                                     (f"split ({p['devices_used']})", "jaxrl_cores",
                                      "no_update_cores", "floor_split")):
      m, sec = p["median_s"], p[floor]["seconds"]
      act_env = sec["act_per_step"] + sec["bare_env"]
      upd = m[full] - m[noup]
      walls = (", ".join(f"{r['wall_s']:.2f}" for r in p["runs"][full]) + "; "
               + ", ".join(f"{r['wall_s']:.2f}" for r in p["runs"][noup]))
      L.append(f"| {p['seeds']} | {label} | {m[full]:.3f} | {m[noup]:.3f} | {act_env:.3f} | "
               f"{m[noup] / act_env:.2f}x | {upd:.3f} | {sec['update']:.3f} | "
               f"{upd / sec['update']:.2f}x | {walls} |")
  L.append("")
  return "\n".join(L)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--points", default="1:50000,8:5000,32:2500,128:1000",
                      help="comma-separated seeds:total_steps")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--compile-probes", type=int, default=3)
  parser.add_argument("--compile-steps", type=int, default=5_000)
  parser.add_argument("--eval", choices=("minimal", "config"), default="minimal")
  parser.add_argument("--no-rejax", action="store_true", help="jaxrl only")
  parser.add_argument("--no-diagnostic", action="store_true")
  parser.add_argument("--quick", action="store_true", help="smoke test: tiny points")
  parser.add_argument("--out-md", help="also write the markdown report here")
  parser.add_argument("--out-json", help="also write every measurement here")
  parser.add_argument("--floor-only", action="store_true",
                      help="jaxrl (1 device and split over the cores) against network_floor at "
                           "--points; no rejax, no compile probes (e.g. --points "
                           "1:20000,32:5000,128:2000)")
  args = parser.parse_args()
  if args.floor_only:   # one CPU device per core: asked for at import, above
    res = floor_only(args)
    report = build_floor_report(res)
    print(report, flush=True)
    if args.out_md:
      with open(args.out_md, "w") as f:
        f.write(report + "\n")
    if args.out_json:
      with open(args.out_json, "w") as f:
        json.dump(res, f, indent=1, default=str)
    return
  if args.quick:
    args.points, args.repeats, args.compile_probes, args.compile_steps = "1:2500,8:1000", 2, 1, 2500

  t_start = time.perf_counter()
  points = [tuple(int(v) for v in p.split(":")) for p in args.points.split(",")]
  res = dict(command="python " + " ".join([os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:]),
             machine=common.machine_info(), eval=args.eval, repeats=args.repeats,
             jaxrl_versions=jaxrl_versions(), points=[],
             load_before=" ".join(f"{x:.2f}" for x in os.getloadavg()))
  log(f"# DQN throughput, points {points}, load {res['load_before']}")

  rejax = None
  if not args.no_rejax:
    ensure_rejax_venv()
    rejax = RejaxServer(args.eval)
    res["rejax_versions"] = rejax.hello["versions"]
  else:
    res["rejax_versions"] = {k: "-" for k in ("python", "jax", "jaxlib", "flax", "optax", "gymnax",
                                               "chex", "rejax", "distrax", "numpy")}
  jaxrl = JaxrlSide(args.eval)

  # 1. compile probes, interleaved.
  comp = dict(total_timesteps=args.compile_steps, jaxrl=[], rejax=[])
  for i in range(args.compile_probes):
    order = ("rejax", "jaxrl") if i % 2 == 0 else ("jaxrl", "rejax")
    for lib in order:
      if lib == "rejax" and rejax is None:
        continue
      side = rejax if lib == "rejax" else None
      q = (side("compile_probe", seeds=1, total_timesteps=args.compile_steps) if side
           else jaxrl.compile_probe(1, args.compile_steps))
      comp[lib].append(q)
      log(f"compile probe {lib}: first {q['first_call_s']:.2f}s second {q['second_call_s']:.2f}s "
          f"-> {q['compile_s']:.2f}s, second call compiled {q['second_call_compiles']}")
  res["compile"] = comp

  # 2. per point: matmul peak, bare env, then interleaved training runs.
  for seeds, total in points:
    p = dict(seeds=seeds, total_timesteps=total)
    peak_before = matmul_peak(seeds)
    steps = max(200, 100_000 // seeds)
    p["bare_env"] = bare_env_rate(NUM_ENVS * seeds, steps)
    if rejax is not None:
      p["bare_env_rejax"] = rejax("bare_env", num_envs=NUM_ENVS * seeds, steps=steps)
    log(f"seeds {seeds}: matmul {peak_before:.0f} GFLOP/s, bare env "
        f"{p['bare_env']['steps_per_s']:,.0f} steps/s")

    sides = {"jaxrl": dict(aot=jaxrl.prepare(seeds, total), runs=[])}
    if rejax is not None:
      sides["rejax"] = dict(aot=rejax("prepare", seeds=seeds, total_timesteps=total), runs=[])
    for rep in range(args.repeats):
      order = ["rejax", "jaxrl"] if rep % 2 == 0 else ["jaxrl", "rejax"]
      for lib in order:
        if lib not in sides:
          continue
        run = (rejax("run", seeds=seeds, total_timesteps=total, rep=rep) if lib == "rejax"
               else jaxrl.run(seeds, total, rep))
        sides[lib]["runs"].append(run)
        log(f"  seeds {seeds} rep {rep} {lib}: {run['wall_s']:.2f}s "
            f"({seeds * run['env_steps_per_seed'] / run['wall_s']:,.0f} steps/s)")
    jaxrl.free(seeds, total)
    if rejax is not None:
      rejax("free", seeds=seeds, total_timesteps=total)
    # The peak is measured before and after the runs; the larger is used (a conservative floor %).
    p["peak_gflops_before_after"] = [peak_before, matmul_peak(seeds)]
    p["peak_gflops"] = max(p["peak_gflops_before_after"])

    for lib, s in sides.items():
      walls = [r["wall_s"] for r in s["runs"]]
      med = statistics.median(walls)
      last = s["runs"][-1]
      flops = seeds * run_flops(last["updates_per_seed"], last["env_steps_per_seed"])
      p[lib] = dict(aot=s["aot"], times_s=walls, median_s=med,
                    env_steps_per_seed=last["env_steps_per_seed"],
                    updates_per_seed=last["updates_per_seed"],
                    steps_per_s=seeds * last["env_steps_per_seed"] / med,
                    updates_per_s=seeds * last["updates_per_seed"] / med,
                    gflops=flops / med / 1e9,
                    floor_fraction=flops / med / 1e9 / p["peak_gflops"],
                    final_return=statistics.mean(
                        statistics.mean(r["final_eval_return_per_seed"]) for r in s["runs"]),
                    runs=s["runs"])

    if not args.no_diagnostic:
      jaxrl.prepare(seeds, total, updates=False)
      walls = [jaxrl.run(seeds, total, rep, updates=False)["wall_s"] for rep in range(2)]
      jaxrl.free(seeds, total, updates=False)
      t_no = min(walls)
      t_full = p["jaxrl"]["median_s"]
      t_upd = max(t_full - t_no, 1e-9)
      n_upd = seeds * p["jaxrl"]["updates_per_seed"]
      p["diagnostic"] = dict(no_update_walls_s=walls, no_update_steps_per_s=seeds * total / t_no,
                             update_share=t_upd / t_full,
                             update_only_updates_per_s=n_upd / t_upd,
                             update_only_gflops=n_upd * UPDATE_FLOPS / t_upd / 1e9)
    res["points"].append(p)

  if rejax is not None:
    rejax.close()

  # 3. targets.
  by_seeds = {p["seeds"]: p for p in res["points"]}
  targets = []
  if rejax is not None:
    for s, want in ((1, 3.0), (32, 5.0)):
      if s in by_seeds:
        ratio = by_seeds[s]["jaxrl"]["steps_per_s"] / by_seeds[s]["rejax"]["steps_per_s"]
        detail = f"{ratio:.1f}x" + ("" if ratio >= want else f", {want / ratio:.2f}x short")
        targets.append((f">= {want:.0f}x rejax's steps/s at {s} seed{'s' if s > 1 else ''}",
                        ratio >= want, detail))
    cj = statistics.median(q["compile_s"] for q in comp["jaxrl"])
    cr = statistics.median(q["compile_s"] for q in comp["rejax"])
    targets.append(("first-call compile no slower than rejax's", cj <= cr,
                    f"jaxrl {cj:.2f} s, rejax {cr:.2f} s"))
  recompiled = [q["second_call_compiles"] for q in comp["jaxrl"]]
  targets.append(("a second call (new keys) does not recompile", all(c == 0 for c in recompiled),
                  f"programs jaxrl compiled in the second call: {recompiled}"))
  res["targets"] = targets
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["wall_s"] = time.perf_counter() - t_start

  report = build_report(res)
  print(report, flush=True)
  if args.out_md:
    with open(args.out_md, "w") as f:
      f.write(report + "\n")
  if args.out_json:
    with open(args.out_json, "w") as f:
      json.dump(res, f, indent=1, default=str)


if __name__ == "__main__":
  main()
