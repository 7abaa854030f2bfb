"""``make(name, **kwargs) -> (env, params)`` for jaxrl's environments and every gymnax one."""

from __future__ import annotations

import dataclasses
import difflib
from functools import partial
from typing import Any, Callable

import gymnax

from jaxrl import validation

from jaxrl.envs.probes import NUM_PROBES
from jaxrl.envs.probes import continuous_probe
from jaxrl.envs.probes import probe
from jaxrl.envs.tabular import chain_env
from jaxrl.envs.tabular import gridworld_env

__all__ = (
    "check_env_kwargs",
    "env_names",
    "env_options",
    "make",
    "make_configured",
)


_JAXRL_ENVS: dict[str, Callable[..., tuple[Any, Any]]] = {
    "GridWorld-v0": gridworld_env,
    "Chain-v0": chain_env,
    **{f"Probe{n}-v0": partial(probe, n) for n in range(1, NUM_PROBES + 1)},
    "ContinuousProbe-v0": continuous_probe,
}


_PROBE_OPTIONS = {"discount": float, "max_steps_in_episode": int}
#: The options of jaxrl's own environments that :func:`make_configured` takes, with their types
#: (the factories' scalar arguments; a grid world's ``layout`` only through :func:`make`).
_JAXRL_OPTIONS: dict[str, dict[str, type]] = {
    "GridWorld-v0": {"discount": float, "noise": float, "living_reward": float,
                     "max_steps_in_episode": int},
    "Chain-v0": {"discount": float, "noise": float, "living_reward": float, "far_reward": float,
                 "near_reward": float, "num_cells": int, "start": int,
                 "max_steps_in_episode": int},
    **{f"Probe{n}-v0": _PROBE_OPTIONS for n in range(1, NUM_PROBES + 1)},
    "ContinuousProbe-v0": {"num_contexts": int},
}
_TYPES = {"int": int, "float": float, "bool": bool}


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


def env_options(name: str) -> dict[str, type]:
  """The environment options :func:`make_configured` takes for ``name``, with their types:
  jaxrl's environments, their factories' scalar arguments (e.g. ``GridWorld-v0``: ``discount``,
  ``noise``, ``living_reward``, ``max_steps_in_episode``); gymnax's, the int, float and bool
  fields of the environment's params (e.g. ``CartPole-v1``: ``gravity``, ``max_steps_in_episode``).

  Raises:
    ValueError: an unknown name (as :func:`make`).
  """
  if name in _JAXRL_OPTIONS:
    return dict(_JAXRL_OPTIONS[name])
  _, params = make(name)
  out = {}
  for f in dataclasses.fields(params):
    kind = _TYPES.get(f.type) if isinstance(f.type, str) else f.type
    if kind in (int, float, bool):
      out[f.name] = kind
  return out


def check_env_kwargs(name: str, env_kwargs: dict | None) -> dict:
  """``env_kwargs`` checked against :func:`env_options` and returned as plain Python values
  (an int for an int option, a float for a float one: ``discount=1`` is ``1.0``).

  Raises:
    ValueError: a name ``name`` does not take (the message lists those it does), or a value
      not of its option's type.
  """
  env_kwargs = dict(env_kwargs or {})
  if not env_kwargs:
    return {}
  options = env_options(name)
  unknown = sorted(set(env_kwargs) - set(options))
  if unknown:
    raise ValueError(f"{name} has no environment option(s) {unknown}; its options: "
                     f"{', '.join(sorted(options)) or 'none'}.")
  out = {}
  for key, value in env_kwargs.items():
    label = f"{name} option {key}"
    kind = options[key]
    if kind is bool:
      out[key] = validation.check_bool(label, value)
    elif kind is int:
      out[key] = validation.check_int(label, value)
    else:
      out[key] = float(validation.check_number(label, value))
  return out


def make_configured(name: str, env_kwargs: dict | None = None) -> tuple[Any, Any]:
  """:func:`make` with checked options (:func:`check_env_kwargs`), what the training driver
  and ``jaxrl train --env-kwargs`` use: jaxrl's environments get them as factory arguments,
  gymnax's as ``params.replace(**env_kwargs)`` (e.g. ``max_steps_in_episode=200``)."""
  env_kwargs = check_env_kwargs(name, env_kwargs)
  if name in _JAXRL_ENVS:
    return make(name, **env_kwargs)
  env, params = make(name)
  return env, params.replace(**env_kwargs)
