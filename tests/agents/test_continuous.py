"""Continuous actions for the policy-gradient agents: the Gaussian probe's optimum is learned."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.agents import a2c
from jaxrl.agents import ppo
from jaxrl.agents import reinforce

CONFIGS = {
    "a2c": (a2c, a2c.A2CConfig(total_steps=16_000, num_envs=8, num_steps=5, hidden_sizes=(32,),
                               log_every=2_000, eval_every=4_000, eval_episodes=8)),
    "reinforce": (reinforce, reinforce.ReinforceConfig(
        total_steps=16_000, num_envs=8, hidden_sizes=(32,), learning_rate=3e-3,
        log_every=2_000, eval_every=4_000, eval_episodes=8)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_gaussian_policy_learns_the_optimal_mean_action(name):
  module, config = CONFIGS[name]
  env, params = envs.continuous_probe()                 # best action -0.5 / +0.5 by context
  trainer = module.make_train(config, env, params)
  state, metrics = jax.jit(jax.vmap(trainer))(jax.random.split(jax.random.PRNGKey(1), 2))
  (mean, log_std), _ = jax.vmap(trainer.network.apply, in_axes=(0, None))(state.params,
                                                                          jnp.eye(2))
  np.testing.assert_allclose(np.asarray(mean)[..., 0], [[-0.5, 0.5]] * 2, atol=0.1)
  assert np.all(np.asarray(log_std) < 0.0)
  assert np.all(np.asarray(metrics["eval_return"][:, -1]) > -0.02)
  assert "policy_match" not in metrics               # no exact Q* for a continuous problem


def test_actions_reach_the_environment_clipped_and_are_stored_unclipped():
  # a Gaussian with a huge scale: the environment sees only actions inside [-3, 3] (its
  # reward -(a - t)^2 is at most (3 + 0.5)^2 away), the log-probabilities are of the raw sample
  from jaxrl import rollouts  # pylint: disable=import-outside-toplevel
  from jaxrl.agents import actors  # pylint: disable=import-outside-toplevel
  from jaxrl.envs import wrappers  # pylint: disable=import-outside-toplevel
  env, params = envs.continuous_probe()
  config = a2c.A2CConfig(hidden_sizes=(8,))
  actor = actors.make_actor("test", config, env, params)
  net_params = actor.network.init(jax.random.PRNGKey(0), jnp.zeros(2))
  net_params["params"]["log_std"] = jnp.full((1,), 3.0)   # sigma = 20
  wrapped = wrappers.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(wrapped, params, 64, action_map=actor.to_env)
  obs, state = rollouts.reset(wrapped, params, jax.random.PRNGKey(1), 64)
  _, traj = rollouts.make_rollout(env_step, actor.act, 1)(jax.random.PRNGKey(2), net_params,
                                                           state, obs)
  assert float(jnp.max(jnp.abs(traj.a_t))) > 3.0             # the stored sample is unclipped
  assert float(jnp.min(traj.r_t)) >= -(3.5 ** 2) - 1e-5       # the env saw it clipped


def test_q_critic_needs_discrete_actions():
  env, params = envs.make("Pendulum-v1")
  with pytest.raises(ValueError, match="critic='q' needs a discrete action space"):
    a2c.make_train(a2c.A2CConfig(critic="q"), env, params)
  with pytest.raises(ValueError, match="network='cnn' takes discrete actions"):
    reinforce.make_train(reinforce.ReinforceConfig(network="cnn"), env, params)


GYMNAX_CONFIGS = {
    "ppo": lambda: (ppo, ppo.PPOConfig(total_steps=1_024, num_envs=4, num_steps=32,
                                       num_epochs=1, num_minibatches=2, hidden_sizes=(8,),
                                       log_every=512, eval_every=1_024, eval_episodes=1,
                                       eval_max_steps=50)),
    "a2c": lambda: (a2c, a2c.A2CConfig(total_steps=1_000, num_envs=4, num_steps=5,
                                       hidden_sizes=(8,), log_every=500, eval_every=1_000,
                                       eval_episodes=1, eval_max_steps=50)),
    "reinforce": lambda: (reinforce, reinforce.ReinforceConfig(
        total_steps=2 * 2 * 1_000, num_envs=2, hidden_sizes=(8,), episode_limit=1_000,
        log_every=4_000, eval_every=4_000, eval_episodes=1, eval_max_steps=50)),
}


@pytest.mark.parametrize("agent", sorted(GYMNAX_CONFIGS))
def test_every_policy_gradient_agent_runs_on_gymnax_continuous_control(agent):
  # Pendulum-v1 (torque in [-2, 2]) and MountainCarContinuous-v0 (force in [-1, 1]): a short
  # run compiles, its losses are finite and it stepped the environments it was asked to
  module, config = GYMNAX_CONFIGS[agent]()
  for name in ("Pendulum-v1", "MountainCarContinuous-v0"):
    env, params = envs.make(name)
    trainer = module.make_train(config, env, params)
    assert trainer.network is not None
    state, metrics = jax.jit(trainer)(jax.random.PRNGKey(0))
    assert bool(np.all(np.asarray(metrics["loss_finite"]))), (agent, name)
    assert int(state.env_steps) == config.total_steps, (agent, name)
    assert np.isfinite(np.asarray(metrics["eval_return"][-1])), (agent, name)
