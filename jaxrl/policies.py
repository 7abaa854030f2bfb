"""Action selection as pure functions: epsilon-greedy and its schedules, categorical policies.

Value-based agents act with :func:`epsilon_greedy` on ``Q(s, .)``; the exploration rate comes
from a schedule, an ``optax`` schedule ``step -> epsilon`` (:func:`linear_epsilon` and friends), so
it can be called inside ``jit`` with a traced step. Policy-gradient agents act with
:func:`categorical_sample` and learn with :func:`categorical_log_prob` and
:func:`categorical_entropy`, all computed from logits through ``log_softmax`` (stable for large
logits).

Every function takes one set of values ``[A]`` or any leading batch ``[..., A]``; keys are
consumed, never created.

References:
  Sutton & Barto (2018), Reinforcement Learning: An Introduction, sec. 2.2 (epsilon-greedy) and
  ch. 13 (softmax policies).
  Mnih et al. (2015), Human-level control through deep reinforcement learning (linear epsilon decay).
"""

from __future__ import annotations

import numbers
import operator
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

Array = chex.Array
PRNGKey = chex.PRNGKey
Schedule = optax.Schedule

__all__ = (
    "categorical_entropy",
    "categorical_log_prob",
    "categorical_sample",
    "constant_epsilon",
    "epsilon_greedy",
    "exponential_epsilon",
    "greedy",
    "linear_epsilon",
)


def _is_concrete_number(x: Any) -> bool:
  if isinstance(x, jax.core.Tracer):
    return False
  return isinstance(x, numbers.Real) or (isinstance(x, (np.ndarray, jax.Array)) and x.ndim == 0)


def _check_probability(name: str, value: Any) -> None:
  """Raises ValueError when a concrete ``value`` (number or array) leaves ``[0, 1]``; tracers pass."""
  if isinstance(value, jax.core.Tracer):
    return
  v = np.asarray(value, dtype=np.float64)
  if not np.all((v >= 0.0) & (v <= 1.0)):
    bad = v if v.ndim == 0 else v[~((v >= 0.0) & (v <= 1.0))][0]
    raise ValueError(f"{name} must be in [0, 1], got {float(bad)}.")


def _check_steps(name: str, value: Any, minimum: int = 1) -> int:
  try:
    steps = operator.index(value)
  except TypeError:
    raise ValueError(f"{name} must be an int, got {value!r}.") from None
  if steps < minimum:
    raise ValueError(f"{name} must be >= {minimum}, got {steps}.")
  return steps


def _check_logits(name: str, x: Array) -> None:
  if jnp.ndim(x) < 1:
    raise ValueError(f"{name} must have shape [..., A] with at least one axis, got a scalar.")
  if jnp.shape(x)[-1] < 1:
    raise ValueError(f"{name} must have at least one action, got shape {jnp.shape(x)}.")


# ---------------------------------------------------------------------------------------------
# Value-based action selection
# ---------------------------------------------------------------------------------------------
def greedy(q_values: Array) -> Array:
  """``a = argmax_a Q(s, a)``; ties go to the lowest index.

  Args:
    q_values: ``[..., A]``.

  Returns:
    int32 ``[...]``.
  """
  _check_logits("q_values", q_values)
  return jnp.argmax(q_values, axis=-1).astype(jnp.int32)


def epsilon_greedy(key: PRNGKey, q_values: Array, epsilon: float | Array) -> Array:
  """Samples an epsilon-greedy action: uniform with probability epsilon, else greedy.

      pi(a | s) = (1 - epsilon) * [a = argmax_b Q(s, b)] + epsilon / A.

  The random action is uniform over all ``A`` actions, the greedy one included, so the greedy
  action is taken with probability ``1 - epsilon + epsilon / A``. Ties in ``argmax`` go to the
  lowest index. Each entry of a batch draws independently.

  Args:
    key: consumed (split into the explore coin and the random action).
    q_values: ``[A]`` or ``[..., A]``.
    epsilon: scalar or broadcastable to ``[...]``, in ``[0, 1]`` (checked when concrete; a traced
      epsilon, e.g. from a schedule or a ``vmap`` sweep, is not checked).

  Returns:
    int32 ``[...]`` actions.
  """
  _check_logits("q_values", q_values)
  _check_probability("epsilon", epsilon)
  q_values = jnp.asarray(q_values)
  batch_shape = q_values.shape[:-1]
  num_actions = q_values.shape[-1]
  explore_key, action_key = jax.random.split(key)
  explore = jax.random.uniform(explore_key, batch_shape) < epsilon
  random_actions = jax.random.randint(action_key, batch_shape, 0, num_actions, dtype=jnp.int32)
  return jnp.where(explore, random_actions, greedy(q_values))


# ---------------------------------------------------------------------------------------------
# Epsilon schedules (optax schedules: step -> epsilon)
# ---------------------------------------------------------------------------------------------
def constant_epsilon(value: float) -> Schedule:
  """``epsilon(step) = value``.

  Args:
    value: in ``[0, 1]``.

  Returns:
    An optax schedule.

  Raises:
    ValueError: ``value`` outside ``[0, 1]``.
  """
  _check_probability("value", value)
  return optax.constant_schedule(value)


def linear_epsilon(start: float, end: float, steps: int, begin: int = 0) -> Schedule:
  """Linear decay, then constant (DQN's exploration schedule).

      epsilon(t) = start + (end - start) * clip((t - begin) / steps, 0, 1).

  Args:
    start: epsilon before ``begin``, in ``[0, 1]``.
    end: epsilon from ``begin + steps`` on, in ``[0, 1]``.
    steps: length of the decay, ``>= 1`` (static).
    begin: step at which the decay starts, ``>= 0``.

  Returns:
    An optax schedule.

  Raises:
    ValueError: naming ``start``/``end`` outside ``[0, 1]``, ``steps < 1`` or ``begin < 0``.

  Example:
    >>> schedule = linear_epsilon(1.0, 0.05, steps=10_000)
    >>> round(float(schedule(5_000)), 4)
    0.525
  """
  _check_probability("start", start)
  _check_probability("end", end)
  steps = _check_steps("steps", steps)
  begin = _check_steps("begin", begin, minimum=0)
  return optax.linear_schedule(start, end, transition_steps=steps, transition_begin=begin)


def exponential_epsilon(start: float, end: float, *, decay_rate: float | None = None,
                        half_life: float | None = None, begin: int = 0) -> Schedule:
  """Exponential decay towards a floor: give exactly one of ``decay_rate`` or ``half_life``.

      epsilon(t) = max(end, start * decay_rate^(t - begin))          (decay_rate, per step)
      epsilon(t) = max(end, start * 0.5^((t - begin) / half_life))   (half_life, in steps)

  and ``epsilon(t) = start`` for ``t < begin``.

  Args:
    start: initial epsilon, in ``[0, 1]``.
    end: the floor, in ``[0, start]``.
    decay_rate: multiplicative decay per step, in ``(0, 1)``.
    half_life: steps for the decaying part to halve, ``> 0``.
    begin: step at which the decay starts, ``>= 0``.

  Returns:
    An optax schedule (``optax.exponential_decay`` with ``end_value=end``).

  Raises:
    ValueError: naming the bad argument; both or neither of ``decay_rate``/``half_life``.
  """
  _check_probability("start", start)
  _check_probability("end", end)
  if _is_concrete_number(start) and _is_concrete_number(end) and float(end) > float(start):
    raise ValueError(f"end ({float(end)}) must be <= start ({float(start)}) for a decay.")
  begin = _check_steps("begin", begin, minimum=0)
  if (decay_rate is None) == (half_life is None):
    raise ValueError("exponential_epsilon needs exactly one of decay_rate or half_life, got "
                     f"decay_rate={decay_rate!r}, half_life={half_life!r}.")
  if decay_rate is not None:
    if _is_concrete_number(decay_rate) and not 0.0 < float(decay_rate) < 1.0:
      raise ValueError(f"decay_rate must be in (0, 1), got {float(decay_rate)}.")
    return optax.exponential_decay(start, transition_steps=1, decay_rate=decay_rate,
                                   transition_begin=begin, end_value=end)
  if not _is_concrete_number(half_life) or not float(half_life) > 0.0:
    raise ValueError(f"half_life must be a number > 0, got {half_life!r}.")
  # optax computes rate ** (count / transition_steps); transition_steps may be any positive number.
  return optax.exponential_decay(start, transition_steps=half_life, decay_rate=0.5,
                                 transition_begin=begin, end_value=end)


# ---------------------------------------------------------------------------------------------
# Categorical (softmax) policies
# ---------------------------------------------------------------------------------------------
def categorical_sample(key: PRNGKey, logits: Array) -> Array:
  """Samples ``a ~ softmax(logits)``.

  Args:
    key: consumed.
    logits: ``[A]`` or ``[..., A]``; ``-inf`` masks an action out.

  Returns:
    int32 ``[...]``.
  """
  _check_logits("logits", logits)
  return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


def categorical_log_prob(logits: Array, action: Array) -> Array:
  """``log pi(a | s) = logits[a] - logsumexp(logits)``.

  Args:
    logits: ``[..., A]``.
    action: int ``[...]``, the leading shape of ``logits``.

  Returns:
    ``[...]``.
  """
  _check_logits("logits", logits)
  chex.assert_type(action, int)
  chex.assert_equal_shape_prefix([logits, action], jnp.ndim(action))
  chex.assert_rank(action, jnp.ndim(logits) - 1)
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  return jnp.take_along_axis(log_probs, action[..., None].astype(jnp.int32), axis=-1)[..., 0]


def categorical_entropy(logits: Array) -> Array:
  """``H(pi) = -sum_a pi(a) log pi(a)`` with ``pi = softmax(logits)``.

  Computed from ``log_softmax``, so it is exact for large logits; masked actions (``-inf``
  logits) contribute zero, with finite gradients.

  Args:
    logits: ``[..., A]``.

  Returns:
    ``[...]``, in ``[0, log A]``.
  """
  _check_logits("logits", logits)
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  safe_log_probs = jnp.where(jnp.isfinite(log_probs), log_probs, 0.0)
  return -jnp.sum(jnp.exp(log_probs) * safe_log_probs, axis=-1)
