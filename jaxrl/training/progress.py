"""Progress of a compiled training run, reported from inside the compiled loop.

The driver calls :meth:`Progress.hook` after every logging interval inside ``lax.scan``: it
emits one ``jax.debug.callback`` per interval (per device shard, with that shard's runs as
arrays, not one callback per seed), whose host side keeps the latest numbers and prints a line
at most every ``interval_s`` seconds (and at the end). The callback is part of the compiled
program from the start, so it never causes a recompilation; it costs one host call per
``log_every`` environment steps (``benchmarks/progress_overhead.py`` measures the cost).

The line says ``return: no finished episode yet`` (``eval: none yet``) until a run has one,
and ``DIVERGED: k/n runs (first at env step s, run i: why)`` from the first logging point at
which a run meets :data:`jaxrl.training.stats.DIVERGENCE_RULE`; that line is printed at once,
whatever ``interval_s``.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

import jax
import numpy as np

from jaxrl.training import stats

__all__ = (
    "Progress",
)



def _fmt_time(seconds: float) -> str:
  if not np.isfinite(seconds):
    return "?"
  seconds = int(round(seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h:d}:{m:02d}:{s:02d}"


class Progress:
  """Host-side progress of ``num_runs`` runs of ``total_steps`` environment steps each.

  Args:
    num_runs: runs in the call (seeds x settings).
    total_steps: environment steps per run.
    label: printed at the start of every line.
    interval_s: the least time between two printed lines (None: never print; the numbers are
      still kept, e.g. for tests).
    stream: where lines go (default ``sys.stderr``).
    printer: alternatively, a function called with each line.
  """

  def __init__(self, num_runs: int, total_steps: int, label: str = "", *,
               interval_s: float | None = 10.0, stream: TextIO | None = None,
               printer: Callable[[str], None] | None = None):
    self.num_runs = num_runs
    self.total_steps = total_steps
    self.label = label
    self.interval_s = interval_s
    self.stream = stream
    self.printer = printer
    self.calls = 0
    self.lines: list[str] = []
    self._lock = threading.Lock()
    self._steps = np.zeros(num_runs, np.int64)
    self._return = np.full(num_runs, np.nan)
    self._eval = np.full(num_runs, np.nan)
    self._scale = np.ones(num_runs)                 # R of the divergence rule, per run
    self._diverged_at = np.full(num_runs, -1, np.int64)
    self._why = np.full(num_runs, "", dtype=object)
    self._start_time: float | None = None
    self._start_steps = 0
    self._last_print = -np.inf

  def start(self, steps_done: int = 0) -> None:
    """Marks the start of compiled execution (rates count from here; compile time excluded)."""
    self._start_time = time.perf_counter()
    self._start_steps = steps_done
    self._steps[:] = steps_done

  def hook(self, run_ids, metrics: dict) -> None:
    """Traced: emits the callback for one logging interval (``run_ids`` and metrics ``[r]``):
    the steps, the returns and what the divergence rule reads."""
    names = ["env_steps", "episode_return", "eval_return", "loss_finite",
             *stats.VALUE_METRICS, *(k for k in metrics if k == "loss" or k.endswith("_loss"))]
    jax.debug.callback(self._update, run_ids, {k: metrics[k] for k in names if k in metrics})

  def _update(self, run_ids, metrics: dict) -> None:
    with self._lock:
      self.calls += 1
      ids = np.asarray(run_ids)
      self._steps[ids] = np.asarray(metrics["env_steps"])
      ret = np.asarray(metrics["episode_return"], np.float64)
      self._return[ids] = np.where(np.isfinite(ret), ret, self._return[ids])
      ev = np.asarray(metrics["eval_return"], np.float64)
      self._eval[ids] = np.where(np.isfinite(ev), ev, self._eval[ids])
      new = self._check_divergence(ids, metrics)
      now = time.perf_counter()
      done = int(self._steps.min())
      if self.interval_s is None:
        return
      if now - self._last_print < self.interval_s and done < self.total_steps and not new:
        return
      self._last_print = now
      line = self.line(now)
    self._emit(line)

  def _check_divergence(self, ids: np.ndarray, metrics: dict) -> bool:
    """Applies the divergence rule to this interval of runs ``ids``; True when a run diverged
    for the first time."""
    div = stats.divergence({k: np.asarray(v)[:, None] for k, v in metrics.items()},
                           scale_before=self._scale[ids])
    self._scale[ids] = div.scale
    new = div.diverged & (self._diverged_at[ids] < 0)
    self._diverged_at[ids[new]] = self._steps[ids[new]]
    self._why[ids[new]] = div.reason[new]
    return bool(new.any())

  @property
  def diverged(self) -> np.ndarray:
    """bool ``[num_runs]``: the runs that have met the divergence rule so far."""
    return self._diverged_at >= 0

  def _diverged_text(self) -> str:
    if not self.diverged.any():
      return ""
    first = int(np.argmin(np.where(self.diverged, self._diverged_at, np.iinfo(np.int64).max)))
    return (f" | DIVERGED: {int(self.diverged.sum())}/{self.num_runs} runs (first at env step "
            f"{self._diverged_at[first]:,}, run {first}: {self._why[first]})")

  def line(self, now: float | None = None) -> str:
    """The current progress line."""
    now = time.perf_counter() if now is None else now
    done = int(self._steps.min())
    elapsed = now - (self._start_time if self._start_time is not None else now)
    new_steps = float(self._steps.sum() - self._start_steps * self.num_runs)
    rate = new_steps / elapsed if elapsed > 0 else float("nan")
    per_run_rate = rate / self.num_runs if np.isfinite(rate) else float("nan")
    left = (self.total_steps - done) / per_run_rate if per_run_rate and per_run_rate > 0 else float("nan")
    ret = (f"return {np.nanmean(self._return):.4g}" if np.isfinite(self._return).any()
           else "return: no finished episode yet")
    ev = (f"eval {np.nanmean(self._eval):.4g}" if np.isfinite(self._eval).any()
          else "eval: none yet")
    prefix = f"[{self.label}] " if self.label else ""
    return (f"{prefix}{done:,}/{self.total_steps:,} env steps per run "
            f"({100.0 * done / self.total_steps:.0f}%) | "
            f"{format(rate, ',.0f') if np.isfinite(rate) else '?'} steps/s | "
            f"{ret} | {ev}{self._diverged_text()} | elapsed {_fmt_time(elapsed)} | "
            f"left {_fmt_time(left)}")

  def _emit(self, line: str) -> None:
    self.lines.append(line)
    if self.printer is not None:
      self.printer(line)
    else:
      print(line, file=self.stream or sys.stderr, flush=True)
