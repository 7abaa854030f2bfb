"""rejax's PPO on CartPole-v1, timed; run by ``pg_throughput.py`` with rejax's own interpreter.

Not part of jaxrl and never imported by it: it runs under ``benchmarks/.venv-rejax/bin/python``
(rejax 0.1.3 + gymnax 0.0.9, created by ``dqn_throughput.ensure_rejax_venv``).

The PPO is rejax's ``configs/gymnax/cartpole.yaml`` ppo section: num_envs 5, num_steps 100,
num_epochs 5, num_minibatches 5, lr 7.5e-4, max_grad_norm 0.5, gamma 0.99, gae_lambda 0.95,
clip_eps 0.2, ent_coef 0.01, vf_coef 0.5, MLP 64x64 tanh. Evaluation is reduced to one greedy
episode at the end (``eval_freq = total_timesteps``, ``skip_initial_evaluation``, a 1-episode
callback), matching jaxrl's ``eval_every = total_steps, eval_episodes = 1``.

Training function: ``jax.jit(jax.vmap(PPO.train, in_axes=(None, 0)))(algo, keys)``.

``serve``: prints a JSON line (versions), then answers one JSON command per line of stdin
(``bare_env``, ``prepare``, ``run``, ``free``, ``quit``) with one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import rejax
from rejax.evaluate import evaluate

from rejax_dqn_runner import bare_env_rate, seed_keys, versions  # same venv, same folder

PPO_CONFIG = dict(
    env="CartPole-v1",
    agent_kwargs=dict(activation="tanh", hidden_layer_sizes=(64, 64)),
    num_envs=5,
    num_steps=100,
    num_epochs=5,
    num_minibatches=5,
    learning_rate=0.00075,
    max_grad_norm=0.5,
    gamma=0.99,
    gae_lambda=0.95,
    clip_eps=0.2,
    ent_coef=0.01,
    vf_coef=0.5,
    normalize_observations=False,
)


def make_algo(total_timesteps: int):
  algo_cls = rejax.get_algo("ppo")
  cfg = dict(PPO_CONFIG, agent_kwargs=dict(PPO_CONFIG["agent_kwargs"]),
             total_timesteps=total_timesteps, eval_freq=total_timesteps,
             skip_initial_evaluation=True)
  algo = algo_cls.create(**cfg)

  def one_episode(algo, ts, rng):
    act = algo.make_act(ts)
    return evaluate(act, rng, algo.env, algo.env_params, 1, algo.env_params.max_steps_in_episode)

  return algo_cls, algo.replace(eval_callback=one_episode)


class Server:
  def __init__(self):
    self.prepared = {}

  def prepare(self, seeds: int, total_timesteps: int) -> dict:
    algo_cls, algo = make_algo(total_timesteps)
    train = jax.jit(jax.vmap(algo_cls.train, in_axes=(None, 0)))
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(algo, keys)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    self.prepared[(seeds, total_timesteps)] = (compiled, algo)
    return dict(trace_lower_s=t1 - t0, compile_s=t2 - t1)

  def run(self, seeds: int, total_timesteps: int, rep: int) -> dict:
    compiled, algo = self.prepared[(seeds, total_timesteps)]
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    ts, (_, returns) = jax.block_until_ready(compiled(algo, keys))
    wall = time.perf_counter() - t0
    final = np.asarray(returns)[:, -1].mean(axis=-1)
    return dict(wall_s=wall,
                env_steps_per_seed=int(np.asarray(ts.global_step).reshape(-1)[0]),
                actor_updates_per_seed=int(np.asarray(ts.actor_ts.step).reshape(-1)[0]),
                critic_updates_per_seed=int(np.asarray(ts.critic_ts.step).reshape(-1)[0]),
                final_eval_return_mean=float(final.mean()))

  def free(self, seeds: int, total_timesteps: int) -> dict:
    self.prepared.pop((seeds, total_timesteps), None)
    return {}

  def handle(self, cmd: dict) -> dict:
    name = cmd.pop("cmd")
    if name == "bare_env":
      return bare_env_rate(**cmd)
    return getattr(self, name)(**cmd)


def serve() -> None:
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
    except Exception as e:  # noqa: BLE001
      reply = dict(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps(reply), flush=True)


if __name__ == "__main__":
  if len(sys.argv) >= 2 and sys.argv[1] == "serve":
    serve()
  else:
    s = Server()
    print(s.prepare(1, 10_000))
    print(s.run(1, 10_000, 0))
