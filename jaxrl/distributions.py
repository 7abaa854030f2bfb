"""Action distributions as bundles of pure functions: categorical (discrete) and diagonal Gaussian.

A :class:`Distribution` is ``(sample, log_prob, entropy, mode)`` over the *parameters* a policy
network outputs, after rlax's ``distributions`` module: the agents never branch on the action
space, they call these. Parameters:

* :func:`categorical`: ``logits [..., A]``; actions int32 ``[...]``;
* :func:`diag_gaussian`: ``(mean [..., D], log_std [..., D])``; actions float ``[..., D]``.

Continuous actions are sampled from the *unbounded* Gaussian; the environment receives them
clipped to the action space's bounds (:func:`clip_to`), while the policy gradient and PPO's
ratios use the log-probability of the unclipped sample, which the trajectory stores. Clipping
happens outside the distribution, so ``log_prob`` stays the exact Gaussian density of what was
sampled (an unbiased score function), as in PPO's reference implementations.

Every function takes any leading batch shape; keys are consumed, never created.

References:
  Williams (1992) (Gaussian policies); Schulman et al. (2017), Proximal policy optimization
  algorithms; rlax, DeepMind (2020), ``rlax.softmax``, ``rlax.gaussian_diagonal``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import policies

Array = chex.Array

__all__ = (
    "Distribution",
    "categorical",
    "clip_to",
    "diag_gaussian",
    "for_action_spec",
)


class Distribution(NamedTuple):
  """Pure functions of a policy's distribution parameters.

  Attributes:
    sample: ``(key, params) -> action`` (``key`` consumed).
    log_prob: ``(params, action) -> [...]`` log-density (log-probability) of ``action``.
    entropy: ``params -> [...]``.
    mode: ``params -> action``, the greedy action (argmax, or the Gaussian's mean).
    continuous: whether actions are real vectors.
  """

  sample: Callable[[Any, Any], Array]
  log_prob: Callable[[Any, Array], Array]
  entropy: Callable[[Any], Array]
  mode: Callable[[Any], Array]
  continuous: bool


def categorical() -> Distribution:
  """``pi(a | s) = softmax(logits)_a`` (:mod:`jaxrl.policies`' categorical functions)."""
  return Distribution(
      sample=policies.categorical_sample,
      log_prob=policies.categorical_log_prob,
      entropy=policies.categorical_entropy,
      mode=policies.greedy,
      continuous=False)


_LOG_2PI = float(np.log(2.0 * np.pi))


def _gaussian_log_prob(params, action: Array) -> Array:
  """``sum_d -0.5 ((a - mu) / sigma)^2 - log sigma - 0.5 log(2 pi)``."""
  mean, log_std = params
  chex.assert_equal_shape([mean, action])
  z = (action - mean) * jnp.exp(-log_std)
  return jnp.sum(-0.5 * jnp.square(z) - log_std - 0.5 * _LOG_2PI, axis=-1)


def _gaussian_sample(key, params) -> Array:
  mean, log_std = params
  return mean + jnp.exp(log_std) * jax.random.normal(key, jnp.shape(mean), jnp.result_type(mean))


def _gaussian_entropy(params) -> Array:
  """``sum_d log sigma + 0.5 log(2 pi e)``."""
  mean, log_std = params
  return jnp.sum(jnp.broadcast_to(log_std, jnp.shape(mean)) + 0.5 * (_LOG_2PI + 1.0), axis=-1)


def diag_gaussian() -> Distribution:
  """A Gaussian with diagonal covariance, ``a ~ N(mean, diag(exp(log_std))^2)``.

      log pi(a | s) = sum_d [-0.5 ((a_d - mu_d) / sigma_d)^2 - log sigma_d - 0.5 log 2 pi]
      H(pi)         = sum_d [log sigma_d + 0.5 log(2 pi e)]

  Example:
    >>> dist = diag_gaussian()
    >>> params = (jnp.zeros(2), jnp.zeros(2))          # N(0, I) in 2-D
    >>> round(float(dist.log_prob(params, jnp.zeros(2))), 4)   # -log(2 pi)
    -1.8379
  """
  return Distribution(sample=_gaussian_sample, log_prob=_gaussian_log_prob,
                      entropy=_gaussian_entropy, mode=lambda params: params[0], continuous=True)


def clip_to(low: Array, high: Array) -> Callable[[Array], Array]:
  """``action -> clip(action, low, high)``: what a continuous environment receives."""
  low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
  return lambda action: jnp.clip(action, low, high)


def for_action_spec(spec) -> tuple[Distribution, Callable[[Array], Array]]:
  """``(distribution, to_env)`` for an :class:`~jaxrl.envs.spaces.ActionSpec`: categorical and
  the identity for a discrete space; the diagonal Gaussian and :func:`clip_to` its bounds for a
  continuous one."""
  if spec.continuous:
    return diag_gaussian(), clip_to(spec.low, spec.high)
  return categorical(), lambda action: action

