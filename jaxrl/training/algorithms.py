"""The algorithms the training driver knows, by name: config class, hyperparameters, make_train."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable, NamedTuple

from jaxrl.agents import a2c
from jaxrl.agents import dqn
from jaxrl.agents import ppo
from jaxrl.agents import pqn
from jaxrl.agents import reinforce
from jaxrl.agents import sac
from jaxrl.agents import td3
from jaxrl.agents import config as config_lib

__all__ = ("ALGORITHMS", "Algorithm", "config_from_dict", "config_to_dict", "get",
           "hyperparam_names", "value_to_json")


class Algorithm(NamedTuple):
  """One trainable algorithm.

  Attributes:
    name: its command-line name.
    config_cls: the frozen config dataclass (an :class:`~jaxrl.agents.AgentConfig`: static
      structure + hyperparameter defaults, each field declared once).
    make_train: ``(config, env, env_params) -> Trainer``.
    description: one line for ``jaxrl train --help``.
    default_env: the environment ``jaxrl train NAME`` uses when none is named.
  """

  name: str
  config_cls: type
  make_train: Callable[..., Any]
  description: str = ""
  default_env: str = "CartPole-v1"

  @property
  def hyperparams_cls(self) -> type:
    """The NamedTuple of vmappable numbers (a sweep varies these in one call)."""
    return self.config_cls.hyperparams_type()


ALGORITHMS: dict[str, Algorithm] = {
    "dqn": Algorithm("dqn", dqn.DQNConfig, dqn.make_train,
                     "DQN (replay buffer, target network, epsilon-greedy); discrete actions"),
    "pqn": Algorithm("pqn", pqn.PQNConfig, pqn.make_train,
                     "PQN (Q(lambda) over parallel rollouts, LayerNorm, no replay, no target "
                     "network); discrete actions"),
    "a2c": Algorithm("a2c", a2c.A2CConfig, a2c.make_train,
                     "A2C (synchronous advantage actor-critic); discrete or continuous actions"),
    "ppo": Algorithm("ppo", ppo.PPOConfig, ppo.make_train,
                     "PPO (clipped surrogate, GAE, epochs of minibatches); discrete or "
                     "continuous actions"),
    "reinforce": Algorithm("reinforce", reinforce.ReinforceConfig, reinforce.make_train,
                           "REINFORCE (whole-episode policy gradient, optional baseline); "
                           "discrete or continuous actions"),
    "sac": Algorithm("sac", sac.SACConfig, sac.make_train,
                     "SAC (squashed Gaussian policy, twin critics, learned temperature, "
                     "replay); continuous actions", default_env="Pendulum-v1"),
    "td3": Algorithm("td3", td3.TD3Config, td3.make_train,
                     "TD3 (deterministic policy, twin critics, target smoothing, delayed "
                     "policy updates, replay); continuous actions", default_env="Pendulum-v1"),
    "ddpg": Algorithm("ddpg", td3.DDPGConfig, td3.make_train,
                      "DDPG (TD3 with one critic, no target smoothing, no delay); continuous "
                      "actions", default_env="Pendulum-v1"),
}


def get(name: str) -> Algorithm:
  """The algorithm called ``name`` (ValueError listing the known ones otherwise)."""
  if name not in ALGORITHMS:
    raise ValueError(f"unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}.")
  return ALGORITHMS[name]


def hyperparam_names(algo: Algorithm) -> tuple[str, ...]:
  """The config fields a sweep can vary inside one compiled call."""
  return config_lib.hyperparameter_names(algo.config_cls)


def config_to_dict(config: Any) -> dict:
  """A config dataclass as plain JSON-ready values (tuples become lists)."""
  hints = typing.get_type_hints(type(config))
  out = {}
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    if hints[f.name] is float and isinstance(value, int) and not isinstance(value, bool):
      value = float(value)   # 1000 and 1000.0 are one config: one fingerprint
    out[f.name] = value_to_json(value)
  return out


def value_to_json(value):
  """A config value as strict JSON: tuples as lists, NaN/inf as the strings ``"nan"``,
  ``"inf"``, ``"-inf"`` (which :func:`config_from_dict` reads back into float fields)."""
  if isinstance(value, tuple):
    return [value_to_json(v) for v in value]
  if isinstance(value, float) and value != value:  # NaN
    return "nan"
  if isinstance(value, float) and value in (float("inf"), float("-inf")):
    return "inf" if value > 0 else "-inf"
  return value


def config_from_dict(algo: Algorithm, values: dict) -> Any:
  """Rebuilds ``algo``'s config from :func:`config_to_dict`'s output (ValueError naming unknown
  or mistyped fields, e.g. from a config file written by another version)."""
  fields = {f.name: f for f in dataclasses.fields(algo.config_cls)}
  unknown = sorted(set(values) - set(fields))
  if unknown:
    raise ValueError(f"{algo.config_cls.__name__} has no field(s) {unknown}; known fields: "
                     f"{sorted(fields)}.")
  hints = typing.get_type_hints(algo.config_cls)
  kwargs = {}
  for name, value in values.items():
    kwargs[name] = _from_json(value, hints[name], name)
  return algo.config_cls(**kwargs)


def _from_json(value, hint, name):
  if isinstance(value, str) and value in ("nan", "inf", "-inf") and "float" in str(hint):
    return float(value)
  origin = typing.get_origin(hint)
  if isinstance(value, list):
    if origin is tuple or "tuple" in str(hint):
      return tuple(value)
    raise ValueError(f"config field {name!r}: a list is not a valid {hint}.")
  if hint is float and isinstance(value, int):
    return float(value)
  return value
