"""The suite-prefix naming scheme: refusals before anything is built or compiled."""

import re

import pytest

from jaxrl import envs
from jaxrl.envs import suites


@pytest.mark.parametrize("name, message", [
    ("brux:ant", "unknown environment suite 'brux' in 'brux:ant'. Did you mean 'brax'?"),
    ("gym:CartPole-v1", "unknown environment suite 'gym'"),
    ("brax:", "'brax:' names no environment after the suite prefix (e.g. "
              "'brax:inverted_pendulum')"),
])
def test_unknown_suites_and_empty_names_are_refused(name, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    envs.make(name)
  with pytest.raises(ValueError, match=re.escape(message)):
    envs.env_options(name)


def test_a_suite_that_is_not_installed_names_its_extra(monkeypatch):
  monkeypatch.setitem(suites.SUITES, "fake",
                      suites.Suite("fake", "no_such_package_jaxrl", "fake", "fake:x"))
  with pytest.raises(envs.MissingSuiteError,
                     match=re.escape("environment suite 'fake' needs the package "
                                     "'no_such_package_jaxrl', which is not installed: pip "
                                     "install 'jaxrl[fake]'")):
    envs.make("fake:x")
  assert issubclass(envs.MissingSuiteError, ValueError)     # the CLI reports it in one line


def test_importing_jaxrl_imports_no_suite():
  import subprocess, sys  # pylint: disable=import-outside-toplevel,multiple-imports
  code = ("import sys, jaxrl, jaxrl.envs, jaxrl.agents, jaxrl.training; "
          "print(sorted(m for m in ('brax', 'mujoco_playground', 'jumanji', 'xminigrid', "
          "'navix', 'mujoco') if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("prefix, good, bad", [
    ("navix", "Navix-Empty-5x5-v0", "Navix-Empty-5x5-v9"),
    ("jumanji", "Snake-v1", "Snak-v1"),
    ("xminigrid", "MiniGrid-Empty-5x5", "MiniGrid-Empty-5x6"),
])
def test_suite_names_list_the_suite_and_unknown_names_get_close_matches(prefix, good, bad):
  assert f"{prefix}:{good}" in envs.suite_names(prefix)
  with pytest.raises(ValueError, match=re.escape(f"{prefix} has no environment {bad!r}. Did "
                                                 f"you mean '{prefix}:")):
    envs.make(f"{prefix}:{bad}")
