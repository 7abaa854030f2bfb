"""PQN: probes learned against the exact Q*, truncation bootstrapped, seeds, bad input refused."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl import rollouts
from jaxrl.envs import wrappers
from jaxrl.agents import pqn

PROBE = pqn.PQNConfig(
    total_steps=12_288, num_envs=8, num_steps=16, num_epochs=4, num_minibatches=4,
    hidden_sizes=(32,), learning_rate=3e-3, discount=0.9, reward_scale=1.0,
    epsilon_decay_steps=4_000, epsilon_end=0.2, log_every=2_048, eval_every=4_096,
    eval_episodes=4)


@functools.cache
def _probe_run(n):
  """``(state, metrics)`` of 2 vmapped runs of PROBE on probe ``n`` (keys
  ``split(PRNGKey(n), 2)``), compiled and run once for the tests that read it."""
  env, params = envs.probe(n, discount=0.9)
  train = jax.jit(jax.vmap(pqn.make_train(PROBE, env, params)))
  return train(jax.random.split(jax.random.PRNGKey(n), 2))


@pytest.mark.parametrize("n", [3, 5, 6])
def test_probe_action_values_are_learned(n):
  # 3: two steps, reward at the end (the discounted backup); 5: action x observation;
  # 6: the best first action depends on the discount. Q* from q_iteration.
  _, metrics = _probe_run(n)
  assert np.all(np.asarray(metrics["q_error"][:, -1]) < 0.15), metrics["q_error"][:, -1]
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))


def test_reward_scale_is_undone_in_the_q_error():
  env, params = envs.probe(4, discount=0.9)        # Q* = [-1, 1]
  config = dataclasses.replace(PROBE, reward_scale=0.1)
  _, metrics = jax.jit(pqn.make_train(config, env, params))(jax.random.PRNGKey(0))
  assert float(metrics["q_error"][-1]) < 0.15     # Q / 0.1 is compared with Q*
  assert abs(float(metrics["q_mean"][-1])) < 0.15  # the network itself learned 0.1 Q*


def test_targets_bootstrap_from_the_final_observation_on_truncation():
  # one env, three steps, gamma 0.5, lambda 0: step 0 is truncated (its final observation is
  # worth max Q = 8), step 1 terminates; the window ends after step 2
  zeros = jnp.zeros((3, 1))
  traj = rollouts.Trajectory(
      obs_t=zeros, a_t=zeros, extras_t=(), r_t=jnp.ones((3, 1)),
      terminated_t=jnp.array([[0], [1], [0]], bool), truncated_t=jnp.array([[1], [0], [0]], bool),
      obs_tp1=zeros, episode_return_t=zeros, episode_length_t=zeros.astype(jnp.int32))
  q_tp1 = jnp.array([[[8.0, 2.0]], [[50.0, 60.0]], [[3.0, 4.0]]])   # [T, E, A]
  hp = PROBE.hyperparams()._replace(discount=jnp.float32(0.5), q_lambda=jnp.float32(0.0),
                                    reward_scale=jnp.float32(1.0))
  y = np.asarray(pqn.q_lambda_targets(traj, q_tp1, hp))[:, 0]
  np.testing.assert_allclose(y, [1 + 0.5 * 8, 1.0, 1 + 0.5 * 4])
  # lambda 1 inside an episode: the Monte Carlo return, still cut at ends
  y1 = np.asarray(pqn.q_lambda_targets(traj, q_tp1, hp._replace(q_lambda=jnp.float32(1.0))))
  np.testing.assert_allclose(y1[:, 0], [5.0, 1.0, 3.0])


class _CutsAreEnds(wrappers.Wrapper):
  """The classic bug as an environment: a time limit reported as a termination."""

  def reset(self, key, params=None):
    return self._env.reset(key, params)

  def step(self, key, state, action, params=None):
    obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
    return obs, state, reward, terminated | truncated, jnp.zeros_like(truncated), info


def test_a_time_limit_is_not_an_ending():
  # a chain whose episodes are cut after 2 steps (start in the middle cell, exits 2 cells away):
  # one-step Q-learning with the bootstrap kept on truncation learns the MDP's own Q*; the same
  # agent told that a cut is an ending learns something else
  env, params = envs.chain_env(5, start=2, max_steps_in_episode=2, discount=0.9)
  config = dataclasses.replace(PROBE, total_steps=16_384, q_lambda=0.0, reward_scale=0.1,
                               epsilon_end=0.5)
  key = jax.random.PRNGKey(0)
  _, metrics = jax.jit(pqn.make_train(config, env, params))(key)
  assert float(metrics["q_error"][-1]) < 0.05
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][-1]), 1.0)
  _, wrong = jax.jit(pqn.make_train(config, _CutsAreEnds(env), params))(key)
  assert float(wrong["q_error"][-1]) > 1.0


def test_vmapped_seed_equals_the_same_key_alone():
  # the batched run is test_probe_action_values_are_learned's on probe 5
  env, params = envs.probe(5, discount=0.9)
  train = pqn.make_train(PROBE, env, params)
  keys = jax.random.split(jax.random.PRNGKey(5), 2)
  _, batched = _probe_run(5)
  _, alone = jax.jit(train)(keys[1])
  for name, value in alone.items():
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), rtol=1e-5,
                               atol=1e-6, err_msg=name)
  assert not np.allclose(np.asarray(batched["loss"][0]), np.asarray(batched["loss"][1]))


@pytest.mark.parametrize("changes, message", [
    (dict(num_minibatches=5), r"num_minibatches \(5\) must divide num_envs \* num_steps"),
    (dict(q_lambda=1.5), "q_lambda must lie in"),
    (dict(optimizer="sgd"), "optimizer must be one of"),
    (dict(network="cnn"), "needs image observations"),
    (dict(reward_scale=0.0), "reward_scale must be positive"),
])
def test_nonsense_configs_are_refused_before_compiling(changes, message):
  env, params = envs.probe(4)
  with pytest.raises(ValueError, match=message):
    pqn.make_train(dataclasses.replace(PROBE, **changes), env, params)


@pytest.mark.parametrize("name", ["Pendulum-v1", "MountainCarContinuous-v0"])
def test_value_based_agents_refuse_continuous_actions(name):
  from jaxrl.agents import dqn  # pylint: disable=import-outside-toplevel
  env, params = envs.make(name)
  for agent, config in ((pqn, PROBE), (dqn, dqn.DQNConfig())):
    with pytest.raises(ValueError, match=rf"needs a discrete action space, and {name} has a "
                                         r"continuous Box.*use ppo, a2c, reinforce, sac, td3 or ddpg"):
      agent.make_train(config, env, params)
