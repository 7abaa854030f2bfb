"""The adapter Brax and MuJoCo Playground share: a Brax-style ``State`` behind gymnax 1.x.

Both suites' environments are ``reset(rng) -> State`` and ``step(State, action) -> State`` with
``State.obs``, ``State.reward`` and a float ``State.done`` that means termination only (neither
counts time; their training wrappers do, in ``EpisodeWrapper``). :class:`PipelineAdapter` gives
such an environment jaxrl's interface:

- ``reset(key, params) -> (obs, state)`` is the suite's ``reset(key)``: the same key gives the
  suite's own first state.
- ``step(key, state, action, params)`` repeats ``action`` ``action_repeat`` times through the
  suite's ``step`` (summing rewards, as Brax's ``EpisodeWrapper`` does, and like it not stopping
  inside the repeat), then

      terminated = done_t > 0                       (the suite's own ``done``)
      truncated  = t >= params.max_steps_in_episode and not terminated
      info["final_observation"] = the stepped observation, before any reset

  and, when either ends the episode, a true reset ``suite.reset(key)`` with the step's key (the
  suite's ``step`` takes no key, so the key is consumed once, here). Brax's and Playground's own
  ``AutoResetWrapper`` instead return to a first state cached at the start (the same one for
  every episode of an environment); the adapter's fresh reset is what gymnax does and costs one
  ``reset`` per step under ``vmap`` (both branches of the select run).
- ``t`` counts adapter steps; ``params.max_steps_in_episode = ceil(episode_length /
  action_repeat)``, so an episode lasts ``episode_length`` suite steps as under Brax's
  ``EpisodeWrapper`` (``steps += action_repeat``, done at ``steps >= episode_length``). It lives in
  params, so ``params.replace(max_steps_in_episode=...)`` changes the limit without recompiling.

Observations are float32 vectors (a dict of arrays is flattened: keys sorted, each raveled,
concatenated); rewards float32 scalars; ``terminated``/``truncated`` bool scalars. Spaces:
``Box(-inf, inf, [obs_dim])`` and ``Box(low, high, [action_dim])``.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment
from gymnax.environments import spaces

__all__ = ("PipelineAdapter", "PipelineParams", "PipelineState", "flatten_obs")


@struct.dataclass
class PipelineParams:
  """Params of a :class:`PipelineAdapter`: int ``[]`` adapter steps before truncation."""

  max_steps_in_episode: int = 1000


@struct.dataclass
class PipelineState:
  """State of a :class:`PipelineAdapter`.

  Attributes:
    env_state: the suite's ``State`` (reward and done as float32 ``[]``).
    time: int32 ``[]`` adapter steps taken in this episode.
  """

  env_state: Any
  time: jax.Array


def flatten_obs(obs: Any) -> jax.Array:
  """``obs`` as one float32 vector: an array raveled; a dict's arrays by sorted key, raveled and
  concatenated."""
  if isinstance(obs, Mapping):
    return jnp.concatenate([jnp.ravel(jnp.asarray(obs[k], jnp.float32)) for k in sorted(obs)])
  return jnp.ravel(jnp.asarray(obs, jnp.float32))


def _tidy(env_state):
  """The suite's state with float32 scalar reward and done (Brax envs return Python floats), so
  reset and step states have the same types."""
  return env_state.replace(reward=jnp.asarray(env_state.reward, jnp.float32),
                           done=jnp.asarray(env_state.done, jnp.float32))


def _select(pred, on_true, on_false):
  return jax.tree.map(lambda x, y: jnp.where(pred, x, y), on_true, on_false)


def _select_state(pred, reset, stepped):
  """The reset state where ``pred``, else the stepped one; a field of the suite's state whose
  structure differs between the two (an info key only ``step`` adds) keeps its stepped value."""
  if jax.tree.structure(reset) == jax.tree.structure(stepped):
    return _select(pred, reset, stepped)
  fields = {}
  for f in dataclasses.fields(stepped.env_state):
    x, y = getattr(reset.env_state, f.name), getattr(stepped.env_state, f.name)
    same = jax.tree.structure(x) == jax.tree.structure(y)
    fields[f.name] = _select(pred, x, y) if same else y
  return PipelineState(stepped.env_state.replace(**fields), jnp.where(pred, reset.time,
                                                                      stepped.time))


class PipelineAdapter(environment.Environment):
  """A Brax-style environment (``reset(rng)``, ``step(state, action)``) as a gymnax 1.x one.

  See the module docstring for the translation. Hashable by value: type, suite, name and options,
  so equal adapters share compiled code.

  Args:
    suite: the suite prefix (``"brax"``).
    name: the suite's environment name.
    env: the suite's environment.
    options: the options it was built with (hashable values), for equality and ``repr``.
    episode_length: suite steps per episode (>= 1).
    action_repeat: suite steps per adapter step (>= 1).
    action_low, action_high: float32 ``[D]`` action bounds.
  """

  def __init__(self, suite: str, name: str, env: Any, options: dict[str, Any], *,
               episode_length: int, action_repeat: int, action_low, action_high):
    super().__init__()
    self.suite = suite
    self.env_name = name
    self.env = env
    self.options = dict(options)
    self.episode_length = int(episode_length)
    self.action_repeat = int(action_repeat)
    self._action_low = np.asarray(action_low, np.float32)
    self._action_high = np.asarray(action_high, np.float32)
    shape = jax.eval_shape(lambda k: flatten_obs(env.reset(k).obs), jax.random.PRNGKey(0))
    self._obs_shape = tuple(shape.shape)

  # -- identity ----------------------------------------------------------------------------------
  def _key(self):
    return (type(self), self.suite, self.env_name, tuple(sorted(self.options.items())))

  def __eq__(self, other):
    return type(other) is type(self) and self._key() == other._key()

  def __hash__(self):
    return hash(self._key())

  def __repr__(self):
    opts = ", ".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
    return f"{type(self).__name__}({self.name!r}{', ' + opts if opts else ''})"

  @property
  def name(self) -> str:
    return f"{self.suite}:{self.env_name}"

  @property
  def default_params(self) -> PipelineParams:
    return PipelineParams(max_steps_in_episode=math.ceil(self.episode_length / self.action_repeat))

  # -- dynamics ----------------------------------------------------------------------------------
  @partial(jax.jit, static_argnames=("self",))
  def reset(self, key: jax.Array, params: PipelineParams | None = None):
    env_state = _tidy(self.env.reset(key))
    return flatten_obs(env_state.obs), PipelineState(env_state, jnp.zeros((), jnp.int32))

  @partial(jax.jit, static_argnames=("self",))
  def step(self, key: jax.Array, state: PipelineState, action,
           params: PipelineParams | None = None):
    if params is None:
      params = self.default_params
    action = jnp.asarray(action, jnp.float32)
    if self.action_repeat == 1:
      env_state = _tidy(self.env.step(state.env_state, action))
      reward = env_state.reward
    else:
      def repeat(s, _):
        s = _tidy(self.env.step(s, action))
        return s, s.reward
      env_state, rewards = jax.lax.scan(repeat, state.env_state, None, self.action_repeat)
      reward = jnp.sum(rewards)
    time = state.time + 1
    terminated = env_state.done > 0
    truncated = jnp.logical_and(time >= params.max_steps_in_episode, ~terminated)
    done = jnp.logical_or(terminated, truncated)
    obs_stepped = flatten_obs(env_state.obs)
    obs_reset, state_reset = self.reset(key, params)
    state_stepped = PipelineState(env_state, time)
    info = {"final_observation": obs_stepped, "terminated": terminated, "truncated": truncated}
    state = _select_state(done, state_reset, state_stepped)
    return jnp.where(done, obs_reset, obs_stepped), state, reward, terminated, truncated, info

  # -- spaces ------------------------------------------------------------------------------------
  def observation_space(self, params: PipelineParams | None = None) -> spaces.Box:
    return spaces.Box(-jnp.inf, jnp.inf, self._obs_shape, dtype=jnp.float32)

  def action_space(self, params: PipelineParams | None = None) -> spaces.Box:
    return spaces.Box(jnp.asarray(self._action_low), jnp.asarray(self._action_high),
                      self._action_low.shape, dtype=jnp.float32)

  @property
  def num_actions(self) -> int:
    return int(self._action_low.shape[0])
