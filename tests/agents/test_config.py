"""Agent configs: each hyperparameter declared once on its field; everything else generated."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.agents import a2c
from jaxrl.agents import config as config_lib
from jaxrl.agents import dqn
from jaxrl.agents.config import hyperparameter, option
from jaxrl.training import algorithms
from jaxrl.validation import AT_LEAST_ONE, UNIT_INTERVAL


@dataclasses.dataclass(frozen=True)
class DQNWithANewKnob(dqn.DQNConfig):
  """DQN's config plus one swept hyperparameter: the whole change is the line below."""

  new_knob: float = hyperparameter(0.25, UNIT_INTERVAL)


SMALL = dict(total_steps=400, num_envs=4, hidden_sizes=(8,), buffer_size=200, batch_size=8,
             learning_starts=40, log_every=200, eval_every=400, eval_episodes=2)


def test_adding_a_swept_hyperparameter_is_one_line():
  hp_type = DQNWithANewKnob.hyperparams_type()
  # the vmappable pytree, hyperparams() and the eager check all know the new field ...
  assert hp_type._fields == dqn.DQNHyperparams._fields + ("new_knob",)
  hp = DQNWithANewKnob().hyperparams()
  assert isinstance(hp, hp_type) and hp.new_knob.dtype == jnp.float32 and float(hp.new_knob) == 0.25
  assert config_lib.hyperparameter_names(DQNWithANewKnob)[-1] == "new_knob"
  with pytest.raises(ValueError, match=r"DQNWithANewKnob.new_knob must lie in \[0, 1\], got 2.0"):
    DQNWithANewKnob(new_knob=2.0).check()
  swept = jax.tree.map(lambda x: jnp.stack([x, x]), hp)._replace(
      new_knob=jnp.array([0.5, -1.0]))
  with pytest.raises(ValueError, match=r"new_knob must lie in \[0, 1\], got -1.0 \(entry \(1,\)"):
    DQNWithANewKnob.validate_hyperparams(swept)
  # ... and a run vmaps over it like over any other hyperparameter (DQN reads hp by name)
  env, params = envs.probe(1)
  train = dqn.make_train(DQNWithANewKnob(**SMALL), env, params)
  _, metrics = jax.jit(jax.vmap(train, in_axes=(None, 0)))(
      jax.random.PRNGKey(0), swept._replace(new_knob=jnp.array([0.1, 0.9])))
  assert metrics["loss"].shape == (2, 2)
  # the base config is untouched
  assert "new_knob" not in dqn.DQNHyperparams._fields


def test_generated_hyperparams_match_the_fields_and_their_dtypes():
  for algo in algorithms.ALGORITHMS.values():
    config = algo.config_cls()
    hp = config.hyperparams()
    assert algo.hyperparams_cls is type(hp)
    for name in hp._fields:
      value = getattr(hp, name)
      assert value.shape == () and value.dtype in (jnp.float32, jnp.int32), name
      np.testing.assert_allclose(float(value), getattr(config, name), rtol=1e-6)
  assert dqn.DQNConfig().hyperparams().target_update_period.dtype == jnp.int32


def test_option_fields_are_checked_by_their_declaration():
  @dataclasses.dataclass(frozen=True)
  class Toy(config_lib.AgentConfig):
    num_envs: int = option(4, AT_LEAST_ONE)
    loss: str = option("mse", choices=("mse", "huber"))
    flag: bool = option(False)
    cap: int | None = option(None, AT_LEAST_ONE, optional=True)
    rate: float = hyperparameter(0.5, UNIT_INTERVAL)

  Toy().check()
  Toy(cap=np.int64(3)).check()                    # numpy integers are integers
  for bad, match in [(dict(num_envs=0), "Toy.num_envs must be at least 1, got 0"),
                     (dict(num_envs=2.5), "Toy.num_envs must be an int"),
                     (dict(loss="l1"), r"Toy.loss must be one of \('mse', 'huber'\)"),
                     (dict(flag=1), "Toy.flag must be a bool"),
                     (dict(cap=0), "Toy.cap must be at least 1"),
                     (dict(rate=1.5), r"Toy.rate must lie in \[0, 1\]")]:
    with pytest.raises(ValueError, match=match):
      Toy(**bad).check()
  assert Toy.hyperparams_type()._fields == ("rate",)


def test_agents_refuse_bad_fields_through_the_declarations():
  env, params = envs.probe(1)
  with pytest.raises(ValueError, match="A2CConfig.shared_torso must be a bool"):
    a2c.make_train(a2c.A2CConfig(shared_torso="yes"), env, params)
  with pytest.raises(ValueError, match="DQNConfig.max_grad_norm must be positive"):
    dqn.make_train(dqn.DQNConfig(max_grad_norm=0.0), env, params)
  dqn.make_train(dqn.DQNConfig(max_grad_norm=float("inf"), **SMALL), env, params)  # inf: no clip


@pytest.mark.parametrize("name", sorted(algorithms.ALGORITHMS))
def test_every_default_config_passes_its_own_checks(name):
  # `jaxrl train NAME` with no options must start: PPO's defaults once broke their own
  # total_steps % log_every rule. Building the trainer runs every eager check.
  algo = algorithms.get(name)
  env, env_params = envs.make(algo.default_env)
  trainer = algo.make_train(algo.config_cls(), env, env_params)
  assert trainer is not None
