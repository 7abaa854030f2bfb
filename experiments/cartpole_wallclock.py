"""DQN, PQN, A2C and PPO on CartPole-v1 by wall-clock time to a median greedy return of 475.

Each agent runs 8 seeds in one compiled program with its default config (DQN: rejax's CartPole
setting; PQN: the CPU-sized PQNConfig; A2C: A2CConfig; PPO: PureJaxRL's), one logging interval
per call so that every point's wall-clock time is measured (compile excluded, reported apart).
The agents run one after another on the same machine, in one process. Figure: median greedy
return over seeds vs seconds (and vs env steps); table: seconds and env steps until the median
first reaches 475.

    .venv/bin/python experiments/cartpole_wallclock.py [--seeds 8] [--seed 2]
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import matplotlib
import numpy as np

import agent_runs

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

from jaxrl import envs  # pylint: disable=wrong-import-position
from jaxrl.agents import a2c, dqn, ppo, pqn  # pylint: disable=wrong-import-position

TARGET = 475.0


def configs():
  """(name, module, config): budgets large enough for every agent to reach 475 on CartPole."""
  return [
      ("DQN", dqn, dataclasses.replace(dqn.DQNConfig(), total_steps=150_000, log_every=5_000,
                                       eval_every=5_000, eval_episodes=10)),
      ("PQN", pqn, dataclasses.replace(pqn.PQNConfig(), total_steps=163_840, log_every=8_192,
                                       eval_every=8_192, eval_episodes=10)),
      ("A2C", a2c, dataclasses.replace(a2c.A2CConfig(), total_steps=500_000, log_every=10_000,
                                       eval_every=10_000, eval_episodes=10)),
      ("PPO", ppo, dataclasses.replace(ppo.PPOConfig(), total_steps=491_520, log_every=20_480,
                                       eval_every=20_480, eval_episodes=10)),
  ]


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--seed", type=int, default=2)
  parser.add_argument("--only", nargs="*", help="run only these agents (e.g. DQN PQN)")
  args = parser.parse_args()
  env, params = envs.make("CartPole-v1")
  keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
  rows, curves = [], {}
  for name, module, config in configs():
    if args.only and name not in args.only:
      continue
    res = agent_runs.timed_run(module.make_train(config, env, params), keys)
    m, secs = res["metrics"], res["seconds"]
    steps = m["env_steps"][0]
    med = agent_runs.median_over_seeds(m["eval_return"])
    hit = agent_runs.first_reaching(med, TARGET)
    rows.append(dict(agent=name, compile_s=res["compile_s"], run_s=float(secs[-1]),
                     env_steps_per_s=args.seeds * int(steps[-1]) / secs[-1],
                     seconds_to_target=None if hit is None else float(secs[hit]),
                     env_steps_to_target=None if hit is None else int(steps[hit]),
                     final_median=float(np.median(m["eval_return"][:, -1]))))
    curves[name] = (steps, secs, m["eval_return"])
    print(f"{name}: compile {res['compile_s']:.1f} s, run {secs[-1]:.1f} s, "
          f"{rows[-1]['env_steps_per_s']:,.0f} env steps/s, median >= {TARGET:.0f} at "
          + ("never" if hit is None else f"{secs[hit]:.1f} s / {int(steps[hit]):,} steps")
          + f", final median {rows[-1]['final_median']:.0f}", flush=True)
  print(f"\n| agent | seconds to median {TARGET:.0f} | env steps to it | env steps/s (8 seeds) "
        "| compile (s) | final median |")
  print("|---|---:|---:|---:|---:|---:|")
  for r in rows:
    to = "never" if r["seconds_to_target"] is None else f"{r['seconds_to_target']:.1f}"
    st = "-" if r["env_steps_to_target"] is None else f"{r['env_steps_to_target']:,}"
    print(f"| {r['agent']} | {to} | {st} | {r['env_steps_per_s']:,.0f} | {r['compile_s']:.1f} "
          f"| {r['final_median']:.0f} |")
  by = {r["agent"]: r for r in rows}
  if "DQN" in by and "PQN" in by and by["DQN"]["seconds_to_target"] and \
      by["PQN"]["seconds_to_target"]:
    ratio = by["DQN"]["seconds_to_target"] / by["PQN"]["seconds_to_target"]
    print(f"\nPQN vs DQN, wall-clock to median {TARGET:.0f}: {ratio:.2f}x "
          f"(target >= 5x: {'MET' if ratio >= 5 else 'NOT MET'})")
  fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
  for name, (steps, secs, evals) in curves.items():
    agent_runs.plot_median_band(axes[0], secs, evals, name)
    agent_runs.plot_median_band(axes[1], steps, evals, name)
  for ax, xlabel in ((axes[0], "seconds (execution, compile excluded)"),
                     (axes[1], "environment steps per seed")):
    ax.axhline(TARGET, color="gray", ls="--", lw=1)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
  axes[0].set_ylabel(f"greedy return (median of {args.seeds} seeds, 25-75%)")
  axes[0].legend(fontsize=8)
  fig.suptitle(f"CartPole-v1: {args.seeds} seeds per agent in one program, "
               f"{agent_runs.machine()['cores']} CPU cores")
  fig.tight_layout()
  agent_runs.OUT.mkdir(parents=True, exist_ok=True)
  fig.savefig(agent_runs.OUT / "cartpole_wallclock.png", dpi=120)
  path = agent_runs.save_json("cartpole_wallclock.json", dict(rows=rows,
                                                              machine=agent_runs.machine()))
  print(f"wrote {agent_runs.OUT / 'cartpole_wallclock.png'} and {path}")


if __name__ == "__main__":
  main()
