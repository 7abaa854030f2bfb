"""Jumanji's environments behind jaxrl's interface: ``envs.make("jumanji:Snake-v1")``.

The adapter wraps ``jumanji.make(name, **options)`` and changes three things, nothing else:

- Spaces. Jumanji's observations are structured (NamedTuples of several arrays). Every numeric
  field except ``action_mask`` is cast to float32 and flattened, in the observation's field order,
  into one vector: ``observation_space`` is a ``Box([D])`` whose bounds are the fields' spec bounds
  (``BoundedArray`` minimum/maximum, ``DiscreteArray`` ``0 .. n-1``; unbounded otherwise). The
  action mask of the returned observation is ``info["action_mask"]`` (bool ``[A]``, all True for
  an environment without one) and ``env.action_mask(state)``. A ``specs.DiscreteArray(n)`` action
  is ``Discrete(n)``; environments with another action spec (``MultiDiscreteArray``, continuous
  ``BoundedArray``) or per-agent rewards are listed by :func:`names` but :func:`make` refuses them,
  naming the spec.
- The episode boundary. An episode ends at ``StepType.LAST``. Jumanji marks a truncation with
  discount 1, but most of its environments (Snake, Tetris, Maze, ...) end on their own
  ``time_limit`` with discount 0, as if it were a termination. The adapter therefore reports
  ``truncated`` when the step is LAST and either the discount is positive or the state's
  ``step_count`` has reached the environment's ``time_limit``; ``terminated`` otherwise. (So a
  true termination on the very step the time limit runs out reads as a truncation: jumanji does not
  say which it was.) ``step`` auto-resets exactly as jumanji's ``AutoResetWrapper`` does: on LAST
  it resets from ``split(state.key)[0]``, so a trajectory through the adapter is the suite's own,
  and ``info["final_observation"]`` holds the flattened observation of the step's successor before
  the reset. Jumanji's randomness lives in its state (its key, seeded by ``reset``): the key
  ``step`` takes is unused (for a state without a key it seeds the reset), so the caller's
  per-step key splitting compiles away.
- Options. The environment class's int, float and bool constructor arguments (``num_rows``,
  ``num_cols``, ``time_limit``, ``board_size``, ...) are options: ints >= 1, the few rates and
  ranges positive, other floats finite. Generators, reward functions and viewers are not options.

The params are an empty :class:`JumanjiParams` (jumanji has none). Sokoban downloads its levels
when built; without a network its ``make`` fails with jumanji's own error.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import jax
import jax.numpy as jnp
import jumanji
import numpy as np
from flax import struct
from gymnax.environments import spaces
from jumanji import registration
from jumanji import specs
from jumanji.types import StepType

from jaxrl import validation
from jaxrl.envs.options import EnvOption
from jaxrl.envs.suites import SuiteIdentity

__all__ = ("JumanjiEnv", "JumanjiParams", "JumanjiState", "make", "names", "options")

_MASK = "action_mask"
#: Float constructor arguments that must be positive (SearchAndRescue's contact range, speeds and
#: rates); other floats (penalties) need only be finite.
_POSITIVE_FLOATS = ("target_contact_range", "searcher_max_rotate", "searcher_max_accelerate",
                    "searcher_min_speed", "searcher_max_speed")


@struct.dataclass
class JumanjiParams:
  """Jumanji environments have no params; this empty pytree stands in for gymnax's."""


@struct.dataclass
class JumanjiState:
  """The adapter's state: jumanji's state and the action mask of the last observation."""

  env_state: Any
  action_mask: jax.Array


def names() -> tuple[str, ...]:
  """Every registered jumanji environment (``jumanji.registered_environments()``), sorted."""
  return tuple(sorted(jumanji.registered_environments()))


def _registration(name: str) -> tuple[type, dict]:
  """The environment's class and the constructor arguments its registration sets (jumanji has no
  public accessor for its registry)."""
  spec = registration._REGISTRY[name]  # noqa: SLF001
  return registration.load(spec.entry_point), dict(spec.kwargs)


def _scalar_kind(annotation: Any) -> type | None:
  """int, float or bool for such an annotation (``Optional[int]`` too); None otherwise."""
  if isinstance(annotation, str):
    annotation = {"int": int, "float": float, "bool": bool, "Optional[int]": int,
                  "int | None": int}.get(annotation)
  if annotation in (int, float, bool):
    return annotation
  args = [a for a in typing.get_args(annotation) if a is not type(None)]
  return args[0] if len(args) == 1 and args[0] in (int, float, bool) else None


def options(name: str) -> dict[str, EnvOption]:
  """The int, float and bool arguments of the environment's constructor, with ranges."""
  out = {}
  cls, registered = _registration(name)
  for param in inspect.signature(cls.__init__).parameters.values():
    kind = _scalar_kind(param.annotation)
    if param.name == "self" or kind is None:
      continue
    default = registered.get(param.name, param.default)
    doc = f"jumanji constructor argument (default {default!r})"
    if kind is int:
      out[param.name] = EnvOption(int, validation.AT_LEAST_ONE, doc=doc)
    elif kind is float:
      rule = validation.POSITIVE if param.name in _POSITIVE_FLOATS else None
      out[param.name] = EnvOption(float, rule, doc=doc)
    else:
      out[param.name] = EnvOption(bool, doc=doc)
  return out


def _path_name(key: Any) -> str | None:
  return getattr(key, "name", None) or (key.key if isinstance(getattr(key, "key", None), str)
                                        else None)


def _is_mask(path: tuple) -> bool:
  return bool(path) and _path_name(path[0]) == _MASK


def _leaf_bounds(spec: Any, path: tuple, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
  """The spec bounds of one observation leaf, broadcast to its shape (inf where unknown)."""
  try:
    for key in path:
      spec = spec[_path_name(key)]
  except (KeyError, TypeError, AttributeError):
    spec = None
  low, high = -np.inf, np.inf
  if isinstance(spec, specs.BoundedArray):
    low, high = np.asarray(spec.minimum, np.float64), np.asarray(spec.maximum, np.float64)
  return (np.broadcast_to(low, shape).astype(np.float32),
          np.broadcast_to(high, shape).astype(np.float32))


def _flatten(observation: Any) -> jax.Array:
  """Every non-mask leaf of a jumanji observation, float32, in one vector."""
  leaves = jax.tree_util.tree_flatten_with_path(observation)[0]
  return jnp.concatenate([jnp.ravel(x).astype(jnp.float32) for path, x in leaves
                          if not _is_mask(path)])


class JumanjiEnv(SuiteIdentity):
  """A jumanji environment with gymnax 1.x's interface (see the module docstring)."""

  PREFIX = "jumanji"

  def __init__(self, name: str, env: Any, options: dict[str, Any]):
    self._suite_name = name
    self._env = env
    self._options = tuple(sorted(options.items()))
    action = env.action_spec
    if not isinstance(action, specs.DiscreteArray):
      raise ValueError(
          f"jumanji:{name} has the action spec {type(action).__name__}"
          f"{f' {action.num_values.tolist()}' if hasattr(action, 'num_values') else ''}; "
          "jaxrl's agents take Discrete(n) actions (specs.DiscreteArray) or a 1-D box, so this "
          "environment is not adapted.")
    self._num_actions = int(action.num_values)
    env_state, timestep = jax.eval_shape(env.reset, jax.random.key(0))
    if timestep.reward.shape != ():
      raise ValueError(f"jumanji:{name} returns per-agent rewards of shape "
                       f"{timestep.reward.shape}; jaxrl's agents take one scalar reward.")
    observation = timestep.observation
    mask = getattr(observation, _MASK, None)
    if mask is not None and int(np.prod(mask.shape)) != self._num_actions:
      raise ValueError(f"jumanji:{name}'s action mask has shape {mask.shape}, not "
                       f"({self._num_actions},) like its actions.")
    self._has_mask = mask is not None
    lows, highs = [], []
    spec = env.observation_spec
    for path, leaf in jax.tree_util.tree_flatten_with_path(observation)[0]:
      if not _is_mask(path):
        low, high = _leaf_bounds(spec, path, leaf.shape)
        lows.append(low.ravel())
        highs.append(high.ravel())
    self._low, self._high = np.concatenate(lows), np.concatenate(highs)
    limit = getattr(env, "time_limit", None)
    self._time_limit = (int(limit) if isinstance(limit, (int, np.integer))
                        and hasattr(env_state, "step_count") else None)

  @property
  def default_params(self) -> JumanjiParams:
    return JumanjiParams()

  @property
  def num_actions(self) -> int:
    return self._num_actions

  def episode_limit(self, params: Any = None) -> int | None:
    """The environment's ``time_limit`` (None where it has none): an episode ends by then."""
    del params
    return self._time_limit

  def action_space(self, params: Any = None) -> spaces.Discrete:
    return spaces.Discrete(self._num_actions)

  def observation_space(self, params: Any = None) -> spaces.Box:
    return spaces.Box(self._low, self._high, self._low.shape, jnp.float32)

  def _mask(self, observation: Any) -> jax.Array:
    if not self._has_mask:
      return jnp.ones((self._num_actions,), bool)
    return jnp.ravel(getattr(observation, _MASK)).astype(bool)

  def action_mask(self, state: JumanjiState) -> jax.Array:
    """The legal actions (bool ``[A]``) in ``state``: the mask of its observation."""
    return state.action_mask

  def reset(self, key: jax.Array, params: Any = None) -> tuple[jax.Array, JumanjiState]:
    env_state, timestep = self._env.reset(key)
    return _flatten(timestep.observation), JumanjiState(env_state, self._mask(
        timestep.observation))

  def step(self, key: jax.Array, state: JumanjiState, action: Any, params: Any = None):
    env_state, timestep = self._env.step(state.env_state, action)
    last = timestep.step_type == StepType.LAST
    late = timestep.discount > 0
    if self._time_limit is not None:
      late = late | (env_state.step_count >= self._time_limit)
    truncated = last & late
    terminated = last & ~late
    final_observation = _flatten(timestep.observation)
    reset_key = jax.random.split(env_state.key)[0] if hasattr(env_state, "key") else key
    env_state, observation = jax.lax.cond(
        last, lambda: self._reset_pair(reset_key), lambda: (env_state, timestep.observation))
    mask = self._mask(observation)
    info = {"final_observation": final_observation, "action_mask": mask}
    return (_flatten(observation), JumanjiState(env_state, mask),
            timestep.reward.astype(jnp.float32), terminated, truncated, info)

  def _reset_pair(self, key):
    env_state, timestep = self._env.reset(key)
    return env_state, timestep.observation


def make(name: str, **checked_kwargs) -> tuple[JumanjiEnv, JumanjiParams]:
  """``(adapter, params)`` for ``jumanji.make(name, **checked_kwargs)``.

  Raises:
    ValueError: the environment's actions are not ``specs.DiscreteArray`` (the message names the
      spec), or its rewards are per agent.
  """
  env = JumanjiEnv(name, jumanji.make(name, **checked_kwargs), checked_kwargs)
  return env, env.default_params
