"""The field's environment suites behind jaxrl's environment interface: ``"suite:name"``.

``envs.make("brax:ant")``, ``envs.make("playground:CheetahRun")``,
``envs.make("jumanji:Snake-v1")``, ``envs.make("xminigrid:MiniGrid-Empty-8x8")``,
``envs.make("navix:Navix-Empty-8x8-v0")``: after the prefix comes the suite's own name. Each suite
is an optional extra (``pip install 'jaxrl[brax]'``, or every suite with ``jaxrl[envs]``); importing
jaxrl never imports one, and naming a suite that is not installed is a one-line error that names
the extra.

Each suite's module (``jaxrl.envs.suites.<suite>``) imports its package at the top and provides:

- ``names() -> tuple[str, ...]``: the suite's environment names;
- ``options(name) -> dict[str, EnvOption]``: the constructor options :func:`jaxrl.envs.make`
  takes for ``name``, with types and ranges (:mod:`jaxrl.envs.options`);
- ``make(name, **checked_kwargs) -> (env, params)``: an adapter with gymnax 1.x's interface
  (``reset(key, params)``, ``step(key, state, action, params) -> (obs, state, reward, terminated,
  truncated, info)`` with auto-reset and ``info["final_observation"]``), gymnax spaces, and
  termination kept apart from truncation.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from typing import Any, NamedTuple

__all__ = ("SUITES", "MissingSuiteError", "Suite", "SuiteIdentity", "split_name", "suite_module")


class Suite(NamedTuple):
  """A suite jaxrl adapts: its prefix, the package it imports, and the extra that installs it."""

  prefix: str
  package: str
  extra: str
  example: str


SUITES: dict[str, Suite] = {
    s.prefix: s for s in (
        Suite("brax", "brax", "brax", "brax:inverted_pendulum"),
        Suite("playground", "mujoco_playground", "playground", "playground:CartpoleBalance"),
        Suite("jumanji", "jumanji", "jumanji", "jumanji:Snake-v1"),
        Suite("xminigrid", "xminigrid", "xminigrid", "xminigrid:MiniGrid-Empty-8x8"),
        Suite("navix", "navix", "navix", "navix:Navix-Empty-8x8-v0"),
    )
}


class MissingSuiteError(ValueError):
  """A suite named in an environment name is not installed (the message names the extra)."""


def split_name(name: str) -> tuple[str, str] | None:
  """``("brax", "ant")`` for ``"brax:ant"``; None for a name without a suite prefix.

  Raises:
    ValueError: an unknown prefix (close matches and every suite listed), or nothing after the
      colon.
  """
  prefix, sep, rest = name.partition(":")
  if not sep:
    return None
  if prefix not in SUITES:
    close = difflib.get_close_matches(prefix.lower(), list(SUITES), n=2, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown environment suite {prefix!r} in {name!r}.{hint} Suites: "
                     f"{', '.join(SUITES)} (e.g. {SUITES['brax'].example!r}); names without a "
                     "prefix are jaxrl's and gymnax's.")
  if not rest:
    raise ValueError(f"{name!r} names no environment after the suite prefix (e.g. "
                     f"{SUITES[prefix].example!r}).")
  return prefix, rest


def suite_module(prefix: str) -> Any:
  """The adapter module of suite ``prefix``, importing the suite's package.

  Raises:
    MissingSuiteError: the suite's package is not installed; the message names the extra.
  """
  suite = SUITES[prefix]
  if importlib.util.find_spec(suite.package) is None:
    raise MissingSuiteError(
        f"environment suite {prefix!r} needs the package {suite.package!r}, which is not "
        f"installed: pip install 'jaxrl[{suite.extra}]' (or 'jaxrl[envs]' for every suite).")
  return importlib.import_module(f"jaxrl.envs.suites.{prefix}")


def unknown_name(prefix: str, name: str, names: tuple[str, ...]) -> ValueError:
  """The error for a name the suite does not have: close matches, then every name."""
  lowered = {n.lower(): n for n in names}
  close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
  hint = (f" Did you mean {', '.join(repr(f'{prefix}:{lowered[c]}') for c in close)}?"
          if close else "")
  return ValueError(f"{prefix} has no environment {name!r}.{hint} Its environments: "
                    f"{', '.join(names)}.")


class SuiteIdentity:
  """What an adapter holding ``_suite_name``, ``_options`` (a sorted tuple of items) and ``_env``
  shares: equality and hashing by value (so jit's static arguments and caches see equal adapters
  as one), ``repr``, ``name`` (``"prefix:Name"``, prefix from the class's ``PREFIX``) and
  ``unwrapped`` (the suite's environment)."""

  PREFIX = ""

  def __eq__(self, other):
    return (type(other) is type(self) and other._suite_name == self._suite_name
            and other._options == self._options)

  def __hash__(self):
    return hash((type(self), self._suite_name, self._options))

  def __repr__(self):
    opts = ", ".join(f"{k}={v!r}" for k, v in self._options)
    return f"{type(self).__name__}({self._suite_name!r}{', ' if opts else ''}{opts})"

  @property
  def name(self) -> str:
    return f"{self.PREFIX}:{self._suite_name}"

  @property
  def unwrapped(self) -> Any:
    """The suite's own environment."""
    return self._env
