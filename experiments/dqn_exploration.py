"""Greedy data gathering vs epsilon-greedy (course notes, "Exploration Problem").

The notes: if the data-gathering policy is always the greedy policy of the current Q-network, it
has no incentive to visit states it believes worse, and may never find a better reward; DQN
gathers data epsilon-greedily. Four behaviour policies, same seeds, on three problems:

* greedy: ``epsilon_schedule="constant"``, ``epsilon_start=0`` (every action is the argmax of
  the current network, from the first step; the only variety is the random initialisation);
* epsilon 0.1 and 0.5, constant (same ``make_train``, epsilon vmapped);
* epsilon 1 -> 0.05, linear decay (a second ``make_train``: the schedule is static).

Problems: the notes' 1-D chain (21 cells, start next to the +1 exit, discount 0.99: the +10 exit
is optimal; linear Q-network, a buffer holding the whole run), the grid world (discount 0.9, the
configuration of ``dqn_gridworld.py``) and CartPole-v1 (an MLP; not an exploration problem: the
pole falls whatever the agent does, so even greedy data covers the states that matter).
"Optimal" on the tabular problems means the greedy action is optimal in every non-exit cell.

Usage: python experiments/dqn_exploration.py [--out experiments/out] [--seeds 8] [--full]
       (--full: 16 seeds, twice the steps)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dqn_common import band, banner, fmt_seeds, last_mean, load_note, run, seed_keys  # noqa: E402
from dqn_common import stacked_hyperparams  # noqa: E402
from dqn_gridworld import CONFIG as GRID_CONFIG  # noqa: E402
from jaxrl.agents.dqn import DQNConfig, make_train  # noqa: E402
from jaxrl.envs import chain_env, make  # noqa: E402

CONSTANT_EPSILONS = (0.0, 0.1, 0.5)
DECAY = (1.0, 0.05)
VARIANTS = ("greedy (epsilon 0)", "epsilon 0.1", "epsilon 0.5", "epsilon 1 -> 0.05")
COLORS = ("tab:red", "tab:orange", "tab:green", "tab:blue")


def problems_to_run(full: bool):
  scale = 2 if full else 1
  chain_env_, chain_params = chain_env(21, discount=0.99, max_steps_in_episode=100)
  chain_cfg = DQNConfig(
      total_steps=20_000 * scale, num_envs=1, network="linear", buffer_size=50_000,
      batch_size=100, learning_starts=1_000, updates_per_step=1.0, target_update="hard",
      target_update_period=100, double_dqn=False, learning_rate=1e-3, discount=0.99,
      epsilon_decay_steps=10_000, log_every=800, eval_every=800, eval_episodes=1)
  grid_env, grid_params = make("GridWorld-v0", discount=GRID_CONFIG.discount)
  grid_cfg = dataclasses.replace(GRID_CONFIG, total_steps=40_000 * scale,
                                 epsilon_decay_steps=20_000)
  cart_env, cart_params = make("CartPole-v1")
  cart_cfg = DQNConfig(
      total_steps=50_000 * scale, num_envs=10, network="mlp", buffer_size=50_000,
      batch_size=100, learning_starts=1_000, updates_per_step=2.0, target_update="polyak",
      polyak_step=0.01, learning_rate=1e-3, discount=0.99, epsilon_decay_steps=20_000,
      log_every=2_500, eval_every=2_500, eval_episodes=10)
  return {
      "chain (21 cells)": (chain_env_, chain_params, chain_cfg, 10.0),
      "grid world": (grid_env, grid_params, grid_cfg, None),
      "CartPole-v1": (cart_env, cart_params, cart_cfg, 500.0),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--full", action="store_true", help="16 seeds, twice the steps")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  if args.full:
    args.seeds = 16
  os.makedirs(args.out, exist_ok=True)
  t_start = time.perf_counter()
  problems = []
  n = args.seeds
  keys = seed_keys(args.seed, n)
  results = {}
  for name, (env, params, cfg, target) in problems_to_run(args.full).items():
    const = dataclasses.replace(cfg, epsilon_schedule="constant")
    eps = np.repeat(np.asarray(CONSTANT_EPSILONS), n)
    _, m_c, tc1, tr1 = run(make_train(const, env, params), jnp.concatenate([keys] * len(CONSTANT_EPSILONS)),
                           stacked_hyperparams(const, len(eps), epsilon_start=eps))
    decay = dataclasses.replace(cfg, epsilon_schedule="linear", epsilon_start=DECAY[0],
                                epsilon_end=DECAY[1])
    _, m_d, tc2, tr2 = run(make_train(decay, env, params), keys)
    per = [{k: v[i * n:(i + 1) * n] for k, v in m_c.items()} for i in range(len(CONSTANT_EPSILONS))]
    per.append(m_d)
    results[name] = (per, target)
    print(f"\n{name}: {cfg.total_steps:,} env steps, {n} seeds (compile {tc1 + tc2:.1f} s, run "
          f"{tr1 + tr2:.1f} s); epsilon 1 -> 0.05 decays over {cfg.epsilon_decay_steps:,.0f} steps")
    tabular = "policy_match" in m_d
    head = f"{'behaviour':<20} {'final greedy return':>20} {'train return, last 20%':>23}"
    if tabular:
      head += f" {'optimal policy':>15} {'policy match':>13}"
    print(head)
    for label, m in zip(VARIANTS, per):
      ev = m["eval_return"][:, -1]
      tr = last_mean(m["episode_return"])
      line = f"{label:<20} {np.mean(ev):>12.2f} +- {np.std(ev):<5.2f} {np.nanmean(tr):>23.2f}"
      if tabular:
        pm = m["policy_match"][:, -1]
        line += f" {int(np.sum(pm == 1)):>12}/{n} {np.mean(pm):>13.2f}"
      print(line)
      print(f"{'':<4}final greedy return per seed {fmt_seeds(ev, '{:.2f}')}")
    if tabular and name.startswith("grid"):
      print("(identical greedy returns across behaviours mean identical greedy policies: the "
            "evaluation keys depend on the seed only)")
    # Did greedy fail where the decayed epsilon succeeded?
    greedy, decayed = per[0], per[-1]
    if tabular:
      g_ok = np.mean(greedy["policy_match"][:, -1] == 1)
      d_ok = np.mean(decayed["policy_match"][:, -1] == 1)
      if name.startswith("chain") or name.startswith("grid"):
        if not g_ok < d_ok:
          problems.append(f"{name}: greedy data gathering did NOT do worse than epsilon-greedy "
                          f"(optimal policy in {g_ok:.2f} vs {d_ok:.2f} of seeds)")
        if d_ok < 0.75:
          problems.append(f"{name}: epsilon 1 -> 0.05 found the optimal policy in only "
                          f"{d_ok:.2f} of the seeds")
    else:
      g, d = np.mean(greedy["eval_return"][:, -1]), np.mean(decayed["eval_return"][:, -1])
      print(f"CartPole: greedy {g:.0f} vs epsilon 1 -> 0.05 {d:.0f} (final greedy return). "
            + ("Greedy data does not hurt here: episodes end by the pole falling whatever the "
               "agent does, and random start states vary the data, so a greedy agent still sees "
               "the states it gets wrong." if g >= 0.8 * d else
               "Greedy data gathering is worse here too."))

  # ---- Figure -----------------------------------------------------------------------------
  fig, axes = plt.subplots(2, 3, figsize=(17, 8.5), layout="constrained")
  for col, (name, (per, target)) in enumerate(results.items()):
    for label, m, color in zip(VARIANTS, per, COLORS):
      x = m["env_steps"][0] / 1e3
      if name.startswith("chain"):  # returns are 10, 1 or 0: show how many seeds take the +10
        axes[0, col].plot(x, np.mean(m["eval_return"] >= target, axis=0), color=color, label=label)
      else:
        band(axes[0, col], x, m["eval_return"], label, color, alpha=0.12)
      if "policy_match" in m:
        band(axes[1, col], x, m["policy_match"], label, color, alpha=0.12)
      else:
        band(axes[1, col], x, m["episode_return"], label, color, alpha=0.12)
    if name.startswith("chain"):
      axes[0, col].set_title(f"{name}: seeds whose greedy policy takes the +10 exit", fontsize=10)
      axes[0, col].set_ylabel("fraction of seeds")
      axes[0, col].set_ylim(-0.03, 1.03)
    else:
      axes[0, col].set_title(f"{name}: greedy evaluation return", fontsize=10)
      axes[0, col].set_ylabel("return of the greedy policy")
    if target is not None and not name.startswith("chain"):
      axes[0, col].axhline(target, color="k", lw=0.8, ls=":")
    if "policy_match" in per[0]:
      axes[1, col].set_title(f"{name}: fraction of cells whose greedy action is optimal",
                             fontsize=10)
      axes[1, col].set_ylim(0, 1.03)
    else:
      axes[1, col].set_title(f"{name}: return of the data-gathering episodes", fontsize=10)
    for row in range(2):
      axes[row, col].set_xlabel("env steps (thousands)")
      axes[row, col].grid(alpha=0.3)
  axes[0, 0].legend(fontsize=8, loc="center right")
  fig.suptitle(f"Exploration: greedy vs epsilon-greedy data gathering ({n} seeds; line: mean, "
               "band: min-max)", fontsize=12)
  path = os.path.join(args.out, "dqn_exploration.png")
  fig.savefig(path, dpi=100)
  plt.close(fig)
  print(f"\nwrote {path}\ntotal {time.perf_counter() - t_start:.1f} s ({load_note()})")
  banner(problems)


if __name__ == "__main__":
  main()
