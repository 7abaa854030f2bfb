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

  and, when either ends the episode, a reset chosen by the ``reset`` option:

  * ``"fresh"`` (the default): a true reset ``suite.reset(key)`` with the step's key (the suite's
    ``step`` takes no key, so the key is consumed once, here). Every episode starts from a new
    random initial state, as in gymnax; under ``vmap`` both branches of the select run, so this
    costs one ``suite.reset`` per step.
  * ``"cached"``: what Brax's ``AutoResetWrapper`` and Playground's ``wrap_for_brax_training``
    (without ``full_reset``) do, the reset Brax's and Playground's own training uses.
    ``reset(key)`` keeps that environment's first physics state (``pipeline_state`` in Brax's
    ``State``, ``data`` in Playground's) and first observation in ``PipelineState.first``; an
    episode end restores those two instead of calling ``suite.reset`` (the suite's ``info`` and
    ``metrics`` carry on from the step, as under those wrappers; ``reward`` and ``done`` in the
    state read 0). So every episode of one environment starts from the same initial state, that
    environment's first; vmapped environments reset with different keys still differ from each
    other. No reset is computed per step; the step's key is unused.

  ``terminated``, ``truncated`` and ``info["final_observation"]`` (the true last observation)
  are the same under both.
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

__all__ = ("PipelineAdapter", "PipelineParams", "PipelineState", "RESETS", "flatten_obs")

#: The auto-reset modes (the ``reset`` option; see the module docstring); the first is the default.
RESETS = ("fresh", "cached")


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
    first: under ``reset="cached"``, the state that every episode end restores: ``{field: value}``
      of the suite state's physics field (``pipeline_state`` or ``data``) and ``obs`` at
      ``reset``; None under ``reset="fresh"``.
  """

  env_state: Any
  time: jax.Array
  first: Any = None


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


def _physics_field(env_state) -> str:
  """The field of the suite's state that holds the physics: Brax's ``State.pipeline_state``,
  Playground's ``State.data`` (the one their cached auto-reset restores)."""
  return "pipeline_state" if hasattr(env_state, "pipeline_state") else "data"


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

  See the module docstring for the translation. Hashable by value: type, suite, name, options
  and reset mode, so equal adapters share compiled code.

  Args:
    suite: the suite prefix (``"brax"``).
    name: the suite's environment name.
    env: the suite's environment.
    options: the options it was built with (hashable values), for equality and ``repr``.
    episode_length: suite steps per episode (>= 1).
    action_repeat: suite steps per adapter step (>= 1).
    action_low, action_high: float32 ``[D]`` action bounds.
    reset: ``"fresh"`` or ``"cached"`` (see the module docstring); it belongs in ``options`` too.
  """

  def __init__(self, suite: str, name: str, env: Any, options: dict[str, Any], *,
               episode_length: int, action_repeat: int, action_low, action_high,
               reset: str = RESETS[0]):
    super().__init__()
    if reset not in RESETS:
      raise ValueError(f"reset must be one of {RESETS}, got {reset!r}.")
    self.reset_mode = reset
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
    return (type(self), self.suite, self.env_name, tuple(sorted(self.options.items())),
            self.reset_mode)

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
    first = None
    if self.reset_mode == "cached":
      field = _physics_field(env_state)
      first = {field: getattr(env_state, field), "obs": env_state.obs}
    return flatten_obs(env_state.obs), PipelineState(env_state, jnp.zeros((), jnp.int32), first)

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
    info = {"final_observation": obs_stepped, "terminated": terminated, "truncated": truncated}
    if self.reset_mode == "cached":
      restored = {k: _select(done, v, getattr(env_state, k)) for k, v in state.first.items()}
      zero = jnp.zeros((), jnp.float32)
      env_state = env_state.replace(**restored, reward=jnp.where(done, zero, env_state.reward),
                                    done=jnp.where(done, zero, env_state.done))
      state = PipelineState(env_state, jnp.where(done, 0, time), state.first)
      return flatten_obs(env_state.obs), state, reward, terminated, truncated, info
    obs_reset, state_reset = self.reset(key, params)
    state_stepped = PipelineState(env_state, time)
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
