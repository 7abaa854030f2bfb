"""Fitted Q-iteration recovers Q* of the grid world from random-policy data."""

import jax
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.agents import fqi


def test_fqi_recovers_gridworld_q_star_from_random_data():
  env, params = envs.make("GridWorld-v0", discount=0.9)
  data = jax.jit(lambda k: fqi.collect_random_transitions(
      k, env, params, num_steps=200, num_envs=16, discount=0.9))(jax.random.PRNGKey(0))
  assert data.obs.shape == (3200, params.mdp.num_states)
  # the exits end episodes: some stored discounts are zero, the rest are 0.9
  np.testing.assert_allclose(np.unique(np.asarray(data.discount)), [0.0, 0.9], rtol=1e-6)
  _, metrics = jax.jit(fqi.make_fqi(fqi.FQIConfig(), env, params))(jax.random.PRNGKey(1), data)
  assert float(metrics["q_error"][0]) > 0.3  # far from Q* after one regression
  assert float(metrics["q_error"][-1]) < 0.1  # sampling error of 3,200 random transitions
  assert float(metrics["policy_match"][-1]) == 1.0


def test_fqi_config_is_validated():
  env, params = envs.probe(4)
  with pytest.raises(ValueError, match="iterations"):
    fqi.make_fqi(fqi.FQIConfig(iterations=0), env, params)
  with pytest.raises(ValueError, match="learning_rate"):
    fqi.make_fqi(fqi.FQIConfig(learning_rate=0.0), env, params)
