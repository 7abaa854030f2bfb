"""make(): jaxrl's names, gymnax's names, unknown names; the public surface of jaxrl.envs."""

import inspect

import gymnax
import jax
import numpy as np
import pytest

import jaxrl.envs
from jaxrl.envs import TabularEnv
from jaxrl.envs import env_names
from jaxrl.envs import make

JAXRL_NAMES = ["GridWorld-v0", "Chain-v0"] + [f"Probe{n}-v0" for n in range(1, 7)]


def test_public_surface():
  names = jaxrl.envs.__all__
  assert len(set(names)) == len(names)
  assert all(hasattr(jaxrl.envs, n) for n in names)
  public = {n for n, v in vars(jaxrl.envs).items()
            if not n.startswith("_") and not inspect.ismodule(v)}
  assert public == set(names)


@pytest.mark.parametrize("name", JAXRL_NAMES)
def test_make_jaxrl_names(name):
  env, params = make(name)
  assert isinstance(env, TabularEnv) and env.name == name
  assert env.observation_space(params).shape == (env.num_states,)
  assert params.initial_distribution.shape == (env.num_states,)


def test_make_passes_kwargs():
  _, params = make("GridWorld-v0", discount=0.9, max_steps_in_episode=17)
  assert float(params.mdp.discount) == pytest.approx(0.9)
  assert int(params.max_steps_in_episode) == 17
  env, params = make("Chain-v0", num_cells=7, start=1)
  assert env.num_states == 7 and int(np.argmax(params.initial_distribution)) == 1
  _, params = make("Probe3-v0", discount=0.5)
  assert float(params.mdp.discount) == 0.5


def test_make_cartpole():
  env, params = make("CartPole-v1")
  assert isinstance(env, gymnax.environments.CartPole)
  assert env.num_actions == 2 and env.observation_space(params).shape == (4,)
  obs, state = env.reset(jax.random.key(0), params)
  assert obs.shape == (4,)
  obs, state, reward, terminated, truncated, info = env.step(jax.random.key(1), state, 1, params)
  assert obs.shape == (4,) and info["final_observation"].shape == (4,)


def test_make_breakout_minatar_observation_shape():
  env, params = make("Breakout-MinAtar")
  assert env.observation_space(params).shape == (10, 10, 4)
  assert env.num_actions == 3
  obs, _ = env.reset(jax.random.key(0), params)
  assert obs.shape == (10, 10, 4)


def test_every_gymnax_name_is_available():
  names = env_names()
  assert set(gymnax.registered_envs) <= set(names)
  assert set(JAXRL_NAMES) <= set(names)
  assert len(set(names)) == len(names)


def test_unknown_name_raises_with_close_matches():
  with pytest.raises(ValueError, match=r"unknown environment 'Cartpole-v0'.*'CartPole-v1'"):
    make("Cartpole-v0")
  with pytest.raises(ValueError, match=r"Did you mean 'GridWorld-v0'"):
    make("Gridworld")
  with pytest.raises(ValueError, match=r"Available: GridWorld-v0, .*Breakout-MinAtar"):
    make("no-such-env")
  with pytest.raises(TypeError):
    make(3)
