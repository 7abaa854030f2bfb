"""Shared helpers for the benchmarks: timing, machine description, tables, pymdptoolbox conversion.

Not part of the library; the scripts in this folder import it as a sibling module.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from importlib import metadata
from typing import Callable, Sequence

import jax
import numpy as np


def block(x):
  """Waits for every array in a pytree (jax arrays only; anything else passes through)."""
  return jax.block_until_ready(x)


def time_call(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> tuple[float, list[float], object]:
  """Median wall time of ``fn()`` (blocking on jax outputs) over ``repeats`` calls, after ``warmup``.

  Returns ``(median_seconds, all_seconds, last_output)``.
  """
  out = None
  for _ in range(warmup):
    out = block(fn())
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = block(fn())
    times.append(time.perf_counter() - t0)
  return statistics.median(times), times, out


def interleaved_walls(programs: dict, *args, repeats: int = 5) -> dict:
  """Wall seconds of each compiled program called on ``args``, ``repeats`` rounds in which every
  program runs once in turn (so a slow moment of the machine hits all of them alike); returns
  ``{name: [seconds per round]}``. Warm the programs up before calling this."""
  walls = {name: [] for name in programs}
  for _ in range(repeats):
    for name, program in programs.items():
      t0 = time.perf_counter()
      block(program(*args))
      walls[name].append(time.perf_counter() - t0)
  return walls


def time_once(fn: Callable[[], object]) -> tuple[float, object]:
  """Wall time of one blocking call (for compile times and one-off builds)."""
  t0 = time.perf_counter()
  out = block(fn())
  return time.perf_counter() - t0, out


def cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def cache_sizes() -> str:
  """L2/L3 sizes from sysfs, e.g. 'L2 1024K, L3 32768K' (per instance)."""
  out = {}
  base = "/sys/devices/system/cpu/cpu0/cache"
  try:
    for d in sorted(os.listdir(base)):
      if not d.startswith("index"):
        continue
      with open(f"{base}/{d}/level") as f:
        level = f.read().strip()
      with open(f"{base}/{d}/size") as f:
        size = f.read().strip()
      with open(f"{base}/{d}/type") as f:
        kind = f.read().strip()
      if kind != "Instruction":
        out[f"L{level}"] = size
  except OSError:
    return "unknown"
  return ", ".join(f"{k} {v}" for k, v in sorted(out.items()))


def _version(name: str) -> str:
  try:
    return metadata.version(name)
  except metadata.PackageNotFoundError:
    return "not installed"


def machine_info() -> dict[str, str]:
  mem = "unknown"
  try:
    with open("/proc/meminfo") as f:
      kb = int(f.readline().split()[1])
      mem = f"{kb / 2**20:.1f} GiB"
  except (OSError, ValueError, IndexError):
    pass
  return {
      "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
      "cpu": cpu_model(),
      "cores": str(os.cpu_count()),
      "caches": cache_sizes(),
      "memory": mem,
      "python": platform.python_version(),
      "jax": _version("jax"),
      "jaxlib": _version("jaxlib"),
      "numpy": _version("numpy"),
      "scipy": _version("scipy"),
      "pymdptoolbox": _version("pymdptoolbox"),
      "jax backend": f"{jax.default_backend()} ({len(jax.devices())} device{'s' if len(jax.devices()) > 1 else ''})",
      "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
  }


def print_machine(title: str) -> None:
  print(f"# {title}")
  for k, v in machine_info().items():
    print(f"#   {k:13s} {v}")
  print()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> str:
  """A GitHub-markdown table (also readable in a terminal)."""
  cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
  widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
  lines = []
  if title:
    lines.append(f"### {title}\n")
  lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |")
  lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
  for r in cells[1:]:
    lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |")
  text = "\n".join(lines)
  print(text + "\n", flush=True)
  return text


def _fmt(x) -> str:
  if isinstance(x, float):
    if x == 0:
      return "0"
    if abs(x) >= 100:
      return f"{x:,.0f}"
    if abs(x) >= 1:
      return f"{x:.2f}"
    return f"{x:.3g}"
  return str(x)


def ms(seconds: float) -> str:
  return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def us(seconds: float) -> str:
  return f"{seconds * 1e6:.3g} us"


# --------------------------------------------------------------------------------------------
# pymdptoolbox conversion
# --------------------------------------------------------------------------------------------
def stochastic_float64(p: np.ndarray) -> np.ndarray:
  """Rows of ``p`` (last axis) as float64 that sum to 1 within pymdptoolbox's check (10 ulp).

  Converting a float32 tensor to float64 leaves row sums ~1e-7 off, which
  ``mdptoolbox.util.check`` rejects. Renormalise, then put the residual on each row's largest
  entry. The problem changes by ~1e-7 relative, far below anything the benchmarks measure.
  """
  p = np.asarray(p, np.float64)
  p = p / p.sum(-1, keepdims=True)
  resid = 1.0 - p.sum(-1)
  idx = np.argmax(p, -1)
  np.put_along_axis(p, idx[..., None], np.take_along_axis(p, idx[..., None], -1) + resid[..., None], -1)
  return p


def to_pymdptoolbox(mdp) -> tuple[np.ndarray, np.ndarray]:
  """A dense :class:`jaxrl.mdp.TabularMDP` as pymdptoolbox's ``(P [A, S, S], R [S, A])``, float64,
  C-contiguous (so that ``P[a].dot(V)`` runs on contiguous memory)."""
  p = np.asarray(mdp.transitions)  # [S, A, S]
  p = np.ascontiguousarray(np.transpose(stochastic_float64(p), (1, 0, 2)))
  r = np.asarray(jax.device_get(mdp.rewards), np.float64)
  if r.ndim == 3:
    r = (np.asarray(mdp.transitions, np.float64) * r).sum(-1)
  return p, np.ascontiguousarray(r)


def quiet_mdptoolbox():
  """Imports ``mdptoolbox.mdp``."""
  import mdptoolbox.mdp  # noqa: F401
  return mdptoolbox.mdp


# --------------------------------------------------------------------------------------------
# BLAS threads of numpy (pymdptoolbox's P[a].dot(V) runs in OpenBLAS)
# --------------------------------------------------------------------------------------------
def _openblas():
  """numpy's OpenBLAS as a ctypes library (found through the process's memory map), or None."""
  import ctypes
  import numpy  # noqa: F401  (loads OpenBLAS)
  try:
    with open("/proc/self/maps") as f:
      paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
  except OSError:
    return None
  for path in sorted(paths):
    try:
      return ctypes.CDLL(path)
    except OSError:
      continue
  return None


def _blas_fn(lib, suffix: str):
  for name in (f"scipy_openblas_{suffix}64_", f"scipy_openblas_{suffix}_64_", f"openblas_{suffix}"):
    fn = getattr(lib, name, None) if lib is not None else None
    if fn is not None:
      return fn
  return None


def blas_threads() -> int | None:
  """The number of threads numpy's OpenBLAS uses (None if it cannot be found)."""
  fn = _blas_fn(_openblas(), "get_num_threads")
  return None if fn is None else int(fn())


def set_blas_threads(n: int) -> bool:
  """Sets numpy's OpenBLAS thread count at run time; False if OpenBLAS was not found."""
  import ctypes
  fn = _blas_fn(_openblas(), "set_num_threads")
  if fn is None:
    return False
  fn(ctypes.c_int(n))
  return True


# --------------------------------------------------------------------------------------------
# Diagnostic solver
# --------------------------------------------------------------------------------------------
def lean_value_iteration(mdp, tol: float, max_iterations: int):
  """Diagnostic, not the library: value iteration with jaxrl's stopping rule for discount < 1
  (sup-norm change at most ``tol * (1 - g) / g``, or at most 4 eps max|V|, or not finite),
  computed with two reductions per sweep and without the discount-1 machinery (pinned terminal
  states, divergence detector) that ``jaxrl.mdp.solvers._iterate`` evaluates on every sweep at
  every discount. Prices that bookkeeping. Returns ``(values, iterations)``.
  """
  import jax.numpy as jnp
  from jax import lax

  from jaxrl.mdp import expected_next_values, expected_rewards

  rewards = expected_rewards(mdp)
  discount = mdp.discount
  threshold = tol * (1.0 - discount) / discount
  eps = jnp.finfo(rewards.dtype).eps

  def cond(c):
    return ~c[3] & (c[2] < max_iterations)

  def body(c):
    v, _, it, _ = c
    v_new = jnp.max(rewards + discount * expected_next_values(mdp.transitions, v), axis=-1)
    delta = jnp.max(jnp.abs(v_new - v))  # NaN/inf in v_new show up here: no separate isfinite
    done = (delta <= threshold) | (delta <= 4 * eps * jnp.max(jnp.abs(v_new))) | ~jnp.isfinite(delta)
    return v_new, delta, it + 1, done

  init = (jnp.zeros(mdp.num_states, rewards.dtype), jnp.asarray(jnp.inf, rewards.dtype),
          jnp.zeros((), jnp.int32), jnp.zeros((), bool))
  v, _, it, _ = lax.while_loop(cond, body, init)
  return v, it


def adapter_overhead_row(suite: str, name: str, runners: dict, num_envs: int, steps: int,
            repeats: int) -> None:
  """Times ``runners`` (``{"raw": fn, "adapter": fn}``, each ``fn(key)`` one jitted rollout of
  ``num_envs x steps``) alternately, and prints the table row ``| suite | env | envs | raw
  steps/s | adapter steps/s | overhead |`` (medians of ``repeats``, compile excluded)."""
  key = jax.random.key(0)
  for run in runners.values():
    block(run(key))  # compile
  times = {side: [] for side in runners}
  for rep in range(repeats):
    order = list(runners) if rep % 2 == 0 else list(runners)[::-1]
    for side in order:
      t0 = time.perf_counter()
      block(runners[side](key))
      times[side].append(time.perf_counter() - t0)
  rate = {side: num_envs * steps / statistics.median(t) for side, t in times.items()}
  overhead = 100.0 * (rate["raw"] / rate["adapter"] - 1.0)
  print(f"| {suite} | {name} | {num_envs} | {rate['raw']:,.0f} | {rate['adapter']:,.0f} | "
        f"{overhead:+.1f}% |")
