"""A sweep of 10,000 grid-world variants solved in one vmapped call, against pymdptoolbox in a loop.

The textbook 4x3 grid world (``jaxrl.mdp.DEFAULT_LAYOUT``, 11 states, 4 actions) with
25 living rewards x 20 noises x 20 discounts = 10,000 variants:

* jaxrl: ``jax.jit(jax.vmap(solve))`` where ``solve(living_reward, noise, discount)`` builds
  ``gridworld(...)`` *inside* the vmapped function and runs ``value_iteration``; one call
  solves all 10,000 (each member stops on its own schedule; the batch runs until the slowest
  is done). Compile time is reported separately. The dense (default) and the sparse
  (``sparse=True``, 3 successors per move) forms are both timed.
* jaxrl, still one jitted call, but ``jax.lax.map(solve, variants, batch_size=100)``: vmap over
  chunks of 100 in turn. A chunk's tensors stay in cache, and each chunk stops with its own
  slowest member; ordering the variants by discount puts members that need similar numbers of
  sweeps in the same chunk.
* diagnostic rows: the dense tensor built with a one-hot sum instead of ``to_dense``'s einsum
  (which, under vmap, leaves the batch axis third and makes XLA transpose the whole tensor
  inside every sweep); and the same with ``common.lean_value_iteration`` (jaxrl's stopping rule
  for discount < 1 with two reductions per sweep) in place of ``value_iteration``.
* pymdptoolbox: ``ValueIteration(P, R, discount, epsilon).run()`` in a Python loop, on the same
  problems (the same float32 tensors, in float64 rows renormalised to pass its checker), with
  ``max_iter`` lifted after construction so that its own iteration bound cannot stop it early.
  Time = construction + run, as a user pays. By default a random subset of the variants is
  timed and the per-variant mean extrapolated to 10,000 (``--pym-variants 10000`` for all).

Stopping rule: ``tol = epsilon = 1e-4`` (jaxrl: sup-norm change, pymdptoolbox: span).
Policies are compared state by state; each disagreement is measured against exact float64
action values ``Q*`` (policy iteration with linear solves, in numpy): a disagreement at a
near-tie has ``Q*(s, a_jaxrl) ~= Q*(s, a_pym)``.

Run: ``.venv/bin/python benchmarks/gridworld_sweep.py`` (about 1-2 minutes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from jaxrl.mdp import (Solution, TabularMDP, greedy_policy, gridworld, q_from_values,  # noqa: E402
                       value_iteration)

mdptoolbox_mdp = common.quiet_mdptoolbox()

LIVING_REWARDS = np.linspace(-2.0, 0.5, 25)
NOISES = np.linspace(0.0, 0.5, 20)
DISCOUNTS = np.linspace(0.5, 0.99, 20)
TOL = 1e-4


def variants():
  lr, nz, g = np.meshgrid(LIVING_REWARDS, NOISES, DISCOUNTS, indexing="ij")
  return (jnp.asarray(lr.ravel(), jnp.float32), jnp.asarray(nz.ravel(), jnp.float32),
          jnp.asarray(g.ravel(), jnp.float32))


def dense_by_one_hot_sum(mdp: TabularMDP) -> TabularMDP:
  """Diagnostic: densify a sparse MDP with an elementwise one-hot sum instead of
  ``jaxrl.mdp.to_dense``'s einsum. Under ``vmap`` the einsum's dot puts the batch axis third
  (``[S, A, B, S]``) and XLA then transposes the whole tensor inside every sweep of the solver's
  while loop; this form keeps ``[B, S, A, S]``."""
  t = mdp.transitions
  onehot = jax.nn.one_hot(t.indices, mdp.num_states, dtype=t.probs.dtype)
  rewards = jnp.sum(t.probs * mdp.rewards, -1) if mdp.rewards.ndim == t.probs.ndim else mdp.rewards
  return TabularMDP(jnp.sum(t.probs[..., None] * onehot, axis=-2), rewards, mdp.discount)


def _solve_fn(form: str):
  """``solve(living_reward, noise, discount) -> Solution`` for one variant."""

  def solve(living_reward, noise, discount):
    world = gridworld(living_reward=living_reward, noise=noise, discount=discount,
                      sparse=form != "dense")
    mdp = dense_by_one_hot_sum(world.mdp) if "one-hot" in form else world.mdp
    if form.startswith("lean"):  # diagnostic: the lean loop of common.py, same stopping rule
      v, it = common.lean_value_iteration(mdp, TOL, 100_000)
      q = q_from_values(mdp, v)
      return Solution(v, q, greedy_policy(q), it, jnp.isfinite(v).all(), jnp.inf)
    return value_iteration(mdp, tol=TOL)

  return solve


def make_solver(form: str):
  """All variants in one ``jax.jit(jax.vmap(solve))`` call."""
  return jax.jit(jax.vmap(_solve_fn(form)))


def time_jaxrl(args, form: str, repeats: int):
  solver = make_solver(form)
  t0 = time.perf_counter()
  compiled = solver.lower(*args).compile()
  compile_s = time.perf_counter() - t0
  first_s, sol = common.time_once(lambda: compiled(*args))
  median_s, _, sol = common.time_call(lambda: compiled(*args), repeats=repeats, warmup=0)
  return compile_s, first_s, median_s, sol


def time_chunked(args, form: str, batch_size: int, repeats: int):
  """One jitted call that vmaps over chunks of ``batch_size`` variants in turn
  (``jax.lax.map(..., batch_size=...)``): each chunk fits in the caches and stops with its own
  slowest member."""
  solve = _solve_fn(form)
  fn = jax.jit(lambda a, b, c: jax.lax.map(lambda x: solve(*x), (a, b, c), batch_size=batch_size))
  t0 = time.perf_counter()
  compiled = fn.lower(*args).compile()
  compile_s = time.perf_counter() - t0
  common.block(compiled(*args))
  median_s, _, sol = common.time_call(lambda: compiled(*args), repeats=repeats, warmup=0)
  return compile_s, median_s, sol


def exact_q(p, r, g, policy, max_steps: int = 100):
  """float64 Q* of each variant by policy iteration from ``policy`` (batched numpy solves).

  p [n, A, S, S], r [n, S, A], g [n], policy int [n, S]. Returns Q* [n, S, A].
  """
  n, _, s, _ = p.shape
  batch = np.arange(n)[:, None]
  states = np.arange(s)[None, :]
  eye = np.eye(s)
  for _ in range(max_steps):
    p_pi = p[batch, policy, states]  # [n, S, S]
    r_pi = r[batch, states, policy]  # [n, S]
    v = np.linalg.solve(eye - g[:, None, None] * p_pi, r_pi[..., None])[..., 0]
    q = r + g[:, None, None] * np.einsum("nast,nt->nsa", p, v)
    best = np.argmax(q, -1)
    q_old = np.take_along_axis(q, policy[..., None], -1)[..., 0]
    improve = np.max(q, -1) > q_old + 1e-12 * (1 + np.abs(q_old))
    if not improve.any():
      return q
    policy = np.where(improve, best, policy)
  raise RuntimeError("policy iteration did not stabilise")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--pym-variants", type=int, default=10000,
                      help="how many variants pymdptoolbox solves (random subset; 10000 = all)")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--batch-size", type=int, default=100, help="chunk size of the lax.map rows")
  args = parser.parse_args()
  common.print_machine("benchmarks/gridworld_sweep.py")
  t_start = time.perf_counter()

  lr, nz, g = variants()
  n = lr.shape[0]
  print(f"{n} variants: {len(LIVING_REWARDS)} living rewards in [{LIVING_REWARDS[0]}, "
        f"{LIVING_REWARDS[-1]}] x {len(NOISES)} noises in [{NOISES[0]}, {NOISES[-1]}] x "
        f"{len(DISCOUNTS)} discounts in [{DISCOUNTS[0]}, {DISCOUNTS[-1]}]; tol = epsilon = {TOL}\n")

  forms = ("dense", "sparse", "one-hot dense")
  results = {form: time_jaxrl((lr, nz, g), form, args.repeats) for form in forms}
  for form in forms:
    assert bool(jnp.all(results[form][3].converged)), form
  sol = results["dense"][3]
  sol_sparse = results["sparse"][3]
  order = np.argsort(np.asarray(g), kind="stable")  # variants ordered by discount
  chunked = {}
  for form, ordered in (("dense", False), ("dense", True), ("one-hot dense", True),
                        ("lean one-hot dense", True)):
    idx = order if ordered else np.arange(n)
    chunk_args = (lr[idx], nz[idx], g[idx])
    compile_s, median_s, s_chunk = time_chunked(chunk_args, form, args.batch_size, args.repeats)
    back = np.empty(n, np.int64)
    back[idx] = np.arange(n)
    chunked[(form, ordered)] = (compile_s, median_s, np.asarray(s_chunk.policy)[back])

  # The same problems for pymdptoolbox, float64 [A, S, S] per variant.
  dense = jax.jit(jax.vmap(lambda a, b, c: gridworld(living_reward=a, noise=b, discount=c).mdp))(
      lr, nz, g)
  p_all = np.ascontiguousarray(np.transpose(common.stochastic_float64(np.asarray(dense.transitions)),
                                            (0, 2, 1, 3)))
  r_all = np.asarray(dense.rewards, np.float64)
  g_all = np.asarray(g, np.float64)

  rng = np.random.default_rng(0)
  m = min(args.pym_variants, n)
  subset = np.sort(rng.choice(n, m, replace=False)) if m < n else np.arange(n)
  pym_policy = np.zeros((m, p_all.shape[2]), np.int64)
  pym_iters = np.zeros(m, np.int64)
  bound_hit = 0
  t0 = time.perf_counter()
  for j, i in enumerate(subset):
    solver = mdptoolbox_mdp.ValueIteration(p_all[i], r_all[i], float(g_all[i]), epsilon=TOL)
    bound = solver.max_iter
    solver.max_iter = 10**6
    solver.run()
    pym_policy[j] = solver.policy
    pym_iters[j] = solver.iter
    bound_hit += solver.iter > bound
  pym_s = time.perf_counter() - t0
  per_variant = pym_s / m
  pym_total = per_variant * n

  # Policy agreement on the subset, judged by exact Q*.
  ours = {False: np.asarray(sol.policy)[subset], True: np.asarray(sol_sparse.policy)[subset]}
  q_star = exact_q(p_all[subset], r_all[subset], g_all[subset], pym_policy)
  v_star = q_star.max(-1)
  rows_q = np.arange(m)[:, None]
  cols_q = np.arange(q_star.shape[1])[None, :]

  def regret(pol):
    return v_star - q_star[rows_q, cols_q, pol]

  agree_rows = []
  for name, pol in (("jaxrl dense", ours[False]), ("jaxrl sparse", ours[True]),
                    ("pymdptoolbox", pym_policy)):
    reg = regret(pol)
    agree_rows.append([name, f"{np.mean(pol == pym_policy):.5f}",
                       int(np.sum(pol != pym_policy)), f"{reg.max():.1e}",
                       f"{np.mean(reg > 1e-6):.5f}"])
  dis = ours[False] != pym_policy
  gap = np.abs(q_star[rows_q, cols_q, ours[False]] - q_star[rows_q, cols_q, pym_policy])[dis]

  rows = []
  labels = {"dense": "jaxrl, gridworld() dense (default), one call",
            "sparse": "jaxrl, gridworld(sparse=True), one call",
            "one-hot dense": "diagnostic: sparse densified by one-hot sum, one call"}
  for form in forms:
    compile_s, first_s, median_s, s = results[form]
    max_it = int(jnp.max(s.iterations))
    rows.append([labels[form], f"{compile_s:.2f} s", f"{first_s:.3f} s", f"{median_s:.3f} s",
                 f"{median_s / n * 1e6:.1f} us", max_it, f"{float(jnp.mean(s.iterations)):.0f}",
                 f"{median_s / max_it * 1e3:.2f} ms", f"**{pym_total / median_s:.1f}x**",
                 f"{pym_total / (compile_s + first_s):.1f}x"])
  for (form, ordered), (compile_s, median_s, policy) in chunked.items():
    same = float(np.mean(policy == np.asarray(sol.policy)))
    worst = float(regret(policy[subset]).max())
    kind = {"dense": "dense", "one-hot dense": "diagnostic: one-hot dense",
            "lean one-hot dense": "diagnostic: lean loop + one-hot dense"}[form]
    label = (f"jaxrl, {kind}, one call of "
             f"lax.map(batch_size={args.batch_size}), "
             f"{'variants ordered by discount' if ordered else 'grid order'}")
    rows.append([label, f"{compile_s:.2f} s", "-", f"{median_s:.3f} s", f"{median_s / n * 1e6:.1f} us",
                 "-", "-", f"same action as one call: {same:.4f} (max regret {worst:.0e})",
                 f"**{pym_total / median_s:.1f}x**", "-"])
  rows.append([f"pymdptoolbox loop ({m} variants{', extrapolated' if m < n else ''})", "-", "-",
               f"{pym_total:.2f} s", f"{per_variant * 1e6:.0f} us", int(pym_iters.max()),
               f"{pym_iters.mean():.0f}", f"{per_variant / pym_iters.mean() * 1e6:.1f} us / variant",
               "1x", "-"])
  common.table(["solver", "compile", "first call (after compile)", "10,000 variants (median)",
                "per variant", "max sweeps", "mean sweeps", "time per batch sweep", "speedup",
                "speedup incl. compile"],
               rows, title=f"{n} grid-world variants, tol = epsilon = {TOL} (jaxrl: median of "
               f"{args.repeats}; pymdptoolbox: one pass over {m} variants"
               f"{', mean per variant x 10,000' if m < n else ''})")
  common.table(["policy", "agreement with pymdptoolbox (states)", "states that differ",
                "max regret max_a Q* - Q*(s, pi(s))", "fraction of states with regret > 1e-6"],
               agree_rows, title=f"Policies on the {m} variants pymdptoolbox solved "
               f"({m * q_star.shape[1]} states), judged by exact float64 Q*")
  if dis.any():
    print(f"Disagreements (dense jaxrl vs pymdptoolbox): {int(dis.sum())}; "
          f"|Q*(s, a_jaxrl) - Q*(s, a_pym)| max {gap.max():.1e}, median {np.median(gap):.1e} "
          f"(tol = {TOL}): {'all near-ties' if gap.max() < TOL else 'NOT all near-ties'}.")
  print(f"pymdptoolbox's own iteration bound (max_iter set by its constructor) would have stopped "
        f"{bound_hit} of {m} runs early.")
  speedup = pym_total / results["dense"][2]
  s_it = np.asarray(sol.iterations)
  print(f"A vmapped while_loop runs every member until the slowest is done: {int(s_it.max())} batch "
        f"sweeps, while the members needed {s_it.mean():.0f} on average ({s_it.max() / s_it.mean():.0f}x "
        f"the useful work).")
  best_chunk = max(pym_total / v[1] for v in chunked.values())
  print(f"\nTarget: at least 100x over the pymdptoolbox loop with one jit(vmap) call: "
        f"{'MET' if speedup >= 100 else 'MISSED'} ({speedup:.1f}x dense, "
        f"{pym_total / results['sparse'][2]:.1f}x sparse, excluding compile); one jitted call of "
        f"lax.map(batch_size={args.batch_size}): {'MET' if best_chunk >= 100 else 'MISSED'} "
        f"(best {best_chunk:.1f}x)")
  print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
  main()
