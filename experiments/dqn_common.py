"""Helpers shared by the ``experiments/dqn_*.py`` scripts (never imported by jaxrl).

Each script builds one ``train`` per static configuration with ``jaxrl.agents.dqn.make_train``,
runs every seed (and, where the knob is a hyperparameter, every value of it) in ONE
``jax.jit(jax.vmap(train))`` call, prints a table and draws learning curves as the mean over
seeds with the min-max range shaded.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents.dqn import DQNConfig, DQNHyperparams


def stacked_hyperparams(config: DQNConfig, num: int, **columns) -> DQNHyperparams:
  """``config``'s hyperparameters repeated ``num`` times along a leading axis; each keyword
  (a field of :class:`DQNHyperparams`) replaces that field by a length-``num`` column."""
  hp = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], num, axis=0), config.hyperparams())
  for name, values in columns.items():
    old = getattr(hp, name)
    values = jnp.asarray(values, old.dtype)
    if values.shape != (num,):
      raise ValueError(f"column {name} has shape {values.shape}, expected ({num},).")
    hp = hp._replace(**{name: values})
  return hp


def run(train, keys, hyperparams=None):
  """Runs ``jax.jit(jax.vmap(train))`` once; returns ``(state, metrics as numpy, compile s, run s)``.

  Compilation is timed apart from the run (``lower().compile()``), so the run time is the
  training itself.
  """
  args = (keys,) if hyperparams is None else (keys, hyperparams)
  fn = jax.jit(jax.vmap(train))
  t0 = time.perf_counter()
  compiled = fn.lower(*args).compile()
  t_compile = time.perf_counter() - t0
  t0 = time.perf_counter()
  state, metrics = jax.block_until_ready(compiled(*args))
  t_run = time.perf_counter() - t0
  return state, jax.tree.map(np.asarray, metrics), t_compile, t_run


def seed_keys(seed: int, num: int):
  return jax.random.split(jax.random.key(seed), num)


def band(ax, x, runs, label=None, color=None, alpha=0.2, lw=1.6, ls="-"):
  """Mean over the rows of ``runs`` ``[seeds, T]`` as a line, the min-max range shaded.

  NaNs (no finished episode in an interval) are ignored per point."""
  runs = np.asarray(runs, float)
  with np.errstate(invalid="ignore"), _quiet():
    mean = np.nanmean(runs, axis=0)
    lo, hi = np.nanmin(runs, axis=0), np.nanmax(runs, axis=0)
  (line,) = ax.plot(x, mean, color=color, lw=lw, ls=ls, label=label)
  ax.fill_between(x, lo, hi, color=line.get_color(), alpha=alpha, lw=0)
  return line


class _quiet:
  """Silences numpy's 'Mean of empty slice' warnings (all-NaN columns)."""

  def __enter__(self):
    import warnings  # pylint: disable=import-outside-toplevel
    self._ctx = warnings.catch_warnings()
    self._ctx.__enter__()
    warnings.simplefilter("ignore", category=RuntimeWarning)

  def __exit__(self, *exc):
    return self._ctx.__exit__(*exc)


def last_mean(values, frac: float = 0.2):
  """Per-run mean over the last ``frac`` of the logging points (NaN-aware): ``[..., T] -> [...]``."""
  values = np.asarray(values, float)
  k = max(1, int(round(values.shape[-1] * frac)))
  with _quiet():
    return np.nanmean(values[..., -k:], axis=-1)


def fmt_seeds(values, fmt="{:.0f}") -> str:
  return "[" + " ".join(fmt.format(v) for v in np.asarray(values).reshape(-1)) + "]"


def banner(problems: Sequence[str]) -> None:
  """Prints the problems loudly (or nothing when there are none)."""
  if not problems:
    return
  print("\n" + "!" * 78)
  for p in problems:
    print("!! " + p)
  print("!" * 78)


def load_note() -> str:
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return (f"load average {load:.1f} on {os.cpu_count()} cores; other processes on the machine "
          "inflate and scatter the times")
