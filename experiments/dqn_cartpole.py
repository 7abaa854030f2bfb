"""DQN on CartPole-v1: 8 seeds in one compiled call, 100k environment steps each.

The issue's bar: median (over 8 seeds) greedy evaluation return >= 475 within 100k steps, with
rejax's CartPole settings (10 envs, batch 100, 5 updates per 10 steps, Double DQN, Polyak 0.98),
which are DQNConfig's defaults.

    .venv/bin/python experiments/dqn_cartpole.py [--seeds 8] [--total-steps 100000] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import time

import jax
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

from jaxrl import envs  # pylint: disable=wrong-import-position
from jaxrl.agents import dqn  # pylint: disable=wrong-import-position


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--total-steps", type=int, default=100_000)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  args = parser.parse_args()

  env, params = envs.make("CartPole-v1")
  config = dataclasses.replace(dqn.DQNConfig(), total_steps=args.total_steps, log_every=5_000,
                               eval_every=5_000, eval_episodes=10)
  train = jax.jit(jax.vmap(dqn.make_train(config, env, params)))
  keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
  start = time.perf_counter()
  compiled = train.lower(keys).compile()
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  _, metrics = jax.block_until_ready(compiled(keys))
  run_s = time.perf_counter() - start
  metrics = jax.tree.map(np.asarray, metrics)

  steps = metrics["env_steps"][0]
  evals = metrics["eval_return"]
  final = evals[:, -1]
  print(f"DQN on CartPole-v1, {args.seeds} seeds x {args.total_steps} steps in one call: compile "
        f"{compile_s:.1f} s, run {run_s:.1f} s ({args.seeds * args.total_steps / run_s:,.0f} env steps/s)")
  print("greedy evaluation return (10 episodes) per seed at each evaluation:")
  print("  steps  " + " ".join(f"seed{i:<3d}" for i in range(args.seeds)) + "  median")
  for j, s in enumerate(steps):
    row = evals[:, j]
    print(f"{s:7d}  " + " ".join(f"{v:7.1f}" for v in row) + f"  {np.median(row):7.1f}")
  median = float(np.median(final))
  verdict = "MET" if median >= 475 else "NOT MET"
  print(f"final median over seeds: {median:.1f} (target >= 475: {verdict}); "
        f"seeds at >= 475: {int(np.sum(final >= 475))}/{args.seeds}; "
        f"all losses finite: {bool(metrics['loss_finite'].all())}")

  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  fig, ax = plt.subplots(figsize=(7, 4))
  for name, values, colour in (("greedy evaluation", evals, "C0"),
                               ("training episodes (epsilon-greedy)", metrics["episode_return"], "C1")):
    mean = np.nanmean(values, 0)
    lo, hi = np.nanpercentile(values, 25, 0), np.nanpercentile(values, 75, 0)
    ax.plot(steps, np.nanmedian(values, 0), color=colour, label=f"{name}: median")
    ax.fill_between(steps, lo, hi, color=colour, alpha=0.2, label=f"{name}: 25-75%")
    del mean
  ax.axhline(475, color="gray", ls="--", lw=1, label="475")
  ax.set_xlabel("environment steps")
  ax.set_ylabel("return")
  ax.set_title(f"DQN on CartPole-v1, {args.seeds} seeds in one call")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(out / "dqn_cartpole.png", dpi=120)
  print(f"wrote {out / 'dqn_cartpole.png'}")


if __name__ == "__main__":
  main()
