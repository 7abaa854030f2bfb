"""``make(name, **kwargs) -> (env, params)`` for jaxrl's environments and every gymnax one."""

from __future__ import annotations

import dataclasses
import difflib
from functools import partial
from typing import Any, Callable

import gymnax

from jaxrl import validation

from jaxrl.envs import suites
from jaxrl.envs.options import EnvOption
from jaxrl.envs.options import check_options
from jaxrl.envs.probes import NUM_PROBES
from jaxrl.envs.probes import continuous_probe
from jaxrl.envs.probes import memory_probe
from jaxrl.envs.probes import probe
from jaxrl.envs.tabular import chain_env
from jaxrl.envs.tabular import gridworld_env
from jaxrl.envs.wrappers import MaskObservation

__all__ = (
    "check_env_kwargs",
    "env_names",
    "env_options",
    "make",
    "make_configured",
    "suite_names",
)


#: CartPole-v1's observation entries that ``MaskedCartPole-v1`` hides: the cart velocity (1) and
#: the pole's angular velocity (3); the cart position (0) and the pole angle (2) stay.
_MASKED_CARTPOLE_HIDE = (1, 3)


def _masked_cartpole(**params_fields) -> tuple[Any, Any]:
  """gymnax's CartPole-v1 without its velocities (:class:`~jaxrl.envs.MaskObservation`,
  ``hide=(1, 3)``); ``params_fields`` replace fields of CartPole's params (as ``--env-kwargs``
  does for ``CartPole-v1``)."""
  env, params = gymnax.make("CartPole-v1")
  env = MaskObservation(env, _MASKED_CARTPOLE_HIDE, name="MaskedCartPole-v1")
  return env, params.replace(**params_fields)


_JAXRL_ENVS: dict[str, Callable[..., tuple[Any, Any]]] = {
    "GridWorld-v0": gridworld_env,
    "Chain-v0": chain_env,
    **{f"Probe{n}-v0": partial(probe, n) for n in range(1, NUM_PROBES + 1)},
    "ContinuousProbe-v0": continuous_probe,
    "MemoryProbe-v0": memory_probe,
    "MaskedCartPole-v1": _masked_cartpole,
}


_POS = validation.POSITIVE
_AT_LEAST_ONE = validation.AT_LEAST_ONE
_UNIT = validation.UNIT_INTERVAL
_DISCOUNT = EnvOption(float, _UNIT, doc="the MDP's discount")
_LIMIT = EnvOption(int, _AT_LEAST_ONE, doc="time limit: steps before an episode is truncated")
_PROBE_OPTIONS = {"discount": _DISCOUNT, "max_steps_in_episode": _LIMIT}
_FINITE = EnvOption(float)
#: The options of jaxrl's own environments that :func:`make_configured` takes, with their types
#: and ranges (the factories' scalar arguments; a grid world's ``layout`` only through
#: :func:`make`).
_JAXRL_OPTIONS: dict[str, dict[str, EnvOption]] = {
    "GridWorld-v0": {"discount": _DISCOUNT, "noise": EnvOption(float, _UNIT),
                     "living_reward": _FINITE, "max_steps_in_episode": _LIMIT},
    "Chain-v0": {"discount": _DISCOUNT, "noise": EnvOption(float, _UNIT),
                 "living_reward": _FINITE, "far_reward": _FINITE, "near_reward": _FINITE,
                 "num_cells": EnvOption(int, validation.Rule(low=2, words="must be >= 2")),
                 "start": EnvOption(int, validation.NON_NEGATIVE),
                 "max_steps_in_episode": _LIMIT},
    **{f"Probe{n}-v0": _PROBE_OPTIONS for n in range(1, NUM_PROBES + 1)},
    "ContinuousProbe-v0": {"num_contexts": EnvOption(int, _AT_LEAST_ONE)},
    "MemoryProbe-v0": {"delay": EnvOption(int, validation.NON_NEGATIVE,
                                          doc="blank steps between the cue and the query")},
    # MaskedCartPole-v1: CartPole-v1's params fields, read from its params as for gymnax's names
}
_TYPES = {"int": int, "float": float, "bool": bool}
#: Ranges of gymnax params fields, by name (the same name means the same thing across gymnax's
#: environments). Other float fields must be finite; other int fields >= 1 (counts, intervals,
#: speeds and lengths: zero would stop the environment); bools are bools.
_GYMNAX_RULES: dict[str, validation.Rule] = {
    **{name: _POS for name in (
        "circle_radius", "dt", "force", "force_mag", "g", "goal_radius", "gravity", "l",
        "length", "link_com_pos_1", "link_com_pos_2", "link_length_1", "link_length_2",
        "link_mass_1", "link_mass_2", "link_moi", "m", "masscart", "masspole", "max_force",
        "max_speed", "max_steps_in_episode", "max_torque", "max_vel_1", "max_vel_2",
        "polemass_length", "power", "sigma_l", "sigma_p", "tau", "theta_threshold_radians",
        "torque_scale", "total_mass", "x_threshold", "max_action")},
    **{name: _UNIT for name in ("fail_prob", "reward_prob")},
    **{name: validation.NON_NEGATIVE for name in ("torque_noise_max", "unscaled_move_cost",
                                                  "shot_cool_down", "punishment")},
}


def env_names() -> tuple[str, ...]:
  """Every name :func:`make` accepts: jaxrl's own, then gymnax's (``gymnax.registered_envs``,
  read at call time so environments registered with ``gymnax.register`` appear)."""
  return tuple(_JAXRL_ENVS) + tuple(n for n in gymnax.registered_envs if n not in _JAXRL_ENVS)


def make(name: str, **kwargs) -> tuple[Any, Any]:
  """Builds an environment by name and returns ``(env, params)``.

  jaxrl's names: ``"GridWorld-v0"`` (:func:`~jaxrl.envs.gridworld_env`), ``"Chain-v0"``
  (:func:`~jaxrl.envs.chain_env`), ``"Probe1-v0"`` .. ``"Probe6-v0"`` (:func:`~jaxrl.envs.probe`),
  ``"ContinuousProbe-v0"`` (:func:`~jaxrl.envs.continuous_probe`), ``"MemoryProbe-v0"``
  (:func:`~jaxrl.envs.memory_probe`); ``kwargs`` go to those factories (e.g. ``discount=0.9``,
  ``max_steps_in_episode=50``, ``delay=5``). ``"MaskedCartPole-v1"`` is gymnax's CartPole-v1
  without its two velocities (:class:`~jaxrl.envs.MaskObservation`, ``hide=(1, 3)``); its
  ``kwargs`` are CartPole's params fields (``max_steps_in_episode=200``).
  A name with a suite prefix is that suite's (:mod:`jaxrl.envs.suites`): ``"brax:ant"``,
  ``"playground:CheetahRun"``, ``"jumanji:Snake-v1"``, ``"xminigrid:MiniGrid-Empty-8x8"``,
  ``"navix:Navix-Empty-8x8-v0"``; ``kwargs`` are the suite's options (:func:`env_options`),
  checked by type and range. Every other name is gymnax's (``CartPole-v1``, ``Acrobot-v1``,
  ``MountainCar-v0``, ``Breakout-MinAtar``, ``Catch-bsuite``, ``MemoryChain-bsuite``, ...):
  ``gymnax.make(name, **kwargs)``, whose ``kwargs`` go to the environment's constructor and
  whose params are its ``default_params`` (change the time limit with
  ``params.replace(max_steps_in_episode=...)``).

  Every environment follows gymnax 1.x: ``reset(key, params) -> (obs, state)``,
  ``step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``,
  auto-reset, ``info["final_observation"]``.

  Raises:
    ValueError: an unknown name (the message lists close matches and every available name), an
      unknown suite, a suite that is not installed (:class:`~jaxrl.envs.suites.MissingSuiteError`,
      naming the extra), or a bad suite option.
  """
  if not isinstance(name, str):
    raise TypeError(f"environment name must be a string, got {type(name).__name__}.")
  in_suite = suites.split_name(name)
  if in_suite is not None:
    module, sub = _suite(name, *in_suite)
    return module.make(sub, **check_options(name, module.options(sub), kwargs))
  factory = _JAXRL_ENVS.get(name)
  if factory is not None:
    return factory(**kwargs)
  if name in gymnax.registered_envs:
    return gymnax.make(name, **kwargs)
  names = env_names()
  lowered = {n.lower(): n for n in names}
  close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
  hint = f" Did you mean {', '.join(repr(lowered[c]) for c in close)}?" if close else ""
  raise ValueError(f"unknown environment {name!r}.{hint} Available: {', '.join(names)}; and "
                   f"the suites' names with a prefix ({', '.join(suites.SUITES)}), e.g. "
                   f"{suites.SUITES['brax'].example!r}.")


def _suite(full_name: str, prefix: str, sub: str):
  """The suite's module and the name inside it; ValueError for a name the suite lacks: the
  suite's own reason where its module gives one (``refusal(name) -> str | None``, e.g.
  Playground's Menagerie tasks), else close matches."""
  module = suites.suite_module(prefix)
  refusal = getattr(module, "refusal", None)
  why = refusal(sub) if refusal is not None else None
  if why is not None:
    raise ValueError(why)
  names = module.names()
  if sub not in names:
    raise suites.unknown_name(prefix, sub, names)
  return module, sub


def suite_names(prefix: str) -> tuple[str, ...]:
  """Every name of an installed suite, with its prefix (``("brax:ant", ...)``).

  Raises:
    ValueError: an unknown suite, or one that is not installed (naming the extra).
  """
  suites.split_name(f"{prefix}:_")
  return tuple(f"{prefix}:{n}" for n in suites.suite_module(prefix).names())


def env_options(name: str) -> dict[str, EnvOption]:
  """The environment options :func:`make_configured` takes for ``name``, with their kinds and
  ranges (:class:`~jaxrl.envs.options.EnvOption`): jaxrl's environments, their factories' scalar
  arguments (e.g. ``GridWorld-v0``: ``discount`` in [0, 1], ``noise`` in [0, 1],
  ``living_reward``, ``max_steps_in_episode`` >= 1); gymnax's, the int, float and bool fields of
  the environment's params (e.g. ``CartPole-v1``: ``gravity`` > 0, ``max_steps_in_episode``
  > 0); a suite's, its constructor options (e.g. Brax's ``backend`` and ``episode_length``).

  Raises:
    ValueError: an unknown name (as :func:`make`).
  """
  if name in _JAXRL_OPTIONS:
    return dict(_JAXRL_OPTIONS[name])
  in_suite = suites.split_name(name)
  if in_suite is not None:
    module, sub = _suite(name, *in_suite)
    return dict(module.options(sub))
  _, params = make(name)
  out = {}
  for f in dataclasses.fields(params):
    kind = _TYPES.get(f.type) if isinstance(f.type, str) else f.type
    if kind is bool:
      out[f.name] = EnvOption(bool)
    elif kind is int:
      out[f.name] = EnvOption(int, _GYMNAX_RULES.get(f.name, _AT_LEAST_ONE))
    elif kind is float:
      out[f.name] = EnvOption(float, _GYMNAX_RULES.get(f.name))
  return out


def check_env_kwargs(name: str, env_kwargs: dict | None) -> dict:
  """``env_kwargs`` checked against :func:`env_options` (type and range) and returned as plain
  Python values (an int for an int option, a float for a float one: ``discount=1`` is ``1.0``).

  Raises:
    ValueError: a name ``name`` does not take (the message lists those it does), a value not of
      its option's type, or outside its range (``CartPole-v1 option max_steps_in_episode must be
      positive, got -5.``).
  """
  env_kwargs = dict(env_kwargs or {})
  if not env_kwargs:
    return {}
  return check_options(name, env_options(name), env_kwargs)


def make_configured(name: str, env_kwargs: dict | None = None) -> tuple[Any, Any]:
  """:func:`make` with checked options (:func:`check_env_kwargs`), what the training driver
  and ``jaxrl train --env-kwargs`` use: jaxrl's environments and the suites get them as
  constructor arguments, gymnax's as ``params.replace(**env_kwargs)`` (e.g.
  ``max_steps_in_episode=200``)."""
  env_kwargs = check_env_kwargs(name, env_kwargs)
  if name in _JAXRL_ENVS or suites.split_name(name) is not None:
    return make(name, **env_kwargs)
  env, params = make(name)
  return env, params.replace(**env_kwargs)
