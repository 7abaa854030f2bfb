"""Summaries over seeds (mean, standard deviation, a bootstrap 95% interval) and the one rule
that says when a run has diverged (numpy, host side)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = (
    "BOOTSTRAP_SAMPLES",
    "DIVERGENCE_RULE",
    "Divergence",
    "VALUE_FACTOR",
    "VALUE_METRICS",
    "divergence",
    "interval",
    "last_finite",
    "rank",
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


#: Metrics that estimate a return (a value): their magnitude is bounded by the returns.
VALUE_METRICS = ("q_abs_max", "q_mean", "value_mean")
#: How far above the largest return seen a value estimate (or the square root of a loss) may
#: go before the run counts as diverged.
VALUE_FACTOR = 1e3

#: When a seed counts as diverged (written into every ``summary.json``). Measured margins: the
#: healthy CartPole runs of all five agents (default configs, 2 seeds) stay below 2.2 R in
#: every value metric and square-rooted loss; the same runs at learning rate 1e6 exceed the
#: limit by factors from 70 (REINFORCE's value loss) to 1e22 (DQN's Q). R only bounds what the
#: returns seen allow: values may legitimately approach ``max |r| / (1 - discount)``, so a run
#: whose discount is within 1e-3 of 1 and whose rewards are large but cancel within episodes can
#: be flagged falsely.
DIVERGENCE_RULE = (
    "a seed has diverged from the first logging point at which (a) a loss was not finite "
    "(metric loss_finite false, or any *loss metric infinite), or (b) a value estimate "
    f"({', '.join(VALUE_METRICS)}) exceeds {VALUE_FACTOR:g} x R in magnitude, or (c) a *loss "
    f"metric exceeds ({VALUE_FACTOR:g} x R)^2 in magnitude; R is the largest |episode return| "
    "or |eval return| the seed has seen up to that point, and at least 1. Values estimate "
    "returns and squared-error losses are squared return errors, so a healthy run stays orders "
    "of magnitude below these limits. A seed that has diverged counts as diverged even if its "
    "numbers later come back.")


class Divergence(NamedTuple):
  """Which runs diverged, where first, and why (see :func:`divergence`); shapes ``[...]``.

  Attributes:
    diverged: bool, the run met :data:`DIVERGENCE_RULE` at some logging point.
    first_log: int, the index of the first such logging point (-1 where none).
    reason: str (object array), what was seen there ("" where none).
    scale: float, ``R`` after the last logging point (the largest |return| seen, at least 1);
      pass it back as ``scale_before`` to continue the check over the next points.
  """

  diverged: np.ndarray
  first_log: np.ndarray
  reason: np.ndarray
  scale: np.ndarray


def _loss_names(metrics: dict) -> list[str]:
  return sorted(k for k in metrics if k == "loss" or k.endswith("_loss"))


def _return_scale(metrics: dict, shape, scale_before) -> np.ndarray:
  """``R`` at every point ``[..., T]``: the running largest |episode or eval return|, at
  least ``scale_before`` (at least 1)."""
  lead = shape[:-1]
  scale = np.ones(lead) if scale_before is None else np.maximum(
      1.0, np.asarray(scale_before, np.float64))
  r = np.broadcast_to(scale[..., None], shape)
  for k in ("episode_return", "eval_return"):
    if k in metrics:
      seen = np.abs(np.asarray(metrics[k], np.float64))
      r = np.maximum(r, np.nan_to_num(seen, nan=0.0, posinf=0.0))
  return np.maximum.accumulate(r, axis=-1)


def _checks(metrics: dict, shape, r: np.ndarray) -> list:
  """``[(bad [..., T], reason(index) -> str)]`` in order of precedence."""
  finite = np.asarray(metrics.get("loss_finite", np.ones(shape)), bool)
  infinite = np.zeros(shape, bool)
  for k in _loss_names(metrics):
    infinite |= np.isinf(np.asarray(metrics[k], np.float64))
  checks = [(~finite | infinite, lambda i: "loss not finite")]
  for k in VALUE_METRICS + tuple(_loss_names(metrics)):
    if k not in metrics:
      continue
    x = np.abs(np.asarray(metrics[k], np.float64))
    squared = k not in VALUE_METRICS
    lim = (VALUE_FACTOR * r) ** (2 if squared else 1)
    checks.append((np.isfinite(x) & (x > lim), lambda i, k=k, x=x, squared=squared: (
        f"|{k}| {x[i]:.3g} > " + (f"({VALUE_FACTOR:g} R)^2" if squared else f"{VALUE_FACTOR:g} R")
        + f" where R = {r[i]:.4g} is the largest |return| seen")))
  return checks


def divergence(metrics: dict[str, np.ndarray], scale_before=None) -> Divergence:
  """Applies :data:`DIVERGENCE_RULE` to ``{name: [..., T]}`` metrics over their last axis.

  The one place the rule lives: the run summary, the progress line and the sweep ranking all
  use it. NaN metric entries mean "nothing measured" (e.g. no update in the interval) and never
  count; a NaN loss shows as ``loss_finite`` false.

  Args:
    metrics: an agent's metrics, each ``[..., T]`` (``T >= 1`` logging points). Uses
      ``episode_return``, ``eval_return``, ``loss_finite``, the loss metrics (``loss`` and
      ``*_loss``) and :data:`VALUE_METRICS`, whichever are present.
    scale_before: ``[...]`` the ``scale`` an earlier call returned for the points before these
      (None: these are the first points).

  Returns:
    :class:`Divergence` with shapes ``[...]``.
  """
  shape = np.shape(metrics["env_steps"] if "env_steps" in metrics
                   else next(iter(metrics.values())))
  if len(shape) < 1 or shape[-1] < 1:
    raise ValueError(f"divergence needs metrics of shape [..., T] with T >= 1, got {shape}.")
  r = _return_scale(metrics, shape, scale_before)
  checks = _checks(metrics, shape, r)
  any_bad = np.logical_or.reduce([bad for bad, _ in checks])
  diverged = any_bad.any(axis=-1)
  first = np.where(diverged, np.argmax(any_bad, axis=-1), -1)
  reason = np.full(shape[:-1], "", dtype=object)
  for idx in np.ndindex(*shape[:-1]):
    if diverged[idx]:
      at = idx + (int(first[idx]),)
      reason[idx] = next(why(at) for bad, why in checks if bad[at])
  return Divergence(diverged=diverged, first_log=first, reason=reason, scale=r[..., -1])


def rank(rows: list[dict]) -> list[int]:
  """Indices of summary rows, best first: fewest ``diverged_seeds`` first (a setting with a
  diverged seed never ranks above one without), then the highest
  ``final_eval_return["mean"]`` (a missing mean, None or NaN, last), then the row order."""
  def key(i):
    mean = rows[i]["final_eval_return"]["mean"]
    mean = -np.inf if mean is None or not np.isfinite(mean) else mean
    return (rows[i]["diverged_seeds"], -mean, i)
  return sorted(range(len(rows)), key=key)
