"""SAC and TD3 on gymnax Pendulum-v1 (torque in [-2, 2]): 8 seeds in one compiled program each.

The issue's bar: median final greedy return >= -200, and the environment steps each needs to
first reach it (the usual result is within 20k steps). Settings, shared where they can be:
one environment, 64x64 ReLU networks, Adam 1e-3 for every network (and SAC's temperature),
batch 256, buffer 20k (the whole run), 1,000 uniform-random warm-up steps, one update per
step, tau 0.005, gamma 0.99; SAC learns its temperature towards -dim(A) = -1; TD3 explores with
noise 0.1 (of the half-width), smooths its targets with 0.2 clipped at 0.5 and delays its
policy by 2. Greedy evaluation (5 episodes: SAC's tanh of the mean, TD3's deterministic action)
every 1,000 steps.

    .venv/bin/python experiments/sac_td3_pendulum.py [--seeds 8] [--total-steps 20000] [--seed 1]
        [--agents sac,td3]
"""

from __future__ import annotations

import argparse

import agent_runs
import numpy as np
from jaxrl.agents import sac
from jaxrl.agents import td3

SHARED = dict(num_envs=1, hidden_sizes=(64, 64), buffer_size=20_000, batch_size=256,
              learning_starts=1_000, updates_per_step=1.0, learning_rate=1e-3,
              actor_learning_rate=1e-3, discount=0.99, tau=0.005, log_every=1_000,
              eval_every=1_000, eval_episodes=5)


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--total-steps", type=int, default=20_000)
  parser.add_argument("--seed", type=int, default=1)
  parser.add_argument("--agents", default="sac,td3")
  args = parser.parse_args()
  shared = dict(SHARED, total_steps=args.total_steps,
                buffer_size=max(args.total_steps, SHARED["batch_size"]))
  configs = {"sac": (sac, sac.SACConfig(**shared, alpha_learning_rate=1e-3)),
             "td3": (td3, td3.TD3Config(**shared))}
  results = {}
  for name in args.agents.split(","):
    module, config = configs[name]
    results[name] = agent_runs.experiment(
        f"{name}_pendulum", module, config, "Pendulum-v1", seeds=args.seeds, seed=args.seed,
        target=-200.0, target_words="target median >= -200")
  for name, out in results.items():
    hit = out.get("first_log_reaching")
    print(f"{name}: final median {float(np.median(out['final_eval_per_seed'])):.1f}"
          f" (target -200 {'met' if out['met'] else 'NOT met'}); median first >= -200 at "
          f"{'never' if hit is None else format(hit['env_steps'], ',') + ' env steps'}; "
          f"{out['env_steps_per_s']:,.0f} env steps/s over {args.seeds} seeds")


if __name__ == "__main__":
  main()
