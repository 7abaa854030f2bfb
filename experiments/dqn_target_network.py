"""A target network stabilises DQN on CartPole-v1 (course notes, "Deep Q-Learning").

The notes regress ``Q_new(s, a)`` onto ``r + discount * max_a' Q_old(s', a')`` and say that with a
single network (``Q_old = Q_new``) "the loss minimization is unstable"; DQN therefore freezes a copy
``Q_old`` and refreshes it at intervals. Variants, all the notes' plain DQN (max over ``Q_old``, no
double DQN, squared error), same seeds:

* single network: ``target_update="hard"`` with ``target_update_period=1``: the target is
  re-copied after every update, so each loss uses ``Q_old = Q_new`` (the gradient still flows only
  through ``Q_new(s, a)``, the semi-gradient). ``polyak_step=1`` would be the same thing;
* hard copy every 100 and every 1000 updates (``target_update_period`` is a hyperparameter: one
  vmapped call over periods x seeds);
* Polyak averaging ``Q_old <- (1 - tau) Q_old + tau Q_new`` with ``tau = 0.01`` (a separate
  ``make_train``: the kind of update is static).

Divergence is read off ``q_mean`` (mean Q of the sampled minibatches): CartPole pays 1 per step and
stops after 500, so no true value exceeds ``sum_t 0.99^t < 1 / (1 - 0.99) = 100``; Q-values far
beyond that are the estimate feeding on itself. ``loss_finite`` says whether any loss overflowed.

Usage: python experiments/dqn_target_network.py [--out experiments/out] [--seeds 5] [--steps 100000]
       [--full]   (300k steps, 8 seeds)
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
from jaxrl.agents.dqn import DQNConfig, make_train  # noqa: E402
from jaxrl.envs import make  # noqa: E402

DISCOUNT = 0.99
Q_BOUND = 1.0 / (1.0 - DISCOUNT)  # no CartPole return, discounted, reaches this
HARD_PERIODS = (1, 100, 1000)
POLYAK_STEP = 0.01


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  parser.add_argument("--seeds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=100_000)
  parser.add_argument("--full", action="store_true", help="300k steps, 8 seeds")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  if args.full:
    args.steps, args.seeds = 300_000, 8
  os.makedirs(args.out, exist_ok=True)
  t_start = time.perf_counter()
  problems = []

  env, env_params = make("CartPole-v1")
  base = DQNConfig(
      total_steps=args.steps, num_envs=10, network="mlp", hidden_sizes=(64, 64),
      buffer_size=50_000, batch_size=100, learning_starts=1_000, updates_per_step=5.0,
      double_dqn=False, loss="mse", max_grad_norm=10.0, epsilon_schedule="linear",
      epsilon_start=1.0, epsilon_end=0.05, epsilon_decay_steps=20_000, learning_rate=1e-3,
      discount=DISCOUNT, log_every=5_000, eval_every=5_000, eval_episodes=10)
  n = args.seeds
  keys = seed_keys(args.seed, n)
  print(f"CartPole-v1, plain DQN (max over Q_old, MSE, grad-norm clip {base.max_grad_norm}), "
        f"{args.steps} env steps, {n} seeds, {base.num_envs} envs, {base.updates_per_step:g} "
        f"updates per {base.num_envs} env steps, lr {base.learning_rate:g}, discount {DISCOUNT}\n")

  results = {}  # label -> metrics [seeds, T]
  # Hard copies: periods x seeds in one call.
  hard = dataclasses.replace(base, target_update="hard")
  train = make_train(hard, env, env_params)
  periods = np.repeat(np.asarray(HARD_PERIODS), n)
  hp = stacked_hyperparams(hard, len(periods), target_update_period=periods)
  _, m, t_c, t_r = run(train, jnp.concatenate([keys] * len(HARD_PERIODS)), hp)
  print(f"hard updates, periods {HARD_PERIODS} x {n} seeds: one jit(vmap) call, compile "
        f"{t_c:.1f} s, run {t_r:.1f} s ({len(periods) * args.steps / t_r:,.0f} env steps/s)")
  for i, p in enumerate(HARD_PERIODS):
    label = "single network (copy every update)" if p == 1 else f"hard copy every {p} updates"
    results[label] = {k: v[i * n:(i + 1) * n] for k, v in m.items()}
  # Polyak: a second make_train (static kind).
  polyak = dataclasses.replace(base, target_update="polyak", polyak_step=POLYAK_STEP)
  _, m, t_c, t_r = run(make_train(polyak, env, env_params), keys)
  print(f"Polyak tau={POLYAK_STEP} x {n} seeds: compile {t_c:.1f} s, run {t_r:.1f} s")
  results[f"Polyak, tau = {POLYAK_STEP}"] = m

  # ---- Table ------------------------------------------------------------------------------
  print(f"\n{'variant':<36} {'eval return, last 20%':>22} {'solved':>7} {'peak q_mean':>12} "
        f"{'final q_mean':>13} {'> bound':>8} {'peak loss':>10} {'finite':>7}")
  summary = {}
  for label, m in results.items():
    ev = last_mean(m["eval_return"])
    final_eval = m["eval_return"][:, -1]
    peak_q = np.nanmax(m["q_mean"], axis=1)
    final_q = m["q_mean"][:, -1]
    over = int(np.sum(peak_q > Q_BOUND))
    peak_loss = np.nanmax(m["loss"], axis=1)
    finite = int(np.sum(m["loss_finite"][:, -1]))
    solved = int(np.sum(final_eval >= 500))
    summary[label] = (ev, peak_q, over)
    print(f"{label:<36} {np.mean(ev):>10.1f} +- {np.std(ev):<8.1f} {solved:>4}/{n} "
          f"{np.median(peak_q):>12.3g} {np.median(final_q):>13.3g} {over:>5}/{n} "
          f"{np.median(peak_loss):>10.3g} {finite:>4}/{n}")
    print(f"{'':<4}per seed: eval {fmt_seeds(ev)}  peak q_mean {fmt_seeds(peak_q, '{:.3g}')}")
  print(f"(eval: greedy return averaged over the last 20% of the logging points; solved: final "
        f"greedy return 500; q_mean columns: medians over seeds; '> bound': seeds whose q_mean "
        f"ever exceeded 1/(1-discount) = {Q_BOUND:.0f}, which no true value reaches)")

  single = "single network (copy every update)"
  best_label = max((k for k in summary if k != single), key=lambda k: np.mean(summary[k][0]))
  ev_single, q_single, _ = summary[single]
  ev_best, q_best, _ = summary[best_label]
  print(f"\nSingle network vs the best target network ({best_label}): eval "
        f"{np.mean(ev_single):.0f} vs {np.mean(ev_best):.0f}; median peak q_mean "
        f"{np.median(q_single):.3g} vs {np.median(q_best):.3g}.")
  if not np.median(q_single) > 3 * Q_BOUND:
    problems.append(f"the single network did NOT blow up here (median peak q_mean "
                    f"{np.median(q_single):.3g} <= 3 x {Q_BOUND:.0f}); the notes' instability claim "
                    "is not reproduced at these settings")
  if not np.mean(ev_best) > np.mean(ev_single):
    problems.append("no target-network variant beat the single network on eval return")
  for label, m in results.items():
    if not m["loss_finite"][:, -1].all():
      problems.append(f"{label}: a loss became non-finite (NaN/inf) in "
                      f"{int(np.sum(~m['loss_finite'][:, -1]))} seeds")
  if np.mean(ev_best) < 200:
    problems.append(f"even the best variant did NOT learn CartPole well (eval {np.mean(ev_best):.0f})")

  # ---- Figure -----------------------------------------------------------------------------
  fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
  colors = ["tab:red", "tab:blue", "tab:purple", "tab:green"]
  for (label, m), color in zip(results.items(), colors):
    x = m["env_steps"][0] / 1e3
    band(axes[0], x, m["eval_return"], label, color, alpha=0.12)
    band(axes[1], x, np.abs(m["q_mean"]), label, color)
    band(axes[2], x, m["loss"], label, color)
  axes[0].set_ylabel("greedy eval return (10 episodes)")
  axes[0].set_ylim(0, 520)
  axes[0].legend(fontsize=8, loc="upper left")
  axes[1].axhline(Q_BOUND, color="k", ls="--", lw=1)
  axes[1].text(0, Q_BOUND * 1.15, "1/(1-discount): no true Q is larger", fontsize=8)
  axes[1].set_yscale("log")
  axes[1].set_ylabel("|mean Q| of the sampled minibatches (log)")
  axes[2].set_yscale("log")
  axes[2].set_ylabel("TD loss (MSE, log)")
  for ax in axes:
    ax.set_xlabel("env steps (thousands)")
    ax.grid(alpha=0.3)
  fig.suptitle(f"CartPole-v1, plain DQN: target network vs a single network ({n} seeds; line: "
               "mean, band: min-max over seeds)", fontsize=11)
  path = os.path.join(args.out, "dqn_target_network.png")
  fig.savefig(path, dpi=110)
  plt.close(fig)
  print(f"\nwrote {path}\ntotal {time.perf_counter() - t_start:.1f} s ({load_note()})")
  banner(problems)


if __name__ == "__main__":
  main()
