"""XLand-MiniGrid behind jaxrl's interface: ``envs.make("xminigrid:MiniGrid-Empty-8x8")``.

The adapter wraps ``xminigrid.make(name)`` and changes three things, nothing else:

- Spaces. xminigrid observes an egocentric ``[V, V, 2]`` uint8 grid of (tile id, colour id). The
  adapter casts it to float32 and, by default (``observation="flat"``), flattens it to
  ``Box([V * V * 2])`` for MLP agents; ``observation="image"`` keeps ``Box([V, V, 2])``. The bounds
  are the ids' ranges: tiles ``0 .. NUM_TILES-1``, colours ``0 .. NUM_COLORS-1``. Actions are
  ``Discrete(6)`` (forward, turn right, turn left, pick up, put down, toggle); xminigrid has no
  action mask.
- The episode boundary. An episode ends at ``StepType.LAST``: a reached goal has discount 0
  (``terminated``), running out of ``max_steps`` has discount 1 (``truncated``); a goal reached
  on the last allowed step is a termination. ``step`` auto-resets exactly as xminigrid's own
  ``GymAutoResetWrapper`` does (state and observation replaced in the same step, from
  ``split(state.key)[0]``), so a trajectory through the adapter is the suite's own; and
  ``info["final_observation"]`` holds the observation of the step's successor before the reset.
  xminigrid's randomness lives in its state (its key, seeded by ``reset``): the key ``step`` takes
  is unused, so the caller's per-step key splitting compiles away.
- Options. ``max_steps`` (int >= 1; xminigrid's default is ``4 * height * width`` for MiniGrid),
  ``view_size`` (odd int >= 3; default 7) and ``observation`` (``"flat"`` or ``"image"``). They
  are xminigrid's ``EnvParams`` fields, which are static (not traced): the params returned by
  :func:`make` are xminigrid's own, and changing them recompiles.

The meta-RL ``XLand-MiniGrid-*`` environments are listed by :func:`names` but :func:`make`
refuses them: each needs a task (a ruleset) from a benchmark that ``xminigrid.load_benchmark``
downloads, and built without one its goal is empty. The single-task ``MiniGrid-*`` environments
need nothing downloaded.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xminigrid
from gymnax.environments import spaces
from xminigrid.core.constants import NUM_COLORS
from xminigrid.core.constants import NUM_TILES
from xminigrid.types import StepType

from jaxrl import validation
from jaxrl.envs.options import EnvOption
from jaxrl.envs.suites import SuiteIdentity

__all__ = ("XMiniGridEnv", "make", "names", "options")

_OBSERVATIONS = ("flat", "image")
_META_PREFIX = "XLand-MiniGrid-"
_OPTIONS = {
    "max_steps": EnvOption(int, validation.AT_LEAST_ONE,
                           doc="time limit: steps before an episode is truncated"),
    "view_size": EnvOption(int, validation.Rule(low=3, words="must be an odd int >= 3"),
                           doc="side of the agent's egocentric view (odd)"),
    "observation": EnvOption(str, choices=_OBSERVATIONS,
                             doc="'flat': a float32 vector; 'image': float32 [V, V, 2]"),
}


def names() -> tuple[str, ...]:
  """Every registered xminigrid environment (``xminigrid.registered_environments()``)."""
  return tuple(xminigrid.registered_environments())


def options(name: str) -> dict[str, EnvOption]:
  """``max_steps``, ``view_size`` and ``observation`` (the same for every environment)."""
  return dict(_OPTIONS)


class XMiniGridEnv(SuiteIdentity):
  """An xminigrid environment with gymnax 1.x's interface (see the module docstring)."""

  PREFIX = "xminigrid"

  def __init__(self, name: str, env: Any, params: Any, observation: str,
               options: dict[str, Any]):
    self._suite_name = name
    self._env = env
    self._params = params
    self._image = observation == "image"
    self._options = tuple(sorted(options.items()))

  @property
  def default_params(self) -> Any:
    """xminigrid's ``EnvParams`` with the options' ``max_steps`` and ``view_size``."""
    return self._params

  def episode_limit(self, params: Any = None) -> int:
    """``max_steps`` of ``params`` (the default's when None): an episode ends by then."""
    return int((self.default_params if params is None else params).max_steps)

  @property
  def num_actions(self) -> int:
    return int(self._env.num_actions(self.default_params))

  def action_space(self, params: Any = None) -> spaces.Discrete:
    return spaces.Discrete(int(self._env.num_actions(self._params if params is None else params)))

  def observation_space(self, params: Any = None) -> spaces.Box:
    shape = self._env.observation_shape(self._params if params is None else params)
    high = np.broadcast_to(np.array([NUM_TILES - 1, NUM_COLORS - 1], np.float32), shape)
    if not self._image:
      high = high.ravel()
    return spaces.Box(np.zeros_like(high), high, high.shape, jnp.float32)

  def _observe(self, observation: jax.Array) -> jax.Array:
    observation = observation.astype(jnp.float32)
    return observation if self._image else observation.reshape(-1)

  def reset(self, key: jax.Array, params: Any = None) -> tuple[jax.Array, Any]:
    """``(observation, state)``; the state is xminigrid's ``TimeStep``."""
    timestep = self._env.reset(self._params if params is None else params, key)
    return self._observe(timestep.observation), timestep

  def step(self, key: jax.Array, state: Any, action: Any, params: Any = None):
    del key  # xminigrid's randomness is in its state (see the module docstring)
    params = self._params if params is None else params
    timestep = self._env.step(params, state, action)
    last = timestep.step_type == StepType.LAST
    terminated = last & (timestep.discount == 0)
    truncated = last & (timestep.discount > 0)
    final_observation = self._observe(timestep.observation)

    def reset():
      fresh = self._env.reset(params, jax.random.split(timestep.state.key)[0])
      return timestep.replace(state=fresh.state, observation=fresh.observation)

    timestep = jax.lax.cond(last, reset, lambda: timestep)
    return (self._observe(timestep.observation), timestep, timestep.reward.astype(jnp.float32),
            terminated, truncated, {"final_observation": final_observation})


def make(name: str, **checked_kwargs) -> tuple[XMiniGridEnv, Any]:
  """``(adapter, params)`` for ``xminigrid.make(name)`` with ``max_steps`` and ``view_size``
  replaced where given.

  Raises:
    ValueError: an ``XLand-MiniGrid-*`` name (it needs a downloaded benchmark ruleset), or an
      even ``view_size``.
  """
  if name.startswith(_META_PREFIX):
    raise ValueError(
        f"xminigrid:{name} is a meta-RL environment whose task (a ruleset) comes from a benchmark "
        "that xminigrid.load_benchmark downloads; jaxrl adapts the single-task MiniGrid-* "
        "environments only (e.g. 'xminigrid:MiniGrid-Empty-8x8').")
  view_size = checked_kwargs.get("view_size")
  if view_size is not None and view_size % 2 == 0:
    raise ValueError(f"xminigrid:{name} option view_size must be an odd int >= 3, got "
                     f"{view_size}.")
  observation = checked_kwargs.get("observation", "flat")
  replace = {k: v for k, v in checked_kwargs.items() if k in ("max_steps", "view_size")}
  env, params = xminigrid.make(name, **replace)
  adapter = XMiniGridEnv(name, env, params, observation, checked_kwargs)
  return adapter, params
