"""PPO with a Gaussian policy on Pendulum-v1 (continuous torque in [-2, 2]): 8 seeds, one program.

Settings: 16 envs x 64 steps, 10 epochs of 8 minibatches, Adam 1e-3 annealed, gamma 0.95,
GAE 0.95, no entropy bonus, no value clipping (values of -300..0 could move only clip_eps
towards their targets per rollout), 1M steps; actions clipped to the bounds, log-probabilities of the
unclipped samples. The issue's bar: median final greedy (mean-action) return >= -250.

    .venv/bin/python experiments/ppo_pendulum.py [--seeds 8] [--total-steps 1024000] [--seed 1]
"""

from __future__ import annotations

import argparse

import agent_runs
from jaxrl.agents import ppo


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--total-steps", type=int, default=1_024_000)
  parser.add_argument("--seed", type=int, default=1)
  args = parser.parse_args()
  config = ppo.PPOConfig(total_steps=args.total_steps, num_envs=16, num_steps=64, num_epochs=10,
                         num_minibatches=8, learning_rate=1e-3, discount=0.95, gae_lambda=0.95,
                         entropy_coef=0.0, clip_value=False, log_every=51_200,
                         eval_every=51_200, eval_episodes=16)
  agent_runs.experiment("ppo_pendulum", ppo, config, "Pendulum-v1", seeds=args.seeds,
                        seed=args.seed, target=-250.0, target_words="target median >= -250")


if __name__ == "__main__":
  main()
