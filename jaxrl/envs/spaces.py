"""What an environment's actions are, read once from its action space, checked before compiling.

Every agent reads its environment's actions through :func:`action_spec`: a finite set
(gymnax ``Discrete(n)``: actions ``0 .. n-1``) or a box of real vectors (gymnax ``Box``: actions
``[D]`` between ``low`` and ``high``). Value-based agents need the finite set and say so before
anything compiles (:func:`require_discrete`); the policy-gradient agents take either.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from gymnax.environments import spaces

__all__ = ("ActionSpec", "action_spec", "episode_limit", "require_continuous", "require_discrete")

#: The agents that take continuous actions (named in the refusal of the others).
CONTINUOUS_AGENTS = ("ppo", "a2c", "reinforce", "sac", "td3", "ddpg")


class ActionSpec(NamedTuple):
  """An environment's actions.

  Attributes:
    continuous: real vectors (a ``Box``) rather than a finite set.
    num_actions: ``n`` of a discrete space (None when continuous).
    shape: the shape of one action: ``()`` when discrete, ``(D,)`` when continuous.
    low, high: float32 ``[D]`` bounds of a continuous space (None when discrete).
  """

  continuous: bool
  num_actions: int | None
  shape: tuple[int, ...]
  low: np.ndarray | None
  high: np.ndarray | None

  def describe(self) -> str:
    if not self.continuous:
      return f"Discrete({self.num_actions})"
    return (f"continuous Box(shape {self.shape}, low {self.low.tolist()}, "
            f"high {self.high.tolist()})")

  @property
  def size(self) -> int:
    """The network's output width: ``n`` actions, or ``D`` action dimensions."""
    return int(self.num_actions) if not self.continuous else int(np.prod(self.shape))


def action_spec(env: Any, env_params: Any) -> ActionSpec:
  """The :class:`ActionSpec` of ``env.action_space(env_params)``.

  Raises:
    ValueError: a space that is neither ``Discrete`` nor a 1-D ``Box`` with finite bounds.
  """
  space = env.action_space(env_params)
  name = getattr(env, "name", type(env).__name__)
  if isinstance(space, spaces.Discrete):
    return ActionSpec(False, int(space.n), (), None, None)
  if isinstance(space, spaces.Box):
    shape = tuple(int(d) for d in space.shape)
    if len(shape) != 1:
      raise ValueError(f"{name}: continuous actions must be vectors [D]; its Box has shape "
                       f"{shape}.")
    low = np.broadcast_to(np.asarray(space.low, np.float32), shape).copy()
    high = np.broadcast_to(np.asarray(space.high, np.float32), shape).copy()
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
      raise ValueError(f"{name}: the action Box needs finite bounds low < high, got low "
                       f"{low.tolist()}, high {high.tolist()}.")
    return ActionSpec(True, None, shape, low, high)
  raise ValueError(f"{name}: action space {type(space).__name__} is not supported (Discrete or "
                   "a 1-D Box).")


def require_discrete(owner: str, env: Any, env_params: Any) -> int:
  """The number of actions, or ValueError when the actions are continuous.

  The message names the agent, the space and, for a ``Box``, the agents that can take it.
  """
  space = env.action_space(env_params)
  name = getattr(env, "name", type(env).__name__)
  if isinstance(space, spaces.Discrete):
    return action_spec(env, env_params).num_actions
  if isinstance(space, spaces.Box):
    others = f"{', '.join(CONTINUOUS_AGENTS[:-1])} or {CONTINUOUS_AGENTS[-1]}"
    raise ValueError(f"{owner} needs a discrete action space, and {name} has a continuous Box "
                     f"(shape {tuple(space.shape)}); use {others} for continuous actions "
                     "(a Box of shape [D]).")
  raise ValueError(f"{owner} needs a discrete action space, and {name} has a "
                   f"{type(space).__name__} action space, which no jaxrl agent takes (they take "
                   "gymnax Discrete, or a Box of shape [D]).")


def require_continuous(owner: str, env: Any, env_params: Any) -> ActionSpec:
  """The :class:`ActionSpec` of a continuous (``Box [D]``) action space, or ValueError naming
  the agent, the space and the agents that take a discrete one."""
  name = getattr(env, "name", type(env).__name__)
  try:
    spec = action_spec(env, env_params)
  except ValueError as err:
    raise ValueError(f"{owner} cannot act in this environment: {err}") from None
  if not spec.continuous:
    raise ValueError(f"{owner} needs a continuous action space (a Box of shape [D]), and {name} "
                     f"has {spec.describe()}; use dqn, pqn, ppo, a2c or reinforce for discrete "
                     "actions.")
  return spec


def episode_limit(env: Any, env_params: Any) -> int | None:
  """The step count by which every episode of ``env`` ends (its time limit), or None if it has
  none: ``env_params.max_steps_in_episode`` (gymnax's, jaxrl's, Brax's, Playground's and
  Navix's adapters), else ``env.episode_limit(env_params)`` (adapters whose params are the
  suite's own: Jumanji's ``time_limit``, XLand-MiniGrid's ``max_steps``)."""
  limit = getattr(env_params, "max_steps_in_episode", None)
  if limit is None and env is not None and callable(getattr(env, "episode_limit", None)):
    limit = env.episode_limit(env_params)
  return None if limit is None else int(limit)
