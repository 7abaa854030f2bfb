"""The living reward decides the grid world's optimal policy (course notes, "Solving MDPs").

The textbook 4x3 grid world (noise 0.2, discount 1) solved for several living rewards, one per
regime the notes describe: bump into walls rather than risk the -1 exit, take the long safe way
round, take the short risky way past the -1 exit, jump into the -1 exit, and (positive living
reward) never leave. Then 20,000 living rewards in [-2.5, 0) are solved in one
``jax.jit(jax.vmap(...))`` call, the living rewards at which the optimal policy changes are
bracketed by the grid spacing and refined by a vmapped bisection, and compared with the thresholds
Russell & Norvig print beside their fig. 17.2.

Everything runs in float64 (``jax_enable_x64``) so that the thresholds are good to ~1e-9.
Policies are solved with ``policy_iteration`` (exact: linear solves), and compared by their *sets*
of optimal actions (every action within ``TIE_ATOL`` of the best), never by a tie-broken argmax,
and only on non-exit cells (an exit's actions are all worth 0). Value iteration is run over the
same sweep as a cross-check.

Usage: python experiments/living_reward.py [--out experiments/out] [--num 20000]
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

from jaxrl.mdp import ARROWS, gridworld, policy_iteration, value_iteration  # noqa: E402

DTYPE = jnp.float64
NOISE = 0.2
#: Two actions are tied when their Q-values differ by less than this (relative to 1 + |Q|).
TIE_ATOL = 1e-9
PI_TOL = 1e-12
VI_TOL = 1e-10
BISECTION_STEPS = 24  # grid spacing 1.25e-4 / 2**24 ~ 7e-12, below the tie tolerance
#: Russell & Norvig, AIMA 3rd ed., fig. 17.2(b): where the 4x3 world's optimal policy changes.
RN_THRESHOLDS = (-1.6284, -0.4278, -0.0850, -0.0221)
#: (living reward, discount, what the notes say about it) for the regime panels.
REGIMES = (
    (-0.01, 1.0, "avoid the -1 exit at any cost\n(bump into walls)"),
    (-0.04, 1.0, "long safe way round\n(textbook)"),
    (-0.4, 1.0, "short risky way\npast the -1 exit"),
    (-2.0, 1.0, "jump into the -1 exit\n(living hurts more)"),
    (0.1, 1.0, "positive: never leave\n(no finite value at discount 1)"),
    (0.1, 0.99, "positive: never leave\n(discount 0.99)"),
)
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left as (row, col) steps

WORLD = gridworld(noise=NOISE, dtype=DTYPE)  # the layout; the numbers vary below
NON_EXIT = ~WORLD.is_exit


def solve_pi(living_reward, discount=1.0):
  mdp = gridworld(noise=NOISE, living_reward=living_reward, discount=discount, dtype=DTYPE).mdp
  return policy_iteration(mdp, tol=PI_TOL)


def solve_vi(living_reward, discount=1.0):
  mdp = gridworld(noise=NOISE, living_reward=living_reward, discount=discount, dtype=DTYPE).mdp
  return value_iteration(mdp, tol=VI_TOL)


def optimal_actions(q_values):
  """bool ``[S, A]``: every action within TIE_ATOL of the best (exit cells all False)."""
  best = jnp.max(q_values, -1, keepdims=True)
  mask = q_values >= best - TIE_ATOL * (1.0 + jnp.abs(best))
  return mask & jnp.asarray(NON_EXIT)[:, None]


def q_gap(q_values):
  """``[]``: smallest margin between the best and the second-best action over non-exit cells."""
  top2 = jnp.sort(q_values, -1)[:, -2:]
  return jnp.min(jnp.where(jnp.asarray(NON_EXIT), top2[:, 1] - top2[:, 0], jnp.inf))


def summarize(sol):
  return dict(mask=optimal_actions(sol.q_values), gap=q_gap(sol.q_values), policy=sol.policy,
              converged=sol.converged, iterations=sol.iterations,
              v_start=sol.values[WORLD.start])


@jax.jit
def sweep(living_rewards):
  """One compiled call: policy iteration and value iteration for every living reward."""
  pi = jax.vmap(lambda lr: summarize(solve_pi(lr)))(living_rewards)
  vi = jax.vmap(lambda lr: summarize(solve_vi(lr)))(living_rewards)
  return pi, vi


@jax.jit
def bisect(lo, hi, mask_lo):
  """Shrinks every bracket ``[lo, hi]`` (``[N]``) onto the point where the optimal-action set
  stops being ``mask_lo`` (``[N, S, A]``); all brackets at once."""
  masks_of = jax.vmap(lambda lr: optimal_actions(solve_pi(lr).q_values))

  def step(_, bracket):
    lo, hi = bracket
    mid = 0.5 * (lo + hi)
    same = jnp.all(masks_of(mid) == mask_lo, axis=(-2, -1))
    return jnp.where(same, mid, lo), jnp.where(same, hi, mid)

  lo, hi = lax.fori_loop(0, BISECTION_STEPS, step, (lo, hi))
  return lo, hi, masks_of(lo), masks_of(hi)


def policy_text(mask) -> str:
  """The optimal actions as one line of the grid, rows separated by ' | '; ties show all."""
  mask = np.asarray(mask)
  rows, cols = WORLD.shape
  cell_of = {tuple(rc): s for s, rc in enumerate(WORLD.cells)}
  lines = []
  for r in range(rows):
    line = ""
    for c in range(cols):
      s = cell_of.get((r, c))
      if s is None:
        line += " #"
      elif s in WORLD.exits:
        line += " " + ("+" if WORLD.exits[s] > 0 else "-")
      else:
        acts = "".join(ARROWS[a] for a in np.flatnonzero(mask[s]))
        line += " " + (acts if len(acts) == 1 else "{" + acts + "}")
    lines.append(line.strip())
  return " | ".join(lines)


def changed_cells(mask_a, mask_b) -> str:
  out = []
  for s in np.flatnonzero(np.any(np.asarray(mask_a) != np.asarray(mask_b), -1)):
    r, c = WORLD.cells[s]
    a = "".join(ARROWS[i] for i in np.flatnonzero(mask_a[s]))
    b = "".join(ARROWS[i] for i in np.flatnonzero(mask_b[s]))
    out.append(f"({r},{c}) {a}->{b}")
  return ", ".join(out)


def draw_grid(ax, mask, values, title, *, failed: str | None = None):
  """The grid with every optimal action drawn as an arrow (ties: several arrows)."""
  rows, cols = WORLD.shape
  open_cells = {tuple(rc): s for s, rc in enumerate(WORLD.cells)}
  for r in range(rows):
    for c in range(cols):
      s = open_cells.get((r, c))
      if s is None:
        face = "0.35"
      elif s in WORLD.exits:
        face = "#9be39b" if WORLD.exits[s] > 0 else "#f29b9b"
      else:
        face = "white"
      ax.add_patch(plt.Rectangle((c, r), 1, 1, facecolor=face, edgecolor="0.5"))
      if s is None:
        continue
      if s in WORLD.exits:
        ax.text(c + 0.5, r + 0.5, f"{WORLD.exits[s]:+g}", ha="center", va="center", fontsize=13,
                weight="bold")
        continue
      if failed:
        continue
      for a in np.flatnonzero(mask[s]):
        dr, dc = _MOVES[a]
        ax.annotate("", xy=(c + 0.5 + 0.32 * dc, r + 0.45 + 0.32 * dr),
                    xytext=(c + 0.5, r + 0.45),
                    arrowprops=dict(arrowstyle="-|>", lw=2, color="tab:blue", mutation_scale=14))
      ax.text(c + 0.5, r + 0.88, f"{values[s]:.3f}", ha="center", va="center", fontsize=7,
              color="0.3")
  if failed:
    ax.text(cols / 2, rows / 2, failed, ha="center", va="center", fontsize=9, color="red",
            weight="bold", bbox=dict(facecolor="white", edgecolor="red"))
  ax.set_xlim(0, cols)
  ax.set_ylim(rows, 0)
  ax.set_aspect("equal")
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_title(title, fontsize=9)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  parser.add_argument("--num", type=int, default=20_000, help="living rewards in the sweep")
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  t_start = time.perf_counter()
  problems = []

  # ---- 1. One living reward per regime ------------------------------------------------------
  print(f"4x3 grid world, noise {NOISE}; optimal actions by policy iteration (float64); ties "
        f"(|dQ| < {TIE_ATOL:g}) show every tied action in braces; 'min gap' is the smallest "
        "Q margin between\nthe best and the second-best action over the non-exit cells.\n")
  print(f"{'living r':>9} {'disc':>5} {'PI conv':>8} {'PI its':>6} {'VI conv':>8} {'VI its':>7} "
        f"{'V(start)':>9} {'min gap':>9}  optimal actions (rows top to bottom)")
  fig, axes = plt.subplots(2, 3, figsize=(12, 7.4), layout="constrained")
  for ax, (lr, disc, label) in zip(axes.flat, REGIMES):
    pi = jax.jit(solve_pi)(lr, disc)
    vi = jax.jit(solve_vi)(lr, disc)
    s = summarize(pi)
    ok = bool(pi.converged) and bool(vi.converged)
    print(f"{lr:>9g} {disc:>5g} {str(bool(pi.converged)):>8} {int(pi.iterations):>6} "
          f"{str(bool(vi.converged)):>8} {int(vi.iterations):>7} "
          f"{float(s['v_start']) if ok else float('nan'):>9.4f} {float(s['gap']):>9.2e}  "
          f"{policy_text(s['mask']) if ok else '(no optimal policy: values unbounded)'}")
    title = f"living reward {lr:+g}, discount {disc:g}\n{label}"
    if ok:
      draw_grid(ax, np.asarray(s["mask"]), np.asarray(pi.values), title)
    else:
      problems.append(f"living reward {lr:+g}, discount {disc:g}: NOT CONVERGED "
                      f"(PI stopped after {int(pi.iterations)} improvement steps, VI after "
                      f"{int(vi.iterations)} sweeps) -- expected: the values grow without bound")
      draw_grid(ax, None, None, title,
                failed=f"NOT CONVERGED\nVI stopped after {int(vi.iterations)} sweeps,\n"
                       f"PI after {int(pi.iterations)} steps:\nvalues grow without bound")
  fig.suptitle("Optimal policy of the 4x3 grid world (noise 0.2) for several living rewards "
               "(arrows: all optimal actions; small numbers: V*)", fontsize=10)
  path1 = os.path.join(args.out, "living_reward.png")
  fig.savefig(path1, dpi=110)
  plt.close(fig)

  # ---- 2. The sweep: one jit(vmap) call --------------------------------------------------------
  n = args.num
  lrs = -2.5 + 2.5 * jnp.arange(n, dtype=DTYPE) / n  # [-2.5, 0), spacing 2.5 / n
  spacing = 2.5 / n
  t0 = time.perf_counter()
  jax.block_until_ready(sweep(lrs))
  t_compile = time.perf_counter() - t0
  t0 = time.perf_counter()
  pi, vi = jax.block_until_ready(sweep(lrs))
  t_sweep = time.perf_counter() - t0
  pi = jax.tree.map(np.asarray, pi)
  vi = jax.tree.map(np.asarray, vi)
  lrs = np.asarray(lrs)
  print(f"\nSweep: {n} living rewards in [-2.5, 0) (spacing {spacing:.3g}), policy iteration and "
        f"value iteration, one jit(vmap) call: {t_sweep:.2f} s (first call, with compile: "
        f"{t_compile:.2f} s)")
  for name, res in (("policy iteration", pi), ("value iteration", vi)):
    bad = ~res["converged"]
    print(f"  {name}: converged {int((~bad).sum())}/{n}, iterations {res['iterations'].min()}.."
          f"{res['iterations'].max()}")
    if bad.any():
      problems.append(f"sweep: {name} did NOT converge for {int(bad.sum())} living rewards, e.g. "
                      f"{lrs[bad][:5]}")
  vi_diff = np.any(pi["mask"] != vi["mask"], axis=(-2, -1))
  print(f"  value iteration's optimal-action sets differ from policy iteration's at "
        f"{int(vi_diff.sum())} of {n} living rewards"
        + (f" (at {lrs[vi_diff][:6]})" if vi_diff.any() else ""))
  print(f"  smallest Q margin between best and second action over the whole grid: "
        f"{pi['gap'].min():.2e} (at living reward {lrs[np.argmin(pi['gap'])]:.6f}; the grid point "
        f"nearest a threshold)")

  change = np.flatnonzero(np.any(pi["mask"][1:] != pi["mask"][:-1], axis=(-2, -1)))
  lo, hi = lrs[change], lrs[change + 1]
  t0 = time.perf_counter()
  lo_r, hi_r, mask_lo_r, mask_hi_r = jax.block_until_ready(
      bisect(jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(pi["mask"][change])))
  t_bisect = time.perf_counter() - t0
  lo_r, hi_r = np.asarray(lo_r), np.asarray(hi_r)
  thresholds = 0.5 * (lo_r + hi_r)
  print(f"\n{len(change)} changes of the optimal policy in [-2.5, 0); refined by "
        f"{BISECTION_STEPS} vmapped bisection steps ({t_bisect:.2f} s with compile):")
  print(f"{'#':>2} {'grid bracket':>23} {'threshold':>12} {'width':>8}  cells that change "
        "(row, col), row 0 on top: below -> above the threshold")
  for k, i in enumerate(change):
    print(f"{k + 1:>2} [{lo[k]:+.6f}, {hi[k]:+.6f}] {thresholds[k]:+12.7f} "
          f"{hi_r[k] - lo_r[k]:8.1e}  "
          f"{changed_cells(pi['mask'][i], pi['mask'][i + 1])}")
    # Bisection ends with lo showing the lower policy and hi within TIE_ATOL of the tie, where the
    # optimal set may be the union of both policies' actions; anything else means a second change.
    m_lo, m_hi = pi["mask"][i], pi["mask"][i + 1]
    ok_lo = np.array_equal(np.asarray(mask_lo_r[k]), m_lo)
    got_hi = np.asarray(mask_hi_r[k])
    ok_hi = np.all(got_hi >= m_hi) and np.all(got_hi <= (m_lo | m_hi))
    if not (ok_lo and ok_hi):
      problems.append(f"threshold {k + 1}: the bracket holds more than one change (bisection end "
                      f"points do not show the grid's two policies)")
  print("\nThe optimal policy between consecutive thresholds (rows top to bottom, + and - exits):")
  edges = np.concatenate([[lrs[0]], thresholds, [0.0]])
  segments = np.concatenate([[0], change + 1])
  for k, i in enumerate(segments):
    print(f"  {edges[k]:+10.6f} {'<=' if k == 0 else '< '} r < {edges[k + 1]:+10.6f}:  "
          f"{policy_text(pi['mask'][i])}")

  # ---- 3. Compared with Russell & Norvig ---------------------------------------------------
  rn_gap = jax.jit(jax.vmap(lambda lr: q_gap(solve_pi(lr).q_values)))(jnp.asarray(RN_THRESHOLDS))
  our_gap = jax.jit(jax.vmap(lambda lr: q_gap(solve_pi(lr).q_values)))(jnp.asarray(thresholds))
  print("\nCompared with Russell & Norvig (AIMA 3rd ed., fig. 17.2): at a true threshold two "
        "actions tie, so the Q margin there is ~0.")
  print(f"{'R&N':>9} {'nearest ours':>13} {'difference':>11} {'Q margin at R&N value':>22}  "
        "verdict")
  for r, g in zip(RN_THRESHOLDS, np.asarray(rn_gap)):
    j = int(np.argmin(np.abs(thresholds - r)))
    diff = thresholds[j] - r
    verdict = ("agrees to R&N's 4 decimals" if abs(diff) <= 5e-5 else
               "no change of policy at R&N's value (margin far from 0)")
    print(f"{r:>9.4f} {thresholds[j]:>13.7f} {diff:>+11.2e} {g:>22.2e}  {verdict}")
  print(f"(Q margin at our thresholds: at most {np.max(np.asarray(our_gap)):.1e}.) R&N list "
        f"{len(RN_THRESHOLDS)} thresholds; the optimal policy of the {int(NON_EXIT.sum())} "
        f"non-exit cells changes {len(change)} times in [-2.5, 0).")
  unlisted = [t for t in thresholds if np.min(np.abs(np.asarray(RN_THRESHOLDS) - t)) > 5e-5]
  print("Our thresholds that R&N do not list: " + ", ".join(f"{t:.4f}" for t in unlisted))

  # ---- 4. Figure of every policy in the sweep ----------------------------------------------
  count = len(segments)
  ncols = 5
  nrows = int(np.ceil((count + 1) / ncols))
  fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.9 * nrows), layout="constrained")
  axes = axes.flat
  middles = 0.5 * (edges[:-1] + edges[1:])
  mid_sols = jax.jit(jax.vmap(solve_pi))(jnp.asarray(middles))
  for k, i in enumerate(segments):
    draw_grid(axes[k], pi["mask"][i], np.asarray(mid_sols.values[k]),
              f"{edges[k]:+.4f} {'<=' if k == 0 else '<'} r < "
              f"{'0' if edges[k + 1] == 0 else format(edges[k + 1], '+.4f')}\n"
              f"(values at r = {middles[k]:+.4f})")
  ax = axes[count]
  ax.plot(lrs, pi["v_start"], lw=1.5)
  for t in thresholds:
    ax.axvline(t, color="tab:red", lw=0.7, ls="--")
  for r in RN_THRESHOLDS:
    ax.axvline(r, color="k", lw=0.7, ls=":")
  ax.set_xlabel("living reward")

  ax.set_title("V*(start) vs living reward\nred dashed: our thresholds\nblack dotted: R&N's",
               fontsize=8)
  for ax in list(axes)[count + 1:]:
    ax.axis("off")
  fig.suptitle(f"Every optimal policy for living rewards in [-2.5, 0) ({n} solved in one "
               "jit(vmap) call, thresholds bisected)", fontsize=10)
  path2 = os.path.join(args.out, "living_reward_sweep.png")
  fig.savefig(path2, dpi=110)
  plt.close(fig)

  print(f"\nwrote {path1}\nwrote {path2}\ntotal {time.perf_counter() - t_start:.1f} s")
  if problems:
    print("\n" + "!" * 78)
    for p in problems:
      print("!! " + p)
    print("!" * 78)


if __name__ == "__main__":
  main()
