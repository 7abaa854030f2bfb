"""Dense value iteration: jaxrl against pymdptoolbox, in one run, on the same problems.

Part 1, fixed sweeps. Random dense MDPs (``jaxrl.mdp.random_mdp``), S in {100, 500, 2000, 5000},
A = 4, a fixed number N of Bellman sweeps for every solver (1000, 1000, 300, 100):

* jaxrl ``value_iteration`` (jit, float32) with ``max_iterations=N`` and a tolerance too small to
  stop it; we check ``Solution.iterations == N``;
* a bare float32 ``jnp.einsum`` ``lax.fori_loop`` (no stopping rule at all), the reference for
  the cost of the Bellman backup itself;
* the same loop written as one ``[S*A, S] @ [S]`` matmul;
* for reference, N float32 ``[S*A, S] @ [S]`` products in numpy (OpenBLAS, 1 thread): the
  matrix-vector product alone, with a tuned BLAS kernel;
* a diagnostic "lean loop": jaxrl's stopping rule for discount < 1 with two reductions per
  sweep (``common.lean_value_iteration``), to price the bookkeeping of ``value_iteration``;
* pymdptoolbox ``ValueIteration`` (float64, the arrays it is given), with ``max_iter = N`` and
  ``thresh = 0`` set after construction (its constructor replaces ``max_iter`` with its own
  bound when discount < 1), and we check ``vi.iter == N``. Its sweeps are numpy/OpenBLAS
  matrix-vector products; on a loaded 2-core machine OpenBLAS's second thread can make them
  ~10x slower, so pymdptoolbox is timed with the faster of 1 and 2 BLAS threads (picked by a
  20-sweep trial of each, both reported).

The discount is 0.999 so that the values keep changing by more than float32 rounding for all N
sweeps: at 0.9, jaxrl's rounding-floor stop (see jaxrl/mdp/solvers.py) correctly ends the loop
after ~120 sweeps. Repeats of the solvers are interleaved and the median is reported.

At S = 5000 the float32 tensor (400 MB) is far larger than the caches; the memory floor is the
bytes of the tensor read per sweep over the copy bandwidth measured in the same run (the best
of a numpy ``copyto`` and an in-place jitted ``x + 1``, counting bytes read + written, as
STREAM does). Also shown: the ratio to a read-only floor (the best of two full reductions).

Part 2, convergence at discount 0.99 on structured problems (grid worlds, a noisy chain,
pymdptoolbox's forest). Same stopping rule form, ``change < eps * (1 - g) / g``, with
``tol = epsilon = 0.01`` (pymdptoolbox's default): jaxrl measures the change in the sup norm
(values within tol of V*), pymdptoolbox in the span (an eps-optimal *policy*, values not bounded).
So we also run pymdptoolbox for exactly jaxrl's number of sweeps, and report each solution's
sup-norm error against the exact V* (float64 policy evaluation of the optimal policy, from
pymdptoolbox ``PolicyIteration`` started at jaxrl's greedy policy), and the greedy policy's
one-step regret ``max_s V*(s) - Q*(s, pi(s))`` (0 for an optimal action everywhere).

Run: ``.venv/bin/python benchmarks/vi_dense.py`` (about 3-4 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

import common  # noqa: E402
from jaxrl.mdp import (chain, from_mdptoolbox, gridworld, gridworld_layout, random_mdp,  # noqa: E402
                       value_iteration)

mdptoolbox_mdp = common.quiet_mdptoolbox()
import mdptoolbox.example  # noqa: E402

NUM_ACTIONS = 4
FIXED_DISCOUNT = 0.999
CONVERGE_DISCOUNT = 0.99
EPSILON = 0.01  # pymdptoolbox's default epsilon; jaxrl's tol
DEFAULT_BLAS_THREADS = common.blas_threads() or 1


# --------------------------------------------------------------------------------------------
# Solvers under test
# --------------------------------------------------------------------------------------------
def bare_einsum(transitions, rewards, discount, num_sweeps):
  """The Bellman backup alone: ``v <- max_a r + g * einsum('sat,t->sa', P, v)``, N times."""

  def body(_, v):
    return jnp.max(rewards + discount * jnp.einsum("sat,t->sa", transitions, v), axis=-1)

  return lax.fori_loop(0, num_sweeps, body, jnp.zeros(transitions.shape[0], transitions.dtype))


def bare_matmul(transitions, rewards, discount, num_sweeps):
  """The same backup as one ``[S*A, S] @ [S]`` matrix-vector product."""
  s, a, _ = transitions.shape
  flat = transitions.reshape(s * a, s)

  def body(_, v):
    return jnp.max(rewards + discount * (flat @ v).reshape(s, a), axis=-1)

  return lax.fori_loop(0, num_sweeps, body, jnp.zeros(s, transitions.dtype))


def pymdptoolbox_fixed(p, r, discount, num_sweeps, threads=None):
  """pymdptoolbox value iteration forced to run exactly ``num_sweeps`` sweeps, with numpy's
  OpenBLAS on ``threads`` threads; returns (run seconds, construction seconds, solver)."""
  if threads is not None:
    common.set_blas_threads(threads)
  t0 = time.perf_counter()
  vi = mdptoolbox_mdp.ValueIteration(p, r, discount, epsilon=1e-12)
  t1 = time.perf_counter()
  vi.max_iter = num_sweeps  # the constructor replaced it with its own bound
  vi.thresh = 0.0  # span < 0 never holds: run all sweeps
  vi.run()
  t2 = time.perf_counter()
  assert vi.iter == num_sweeps, (vi.iter, num_sweeps)
  return t2 - t1, t1 - t0, vi


def faster_blas_threads(p, r, discount, sweeps: int = 20) -> tuple[int, dict[int, float]]:
  """1 or 2 OpenBLAS threads, whichever runs pymdptoolbox's sweeps faster right now (on a loaded
  2-core machine a second BLAS thread can make a matrix-vector product 10x slower). Returns the
  choice and the best seconds per sweep of each."""
  best = {}
  for threads in (1, 2, 1, 2):
    t, _, _ = pymdptoolbox_fixed(p, r, discount, sweeps, threads)
    best[threads] = min(best.get(threads, np.inf), t / sweeps)
  common.set_blas_threads(DEFAULT_BLAS_THREADS)
  return min(best, key=best.get), best


# --------------------------------------------------------------------------------------------
# Memory bandwidth
# --------------------------------------------------------------------------------------------
def copy_bandwidth(nbytes: int = 1 << 30, repeats: int = 7) -> dict[str, float]:
  """Bytes per second (read + written) of streaming copies, and read-only reductions."""
  n = nbytes // 4
  a = np.ones(n, np.float32)
  b = np.empty_like(a)
  b[:] = 0.0  # fault the pages in before timing
  out = {}
  t, _, _ = common.time_call(lambda: np.copyto(b, a), repeats=repeats)
  out["numpy copyto (1 thread)"] = 2 * nbytes / t
  del b
  # In place, so that no fresh 1 GiB output is page-faulted on every call.
  add = jax.jit(lambda x: x + 1.0, donate_argnums=0)
  x = add(jnp.zeros(n, jnp.float32))
  times = []
  for _ in range(repeats + 1):
    t0 = time.perf_counter()
    x = add(x)
    x.block_until_ready()
    times.append(time.perf_counter() - t0)
  out["jax in-place x + 1"] = 2 * nbytes / float(np.median(times[1:]))
  xs = jnp.asarray(a)
  total = jax.jit(jnp.sum)
  t, _, _ = common.time_call(lambda: total(xs), repeats=repeats)
  out["(read only) jax sum"] = nbytes / t
  t, _, _ = common.time_call(lambda: a.sum(), repeats=repeats)
  out["(read only) numpy sum"] = nbytes / t
  del x, xs, a
  return out


# --------------------------------------------------------------------------------------------
# Part 1: fixed sweeps
# --------------------------------------------------------------------------------------------
def fixed_sweeps(sizes_and_sweeps, repeats: int):
  rows = []
  per_sweep_at = {}
  for num_states, num_sweeps in sizes_and_sweeps:
    mdp = random_mdp(jax.random.PRNGKey(num_states), num_states, NUM_ACTIONS, discount=FIXED_DISCOUNT)
    p, r = common.to_pymdptoolbox(mdp)
    args = (mdp.transitions, mdp.rewards, mdp.discount)

    vi = jax.jit(functools.partial(value_iteration, tol=1e-30, max_iterations=num_sweeps))
    lean = jax.jit(functools.partial(common.lean_value_iteration, tol=1e-30,
                                     max_iterations=num_sweeps))
    einsum = jax.jit(functools.partial(bare_einsum, num_sweeps=num_sweeps))
    matmul = jax.jit(functools.partial(bare_matmul, num_sweeps=num_sweeps))
    compile_s, sol = common.time_once(lambda: vi(mdp))
    assert int(sol.iterations) == num_sweeps, (int(sol.iterations), num_sweeps)
    assert int(common.block(lean(mdp))[1]) == num_sweeps
    v_einsum = common.block(einsum(*args))
    common.block(matmul(*args))

    threads, calib = faster_blas_threads(p, r, FIXED_DISCOUNT)
    flat = np.asarray(mdp.transitions).reshape(num_states * NUM_ACTIONS, num_states)
    v_np = np.ones(num_states, np.float32)

    def sgemv():  # reference: the N float32 products alone, OpenBLAS on 1 thread
      common.set_blas_threads(1)
      for _ in range(num_sweeps):
        flat @ v_np
      common.set_blas_threads(DEFAULT_BLAS_THREADS)

    solvers = (("vi", lambda: vi(mdp)), ("lean", lambda: lean(mdp)),
               ("einsum", lambda: einsum(*args)), ("matmul", lambda: matmul(*args)),
               ("sgemv", sgemv))
    times = {name: [] for name, _ in solvers}
    times["pym"] = []
    construct = []
    v_pym = None
    for _ in range(repeats if num_states < 5000 else max(1, repeats - 2)):
      # interleaved: load changes on a shared machine hit every solver alike
      for name, fn in solvers:
        t0 = time.perf_counter()
        common.block(fn())
        times[name].append(time.perf_counter() - t0)
      run_s, con_s, solver = pymdptoolbox_fixed(p, r, FIXED_DISCOUNT, num_sweeps, threads)
      times["pym"].append(run_s)
      construct.append(con_s)
      v_pym = np.asarray(solver.V)
    common.set_blas_threads(DEFAULT_BLAS_THREADS)
    med = {k: float(np.median(v)) / num_sweeps for k, v in times.items()}
    per_sweep_at[num_states] = med
    rel = float(np.max(np.abs(np.asarray(sol.values) - v_pym)) / np.max(np.abs(v_pym)))
    same = float(np.max(np.abs(np.asarray(sol.values) - np.asarray(v_einsum))))
    rows.append([
        num_states, num_sweeps, f"{mdp.transitions.nbytes / 2**20:.0f} MiB",
        common.us(med["vi"]), common.us(med["lean"]), common.us(med["einsum"]),
        common.us(med["matmul"]), common.us(med["sgemv"]), common.us(med["pym"]), threads,
        f"{common.us(calib[1])} / {common.us(calib[2])}", f"**{med['pym'] / med['vi']:.2f}x**", f"{med['vi'] / med['einsum']:.2f}",
        f"{float(np.median(construct)):.2f} s", f"{rel:.1e}", f"{same:.0e}", f"{compile_s:.2f} s"])
    del mdp, p, r, args, flat
  common.table(
      ["S", "sweeps", "P (f32)", "jaxrl VI /sweep", "lean loop /sweep", "bare einsum /sweep",
       "bare matmul /sweep", "numpy f32 matvec only /sweep", "pymdptoolbox /sweep", "BLAS threads",
       "pymdptoolbox 1 / 2 threads, 20-sweep trial", "speedup vs pymdptoolbox", "jaxrl VI / bare einsum", "pymdptoolbox construct",
       "rel. diff vs pymdptoolbox", "max abs(VI - einsum)", "jaxrl compile"],
      rows, title=f"Fixed sweeps, random dense MDPs, A = {NUM_ACTIONS}, discount {FIXED_DISCOUNT} "
      f"(median of {repeats} interleaved repeats, {max(1, repeats - 2)} at S = 5000)")
  return per_sweep_at


def memory_floor(num_states: int, per_sweep: dict[str, float]):
  bw = copy_bandwidth()
  copy_keys = [k for k in bw if not k.startswith("(read")]
  read_keys = [k for k in bw if k.startswith("(read")]
  best = max(bw[k] for k in copy_keys)
  best_read = max(bw[k] for k in read_keys)
  common.table(["method", "GB/s"], [[k, f"{v / 1e9:.1f}"] for k, v in bw.items()],
               title="Memory bandwidth, 1 GiB float32 buffers (copy: bytes read + written, "
               "the STREAM convention)")
  f32 = num_states * NUM_ACTIONS * num_states * 4
  f64 = 2 * f32
  timings = per_sweep
  rows = []
  for label, key, nbytes in (("jaxrl VI (f32)", "vi", f32), ("lean loop (f32)", "lean", f32),
                             ("bare einsum (f32)", "einsum", f32),
                             ("bare matmul (f32)", "matmul", f32),
                             ("numpy f32 matvec, OpenBLAS 1 thread (reference)", "sgemv", f32),
                             ("pymdptoolbox (f64)", "pym", f64)):
    floor = nbytes / best
    rows.append([label, f"{nbytes / 1e6:.0f} MB", common.ms(floor), common.ms(timings[key]),
                 f"**{timings[key] / floor:.2f}**", f"{timings[key] / (nbytes / best_read):.2f}",
                 f"{nbytes / timings[key] / 1e9:.1f}"])
  common.table(["solver", "tensor read / sweep", "floor / sweep", "measured / sweep",
                "measured / floor", "measured / read-only floor", "effective GB/s"], rows,
               title=f"S = {num_states}: time per sweep against the memory floor "
               f"(floor = tensor bytes / copy bandwidth {best / 1e9:.1f} GB/s, best of "
               f"{', '.join(copy_keys)}; read-only floor: / {best_read / 1e9:.1f} GB/s, best of "
               f"{', '.join(read_keys)})")
  return per_sweep["vi"] / (f32 / best), per_sweep["vi"] / (f32 / best_read)


# --------------------------------------------------------------------------------------------
# Part 2: convergence on structured problems
# --------------------------------------------------------------------------------------------
def structured_problems(forest_sizes):
  g = CONVERGE_DISCOUNT
  problems = []
  for n in (20, 50):
    world = gridworld(gridworld_layout(n, n), discount=g)
    problems.append((f"gridworld {n}x{n}", world.mdp))
  problems.append(("chain 1000, noise 0.1", chain(1000, discount=g, noise=0.1)))
  for s in forest_sizes:
    p, r = mdptoolbox.example.forest(S=s)
    problems.append((f"forest S={s}", from_mdptoolbox(p, r, g)))
  return problems


def exact_values(p, r, discount, policy0):
  """float64 V* by policy iteration (exact evaluation), started at a near-optimal policy."""
  pi = mdptoolbox_mdp.PolicyIteration(p, r, discount, policy0=np.asarray(policy0), eval_type=0)
  pi.run()
  return np.asarray(pi.V, np.float64), np.asarray(pi.policy), pi.iter




def convergence(forest_sizes, repeats: int):
  g = CONVERGE_DISCOUNT
  rows, eq_rows = [], []
  for name, mdp in structured_problems(forest_sizes):
    p, r = common.to_pymdptoolbox(mdp)
    vi = jax.jit(functools.partial(value_iteration, tol=EPSILON))
    compile_s, sol = common.time_once(lambda: vi(mdp))
    sweeps = int(sol.iterations)
    v_star, pi_star, _ = exact_values(p, r, g, sol.policy)
    threads, _ = faster_blas_threads(p, r, g)

    # pymdptoolbox to convergence: its own stopping rule, but max_iter lifted (its bound can be
    # smaller than what the span rule needs, and would then stop it silently).
    def pym_converge():
      common.set_blas_threads(threads)
      solver = mdptoolbox_mdp.ValueIteration(p, r, g, epsilon=EPSILON)
      bound = solver.max_iter
      solver.max_iter = 10**7
      t0 = time.perf_counter()
      solver.run()
      return time.perf_counter() - t0, solver, bound

    ours, theirs, theirs_eq = [], [], []
    for i in range(repeats):
      t0 = time.perf_counter()
      common.block(vi(mdp))
      ours.append(time.perf_counter() - t0)
      t_conv, solver, bound = pym_converge()
      theirs.append(t_conv)
      t_eq, _, solver_eq = pymdptoolbox_fixed(p, r, g, sweeps, threads)
      theirs_eq.append(t_eq)
      if t_conv + t_eq > 10.0:  # long enough to be a stable measurement; keep the run short
        break
    common.set_blas_threads(DEFAULT_BLAS_THREADS)
    t_ours, t_theirs, t_eq = (float(np.median(x)) for x in (ours, theirs, theirs_eq))
    err_ours = float(np.max(np.abs(np.asarray(sol.values, np.float64) - v_star)))
    err_theirs = float(np.max(np.abs(np.asarray(solver.V) - v_star)))
    err_eq = float(np.max(np.abs(np.asarray(solver_eq.V) - v_star)))
    q_star = r + g * np.einsum("ast,t->sa", p, v_star)
    regret = lambda pol: float(np.max(v_star - q_star[np.arange(len(v_star)), np.asarray(pol)]))
    rows.append([
        name, mdp.num_states, sweeps, f"{bool(sol.converged)}", common.ms(t_ours),
        f"{err_ours:.1e}", f"{float(sol.error_bound):.1e}", solver.iter, bound, common.ms(t_theirs),
        f"{err_theirs:.1e}", f"**{t_theirs / t_ours:.1f}x**", f"{regret(sol.policy):.0e} / {regret(solver.policy):.0e}",
        threads, len(ours), f"{compile_s:.2f} s"])
    eq_rows.append([name, sweeps, common.ms(t_ours), common.ms(t_eq), f"**{t_eq / t_ours:.1f}x**",
                    common.us(t_ours / sweeps), common.us(t_eq / sweeps), f"{err_ours:.1e}",
                    f"{err_eq:.1e}"])
  common.table(
      ["problem", "S", "jaxrl sweeps", "converged", "jaxrl time", "jaxrl max abs(V - V*)",
       "jaxrl error_bound", "pymdptoolbox sweeps", "its max_iter bound", "pymdptoolbox time",
       "pymdptoolbox max abs(V - V*)", "speedup", "greedy policy regret (jaxrl / pym)", "BLAS threads",
       "repeats", "jaxrl compile"],
      rows, title=f"Run to convergence, discount {g}, tol = epsilon = {EPSILON} "
      f"(jaxrl: sup-norm rule; pymdptoolbox: span rule; median of repeats)")
  common.table(
      ["problem", "sweeps (both)", "jaxrl time", "pymdptoolbox time", "speedup", "jaxrl /sweep",
       "pymdptoolbox /sweep", "jaxrl max abs(V - V*)", "pymdptoolbox max abs(V - V*)"],
      eq_rows, title="The same number of sweeps for both (jaxrl's count)")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=5,
                      help="interleaved repeats (2 fewer at S = 5000; convergence part: up to this)")
  parser.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
  args = parser.parse_args()
  common.print_machine("benchmarks/vi_dense.py")
  if args.quick:
    sizes, forests = [(100, 200), (500, 100)], [500]
  else:
    sizes, forests = [(100, 1000), (500, 1000), (2000, 300), (5000, 100)], [2000, 5000]
  t0 = time.perf_counter()
  per_sweep = fixed_sweeps(sizes, args.repeats)
  big = max(per_sweep)
  ratio, ratio_read = memory_floor(big, per_sweep[big])
  speedups = {s: v["pym"] / v["vi"] for s, v in per_sweep.items()}
  print(f"Target 1: faster than pymdptoolbox at every size: "
        f"{'MET' if min(speedups.values()) > 1 else 'MISSED'} "
        f"(speedups {', '.join(f'S={s}: {x:.2f}x' for s, x in speedups.items())})")
  print(f"Target 2: within 1.5x of the memory floor at S = {big}: "
        f"{'MET' if ratio <= 1.5 else 'MISSED'} ({ratio:.2f}x the copy-bandwidth floor; "
        f"{ratio_read:.2f}x the read-only-stream floor)\n")
  convergence(forests, args.repeats)
  print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
  main()
