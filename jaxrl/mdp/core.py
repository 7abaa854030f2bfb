"""The tabular MDP as data: arrays in a pytree, validated at the edge.

An MDP is ``(transitions, rewards, discount)``:

* ``transitions``: dense probabilities ``[S, A, S']``, or a :class:`SparseTransitions`
  holding successor ``indices`` and ``probs``, both ``[S, A, K]``;
* ``rewards``: ``[S, A]`` (expected reward of acting) or one reward per transition,
  ``[S, A, S']`` dense or ``[S, A, K]`` sparse;
* ``discount``: a scalar in ``[0, 1]``.

Every leaf may carry the same leading batch axes ``[*B]`` (as ``jax.tree.map(jnp.stack, ...)``
makes); a batch is solved with ``jax.vmap``. Constructing a :class:`TabularMDP` from concrete
arrays validates it in Python and raises ``ValueError`` naming the problem. Inside ``jit``,
``vmap`` or ``tree_map`` (traced or placeholder leaves) it is a plain pytree and checks nothing.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import validation

__all__ = (
    "PROB_ATOL",
    "SparseTransitions",
    "TabularMDP",
    "to_dense",
)


#: Default tolerance on ``|sum_s' P(s' | s, a) - 1|`` accepted by the validator.
PROB_ATOL = 1e-5


def _is_concrete(x: Any) -> bool:
  """True for arrays whose values Python can read (numpy, committed jax arrays)."""
  if validation.is_traced(x):
    return False
  return isinstance(x, (np.ndarray, np.generic, jax.Array, float, int, bool, list, tuple))


def _fmt_index(batch_shape: tuple[int, ...], flat: np.ndarray, names: tuple[str, ...]) -> str:
  """Formats the first offending position as ``batch=(..), s=.., a=..``."""
  parts = []
  idx = [int(i) for i in flat]
  if batch_shape:
    parts.append(f"batch={tuple(idx[: len(batch_shape)])}")
    idx = idx[len(batch_shape):]
  parts += [f"{n}={i}" for n, i in zip(names, idx)]
  return ", ".join(parts)


@jax.tree_util.register_pytree_node_class
class SparseTransitions:
  """Transitions as a fixed number ``K`` of successors per state-action pair.

  ``P(indices[s, a, k] | s, a) = probs[s, a, k]``. Repeated indices add up, and zero-probability
  padding is allowed, so any MDP with at most ``K`` successors per ``(s, a)`` fits.

  Attributes:
    indices: int ``[*B, S, A, K]`` successor states.
    probs: float ``[*B, S, A, K]`` their probabilities; each ``[s, a]`` row sums to 1.
  """

  __slots__ = ("indices", "probs")

  def __init__(self, indices, probs):
    if _is_concrete(indices) and _is_concrete(probs):
      indices = jnp.asarray(indices)
      probs = jnp.asarray(probs)
      if not jnp.issubdtype(indices.dtype, jnp.integer):
        raise ValueError(f"SparseTransitions.indices must be integers, got dtype {indices.dtype}.")
      if indices.shape != probs.shape:
        raise ValueError(
            f"SparseTransitions.indices {indices.shape} and probs {probs.shape} must have the same "
            "shape [*B, S, A, K].")
      if indices.ndim < 3:
        raise ValueError(f"SparseTransitions need shape [*B, S, A, K], got {indices.shape}.")
    object.__setattr__(self, "indices", indices)
    object.__setattr__(self, "probs", probs)

  def __setattr__(self, name, value):
    raise AttributeError("SparseTransitions is immutable.")

  def tree_flatten(self):
    return (self.indices, self.probs), None

  @classmethod
  def tree_unflatten(cls, aux, children):
    obj = object.__new__(cls)
    object.__setattr__(obj, "indices", children[0])
    object.__setattr__(obj, "probs", children[1])
    return obj

  @property
  def shape(self) -> tuple[int, ...]:
    """``[*B, S, A, K]``."""
    return tuple(self.probs.shape)

  def __repr__(self):
    return f"SparseTransitions(shape={self.shape})"


@jax.tree_util.register_pytree_node_class
class TabularMDP:
  """A finite MDP stored as arrays; see the module docstring for the layout.

  Rewards are received on acting: ``r(s, a)`` or ``r(s, a, s')``. The value of a policy is
  ``V(s) = E[sum_t discount^t r_t | s_0 = s]``.

  Args:
    transitions: dense float ``[*B, S, A, S]`` or :class:`SparseTransitions` ``[*B, S, A, K]``.
    rewards: float ``[*B, S, A]``, or per transition ``[*B, S, A, S]`` (dense) /
      ``[*B, S, A, K]`` (sparse).
    discount: float ``[*B]`` (a scalar for a single MDP), in ``[0, 1]``.
    atol: tolerance of the row-sum check (validation only).

  Raises:
    ValueError: built from concrete arrays that do not describe an MDP; the message names the
      field and, where there is one, the offending batch index, state and action.

  Example:
    >>> P = jnp.array([[[1.0]]]); R = jnp.array([[1.0]])
    >>> mdp = TabularMDP(P, R, 0.5)
    >>> mdp.num_states, mdp.num_actions
    (1, 1)
  """

  __slots__ = ("transitions", "rewards", "discount")

  def __init__(self, transitions, rewards, discount, *, atol: float = PROB_ATOL):
    leaves = jax.tree_util.tree_leaves((transitions, rewards, discount))
    if leaves and all(_is_concrete(x) for x in leaves):
      transitions, rewards, discount = _validate(transitions, rewards, discount, atol)
    elif validation.any_traced(leaves):
      # Partly traced (e.g. fixed numpy arrays with a traced discount): make the numpy leaves
      # jax arrays so traced indexing works on them; tracers and placeholders pass through.
      transitions, rewards, discount = jax.tree.map(
          lambda x: jnp.asarray(x) if isinstance(x, (np.ndarray, np.generic, float, int)) else x,
          (transitions, rewards, discount))
    object.__setattr__(self, "transitions", transitions)
    object.__setattr__(self, "rewards", rewards)
    object.__setattr__(self, "discount", discount)

  def __setattr__(self, name, value):
    raise AttributeError("TabularMDP is immutable; use .replace(...).")

  def tree_flatten(self):
    return (self.transitions, self.rewards, self.discount), None

  @classmethod
  def tree_unflatten(cls, aux, children):
    obj = object.__new__(cls)
    for name, value in zip(cls.__slots__, children):
      object.__setattr__(obj, name, value)
    return obj

  def replace(self, **changes) -> "TabularMDP":
    """Returns a copy with some fields replaced (validated again when concrete)."""
    fields = {n: getattr(self, n) for n in self.__slots__}
    fields.update(changes)
    return TabularMDP(**fields)

  # Shapes --------------------------------------------------------------------------------
  @property
  def is_sparse(self) -> bool:
    return isinstance(self.transitions, SparseTransitions)

  @property
  def batch_shape(self) -> tuple[int, ...]:
    return tuple(self.transitions.shape[:-3])

  @property
  def num_states(self) -> int:
    return int(self.transitions.shape[-3])

  @property
  def num_actions(self) -> int:
    return int(self.transitions.shape[-2])

  def __repr__(self):
    kind = "sparse" if self.is_sparse else "dense"
    return (f"TabularMDP({kind}, batch_shape={self.batch_shape}, num_states={self.num_states}, "
            f"num_actions={self.num_actions})")


def _validate(transitions, rewards, discount, atol):
  """Checks concrete arrays; returns them as jax arrays. Raises ValueError."""
  atol = validation.check_number("TabularMDP atol (row-sum tolerance)", atol, low=0.0)
  sparse = isinstance(transitions, SparseTransitions)
  if sparse:
    probs = np.asarray(transitions.probs)
    indices = np.asarray(transitions.indices)
  else:
    probs = np.asarray(transitions)
    if probs.ndim < 3:
      raise ValueError(f"transitions must have shape [*B, S, A, S'], got {probs.shape}.")
    if not np.issubdtype(probs.dtype, np.floating):
      probs = probs.astype(np.float32)
  batch = probs.shape[:-3]
  num_states, num_actions, width = probs.shape[-3:]
  if num_states == 0 or num_actions == 0:
    raise ValueError(f"an MDP needs at least one state and one action, got transitions {probs.shape}.")
  if not sparse and width != num_states:
    raise ValueError(
        f"transitions must be square in states, [*B, S, A, S], got {probs.shape} "
        f"({num_states} states but {width} successor columns).")

  def first(bad, names):
    return _fmt_index(batch, np.argwhere(bad)[0], names)

  if not np.all(np.isfinite(probs)):
    raise ValueError(f"transitions contain NaN or infinity at [{first(~np.isfinite(probs), ('s', 'a', 'next'))}].")
  if np.any(probs < 0):
    where = first(probs < 0, ("s", "a", "next"))
    raise ValueError(f"transitions have a negative probability at [{where}].")
  if sparse:
    bad = (indices < 0) | (indices >= num_states)
    if np.any(bad):
      where = first(bad, ("s", "a", "k"))
      raise ValueError(f"SparseTransitions.indices out of range [0, {num_states}) at [{where}].")
  sums = probs.sum(-1)
  bad = np.abs(sums - 1.0) > atol
  if np.any(bad):
    pos = np.argwhere(bad)[0]
    raise ValueError(
        f"transition probabilities at [{_fmt_index(batch, pos, ('s', 'a'))}] sum to "
        f"{float(sums[tuple(pos)]):.6g}, not 1 (tolerance {atol}).")

  rewards = np.asarray(rewards)
  if not np.issubdtype(rewards.dtype, np.floating):
    rewards = rewards.astype(probs.dtype)
  allowed = [batch + (num_states, num_actions), batch + (num_states, num_actions, width)]
  if rewards.shape not in allowed:
    layout = "[*B, S, A] or [*B, S, A, K]" if sparse else "[*B, S, A] or [*B, S, A, S]"
    raise ValueError(
        f"rewards must have shape {layout} = {allowed[0]} or {allowed[1]}, got {rewards.shape}.")
  if not np.all(np.isfinite(rewards)):
    names = ("s", "a", "next")[: rewards.ndim - len(batch)]
    raise ValueError(f"rewards contain NaN or infinity at [{first(~np.isfinite(rewards), names)}].")

  discount = np.asarray(discount)
  if not np.issubdtype(discount.dtype, np.floating):
    discount = discount.astype(probs.dtype)
  if discount.shape != batch:
    raise ValueError(
        f"discount must have the batch shape {batch} (a scalar for a single MDP), got {discount.shape}.")
  bad = ~np.isfinite(discount) | (discount < 0) | (discount > 1)
  if np.any(bad):
    pos = np.argwhere(bad)[0] if batch else ()
    value = float(discount[tuple(pos)])
    where = f" at batch={tuple(int(i) for i in pos)}" if batch else ""
    raise ValueError(f"discount must lie in [0, 1], got {value}{where}.")

  dtype = jax.dtypes.canonicalize_dtype(probs.dtype)  # float64 -> float32 unless x64 is on
  if sparse:
    transitions = SparseTransitions(jnp.asarray(indices, jnp.int32), jnp.asarray(probs, dtype))
  else:
    transitions = jnp.asarray(probs, dtype)
  return transitions, jnp.asarray(rewards, dtype), jnp.asarray(discount, dtype)


def to_dense(mdp: TabularMDP) -> TabularMDP:
  """Returns the same MDP with dense ``[*B, S, A, S]`` transitions (and ``[*B, S, A]`` rewards
  when the sparse rewards were per successor). A dense MDP comes back unchanged."""
  if not mdp.is_sparse:
    return mdp
  t = mdp.transitions
  num_states = mdp.num_states
  onehot = jax.nn.one_hot(t.indices, num_states, dtype=t.probs.dtype)  # [*B,S,A,K,S]
  # A broadcast multiply-and-sum keeps the [..., S, A, S] layout under vmap; an einsum here
  # made XLA lay a vmapped batch out as [S, A, B, S] and transpose it on every sweep.
  dense = jnp.sum(t.probs[..., None] * onehot, axis=-2)
  rewards = mdp.rewards
  if rewards.ndim == t.probs.ndim:  # per successor: collapse to the expectation
    rewards = jnp.sum(t.probs * rewards, axis=-1)
  return TabularMDP.tree_unflatten(None, (dense, rewards, mdp.discount))
