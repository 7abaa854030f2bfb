"""PQN on Breakout-MinAtar (10x10x4 images): the MinAtar CNN with LayerNorm, no replay, no target.

purejaxql's MinAtar setting (128 envs x 32 steps, 2 epochs of 32 minibatches, lambda 0.65,
epsilon 1 -> 0.05 over the first tenth of the run, RAdam 5e-4 annealed, 10M steps) scaled to a
CPU budget: 4 seeds x 2M steps by default, epsilon decayed over the first 10% of that. What it
reaches is printed; MinAtar Breakout returns are in [0, ~100], a random policy scores about 0.5.

    .venv/bin/python experiments/pqn_minatar.py [--seeds 4] [--total-steps 2000000] [--seed 1]
"""

from __future__ import annotations

import argparse

import agent_runs
from jaxrl.agents import pqn


def purejaxql_config(total: int, log_every: int | None = None) -> pqn.PQNConfig:
  """purejaxql's MinAtar setting for ``total`` env steps (a multiple of ``log_every``, by default
  16 rollouts of 128 x 32 steps); ``benchmarks/gpu/run.py`` times it at purejaxql's 10M."""
  per_log = 128 * 32 * 16 if log_every is None else log_every
  return pqn.PQNConfig(
      total_steps=total, num_envs=128, num_steps=32, num_epochs=2, num_minibatches=32,
      network="cnn", layer_norm=True, learning_rate=5e-4, q_lambda=0.65, reward_scale=1.0,
      epsilon_end=0.05, epsilon_decay_steps=0.1 * total, log_every=per_log, eval_every=per_log,
      eval_episodes=16, eval_max_steps=2_000)


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=4)
  parser.add_argument("--total-steps", type=int, default=1_998_848)
  parser.add_argument("--seed", type=int, default=1)
  args = parser.parse_args()
  per_log = 128 * 32 * 16
  total = args.total_steps - args.total_steps % per_log
  config = purejaxql_config(total)
  agent_runs.experiment("pqn_minatar_breakout", pqn, config, "Breakout-MinAtar",
                        seeds=args.seeds, seed=args.seed, target=None, target_words="")


if __name__ == "__main__":
  main()
