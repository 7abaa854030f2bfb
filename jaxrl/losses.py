"""TD targets and losses, policy-gradient and value losses: arrays in, arrays out (after rlax).

The Q-learning functions take ONE transition; batch them with ``jax.vmap`` and average:

    loss = jnp.mean(jax.vmap(q_learning_loss)(q_tm1, a_tm1, r_t, discount_t, q_t))

Names carry time, as in rlax: ``q_tm1`` are the online network's values at ``s_{t-1}``, ``a_tm1``
the action taken there, ``r_t`` and ``discount_t`` what the step returned, ``q_t`` the (target
network's) values at ``s_t``. ``discount_t = gamma * (1 - terminated)`` is zero only at a true
termination; on truncation ``q_t`` is computed at ``info["final_observation"]`` and
``discount_t = gamma`` (see :class:`jaxrl.buffers.Transition`).

Losses stop gradients through the target, so they differentiate only through ``q_tm1`` (or the
logits / values). The policy-gradient losses take one trajectory ``[T]``.

References:
  Watkins & Dayan (1992), Q-learning, Machine Learning 8.
  Mnih et al. (2015), Human-level control through deep reinforcement learning, Nature 518.
  van Hasselt, Guez & Silver (2016), Deep reinforcement learning with double Q-learning, AAAI.
  Williams (1992), Simple statistical gradient-following algorithms for connectionist RL.
  Rummery & Niranjan (1994), On-line Q-learning using connectionist systems (SARSA).
  van Seijen et al. (2009), A theoretical and empirical analysis of Expected Sarsa, ADPRL.
  Sutton & Barto (2018), Reinforcement Learning: An Introduction, 2nd ed., ch. 6, 7, 13.
  rlax, DeepMind (2020), https://github.com/google-deepmind/rlax.
  Fujimoto, van Hoof & Meger (2018), Addressing function approximation error in actor-critic
  methods, ICML (clipped double Q, TD3).
  Haarnoja et al. (2018), Soft actor-critic algorithms and applications, arXiv:1812.05905
  (the soft target, the policy loss and the temperature loss of SAC).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxrl import validation
from jaxrl.policies import categorical_entropy
from jaxrl.policies import categorical_log_prob

Array = chex.Array

__all__ = (
    "ActorCriticLoss",
    "action_value_loss",
    "actor_critic_loss",
    "clipped_double_q_target",
    "clipped_surrogate_pg_loss",
    "clipped_value_loss",
    "double_q_learning_loss",
    "double_q_learning_target",
    "ensemble_q_loss",
    "entropy_loss",
    "expected_sarsa_target",
    "policy_gradient_loss",
    "q_actor_critic_weights",
    "q_learning_loss",
    "masked_value_loss",
    "normalize",
    "q_learning_target",
    "sac_policy_loss",
    "sarsa_target",
    "soft_clipped_double_q_target",
    "state_value_from_q",
    "td_error",
    "temperature_loss",
    "value_loss",
)


def _check_huber_delta(huber_delta) -> None:
  if huber_delta is not None:
    validation.check_number("huber_delta", huber_delta, low=0.0,
                            low_open=True)


def _regression_loss(td: Array, huber_delta) -> Array:
  """``0.5 td^2``, or the Huber loss with threshold ``huber_delta`` (equal for ``|td| <= delta``)."""
  if huber_delta is None:
    return 0.5 * jnp.square(td)
  return optax.huber_loss(td, delta=huber_delta)


# ---------------------------------------------------------------------------------------------
# Q-learning
# ---------------------------------------------------------------------------------------------
def q_learning_target(r_t: Array, discount_t: Array, q_t: Array) -> Array:
  """The Q-learning (Bellman optimality) target ``y = r_t + discount_t * max_a q_t[a]``.

  Args:
    r_t: float ``[]`` reward.
    discount_t: float ``[]`` ``gamma * (1 - terminated)``.
    q_t: float ``[A]`` values at ``s_t`` (the target network's, in DQN).

  Returns:
    float ``[]``. Gradients are not stopped here; the losses stop them.
  """
  chex.assert_rank([r_t, discount_t, q_t], [0, 0, 1])
  chex.assert_type([r_t, discount_t, q_t], float)
  return r_t + discount_t * jnp.max(q_t)


def double_q_learning_target(r_t: Array, discount_t: Array, q_t_target: Array,
                             q_t_selector: Array) -> Array:
  """Double Q-learning target: one network selects the action, the other evaluates it.

      y = r_t + discount_t * q_t_target[argmax_a q_t_selector[a]]

  In double DQN the selector is the online network at ``s_t`` and the target is the target
  network at ``s_t``. Ties in ``argmax`` go to the lowest index.

  Args:
    r_t: float ``[]``.
    discount_t: float ``[]``.
    q_t_target: float ``[A]`` values that evaluate the chosen action.
    q_t_selector: float ``[A]`` values that choose it.

  Returns:
    float ``[]``.
  """
  chex.assert_rank([r_t, discount_t, q_t_target, q_t_selector], [0, 0, 1, 1])
  chex.assert_type([r_t, discount_t, q_t_target, q_t_selector], float)
  chex.assert_equal_shape([q_t_target, q_t_selector])
  best = jnp.argmax(q_t_selector)
  return r_t + discount_t * q_t_target[best]


def sarsa_target(r_t: Array, discount_t: Array, q_t: Array, a_t: Array) -> Array:
  """The SARSA (on-policy TD(0)) target ``y = r_t + discount_t * q_t[a_t]``.

  ``a_t`` is the action the policy takes at ``s_t`` (the next action actually taken, or one
  sampled from ``pi(. | s_t)`` where none was, e.g. at a truncated episode's final observation).

  Args:
    r_t: float ``[]`` reward.
    discount_t: float ``[]`` ``gamma * (1 - terminated)``.
    q_t: float ``[A]`` values at ``s_t``.
    a_t: int ``[]`` the policy's action at ``s_t``.

  Returns:
    float ``[]``. Gradients are not stopped here; the losses stop them.

  Example:
    >>> float(sarsa_target(jnp.float32(1.0), jnp.float32(0.5), jnp.array([2.0, 4.0]), jnp.int32(0)))
    2.0
  """
  chex.assert_rank([r_t, discount_t, q_t, a_t], [0, 0, 1, 0])
  chex.assert_type([r_t, discount_t, q_t, a_t], [float, float, float, int])
  return r_t + discount_t * q_t[a_t]


def expected_sarsa_target(r_t: Array, discount_t: Array, q_t: Array, probs_t: Array) -> Array:
  """The expected SARSA target ``y = r_t + discount_t * sum_a pi(a | s_t) q_t[a]``.

  The expectation over the next action replaces SARSA's sample of it (lower variance, same
  fixed point ``Q^pi``). With the greedy ``pi`` it is the Q-learning target.

  Args:
    r_t: float ``[]`` reward.
    discount_t: float ``[]`` ``gamma * (1 - terminated)``.
    q_t: float ``[A]`` values at ``s_t``.
    probs_t: float ``[A]`` ``pi(. | s_t)`` (e.g. ``jax.nn.softmax(logits_t)``).

  Returns:
    float ``[]``.

  Example:
    >>> y = expected_sarsa_target(jnp.float32(1.0), jnp.float32(0.5), jnp.array([2.0, 4.0]),
    ...                           jnp.array([0.25, 0.75]))
    >>> float(y)        # 1 + 0.5 * (0.25 * 2 + 0.75 * 4)
    2.75
  """
  chex.assert_rank([r_t, discount_t, q_t, probs_t], [0, 0, 1, 1])
  chex.assert_type([r_t, discount_t, q_t, probs_t], float)
  chex.assert_equal_shape([q_t, probs_t])
  return r_t + discount_t * jnp.sum(probs_t * q_t)


def td_error(q_tm1: Array, a_tm1: Array, target: Array, *,
             stop_target_gradient: bool = True) -> Array:
  """``delta = y - q_tm1[a_tm1]``.

  Args:
    q_tm1: float ``[A]`` values at ``s_{t-1}``.
    a_tm1: int ``[]`` action taken.
    target: float ``[]`` e.g. from :func:`q_learning_target`.
    stop_target_gradient: stop gradients through ``target`` (semi-gradient TD; default).

  Returns:
    float ``[]``.
  """
  chex.assert_rank([q_tm1, a_tm1, target], [1, 0, 0])
  chex.assert_type([q_tm1, a_tm1, target], [float, int, float])
  if stop_target_gradient:
    target = jax.lax.stop_gradient(target)
  return target - q_tm1[a_tm1]


def q_learning_loss(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array, *,
                    huber_delta: float | None = None) -> Array:
  """DQN's regression loss for one transition, with the target held fixed.

      delta = stop_gradient(r_t + discount_t * max_a q_t[a]) - q_tm1[a_tm1]
      loss  = 0.5 * delta^2                       (huber_delta=None, the notes' MSE)
      loss  = huber(delta; huber_delta)           (otherwise: 0.5 delta^2 for |delta| <= k,
                                                   k * (|delta| - 0.5 k) beyond)

  Args:
    q_tm1: float ``[A]`` online values at ``s_{t-1}``.
    a_tm1: int ``[]``.
    r_t: float ``[]``.
    discount_t: float ``[]`` ``gamma * (1 - terminated)``.
    q_t: float ``[A]`` target-network values at ``s_t`` (the final observation on truncation).
    huber_delta: ``None`` for the squared loss, else the Huber threshold ``k > 0`` (static).

  Returns:
    float ``[]``.

  Raises:
    ValueError: ``huber_delta <= 0``.

  Example:
    >>> q_tm1 = jnp.array([[1.0, 2.0], [0.0, 0.0]])     # a batch of B = 2 transitions
    >>> a_tm1 = jnp.array([1, 0])
    >>> r_t, discount_t = jnp.array([1.0, 1.0]), jnp.array([0.9, 0.0])   # the second terminated
    >>> q_t = jnp.array([[3.0, 0.0], [5.0, 5.0]])
    >>> loss = jax.vmap(q_learning_loss)(q_tm1, a_tm1, r_t, discount_t, q_t)   # td = [1.7, 1.0]
    >>> [round(float(x), 4) for x in loss]
    [1.445, 0.5]
  """
  _check_huber_delta(huber_delta)
  chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t], [1, 0, 0, 0, 1])
  chex.assert_type([q_tm1, a_tm1, r_t, discount_t, q_t], [float, int, float, float, float])
  target = q_learning_target(r_t, discount_t, q_t)
  return _regression_loss(td_error(q_tm1, a_tm1, target), huber_delta)


def double_q_learning_loss(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array,
                           q_t_target: Array, q_t_selector: Array, *,
                           huber_delta: float | None = None) -> Array:
  """Double DQN's loss for one transition (see :func:`double_q_learning_target`).

      delta = stop_gradient(r_t + discount_t * q_t_target[argmax q_t_selector]) - q_tm1[a_tm1]
      loss  = 0.5 * delta^2  or  huber(delta; huber_delta)

  Args:
    q_tm1: float ``[A]`` online values at ``s_{t-1}``.
    a_tm1: int ``[]``.
    r_t: float ``[]``.
    discount_t: float ``[]``.
    q_t_target: float ``[A]`` target-network values at ``s_t``.
    q_t_selector: float ``[A]`` online values at ``s_t``.
    huber_delta: ``None`` or the Huber threshold ``> 0`` (static).

  Returns:
    float ``[]``.
  """
  _check_huber_delta(huber_delta)
  chex.assert_rank([q_tm1, a_tm1], [1, 0])
  chex.assert_type([q_tm1, a_tm1], [float, int])
  target = double_q_learning_target(r_t, discount_t, q_t_target, q_t_selector)
  return _regression_loss(td_error(q_tm1, a_tm1, target), huber_delta)


# ---------------------------------------------------------------------------------------------
# Policy gradient and actor-critic
# ---------------------------------------------------------------------------------------------
def policy_gradient_loss(logits_t: Array, a_t: Array, weights_t: Array) -> Array:
  """REINFORCE surrogate: its gradient is the policy-gradient estimate.

      L = -(1 / T) sum_t log pi(a_t | s_t) * stop_gradient(w_t),
      grad L = -(1 / T) sum_t w_t grad log pi(a_t | s_t),

  with ``w_t`` the return ``G_t`` (REINFORCE), or an advantage ``G_t - b(s_t)``.

  Args:
    logits_t: float ``[T, A]``.
    a_t: int ``[T]`` actions taken.
    weights_t: float ``[T]`` returns or advantages (gradients stopped).

  Returns:
    float ``[]``.
  """
  chex.assert_rank([logits_t, a_t, weights_t], [2, 1, 1])
  chex.assert_type([logits_t, a_t, weights_t], [float, int, float])
  chex.assert_equal_shape_prefix([logits_t, a_t, weights_t], 1)
  log_pi_a = categorical_log_prob(logits_t, a_t)
  return -jnp.mean(log_pi_a * jax.lax.stop_gradient(weights_t))


def entropy_loss(logits_t: Array) -> Array:
  """Negative mean entropy, ``L = -(1 / T) sum_t H(pi(. | s_t))``; add ``c * L`` to explore.

  Args:
    logits_t: float ``[T, A]``.

  Returns:
    float ``[]``.
  """
  chex.assert_rank(logits_t, 2)
  chex.assert_type(logits_t, float)
  return -jnp.mean(categorical_entropy(logits_t))


def value_loss(v_t: Array, target_t: Array) -> Array:
  """Critic regression, ``L = (1 / T) sum_t 0.5 * (v_t - stop_gradient(target_t))^2``.

  Args:
    v_t: float ``[T]`` predicted values.
    target_t: float ``[T]`` returns or bootstrapped targets (gradients stopped).

  Returns:
    float ``[]``.
  """
  chex.assert_rank([v_t, target_t], 1)
  chex.assert_type([v_t, target_t], float)
  chex.assert_equal_shape([v_t, target_t])
  return 0.5 * jnp.mean(jnp.square(v_t - jax.lax.stop_gradient(target_t)))


def state_value_from_q(logits: Array, q: Array) -> Array:
  """The policy's state value from its action values, ``V(s) = sum_a pi(a | s) Q(s, a)``.

  ``pi = softmax(logits)``. Gradients flow through both arguments (stop them as needed).

  Args:
    logits: float ``[..., A]`` policy logits.
    q: float ``[..., A]`` action values.

  Returns:
    float ``[...]``.
  """
  chex.assert_type([logits, q], float)
  chex.assert_equal_shape([logits, q])
  return jnp.sum(jax.nn.softmax(logits, axis=-1) * q, axis=-1)


def q_actor_critic_weights(logits_t: Array, q_t: Array, a_t: Array, *,
                           baseline: bool = True) -> Array:
  """The policy-gradient weights of an actor-critic with an action-value critic.

      w_t = Q(s_t, a_t) - V(s_t),   V(s_t) = sum_a pi(a | s_t) Q(s_t, a)    (baseline=True)
      w_t = Q(s_t, a_t)                                                     (baseline=False)

  Both are unbiased for the policy gradient when ``Q = Q^pi`` (the baseline does not depend on
  the action); the advantage form has lower variance. Feed ``w_t`` to
  :func:`policy_gradient_loss`. Gradients are stopped.

  Args:
    logits_t: float ``[T, A]`` policy logits at ``s_t``.
    q_t: float ``[T, A]`` the critic's ``Q(s_t, .)``.
    a_t: int ``[T]`` actions taken.
    baseline: subtract ``V(s_t)`` (static).

  Returns:
    float ``[T]``.

  Example:
    >>> logits = jnp.log(jnp.array([[0.5, 0.5], [0.1, 0.9]]))
    >>> q = jnp.array([[1.0, 3.0], [2.0, 0.0]])
    >>> w = q_actor_critic_weights(logits, q, jnp.array([1, 0]))      # [3 - 2, 2 - 0.2]
    >>> [round(float(x), 3) for x in w]
    [1.0, 1.8]
  """
  chex.assert_rank([logits_t, q_t, a_t], [2, 2, 1])
  chex.assert_type([logits_t, q_t, a_t], [float, float, int])
  chex.assert_equal_shape([logits_t, q_t])
  chex.assert_equal_shape_prefix([logits_t, a_t], 1)
  q_a = jnp.take_along_axis(q_t, a_t[:, None], axis=-1)[:, 0]
  if baseline:
    q_a = q_a - state_value_from_q(logits_t, q_t)
  return jax.lax.stop_gradient(q_a)


def action_value_loss(q_t: Array, a_t: Array, target_t: Array) -> Array:
  """Action-value critic regression on the actions taken.

      L = (1 / T) sum_t 0.5 * (Q(s_t, a_t) - stop_gradient(y_t))^2

  with ``y_t`` e.g. an n-step SARSA or expected SARSA target.

  Args:
    q_t: float ``[T, A]`` predicted ``Q(s_t, .)``.
    a_t: int ``[T]`` actions taken.
    target_t: float ``[T]`` targets (gradients stopped).

  Returns:
    float ``[]``.
  """
  chex.assert_rank([q_t, a_t, target_t], [2, 1, 1])
  chex.assert_type([q_t, a_t, target_t], [float, int, float])
  chex.assert_equal_shape_prefix([q_t, a_t, target_t], 1)
  q_a = jnp.take_along_axis(q_t, a_t[:, None], axis=-1)[:, 0]
  return value_loss(q_a, target_t)


def masked_value_loss(v_t: Array, target_t: Array, mask_t: Array) -> Array:
  """Critic regression over the counted steps only.

      L = (1 / M) sum_{t: m_t} 0.5 * (v_t - stop_gradient(target_t))^2,   M = max(sum_t m_t, 1)

  (computed as :func:`value_loss` over all ``B`` entries with the uncounted ones' error zeroed,
  times ``B / M``).

  Args:
    v_t: float ``[...]`` predicted values (any shape, e.g. ``[T, E]``).
    target_t: float, ``v_t``'s shape: targets (e.g. complete Monte Carlo returns).
    mask_t: bool, ``v_t``'s shape: the steps to regress on.

  Returns:
    float ``[]``.
  """
  chex.assert_equal_shape([v_t, target_t, mask_t])
  m = mask_t.astype(jnp.float32)
  scale = m.size / jnp.maximum(jnp.sum(m), 1.0)
  flat = lambda x: x.reshape(-1)  # noqa: E731
  return scale * value_loss(flat(jnp.where(mask_t, v_t, target_t)), flat(target_t))


def normalize(x: Array, mask: Array | None = None, eps: float = 1e-8) -> Array:
  """Standardised ``(x - mean) / (std + eps)``, over all entries or over ``mask``'s entries.

  With a mask, the mean and (population) standard deviation are those of the masked entries;
  every entry is shifted and scaled by them (mask the result as needed). Used on a batch of
  advantages; note that it is not unbiased for the policy gradient (the scale depends on the
  batch).

  Args:
    x: float, any shape.
    mask: bool of ``x``'s shape, or None (all entries).
    eps: added to the standard deviation.

  Returns:
    float, ``x``'s shape.
  """
  if mask is None:
    return (x - jnp.mean(x)) / (jnp.std(x) + eps)
  chex.assert_equal_shape([x, mask])
  m = mask.astype(jnp.float32)
  n = jnp.maximum(jnp.sum(m), 1.0)
  mean = jnp.sum(x * m) / n
  std = jnp.sqrt(jnp.sum(jnp.square(x - mean) * m) / n)
  return (x - mean) / (std + eps)


class ActorCriticLoss(NamedTuple):
  """The parts of an actor-critic loss (float32 scalars).

  Attributes:
    loss: ``policy_loss + value_coef * value_loss - entropy_coef * entropy``.
    policy_loss: the policy-gradient surrogate.
    value_loss: the critic's regression loss (0 without a critic).
    entropy: the mean policy entropy.
  """

  loss: Array
  policy_loss: Array
  value_loss: Array
  entropy: Array


def actor_critic_loss(policy_loss: Array, value_loss: Array | None, entropy: Array, *,
                      value_coef: Array | float = 0.0,
                      entropy_coef: Array | float = 0.0) -> ActorCriticLoss:
  """The actor-critic objective from its parts.

      L = L_policy + value_coef * L_value - entropy_coef * H

  with ``L_policy`` e.g. :func:`policy_gradient_loss`, ``L_value`` :func:`value_loss` (or
  :func:`action_value_loss`, :func:`masked_value_loss`) and ``H`` the mean entropy
  (``-entropy_loss(logits)``).

  Args:
    policy_loss: float ``[]``.
    value_loss: float ``[]`` the critic's regression loss, or None (no critic term).
    entropy: float ``[]`` the mean policy entropy.
    value_coef, entropy_coef: the weights of the critic and entropy terms.

  Returns:
    :class:`ActorCriticLoss`.

  Example:
    >>> out = actor_critic_loss(jnp.float32(1.0), jnp.float32(2.0), jnp.float32(0.5),
    ...                         value_coef=0.5, entropy_coef=0.1)
    >>> round(float(out.loss), 4)        # 1 + 0.5 * 2 - 0.1 * 0.5
    1.95
  """
  loss = policy_loss
  if value_loss is None:
    value_loss = jnp.zeros_like(policy_loss)
  else:
    loss = loss + value_coef * value_loss
  return ActorCriticLoss(loss - entropy_coef * entropy, policy_loss, value_loss, entropy)


# ---------------------------------------------------------------------------------------------
# PPO
# ---------------------------------------------------------------------------------------------
def clipped_surrogate_pg_loss(prob_ratios_t: Array, adv_t: Array, epsilon: Array | float) -> Array:
  """PPO's clipped surrogate objective, as a loss (rlax's ``clipped_surrogate_pg_loss``).

      L = -(1 / T) sum_t min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t),
      rho_t = pi(a_t | s_t) / pi_old(a_t | s_t)

  The advantages are gradient-stopped; the gradient flows through the ratios (compute them as
  ``exp(log_pi - log_pi_old)`` from the current parameters).

  Args:
    prob_ratios_t: float ``[T]`` ``rho_t``.
    adv_t: float ``[T]`` advantage estimates.
    epsilon: the clip ``eps > 0`` (may be traced).

  Returns:
    float ``[]``.

  Example:
    >>> rho = jnp.array([0.5, 1.5, 1.0]); adv = jnp.array([1.0, 1.0, -2.0])
    >>> round(float(clipped_surrogate_pg_loss(rho, adv, 0.2)), 4)   # -(0.5 + 1.2 - 2.0) / 3
    0.1
  """
  chex.assert_rank([prob_ratios_t, adv_t], 1)
  chex.assert_type([prob_ratios_t, adv_t], float)
  chex.assert_equal_shape([prob_ratios_t, adv_t])
  adv_t = jax.lax.stop_gradient(adv_t)
  clipped = jnp.clip(prob_ratios_t, 1.0 - epsilon, 1.0 + epsilon)
  return -jnp.mean(jnp.minimum(prob_ratios_t * adv_t, clipped * adv_t))


def clipped_value_loss(v_t: Array, v_old_t: Array, target_t: Array,
                       epsilon: Array | float) -> Array:
  """PPO's clipped value loss: the critic's step is clipped around the rollout's values.

      L = (1 / T) sum_t 0.5 max((v_t - G_t)^2, (v_old_t + clip(v_t - v_old_t, -eps, eps) - G_t)^2)

  Args:
    v_t: float ``[T]`` the critic's current values.
    v_old_t: float ``[T]`` its values when the rollout was collected.
    target_t: float ``[T]`` targets ``G_t`` (gradients stopped, as ``v_old_t``'s).
    epsilon: the clip ``eps > 0``.

  Returns:
    float ``[]``.
  """
  chex.assert_rank([v_t, v_old_t, target_t], 1)
  chex.assert_equal_shape([v_t, v_old_t, target_t])
  target_t = jax.lax.stop_gradient(target_t)
  v_old_t = jax.lax.stop_gradient(v_old_t)
  clipped = v_old_t + jnp.clip(v_t - v_old_t, -epsilon, epsilon)
  return 0.5 * jnp.mean(jnp.maximum(jnp.square(v_t - target_t), jnp.square(clipped - target_t)))



# ------------------------------------------------------------------------------------------------
# Continuous-action actor-critics (TD3, SAC): one transition, an ensemble of N critics
# ------------------------------------------------------------------------------------------------
def clipped_double_q_target(r_t: Array, discount_t: Array, q_t: Array) -> Array:
  """The clipped double-Q target of TD3: ``y = r_t + discount_t * min_i q_t[i]``.

  ``q_t`` holds the ``N`` target critics' values of the next state and the target policy's
  (smoothed) action; the minimum counters the overestimation a maximum over noisy estimates
  causes (Fujimoto et al. 2018). With ``N = 1`` it is DDPG's target.

  Args:
    r_t: float ``[]`` reward.
    discount_t: float ``[]`` ``gamma * (1 - terminated)``.
    q_t: float ``[N]`` the target critics' values at ``(s_t, a_t)``.

  Returns:
    float ``[]`` (gradients not stopped; :func:`ensemble_q_loss` stops them).

  Example:
    >>> float(clipped_double_q_target(jnp.float32(1.0), jnp.float32(0.5), jnp.array([4.0, 2.0])))
    2.0
  """
  chex.assert_rank([r_t, discount_t, q_t], [0, 0, 1])
  chex.assert_type([r_t, discount_t, q_t], float)
  return r_t + discount_t * jnp.min(q_t)


def soft_clipped_double_q_target(r_t: Array, discount_t: Array, q_t: Array, log_pi_t: Array,
                                 alpha: Array) -> Array:
  """SAC's soft target: ``y = r_t + discount_t * (min_i q_t[i] - alpha * log pi(a_t | s_t))``.

  ``a_t ~ pi(. | s_t)`` is a fresh sample of the current policy at the next state and
  ``log_pi_t`` its log-density; ``-alpha log pi`` is the one-sample estimate of the entropy
  bonus ``alpha H(pi(. | s_t))`` of the soft value ``V(s_t)``.

  Args:
    r_t, discount_t: float ``[]``.
    q_t: float ``[N]`` the target critics' values at ``(s_t, a_t)``.
    log_pi_t: float ``[]`` ``log pi(a_t | s_t)``.
    alpha: float ``[]`` the temperature.

  Returns:
    float ``[]``.

  Example:
    >>> float(soft_clipped_double_q_target(jnp.float32(1.0), jnp.float32(0.5),
    ...                                    jnp.array([4.0, 2.0]), jnp.float32(-1.0),
    ...                                    jnp.float32(0.2)))
    2.1
  """
  chex.assert_rank([r_t, discount_t, q_t, log_pi_t, alpha], [0, 0, 1, 0, 0])
  chex.assert_type([r_t, discount_t, q_t, log_pi_t, alpha], float)
  return r_t + discount_t * (jnp.min(q_t) - alpha * log_pi_t)


def ensemble_q_loss(q_tm1: Array, target_tm1: Array) -> Array:
  """``sum_i 0.5 (q_tm1[i] - y)^2``: every critic of the ensemble regressed onto one target
  ``y`` (whose gradient is stopped).

  Args:
    q_tm1: float ``[N]`` the online critics' values of the stored ``(s, a)``.
    target_tm1: float ``[]`` the target ``y`` (:func:`clipped_double_q_target` or
      :func:`soft_clipped_double_q_target`).

  Returns:
    float ``[]``.
  """
  chex.assert_rank([q_tm1, target_tm1], [1, 0])
  chex.assert_type([q_tm1, target_tm1], float)
  return jnp.sum(0.5 * jnp.square(q_tm1 - jax.lax.stop_gradient(target_tm1)))


def sac_policy_loss(q_t: Array, log_pi_t: Array, alpha: Array) -> Array:
  """SAC's policy loss for one state: ``alpha * log pi(a | s) - min_i Q_i(s, a)``, ``a`` a
  reparameterised sample of the policy (so the gradient flows through ``a`` into ``q_t`` and
  through ``log_pi_t``); the temperature's gradient is stopped.

  Args:
    q_t: float ``[N]`` the online critics' values of ``(s, a)``.
    log_pi_t: float ``[]`` ``log pi(a | s)``.
    alpha: float ``[]`` the temperature.

  Returns:
    float ``[]``.
  """
  chex.assert_rank([q_t, log_pi_t, alpha], [1, 0, 0])
  chex.assert_type([q_t, log_pi_t, alpha], float)
  return jax.lax.stop_gradient(alpha) * log_pi_t - jnp.min(q_t)


def temperature_loss(alpha: Array, log_pi_t: Array, target_entropy: Array) -> Array:
  """SAC's temperature loss for one state (Haarnoja et al. 2018b, eq. 18):

      J(alpha) = -alpha (log pi(a | s) + H_target),

  whose gradient raises ``alpha`` while the policy's entropy ``-log pi`` is below the target
  ``H_target`` and lowers it above. ``log_pi_t``'s gradient is stopped; differentiate with
  respect to ``log alpha`` (``alpha = exp(log_alpha)`` keeps it positive).

  Args:
    alpha: float ``[]`` the temperature.
    log_pi_t: float ``[]`` ``log pi(a | s)`` of a sample of the policy.
    target_entropy: float ``[]`` ``H_target`` (SAC's default ``-dim(A)``).

  Returns:
    float ``[]``.

  Example:
    >>> float(temperature_loss(jnp.float32(0.5), jnp.float32(2.0), jnp.float32(-1.0)))
    -0.5
  """
  chex.assert_rank([alpha, log_pi_t, target_entropy], [0, 0, 0])
  chex.assert_type([alpha, log_pi_t, target_entropy], float)
  return -alpha * (jax.lax.stop_gradient(log_pi_t) + target_entropy)
