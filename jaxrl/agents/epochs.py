"""Epochs of shuffled minibatches over one batch of experience (PPO's and PQN's inner loop).

    carry, stats = run_epochs(key, carry, batch, update, num_epochs=4, num_minibatches=4)

Each epoch draws one permutation of the batch's ``B`` items (the same for every leaf), cuts it
into ``num_minibatches`` minibatches of ``B / num_minibatches`` items and scans
``update(carry, minibatch) -> (carry, stats)`` over them; every item is used once per epoch.
``stats`` come back stacked ``[num_epochs, num_minibatches, ...]``. ``key`` is consumed (split
once per epoch).
"""

from __future__ import annotations

from typing import Any, Callable

import jax

from jaxrl import validation

__all__ = ("minibatches", "run_epochs")


def minibatches(key: Any, batch: Any, num_minibatches: int) -> Any:
  """The batch's items (leading axis ``[B]`` on every leaf) shuffled by one permutation and
  reshaped to ``[num_minibatches, B / num_minibatches, ...]``.

  Raises:
    ValueError: ``num_minibatches`` does not divide ``B``, or the leaves disagree on ``B``.
  """
  sizes = {x.shape[0] for x in jax.tree.leaves(batch)}
  if len(sizes) != 1:
    raise ValueError(f"minibatches: every leaf needs the same leading [B], got {sorted(sizes)}.")
  size = sizes.pop()
  num_minibatches = validation.check_int("num_minibatches", num_minibatches, minimum=1)
  if size % num_minibatches:
    raise ValueError(f"minibatches: num_minibatches ({num_minibatches}) must divide the batch "
                     f"({size} items).")
  order = jax.random.permutation(key, size)
  return jax.tree.map(lambda x: x[order].reshape((num_minibatches, -1) + x.shape[1:]), batch)


def run_epochs(key: Any, carry: Any, batch: Any, update: Callable[[Any, Any], tuple[Any, Any]],
               *, num_epochs: int, num_minibatches: int) -> tuple[Any, Any]:
  """``num_epochs`` passes of ``update`` over shuffled minibatches of ``batch`` (see the module
  docstring); returns ``(carry, stats [num_epochs, num_minibatches, ...])``."""
  num_epochs = validation.check_int("num_epochs", num_epochs, minimum=1)

  def epoch(c, k):
    return jax.lax.scan(update, c, minibatches(k, batch, num_minibatches))

  return jax.lax.scan(epoch, carry, jax.random.split(key, num_epochs))
