"""Every public name is importable (STYLE.md, principle 11: an explicit public surface)."""

import importlib
import inspect
import pkgutil

import pytest

import jaxrl
import jaxrl.mdp


MODULES = sorted(["jaxrl"] + [m.name for m in pkgutil.walk_packages(jaxrl.__path__, "jaxrl.")])


def test_every_module_is_listed():
  assert {"jaxrl.validation", "jaxrl.rollouts", "jaxrl.agents.config", "jaxrl.agents.trainer",
          "jaxrl.agents.optimizers", "jaxrl.training.runner"} <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_name_in_all_exists(module_name):
  module = importlib.import_module(module_name)
  names = module.__all__
  assert len(names) > 0
  assert len(set(names)) == len(names), f"{module_name}.__all__ has duplicates"
  missing = [n for n in names if not hasattr(module, n)]
  assert not missing, f"{module_name}.__all__ names missing attributes: {missing}"
  namespace = {}
  exec(f"from {module_name} import *", namespace)  # pylint: disable=exec-used
  assert set(names) <= set(namespace)


def test_mdp_all_is_complete():
  """Every public non-module attribute of jaxrl.mdp is listed in its __all__."""
  public = {n for n, v in vars(jaxrl.mdp).items()
            if not n.startswith("_") and not inspect.ismodule(v)}
  assert public == set(jaxrl.mdp.__all__)


def test_top_level_reexports_are_the_mdp_objects():
  for name in jaxrl.__all__:
    if name in jaxrl.mdp.__all__:
      assert getattr(jaxrl, name) is getattr(jaxrl.mdp, name), name
  assert jaxrl.mdp is importlib.import_module("jaxrl.mdp")
