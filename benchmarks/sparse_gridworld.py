"""Sparse grid worlds of 10^4, 10^5 and 10^6 states: time for value iteration to converge.

``gridworld(gridworld_layout(n, n), sparse=True, discount=0.99)`` (3 successors per move, the
default noise 0.2 and living reward -0.04, a +1 exit top right and a -1 exit below it) for
n = 100, 316, 1000. jaxrl: build time, compile time, solve time of ``jax.jit(value_iteration)``
with the default ``tol = 1e-6``, sweeps, ``converged`` and ``error_bound``; in float32 (the
default) and, up to 10^5 states by default (``--x64-max-states``), in float64
(``jax.enable_x64``, ``dtype=jnp.float64``), since in float32 the rounding floor, not ``tol``,
ends the loop on these problems.

pymdptoolbox (at 10^4 and 10^5 states by default; ``--pymdptoolbox-max-states 1000000`` adds
10^6), on the same problems as a list of A scipy CSR matrices (float64; dense [A, S, S] is
3.2 GB already at 10^4 states), ``epsilon = 1e-6`` (the same stopping threshold, but on the
span), ``max_iter`` lifted after construction:

* its constructor's input check (``mdptoolbox.util.check``) tests non-negativity with
  ``(matrix >= 0).all()``, which scipy evaluates by building the complement, a dense-pattern
  S x S boolean matrix; and its iteration bound (``ValueIteration._boundIter``) slices all S
  columns of every matrix. Both are timed at 10^4; beyond that they are bypassed (patched out
  for this benchmark only) and only the sweeps are timed;
* ``run()`` to its own convergence, and ``run()`` for exactly jaxrl's number of sweeps.

Accuracy: V* (float64 policy iteration with scipy sparse LU solves, started at jaxrl's greedy
policy, to within 1e-6) at 10^4 and 10^5 states; each solver's ``max |V - V*|``.

Run: ``.venv/bin/python benchmarks/sparse_gridworld.py`` (about 2-3 minutes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

import common  # noqa: E402
from jaxrl.mdp import gridworld, gridworld_layout, value_iteration  # noqa: E402

mdptoolbox_mdp = common.quiet_mdptoolbox()

DISCOUNT = 0.99
TOL = 1e-6  # jaxrl's default tol; pymdptoolbox's epsilon


def to_csr(mdp):
  """``[A]`` scipy CSR matrices ``S x S`` (float64 rows renormalised) and ``R [S, A]``."""
  idx = np.asarray(mdp.transitions.indices)
  probs = common.stochastic_float64(np.asarray(mdp.transitions.probs))
  s, a, k = idx.shape
  rows = np.repeat(np.arange(s), k)
  p = [sp.csr_matrix((probs[:, j].ravel(), (rows, idx[:, j].ravel())), shape=(s, s))
       for j in range(a)]
  rewards = np.asarray(mdp.rewards, np.float64)
  if rewards.ndim == 3:  # per successor: expected reward of each (s, a), in float64 numpy
    rewards = np.sum(probs * rewards, -1)
  return p, rewards, idx, probs


def exact_values(idx, probs, rewards, discount, policy, max_steps: int = 30):
  """float64 V* by policy iteration with sparse LU, from ``policy``.

  Stops when no action gains more than 1e-8 over the current one; then
  ``max|V_pi - V*| <= 1e-8 / (1 - discount) = 1e-6`` (far from the exits, round-off-sized
  gains would otherwise keep it changing one state per step). Returns (V, bound, steps).
  """
  s, _, k = idx.shape
  states = np.arange(s)
  rows = np.repeat(states, k)
  eye = sp.identity(s, format="csc")
  for step in range(1, max_steps + 1):
    p_pi = sp.csc_matrix((probs[states, policy].ravel(), (rows, idx[states, policy].ravel())),
                         shape=(s, s))
    v = spla.spsolve(eye - discount * p_pi, rewards[states, policy])
    q = rewards + discount * np.sum(probs * v[idx], -1)
    gain = q.max(-1) - q[states, policy]
    if gain.max() <= 1e-8:
      break
    policy = np.where(gain > 0, q.argmax(-1), policy)
  return v, gain.max() / (1 - discount), step


class Bypass:
  """Patches pymdptoolbox's input check (and its iteration bound, unless ``bound=True``) out,
  for this benchmark only."""

  def __init__(self, bound: bool = False):
    self.keep_bound = bound

  def __enter__(self):
    self._check = mdptoolbox_mdp._util.check
    self._bound = mdptoolbox_mdp.ValueIteration._boundIter
    mdptoolbox_mdp._util.check = lambda p, r: None

    def no_bound(solver, epsilon):
      solver.max_iter = 10**7

    if not self.keep_bound:
      mdptoolbox_mdp.ValueIteration._boundIter = no_bound
    return self

  def __exit__(self, *exc):
    mdptoolbox_mdp._util.check = self._check
    mdptoolbox_mdp.ValueIteration._boundIter = self._bound


def pymdptoolbox_runs(p, r, sweeps: int, full_construction: bool):
  """Returns dict of timings and the two solvers (converged, and fixed ``sweeps``)."""
  out = {}
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # scipy's SparseEfficiencyWarning from the check
    if full_construction:
      t0 = time.perf_counter()
      solver = mdptoolbox_mdp.ValueIteration(p, r, DISCOUNT, epsilon=TOL)
      out["construct"] = time.perf_counter() - t0  # check + bound + setup
      out["bound"] = solver.max_iter
      with Bypass(bound=True):
        t0 = time.perf_counter()
        mdptoolbox_mdp.ValueIteration(p, r, DISCOUNT, epsilon=TOL)
        out["check"] = out["construct"] - (time.perf_counter() - t0)
    else:
      with Bypass():
        solver = mdptoolbox_mdp.ValueIteration(p, r, DISCOUNT, epsilon=TOL)
  solver.max_iter = 10**7
  t0 = time.perf_counter()
  solver.run()
  out["converge"] = time.perf_counter() - t0
  with Bypass():
    fixed = mdptoolbox_mdp.ValueIteration(p, r, DISCOUNT, epsilon=TOL)
  fixed.max_iter = sweeps
  fixed.thresh = 0.0
  t0 = time.perf_counter()
  fixed.run()
  out["fixed"] = time.perf_counter() - t0
  assert fixed.iter == sweeps
  return out, solver, fixed


def solve_jaxrl(n: int, dtype, repeats: int):
  """Builds and solves one grid in ``dtype``; returns timings and the solution (numpy)."""
  t0 = time.perf_counter()
  layout = gridworld_layout(n, n)
  world = gridworld(layout, sparse=True, discount=DISCOUNT, dtype=dtype)
  mdp = common.block(world.mdp)
  build_s = time.perf_counter() - t0
  solve = jax.jit(value_iteration)
  t0 = time.perf_counter()
  compiled = solve.lower(mdp).compile()
  compile_s = time.perf_counter() - t0
  solve_s, _, sol = common.time_call(lambda: compiled(mdp), repeats=repeats, warmup=0)
  return mdp, build_s, compile_s, solve_s, jax.device_get(sol)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sides", type=int, nargs="+", default=[100, 316, 1000])
  parser.add_argument("--repeats", type=int, default=3, help="jaxrl solve repeats (1 at 10^6)")
  parser.add_argument("--x64-max-states", type=int, default=2 * 10**5,
                      help="float64 jaxrl runs up to this many states (0: none; 10**6: all)")
  parser.add_argument("--pymdptoolbox-max-states", type=int, default=2 * 10**5,
                      help="pymdptoolbox up to this many states (10**6: all; about 100 s there)")
  args = parser.parse_args()
  common.print_machine("benchmarks/sparse_gridworld.py")
  t_start = time.perf_counter()

  rows, peer_rows = [], []
  target = {}
  for n in args.sides:
    runs = {}
    repeats = 1 if n * n >= 10**6 else args.repeats
    mdp, *timing, sol = solve_jaxrl(n, jnp.float32, repeats)
    runs["float32"] = (timing, sol)
    if n * n <= args.x64_max_states:
      with jax.enable_x64(True):
        mdp64, *timing64, sol64 = solve_jaxrl(n, jnp.float64, repeats)
      runs["float64"] = (timing64, sol64)
      mdp = mdp64  # pymdptoolbox and V* get the float64 problem (probabilities exact in f64)
    num_states = mdp.num_states
    print(f"[{n}x{n}] jaxrl done", flush=True)

    err = {}
    p = r = None
    if num_states <= args.pymdptoolbox_max_states:
      p, r, idx, probs = to_csr(mdp)
      if num_states <= 2 * 10**5:
        v_star, v_star_bound, _ = exact_values(idx, probs, r, DISCOUNT, np.asarray(sol.policy))
        assert v_star_bound < 1e-5, v_star_bound
        for name, (_, s_) in runs.items():
          err[name] = np.max(np.abs(np.asarray(s_.values, np.float64) - v_star))
      del idx, probs

    for name, ((build_s, compile_s, solve_s), s_) in runs.items():
      sweeps = int(s_.iterations)
      total = build_s + compile_s + solve_s
      if num_states >= 10**6:
        target[name] = total
      rows.append([f"{n}x{n}", f"{num_states:,}", name, f"{build_s:.2f} s", f"{compile_s:.2f} s",
                   f"{solve_s:.2f} s", sweeps, f"{solve_s / sweeps * 1e3:.2f} ms",
                   f"{bool(s_.converged)}", f"{float(s_.error_bound):.1e}",
                   f"{err[name]:.1e}" if name in err else "-", f"**{total:.1f} s**"])

    if p is None:
      continue
    sweeps = int(sol.iterations)
    full = num_states <= 10**4
    timings, conv, fixed = pymdptoolbox_runs(p, r, sweeps, full)
    if err:
      v_err = lambda v: f"{np.max(np.abs(np.asarray(v) - v_star)):.1e}"  # noqa: E731
    else:
      v_err = lambda v: "-"  # noqa: E731
    construct = (f"{timings['construct']:.1f} s (of which its check: {timings['check']:.1f} s)" if full
                 else "bypassed")
    solve32 = runs["float32"][0][2]
    speed64 = (f"{timings['converge'] / runs['float64'][0][2]:.2f}x" if "float64" in runs else "-")
    peer_rows.append([
        f"{num_states:,}", construct, f"{timings['converge']:.2f} s", conv.iter, v_err(conv.V),
        f"**{timings['converge'] / solve32:.2f}x** / {speed64}", f"{timings['fixed']:.2f} s",
        v_err(fixed.V), f"**{timings['fixed'] / solve32:.2f}x**",
        f"{timings['fixed'] / sweeps * 1e3:.2f} ms", f"{solve32 / sweeps * 1e3:.2f} ms"])
    print(f"[{n}x{n}] pymdptoolbox done", flush=True)
    del p, r, conv, fixed

  common.table(["grid", "states", "dtype", "build (layout + gridworld)", "compile", "solve",
                "sweeps", "per sweep", "converged", "error_bound", "max abs(V - V*)",
                "build + compile + solve"], rows,
               title=f"jaxrl value_iteration on sparse grid worlds, discount {DISCOUNT}, tol {TOL} "
               f"(solve: median of {args.repeats}, 1 at 10^6)")
  if peer_rows:
    common.table(
        ["states", "pymdptoolbox construct (check + bound)", "pymdptoolbox to convergence", "its sweeps",
         "its max abs(V - V*)", "speedup, each to its own convergence (jaxrl f32 / f64)",
         "pymdptoolbox for jaxrl f32's sweeps", "its max abs(V - V*) then",
         "speedup, same sweeps (f32)", "pymdptoolbox per sweep", "jaxrl f32 per sweep"],
        peer_rows, title=f"pymdptoolbox (list of scipy CSR matrices, float64), epsilon {TOL}")
  for name, total in target.items():
    print(f"Target: 10^6 states in under 60 s ({name}): {'MET' if total < 60 else 'MISSED'} "
          f"({total:.1f} s build + compile + solve)")
  print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
  main()
