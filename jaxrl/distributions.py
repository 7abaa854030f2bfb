"""Action distributions as bundles of pure functions: categorical, diagonal Gaussian, tanh-Gaussian.

A :class:`Distribution` is ``(sample, log_prob, entropy, mode)`` over the *parameters* a policy
network outputs, after rlax's ``distributions`` module: the agents never branch on the action
space, they call these. Parameters:

* :func:`categorical`: ``logits [..., A]``; actions int32 ``[...]``;
* :func:`diag_gaussian`: ``(mean [..., D], log_std [..., D])``; actions float ``[..., D]``;
* :func:`tanh_gaussian`: the same parameters; actions are the Gaussian sample ``u [..., D]``
  *before* the squash ``a = low + (tanh(u) + 1) / 2 (high - low)`` (:func:`squash_to`) that the
  environment receives, and ``log_prob`` is the density of ``a`` (Brax's
  ``NormalTanhDistribution``).

Continuous actions are sampled from the *unbounded* Gaussian; the environment receives them
clipped to the action space's bounds (:func:`clip_to`), while the policy gradient and PPO's
ratios use the log-probability of the unclipped sample, which the trajectory stores. Clipping
happens outside the distribution, so ``log_prob`` stays the exact Gaussian density of what was
sampled (an unbiased score function), as in PPO's reference implementations. With
:func:`tanh_gaussian` every sample lies strictly inside the bounds instead, and nothing is lost
to the clip.

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
    "SQUASHES",
    "categorical",
    "clip_to",
    "diag_gaussian",
    "for_action_spec",
    "rescale_to",
    "squash_to",
    "tanh_gaussian",
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


def rescale_to(low: Array, high: Array) -> Callable[[Array], Array]:
  """``a -> low + (a + 1) / 2 (high - low)``: ``[-1, 1]`` onto ``[low, high]`` (the actions of
  SAC, TD3 and DDPG live in ``[-1, 1]^D``; the environment receives them rescaled)."""
  low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
  return lambda a: low + (a + 1.0) * (0.5 * (high - low))


def squash_to(low: Array, high: Array) -> Callable[[Array], Array]:
  """``u -> low + (tanh(u) + 1) / 2 (high - low)``: the real line onto ``(low, high)``."""
  low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
  return lambda u: low + (jnp.tanh(u) + 1.0) * (0.5 * (high - low))


def _log_abs_det_squash(u: Array, half_width: Array) -> Array:
  """``log |d a / d u| = log(half_width) + log(1 - tanh(u)^2)`` elementwise, in the stable form
  ``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2 u))``."""
  return jnp.log(half_width) + 2.0 * (_LOG_2 - u - jax.nn.softplus(-2.0 * u))


_LOG_2 = float(np.log(2.0))
# Gauss-Hermite nodes and weights for E_{z ~ N(0, 1)}[f(z)] ~ sum_k w_k f(x_k) (probabilists')
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(16)
_GH_WEIGHTS = _GH_WEIGHTS / np.sqrt(2.0 * np.pi)


def tanh_gaussian(low: Array, high: Array) -> Distribution:
  """A diagonal Gaussian squashed into the box ``(low, high)`` (Haarnoja et al. 2018, app. C).

      u ~ N(mean, diag(sigma)^2),   a = low + (tanh(u) + 1) / 2 (high - low)
      log pi(a | s) = log N(u; mean, sigma) - sum_d log((high_d - low_d) / 2 (1 - tanh(u_d)^2))
      H(pi)         = H(N(mean, sigma)) + sum_d E_{u_d}[log((high_d - low_d) / 2 (1 - tanh(u_d)^2))]

  ``sample`` returns ``u`` (the trajectory stores it; ``log_prob`` takes it and gives the
  density of the squashed ``a``, by the change of variables); the environment gets
  :func:`squash_to`'s ``a``. ``mode`` is ``mean`` (the greedy action ``squash(mean)``, as
  Brax's). The entropy's expectation is one-dimensional per action dimension and is computed by
  16-point Gauss-Hermite quadrature: deterministic, differentiable, no key (Brax estimates it
  from one sample instead).

  Args:
    low, high: float ``[D]`` the bounds (finite).

  Example:
    >>> dist = tanh_gaussian(jnp.array([-2.0]), jnp.array([2.0]))
    >>> params = (jnp.zeros(1), jnp.zeros(1))
    >>> round(float(dist.log_prob(params, jnp.zeros(1))), 4)   # log N(0; 0, 1) - log 2
    -1.6121
  """
  half_width = 0.5 * (jnp.asarray(high, jnp.float32) - jnp.asarray(low, jnp.float32))

  def log_prob(params, u):
    return _gaussian_log_prob(params, u) - jnp.sum(_log_abs_det_squash(u, half_width), axis=-1)

  def entropy(params):
    mean, log_std = params
    u = mean[..., None] + jnp.exp(log_std)[..., None] * jnp.asarray(_GH_NODES, jnp.float32)
    expected = jnp.sum(_log_abs_det_squash(u, half_width[..., None])
                       * jnp.asarray(_GH_WEIGHTS, jnp.float32), axis=-1)
    return _gaussian_entropy(params) + jnp.sum(expected, axis=-1)

  return Distribution(sample=_gaussian_sample, log_prob=log_prob, entropy=entropy,
                      mode=lambda params: params[0], continuous=True)


#: The ways a continuous action reaches the environment (:func:`for_action_spec`'s ``squash``).
SQUASHES = ("clip", "tanh")


def for_action_spec(spec, squash: str = "clip") -> tuple[Distribution, Callable[[Array], Array]]:
  """``(distribution, to_env)`` for an :class:`~jaxrl.envs.spaces.ActionSpec`: categorical and
  the identity for a discrete space; for a continuous one with ``squash="clip"`` the diagonal
  Gaussian and :func:`clip_to` its bounds, with ``squash="tanh"`` :func:`tanh_gaussian` and
  :func:`squash_to` (``squash`` is ignored for discrete actions).

  Raises:
    ValueError: an unknown ``squash``.
  """
  if squash not in SQUASHES:
    raise ValueError(f"for_action_spec: squash must be one of {SQUASHES}, got {squash!r}.")
  if not spec.continuous:
    return categorical(), lambda action: action
  if squash == "clip":
    return diag_gaussian(), clip_to(spec.low, spec.high)
  return tanh_gaussian(spec.low, spec.high), squash_to(spec.low, spec.high)

