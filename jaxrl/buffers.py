"""A functional uniform replay buffer, after flashbax: a bundle of pure functions over a pytree state.

A :class:`ReplayBuffer` is ``(init, add, sample, can_sample, add_donated)``, made by
:func:`make_replay_buffer`, which checks the static sizes in Python and closes over them. The state
is a :class:`ReplayBufferState` pytree, so a buffer lives inside ``jit``, ``lax.scan`` and ``vmap``
(one buffer per seed) like any other array.

The storage is a ring of ``capacity`` slots. ``add`` writes ``N`` items at ``position`` (wrapping
around the end), so the oldest items are overwritten first; ``sample`` draws ``batch_size`` slots
uniformly, with replacement, from the ``size`` slots written so far, never from unwritten ones:

    i_b ~ Uniform{0, ..., size - 1},  b = 1..batch_size.

Shapes: ``C`` capacity, ``N`` items per add (e.g. one per parallel environment), ``B`` batch size;
``item`` is any pytree of arrays (e.g. a :class:`Transition`).

Donation: the storage is the big array. Outside a compiled training loop, call
``jax.jit(buffer.add, donate_argnums=0)`` (or ``buffer.add_donated``) so XLA writes the new items
into the old storage in place instead of copying the whole ring; the state passed in is then
deleted and must not be used again. For a vmapped batch of buffers donate around the vmap,
``jax.jit(jax.vmap(buffer.add), donate_argnums=0)``. Inside one jitted ``lax.scan`` loop nothing
needs to be done: XLA updates the carried storage in place.

References:
  Mnih et al. (2015), Human-level control through deep reinforcement learning, Nature 518.
  Lin (1992), Self-improving reactive agents based on reinforcement learning, planning and teaching.
  Toledo et al. (2023), flashbax: streamlining experience replay buffers for RL with JAX.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl import validation

Array = chex.Array
PRNGKey = chex.PRNGKey

__all__ = (
    "ReplayBuffer",
    "ReplayBufferState",
    "Transition",
    "make_replay_buffer",
)


class Transition(NamedTuple):
  """One step of experience ``(s_t, a_t, r_{t+1}, discount_{t+1}, s_{t+1})`` for Q-learning.

  The TD target is ``r + discount * max_a Q(next_obs, a)``, so ``discount`` carries everything
  bootstrapping needs:

      discount = gamma * (1 - terminated).

  It is zero only at a true termination (the episode ended in an absorbing state). At a
  truncation (a time limit) the episode did not end in the MDP: keep ``discount = gamma`` and
  store as ``next_obs`` the observation the step reached, ``info["final_observation"]``, not
  the first observation of the next episode, which auto-resetting environments return as
  ``obs``. Never store ``done = terminated or truncated``.

  Attributes:
    obs: ``[*O]`` observation ``s_t`` where the action was taken.
    action: int32 ``[]`` action ``a_t``.
    reward: float ``[]`` reward ``r_{t+1}``.
    discount: float ``[]`` ``gamma * (1 - terminated)``.
    next_obs: ``[*O]`` observation ``s_{t+1}`` (the final observation on truncation).

  With a leading axis on every field (``[N, ...]``) the same tuple is a batch of transitions.
  """

  obs: Array
  action: Array
  reward: Array
  discount: Array
  next_obs: Array


@struct.dataclass
class ReplayBufferState:
  """The contents of a replay buffer: a pytree, updated functionally.

  Attributes:
    storage: the item pytree with a leading ``[C]`` on every leaf; slots ``>= size`` are zeros.
    position: int32 ``[]`` the next slot to write, in ``[0, C)``.
    size: int32 ``[]`` number of slots written, ``<= C``.
  """

  storage: Any
  position: Array
  size: Array


class ReplayBuffer(NamedTuple):
  """Pure functions over a :class:`ReplayBufferState`, made by :func:`make_replay_buffer`.

  Attributes:
    init: ``init(example_item) -> state``; ``example_item`` is ONE item, without a leading axis
      (its values are ignored, only shapes and dtypes are used).
    add: ``add(state, items) -> state``; every leaf of ``items`` has a leading ``[N]``.
    sample: ``sample(state, key) -> items`` with a leading ``[B]`` on every leaf.
    can_sample: ``can_sample(state) -> bool []``, ``size >= max(min_size, batch_size)``.
    add_donated: ``jax.jit(add, donate_argnums=0)``; the argument state is consumed.
  """

  init: Callable[[Any], ReplayBufferState]
  add: Callable[[ReplayBufferState, Any], ReplayBufferState]
  sample: Callable[[ReplayBufferState, PRNGKey], Any]
  can_sample: Callable[[ReplayBufferState], Array]
  add_donated: Callable[[ReplayBufferState, Any], ReplayBufferState]


def _leaf_name(path) -> str:
  name = jax.tree_util.keystr(path)
  return f"item{name}" if name else "item"


def _checked_items(storage: Any, items: Any, capacity: int) -> tuple[Any, int]:
  """``items`` cast to the storage's dtypes, and their count ``N``; ValueError naming the leaf
  whose structure, leading axis, item shape or dtype does not fit (static shapes: also while
  tracing)."""
  storage_def = jax.tree.structure(storage)
  items_def = jax.tree.structure(items)
  if storage_def != items_def:
    raise ValueError(f"add got items with structure {items_def}, but the buffer holds "
                     f"{storage_def}.")
  num_items = None
  checked = []
  for (path, slot), x in zip(jax.tree_util.tree_flatten_with_path(storage)[0],
                             jax.tree.leaves(items)):
    name = _leaf_name(path)
    x = jnp.asarray(x)
    if x.ndim < 1:
      raise ValueError(f"add needs a leading [N] axis on every leaf; {name} is a scalar. Add "
                       "one item as jax.tree.map(lambda x: x[None], item).")
    if num_items is None:
      num_items = x.shape[0]
    if x.shape[0] != num_items:
      raise ValueError(f"add got {num_items} items on one leaf but {x.shape[0]} on {name}; "
                       "every leaf needs the same leading [N].")
    if x.shape[1:] != slot.shape[1:]:
      raise ValueError(f"add: {name} has item shape {x.shape[1:]} (with N={num_items}), but "
                       f"the buffer stores {slot.shape[1:]}.")
    if not np.can_cast(x.dtype, slot.dtype, casting="same_kind"):
      raise ValueError(f"add: {name} has dtype {x.dtype}, which does not convert safely to the "
                       f"buffer's {slot.dtype}.")
    checked.append(x.astype(slot.dtype))
  if num_items > capacity:
    raise ValueError(f"add got N={num_items} items, more than capacity ({capacity}); the "
                     "first ones would be overwritten by the same add.")
  return jax.tree.unflatten(items_def, checked), num_items


def make_replay_buffer(capacity: int, batch_size: int, min_size: int | None = None) -> ReplayBuffer:
  """Makes a uniform, fixed-capacity replay buffer (a ring; oldest items overwritten first).

  ``add`` writes ``N`` items to slots ``(position + n) mod C``, ``n = 0..N-1``, then

      position <- (position + N) mod C,    size <- min(size + N, C).

  ``sample`` draws ``B`` indices ``i ~ Uniform{0, ..., size - 1}`` with replacement and returns
  ``storage[i]``. Sampling from a buffer for which ``can_sample`` is false is not an error under
  ``jit``; with ``size == 0`` it returns the zeros of slot 0. Gate learning on ``can_sample``.

  Args:
    capacity: ``C``, the number of slots (static).
    batch_size: ``B``, items per ``sample`` (static), ``1 <= B <= C``.
    min_size: items needed before ``can_sample`` is true (a warm-up), ``<= C``. Defaults to
      ``batch_size``; the threshold used is ``max(min_size, batch_size)``.

  Returns:
    A :class:`ReplayBuffer`.

  Raises:
    ValueError: naming ``capacity``, ``batch_size`` or ``min_size`` when out of range. The
      returned ``init``/``add`` raise ValueError when the item shapes do not fit (checked on
      static shapes, so also while tracing).

  Example:
    >>> buffer = make_replay_buffer(capacity=1000, batch_size=32, min_size=100)
    >>> example = Transition(obs=jnp.zeros(4), action=jnp.int32(0), reward=jnp.float32(0),
    ...                      discount=jnp.float32(0), next_obs=jnp.zeros(4))
    >>> state = buffer.init(example)
    >>> items = jax.tree.map(lambda x: jnp.stack([x] * 8), example)   # N = 8 environments
    >>> state = buffer.add(state, items)
    >>> int(state.size), bool(buffer.can_sample(state))
    (8, False)
    >>> batch = buffer.sample(state, jax.random.key(0))   # every leaf [32, ...]
    >>> batch.obs.shape
    (32, 4)
  """
  capacity = validation.check_int("capacity", capacity, minimum=1)
  batch_size = validation.check_int("batch_size", batch_size, minimum=1)
  if batch_size > capacity:
    raise ValueError(f"batch_size ({batch_size}) must be <= capacity ({capacity}).")
  if min_size is None:
    min_size = batch_size
  min_size = validation.check_int("min_size", min_size, minimum=0)
  if min_size > capacity:
    raise ValueError(f"min_size ({min_size}) must be <= capacity ({capacity}); the buffer could "
                     "never be sampled.")
  threshold = max(min_size, batch_size)

  def init(example_item: Any) -> ReplayBufferState:
    leaves = jax.tree_util.tree_leaves(example_item)
    if not leaves:
      raise ValueError("init needs an example item with at least one array leaf, got "
                       f"{example_item!r}.")

    def zeros(x):
      x = jnp.asarray(x)
      return jnp.zeros((capacity,) + x.shape, x.dtype)

    return ReplayBufferState(
        storage=jax.tree.map(zeros, example_item),
        position=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32))

  def add(state: ReplayBufferState, items: Any) -> ReplayBufferState:
    new_items, num_items = _checked_items(state.storage, items, capacity)
    chex.assert_type([state.position, state.size], [jnp.int32, jnp.int32])

    indices = (state.position + jnp.arange(num_items, dtype=jnp.int32)) % capacity
    storage = jax.tree.map(
        lambda s, x: s.at[indices].set(x, unique_indices=True), state.storage, new_items)
    return state.replace(
        storage=storage,
        position=(state.position + num_items) % capacity,
        size=jnp.minimum(state.size + num_items, capacity).astype(jnp.int32))

  def sample(state: ReplayBufferState, key: PRNGKey) -> Any:
    high = jnp.maximum(state.size, 1)
    indices = jax.random.randint(key, (batch_size,), 0, high, dtype=jnp.int32)
    return jax.tree.map(lambda s: s[indices], state.storage)

  def can_sample(state: ReplayBufferState) -> Array:
    return state.size >= threshold

  return ReplayBuffer(
      init=init,
      add=add,
      sample=sample,
      can_sample=can_sample,
      add_donated=jax.jit(add, donate_argnums=0))
