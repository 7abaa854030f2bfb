"""pyproject.toml declares ranges; constraints.txt / constraints-lowest.txt pin their two ends.

A library that pins exact versions cannot be installed beside any other jax, so pyproject.toml
declares ``>=lowest,<next untested`` for each runtime dependency. ``constraints.txt`` pins the
newest tested set (``make setup``, the README's commands) and ``constraints-lowest.txt`` the lowest
one, which ``make test-lowest`` installs in its own venv and smoke-tests (``.ci/smoke.py``). These
tests keep the three files consistent and check the running venv against the declared ranges.
The environment suites' extras (the members of ``jaxrl[envs]``, which the test set installs) are
held to the same rules.
"""

import pathlib
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _declared() -> dict[str, Requirement]:
  """The core dependencies and the suites' (each extra named by ``jaxrl[envs]``), by name."""
  project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
  extras = project["optional-dependencies"]
  (envs,) = map(Requirement, extras["envs"])
  suite_reqs = [r for extra in sorted(envs.extras) for r in map(Requirement, extras[extra])]
  assert suite_reqs, "jaxrl[envs] names no suite extra"
  return {canonicalize_name(r.name): r
          for r in [*map(Requirement, project["dependencies"]), *suite_reqs]}


def _pins(name: str) -> dict[str, Version]:
  pins = {}
  for line in (ROOT / name).read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if line:
      req = Requirement(line)
      (spec,) = req.specifier
      assert spec.operator == "==", f"{name}: {line!r} is not an exact pin"
      pins[canonicalize_name(req.name)] = Version(spec.version)
  return pins


DECLARED = _declared()


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_each_dependency_is_a_range_not_a_pin(name):
  ops = sorted(s.operator for s in DECLARED[name].specifier)
  assert ops == ["<", ">="], f"{name}: declare '>=lowest tested,<next untested', not {ops}"


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_lowest_constraints_pin_the_declared_lower_bound(name):
  lower = next(Version(s.version) for s in DECLARED[name].specifier if s.operator == ">=")
  assert _pins("constraints-lowest.txt").get(name) == lower, (
      f"constraints-lowest.txt must pin {name}=={lower}, the lower bound pyproject.toml declares")


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_newest_constraints_pin_inside_the_declared_range(name):
  pinned = _pins("constraints.txt").get(name)
  assert pinned is not None, f"constraints.txt pins no version of {name}"
  assert DECLARED[name].specifier.contains(pinned), (
      f"constraints.txt pins {name}=={pinned}, outside {DECLARED[name].specifier}")


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_installed_version_is_inside_the_declared_range(name):
  installed = Version(metadata.version(name))
  assert DECLARED[name].specifier.contains(installed), (
      f"{name} {installed} is installed, outside {DECLARED[name].specifier}")
