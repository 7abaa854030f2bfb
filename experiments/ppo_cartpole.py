"""PPO on CartPole-v1: 8 seeds in one compiled program, PPOConfig's defaults (PureJaxRL's).

The issue's bar: median (over 8 seeds) final greedy evaluation >= 475, and the env steps needed.

    .venv/bin/python experiments/ppo_cartpole.py [--seeds 8] [--total-steps 491520] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses

import agent_runs
from jaxrl.agents import ppo


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--total-steps", type=int, default=491_520)
  parser.add_argument("--seed", type=int, default=1)
  args = parser.parse_args()
  config = dataclasses.replace(ppo.PPOConfig(), total_steps=args.total_steps, log_every=20_480,
                               eval_every=20_480, eval_episodes=10)
  agent_runs.experiment("ppo_cartpole", ppo, config, "CartPole-v1", seeds=args.seeds,
                        seed=args.seed, target=475.0, target_words="target median >= 475")


if __name__ == "__main__":
  main()
