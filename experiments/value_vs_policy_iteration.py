"""Value iteration vs policy iteration (and Q-iteration): sweeps, wall time, and how early the
greedy policy settles (course notes, "Policy iteration": "pi_i often converges to pi* much sooner
than V_pi_i to V_pi*").

Problems: the 4x3 grid world (noise 0.2, living reward -0.04) at discount 1 and 0.99, a 30x30 grid
world (``gridworld_layout(30, 30)``: +1 top right, -1 below it) at discount 1 and 0.99, and a dense
random MDP (``random_mdp``, S=200, A=4, discount 0.99). Solvers: value iteration, Q-iteration,
policy iteration with exact (LU) and with iterative (matrix-free) evaluation; the 30x30 grid is run
with dense and with sparse transitions. Every solver is ``jax.jit``-compiled ahead of time once
(compile time reported separately) and timed as the median of several runs with
``block_until_ready``. Then value iteration is replayed sweep by sweep (a ``lax.scan`` of
``bellman_optimality``) recording ``||V_k - V*||_inf`` and whether ``greedy(V_k)`` is optimal,
against a reference ``V*`` good to ~1e-12 (value iteration to 1e-12, then exact policy iteration
from its greedy policy).

float64 throughout (``jax_enable_x64``) so the error curves reach well below the tolerance; the
solvers' tolerance is ``1e-6`` (value/Q-iteration stop once their contraction bound guarantees
``||V - V*||_inf <= tol`` when discount < 1; at discount 1 they stop once a sweep changes the values
by at most ``tol``, which bounds nothing).

Usage: python experiments/value_vs_policy_iteration.py [--out experiments/out] [--repeats 7]
"""

from __future__ import annotations

import argparse
import functools
import os
import time

# Policy iteration's LU solves run in OpenBLAS (through LAPACK). Its worker threads spin while
# waiting, and on a small shared machine that makes the timings erratic (a 900x900 solve took
# 30-250 ms with threads vs a steady 20 ms without, on 2 busy cores). One thread unless the caller
# sets OPENBLAS_NUM_THREADS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from jaxrl.mdp import (bellman_optimality, expected_rewards, greedy_policy, gridworld,  # noqa: E402
                       gridworld_layout, policy_iteration, q_from_values, q_iteration, random_mdp,
                       value_iteration)

DTYPE = jnp.float64
TOL = 1e-6
TIE_ATOL = 1e-9
TIME_BUDGET_S = 2.0  # per solver and problem: fewer timed runs for slow solvers
VI = functools.partial(value_iteration, tol=TOL)
QI = functools.partial(q_iteration, tol=TOL)
PI_SOLVE = functools.partial(policy_iteration, tol=TOL, method="solve")
PI_ITER = functools.partial(policy_iteration, tol=TOL, method="iterative")


def problems():
  """(name, mdp for the sweep trace, [(method, storage, solver, mdp), ...])."""
  out = []
  for disc in (1.0, 0.99):
    m = gridworld(living_reward=-0.04, discount=disc, dtype=DTYPE).mdp
    out.append((f"grid 4x3, disc {disc:g}", m,
                [("value iteration", "dense", VI, m), ("Q-iteration", "dense", QI, m),
                 ("policy iter (LU)", "dense", PI_SOLVE, m),
                 ("policy iter (iter)", "dense", PI_ITER, m)]))
  big = gridworld_layout(30, 30)
  for disc in (1.0, 0.99):
    d = gridworld(big, living_reward=-0.04, discount=disc, dtype=DTYPE).mdp
    sp = gridworld(big, living_reward=-0.04, discount=disc, dtype=DTYPE, sparse=True).mdp
    out.append((f"grid 30x30, disc {disc:g}", sp,
                [("value iteration", "dense", VI, d), ("value iteration", "sparse", VI, sp),
                 ("Q-iteration", "dense", QI, d), ("Q-iteration", "sparse", QI, sp),
                 ("policy iter (LU)", "dense", PI_SOLVE, d),
                 ("policy iter (iter)", "sparse", PI_ITER, sp)]))
  m = random_mdp(jax.random.key(0), 200, 4, discount=0.99, dtype=DTYPE)
  out.append(("random S=200 A=4, disc 0.99", m,
              [("value iteration", "dense", VI, m), ("Q-iteration", "dense", QI, m),
               ("policy iter (LU)", "dense", PI_SOLVE, m),
               ("policy iter (iter)", "dense", PI_ITER, m)]))
  return out


@jax.jit
def reference(mdp):
  """V*, Q* to ~1e-12: value iteration to 1e-12, then exact policy iteration (LU) from its
  greedy policy with improvement threshold 1e-12 (usually 1 or 2 steps)."""
  vi = value_iteration(mdp, tol=1e-12)
  pi = policy_iteration(mdp, tol=1e-12, method="solve", initial_policy=vi.policy)
  return pi, jnp.max(jnp.abs(vi.values - pi.values))


def time_solver(fn, mdp, repeats):
  """AOT-compiles ``fn`` for ``mdp``; returns (solution, compile s, median run s, runs)."""
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(mdp).compile()
  t_compile = time.perf_counter() - t0
  t0 = time.perf_counter()
  sol = jax.block_until_ready(compiled(mdp))  # warm-up, not counted
  t_warm = time.perf_counter() - t0
  runs = []
  for _ in range(max(1, min(repeats, int(TIME_BUDGET_S / max(t_warm, 1e-9))))):
    t0 = time.perf_counter()
    sol = jax.block_until_ready(compiled(mdp))
    runs.append(time.perf_counter() - t0)
  return sol, t_compile, float(np.median(runs)), len(runs)


@functools.partial(jax.jit, static_argnames="num_sweeps")
def trace_value_iteration(mdp, v_star, optimal, num_sweeps):
  """Value iteration from zeros, one sweep at a time.

  Returns ``[num_sweeps + 1]`` arrays for k = 0..num_sweeps: ``||V_k - V*||_inf``, the fraction of
  states where ``greedy(V_k)`` picks an optimal action, and whether it does in every state.
  """
  rewards = expected_rewards(mdp)
  states = jnp.arange(mdp.num_states)

  def measure(v):
    greedy = greedy_policy(q_from_values(mdp, v, rewards))
    ok = optimal[states, greedy]
    return jnp.max(jnp.abs(v - v_star)), jnp.mean(ok), jnp.all(ok)

  def sweep(v, _):
    v = bellman_optimality(mdp, v, rewards)
    return v, measure(v)

  v0 = jnp.zeros(mdp.num_states, DTYPE)
  _, trace = lax.scan(sweep, v0, None, length=num_sweeps)
  first = measure(v0)
  return tuple(jnp.concatenate([jnp.asarray(f)[None], t]) for f, t in zip(first, trace))


def settled_at(flags) -> int | None:
  """First index from which ``flags`` stays True to the end (None if it is False at the end)."""
  flags = np.asarray(flags)
  if not flags[-1]:
    return None
  bad = np.flatnonzero(~flags)
  return 0 if len(bad) == 0 else int(bad[-1] + 1)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  parser.add_argument("--repeats", type=int, default=7, help="timed runs per solver (median)")
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  t_start = time.perf_counter()
  warnings = []

  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  print(f"tol {TOL:g}, float64, {jax.devices()[0].platform.upper()} ({os.cpu_count()} cores, load "
        f"average {load:.1f} at start, OPENBLAS_NUM_THREADS="
        f"{os.environ['OPENBLAS_NUM_THREADS']}); time = median of up to {args.repeats} runs "
        f"(fewer when a run is slow, {TIME_BUDGET_S:g} s budget) of the AOT-compiled solver, "
        "after one untimed run; compile time separate.\n")
  header = (f"{'problem':<27} {'S':>4} {'method':<18} {'storage':<7} {'iters':>6} {'conv':>5} "
            f"{'compile s':>9} {'runs':>4} {'run ms':>9} {'ms/iter':>8} {'error':>8}")
  print(header)
  print("-" * len(header))
  results, timings = [], []
  for name, trace_mdp, entries in problems():
    ref, ref_gap = reference(trace_mdp)
    if not bool(ref.converged):
      warnings.append(f"{name}: the reference solution did NOT converge")
    vi_sweeps = None
    rows = []
    for method, storage, fn, mdp in entries:
      sol, t_compile, t_run, runs = time_solver(fn, mdp, args.repeats)
      if method == "value iteration":
        vi_sweeps = int(sol.iterations)
      err = float(jnp.max(jnp.abs(sol.values - ref.values)))
      its, conv = int(sol.iterations), bool(sol.converged)
      print(f"{name:<27} {mdp.num_states:>4} {method:<18} {storage:<7} {its:>6} {str(conv):>5} "
            f"{t_compile:>9.2f} {runs:>4} {1e3 * t_run:>9.3f} {1e3 * t_run / max(its, 1):>8.3f} "
            f"{err:>8.1e}")
      rows.append((f"{method}, {storage}", t_run))
      if not conv:
        warnings.append(f"{name}: {method} ({storage}) did NOT converge ({its} iterations)")
    results.append((name, trace_mdp, ref, float(ref_gap), vi_sweeps))
    timings.append((name, rows))
  print("Notes: 'error' = ||V - V*||_inf against a 1e-12 reference (value iteration to 1e-12, "
        "then exact policy\niteration from its policy). Policy iteration counts improvement "
        "steps (each an LU solve of [S, S], or\na run of expectation sweeps), value/Q-iteration "
        "count sweeps. Compile ~0 s where an earlier problem had\nthe same shapes: the discount "
        "is a traced leaf, so jit reuses the executable. Policy iteration's tol\nis an "
        "improvement threshold on Q, so its values can be up to ~tol x (expected steps to the "
        "end) from V*\n(see the 30x30 rows); value/Q-iteration's tol bounds the value error "
        "when discount < 1.")

  # ---- When does the greedy policy settle? -------------------------------------------------
  print("\nValue iteration replayed sweep by sweep (lax.scan of bellman_optimality from V_0 = 0). "
        "'optimal': greedy(V_k)\npicks an optimal action in every state (ties within "
        f"{TIE_ATOL:g} count); 'tol-greedy': every greedy action is within tol of\nthe best "
        "in Q*. Each column gives the sweep from which the property holds for good.")
  header = (f"{'problem':<27} {'policy optimal':>14} {'tol-greedy':>10} {'|V_k-V*|<=tol':>13} "
            f"{'VI stopped':>10} {'error when policy optimal':>25} {'near ties':>9}")
  print(header)
  print("-" * len(header))
  ncols = 3
  nrows = (len(results) + 1 + ncols - 1) // ncols
  fig, grid = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.3 * nrows), layout="constrained")
  grid = list(grid.flat)
  axes = grid[:len(results)]
  for ax, (name, mdp, ref, ref_gap, vi_sweeps) in zip(axes, results):
    q_star = ref.q_values
    best = jnp.max(q_star, -1, keepdims=True)
    optimal = q_star >= best - TIE_ATOL * (1.0 + jnp.abs(best))  # every optimal action (ties)
    near = q_star >= best - TOL
    near_ties = int(jnp.sum(jnp.any(near & ~optimal, -1)))  # states with a runner-up within tol
    num_sweeps = 2 * vi_sweeps + 50
    err, frac, all_ok = map(np.asarray, trace_value_iteration(mdp, ref.values, optimal,
                                                              num_sweeps=num_sweeps))
    _, _, all_near = map(np.asarray, trace_value_iteration(mdp, ref.values, near,
                                                           num_sweeps=num_sweeps))
    k_pol, k_near, k_val = settled_at(all_ok), settled_at(all_near), settled_at(err <= TOL)
    fmt = lambda k: f">{num_sweeps}" if k is None else str(k)  # noqa: E731
    err_pol = "-" if k_pol is None else f"{err[k_pol]:.2e}"
    print(f"{name:<27} {fmt(k_pol):>14} {fmt(k_near):>10} {fmt(k_val):>13} {vi_sweeps:>10} "
          f"{err_pol:>25} {near_ties:>9}")
    if k_pol is None or k_val is None:
      warnings.append(f"{name}: within {num_sweeps} sweeps the greedy policy "
                      f"{'did not become' if k_pol is None else 'became'} optimal and the values "
                      f"{'did not reach' if k_val is None else 'reached'} tol")
    ks = np.arange(len(err))
    ax.semilogy(ks, np.maximum(err, 1e-16), color="tab:blue", lw=1.8, label="||V_k - V*||_inf")
    ax.axhline(TOL, color="tab:blue", ls=":", lw=1)
    ax.text(ks[-1], TOL, f"tol {TOL:g}", ha="right", va="bottom", fontsize=7, color="tab:blue")
    ax.set_ylim(1e-16, None)
    ax.set_xlabel("sweep k")
    ax.set_title(f"{name}\n({near_ties} states with a runner-up action within tol)"
                 if near_ties else name, fontsize=10)
    ax2 = ax.twinx()
    ax2.plot(ks, frac, color="tab:orange", lw=1.5, drawstyle="steps-post",
             label="fraction of states where greedy(V_k) is optimal")
    ax2.set_ylim(min(0.0, frac.min()) - 0.02, 1.05)
    if ax in grid[ncols - 1::ncols]:
      ax2.set_ylabel("fraction of states with an optimal greedy action", color="tab:orange")
    top = ax.get_ylim()[1]
    if k_pol is not None:
      ax.axvline(k_pol, color="tab:orange", ls="--", lw=1)
      ax.text(k_pol, top, f" policy optimal\n from k={k_pol}", va="top", fontsize=8,
              color="tab:orange")
    if k_val is not None:
      ax.axvline(k_val, color="tab:blue", ls="--", lw=1)
      ax.text(k_val, 1e-15, f"values within tol \nfrom k={k_val} ", va="bottom",
              fontsize=8, color="tab:blue", ha="right")
    if ax in grid[::ncols]:
      ax.set_ylabel("||V_k - V*||_inf (log)", color="tab:blue")
    if ax is axes[0]:
      lines = ax.get_lines()[:1] + ax2.get_lines()[:1]
      ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="center right")
    if ref_gap > 1e-8:
      warnings.append(f"{name}: the reference's value iteration and policy iteration differ by "
                      f"{ref_gap:.1e}")
  # Timing panel: median run time of every solver on every problem.
  ax = grid[len(results)]
  labels = [lab for lab, _ in timings[2][1]] + [lab for lab, _ in timings[0][1]
                                                 if lab not in dict(timings[2][1])]
  width = 0.8 / len(labels)
  colors = plt.cm.tab10(np.arange(len(labels)))
  for j, lab in enumerate(labels):
    xs = [i + (j - len(labels) / 2 + 0.5) * width for i, (_, rows) in enumerate(timings)
          if lab in dict(rows)]
    ys = [1e3 * dict(rows)[lab] for _, rows in timings if lab in dict(rows)]
    ax.bar(xs, ys, width, color=colors[j], label=lab)
  ax.set_yscale("log")
  ax.set_xticks(range(len(timings)))
  ax.set_xticklabels([n.replace("grid ", "").replace(", disc ", "\ndisc ")
                      .replace("random S=200 A=4", "random 200x4") for n, _ in timings], fontsize=8)
  ax.set_ylim(top=ax.get_ylim()[1] * 300)  # room for the legend
  ax.set_ylabel("median run time, ms (log)")
  ax.set_title("Wall time to converge (compile excluded)", fontsize=10)
  ax.legend(fontsize=7, ncols=2, loc="upper left")
  for ax in grid[len(results) + 1:]:
    ax.axis("off")
  fig.suptitle("Value iteration: the greedy policy is final long before the values converge",
               fontsize=11)
  path = os.path.join(args.out, "value_vs_policy_iteration.png")
  fig.savefig(path, dpi=110)
  plt.close(fig)
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  print(f"\nwrote {path}\ntotal {time.perf_counter() - t_start:.1f} s (load average {load:.1f} at "
        "the end; other processes on the machine inflate and scatter the times)")
  if warnings:
    print("\n" + "!" * 78)
    for w in warnings:
      print("!! " + w)
    print("!" * 78)


if __name__ == "__main__":
  main()
