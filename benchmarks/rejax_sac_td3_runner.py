"""rejax's SAC and TD3 on gymnax Pendulum-v1, timed; run by ``sac_td3_throughput.py`` with
rejax's own interpreter (``benchmarks/.venv-rejax/bin/python``: rejax 0.1.3 + gymnax 0.0.9,
created by ``dqn_throughput.ensure_rejax_venv``).

Not part of jaxrl and never imported by it. rejax is imported lazily (inside the functions that
need it), so that ``sac_td3_throughput.py`` can import :func:`bare_env_program` from this file
under jaxrl's interpreter: one bare Pendulum loop for both gymnax versions.

Settings: rejax's ``configs/gymnax/pendulum.yaml`` sac and td3 sections, with
``normalize_observations`` turned OFF (jaxrl's SAC and TD3 have no observation normalisation)
and evaluation reduced to one episode of rejax's own ``make_act`` at the end
(``eval_freq = total_timesteps``, ``skip_initial_evaluation``, a 1-episode callback).

What one ``train_iteration`` does (rejax 0.1.3, ``algos/sac.py``, ``algos/td3.py``):

* SAC: one step of every env (``num_envs`` = 1, always the actor's sampled action, also while
  filling the buffer), then, once ``global_step > fill_buffer``, ``num_epochs`` (1) updates of
  actor, twin critics and temperature on one minibatch, then a Polyak step of the target critics
  -- so one update and one Polyak step per env step;
* TD3: ``policy_delay`` (2) times {one env step (uniform random actions until ``global_step >
  fill_buffer``, then actor + Gaussian noise), one twin-critic update}, then one actor update
  and a Polyak step of the target actor and target critics -- per env step one critic update and
  half an actor update. ``train`` runs ``ceil(eval_freq / (num_envs * policy_delay))``
  iterations, so ``total_timesteps`` should be even.

Training function: ``jax.jit(jax.vmap(algo_cls.train, in_axes=(None, 0)))(algo, keys)``.

``serve``: prints a JSON line (versions), then answers one JSON command per line of stdin
(``bare_env``, ``prepare``, ``run``, ``free``, ``quit``) with one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

SAC_CONFIG = dict(                        # configs/gymnax/pendulum.yaml, sac
    env="Pendulum-v1",
    agent_kwargs=dict(activation="swish"),  # hidden_layer_sizes: SAC's default (64, 64)
    num_envs=1,
    buffer_size=10_000,
    fill_buffer=256,
    batch_size=256,
    learning_rate=0.01,
    num_epochs=1,
    gamma=0.99,
    polyak=0.98,
    target_entropy_ratio=None,
    normalize_observations=False,         # config: true; off because jaxrl has none
)

TD3_CONFIG = dict(                        # configs/gymnax/pendulum.yaml, td3
    env="Pendulum-v1",
    actor_kwargs=dict(activation="swish"),
    critic_kwargs=dict(activation="swish"),
    num_envs=1,
    buffer_size=10_000,
    fill_buffer=1_000,
    batch_size=100,
    learning_rate=0.001,
    num_epochs=1,
    gamma=0.99,
    polyak=0.95,
    max_grad_norm=100,
    exploration_noise=0.3,
    target_noise=0.2,
    target_noise_clip=0.5,
    policy_delay=2,
    normalize_observations=False,         # config: true; off because jaxrl has none
)

CONFIGS = {"sac": SAC_CONFIG, "td3": TD3_CONFIG}


def bare_env_program(env, params, num_envs: int, steps: int):
  """One key -> a number: ``env`` (a gymnax Pendulum-v1, 0.0.9's 5-tuple ``step`` or 1.x's
  6-tuple) vmapped over ``num_envs``, uniform random actions in [-2, 2], ``steps`` steps in a
  ``lax.scan``, every step's outputs consumed. Not jitted: callers jit it, or vmap it over seeds
  first (``sac_td3_throughput.network_floor``)."""
  low, high = -2.0, 2.0

  def run(key):
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

    def body(carry, k):
      state, total = carry
      ka, ks = jax.random.split(k)
      a = jax.random.uniform(ka, (num_envs, 1), minval=low, maxval=high)
      out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
          jax.random.split(ks, num_envs), state, a, params)
      obs, state, r = out[0], out[1], out[2]
      return (state, total + jnp.sum(r) + jnp.sum(obs)), None

    (_, total), _ = jax.lax.scan(body, (state, jnp.float32(0)), jax.random.split(key, steps))
    return total

  return run


def bare_env_rate(env, params, num_envs: int, steps: int, repeats: int = 3) -> dict:
  """Steps/s of :func:`bare_env_program`, jitted (median of ``repeats``, compile excluded)."""
  run = jax.jit(bare_env_program(env, params, num_envs, steps))
  jax.block_until_ready(run(jax.random.PRNGKey(0)))
  times = []
  for i in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(run(jax.random.PRNGKey(i + 1)))
    times.append(time.perf_counter() - t0)
  med = statistics.median(times)
  return dict(num_envs=num_envs, steps=steps, median_s=med, times_s=times,
              steps_per_s=num_envs * steps / med)


def make_algo(algo: str, total_timesteps: int):
  import rejax
  from rejax.evaluate import evaluate

  algo_cls = rejax.get_algo(algo)
  base = CONFIGS[algo]
  cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
  cfg.update(total_timesteps=total_timesteps, eval_freq=total_timesteps,
             skip_initial_evaluation=True)
  agent = algo_cls.create(**cfg)

  def one_episode(algo, ts, rng):
    act = algo.make_act(ts)
    return evaluate(act, rng, algo.env, algo.env_params, 1, algo.env_params.max_steps_in_episode)

  return algo_cls, agent.replace(eval_callback=one_episode)


class Server:
  def __init__(self):
    self.prepared = {}

  def bare_env(self, num_envs: int, steps: int) -> dict:
    import gymnax
    env, params = gymnax.make("Pendulum-v1")
    return bare_env_rate(env, params, num_envs, steps)

  def prepare(self, algo: str, seeds: int, total_timesteps: int) -> dict:
    from rejax_dqn_runner import seed_keys
    algo_cls, agent = make_algo(algo, total_timesteps)
    train = jax.jit(jax.vmap(algo_cls.train, in_axes=(None, 0)))
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(agent, keys)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    self.prepared[(algo, seeds, total_timesteps)] = (compiled, agent)
    return dict(trace_lower_s=t1 - t0, compile_s=t2 - t1)

  def run(self, algo: str, seeds: int, total_timesteps: int, rep: int) -> dict:
    from rejax_dqn_runner import seed_keys
    compiled, agent = self.prepared[(algo, seeds, total_timesteps)]
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    ts, (_, returns) = jax.block_until_ready(compiled(agent, keys))
    wall = time.perf_counter() - t0
    final = np.asarray(returns)[:, -1].mean(axis=-1)
    return dict(wall_s=wall,
                env_steps_per_seed=int(np.asarray(ts.global_step).reshape(-1)[0]),
                actor_updates_per_seed=int(np.asarray(ts.actor_ts.step).reshape(-1)[0]),
                critic_updates_per_seed=int(np.asarray(ts.critic_ts.step).reshape(-1)[0]),
                final_eval_return_mean=float(final.mean()))

  def free(self, algo: str, seeds: int, total_timesteps: int) -> dict:
    self.prepared.pop((algo, seeds, total_timesteps), None)
    return {}

  def handle(self, cmd: dict) -> dict:
    return getattr(self, cmd.pop("cmd"))(**cmd)


def serve() -> None:
  from rejax_dqn_runner import versions
  server = Server()
  print(json.dumps(dict(ready=True, versions=versions())), flush=True)
  for line in sys.stdin:
    line = line.strip()
    if not line:
      continue
    cmd = json.loads(line)
    if cmd.get("cmd") == "quit":
      break
    try:
      reply = dict(ok=True, **server.handle(cmd))
    except Exception as e:  # noqa: BLE001 - reported to the driver
      reply = dict(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps(reply), flush=True)


if __name__ == "__main__":
  if len(sys.argv) >= 2 and sys.argv[1] == "serve":
    serve()
  else:   # smoke test: python rejax_sac_td3_runner.py [total_timesteps]
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    s = Server()
    print(s.bare_env(1, 10_000))
    for name in ("sac", "td3"):
      print(name, s.prepare(name, 1, total))
      print(name, s.run(name, 1, total, 0))
      print(name, s.run(name, 1, total, 1))
