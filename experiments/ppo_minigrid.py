"""PPO learns an XLand-MiniGrid task that a random policy does not solve, 4 seeds in one program.

``xminigrid:MiniGrid-DoorKey-5x5`` (pick up the key, open the door, reach the goal; reward
``1 - 0.9 t / max_steps`` at the goal, 0 otherwise; 250 steps before truncation). The agent sees
xminigrid's egocentric 7x7 view flattened (98 floats) and acts with 6 discrete actions.

In the same script: a uniformly random policy over ``--random-episodes`` episodes (its success
rate and mean return), then PPO (MLP 64x64, PPOConfig defaults otherwise, 32 envs x 64 steps) for
``--seeds`` seeds in one compiled program; the figure is the median greedy return and success
rate over seeds at the end, and the env steps per seed at which the median first passes
``--target``.

    .venv/bin/python experiments/ppo_minigrid.py [--seeds 4] [--total-steps 262144]
        [--env MiniGrid-DoorKey-5x5] [--target 0.5]
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import agent_runs
from jaxrl import envs
from jaxrl.agents import ppo


def random_policy(env_name: str, episodes: int, seed: int = 0) -> dict:
  """Success rate and mean return of uniformly random actions over ``episodes`` full episodes
  (``episodes`` environments vmapped, each run to its first episode's end)."""
  env, params = envs.make(env_name)
  n_actions = env.action_space(params).n
  limit = int(params.max_steps) if hasattr(params, "max_steps") else 1000

  def one(key):
    k_reset, k_run = jax.random.split(key)
    _, state = env.reset(k_reset, params)

    def body(carry, key):
      state, ret, done = carry
      k_a, k_s = jax.random.split(key)
      a = jax.random.randint(k_a, (), 0, n_actions)
      _, state, r, term, trunc, _ = env.step(k_s, state, a, params)
      ret = ret + jnp.where(done, 0.0, r)
      return (state, ret, done | term | trunc), None

    (_, ret, done), _ = jax.lax.scan(body, (state, jnp.float32(0), jnp.bool_(False)),
                                     jax.random.split(k_run, limit + 1))
    return ret, done

  ret, done = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(seed), episodes))
  ret, done = np.asarray(ret), np.asarray(done)
  assert done.all(), "every random episode should end within the time limit"
  return {"episodes": episodes, "success_rate": float(np.mean(ret > 0)),
          "mean_return": float(np.mean(ret))}


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=4)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--total-steps", type=int, default=262_144)
  parser.add_argument("--env", default="MiniGrid-DoorKey-5x5")
  parser.add_argument("--target", type=float, default=0.5)
  parser.add_argument("--random-episodes", type=int, default=1024)
  args = parser.parse_args()
  name = f"xminigrid:{args.env}"
  rand = random_policy(name, args.random_episodes)
  print(f"random policy on {name}: success {100 * rand['success_rate']:.1f}% of "
        f"{rand['episodes']} episodes, mean return {rand['mean_return']:.3f}")
  every = max(2048, args.total_steps // 8 // 2048 * 2048)     # 8 evaluations
  config = dataclasses.replace(
      ppo.PPOConfig(), total_steps=args.total_steps, num_envs=32, num_steps=64, num_epochs=4,
      num_minibatches=8, learning_rate=5e-4, log_every=every, eval_every=every,
      eval_episodes=16)
  out = agent_runs.experiment("ppo_minigrid", ppo, config, name, seeds=args.seeds,
                              seed=args.seed, target=args.target,
                              target_words=f"target median >= {args.target}")
  final = np.asarray(out["final_eval_per_seed"])
  print(f"  random policy: success {100 * rand['success_rate']:.1f}%, mean return "
        f"{rand['mean_return']:.3f}; PPO final greedy median {np.median(final):.3f} "
        f"({', '.join(f'{v:.3f}' for v in final)})")
  agent_runs.save_json("ppo_minigrid_random.json", rand)


if __name__ == "__main__":
  main()
