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
``vmap`` or ``tree_map`` (traced or placeholder leaves) it is a plain pytree: traced leaves get
their shapes checked (static), their values cannot be read. For those, the same rules exist in
traced form (opt-in): :func:`validity` returns one bool flag per rule and batch member (read it
after the compiled call; :func:`jaxrl.validation.raise_failures` names the bad members), and
:func:`check_traced` emits them as ``checkify`` checks that the solvers run on traced MDPs, raised
by :func:`jaxrl.validation.checked` and free in a plain ``jit``::

    solve = validation.checked(value_iteration, in_axes=0, sequential=True)
    solve(batch)  # ValueError: batch member 3: TabularMDP.transitions rows must sum to 1 ...
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
    "check_traced",
    "to_dense",
    "validity",
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
      if all(hasattr(x, "shape") for x in jax.tree_util.tree_leaves((transitions, rewards,
                                                                       discount))):
        _check_layout(transitions, rewards, discount)
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


def _check_layout(transitions, rewards, discount) -> None:
  """The shape rules (static, so checked for traced leaves too). Raises ValueError."""
  sparse = isinstance(transitions, SparseTransitions)
  shape = tuple(np.shape(transitions.probs if sparse else transitions))
  if sparse and tuple(np.shape(transitions.indices)) != shape:
    raise ValueError(
        f"SparseTransitions.indices {tuple(np.shape(transitions.indices))} and probs {shape} must "
        "have the same shape [*B, S, A, K].")
  if len(shape) < 3:
    raise ValueError(f"transitions must have shape [*B, S, A, S'], got {shape}.")
  batch = shape[:-3]
  num_states, num_actions, width = shape[-3:]
  if num_states == 0 or num_actions == 0:
    raise ValueError(f"an MDP needs at least one state and one action, got transitions {shape}.")
  if not sparse and width != num_states:
    raise ValueError(
        f"transitions must be square in states, [*B, S, A, S], got {shape} "
        f"({num_states} states but {width} successor columns).")
  allowed = [batch + (num_states, num_actions), batch + (num_states, num_actions, width)]
  if tuple(np.shape(rewards)) not in allowed:
    layout = "[*B, S, A] or [*B, S, A, K]" if sparse else "[*B, S, A] or [*B, S, A, S]"
    raise ValueError(
        f"rewards must have shape {layout} = {allowed[0]} or {allowed[1]}, got "
        f"{tuple(np.shape(rewards))}.")
  if tuple(np.shape(discount)) != batch:
    raise ValueError(
        f"discount must have the batch shape {batch} (a scalar for a single MDP), got "
        f"{tuple(np.shape(discount))}.")


def _validate(transitions, rewards, discount, atol):
  """Checks concrete arrays; returns them as jax arrays. Raises ValueError."""
  atol = validation.check_number("TabularMDP atol (row-sum tolerance)", atol, low=0.0)
  sparse = isinstance(transitions, SparseTransitions)
  if sparse:
    probs = np.asarray(transitions.probs)
    indices = np.asarray(transitions.indices)
  else:
    probs = np.asarray(transitions)
    if not np.issubdtype(probs.dtype, np.floating):
      probs = probs.astype(np.float32)
  rewards = np.asarray(rewards)
  discount = np.asarray(discount)
  _check_layout(SparseTransitions.tree_unflatten(None, (indices, probs)) if sparse else probs,
                rewards, discount)
  batch = probs.shape[:-3]
  num_states = probs.shape[-3]

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

  if not np.issubdtype(rewards.dtype, np.floating):
    rewards = rewards.astype(probs.dtype)
  if not np.all(np.isfinite(rewards)):
    names = ("s", "a", "next")[: rewards.ndim - len(batch)]
    raise ValueError(f"rewards contain NaN or infinity at [{first(~np.isfinite(rewards), names)}].")

  if not np.issubdtype(discount.dtype, np.floating):
    discount = discount.astype(probs.dtype)
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


def _rules(mdp: TabularMDP, atol: float) -> list[tuple[str, Any, tuple[str, ...], Any, str]]:
  """The value rules of an MDP, each as ``(words, bad [*B, ...], position names, values, verb)``:
  ``bad`` marks the entries that break the rule, ``values`` (same shape) what to report."""
  t = mdp.transitions
  sparse = isinstance(t, SparseTransitions)
  probs = jnp.asarray(t.probs if sparse else t)
  succ = ("s", "a", "k") if sparse else ("s", "a", "next")
  sums = jnp.sum(probs, -1)
  rewards = jnp.asarray(mdp.rewards)
  discount = jnp.asarray(mdp.discount)
  batch_rank = probs.ndim - 3
  rules = [("TabularMDP.transitions must be finite", ~jnp.isfinite(probs), succ, probs, "is"),
           ("TabularMDP.transitions must be >= 0", probs < 0, succ, probs, "is")]
  if sparse:
    indices = jnp.asarray(t.indices)
    num_states = probs.shape[-3]
    rules.append((f"SparseTransitions.indices must lie in [0, {num_states})",
                  (indices < 0) | (indices >= num_states), succ, indices, "is"))
  rules += [
      (f"TabularMDP.transitions rows must sum to 1 (tolerance {atol:g})",
       ~(jnp.abs(sums - 1.0) <= atol), ("s", "a"), sums, "sums to"),
      ("TabularMDP.rewards must be finite", ~jnp.isfinite(rewards),
       succ[: rewards.ndim - batch_rank], rewards, "is"),
      ("TabularMDP.discount must lie in [0, 1]", ~((discount >= 0) & (discount <= 1)), (),
       discount, "got")]
  return rules


def validity(mdp: TabularMDP, *, atol: float = PROB_ATOL) -> dict[str, Any]:
  """The MDP's value rules as flags, one per rule and batch member; traceable (``jit``, ``vmap``).

  The rules are those the constructor applies to concrete arrays: transition probabilities finite,
  ``>= 0`` and each ``[s, a]`` row summing to 1 within ``atol``; sparse successor indices in
  ``[0, S)``; rewards finite; discount in ``[0, 1]``. Use it where the MDP is traced (built inside
  a compiled function) and read the flags after the call::

      sol, ok = jax.jit(lambda m: (jax.vmap(value_iteration)(m), validity(m)))(batch)
      jaxrl.validation.raise_failures(ok)  # ValueError naming each failing rule and member

  Args:
    mdp: a :class:`TabularMDP` with any batch shape ``[*B]``.
    atol: tolerance of the row-sum rule.

  Returns:
    ``{rule: bool [*B]}``, True where the member obeys the rule (rule: e.g.
    ``"TabularMDP.transitions rows must sum to 1 (tolerance 1e-05)"``).
  """
  batch_rank = len(mdp.batch_shape)
  return {words: ~jnp.any(bad, axis=tuple(range(batch_rank, bad.ndim)))
          for words, bad, *_ in _rules(mdp, atol)}


def check_traced(mdp: TabularMDP, *, atol: float = PROB_ATOL) -> None:
  """Emits the MDP's value rules (see :func:`validity`) as ``checkify`` checks (opt-in).

  Free in a plain ``jit`` (compiled away); under :func:`jaxrl.validation.checked` a broken rule
  raises ValueError naming the rule, the first offending batch member (for a batch) and
  position, and the value, e.g. ``"TabularMDP.transitions rows must sum to 1 (tolerance 1e-05):
  [s=0, a=1] sums to 2.0."`` The solvers call it whenever their MDP is traced. Shapes are static
  and checked at once (ValueError).
  """
  _check_layout(mdp.transitions, mdp.rewards, mdp.discount)
  batch_rank = len(mdp.batch_shape)
  for words, bad, names, values, verb in _rules(mdp, atol):
    where = jnp.argmax(bad.reshape(-1))
    index = jnp.unravel_index(where, bad.shape) if bad.ndim else ()
    fields = {f"i{k}": i for k, i in enumerate(index)}
    keys = [f"{{i{k}}}" for k in range(bad.ndim)]
    parts = []
    if batch_rank:
      member = keys[0] if batch_rank == 1 else "(" + ", ".join(keys[:batch_rank]) + ")"
      parts.append(f"batch member {member}")
    if names:
      parts.append("[" + ", ".join(f"{n}={k}" for n, k in zip(names, keys[batch_rank:])) + "]")
    at = (", ".join(parts) + " ") if parts else ""
    validation.traced_check(~jnp.any(bad), f"{words}: {at}{verb} {{value:.6g}}.",
                            value=values.reshape(-1)[where], **fields)


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
