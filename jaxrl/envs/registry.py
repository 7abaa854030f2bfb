"""``make(name, **kwargs) -> (env, params)`` for jaxrl's environments and every gymnax one."""

from __future__ import annotations

import difflib
from functools import partial
from typing import Any, Callable

import gymnax

from jaxrl.envs.probes import NUM_PROBES
from jaxrl.envs.probes import continuous_probe
from jaxrl.envs.probes import probe
from jaxrl.envs.tabular import chain_env
from jaxrl.envs.tabular import gridworld_env

__all__ = (
    "env_names",
    "make",
)


_JAXRL_ENVS: dict[str, Callable[..., tuple[Any, Any]]] = {
    "GridWorld-v0": gridworld_env,
    "Chain-v0": chain_env,
    **{f"Probe{n}-v0": partial(probe, n) for n in range(1, NUM_PROBES + 1)},
    "ContinuousProbe-v0": continuous_probe,
}


def env_names() -> tuple[str, ...]:
  """Every name :func:`make` accepts: jaxrl's own, then gymnax's (``gymnax.registered_envs``,
  read at call time so environments registered with ``gymnax.register`` appear)."""
  return tuple(_JAXRL_ENVS) + tuple(n for n in gymnax.registered_envs if n not in _JAXRL_ENVS)


def make(name: str, **kwargs) -> tuple[Any, Any]:
  """Builds an environment by name and returns ``(env, params)``.

  jaxrl's names: ``"GridWorld-v0"`` (:func:`~jaxrl.envs.gridworld_env`), ``"Chain-v0"``
  (:func:`~jaxrl.envs.chain_env`), ``"Probe1-v0"`` .. ``"Probe6-v0"`` (:func:`~jaxrl.envs.probe`);
  ``kwargs`` go to those factories (e.g. ``discount=0.9``, ``max_steps_in_episode=50``). Every
  other name is gymnax's (``CartPole-v1``, ``Acrobot-v1``, ``MountainCar-v0``,
  ``Breakout-MinAtar``, ``Catch-bsuite``, ...): ``gymnax.make(name, **kwargs)``, whose ``kwargs``
  go to the environment's constructor and whose params are its ``default_params`` (change the
  time limit with ``params.replace(max_steps_in_episode=...)``).

  Every environment follows gymnax 1.x: ``reset(key, params) -> (obs, state)``,
  ``step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``,
  auto-reset, ``info["final_observation"]``.

  Raises:
    ValueError: an unknown name; the message lists close matches and every available name.
  """
  if not isinstance(name, str):
    raise TypeError(f"environment name must be a string, got {type(name).__name__}.")
  factory = _JAXRL_ENVS.get(name)
  if factory is not None:
    return factory(**kwargs)
  if name in gymnax.registered_envs:
    return gymnax.make(name, **kwargs)
  names = env_names()
  lowered = {n.lower(): n for n in names}
  close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
  hint = f" Did you mean {', '.join(repr(lowered[c]) for c in close)}?" if close else ""
  raise ValueError(f"unknown environment {name!r}.{hint} Available: {', '.join(names)}.")
