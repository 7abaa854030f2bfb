"""Eager checks shared by the agents' configs (Python, before anything is traced)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np

#: Rules for hyperparameters: a predicate on a numpy array and the words for a failure.
POSITIVE = (lambda v: v > 0, "must be positive")
NON_NEGATIVE = (lambda v: v >= 0, "must be >= 0")
UNIT_INTERVAL = (lambda v: (v >= 0) & (v <= 1), "must lie in [0, 1]")
HALF_OPEN_UNIT = (lambda v: (v > 0) & (v <= 1), "must lie in (0, 1]")
AT_LEAST_ONE = (lambda v: v >= 1, "must be at least 1")


def check_hyperparams(owner: str, hyperparams: Any,
                      rules: Sequence[tuple[str, tuple[Callable, str]]]) -> None:
  """Raises ``ValueError("{owner} {field} {rule}, got {value}.")`` for the first concrete field
  (of any batch shape, so a swept batch is checked too) that breaks its rule or is not finite.
  Traced hyperparameters are not checked (inside jit/vmap there is nothing to read)."""
  if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(hyperparams)):
    return
  for name, (ok, what) in rules:
    value = np.asarray(getattr(hyperparams, name))
    good = ok(value) & np.isfinite(value)
    if not np.all(good):
      bad = value.reshape(-1)[np.argmin(good.reshape(-1))]
      raise ValueError(f"{owner} {name} {what}, got {bad}.")
