"""Summaries over seeds: mean, standard deviation and a bootstrap 95% interval (numpy, host side)."""

from __future__ import annotations

import numpy as np

__all__ = (
    "BOOTSTRAP_SAMPLES",
    "interval",
    "last_finite",
    "summarize",
)


#: Bootstrap resamples behind every interval; the resampling is seeded, so a summary is
#: reproducible.
BOOTSTRAP_SAMPLES = 10_000


def last_finite(x: np.ndarray) -> np.ndarray:
  """``[..., T]`` -> ``[...]``: the last finite entry along the last axis (NaN when none is)."""
  x = np.asarray(x, dtype=np.float64)
  finite = np.isfinite(x)
  idx = x.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
  out = np.take_along_axis(x, idx[..., None], axis=-1)[..., 0]
  return np.where(finite.any(axis=-1), out, np.nan)


def interval(values: np.ndarray, level: float = 0.95, axis: int = 0,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Percentile-bootstrap interval of the mean of ``values`` over ``axis`` (the seeds).

  With ``n`` seeds, draws :data:`BOOTSTRAP_SAMPLES` resamples of size ``n`` with replacement and
  returns the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of their means. NaN entries
  (a seed without a value) are left out; fewer than two values give NaN bounds (no interval
  from one seed).
  """
  v = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
  lo = np.full(v.shape[1:], np.nan)
  hi = np.full(v.shape[1:], np.nan)
  rng = np.random.default_rng(seed)
  flat = v.reshape(v.shape[0], -1)
  lo_f, hi_f = lo.reshape(-1), hi.reshape(-1)
  for j in range(flat.shape[1]):
    col = flat[:, j][np.isfinite(flat[:, j])]
    if col.size < 2:
      continue
    means = col[rng.integers(0, col.size, size=(BOOTSTRAP_SAMPLES, col.size))].mean(axis=1)
    lo_f[j], hi_f[j] = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
  return lo_f.reshape(lo.shape), hi_f.reshape(hi.shape)


def summarize(values: np.ndarray) -> dict:
  """``[seeds]`` -> ``{"mean", "std", "median", "ci95_low", "ci95_high", "n"}`` over the finite entries
  (``std`` with ``ddof=1``; NaN where undefined)."""
  v = np.asarray(values, dtype=np.float64)
  v = v[np.isfinite(v)]
  lo, hi = interval(v[:, None]) if v.size else (np.array([np.nan]), np.array([np.nan]))
  return dict(
      mean=float(v.mean()) if v.size else float("nan"),
      std=float(v.std(ddof=1)) if v.size > 1 else float("nan"),
      median=float(np.median(v)) if v.size else float("nan"),
      ci95_low=float(lo[0]), ci95_high=float(hi[0]), n=int(v.size))
