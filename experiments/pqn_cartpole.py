"""PQN on CartPole-v1: 8 seeds in one compiled program, PQNConfig's defaults.

The defaults were chosen by two small sweeps on seeds 0-3 (root key PRNGKey(0)): learning rate
{3e-4, 1e-3, 3e-3, 1e-2} x lambda {0.5, 0.8, 0.95} x epsilon decay {30k .. 120k steps} x final
epsilon {0.05, 0.2}, with the 64x64 LayerNorm network and 4 epochs of 4 minibatches; this script
runs other seeds (root seed 1 by default). The issue's bar: median final greedy evaluation >= 475
over 8 seeds, and the env steps needed.

    .venv/bin/python experiments/pqn_cartpole.py [--seeds 8] [--total-steps 204800] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses

import agent_runs
from jaxrl.agents import pqn


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--total-steps", type=int, default=204_800)
  parser.add_argument("--seed", type=int, default=1)
  args = parser.parse_args()
  config = dataclasses.replace(pqn.PQNConfig(), total_steps=args.total_steps, log_every=8_192,
                               eval_every=8_192, eval_episodes=10)
  agent_runs.experiment("pqn_cartpole", pqn, config, "CartPole-v1", seeds=args.seeds,
                        seed=args.seed, target=475.0, target_words="target median >= 475")


if __name__ == "__main__":
  main()
