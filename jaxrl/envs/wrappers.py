"""Functional environment wrappers with gymnax 1.x's signatures.

A wrapper holds the inner environment and its own static settings; its state is a pytree
dataclass whose ``env_state`` field is the inner state. ``reset(key, params) -> (obs, state)`` and
``step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)`` keep
the inner environment's meaning: the inner environment auto-resets, ``info["final_observation"]``
is the observation of the step's successor before any reset. Params pass through unchanged.
Wrappers compose (``EpisodeStatistics(TimeLimit(FrameStack(env, 4), 1000))``); the order matters
only where it should (statistics outside a time limit see its truncations).

Wrappers are hashable by value (type, inner environment, settings), so equal stacks share compiled
code. Attributes they do not define (``num_actions``, ``default_params``, spaces, ...) come from
the inner environment.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import spaces
from gymnax.wrappers.purerl import GymnaxWrapper

from jaxrl import normalization
from jaxrl import validation

__all__ = (
    "EpisodeStatistics",
    "EpisodeStatisticsState",
    "FrameStack",
    "FrameStackState",
    "MaskObservation",
    "NormalizeObservation",
    "NormalizeObservationState",
    "TimeLimit",
    "TimeLimitState",
    "Wrapper",
)


Array = chex.Array


def _select(pred: Array, on_true, on_false):
  """``pred ? on_true : on_false`` leaf by leaf (pytrees of equal structure)."""
  return jax.tree.map(lambda x, y: jnp.where(pred, x, y), on_true, on_false)


class Wrapper(GymnaxWrapper):
  """Base wrapper: proxies attributes to the inner environment; hashable by value.

  Subclasses list their static settings in ``_static()`` (hashable values).
  """

  def __getattr__(self, name):
    if name.startswith("__") or name == "_env":
      raise AttributeError(name)
    return getattr(self._env, name)

  def _static(self) -> tuple:
    return ()

  def _key(self):
    return (type(self), self._env, self._static())

  def __eq__(self, other):
    return type(other) is type(self) and self._key() == other._key()

  def __hash__(self):
    return hash(self._key())

  def __repr__(self):
    settings = ", ".join(repr(s) for s in self._static())
    return f"{type(self).__name__}({self._env!r}{', ' + settings if settings else ''})"

  @property
  def unwrapped(self):
    """The innermost environment."""
    env = self._env
    while isinstance(env, GymnaxWrapper):
      env = env._env
    return env


# ------------------------------------------------------------------------------------------------
# EpisodeStatistics
# ------------------------------------------------------------------------------------------------
@struct.dataclass
class EpisodeStatisticsState:
  """State of :class:`EpisodeStatistics`.

  Attributes:
    env_state: the inner state.
    episode_return: float32 ``[]`` undiscounted return of the running episode so far.
    episode_length: int32 ``[]`` steps of the running episode so far.
  """

  env_state: Any
  episode_return: jax.Array
  episode_length: jax.Array


class EpisodeStatistics(Wrapper):
  """Reports the undiscounted return and length of each episode when it finishes.

  At every step ``t`` with ``done_t = terminated_t or truncated_t`` (either ends an episode):

      G <- G + r_t,  L <- L + 1
      info["episode_done"]   = done_t
      info["episode_return"] = G if done_t else 0     (float32)
      info["episode_length"] = L if done_t else 0     (int32)
      G, L <- 0 if done_t

  Only finished episodes are counted: the mean return over a rollout is
  ``sum(info["episode_return"]) / max(sum(info["episode_done"]), 1)``, and an episode still
  running at the end of the rollout contributes nothing.
  """

  @partial(jax.jit, static_argnames=("self",))
  def reset(self, key: jax.Array, params=None):
    obs, env_state = self._env.reset(key, params)
    return obs, EpisodeStatisticsState(env_state, jnp.zeros((), jnp.float32),
                                       jnp.zeros((), jnp.int32))

  @partial(jax.jit, static_argnames=("self",))
  def step(self, key: jax.Array, state: EpisodeStatisticsState, action, params=None):
    obs, env_state, reward, terminated, truncated, info = self._env.step(
        key, state.env_state, action, params)
    done = jnp.logical_or(terminated, truncated)
    episode_return = state.episode_return + jnp.asarray(reward, jnp.float32)
    episode_length = state.episode_length + 1
    info = {
        **info,
        "episode_done": done,
        "episode_return": jnp.where(done, episode_return, 0.0),
        "episode_length": jnp.where(done, episode_length, 0),
    }
    state = EpisodeStatisticsState(env_state, jnp.where(done, 0.0, episode_return),
                                   jnp.where(done, 0, episode_length))
    return obs, state, reward, terminated, truncated, info


# ------------------------------------------------------------------------------------------------
# TimeLimit
# ------------------------------------------------------------------------------------------------
@struct.dataclass
class TimeLimitState:
  """State of :class:`TimeLimit`: the inner state and int32 ``[]`` steps in this episode."""

  env_state: Any
  time: jax.Array


class TimeLimit(Wrapper):
  """Truncates episodes after ``max_steps`` steps, resetting the inner environment itself.

  At step ``t`` of an episode (``t = 1`` for the first step):

      truncated = (inner truncated or t >= max_steps) and not terminated

  When the limit ends an episode the inner environment has not ended, the wrapper resets it
  (with the second half of the step's key) and returns the stepped observation as
  ``info["final_observation"]``. Episodes the inner environment ends (termination, or its own
  time limit, e.g. gymnax's ``params.max_steps_in_episode``) end as before: this wrapper can
  shorten an inner limit, not lengthen it. ``truncated`` is never true together with
  ``terminated`` (gymnax's own environments may report both).

  Args:
    env: the inner environment.
    max_steps: an int ``>= 1``.
  """

  def __init__(self, env, max_steps: int):
    max_steps = validation.check_int("TimeLimit max_steps", max_steps, minimum=1)
    super().__init__(env)
    self.max_steps = max_steps

  def _static(self):
    return (self.max_steps,)

  @partial(jax.jit, static_argnames=("self",))
  def reset(self, key: jax.Array, params=None):
    obs, env_state = self._env.reset(key, params)
    return obs, TimeLimitState(env_state, jnp.zeros((), jnp.int32))

  @partial(jax.jit, static_argnames=("self",))
  def step(self, key: jax.Array, state: TimeLimitState, action, params=None):
    key_step, key_reset = jax.random.split(key)
    obs, env_state, reward, terminated, truncated, info = self._env.step(
        key_step, state.env_state, action, params)
    inner_done = jnp.logical_or(terminated, truncated)
    time = state.time + 1
    out_of_time = jnp.logical_and(time >= self.max_steps, ~inner_done)
    obs_reset, env_state_reset = self._env.reset(key_reset, params)
    final_obs = _select(inner_done, info["final_observation"], obs)
    obs = _select(out_of_time, obs_reset, obs)
    env_state = _select(out_of_time, env_state_reset, env_state)
    truncated = jnp.logical_and(jnp.logical_or(truncated, time >= self.max_steps), ~terminated)
    done = jnp.logical_or(terminated, truncated)
    info = {**info, "final_observation": final_obs, "terminated": terminated,
            "truncated": truncated}
    return (obs, TimeLimitState(env_state, jnp.where(done, 0, time)), reward, terminated,
            truncated, info)


# ------------------------------------------------------------------------------------------------
# NormalizeObservation
# ------------------------------------------------------------------------------------------------
@struct.dataclass
class NormalizeObservationState:
  """State of :class:`NormalizeObservation` (running statistics of the observations).

  Attributes:
    env_state: the inner state.
    count: float32 ``[]`` observations seen.
    mean: float32 ``[*obs_shape]`` their mean.
    m2: float32 ``[*obs_shape]`` sum of squared deviations from the mean (variance =
      ``m2 / count``).
  """

  env_state: Any
  count: jax.Array
  mean: jax.Array
  m2: jax.Array

  @property
  def variance(self) -> jax.Array:
    """``m2 / count``, ``[*obs_shape]`` (with any leading batch axes of the state)."""
    count = jnp.reshape(self.count, jnp.shape(self.count) + (1,) * (self.m2.ndim - self.count.ndim))
    return self.m2 / jnp.maximum(count, 1.0)


class NormalizeObservation(Wrapper):
  """Normalises observations by running mean and variance kept in the wrapper state.

  Each observation the wrapper returns (from ``reset``, and from every ``step``, after the
  inner auto-reset) first updates the statistics, then is returned as

      (obs - mean) / sqrt(var + epsilon)          (clipped to [-clip, clip] if clip is given)

  ``info["final_observation"]`` is normalised with the same statistics (it is not counted).
  The update merges a batch of ``n_b`` observations into ``(n, mean, m2)`` by the parallel
  form of Welford's algorithm (Chan, Golub & LeVeque, 1979;
  :func:`jaxrl.normalization.merge_stats`):

      delta = mean_b - mean,  n' = n + n_b,  mean' = mean + delta n_b / n'
      m2' = m2 + m2_b + delta^2 n n_b / n'

  Under ``jax.vmap`` each environment keeps its own statistics (``n_b = 1``), so copies that
  see different observations normalise differently. To share statistics across a vmapped batch,
  give ``axis_name`` and vmap with the same name (``jax.vmap(env.step, axis_name="envs")``):
  the batch's observations are pooled with ``lax.psum`` and every copy holds the same numbers.
  A new ``reset`` starts the statistics afresh; auto-resets do not.

  Args:
    env: the inner environment; observations are arrays (cast to float32).
    epsilon: added to the variance.
    clip: optional bound on the normalised values.
    axis_name: optional vmap axis to pool statistics over.
  """

  def __init__(self, env, *, epsilon: float = 1e-8, clip: float | None = None,
               axis_name: str | None = None):
    validation.check_scalar("NormalizeObservation epsilon", epsilon, validation.POSITIVE)
    if clip is not None:
      validation.check_scalar("NormalizeObservation clip (or None)", clip, validation.POSITIVE)
    super().__init__(env)
    self.epsilon = float(epsilon)
    self.clip = None if clip is None else float(clip)
    self.axis_name = axis_name

  def _static(self):
    return (self.epsilon, self.clip, self.axis_name)

  def _merge(self, count, mean, m2, obs):
    obs = jnp.asarray(obs, jnp.float32)
    if self.axis_name is None:
      n_b, mean_b, m2_b = jnp.ones((), jnp.float32), obs, jnp.zeros_like(obs)
    else:
      n_b = jax.lax.psum(jnp.ones((), jnp.float32), self.axis_name)
      mean_b = jax.lax.psum(obs, self.axis_name) / n_b
      m2_b = jax.lax.psum(jnp.square(obs - mean_b), self.axis_name)
    return normalization.merge_stats(normalization.RunningStats(count, mean, m2), n_b, mean_b,
                                     m2_b)

  def _normalize(self, obs, mean, m2, count):
    return normalization.standardize(normalization.RunningStats(count, mean, m2), obs,
                                     epsilon=self.epsilon, clip=self.clip)

  @partial(jax.jit, static_argnames=("self",))
  def reset(self, key: jax.Array, params=None):
    obs, env_state = self._env.reset(key, params)
    zeros = jnp.zeros(jnp.shape(obs), jnp.float32)
    count, mean, m2 = self._merge(jnp.zeros((), jnp.float32), zeros, zeros, obs)
    state = NormalizeObservationState(env_state, count, mean, m2)
    return self._normalize(obs, mean, m2, count), state

  @partial(jax.jit, static_argnames=("self",))
  def step(self, key: jax.Array, state: NormalizeObservationState, action, params=None):
    obs, env_state, reward, terminated, truncated, info = self._env.step(
        key, state.env_state, action, params)
    count, mean, m2 = self._merge(state.count, state.mean, state.m2, obs)
    info = {**info, "final_observation": self._normalize(info["final_observation"], mean, m2,
                                                         count)}
    state = NormalizeObservationState(env_state, count, mean, m2)
    return self._normalize(obs, mean, m2, count), state, reward, terminated, truncated, info

  def observation_space(self, params=None) -> spaces.Box:
    inner = self._env.observation_space(params)
    bound = np.inf if self.clip is None else self.clip
    return spaces.Box(-bound, bound, inner.shape, dtype=jnp.float32)


# ------------------------------------------------------------------------------------------------
# FrameStack
# ------------------------------------------------------------------------------------------------
@struct.dataclass
class FrameStackState:
  """State of :class:`FrameStack`: the inner state and the stacked frames ``[H, W, C * k]``."""

  env_state: Any
  frames: jax.Array


class FrameStack(Wrapper):
  """Stacks the last ``num_frames`` observations along the channel (last) axis.

  Observations ``[H, W, C]`` become ``[H, W, C * k]`` (any ``[..., C]`` works), oldest frame
  first: channels ``[C * (k - 1), C * k)`` hold the newest frame. On ``reset`` the first frame
  is repeated ``k`` times. When an episode ends (terminated or truncated) the stack restarts
  from the inner environment's reset observation, and ``info["final_observation"]`` is the
  stack that ends with the pre-reset observation, the one to bootstrap from on truncation.

  Args:
    env: the inner environment; array observations of rank >= 1.
    num_frames: ``k >= 1``.
  """

  def __init__(self, env, num_frames: int):
    num_frames = validation.check_int("FrameStack num_frames", num_frames, minimum=1)
    super().__init__(env)
    self.num_frames = num_frames

  def _static(self):
    return (self.num_frames,)

  def _check(self, obs):
    if jnp.ndim(obs) < 1:
      raise ValueError(f"FrameStack needs observations of rank >= 1 ([..., C]), got shape "
                       f"{jnp.shape(obs)}.")

  def _restart(self, obs):
    return jnp.concatenate([obs] * self.num_frames, axis=-1)

  def _push(self, frames, obs):
    channels = obs.shape[-1]
    return jnp.concatenate([frames[..., channels:], obs], axis=-1)

  @partial(jax.jit, static_argnames=("self",))
  def reset(self, key: jax.Array, params=None):
    obs, env_state = self._env.reset(key, params)
    self._check(obs)
    frames = self._restart(obs)
    return frames, FrameStackState(env_state, frames)

  @partial(jax.jit, static_argnames=("self",))
  def step(self, key: jax.Array, state: FrameStackState, action, params=None):
    obs, env_state, reward, terminated, truncated, info = self._env.step(
        key, state.env_state, action, params)
    self._check(obs)
    done = jnp.logical_or(terminated, truncated)
    frames = jnp.where(done, self._restart(obs), self._push(state.frames, obs))
    final = self._push(state.frames, info["final_observation"])
    info = {**info, "final_observation": final}
    return frames, FrameStackState(env_state, frames), reward, terminated, truncated, info

  def observation_space(self, params=None) -> spaces.Box:
    inner = self._env.observation_space(params)
    shape = tuple(inner.shape)
    if len(shape) < 1:
      raise ValueError(f"FrameStack needs observations of rank >= 1, got shape {shape}.")
    shape = shape[:-1] + (shape[-1] * self.num_frames,)

    def tile(bound):
      if np.ndim(bound) == 0:
        return bound
      return jnp.concatenate([jnp.asarray(bound)] * self.num_frames, axis=-1)

    return spaces.Box(tile(inner.low), tile(inner.high), shape, dtype=inner.dtype)


# ------------------------------------------------------------------------------------------------
# MaskObservation
# ------------------------------------------------------------------------------------------------
def _observation_shape(env) -> tuple[int, ...]:
  """The shape of ``env``'s observations, read from its space at its default params."""
  params = getattr(env, "default_params", None)
  return tuple(int(d) for d in env.observation_space(params).shape)


class MaskObservation(Wrapper):
  """Hides chosen entries of a flat observation: a fully observed task made partially observed.

  With inner observations ``o`` of shape ``[D]`` and ``keep`` the indices ``0 .. D-1`` not in
  ``hide`` (in increasing order), every observation the wrapper returns (from ``reset``, from
  ``step``, and ``info["final_observation"]``, so a truncated episode bootstraps from the masked
  final observation) is

      o' = o[keep]          shape [D - len(hide)]

  The state is the inner state (nothing is added), and rewards, terminations and truncations
  are the inner ones. ``MaskObservation(CartPole, hide=(1, 3))`` drops the cart velocity and the
  pole's angular velocity (registered as ``"MaskedCartPole-v1"``): a memoryless policy sees
  positions only, and must infer the velocities from a history of observations.

  Args:
    env: the inner environment; flat observations ``[D]``.
    hide: distinct entry indices in ``0 .. D-1``, fewer than ``D`` (at least one entry stays);
      an empty ``hide`` hides nothing.
    name: the environment's name (``env.name``; default: the inner environment's).

  Raises:
    ValueError: observations that are not flat (naming their shape), an index out of range or
      not an int, a repeated index, or ``hide`` naming every entry.
  """

  def __init__(self, env, hide, *, name: str | None = None):
    shape = _observation_shape(env)
    if len(shape) != 1:
      raise ValueError(f"MaskObservation needs flat observations [D] (rank 1) to hide entries "
                       f"of, and {getattr(env, 'name', type(env).__name__)} has observation "
                       f"shape {shape}.")
    size = shape[0]
    if isinstance(hide, (str, bytes)) or not hasattr(hide, "__iter__"):
      raise ValueError(f"MaskObservation hide must be a sequence of entry indices, got {hide!r}.")
    hide = tuple(hide)
    for i in hide:
      try:
        validation.check_int("MaskObservation hide", i, minimum=0, maximum=size - 1)
      except ValueError:
        raise ValueError(f"MaskObservation hide entries must be ints in 0..{size - 1} "
                         f"(observations of shape {shape}), got {i!r} in hide={list(hide)}."
                         ) from None
    hide = tuple(int(i) for i in hide)
    repeated = sorted({i for i in hide if hide.count(i) > 1})
    if repeated:
      raise ValueError(f"MaskObservation hide names entries more than once: {repeated} (hide="
                       f"{list(hide)}).")
    if len(hide) >= size:
      raise ValueError(f"MaskObservation hide names all {size} entries of observations of "
                       f"shape {shape}: at least one must stay.")
    if name is not None and not isinstance(name, str):
      raise ValueError(f"MaskObservation name must be a string, got {name!r}.")
    super().__init__(env)
    self.hide = tuple(sorted(hide))
    self.keep = tuple(i for i in range(size) if i not in self.hide)
    self._name = name

  def _static(self):
    return (self.hide,) if self._name is None else (self.hide, self._name)

  @property
  def name(self) -> str:
    return self._name if self._name is not None else self._env.name

  def mask(self, obs: Array) -> Array:
    """``obs[..., keep]``: one observation ``[D]`` (or a batch ``[..., D]``) without the hidden
    entries."""
    size = len(self.keep) + len(self.hide)
    if jnp.shape(obs)[-1:] != (size,):
      raise ValueError(f"MaskObservation expected observations [..., {size}], got shape "
                       f"{jnp.shape(obs)}.")
    return jnp.take(obs, np.asarray(self.keep, np.int32), axis=-1)

  @partial(jax.jit, static_argnames=("self",))
  def reset(self, key: jax.Array, params=None):
    obs, env_state = self._env.reset(key, params)
    return self.mask(obs), env_state

  @partial(jax.jit, static_argnames=("self",))
  def step(self, key: jax.Array, state, action, params=None):
    obs, env_state, reward, terminated, truncated, info = self._env.step(
        key, state, action, params)
    if "final_observation" in info:
      info = {**info, "final_observation": self.mask(info["final_observation"])}
    return self.mask(obs), env_state, reward, terminated, truncated, info

  def observation_space(self, params=None) -> spaces.Box:
    inner = self._env.observation_space(params)
    shape = (len(self.keep),)
    keep = np.asarray(self.keep)

    def select(bound):
      if np.ndim(bound) == 0:
        return bound
      return jnp.asarray(np.broadcast_to(np.asarray(bound), tuple(inner.shape))[keep])

    return spaces.Box(select(inner.low), select(inner.high), shape, dtype=inner.dtype)
