"""Functional replay buffers, after flashbax: bundles of pure functions over a pytree state.

A :class:`ReplayBuffer` is ``(init, add, sample, can_sample, add_donated)``, made by
:func:`make_replay_buffer`, which checks the static sizes in Python and closes over them. The state
is a :class:`ReplayBufferState` pytree, so a buffer lives inside ``jit``, ``lax.scan`` and ``vmap``
(one buffer per seed) like any other array.

The storage is a ring of ``capacity`` slots. ``add`` writes ``N`` items at ``position`` (wrapping
around the end), so the oldest items are overwritten first; ``sample`` draws ``batch_size`` slots
uniformly, with replacement, from the ``size`` slots written so far, never from unwritten ones:

    i_b ~ Uniform{0, ..., size - 1},  b = 1..batch_size.

A :class:`PrioritizedReplayBuffer` (:func:`make_prioritized_replay_buffer`; Schaul et al., 2016)
keeps the same ring plus a sum tree over per-slot priorities ``p_i``, and draws slot ``i`` with
probability

    P(i) = p_i / sum_j p_j

(stratified: one draw in each of ``B`` equal segments of the total), new items entering at the
largest priority set so far. The caller sets priorities from TD errors with
``update_priorities`` and corrects the sampling bias with :func:`importance_weights`,

    w_i = (size P(i))^(-beta) / max_j w_j.

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
  Schaul, Quan, Antonoglou and Silver (2016), Prioritized experience replay, ICLR.
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
    "PrioritizedReplayBuffer",
    "PrioritizedReplayBufferState",
    "PrioritizedSample",
    "ReplayBuffer",
    "ReplayBufferState",
    "Transition",
    "importance_weights",
    "make_prioritized_replay_buffer",
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


def _checked_sizes(capacity: Any, batch_size: Any, min_size: Any) -> tuple[int, int, int]:
  """``(capacity, batch_size, threshold)`` as Python ints, ``threshold = max(min_size,
  batch_size)`` (``min_size`` defaults to ``batch_size``); ValueError naming ``capacity``,
  ``batch_size`` or ``min_size`` when out of range. Shared by every buffer factory."""
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
  return capacity, batch_size, max(min_size, batch_size)


def _empty_storage(example_item: Any, capacity: int) -> Any:
  """Zeros with a leading ``[C]`` on every leaf of ``example_item`` (one item, no leading
  axis); ValueError if it has no array leaf."""
  if not jax.tree_util.tree_leaves(example_item):
    raise ValueError("init needs an example item with at least one array leaf, got "
                     f"{example_item!r}.")

  def zeros(x):
    x = jnp.asarray(x)
    return jnp.zeros((capacity,) + x.shape, x.dtype)

  return jax.tree.map(zeros, example_item)


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
  capacity, batch_size, threshold = _checked_sizes(capacity, batch_size, min_size)

  def init(example_item: Any) -> ReplayBufferState:
    return ReplayBufferState(
        storage=_empty_storage(example_item, capacity),
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


# ---------------------------------------------------------------------------------------------
# Proportional prioritized replay (Schaul et al., 2016)
# ---------------------------------------------------------------------------------------------
@struct.dataclass
class PrioritizedReplayBufferState:
  """The contents of a prioritized replay buffer: the ring of :class:`ReplayBufferState` plus a
  sum tree over the slots' priorities.

  The tree is an array ``[2P]``, ``P`` the smallest power of two ``>= C``: node ``k`` has
  children ``2k`` and ``2k + 1``; the leaves ``tree[P + i]`` hold slot ``i``'s priority ``p_i``
  for ``i < C`` (0 while the slot is unwritten, 0 for the padding ``i >= C``); every inner node
  is the sum of its two children, so the root ``tree[1]`` is the total ``sum_i p_i`` (``tree[0]``
  is unused).

  Attributes:
    storage: the item pytree with a leading ``[C]`` on every leaf; slots ``>= size`` are zeros.
    position: int32 ``[]`` the next slot to write, in ``[0, C)``.
    size: int32 ``[]`` number of slots written, ``<= C``.
    tree: float32 ``[2P]`` the sum tree; ``tree[1]`` is the total priority.
    max_priority: float32 ``[]`` the largest priority ever set (1.0 at first); new items get it.
  """

  storage: Any
  position: Array
  size: Array
  tree: Array
  max_priority: Array


class PrioritizedSample(NamedTuple):
  """A batch drawn by :class:`PrioritizedReplayBuffer`'s ``sample``.

  Attributes:
    items: the item pytree with a leading ``[B]`` on every leaf.
    indices: int32 ``[B]`` the slots drawn (pass them back to ``update_priorities``).
    probabilities: float32 ``[B]`` ``P(i) = p_i / sum_j p_j`` of each drawn slot (for
      :func:`importance_weights`).
  """

  items: Any
  indices: Array
  probabilities: Array


class PrioritizedReplayBuffer(NamedTuple):
  """Pure functions over a :class:`PrioritizedReplayBufferState`, made by
  :func:`make_prioritized_replay_buffer`.

  Attributes:
    init: ``init(example_item) -> state``; ``example_item`` is ONE item, without a leading axis.
    add: ``add(state, items) -> state``; every leaf of ``items`` has a leading ``[N]``; the
      written slots get priority ``max_priority`` (an overwritten item's priority goes with it).
    sample: ``sample(state, key) -> PrioritizedSample``, ``B`` items drawn with probability
      ``P(i) = p_i / sum_j p_j``, stratified (one draw per ``1/B`` of the total priority).
    update_priorities: ``update_priorities(state, indices [B], priorities [B]) -> state``; the
      priorities are already exponentiated (``p_i = (|delta_i| + eps)^alpha``) and ``> 0``; a
      slot repeated in ``indices`` keeps the largest of its priorities.
    can_sample: ``can_sample(state) -> bool []``, ``size >= max(min_size, batch_size)``.
    add_donated: ``jax.jit(add, donate_argnums=0)``; the argument state is consumed.
  """

  init: Callable[[Any], PrioritizedReplayBufferState]
  add: Callable[[PrioritizedReplayBufferState, Any], PrioritizedReplayBufferState]
  sample: Callable[[PrioritizedReplayBufferState, PRNGKey], PrioritizedSample]
  update_priorities: Callable[[PrioritizedReplayBufferState, Array, Array],
                              PrioritizedReplayBufferState]
  can_sample: Callable[[PrioritizedReplayBufferState], Array]
  add_donated: Callable[[PrioritizedReplayBufferState, Any], PrioritizedReplayBufferState]


def _set_leaves(tree: Array, slots: Array, values: Array, num_leaves: int,
                unique: bool = False) -> Array:
  """``tree`` with leaf ``slots[b]`` set to ``values[b]`` and every ancestor recomputed from its
  two children, level by level (``tree[k] = tree[2k] + tree[2k+1]``), so that sums never drift
  however many updates came before. Where a slot repeats, the LARGEST of its values is kept
  (deterministic, unlike a scatter-set of duplicates; O(B), unlike resolving "last wins"); the
  repeats only recompute the same ancestors again. ``unique=True`` promises distinct slots
  (``add``) and skips that resolution."""
  leaves = num_leaves + slots
  if unique:
    tree = tree.at[leaves].set(values, unique_indices=True)
  else:
    tree = tree.at[leaves].set(0).at[leaves].max(values)

  def level_up(_, carry):      # a fori_loop, not unrolled: XLA:CPU fuses unrolled levels badly
    tree, nodes = carry
    nodes = nodes // 2
    return tree.at[nodes].set(tree[2 * nodes] + tree[2 * nodes + 1]), nodes

  depth = num_leaves.bit_length() - 1              # log2(P) levels up to the root
  return jax.lax.fori_loop(0, depth, level_up, (tree, leaves))[0]


def make_prioritized_replay_buffer(capacity: int, batch_size: int,
                                   min_size: int | None = None) -> PrioritizedReplayBuffer:
  """Makes a proportional prioritized replay buffer (Schaul et al., 2016) over a ring of slots.

  Slot ``i`` is drawn with probability

      P(i) = p_i / sum_j p_j,

  where the priority ``p_i`` is set by ``update_priorities`` (the caller exponentiates:
  ``p_i = (|delta_i| + eps)^alpha``) and a new item gets ``max_priority``, the largest priority
  ever set (1.0 at first), so that every item is likely to be replayed at least once. The ring is
  :func:`make_replay_buffer`'s (``add`` writes ``N`` items at ``position``, the oldest
  overwritten first, and an overwritten slot's priority is replaced by ``max_priority``).

  ``sample`` is stratified: with total ``T = sum_j p_j``, draw ``b = 0..B-1`` takes

      u_b = (b + U_b) T / B,    U_b ~ Uniform[0, 1),

  clamped to ``[0, T)``, and descends the sum tree from the root: at a node with children sums
  ``(l, r)`` it goes left if ``u < l`` or ``r = 0``, else right with ``u <- u - l``. The
  ``r = 0`` rule keeps float32 rounding from ever reaching an unwritten slot (priority 0): the
  descent only enters nodes whose sum is positive. Correct the bias of prioritized sampling with
  :func:`importance_weights`. ``add`` and ``update_priorities`` cost ``O(N log C)`` and
  ``O(B log C)``, ``sample`` ``O(B log C)``.

  Sampling from a buffer for which ``can_sample`` is false is not an error under ``jit``; with
  ``size == 0`` it returns slot 0 (zeros) with probability 0. Gate learning on ``can_sample``.

  Args:
    capacity: ``C``, the number of slots (static).
    batch_size: ``B``, items per ``sample`` and per ``update_priorities`` (static),
      ``1 <= B <= C``.
    min_size: items needed before ``can_sample`` is true (a warm-up), ``<= C``. Defaults to
      ``batch_size``; the threshold used is ``max(min_size, batch_size)``.

  Returns:
    A :class:`PrioritizedReplayBuffer`.

  Raises:
    ValueError: naming ``capacity``, ``batch_size`` or ``min_size`` when out of range. The
      returned ``init``/``add`` raise ValueError when the item shapes do not fit, and
      ``update_priorities`` when ``indices`` or ``priorities`` is not ``[B]`` (static shapes,
      so also while tracing) or when concrete priorities are not all positive and finite
      (traced ones are checked under :func:`jaxrl.validation.checked`).

  References:
    Schaul, Quan, Antonoglou and Silver (2016), Prioritized experience replay, ICLR.

  Example:
    >>> buffer = make_prioritized_replay_buffer(capacity=1000, batch_size=4)
    >>> example = Transition(obs=jnp.zeros(4), action=jnp.int32(0), reward=jnp.float32(0),
    ...                      discount=jnp.float32(0), next_obs=jnp.zeros(4))
    >>> state = buffer.init(example)
    >>> items = jax.tree.map(lambda x: jnp.stack([x] * 8), example)   # N = 8 environments
    >>> state = buffer.add(state, items)       # all 8 get priority max_priority = 1
    >>> batch = buffer.sample(state, jax.random.key(0))
    >>> batch.items.obs.shape, batch.probabilities.tolist()
    ((4, 4), [0.125, 0.125, 0.125, 0.125])
    >>> td_error = jnp.array([0.5, -2.0, 0.0, 1.0])
    >>> priorities = (jnp.abs(td_error) + 1e-6) ** 0.6                 # alpha = 0.6
    >>> weights = importance_weights(batch.probabilities, state.size, beta=0.4)
    >>> state = buffer.update_priorities(state, batch.indices, priorities)
    >>> round(float(state.max_priority), 4)                            # 2 ** 0.6
    1.5157
  """
  capacity, batch_size, threshold = _checked_sizes(capacity, batch_size, min_size)
  num_leaves = 1 << (capacity - 1).bit_length()      # P: the smallest power of two >= C
  depth = num_leaves.bit_length() - 1                 # log2(P) levels below the root

  def init(example_item: Any) -> PrioritizedReplayBufferState:
    return PrioritizedReplayBufferState(
        storage=_empty_storage(example_item, capacity),
        position=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32),
        tree=jnp.zeros((2 * num_leaves,), jnp.float32),
        max_priority=jnp.ones((), jnp.float32))

  def add(state: PrioritizedReplayBufferState, items: Any) -> PrioritizedReplayBufferState:
    new_items, num_items = _checked_items(state.storage, items, capacity)
    chex.assert_type([state.position, state.size, state.tree, state.max_priority],
                     [jnp.int32, jnp.int32, jnp.float32, jnp.float32])
    indices = (state.position + jnp.arange(num_items, dtype=jnp.int32)) % capacity
    storage = jax.tree.map(
        lambda s, x: s.at[indices].set(x, unique_indices=True), state.storage, new_items)
    priorities = jnp.broadcast_to(state.max_priority, (num_items,))
    return state.replace(
        storage=storage,
        position=(state.position + num_items) % capacity,
        size=jnp.minimum(state.size + num_items, capacity).astype(jnp.int32),
        tree=_set_leaves(state.tree, indices, priorities, num_leaves, unique=True))

  def sample(state: PrioritizedReplayBufferState, key: PRNGKey) -> PrioritizedSample:
    tree = state.tree
    total = tree[1]
    below_total = jnp.maximum(jnp.nextafter(total, jnp.float32(0)), 0)   # largest u < T
    offsets = jax.random.uniform(key, (batch_size,), jnp.float32)
    u = (jnp.arange(batch_size, dtype=jnp.float32) + offsets) * (total / batch_size)
    u = jnp.clip(u, 0, below_total)

    def level_down(_, carry):   # a fori_loop: unrolled, XLA:CPU runs the descent ~7x slower
      nodes, u = carry
      left = tree[2 * nodes]
      go_left = (u < left) | (tree[2 * nodes + 1] <= 0)
      return 2 * nodes + jnp.where(go_left, 0, 1), jnp.where(go_left, u, u - left)

    nodes = jax.lax.fori_loop(0, depth, level_down,
                              (jnp.ones((batch_size,), jnp.int32), u))[0]
    indices = nodes - num_leaves
    probabilities = tree[nodes] / jnp.where(total > 0, total, 1)
    items = jax.tree.map(lambda s: s[indices], state.storage)
    return PrioritizedSample(items=items, indices=indices, probabilities=probabilities)

  def update_priorities(state: PrioritizedReplayBufferState, indices: Array,
                        priorities: Array) -> PrioritizedReplayBufferState:
    for name, x in (("indices", indices), ("priorities", priorities)):
      shape = jnp.shape(x)
      if shape != (batch_size,):
        raise ValueError(f"update_priorities: {name} has shape {shape}, but the buffer's "
                         f"batch_size needs ({batch_size},).")
    if validation.is_traced(priorities):
      validation.check_rule_traced("priorities", priorities, validation.POSITIVE)
    else:
      validation.check_rule("priorities", priorities, validation.POSITIVE)
    indices = jnp.asarray(indices).astype(jnp.int32)
    priorities = jnp.asarray(priorities).astype(jnp.float32)
    return state.replace(
        tree=_set_leaves(state.tree, indices, priorities, num_leaves),
        max_priority=jnp.maximum(state.max_priority, jnp.max(priorities)))

  def can_sample(state: PrioritizedReplayBufferState) -> Array:
    return state.size >= threshold

  return PrioritizedReplayBuffer(
      init=init,
      add=add,
      sample=sample,
      update_priorities=update_priorities,
      can_sample=can_sample,
      add_donated=jax.jit(add, donate_argnums=0))


def importance_weights(probabilities: Array, size: Array, beta: Array | float) -> Array:
  """Importance-sampling weights that correct the bias of prioritized sampling (Schaul et al.).

      w_i = (size P(i))^(-beta) / max_j w_j,

  ``size`` the number of items in the buffer (``state.size``) and the max over the batch, as in
  Schaul et al. (2016) and Dopamine, so that weights only scale the update down (``w <= 1``).
  ``beta = 1`` corrects fully (uniform sampling's expected update); it is annealed from about 0.4
  to 1 over training. Scale each item's loss by ``w_i`` (``jax.lax.stop_gradient`` not needed:
  no parameter enters). ``beta`` may be traced (a vmapped sweep).

  Args:
    probabilities: float ``[B]`` ``P(i)`` of the sampled items (``PrioritizedSample``), ``> 0``.
    size: int ``[]`` the buffer's ``size``.
    beta: float ``[]`` the correction exponent, in ``[0, 1]``.

  Returns:
    float32 ``[B]`` weights in ``(0, 1]``, the largest exactly 1.

  Example:
    >>> importance_weights(jnp.array([0.5, 0.25, 0.25]), 4, beta=1.0).tolist()
    [0.5, 1.0, 1.0]
  """
  probabilities = jnp.asarray(probabilities, jnp.float32)
  chex.assert_rank([probabilities, size, beta], [1, 0, 0])
  size = jnp.asarray(size, jnp.float32)
  weights = (size * probabilities) ** (-jnp.asarray(beta, jnp.float32))
  return weights / jnp.max(weights)
