"""10,000 grid-world variants by policy iteration in one vmapped call, against pymdptoolbox's
PolicyIteration and ValueIteration in a loop (the same variants as gridworld_sweep.py).

pymdptoolbox is timed on a random subset (default 300 variants) and extrapolated to 10,000,
since its PolicyIteration costs ~10 ms a variant; the subset is said in the output.

    .venv/bin/python benchmarks/gridworld_sweep_pi.py [--subset 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import mdptoolbox.mdp as pym  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from jaxrl.mdp import gridworld, policy_iteration, value_iteration  # noqa: E402


def variants():
  lr = np.linspace(-2, 0.5, 25)
  noise = np.linspace(0, 0.5, 20)
  discount = np.linspace(0.5, 0.99, 20)
  return [x.reshape(-1).astype(np.float32) for x in np.meshgrid(lr, noise, discount, indexing="ij")]


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--subset", type=int, default=300)
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args()
  common.print_machine("10,000 grid-world variants by policy iteration")
  L, N, G = variants()

  solve = jax.jit(jax.vmap(lambda a, b, c: policy_iteration(
      gridworld(living_reward=a, noise=b, discount=c).mdp)))
  start = time.perf_counter()
  sol = jax.block_until_ready(solve(L, N, G))
  first = time.perf_counter() - start
  times = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    sol = jax.block_until_ready(solve(L, N, G))
    times.append(time.perf_counter() - start)
  ours = float(np.median(times))
  print(f"jaxrl policy_iteration, one jit(vmap) call over {len(L)} variants: {ours:.3f} s "
        f"(median of {args.repeats}; first call with compile {first:.2f} s); improvement steps "
        f"max {int(sol.iterations.max())}, mean {float(sol.iterations.mean()):.2f}; converged "
        f"{int(sol.converged.sum())}/{len(L)}")

  # Agreement with value iteration (tol 1e-4): optimal-action regret of PI's policy.
  vi = jax.jit(jax.vmap(lambda a, b, c: value_iteration(
      gridworld(living_reward=a, noise=b, discount=c).mdp, tol=1e-4)))(L, N, G)
  q = np.asarray(vi.q_values)
  regret = q.max(-1) - np.take_along_axis(q, np.asarray(sol.policy)[..., None], -1)[..., 0]
  print(f"regret of PI's policy measured with value iteration's Q*: max {regret.max():.2e}")

  rng = np.random.default_rng(0)
  idx = rng.choice(len(L), args.subset, replace=False)
  mdps = jax.jit(jax.vmap(lambda a, b, c: gridworld(living_reward=a, noise=b, discount=c).mdp))(
      L[idx], N[idx], G[idx])
  P = np.asarray(mdps.transitions, np.float64)
  P = P / P.sum(-1, keepdims=True)
  R = np.asarray(mdps.rewards, np.float64)
  peer = {}
  for name in ("PolicyIteration", "ValueIteration"):
    start = time.perf_counter()
    for i in range(args.subset):
      if name == "PolicyIteration":
        m = pym.PolicyIteration(P[i].transpose(1, 0, 2), R[i], float(G[idx][i]))
      else:
        m = pym.ValueIteration(P[i].transpose(1, 0, 2), R[i], float(G[idx][i]), epsilon=1e-4)
      m.run()
    per = (time.perf_counter() - start) / args.subset
    peer[name] = per * len(L)
    print(f"pymdptoolbox {name} loop: {per * 1e6:.0f} us per variant (timed on {args.subset}, "
          f"extrapolated to {len(L)}: {peer[name]:.1f} s)")
  print(f"speedup, policy iteration vs pymdptoolbox PolicyIteration loop: "
        f"{peer['PolicyIteration'] / ours:.0f}x")
  print(f"speedup, policy iteration vs pymdptoolbox ValueIteration loop (its fastest solver): "
        f"{peer['ValueIteration'] / ours:.0f}x")


if __name__ == "__main__":
  main()
