"""SAC and TD3 training throughput on gymnax Pendulum-v1: jaxrl vs rejax 0.1.3 (and sbx SAC at
one seed), rejax's settings, one run.

Settings: rejax's ``configs/gymnax/pendulum.yaml`` for both sides (jaxrl's fields in brackets):

* SAC: MLP 64x64 swish actor (squashed Gaussian) and twin critics, 1 env, buffer 10,000,
  fill_buffer 256 [learning_starts 256], batch 256, Adam 0.01 for critics, actor and temperature,
  one update per env step (num_epochs 1) [updates_per_step 1], gamma 0.99, polyak 0.98 [tau 0.02],
  learned temperature from 1 towards -dim(A) (target_entropy_ratio null) [autotune, alpha 1,
  target_entropy_scale 1], no gradient clipping [max_grad_norm inf];
* TD3: MLP 64x64 swish deterministic actor and twin critics, 1 env, buffer 10,000, fill_buffer
  1,000 [learning_starts 1000], batch 100, Adam 0.001, one critic update per env step, the actor
  every 2nd [policy_delay 2], gamma 0.99, polyak 0.95 [tau 0.05], max_grad_norm 100 (rejax clips
  elementwise, jaxrl by global norm), exploration noise 0.3, target noise 0.2 clipped at 0.5 (in
  absolute action units; jaxrl's are in units of the action half-width, 2 on Pendulum: 0.15,
  0.1, 0.25).

``normalize_observations`` is true in rejax's config and turned OFF here: jaxrl's SAC and TD3
have no observation normalisation. Evaluation is one episode at the end on both sides (rejax:
``eval_freq = total_timesteps``, ``skip_initial_evaluation``, a 1-episode callback; jaxrl:
``eval_every = log_every = total_steps``, ``eval_episodes = 1``), as ``ppo_throughput.py`` does.

env steps/s = seeds x env steps per seed / wall time of one call (compile excluded), median of
``--repeats`` interleaved runs. jaxrl is timed twice: ``jit(vmap(train))(keys)`` on one CPU
device (what rejax runs), and as ``jaxrl train`` runs it, the seeds split over one CPU device per
core (``jaxrl.cpu_devices.use_all_cores`` + ``devices.shard_runs``; one seed cannot be split).
rejax runs in ``benchmarks/.venv-rejax`` (``dqn_throughput.ensure_rejax_venv``) through
``rejax_sac_td3_runner.py``; sbx (Stable-Baselines-Jax: jitted networks and updates, a Python
loop over gymnasium's NumPy Pendulum-v1) in ``benchmarks/.venv-sbx`` (:func:`ensure_sbx_venv`)
through ``sbx_sac_runner.py``, SAC at one seed only, same networks, batch, buffer and rates.

At every point the floor (:func:`network_floor`): the network passes the setting requires for
all the seeds, each timed alone as one program (``ppo_throughput.time_floor_parts`` /
``scan_last``, as PPO's and PQN's floors), plus the bare environment, on one device and split
over the devices as the all-cores run is; jaxrl's rate is reported as a share of the floor's on
the same devices.

    .venv/bin/python benchmarks/sac_td3_throughput.py [--sac-points 1:2000,8:1000,32:500]
        [--td3-points 1:6000,8:3000,32:2000] [--points S:T,...] [--repeats 3]
        [--sbx-steps 2000] [--algos sac,td3] [--no-jaxrl] [--out-md F] [--out-json F]

SAC costs about 36 MFLOP of network passes per env step here (an update of 256 rows through
twin 64x64 critics and the actor every step), which this 2-core CPU does at ~1.4k steps/s at
best whatever the number of seeds: its points keep seeds x steps small so that the whole
benchmark stays near 10 minutes. At one seed the all-cores run and the split floor are the
one-device ones (one seed cannot be split).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
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

from jaxrl import cpu_devices  # noqa: E402

cpu_devices.use_all_cores()    # before any JAX computation: one CPU device per core

import flax.linen as nn  # noqa: E402

import common  # noqa: E402
from dqn_throughput import ensure_rejax_venv, jaxrl_versions  # noqa: E402
from pg_throughput import REJAX_PY, RejaxPPO, Watchdog, log, seed_keys  # noqa: E402
from ppo_throughput import scan_last, time_floor_parts  # noqa: E402
from rejax_sac_td3_runner import bare_env_program, bare_env_rate  # noqa: E402
from jaxrl.envs import make  # noqa: E402
from jaxrl.training import devices  # noqa: E402

SBX_VENV = os.path.join(HERE, ".venv-sbx")
SBX_PY = os.path.join(SBX_VENV, "bin", "python")
SBX_REQUIREMENTS = ["sbx-rl", "gymnasium[classic-control]"]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

HIDDEN = (64, 64)
SETTINGS = {   # what the floor and the report need of each setting (the configs are below)
    "sac": dict(batch=256, fill=256, tau=0.02, policy_delay=1),
    "td3": dict(batch=100, fill=1_000, tau=0.05, policy_delay=2),
}


# ------------------------------------------------------------------------------------------
# the other libraries' processes
# ------------------------------------------------------------------------------------------
def ensure_sbx_venv() -> None:
  """Creates benchmarks/.venv-sbx with sbx-rl and gymnasium if it is not there. sbx-rl pulls
  stable-baselines3, which pulls torch: the CPU-only wheel is installed first, from PyTorch's CPU
  index, or where that index cannot be reached from a ``torch-*+cpu`` wheel in pip's configured
  ``find-links`` folders (a plain ``torch`` from PyPI would bring the CUDA libraries)."""
  marker = os.path.join(SBX_VENV, ".installed")
  if os.path.exists(marker):
    return
  log(f"creating {SBX_VENV} ({', '.join(SBX_REQUIREMENTS)}, CPU torch) ...")
  subprocess.run([sys.executable, "-m", "venv", SBX_VENV], check=True)
  pip = [SBX_PY, "-m", "pip", "install", "--quiet"]
  subprocess.run(pip + ["--upgrade", "pip"], check=True)
  torch = subprocess.run(pip + ["--timeout", "20", "--retries", "1", "--index-url",
                                TORCH_CPU_INDEX, "torch"])
  if torch.returncode != 0:
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    cfg = subprocess.run([SBX_PY, "-m", "pip", "config", "get", "global.find-links"],
                         capture_output=True, text=True)
    links += cfg.stdout.split() if cfg.returncode == 0 else []
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheels = sorted(w for d in links for w in glob.glob(os.path.join(d, f"torch-*+cpu-{tag}-*.whl")))
    if wheels:
      log(f"PyTorch's CPU index unreachable; installing {wheels[-1]}")
      subprocess.run(pip + [wheels[-1]], check=True)
    else:
      log("WARNING: no CPU-only torch wheel found; stable-baselines3 will pull torch from PyPI")
  subprocess.run(pip + SBX_REQUIREMENTS, check=True)
  with open(marker, "w") as f:
    f.write(" ".join(SBX_REQUIREMENTS) + "\n")


class RejaxSacTd3(RejaxPPO):
  """rejax_sac_td3_runner.py served in rejax's venv (pg_throughput's client, another script)."""

  SCRIPT, PYTHON = "rejax_sac_td3_runner.py", REJAX_PY

  def __init__(self):   # noqa: D107 - RejaxPPO's, with this class's script and interpreter
    self.proc = subprocess.Popen(
        [self.PYTHON, "-W", "ignore", os.path.join(HERE, self.SCRIPT), "serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, bufsize=1,
        cwd=HERE)
    self.hello = self._read()


  def send(self, cmd, **kw):
    """The first half of ``self(cmd, **kw)``: the runner starts on it while this process works."""
    self.proc.stdin.write(json.dumps(dict(cmd=cmd, **kw)) + "\n")
    self.proc.stdin.flush()

  def receive(self):
    """The second half: the reply to the last :meth:`send`."""
    r = self._read()
    if not r.pop("ok"):
      raise RuntimeError(r["error"])
    return r


class SbxSAC(RejaxSacTd3):
  SCRIPT, PYTHON = "sbx_sac_runner.py", SBX_PY


# ------------------------------------------------------------------------------------------
# jaxrl
# ------------------------------------------------------------------------------------------
def jaxrl_config(algo: str, total: int, updates: bool = True):
  """rejax's setting as jaxrl's config; ``updates=False``: no gradient update at all
  (``learning_starts`` past the end: uniform random actions, env, buffer, bookkeeping)."""
  from jaxrl.agents import sac, td3
  if not updates:
    return dataclasses.replace(jaxrl_config(algo, total), learning_starts=total + 1)
  common_kw = dict(total_steps=total, num_envs=1, hidden_sizes=HIDDEN, activation="swish",
                   buffer_size=10_000, updates_per_step=1, log_every=total, eval_every=total,
                   eval_episodes=1, discount=0.99)
  if algo == "sac":
    return sac.SACConfig(**common_kw, batch_size=256, learning_starts=256,
                         max_grad_norm=float("inf"), autotune=True, learning_rate=0.01,
                         actor_learning_rate=0.01, alpha_learning_rate=0.01, tau=0.02, alpha=1.0,
                         target_entropy_scale=1.0)
  return td3.TD3Config(**common_kw, batch_size=100, learning_starts=1_000, policy_delay=2,
                       twin_critics=True, max_grad_norm=100.0, learning_rate=1e-3,
                       actor_learning_rate=1e-3, tau=0.05, exploration_noise=0.15,
                       target_noise=0.1, target_noise_clip=0.25)


class JaxrlAgent:
  """``cores=False``: ``jit(vmap(train))`` on one device; True: seeds split over every core."""

  def __init__(self, cores: bool = False, updates: bool = True):
    self.env, self.params = make("Pendulum-v1")
    self.prepared = {}
    self.cores = cores
    self.updates = updates
    self.devices_used = {}

  def prepare(self, algo, seeds, total):
    from jaxrl.agents import sac, td3
    module = sac if algo == "sac" else td3
    batched = jax.vmap(module.make_train(jaxrl_config(algo, total, self.updates), self.env, self.params))
    if self.cores:
      mesh = devices.make_mesh(seeds)
      self.devices_used[seeds] = int(mesh.devices.size)
      train = devices.shard_runs(batched, mesh)
    else:
      self.devices_used[seeds] = 1
      train = jax.jit(batched)
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(keys)
    t1 = time.perf_counter()
    self.prepared[(algo, seeds, total)] = lowered.compile()
    return dict(trace_lower_s=t1 - t0, compile_s=time.perf_counter() - t1)

  def run(self, algo, seeds, total, rep):
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    state, metrics = jax.block_until_ready(self.prepared[(algo, seeds, total)](keys))
    wall = time.perf_counter() - t0
    return dict(wall_s=wall, env_steps_per_seed=int(np.asarray(state.env_steps).reshape(-1)[0]),
                updates_per_seed=int(np.asarray(state.updates).reshape(-1)[0]),
                final_eval_return_mean=float(np.nanmean(np.asarray(metrics["eval_return"])[:, -1])))

  def free(self, algo, seeds, total):
    self.prepared.pop((algo, seeds, total), None)


# ------------------------------------------------------------------------------------------
# the floor
# ------------------------------------------------------------------------------------------
class _Trunk(nn.Module):
  @nn.compact
  def __call__(self, x):
    for width in HIDDEN:
      x = nn.swish(nn.Dense(width)(x))
    return x


class GaussianActor(nn.Module):
  """SAC's actor: trunk, then a mean head and a log-std head (1 action)."""

  @nn.compact
  def __call__(self, obs):
    h = _Trunk()(obs)
    return nn.Dense(1)(h), nn.Dense(1)(h)


class DeterministicActor(nn.Module):
  """TD3's actor: trunk, one tanh output."""

  @nn.compact
  def __call__(self, obs):
    return jnp.tanh(nn.Dense(1)(_Trunk()(obs)))


class Critic(nn.Module):
  """Q(s, a): trunk on [obs, action], one output."""

  @nn.compact
  def __call__(self, obs, action):
    return nn.Dense(1)(_Trunk()(jnp.concatenate([obs, action], -1)))[..., 0]


def _twin(params, obs, action):
  return jax.vmap(Critic().apply, in_axes=(0, None, None))(params, obs, action)   # [2, B]


def _polyak(tau, target, online):
  return jax.tree.map(lambda t, o: t + tau * (o - t), target, online)


def scan_carry(body):
  """``scan_last`` with a carry: ``body(p, carry, x) -> carry`` over the slices of ``xs`` (the
  Polyak-averaged targets are carried from update to update, so that they cannot be hoisted)."""
  first = lambda p, c, xs: body(p, c, jax.tree.map(lambda a: a[0], xs))  # noqa: E731
  return lambda p, c, xs: jax.lax.scan(lambda c, x: (body(p, c, x), None), first(p, c, xs),
                                       xs)[0]


def network_floor(algo: str, seeds: int, total: int, mesh=None, repeats: int = 3,
                  timed_updates: int = 2_000) -> dict:
  """Seconds that ``seeds`` independent runs of ``total`` env steps each spend in the work any
  implementation of this setting must do, each part timed alone as one program over all the
  seeds (``ppo_throughput.time_floor_parts``: ``vmap`` over the seeds of a one-seed
  ``lax.scan``; ``mesh=None``: jitted on one device, a mesh: split over its devices with
  ``devices.shard_runs``, as the all-cores run is):

  * ``act_per_step``: per env step, the actor's forward on 1 observation;
  * SAC ``update_passes``, per gradient update (``total - 256`` of them) on 256 rows: the
    actor's forward on next_obs and the target twin critics' forward on (next_obs, a'); the
    twin critics' forward+backward; the actor's forward+backward through the twin critics (and
    the temperature's gradient, a mean of the log-probabilities); the Polyak step of the target
    critics;
  * TD3 ``critic_passes``, per critic update (``total - 1000``) on 100 rows: the target actor's
    forward on next_obs, the target twin critics' forward, the twin critics' forward+backward;
    ``actor_passes``, every 2nd update: the actor's forward+backward through one critic and the
    Polyak steps of the target actor and target critics;
  * ``bare_env``: gymnax Pendulum-v1 (jaxrl's gymnax), 1 env, ``total`` steps, random actions.

  Only the gradients are formed (no loss terms beyond what the backward pass needs, no Adam, no
  buffer, no sampling of actions): their sum is a floor no implementation goes below. The
  minibatches come from a pool of ``10,000 / batch`` batches per seed, the replay buffer's size,
  indexed in turn (a buffer's rows are in cache too); acting streams fresh observations.

  Every update is the same work, so the update parts run ``n = min(updates, max(50,
  timed_updates / seeds))`` updates per seed and their time is scaled by ``updates / n``
  (SAC's updates cost ~1 ms each here: all of them would take as long as the runs themselves).
  """
  s = SETTINGS[algo]
  batch, tau = s["batch"], s["tau"]
  all_updates = max(total - s["fill"], 0)
  updates = min(all_updates, max(50, -(-timed_updates // seeds)))
  delay = s["policy_delay"]
  pool = 10_000 // batch
  env, env_params = make("Pendulum-v1")
  keys = seed_keys(seeds, 0)
  data = lambda k, *shape: jax.random.normal(jax.random.PRNGKey(k), (seeds,) + shape)  # noqa: E731
  o0, a0 = jnp.zeros((1, 3)), jnp.zeros((1, 1))
  critic = jax.vmap(lambda k: jax.vmap(lambda kk: Critic().init(kk, o0, a0))(
      jax.random.split(k)))(keys)                                       # [seeds, 2, ...]
  batches = dict(obs=data(1, pool, batch, 3), act=data(2, pool, batch, 1),
                 next_obs=data(3, pool, batch, 3), eps=data(4, pool, batch, 1))
  index = lambda n: jnp.broadcast_to(jnp.arange(n) % pool, (seeds, n))  # noqa: E731
  take = lambda b, i: jax.tree.map(lambda a: a[i], b)  # noqa: E731
  if algo == "sac":
    actor_net = GaussianActor()
    actor = jax.vmap(lambda k: actor_net.init(k, o0))(keys)

    def update(p, target, i):
      b = take(p["batches"], i)
      mu, log_std = actor_net.apply(p["actor"], b["next_obs"])
      next_q = _twin(target, b["next_obs"], jnp.tanh(mu + jnp.exp(log_std) * b["eps"]))

      def actor_objective(a):
        mu, log_std = actor_net.apply(a, b["obs"])
        q = _twin(p["critic"], b["obs"], jnp.tanh(mu + jnp.exp(log_std) * b["eps"]))
        return jnp.sum(jnp.min(q, 0)) - jnp.sum(log_std), jnp.mean(log_std)

      critic_grads = jax.grad(lambda c: jnp.sum(_twin(c, b["obs"], b["act"])))(p["critic"])
      actor_grads, mean_log_prob = jax.grad(actor_objective, has_aux=True)(p["actor"])
      alpha_grad = -(mean_log_prob - 1.0)
      target = _polyak(tau, target, p["critic"])
      # everything else the update forms feeds the carry (nothing is dead code)
      bump = (jnp.sum(next_q) + alpha_grad + sum(jnp.sum(g) for g in jax.tree.leaves(
          (critic_grads, actor_grads)))) * 1e-30
      return jax.tree.map(lambda t: t + bump, target)

    upd_params = dict(actor=actor, critic=critic, batches=batches)
    parts = dict(update_passes=(scan_carry(update), (upd_params, critic, index(updates))))
    act_net = lambda p, o: actor_net.apply(p, o)[0]  # noqa: E731
  else:
    actor_net = DeterministicActor()
    actor = jax.vmap(lambda k: actor_net.init(k, o0))(keys)

    def critic_update(p, target_critic, i):
      b = take(p["batches"], i)
      next_q = _twin(target_critic, b["next_obs"], actor_net.apply(p["target_actor"],
                                                                   b["next_obs"]))
      critic_grads = jax.grad(lambda c: jnp.sum(_twin(c, b["obs"], b["act"])))(p["critic"])
      bump = (jnp.sum(next_q) + sum(jnp.sum(g) for g in jax.tree.leaves(critic_grads))) * 1e-30
      return jax.tree.map(lambda t: t + bump, target_critic)

    def actor_update(p, targets, i):
      b = take(p["batches"], i)
      first = jax.tree.map(lambda x: x[0], p["critic"])
      actor_grads = jax.grad(lambda a: jnp.sum(Critic().apply(
          first, b["obs"], actor_net.apply(a, b["obs"]))))(p["actor"])
      bump = sum(jnp.sum(g) for g in jax.tree.leaves(actor_grads)) * 1e-30
      targets = _polyak(tau, targets, dict(actor=p["actor"], critic=p["critic"]))
      return jax.tree.map(lambda t: t + bump, targets)

    upd_params = dict(actor=actor, target_actor=actor, critic=critic, batches=batches)
    parts = dict(
        critic_passes=(scan_carry(critic_update), (upd_params, critic, index(updates))),
        actor_passes=(scan_carry(actor_update), (upd_params, dict(actor=actor, critic=critic),
                                                 index(updates // delay))))
    act_net = actor_net.apply
  parts["act_per_step"] = (scan_last(act_net), (actor, data(5, total, 1, 3)))
  parts["bare_env"] = (bare_env_program(env, env_params, 1, total), (seed_keys(seeds, 1),))
  if updates == 0:
    parts = {k: v for k, v in parts.items() if k in ("act_per_step", "bare_env")}
  out = time_floor_parts(parts, mesh, repeats)
  scale = dict(update_passes=all_updates / max(updates, 1),
               critic_passes=all_updates / max(updates, 1),
               actor_passes=(all_updates // delay) / max(updates // delay, 1))
  out = {k: v * scale.get(k, 1.0) for k, v in out.items()}
  return dict(seconds=out, total_s=sum(out.values()), seeds=seeds, updates=all_updates,
              timed_updates=updates, batch=batch, total_steps=total,
              devices=1 if mesh is None else int(mesh.devices.size))


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------
def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  ap.add_argument("--sac-points", default="1:2000,8:1000,32:500",
                  help="comma-separated seeds:env steps per seed of the SAC points")
  ap.add_argument("--td3-points", default="1:6000,8:3000,32:2000",
                  help="the same for TD3")
  ap.add_argument("--points", help="seeds:steps points for both (instead of the two above)")
  ap.add_argument("--algos", default="sac,td3")
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--sbx-steps", type=int, default=2_000,
                  help="env steps of each sbx SAC run (1 seed; 0: no sbx)")
  ap.add_argument("--no-jaxrl", action="store_true", help="rejax, sbx and the floors only")
  ap.add_argument("--probe", action="store_true",
                  help="also time jaxrl (1 device) without gradient updates at every point")
  ap.add_argument("--call-timeout", type=float, default=600.0)
  ap.add_argument("--out-md")
  ap.add_argument("--out-json")
  args = ap.parse_args()
  t_start = time.perf_counter()
  parse = lambda text: [tuple(int(x) for x in p.split(":")) for p in text.split(",")]  # noqa: E731
  points = {"sac": parse(args.points or args.sac_points),
            "td3": parse(args.points or args.td3_points)}
  algos = [a for a in args.algos.split(",") if a]
  machine = common.machine_info()
  ensure_rejax_venv()
  if args.sbx_steps:
    ensure_sbx_venv()
  procs = dict(rejax=None, sbx=None)

  def on_abort(what):
    del what
    for proc in procs.values():
      if proc is not None:
        proc.kill()

  dog = Watchdog(args.call_timeout, on_abort)
  with dog.guard("starting the rejax runner"):
    rejax = procs["rejax"] = RejaxSacTd3()
  sbx = None
  if args.sbx_steps:
    with dog.guard("starting the sbx runner"):
      sbx = procs["sbx"] = SbxSAC()
  mine = {} if args.no_jaxrl else {"jaxrl": JaxrlAgent(), "jaxrl_cores": JaxrlAgent(cores=True)}
  if args.probe and not args.no_jaxrl:
    mine["jaxrl_no_updates"] = JaxrlAgent(updates=False)
  res = dict(command="python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
             machine=machine, repeats=args.repeats, jaxrl_versions=jaxrl_versions(),
             rejax_versions=rejax.hello["versions"],
             sbx_versions=sbx.hello["versions"] if sbx else None, points=[])
  log(f"# SAC/TD3 throughput, points {points}, algos {algos}, load {machine['load average']}")
  env, env_params = make("Pendulum-v1")
  with dog.guard("bare env"):
    res["bare_env"] = dict(jaxrl=bare_env_rate(env, env_params, 1, 100_000),
                           rejax=rejax("bare_env", num_envs=1, steps=100_000))
  if sbx is not None:
    with dog.guard("sbx warm-up"):
      res["sbx_prepare"] = sbx("prepare", total_timesteps=args.sbx_steps)
  for algo in algos:
    for seeds, total in points[algo]:
      where = f"{algo} seeds={seeds} T={total}"
      t_point = time.perf_counter()
      p = dict(algo=algo, seeds=seeds, total_steps=total, compile={},
               runs={"rejax": [], **{name: [] for name in mine}})
      # one seed cannot be split: the all-cores run is the one-device run (not run twice)
      active = {n: a for n, a in mine.items() if not (seeds == 1 and n == "jaxrl_cores")}
      # rejax compiles in its process while jaxrl compiles here (compile times overlap; the
      # timed runs below never do)
      rejax.send("prepare", algo=algo, seeds=seeds, total_timesteps=total)
      for name, agent in active.items():
        with dog.guard(f"{where}: compile {name}"):
          p["compile"][name] = agent.prepare(algo, seeds, total)
      with dog.guard(f"{where}: compile rejax"):
        p["compile"]["rejax"] = rejax.receive()
      if mine:
        p["devices_used"] = 1 if seeds == 1 else mine["jaxrl_cores"].devices_used[seeds]
      order = ["rejax", *active]
      with_sbx = sbx is not None and algo == "sac" and seeds == 1
      if with_sbx:
        order.append("sbx")
        p["runs"]["sbx"] = []
      for rep in range(args.repeats):
        for name in (order if rep % 2 == 0 else order[::-1]):
          with dog.guard(f"{where}: run {name} rep {rep}"):
            if name == "rejax":
              r = rejax("run", algo=algo, seeds=seeds, total_timesteps=total, rep=rep)
            elif name == "sbx":
              r = sbx("run", total_timesteps=args.sbx_steps, rep=rep)
            else:
              r = active[name].run(algo, seeds, total, rep)
          p["runs"][name].append(r)
      if mine and seeds == 1:
        p["runs"]["jaxrl_cores"] = p["runs"]["jaxrl"]
        p["compile"]["jaxrl_cores"] = p["compile"]["jaxrl"]
      seeds_of = lambda name: 1 if name == "sbx" else seeds  # noqa: E731
      p["steps_per_s"] = {name: seeds_of(name) * runs[-1]["env_steps_per_seed"] /
                          statistics.median(r["wall_s"] for r in runs)
                          for name, runs in p["runs"].items()}
      with dog.guard(f"{where}: floor, 1 device"):
        p["floor"] = network_floor(algo, seeds, total, repeats=args.repeats)
      if seeds == 1:
        p["floor_split"] = p["floor"]
      else:
        with dog.guard(f"{where}: floor, split"):
          p["floor_split"] = network_floor(algo, seeds, total, devices.make_mesh(seeds),
                                           args.repeats)
      for key in ("floor", "floor_split"):
        p["steps_per_s"][key] = seeds * total / p[key]["total_s"]
      rejax("free", algo=algo, seeds=seeds, total_timesteps=total)
      for agent in active.values():
        agent.free(algo, seeds, total)
      log(f"{where}: " + ", ".join(f"{k} {v:,.0f}" for k, v in p["steps_per_s"].items()))
      p["point_wall_s"] = time.perf_counter() - t_point
      res["points"].append(p)
      if args.out_json:   # partial results survive a later abort
        json.dump(res, open(args.out_json, "w"), indent=1, default=str)
  with dog.guard("closing the runners", 60):
    rejax.close()
    if sbx is not None:
      sbx.close()
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["wall_s"] = time.perf_counter() - t_start
  report = build_report(res)
  print(report, flush=True)
  if args.out_md:
    open(args.out_md, "w").write(report + "\n")
  if args.out_json:
    json.dump(res, open(args.out_json, "w"), indent=1, default=str)


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def _k(x):
  return f"{x:,.0f}" if x < 1e4 else f"{x / 1e3:,.0f}k"


def build_report(res):
  mi, jv, rv, sv = res["machine"], res["jaxrl_versions"], res["rejax_versions"], res["sbx_versions"]
  b = res["bare_env"]
  has_jaxrl = any("jaxrl" in p["steps_per_s"] for p in res["points"])
  L = ["## SAC and TD3 training throughput: jaxrl vs rejax (and sbx SAC), Pendulum-v1, "
       "rejax's settings\n",
       f"Command: `{res['command']}`  \nDate: {mi['date']}; machine: {mi['cpu']}, {mi['cores']} "
       f"cores ({mi['caches']}), {mi['memory']}, JAX backend {mi['jax backend']}; load average "
       f"{mi['load average']} before, {res['load_after']} after; whole benchmark "
       f"{res['wall_s'] / 60:.1f} min.  \njaxrl venv: python {jv['python']}, jax {jv['jax']}, "
       f"jaxlib {jv['jaxlib']}, flax {jv['flax']}, optax {jv['optax']}, gymnax {jv['gymnax']}. "
       f"rejax venv: rejax {rv['rejax']}, jax {rv['jax']}, jaxlib {rv['jaxlib']}, flax "
       f"{rv['flax']}, optax {rv['optax']}, gymnax {rv['gymnax']}."
       + (f" sbx venv: sbx-rl {sv['sbx-rl']}, stable-baselines3 {sv['stable_baselines3']}, jax "
          f"{sv['jax']}, flax {sv['flax']}, gymnasium {sv['gymnasium']}, torch {sv['torch']}."
          if sv else "") + "\n",
       "Settings: rejax's `configs/gymnax/pendulum.yaml` (sac, td3) on both sides, with "
       "**observation normalisation off in rejax** (the config turns it on; jaxrl's SAC/TD3 have "
       "none) and one evaluation episode at the end on both sides. 64x64 swish networks; SAC: "
       "batch 256, lr 0.01, 256 fill steps, one update per env step, tau 0.02; TD3: batch 100, "
       "lr 0.001, 1,000 fill steps, one critic update per env step and an actor update every "
       "2nd, tau 0.05.\n",
       f"Bare gymnax Pendulum-v1, 1 env, random actions, `lax.scan`: "
       f"{_k(b['jaxrl']['steps_per_s'])} steps/s (gymnax {jv['gymnax']}), "
       f"{_k(b['rejax']['steps_per_s'])} (gymnax {rv['gymnax']}).\n",
       f"Steps/s = seeds x env steps per seed / wall time of one call (compile excluded), median "
       f"of {res['repeats']} interleaved runs; rejax and jaxrl (1 device): "
       "`jit(vmap(train))(keys)`; jaxrl (all cores): the seeds split over one CPU device per "
       "core, as `jaxrl train` runs them (`devices.shard_runs`). Floor: the network passes the "
       "setting requires plus the bare environment, each timed alone for all the seeds "
       "(`network_floor`), on one device and split as the all-cores run; % = jaxrl's rate / the "
       "floor's on the same devices.\n"]
  L.append("| algo | seeds | steps/seed | rejax | jaxrl, 1 device | jaxrl / rejax | jaxrl, all "
           "cores (devices) | all cores / rejax | floor, 1 device | floor, split | jaxrl / floor "
           "1 dev | all cores / floor split |")
  L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for p in res["points"]:
    s = p["steps_per_s"]
    if has_jaxrl:
      j = (f"{_k(s['jaxrl'])} | **{s['jaxrl'] / s['rejax']:.2f}x** | {_k(s['jaxrl_cores'])} "
           f"({p['devices_used']}) | **{s['jaxrl_cores'] / s['rejax']:.2f}x** | ")
      f = (f" | {s['jaxrl'] / s['floor']:.0%} | {s['jaxrl_cores'] / s['floor_split']:.0%} |")
    else:
      j, f = "- | - | - | - | ", " | - | - |"
    L.append(f"| {p['algo'].upper()} | {p['seeds']} | {p['total_steps']:,} | {_k(s['rejax'])} | "
             f"{j}{_k(s['floor'])} | {_k(s['floor_split'])} ({p['floor_split']['devices']})" + f)
  L.append("")
  sbx_points = [p for p in res["points"] if "sbx" in p["steps_per_s"]]
  if sbx_points:
    p = sbx_points[0]
    s, r = p["steps_per_s"], p["runs"]["sbx"][-1]
    L.append(f"sbx SAC (Stable-Baselines-Jax, a Python loop over gymnasium's Pendulum-v1, same "
             f"networks/batch/buffer/rates, 1 seed, {r['env_steps_per_seed']:,} steps, "
             f"{r['updates_per_seed']:,} updates, warm-up compile excluded): "
             f"**{_k(s['sbx'])} steps/s**; rejax SAC at 1 seed {s['rejax'] / s['sbx']:.1f}x that"
             + (f", jaxrl SAC {s['jaxrl'] / s['sbx']:.1f}x (1 device)" if has_jaxrl else "")
             + ".\n")
  L.append("Floor parts (s, one device; SAC: update passes / acting / env; TD3: critic passes / "
           "actor passes / acting / env), updates per seed, and each side's updates and final "
           "evaluation return (mean over seeds, last run) and compile time (AOT "
           "`lower().compile()`; rejax's runs in its process at the same time as jaxrl's, so "
           "they overlap):\n")
  L.append("| algo | seeds | floor parts, 1 device (s) | floor, split (s) | updates/seed: floor / "
           "rejax (critic, actor) / jaxrl | final return rejax / jaxrl | compile rejax / jaxrl / "
           "jaxrl all cores (s) |")
  L.append("|---|---:|---|---:|---|---|---|")
  for p in res["points"]:
    sec = p["floor"]["seconds"]
    names = [n for n in ("update_passes", "critic_passes", "actor_passes", "act_per_step",
                         "bare_env") if n in sec]
    rr = p["runs"]["rejax"][-1]
    jr = p["runs"].get("jaxrl", [{}])[-1]
    c = p["compile"]
    L.append(f"| {p['algo'].upper()} | {p['seeds']} | "
             f"{' / '.join(f'{sec[n]:.3f}' for n in names)} | {p['floor_split']['total_s']:.3f} | "
             f"{p['floor']['updates']:,} / {rr['critic_updates_per_seed']:,}, "
             f"{rr['actor_updates_per_seed']:,} / {jr.get('updates_per_seed', '-')} | "
             f"{rr['final_eval_return_mean']:.0f} / "
             + (f"{jr['final_eval_return_mean']:.0f}" if jr else "-") + " | "
             f"{c['rejax']['compile_s']:.1f}"
             + (f" / {c['jaxrl']['compile_s']:.1f} / {c['jaxrl_cores']['compile_s']:.1f}"
                if "jaxrl" in c else "") + " |")
  L.append("")
  probed = [p for p in res["points"] if "jaxrl_no_updates" in p["runs"]]
  if probed:
    L.append("Where jaxrl's time goes (1 device, median walls, s): the run, the same run without "
             "gradient updates (`learning_starts` past the end: random actions, env, buffer, "
             "bookkeeping), so updates = run - no-update run; against the floor's parts: "
             "updates above the floor's update passes, and the no-update run above the floor's "
             "acting + env:\n")
    L.append("| algo | seeds | jaxrl run | no-update run | updates | floor update passes | "
             "updates above floor | no-update above floor acting+env |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in probed:
      med = lambda n: statistics.median(r["wall_s"] for r in p["runs"][n])  # noqa: E731
      run, bare = med("jaxrl"), med("jaxrl_no_updates")
      sec = p["floor"]["seconds"]
      fu = sum(v for k, v in sec.items() if k.endswith("passes"))
      fa = sec["act_per_step"] + sec["bare_env"]
      L.append(f"| {p['algo'].upper()} | {p['seeds']} | {run:.2f} | {bare:.2f} | "
               f"{run - bare:.2f} | {fu:.2f} | {run - bare - fu:+.2f} | {bare - fa:+.2f} |")
    L.append("")
  if has_jaxrl:
    L.append("Target (jaxrl >= 1.5x rejax at 8 and 32 seeds):\n")
    for p in res["points"]:
      if p["seeds"] in (8, 32):
        s = p["steps_per_s"]
        r1, rc = s["jaxrl"] / s["rejax"], s["jaxrl_cores"] / s["rejax"]
        L.append(f"- {p['algo'].upper()} {p['seeds']} seeds: all cores {rc:.2f}x -> "
                 f"**{'met' if rc >= 1.5 else 'missed'}**; one device {r1:.2f}x -> "
                 f"**{'met' if r1 >= 1.5 else 'missed'}**")
    L.append("")
  return "\n".join(L)


if __name__ == "__main__":
  main()
