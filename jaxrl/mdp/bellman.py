"""Bellman operators on a single (unbatched) :class:`TabularMDP`; ``jax.vmap`` batches them.

All functions work for dense and sparse transitions alike. Shapes: ``S`` states, ``A`` actions.

References:
  Sutton & Barto (2018), Reinforcement Learning: An Introduction, ch. 4.
  Puterman (1994), Markov Decision Processes, ch. 6.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxrl import validation
from jaxrl.mdp.core import SparseTransitions, TabularMDP

__all__ = (
    "bellman_expectation",
    "bellman_optimality",
    "bellman_q_optimality",
    "expected_next_values",
    "expected_rewards",
    "greedy_policy",
    "policy_probabilities",
    "policy_transitions",
    "q_from_values",
    "terminal_states",
)


Array = chex.Array


def expected_next_values(transitions, values: Array) -> Array:
  """``E[v(s') | s, a] = sum_s' P(s' | s, a) v(s')``.

  Args:
    transitions: dense ``[S, A, S]`` or :class:`SparseTransitions` ``[S, A, K]``.
    values: ``[S]``.

  Returns:
    ``[S, A]``.
  """
  chex.assert_rank(values, 1)
  if isinstance(transitions, SparseTransitions):
    return jnp.sum(transitions.probs * values[transitions.indices], axis=-1)
  return jnp.einsum("sat,t->sa", transitions, values)


def expected_rewards(mdp: TabularMDP) -> Array:
  """``r(s, a) = sum_s' P(s' | s, a) r(s, a, s')``, or the rewards themselves when ``[S, A]``.

  Returns:
    ``[S, A]``.
  """
  t = mdp.transitions
  probs = t.probs if isinstance(t, SparseTransitions) else t
  if mdp.rewards.ndim == probs.ndim:
    return jnp.sum(probs * mdp.rewards, axis=-1)
  return mdp.rewards


def q_from_values(mdp: TabularMDP, values: Array, rewards: Array | None = None) -> Array:
  """One-step lookahead: ``Q(s, a) = r(s, a) + discount * sum_s' P(s' | s, a) V(s')``.

  Args:
    mdp: a single MDP.
    values: ``[S]``.
    rewards: optional precomputed :func:`expected_rewards` ``[S, A]`` (saves work in loops).

  Returns:
    ``[S, A]``.
  """
  if rewards is None:
    rewards = expected_rewards(mdp)
  return rewards + mdp.discount * expected_next_values(mdp.transitions, values)


def greedy_policy(q_values: Array) -> Array:
  """``pi(s) = argmax_a Q(s, a)`` (lowest index on ties). ``[..., A] -> int32 [...]``."""
  return jnp.argmax(q_values, axis=-1).astype(jnp.int32)


def bellman_optimality(mdp: TabularMDP, values: Array, rewards: Array | None = None) -> Array:
  """``(T V)(s) = max_a [r(s, a) + discount * sum_s' P(s' | s, a) V(s')]``. ``[S] -> [S]``."""
  return jnp.max(q_from_values(mdp, values, rewards), axis=-1)


def bellman_q_optimality(mdp: TabularMDP, q_values: Array, rewards: Array | None = None) -> Array:
  """``(T Q)(s, a) = r(s, a) + discount * sum_s' P(s' | s, a) max_a' Q(s', a')``. ``[S, A] -> [S, A]``."""
  chex.assert_rank(q_values, 2)
  return q_from_values(mdp, jnp.max(q_values, axis=-1), rewards)


def policy_probabilities(policy: Array, num_actions: int) -> Array:
  """A deterministic policy ``int [S]`` as probabilities ``[S, A]``; probabilities pass through."""
  policy = jnp.asarray(policy)
  if jnp.issubdtype(policy.dtype, jnp.integer):
    chex.assert_rank(policy, 1)
    num_actions = validation.check_int("num_actions", num_actions, minimum=1)
    return jax.nn.one_hot(policy, num_actions)
  chex.assert_rank(policy, 2)
  return policy


def bellman_expectation(mdp: TabularMDP, policy: Array, values: Array,
                        rewards: Array | None = None) -> Array:
  """``(T_pi V)(s) = sum_a pi(a | s) [r(s, a) + discount * sum_s' P(s' | s, a) V(s')]``.

  Args:
    mdp: a single MDP.
    policy: deterministic ``int [S]`` or stochastic ``[S, A]``.
    values: ``[S]``.
    rewards: optional precomputed :func:`expected_rewards`.

  Returns:
    ``[S]``.
  """
  q = q_from_values(mdp, values, rewards)
  return jnp.sum(policy_probabilities(policy, q.shape[-1]).astype(q.dtype) * q, axis=-1)


def terminal_states(mdp: TabularMDP, rewards: Array | None = None) -> Array:
  """Absorbing states with zero reward: ``P(s | s, a) = 1`` and ``r(s, a) = 0`` for every ``a``.

  Their value is 0 under any policy and any discount, including 1. ``bool [S]``.
  """
  if rewards is None:
    rewards = expected_rewards(mdp)
  t = mdp.transitions
  states = jnp.arange(mdp.num_states)
  if isinstance(t, SparseTransitions):
    stay = jnp.sum(jnp.where(t.indices == states[:, None, None], t.probs, 0.0), axis=-1)
  else:
    stay = t[states, :, states]  # [S, A]
  return jnp.all((stay >= 1.0 - 1e-6) & (rewards == 0.0), axis=-1)


def policy_transitions(mdp: TabularMDP, policy: Array) -> Array:
  """The state-to-state matrix of a policy, ``P_pi[s, s'] = sum_a pi(a | s) P(s' | s, a)``.

  Dense ``[S, S]``; for sparse MDPs this materialises ``S^2`` entries, so use it only on small ones.
  """
  probs = policy_probabilities(policy, mdp.num_actions)
  t = mdp.transitions
  if isinstance(t, SparseTransitions):
    onehot = jax.nn.one_hot(t.indices, mdp.num_states, dtype=t.probs.dtype)
    return jnp.einsum("sa,sak,sakt->st", probs.astype(t.probs.dtype), t.probs, onehot)
  return jnp.einsum("sa,sat->st", probs.astype(t.dtype), t)
