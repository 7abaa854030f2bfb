"""Discounting in the notes' 1-D chain: where each cell's optimal action flips (course notes,
"Discounting Future Rewards").

``jaxrl.mdp.chain``: a row of cells, the far exit (reward 10) on the left at cell 0, the near exit
(reward 1) on the right at cell n-1, deterministic moves, no living reward. From interior cell i,
walking left is worth ``far * g^(i-1)`` and walking right ``near * g^(n-2-i)``, so the cell turns
from right to left as the discount g rises through

    g*(i) = (near / far) ** (1 / (2i - n + 1))      (= 10^(-1/(2i-n+1)) for the defaults),

defined for ``2i - n + 1 > 0`` (cells nearer the right exit); the other cells walk left at every
discount in (0, 1]. The script draws the optimal actions at discount 1 and 0.1, sweeps 10,000
discounts in (0, 1] in one ``jax.jit(jax.vmap(...))`` call, refines each cell's flip by a vmapped
bisection and prints it beside the formula. float64 throughout (``jax_enable_x64``); optimal
actions from ``policy_iteration`` (linear solves, exact), cross-checked by value iteration.

Usage: python experiments/discount.py [--out experiments/out] [--num-cells 11] [--num 10000]
"""

from __future__ import annotations

import argparse
import os
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from jaxrl.mdp import chain, policy_iteration, value_iteration  # noqa: E402

DTYPE = jnp.float64
FAR, NEAR = 10.0, 1.0
#: Two actions are tied when their Q-values differ by less than this, relative to the larger.
TIE_RTOL = 1e-9
BISECTION_STEPS = 40
LEFT, RIGHT = 0, 1


def solve_pi(discount, num_cells):
  return policy_iteration(chain(num_cells, far_reward=FAR, near_reward=NEAR, discount=discount,
                                dtype=DTYPE), tol=1e-14)


def solve_vi(discount, num_cells):
  return value_iteration(chain(num_cells, far_reward=FAR, near_reward=NEAR, discount=discount,
                               dtype=DTYPE), tol=1e-12)


def actions(q_values):
  """int ``[S]``: 0 left, 1 right, 2 tie (the two Q-values equal to TIE_RTOL), -1 at the exits."""
  ql, qr = q_values[:, LEFT], q_values[:, RIGHT]
  scale = jnp.maximum(jnp.abs(ql), jnp.abs(qr))
  tie = jnp.abs(ql - qr) <= TIE_RTOL * scale
  act = jnp.where(tie, 2, jnp.where(qr > ql, RIGHT, LEFT))
  return act.at[0].set(-1).at[-1].set(-1)


def analytic_flip(num_cells):
  """``g*(i)`` for every cell (NaN where the cell walks left at every discount)."""
  i = np.arange(num_cells, dtype=float)
  power = 2 * i - num_cells + 1
  with np.errstate(divide="ignore"):
    g = (NEAR / FAR) ** (1.0 / power)
  g[(power <= 0) | (i == 0) | (i == num_cells - 1)] = np.nan
  return g


def draw_chain(ax, act, values, title):
  n = len(act)
  for c in range(n):
    face = "#9be39b" if c in (0, n - 1) else "white"
    ax.add_patch(plt.Rectangle((c, 0), 1, 1, facecolor=face, edgecolor="0.5"))
    if c == 0 or c == n - 1:
      ax.text(c + 0.5, 0.5, f"+{FAR:g}" if c == 0 else f"+{NEAR:g}", ha="center", va="center",
              fontsize=13, weight="bold")
      continue
    dirs = {LEFT: [-1], RIGHT: [1], 2: [-1, 1]}[int(act[c])]
    for d in dirs:
      ax.annotate("", xy=(c + 0.5 + 0.33 * d, 0.45), xytext=(c + 0.5, 0.45),
                  arrowprops=dict(arrowstyle="-|>", lw=2, mutation_scale=16,
                                  color="tab:blue" if d < 0 else "tab:orange"))
    ax.text(c + 0.5, 0.85, f"{values[c]:.3g}", ha="center", va="center", fontsize=7, color="0.3")
    ax.text(c + 0.5, -0.2, f"{c}", ha="center", va="center", fontsize=8)
  ax.set_xlim(0, n)
  ax.set_ylim(-0.35, 1)
  ax.set_aspect("equal")
  ax.axis("off")
  ax.set_title(title, fontsize=10)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  parser.add_argument("--num-cells", type=int, default=11)
  parser.add_argument("--num", type=int, default=10_000, help="discounts in the sweep")
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  n = args.num_cells
  t_start = time.perf_counter()
  problems = []

  # ---- Discount 1 vs 0.1 -------------------------------------------------------------------
  print(f"Chain of {n} cells: exit +{FAR:g} at cell 0 (left), exit +{NEAR:g} at cell {n - 1} "
        "(right), deterministic moves.\n")
  shown = (1.0, 0.9, 0.1)
  sols = jax.jit(jax.vmap(lambda g: solve_pi(g, n)))(jnp.asarray(shown, DTYPE))
  fig = plt.figure(figsize=(12, 8.4), layout="constrained")
  sub = fig.subfigures(2, 1, height_ratios=[1.3, 1.1])
  top = sub[0].subplots(len(shown), 1)
  for k, g in enumerate(shown):
    act = np.asarray(actions(sols.q_values[k]))
    ok = bool(sols.converged[k])
    if not ok:
      problems.append(f"discount {g}: policy iteration did NOT converge")
    arrows = "".join({LEFT: "<", RIGHT: ">", 2: "=", -1: "|"}[int(a)] for a in act)
    lefts = [c for c in range(1, n - 1) if act[c] == LEFT]
    rights = [c for c in range(1, n - 1) if act[c] == RIGHT]
    ties = [c for c in range(1, n - 1) if act[c] == 2]
    print(f"discount {g:<4g}: {arrows}   (converged {ok}, {int(sols.iterations[k])} improvement "
          f"steps) left: cells {lefts or '-'}; right: {rights or '-'}; tied: {ties or '-'}")
    note = " (both arrows: tied)" if (act == 2).any() else ""
    draw_chain(top[k], act, np.asarray(sols.values[k]),
               f"discount {g:g}: optimal actions (blue: left to +{FAR:g}, orange: right to "
               f"+{NEAR:g}; small numbers: V*){note}")
  print("At discount 1 (no living reward) a step away from the +10 exit costs nothing, so every "
        "cell that can still\nreach it is indifferent (value 10 either way); a discount just "
        "below 1 (0.9 above) breaks the tie\ntowards the +10 exit.")
  print("(The notes' sentence under 'Discounting Future Rewards' states the opposite -- low "
        "discount goes for the 10, high\n discount takes the 1 -- the computation above gives the "
        "usual reading: patience walks to the far, larger exit.)")

  # ---- Sweep of discounts in one call ------------------------------------------------------
  num = args.num
  gs = jnp.arange(1, num, dtype=DTYPE) / num  # (0, 1): discount 1 ties, see above

  @jax.jit
  def sweep(gs):
    def one(g):
      pi, vi = solve_pi(g, n), solve_vi(g, n)
      return actions(pi.q_values), pi.converged, actions(vi.q_values), vi.converged, vi.iterations
    return jax.vmap(one)(gs)

  t0 = time.perf_counter()
  jax.block_until_ready(sweep(gs))
  t_compile = time.perf_counter() - t0
  t0 = time.perf_counter()
  act, ok, vi_act, vi_ok, vi_its = map(np.asarray, jax.block_until_ready(sweep(gs)))
  t_sweep = time.perf_counter() - t0
  gs = np.asarray(gs)
  print(f"\nSweep: {num - 1} discounts in (0, 1) (spacing {1 / num:g}), policy and value "
        f"iteration in one jit(vmap) call: {t_sweep:.3f} s (first call, with compile: "
        f"{t_compile:.2f} s)")
  print(f"  converged: policy iteration {int(ok.sum())}/{len(gs)}, value iteration "
        f"{int(vi_ok.sum())}/{len(gs)} (at most {vi_its.max()} sweeps); value iteration's actions "
        f"differ at {int(np.any(act != vi_act, -1).sum())} discounts; ties on the grid: "
        f"{int((act == 2).sum())}")
  if not ok.all():
    problems.append(f"sweep: policy iteration did NOT converge at {int((~ok).sum())} discounts: "
                    f"{gs[~ok][:5]}")
  if not vi_ok.all():
    problems.append(f"sweep: value iteration did NOT converge at {int((~vi_ok).sum())} discounts")

  # Each interior cell's changes along the grid.
  cells, lo, hi, act_lo = [], [], [], []
  for c in range(1, n - 1):
    strict = np.flatnonzero(act[:, c] != 2)  # a grid point exactly at a flip ties: skip it
    change = np.flatnonzero(act[strict[1:], c] != act[strict[:-1], c])
    if len(change) > 1:
      problems.append(f"cell {c}: the action changes {len(change)} times along the sweep at "
                      f"{gs[strict[change]]} (expected at most once)")
    for j in change[:1]:
      cells.append(c)
      lo.append(gs[strict[j]])
      hi.append(gs[strict[j + 1]])
      act_lo.append(act[strict[j], c])

  @jax.jit
  def bisect(cells, lo, hi, act_lo):
    def right_of(g, c):  # strict comparison: converges onto the crossing itself
      q = solve_pi(g, n).q_values[c]
      return q[RIGHT] > q[LEFT]

    def step(_, bracket):
      lo, hi = bracket
      mid = 0.5 * (lo + hi)
      same = jax.vmap(right_of)(mid, cells) == (act_lo == RIGHT)
      return jnp.where(same, mid, lo), jnp.where(same, hi, mid)

    return lax.fori_loop(0, BISECTION_STEPS, step, (lo, hi))

  g_star = analytic_flip(n)
  found = {}
  if cells:
    t0 = time.perf_counter()
    lo_r, hi_r = map(np.asarray, jax.block_until_ready(
        bisect(jnp.asarray(cells), jnp.asarray(lo, DTYPE), jnp.asarray(hi, DTYPE),
               jnp.asarray(act_lo))))
    t_bisect = time.perf_counter() - t0
    found = {c: (l, h, 0.5 * (a + b), a0) for c, l, h, a, b, a0 in
             zip(cells, lo, hi, lo_r, hi_r, act_lo)}
    print(f"  bisection: {BISECTION_STEPS} vmapped steps for {len(cells)} cells, "
          f"{t_bisect:.2f} s with compile")

  print(f"\n{'cell':>4} {'2i-n+1':>6} {'low g':>6} {'high g':>6} {'grid bracket':>19} "
        f"{'bisected g*':>15} {'analytic g*':>15} {'difference':>11}")
  for c in range(1, n - 1):
    power = 2 * c - n + 1
    below, above = act[0, c], act[-1, c]
    name = {LEFT: "left", RIGHT: "right", 2: "tie"}
    if c in found:
      l, h, g, a0 = found[c]
      diff = g - g_star[c]
      print(f"{c:>4} {power:>6} {name[int(a0)]:>6} {name[int(act[-1, c])]:>6} [{l:.4f}, {h:.4f}]"
            f" {g:>15.12f} {g_star[c]:>15.12f} {diff:>+11.1e}")
      if not abs(diff) < 1e-9:
        problems.append(f"cell {c}: bisected flip {g:.10f} disagrees with the analytic "
                        f"{g_star[c]:.10f}")
    else:
      analytic = "none" if np.isnan(g_star[c]) else f"{g_star[c]:.12f}"
      print(f"{c:>4} {power:>6} {name[int(below)]:>6} {name[int(above)]:>6} {'no change':>19} "
            f"{'-':>15} {analytic:>15}")
      if not np.isnan(g_star[c]):
        problems.append(f"cell {c}: analytic flip {g_star[c]:.6f} but the sweep found no change")

  # ---- Figure: action over (discount, cell) -------------------------------------------------
  ax = sub[1].subplots()
  img = np.where(act[:, 1:-1] == RIGHT, 1.0, np.where(act[:, 1:-1] == LEFT, 0.0, 0.5)).T
  cmap = matplotlib.colors.ListedColormap(["#bcd6ee", "0.8", "#ffd2a6"])  # left, tie, right
  ax.imshow(img, aspect="auto", origin="lower", interpolation="nearest", cmap=cmap, vmin=0, vmax=1,
      extent=(gs[0] - 0.5 / num, gs[-1] + 0.5 / num, 0.5, n - 1.5))
  interior = np.arange(1, n - 1)
  ax.plot(g_star[1:-1], interior, "ko", ms=9, mfc="none", label="analytic g* = 10^(-1/(2i-n+1))")
  if found:
    ax.plot([found[c][2] for c in found], list(found), "kx", ms=7,
            label="bisected flip (jit(vmap) sweep + bisection)")
  for g in shown:
    ax.axvline(g, color="k", lw=0.6, ls=":")
    ax.text(g, n - 1.45, f" {g:g}", fontsize=8, va="bottom", ha="right" if g == 1 else "left")
  ax.set_xlabel("discount")
  ax.set_ylabel("cell i (0 = far exit +10)")
  ax.set_yticks(interior)
  ax.set_xlim(0, 1)
  ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
  ax.set_title("Optimal action of each interior cell vs discount (blue: left to +10, orange: right "
               "to +1)", fontsize=10)
  path = os.path.join(args.out, "discount.png")
  fig.savefig(path, dpi=110)
  plt.close(fig)
  print(f"\nwrote {path}\ntotal {time.perf_counter() - t_start:.1f} s")
  if problems:
    print("\n" + "!" * 78)
    for p in problems:
      print("!! " + p)
    print("!" * 78)


if __name__ == "__main__":
  main()
