"""make(): jaxrl's names, gymnax's names, unknown names; the public surface of jaxrl.envs."""

import inspect
import re

import gymnax
import jax
import numpy as np
import pytest

import jaxrl.envs
from jaxrl import envs
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


def test_env_options_are_typed_from_the_factories_and_the_params():
  kinds = {k: o.kind for k, o in envs.env_options("GridWorld-v0").items()}
  assert kinds == {"discount": float, "noise": float, "living_reward": float,
                   "max_steps_in_episode": int}
  options = envs.env_options("CartPole-v1")     # the int/float/bool fields of gymnax's params
  assert options["max_steps_in_episode"].kind is int and options["gravity"].kind is float
  assert options["gravity"].describe() == "float (must be positive)"


def test_make_configured_passes_the_options_on():
  _, params = envs.make_configured("GridWorld-v0", {"discount": 0.9, "noise": 0})
  assert float(params.mdp.discount) == pytest.approx(0.9)
  _, params = envs.make_configured("CartPole-v1", {"max_steps_in_episode": 50, "gravity": 10})
  assert params.max_steps_in_episode == 50 and params.gravity == 10.0
  assert envs.check_env_kwargs("Probe3-v0", {"discount": 1}) == {"discount": 1.0}


@pytest.mark.parametrize("name, kwargs, message", [
    ("CartPole-v1", {"discount": 0.9},
     "CartPole-v1 has no environment option(s) ['discount']; its options: force_mag, gravity, "
     "length, masscart, masspole, max_steps_in_episode, polemass_length, tau, "
     "theta_threshold_radians, total_mass, x_threshold."),
    ("CartPole-v1", {"max_steps_in_episode": 2.5},
     "CartPole-v1 option max_steps_in_episode must be an int, got 2.5 (float)."),
    ("GridWorld-v0", {"noise": "high"}, "GridWorld-v0 option noise must be a number, got 'high'"),
    ("Probe1-v0", {"discount": 1.5}, "Probe1-v0 option discount must lie in [0, 1], got 1.5."),
    # every option is checked by its range, not only its type, before anything is built
    ("CartPole-v1", {"max_steps_in_episode": -5},
     "CartPole-v1 option max_steps_in_episode must be positive, got -5."),
    ("CartPole-v1", {"gravity": 0.0}, "CartPole-v1 option gravity must be positive, got 0.0."),
    ("CartPole-v1", {"tau": float("nan")}, "CartPole-v1 option tau must be a finite number, got nan."),
    ("Acrobot-v1", {"torque_noise_max": -1}, "torque_noise_max must be >= 0, got -1.0."),
    ("Catch-bsuite", {"max_steps_in_episode": 0}, "must be positive, got 0."),
    ("GridWorld-v0", {"noise": 1.5}, "GridWorld-v0 option noise must lie in [0, 1], got 1.5."),
    ("Chain-v0", {"num_cells": 1}, "Chain-v0 option num_cells must be >= 2, got 1."),
    ("GridWorld-v0", {"max_steps_in_episode": 0}, "max_steps_in_episode must be at least 1"),
])
def test_bad_env_options_are_refused(name, kwargs, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    envs.make_configured(name, kwargs)


def test_discount_mismatch_names_both_discounts():
  _, params = envs.make("GridWorld-v0", discount=0.9)
  assert envs.discount_mismatch(params, [0.9]) is None
  assert envs.discount_mismatch(envs.make("CartPole-v1")[1], [0.5]) is None   # not tabular
  assert envs.discount_mismatch(params, [0.99, 0.9], who="DQNConfig", env="GridWorld-v0") == (
      "DQNConfig.discount 0.99 differs from GridWorld-v0's discount 0.9: q_error and "
      "policy_match measure the distance to Q* at discount 0.9, which this agent does not "
      "estimate. Use the same discount for both (e.g. --discount 0.9, or --env-kwargs "
      "discount=0.99).")
