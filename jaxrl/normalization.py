"""Running statistics as pure functions: standardise observations, scale rewards by the return.

A :class:`RunningStats` is ``(count, mean, m2)`` of every item seen so far; :func:`update_stats`
merges a new batch into it by the parallel form of Welford's algorithm (Chan, Golub & LeVeque,
1979), exactly the mean and the population variance of the concatenated stream (to float32
rounding), in any order of batches. The state is a pytree of arrays that goes in and comes back
out: an agent keeps it in its training state, so it is checkpointed with the rest and a resumed
run continues bitwise.

* :func:`standardize`: ``clip((x - mean) / sqrt(var + epsilon), -clip, clip)``, the observation
  normaliser of Brax's PPO (``normalize_observations=True``) and of PureJaxRL's
  ``NormalizeVecObservation``;
* :func:`normalize_rewards`: rewards divided by the running standard deviation of the discounted
  return (PureJaxRL's ``NormalizeVecReward``, gym's ``NormalizeReward``).

References:
  Chan, Golub & LeVeque (1979), Updating formulae and a pairwise algorithm for computing sample
  variances. Engstrom et al. (2020), Implementation matters in deep policy gradients (reward
  scaling). Andrychowicz et al. (2021), What matters in on-policy reinforcement learning?
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import chex
import jax
import jax.numpy as jnp

Array = chex.Array

__all__ = (
    "ReturnNormalizerState",
    "RunningStats",
    "init_return_normalizer",
    "init_stats",
    "merge_stats",
    "normalize_rewards",
    "standardize",
    "update_stats",
)


class RunningStats(NamedTuple):
  """Running statistics of a stream of items of shape ``[*S]``.

  Attributes:
    count: float32 ``[]`` items seen.
    mean: float32 ``[*S]`` their mean.
    m2: float32 ``[*S]`` the sum of their squared deviations from the mean (the population
      variance is ``m2 / count``).
  """

  count: Array
  mean: Array
  m2: Array

  @property
  def variance(self) -> Array:
    """``m2 / count`` ``[*S]``; 1 (the identity's) before any item was seen."""
    return jnp.where(self.count > 0, self.m2 / jnp.maximum(self.count, 1.0), 1.0)


def init_stats(shape: Sequence[int] = ()) -> RunningStats:
  """No items seen: ``count = 0``, ``mean = m2 = 0 [*shape]`` (:func:`standardize` is then the
  identity, up to the clip)."""
  zeros = jnp.zeros(tuple(shape), jnp.float32)
  return RunningStats(count=jnp.zeros((), jnp.float32), mean=zeros, m2=zeros)


def merge_stats(stats: RunningStats, count_b: Array, mean_b: Array, m2_b: Array) -> RunningStats:
  """Merges the statistics ``(n_b, mean_b, m2_b)`` of a batch into ``stats`` (Chan et al.):

      delta = mean_b - mean,   n' = n + n_b,   mean' = mean + delta n_b / n'
      m2' = m2 + m2_b + delta^2 n n_b / n'

  Args:
    stats: the running statistics ``[*S]``.
    count_b: float32 ``[]`` the batch's size (> 0).
    mean_b: ``[*S]`` its mean; m2_b: ``[*S]`` its sum of squared deviations from ``mean_b``.
  """
  total = stats.count + count_b
  delta = mean_b - stats.mean
  mean = stats.mean + delta * (count_b / total)
  m2 = stats.m2 + m2_b + jnp.square(delta) * (stats.count * count_b / total)
  return RunningStats(count=total, mean=mean, m2=m2)


def update_stats(stats: RunningStats, batch: Array, *, batch_dims: int = 1) -> RunningStats:
  """``stats`` with every item of ``batch [*B, *S]`` (``B`` its first ``batch_dims`` axes)
  merged in (:func:`merge_stats`); the items are cast to float32.

  Example:
    >>> stats = update_stats(init_stats((2,)), jnp.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> stats = update_stats(stats, jnp.array([[4.0, 5.0]]))
    >>> stats.mean.tolist(), stats.variance.tolist()        # of the three rows
    ([2.0, 3.0], [2.6666667461395264, 2.6666667461395264])
  """
  batch = jnp.asarray(batch, jnp.float32)
  chex.assert_rank(batch, batch_dims + stats.mean.ndim)
  axes = tuple(range(batch_dims))
  count_b = jnp.float32(math.prod(batch.shape[:batch_dims]))
  mean_b = jnp.mean(batch, axis=axes)
  m2_b = jnp.sum(jnp.square(batch - mean_b), axis=axes)
  return merge_stats(stats, count_b, mean_b, m2_b)


def standardize(stats: RunningStats, x: Array, *, epsilon: float = 1e-8,
                clip: float | None = None) -> Array:
  """``(x - mean) / sqrt(var + epsilon)``, clipped to ``[-clip, clip]`` when ``clip`` is given.

  ``x`` is ``[..., *S]`` (any leading axes) and cast to float32; the statistics are constants
  here (``stop_gradient``). Before any item was seen (``count = 0``) it is ``x`` itself
  (clipped).
  """
  stats = jax.lax.stop_gradient(stats)
  out = (jnp.asarray(x, jnp.float32) - stats.mean) / jnp.sqrt(stats.variance + epsilon)
  return out if clip is None else jnp.clip(out, -clip, clip)


class ReturnNormalizerState(NamedTuple):
  """What :func:`normalize_rewards` carries from one rollout to the next.

  Attributes:
    stats: :class:`RunningStats` ``[]`` of the discounted returns ``G_t`` seen so far.
    return_t: float32 ``[E]`` each environment's discounted return so far (0 after an episode
      ended).
  """

  stats: RunningStats
  return_t: Array


def init_return_normalizer(num_envs: int) -> ReturnNormalizerState:
  """No return seen, every environment's discounted return 0."""
  return ReturnNormalizerState(init_stats(), jnp.zeros((num_envs,), jnp.float32))


def normalize_rewards(state: ReturnNormalizerState, r_t: Array, end_t: Array, discount: Array, *,
                      epsilon: float = 1e-8) -> tuple[Array, ReturnNormalizerState]:
  """Rewards of a ``[T, E]`` rollout divided by the running std of the discounted return.

      G_t = r_t + discount G_{t-1} (1 - end_{t-1})        (G carried over from earlier rollouts)
      stats <- stats merged with every G_t of the rollout
      r'_t = r_t / sqrt(var(G) + epsilon)

  ``end_t`` (terminated or truncated) starts a new return after the step (gym's
  ``NormalizeReward`` restarts it after the end as well). The return is not centred: only its
  scale is taken out, so the rewards keep their signs.

  Args:
    state: the :class:`ReturnNormalizerState` (``return_t [E]``).
    r_t: float ``[T, E]`` the environment's rewards; end_t: bool ``[T, E]``.
    discount: float ``[]`` gamma.
    epsilon: added to the variance.

  Returns:
    ``(r'_t [T, E], state)``.
  """
  chex.assert_rank([r_t, end_t], 2)
  chex.assert_equal_shape([r_t, end_t])

  def step(g, x):
    r, end = x
    g = r + discount * g
    return jnp.where(end, 0.0, g), g

  return_t, g_t = jax.lax.scan(step, state.return_t, (jnp.asarray(r_t, jnp.float32), end_t))
  stats = update_stats(state.stats, g_t, batch_dims=2)
  return r_t / jnp.sqrt(stats.variance + epsilon), ReturnNormalizerState(stats, return_t)
