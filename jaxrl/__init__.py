"""jaxrl: reinforcement learning in JAX, as pure functions compiled end to end.

The subpackages load on first use (PEP 562), so ``import jaxrl`` initialises no JAX backend:
a program (or ``jaxrl``'s own command line) can still choose how many CPU devices JAX makes
(:func:`jaxrl.cpu_devices.use_all_cores`) after importing it.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("agents", "buffers", "cpu_devices", "envs", "losses", "mdp", "networks",
               "normalization", "policies", "returns", "rollouts", "training")
_FROM_MDP = ("Solution", "TabularMDP", "gridworld", "policy_evaluation", "policy_iteration",
             "q_iteration", "value_iteration")

__all__ = tuple(sorted(_SUBMODULES + _FROM_MDP))


def __getattr__(name: str):
  if name in _SUBMODULES:
    return importlib.import_module(f"jaxrl.{name}")
  if name in _FROM_MDP:
    return getattr(importlib.import_module("jaxrl.mdp"), name)
  raise AttributeError(f"module 'jaxrl' has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(__all__))
