"""rollouts: one environment-step helper and one scan rollout, typed, termination != truncation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl import rollouts
from jaxrl.envs import wrappers


def _chain(max_steps=3):
  # a 5-cell chain starting in the middle: always moving right terminates after 2 steps;
  # alternating left/right never terminates, so the time limit truncates after max_steps
  return envs.chain_env(5, start=2, max_steps_in_episode=max_steps, discount=0.9)


def test_rollout_is_typed_time_major_and_keeps_termination_apart_from_truncation():
  env, params = _chain()
  env = wrappers.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, params, 2)
  # env 0 always right (terminates at step 1), env 1 alternates (truncated at step 2)

  def policy(key, p, obs):
    del key, p
    t = jnp.argmax(obs[1]).astype(jnp.int32)          # env 1's cell: 2 -> left (0) -> right
    return jnp.array([1, jnp.where(t == 2, 0, 1)], jnp.int32), jnp.sum(obs, -1)

  rollout = rollouts.make_rollout(env_step, policy, 5)
  obs, state = rollouts.reset(env, params, jax.random.PRNGKey(0), 2)
  (state, last_obs, key), traj = jax.jit(rollout)(jax.random.PRNGKey(1), None, state, obs)
  assert isinstance(traj, rollouts.Trajectory)
  assert traj.obs_t.shape == (5, 2, 5) and traj.a_t.shape == (5, 2)
  assert traj.r_t.dtype == jnp.float32
  assert traj.extras_t.shape == (5, 2)                  # what the policy returned beside the action
  term, trunc = np.asarray(traj.terminated_t), np.asarray(traj.truncated_t)
  np.testing.assert_array_equal(term[:, 0], [False, True, False, True, False])
  np.testing.assert_array_equal(trunc[:, 1], [False, False, True, False, False])
  assert not np.any(term & trunc)
  np.testing.assert_array_equal(np.asarray(traj.end_t), term | trunc)
  # truncation: obs_tp1 is where the step went (2 -> left -> cell 1), not the reset's cell 2,
  # which is the next step's obs_t
  np.testing.assert_array_equal(np.argmax(traj.obs_tp1[2, 1]), 1)
  np.testing.assert_array_equal(np.argmax(traj.obs_t[3, 1]), 2)
  # discount_t is zero only at termination
  d = np.asarray(traj.discount_t(0.9))
  np.testing.assert_allclose(d[:, 0], [0.9, 0.0, 0.9, 0.0, 0.9])
  np.testing.assert_allclose(d[:, 1], 0.9)
  # finished episodes carry their return and length; running ones report nothing
  np.testing.assert_array_equal(np.asarray(traj.episode_length_t)[:, 1], [0, 0, 3, 0, 0])
  assert last_obs.shape == (2, 5)


def test_rollout_consumes_the_key_it_is_given():
  env, params = envs.probe(2)
  env = wrappers.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, params, 3)
  rollout = jax.jit(rollouts.make_rollout(
      env_step, lambda k, p, o: (jax.random.randint(k, (3,), 0, 2), ()), 4))
  obs, state = rollouts.reset(env, params, jax.random.PRNGKey(0), 3)
  (_, _, k1), a = rollout(jax.random.PRNGKey(1), None, state, obs)
  (_, _, k2), b = rollout(jax.random.PRNGKey(1), None, state, obs)
  (_, _, k3), c = rollout(jax.random.PRNGKey(2), None, state, obs)
  np.testing.assert_array_equal(a.a_t, b.a_t)
  np.testing.assert_array_equal(k1, k2)
  assert not np.array_equal(k1, k3) and not np.array_equal(k1, jax.random.PRNGKey(1))


def test_factories_refuse_bad_sizes():
  env, params = envs.probe(1)
  with pytest.raises(ValueError, match="num_envs must be an int >= 1"):
    rollouts.make_env_step(env, params, 0)
  with pytest.raises(ValueError, match="rollout length must be an int >= 1"):
    rollouts.make_rollout(lambda *a: a, lambda *a: a, 0)
  with pytest.raises(ValueError, match="num_episodes must be an int >= 1"):
    rollouts.make_greedy_evaluation(env, params, lambda p, o: o, 0)


def test_tabular_reference_is_recognised_by_the_params():
  env, params = envs.make("GridWorld-v0", discount=0.9)
  compare = rollouts.tabular_reference(params)
  assert compare is not None
  q_star = envs.exact_q_values(params)
  out = compare(lambda p, obs: obs @ q_star, None)        # the exact Q* is at distance 0
  assert float(out["q_error"]) < 1e-5 and float(out["policy_match"]) == 1.0
  _, cartpole_params = envs.make("CartPole-v1")
  assert rollouts.tabular_reference(cartpole_params) is None
