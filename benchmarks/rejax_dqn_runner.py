"""rejax's DQN on CartPole-v1, timed; run by ``dqn_throughput.py`` with rejax's own interpreter.

Not part of jaxrl and never imported by it: rejax 0.1.3 steps environments with gymnax 0.0.9's
5-tuple ``step`` (jaxrl uses gymnax 1.x), so this file runs under
``benchmarks/.venv-rejax/bin/python``, which ``dqn_throughput.py`` creates. It imports nothing
from jaxrl.

The DQN is rejax's ``configs/gymnax/cartpole.yaml`` (dqn section), with two changes:

* the network is a plain ``QNetwork`` (MLP 64x64 and a linear head, relu) instead of the
  config's ``DuelingQNetwork`` (swish): the same network as jaxrl's default ``MLPQNetwork``;
* ``fill_buffer`` is 5% of ``total_timesteps`` (5,000 of 100,000 in the config), so a shortened
  run has the same share of update-free steps as the full one (and ``exploration_fraction`` is
  already relative).

Evaluation (``eval``):
  ``"minimal"`` (default): ``eval_freq = total_timesteps`` and ``skip_initial_evaluation``, so
    the run evaluates once, at the end, with a callback that plays ONE greedy episode (rejax's
    own ``evaluate`` with ``num_seeds=1``). jaxrl is run with ``eval_every = total_steps`` and
    ``eval_episodes = 1`` to match.
  ``"config"``: the config's ``eval_freq = 2500`` with rejax's 128 episodes per evaluation
    (hard-wired in ``Algorithm.create``), plus one before training.

Training function: ``jax.jit(jax.vmap(DQN.train, in_axes=(None, 0)))(algo, keys)``, rejax's
documented way to train seeds in parallel.

Two ways to run it:

* one shot: ``python rejax_dqn_runner.py '{"points": [{"seeds": 1, "total_timesteps": 20000}],
  "repeats": 3}'`` compiles and times every point and prints one JSON object;
* ``serve``: ``python rejax_dqn_runner.py serve '{"eval": "minimal"}'`` prints a JSON line
  (versions), then answers one JSON command per line of stdin with one JSON line on stdout, so
  that ``dqn_throughput.py`` can interleave rejax's runs with jaxrl's (see ``handle``).

Progress and warnings go to stderr.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from importlib import metadata

_t_import = time.perf_counter()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import rejax  # noqa: E402
from rejax.evaluate import evaluate  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import


def versions() -> dict:
  out = {}
  for name in ("rejax", "jax", "jaxlib", "flax", "optax", "gymnax", "chex", "distrax", "numpy"):
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      out[name] = "not installed"
  out["python"] = sys.version.split()[0]
  out["backend"] = jax.default_backend()
  return out


def log(*args):
  print(*args, file=sys.stderr, flush=True)


def rejax_config(total_timesteps: int, eval_mode: str) -> dict:
  """rejax's configs/gymnax/cartpole.yaml (dqn) with a plain QNetwork and a scaled fill_buffer."""
  cfg = dict(
      env="CartPole-v1",
      agent="QNetwork",                       # config: DuelingQNetwork
      agent_kwargs=dict(activation="relu"),   # config: swish; jaxrl's MLP uses relu
      num_envs=10,
      buffer_size=50_000,
      fill_buffer=int(0.05 * total_timesteps),
      batch_size=100,
      max_grad_norm=10,
      learning_rate=0.001,
      num_epochs=5,
      total_timesteps=total_timesteps,
      eval_freq=2_500,
      polyak=0.98,
      eps_start=1,
      eps_end=0.05,
      exploration_fraction=0.5,
      gamma=0.99,
      ddqn=True,
      normalize_observations=False,
  )
  if eval_mode == "minimal":
    cfg.update(eval_freq=total_timesteps, skip_initial_evaluation=True)
  elif eval_mode == "curve":
    cfg.update(eval_freq=CURVE_EVAL_FREQ, skip_initial_evaluation=True)
  elif eval_mode != "config":
    raise ValueError(f"eval must be 'minimal', 'curve' or 'config', got {eval_mode!r}")
  return cfg


#: ``"curve"`` mode: a greedy evaluation of CURVE_EPISODES episodes every CURVE_EVAL_FREQ steps
#: (what jaxrl's DQN does by default), for a learning curve against time.
CURVE_EVAL_FREQ, CURVE_EPISODES = 5_000, 10


def make_algo(total_timesteps: int, eval_mode: str):
  algo_cls = rejax.get_algo("dqn")
  algo = algo_cls.create(**rejax_config(total_timesteps, eval_mode))
  if eval_mode in ("minimal", "curve"):
    episodes = 1 if eval_mode == "minimal" else CURVE_EPISODES

    def greedy_episodes(algo, ts, rng):
      act = algo.make_act(ts)
      return evaluate(act, rng, algo.env, algo.env_params, episodes,
                      algo.env_params.max_steps_in_episode)
    algo = algo.replace(eval_callback=greedy_episodes)
  return algo_cls, algo


def seed_keys(seeds: int, start: int):
  return jax.vmap(jax.random.PRNGKey)(jnp.arange(start, start + seeds))


def summarize(out, seeds: int) -> dict:
  ts, (_, returns) = out
  # evaluation returns: [seeds, num_evals, episodes]; the last evaluation, mean over episodes.
  final = np.asarray(returns)[:, -1].mean(axis=-1)
  return dict(env_steps_per_seed=int(np.asarray(ts.global_step).reshape(-1)[0]),
              updates_per_seed=int(np.asarray(ts.q_ts.step).reshape(-1)[0]),
              final_eval_return_mean=float(final.mean()),
              final_eval_return_per_seed=[float(x) for x in final])


def bare_env_rate(num_envs: int, steps: int, repeats: int = 3) -> dict:
  """This venv's gymnax (0.0.9) CartPole-v1, vmapped over num_envs, random actions, lax.scan."""
  import gymnax

  env, params = gymnax.make("CartPole-v1")

  @jax.jit
  def run(key):
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

    def body(carry, k):
      state, total = carry
      ka, ks = jax.random.split(k)
      a = jax.random.randint(ka, (num_envs,), 0, 2)
      obs, state, r, _, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
          jax.random.split(ks, num_envs), state, a, params)
      return (state, total + jnp.sum(r) + jnp.sum(obs)), None

    (_, total), _ = jax.lax.scan(body, (state, jnp.float32(0)), jax.random.split(key, steps))
    return total

  jax.block_until_ready(run(jax.random.PRNGKey(0)))
  times = []
  for i in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(run(jax.random.PRNGKey(i + 1)))
    times.append(time.perf_counter() - t0)
  med = statistics.median(times)
  return dict(num_envs=num_envs, steps=steps, median_s=med, times_s=times,
              steps_per_s=num_envs * steps / med)


class Server:
  """Holds compiled training functions between commands."""

  def __init__(self, eval_mode: str):
    self.eval_mode = eval_mode
    self.prepared = {}

  def compile_probe(self, seeds: int, total_timesteps: int) -> dict:
    """A fresh ``jit`` (caches cleared): first call, second call with new keys, cache size."""
    jax.clear_caches()
    algo_cls, algo = make_algo(total_timesteps, self.eval_mode)
    train = jax.jit(jax.vmap(algo_cls.train, in_axes=(None, 0)))
    keys0, keys1 = jax.block_until_ready((seed_keys(seeds, 0), seed_keys(seeds, 10_000)))
    t0 = time.perf_counter()
    jax.block_until_ready(train(algo, keys0))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(train(algo, keys1))
    second = time.perf_counter() - t0
    return dict(seeds=seeds, total_timesteps=total_timesteps, first_call_s=first,
                second_call_s=second, compile_s=first - second, cache_size=int(train._cache_size()))

  def prepare(self, seeds: int, total_timesteps: int) -> dict:
    """Traces, lowers and compiles (AOT) the vmapped training function for one point."""
    algo_cls, algo = make_algo(total_timesteps, self.eval_mode)
    train = jax.jit(jax.vmap(algo_cls.train, in_axes=(None, 0)))
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(algo, keys)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    self.prepared[(seeds, total_timesteps)] = (compiled, algo)
    return dict(seeds=seeds, total_timesteps=total_timesteps, trace_lower_s=t1 - t0,
                compile_s=t2 - t1, fill_buffer=algo.fill_buffer)

  def run(self, seeds: int, total_timesteps: int, rep: int) -> dict:
    compiled, algo = self.prepared[(seeds, total_timesteps)]
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(algo, keys))
    wall = time.perf_counter() - t0
    return dict(seeds=seeds, total_timesteps=total_timesteps, rep=rep, wall_s=wall,
                **summarize(out, seeds))

  def curve(self, seeds: int, total_timesteps: int, rep: int = 0) -> dict:
    """A prepared point's run with its evaluations: the median over seeds of each evaluation's
    mean greedy return (``"curve"`` mode evaluates every CURVE_EVAL_FREQ steps)."""
    compiled, algo = self.prepared[(seeds, total_timesteps)]
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    ts, (_, returns) = jax.block_until_ready(compiled(algo, keys))
    wall = time.perf_counter() - t0
    per_eval = np.asarray(returns).mean(axis=-1)            # [seeds, num_evals]
    return dict(seeds=seeds, total_timesteps=total_timesteps, wall_s=wall,
                eval_every=int(algo.eval_freq), median_eval=np.median(per_eval, 0).tolist(),
                final_eval_per_seed=per_eval[:, -1].tolist())

  def free(self, seeds: int, total_timesteps: int) -> dict:
    self.prepared.pop((seeds, total_timesteps), None)
    return {}

  def handle(self, cmd: dict) -> dict:
    """Commands: ``bare_env`` (num_envs, steps), ``compile_probe`` (seeds, total_timesteps),
    ``prepare``/``run``/``free`` (seeds, total_timesteps[, rep]), ``quit``."""
    name = cmd.pop("cmd")
    if name == "bare_env":
      return bare_env_rate(**cmd)
    return getattr(self, name)(**cmd)


def serve(eval_mode: str) -> None:
  server = Server(eval_mode)
  print(json.dumps(dict(ready=True, versions=versions(), import_s=IMPORT_S, eval=eval_mode)),
        flush=True)
  for line in sys.stdin:
    line = line.strip()
    if not line:
      continue
    cmd = json.loads(line)
    if cmd.get("cmd") == "quit":
      break
    try:
      reply = dict(ok=True, **server.handle(cmd))
    except Exception as e:  # report to the driver instead of dying silently
      reply = dict(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps(reply), flush=True)


def one_shot(spec: dict) -> None:
  server = Server(spec.get("eval", "minimal"))
  repeats = int(spec.get("repeats", 3))
  result = dict(versions=versions(), import_s=IMPORT_S, eval=server.eval_mode, points=[])
  for point in spec.get("points", []):
    s, t = int(point["seeds"]), int(point["total_timesteps"])
    rec = server.prepare(s, t)
    runs = [server.run(s, t, r) for r in range(repeats)]
    med = statistics.median(r["wall_s"] for r in runs)
    rec.update(times_s=[r["wall_s"] for r in runs], median_s=med,
               steps_per_s=s * runs[-1]["env_steps_per_seed"] / med, last_run=runs[-1])
    log(f"rejax seeds={s} T={t}: compile {rec['compile_s']:.2f}s, median {med:.2f}s, "
        f"{rec['steps_per_s']:,.0f} steps/s")
    result["points"].append(rec)
    server.free(s, t)
  print(json.dumps(result))


if __name__ == "__main__":
  if len(sys.argv) >= 2 and sys.argv[1] == "serve":
    serve(json.loads(sys.argv[2]).get("eval", "minimal") if len(sys.argv) > 2 else "minimal")
  else:
    one_shot(json.loads(sys.argv[1]) if len(sys.argv) > 1 else
             {"points": [{"seeds": 1, "total_timesteps": 20_000}], "repeats": 2})
