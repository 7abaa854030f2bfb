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

from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrl import validation

Array = chex.Array
PRNGKey = chex.PRNGKey
Schedule = optax.Schedule

__all__ = (
    "categorical_entropy",
    "categorical_log_prob",
    "categorical_sample",
    "EPSILON_SCHEDULES",
    "constant_epsilon",
    "epsilon_greedy",
    "epsilon_schedule",
    "exponential_epsilon",
    "gaussian_exploration",
    "greedy",
    "linear_epsilon",
    "smoothed_target_action",
)


def _check_probability(name: str, value: Any) -> None:
  """Raises ValueError when a concrete ``value`` (number or array) leaves ``[0, 1]``; tracers pass."""
  validation.check_rule(name, value, _PROBABILITY)


_PROBABILITY = validation.Rule(low=0.0, high=1.0, words="must be in [0, 1]")


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
# Epsilon schedules (optax-style schedules: step -> epsilon; every number may be traced)
# ---------------------------------------------------------------------------------------------
#: The schedules :func:`epsilon_schedule` builds by name.
EPSILON_SCHEDULES = ("constant", "linear", "exponential")


def _elapsed(count, begin) -> Array:
  t = jnp.asarray(count, jnp.float32)
  if isinstance(begin, int) and begin == 0:
    return t
  return jnp.maximum(t - begin, 0.0)


def _check_begin(begin) -> None:
  validation.check_number("begin", begin, low=0.0)


def constant_epsilon(value: float | Array) -> Schedule:
  """``epsilon(step) = value``.

  Args:
    value: in ``[0, 1]`` (checked when concrete).

  Returns:
    A schedule ``step -> epsilon``.

  Raises:
    ValueError: ``value`` outside ``[0, 1]``.
  """
  _check_probability("value", value)
  return lambda count: jnp.asarray(value)


def linear_epsilon(start: float | Array, end: float | Array, steps: float | Array,
                   begin: int | float = 0) -> Schedule:
  """Linear decay, then constant (DQN's exploration schedule).

      epsilon(t) = start + (end - start) * clip((t - begin) / steps, 0, 1).

  Args:
    start: epsilon at ``begin`` and before, in ``[0, 1]``.
    end: epsilon from ``begin + steps`` on, in ``[0, 1]``.
    steps: length of the decay, ``> 0`` (may be traced: a swept hyperparameter).
    begin: step at which the decay starts, ``>= 0``.

  Returns:
    A schedule ``step -> epsilon``.

  Raises:
    ValueError: naming ``start``/``end`` outside ``[0, 1]``, ``steps <= 0`` or ``begin < 0``
      (concrete values only).

  Example:
    >>> schedule = linear_epsilon(1.0, 0.05, steps=10_000)
    >>> round(float(schedule(5_000)), 4)
    0.525
  """
  _check_probability("start", start)
  _check_probability("end", end)
  validation.check_number("steps", steps, low=0.0, low_open=True)
  _check_begin(begin)

  def schedule(count):
    frac = jnp.clip(_elapsed(count, begin) / steps, 0.0, 1.0)
    return start + frac * (end - start)

  return schedule


def exponential_epsilon(start: float | Array, end: float | Array, *,
                        time_constant: float | Array | None = None,
                        half_life: float | Array | None = None,
                        decay_rate: float | Array | None = None,
                        begin: int | float = 0) -> Schedule:
  """Exponential decay towards a floor; give exactly one of the three rates.

      epsilon(t) = end + (start - end) * exp(-(t - begin) / tau)      for t >= begin,

  and ``start`` before ``begin``. ``tau = time_constant``; ``tau = half_life / ln 2`` (the
  decaying part halves every ``half_life`` steps); ``tau = -1 / ln(decay_rate)`` (the decaying
  part shrinks by ``decay_rate`` per step).

  Args:
    start: initial epsilon, in ``[0, 1]``.
    end: the floor, in ``[0, 1]``.
    time_constant: ``tau > 0`` (may be traced; DQN's ``epsilon_decay_steps``).
    half_life: steps for the decaying part to halve, ``> 0``.
    decay_rate: per-step factor of the decaying part, in ``(0, 1)``.
    begin: step at which the decay starts, ``>= 0``.

  Returns:
    A schedule ``step -> epsilon``.

  Raises:
    ValueError: naming the bad argument; not exactly one rate given.

  Example:
    >>> schedule = exponential_epsilon(1.0, 0.1, half_life=10)
    >>> round(float(schedule(10)), 4)      # 0.1 + 0.9 / 2
    0.55
  """
  _check_probability("start", start)
  _check_probability("end", end)
  _check_begin(begin)
  given = {k: v for k, v in dict(time_constant=time_constant, half_life=half_life,
                                 decay_rate=decay_rate).items() if v is not None}
  if len(given) != 1:
    raise ValueError("exponential_epsilon needs exactly one of time_constant, half_life or "
                     f"decay_rate, got {sorted(given) or 'none'}.")
  if time_constant is not None:
    validation.check_number("time_constant", time_constant, low=0.0, low_open=True)
    tau = time_constant
  elif half_life is not None:
    validation.check_number("half_life", half_life, low=0.0, low_open=True)
    tau = half_life / np.log(2.0)
  else:
    validation.check_number("decay_rate", decay_rate, low=0.0, high=1.0, low_open=True,
                            high_open=True)
    tau = -1.0 / jnp.log(decay_rate)

  def schedule(count):
    return end + (start - end) * jnp.exp(-_elapsed(count, begin) / tau)

  return schedule


def epsilon_schedule(kind: str, start: float | Array, end: float | Array,
                     steps: float | Array) -> Schedule:
  """The schedule called ``kind`` (:data:`EPSILON_SCHEDULES`), as DQN's config names it.

  ``"constant"``: ``start``; ``"linear"``: :func:`linear_epsilon` over ``steps``;
  ``"exponential"``: :func:`exponential_epsilon` with time constant ``steps``.

  Raises:
    ValueError: an unknown ``kind``, or a bad concrete number.
  """
  validation.check_choice("epsilon schedule", kind, EPSILON_SCHEDULES)
  if kind == "constant":
    return constant_epsilon(start)
  if kind == "linear":
    return linear_epsilon(start, end, steps)
  return exponential_epsilon(start, end, time_constant=steps)


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


# ------------------------------------------------------------------------------------------------
# Deterministic continuous policies (TD3, DDPG): actions in [-1, 1]^D
# ------------------------------------------------------------------------------------------------
def gaussian_exploration(key: PRNGKey, action: Array, sigma: float | Array) -> Array:
  """TD3's behaviour policy: ``clip(a + sigma * eps, -1, 1)``, ``eps ~ N(0, I)``.

  Actions live in ``[-1, 1]^D`` (the agent rescales them to the environment's bounds), so
  ``sigma`` is in units of the action space's half-width (Fujimoto et al.'s 0.1 of the maximum
  action). ``key`` is consumed.

  Args:
    key: PRNG key.
    action: float ``[..., D]`` the deterministic policy's actions.
    sigma: float ``[]`` the noise scale (may be traced).
  """
  noise = jax.random.normal(key, jnp.shape(action), jnp.result_type(action))
  return jnp.clip(action + sigma * noise, -1.0, 1.0)


def smoothed_target_action(key: PRNGKey, action: Array, sigma: float | Array,
                           noise_clip: float | Array) -> Array:
  """TD3's target policy smoothing: ``clip(a + clip(sigma * eps, -c, c), -1, 1)``,
  ``eps ~ N(0, I)``: the target is averaged over nearby actions, so the critic cannot exploit a
  narrow peak of its own error (Fujimoto et al. 2018, section 5.3). ``sigma = 0`` gives ``a``
  (DDPG's target). ``key`` is consumed.

  Args:
    key: PRNG key.
    action: float ``[..., D]`` the target policy's actions in ``[-1, 1]``.
    sigma: float ``[]`` noise scale; noise_clip: float ``[]`` ``c``, the noise's bound.

  Example:
    >>> a = smoothed_target_action(jax.random.key(0), jnp.zeros(1000), 10.0, 0.5)
    >>> bool(jnp.all(jnp.abs(a) <= 0.5))
    True
  """
  noise = sigma * jax.random.normal(key, jnp.shape(action), jnp.result_type(action))
  return jnp.clip(action + jnp.clip(noise, -noise_clip, noise_clip), -1.0, 1.0)
