"""SAC and TD3 beside jaxrl PPO on a Brax task, the same wall-clock budget each, one figure.

Each agent trains ``--seeds`` seeds in one compiled program, one logging interval per call
(:func:`agent_runs.timed_run` with ``budget``: its measured clock, compile excluded), until
its execution time passes ``--budget`` seconds; the figure is the median greedy return over the
seeds (25-75% band) against seconds, and against environment steps per seed. Task:
``brax:inverted_pendulum`` (mjx backend, episodes of 1,000 steps, +1 per step upright: the
maximum is 1,000).

Settings:
* PPO: Brax's inverted_pendulum recipe at CPU size (``benchmarks/brax_ppo_peer.Setting``: 32
  envs, 1,024 steps per round, observation normalisation, reward scaling 10, tanh-squashed
  Gaussian, 64x64), the setting ``experiments/ppo_brax.py`` compares with Brax's own PPO.
* SAC and TD3: 4 envs, one update per iteration (4 env steps), 64x64 ReLU, Adam 1e-3, batch
  256, 1,000 warm-up steps, buffer of the whole run, discount 0.99, tau 0.005.

    .venv/bin/python experiments/sac_td3_brax.py [--budget 120] [--seeds 4] [--agents sac,td3,ppo]
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import numpy as np

import agent_runs

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
import brax_ppo_peer as peer  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.agents import ppo, sac, td3  # noqa: E402

TASK = "inverted_pendulum"
OFF_POLICY = dict(num_envs=4, hidden_sizes=(64, 64), batch_size=256, learning_starts=1_000,
                  updates_per_step=1.0, learning_rate=1e-3, actor_learning_rate=1e-3,
                  discount=0.99, tau=0.005, eval_episodes=4, eval_max_steps=1_000)


def configs(max_steps: int) -> dict:
  setting = peer.Setting(env=TASK, num_timesteps=max_steps)
  every = 8 * setting.steps_per_update
  total = -(-max_steps // every) * every
  off = dict(OFF_POLICY, total_steps=total, buffer_size=total, log_every=every // 4,
             eval_every=every // 4)
  return {
      "ppo": (ppo, peer.jaxrl_config(peer.Setting(env=TASK, num_timesteps=total),
                                     eval_every=every)),
      "sac": (sac, sac.SACConfig(**off, alpha_learning_rate=1e-3)),
      "td3": (td3, td3.TD3Config(**off)),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--budget", type=float, default=120.0)
  parser.add_argument("--seeds", type=int, default=4)
  parser.add_argument("--max-steps", type=int, default=2_097_152)
  parser.add_argument("--agents", default="sac,td3,ppo")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  env, params = envs.make(f"brax:{TASK}", **peer.env_kwargs(peer.Setting(env=TASK)))
  keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
  table, out = {}, {}
  fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
  for name in args.agents.split(","):
    module, config = configs(args.max_steps)[name]
    trainer = module.make_train(config, env, params)
    res = agent_runs.timed_run(trainer, keys, budget=args.budget)
    m, secs = res["metrics"], res["seconds"]
    steps = m["env_steps"][0]
    evals = m["eval_return"]
    has = ~np.all(np.isnan(evals), axis=0)           # the intervals that evaluated
    med = agent_runs.median_over_seeds(evals[:, has])
    final = evals[:, has][:, -1]
    table[name] = (float(np.median(final)), final, int(steps[-1]), float(secs[-1]),
                   res["compile_s"])
    print(f"{name}: {int(steps[-1]):,} env steps per seed in {secs[-1]:.1f} s (compile "
          f"{res['compile_s']:.1f} s); median greedy return at the last evaluation "
          f"{np.median(final):.1f} (per seed {np.round(final, 1).tolist()})", flush=True)
    for j in np.nonzero(has)[0]:
      print(f"  {int(steps[j]):9,d} steps  {secs[j]:7.1f} s  "
            f"median {np.nanmedian(evals[:, j]):7.1f}")
    agent_runs.plot_median_band(axes[0], secs[has], evals[:, has], name.upper())
    agent_runs.plot_median_band(axes[1], steps[has], evals[:, has], name.upper())
    out[name] = dict(env_steps=steps[has], seconds=secs[has], median_eval=med,
                     final_eval_per_seed=final, compile_s=res["compile_s"],
                     config={f: getattr(config, f) for f in config.__dataclass_fields__})
  axes[0].set_xlabel(f"seconds (execution, compile excluded; budget {args.budget:g} s)")
  axes[1].set_xlabel("environment steps per seed")
  axes[1].set_xscale("log")
  axes[0].set_ylabel("greedy return (median over seeds, 25-75%)")
  for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f"brax:{TASK}, {args.seeds} seeds per agent in one program, "
               f"{args.budget:g} s each")
  fig.tight_layout()
  agent_runs.OUT.mkdir(parents=True, exist_ok=True)
  fig.savefig(agent_runs.OUT / "sac_td3_brax.png", dpi=120)
  path = agent_runs.save_json("sac_td3_brax.json", dict(task=TASK, seeds=args.seeds,
                                                        budget_s=args.budget, agents=out,
                                                        machine=agent_runs.machine()))
  print("| agent | env steps / seed in the budget | median final greedy return (per seed) |")
  print("|---|---|---|")
  for name, (median, final, steps, secs, _) in table.items():
    print(f"| {name.upper()} | {steps:,} ({secs:.0f} s) | **{median:.1f}** "
          f"({', '.join(f'{v:.1f}' for v in final)}) |")
  print(f"wrote {agent_runs.OUT / 'sac_td3_brax.png'} and {path}")


if __name__ == "__main__":
  main()
