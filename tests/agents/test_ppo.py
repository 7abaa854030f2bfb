"""PPO: probes learned (discrete and continuous, with normalisation and the tanh squash), seeds,
truncation, bad configs refused."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl import rollouts
from jaxrl.agents import ppo

PROBE = ppo.PPOConfig(
    total_steps=12_288, num_envs=8, num_steps=16, num_epochs=4, num_minibatches=4,
    hidden_sizes=(32,), learning_rate=3e-3, discount=0.9, log_every=2_048, eval_every=4_096,
    eval_episodes=4)


@pytest.mark.parametrize("n, discount", [(5, 0.9), (6, 0.9), (6, 0.4)])
def test_probe_policies_are_learned(n, discount):
  # 5: the best action depends on the observation; 6: on the discount (left, the far exit worth
  # 2, is best iff discount > 1/2), so the agent's discount must be the one it was given
  env, params = envs.probe(n, discount=discount)
  config = dataclasses.replace(PROBE, discount=discount)
  train = jax.jit(jax.vmap(ppo.make_train(config, env, params)))
  _, metrics = train(jax.random.split(jax.random.PRNGKey(n), 2))
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))


def test_continuous_probe_mean_action_is_the_optimum():
  # one step, r = -(a - target)^2 with targets -0.5 / +0.5 by context: the Gaussian's mean
  # must reach the targets; the greedy (mean) return tends to 0
  env, params = envs.continuous_probe()
  config = dataclasses.replace(PROBE, total_steps=20_480, num_steps=32, discount=0.99,
                               learning_rate=1e-3)
  trainer = ppo.make_train(config, env, params)
  state, metrics = jax.jit(jax.vmap(trainer))(jax.random.split(jax.random.PRNGKey(0), 2))
  (mean, log_std), _ = jax.vmap(trainer.network.apply, in_axes=(0, None))(state.params,
                                                                          jnp.eye(2))
  np.testing.assert_allclose(np.asarray(mean)[..., 0], [[-0.5, 0.5]] * 2, atol=0.1)
  assert np.all(np.asarray(log_std) < 0.0)                 # it became more certain
  assert np.all(np.asarray(metrics["eval_return"][:, -1]) > -0.02)


NORMALIZED = dataclasses.replace(PROBE, total_steps=20_480, num_steps=32, discount=0.99,
                                 learning_rate=1e-3, log_every=256, eval_every=5_120,
                                 normalize_observations=True, normalize_rewards=True,
                                 action_squash="tanh")


@pytest.fixture(scope="module")
def normalized():
  """One compiled run of the continuous probe with every option on, two members on the same
  key that differ only in ``reward_scaling`` (1 and 10); the first log is one rollout."""
  env, params = envs.continuous_probe()
  trainer = ppo.make_train(NORMALIZED, env, params)
  hp = jax.tree.map(lambda x: jnp.stack([x, x]), NORMALIZED.hyperparams())
  hp = hp._replace(reward_scaling=jnp.array([1.0, 10.0]))
  keys = jnp.stack([jax.random.PRNGKey(0)] * 2)
  state, metrics = jax.jit(jax.vmap(trainer))(keys, hp)
  return trainer, params, state, metrics


def _best_squashed_mean(sigma: float, target: float) -> float:
  """argmax_m E_{u ~ N(m, sigma^2)}[-(3 tanh(u) - target)^2] (Gauss-Hermite, grid search)."""
  x, w = np.polynomial.hermite_e.hermegauss(40)
  m = np.linspace(-1.5, 1.5, 30_001)[:, None]
  value = -(w * (3.0 * np.tanh(m + sigma * x) - target) ** 2).sum(-1)
  return float(m[np.argmax(value), 0])


def test_normalized_tanh_policy_learns_the_probe(normalized):
  # actions a = 3 tanh(u), u ~ N(m, sigma^2): the best m for the stochastic policy is the
  # optimum of E[-(a - target)^2] under that noise (larger than atanh(target / 3), because the
  # squash's slope, hence the action's spread, falls away from 0); the greedy evaluation acts
  # with 3 tanh(m) through the same observation statistics
  trainer, params, state, metrics = normalized
  (mean, log_std), _ = jax.vmap(trainer.network.apply, in_axes=(0, None))(state.params,
                                                                          jnp.eye(2))
  mean, sigma = np.asarray(mean)[..., 0], np.exp(np.asarray(log_std)[..., 0])
  targets = np.asarray(params.targets)
  for run in range(2):
    best = [_best_squashed_mean(sigma[run, c], targets[c]) for c in range(2)]
    np.testing.assert_allclose(mean[run], best, atol=0.05)
    greedy = -(3.0 * np.tanh(mean[run]) - targets) ** 2
    assert greedy.min() - 1e-5 <= metrics["eval_return"][run, -1] <= greedy.max() + 1e-5
  assert np.all(sigma < 1.0)
  assert np.all(metrics["eval_return"][:, -1] > metrics["eval_return"][:, 19])


def test_observation_statistics_are_in_the_state(normalized):
  _, _, state, _ = normalized
  stats = state.params.obs_stats          # every observation acted on (one-hot contexts)
  np.testing.assert_array_equal(stats.count, [NORMALIZED.total_steps] * 2)
  np.testing.assert_allclose(stats.mean, 0.5, atol=0.02)
  np.testing.assert_allclose(stats.variance, 0.25, atol=0.01)


def test_reward_scaling_leaves_the_reported_returns_unscaled(normalized):
  # the first rollout acts with the same initial policy in both members: the same episodes,
  # reported in the environment's rewards; the return statistics saw the scaled rewards
  _, _, state, metrics = normalized
  first = metrics["episode_return"][:, 0]
  np.testing.assert_array_equal(first[0], first[1])
  assert -10.0 < first[0] < 0.0
  ret = state.reward_norm.stats
  np.testing.assert_allclose(ret.mean[1], 10.0 * ret.mean[0], rtol=1e-3)
  np.testing.assert_allclose(ret.variance[1], 100.0 * ret.variance[0], rtol=1e-3)


def test_vmapped_seed_equals_the_same_key_alone():
  env, params = envs.probe(5, discount=0.9)
  config = dataclasses.replace(PROBE, total_steps=4_096, eval_every=2_048)
  train = ppo.make_train(config, env, params)
  keys = jax.random.split(jax.random.PRNGKey(7), 3)
  _, batched = jax.jit(jax.vmap(train))(keys)
  _, alone = jax.jit(train)(keys[1])
  for name, value in alone.items():
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), rtol=1e-5,
                               atol=1e-6, err_msg=name)
  assert not np.allclose(np.asarray(batched["loss"][0]), np.asarray(batched["loss"][2]))


def test_advantages_bootstrap_from_the_final_observation_on_truncation():
  # two envs, three steps, gamma 0.5, lambda 1: env 0 is truncated at step 1 (its final
  # observation is worth 10), env 1 terminates at step 1; the window ends after step 2
  t, e = 3, 2
  zeros = jnp.zeros((t, e))
  traj = rollouts.Trajectory(
      obs_t=zeros, a_t=zeros, extras_t=(zeros, jnp.ones((t, e))),     # log pi_old, V_old = 1
      r_t=jnp.ones((t, e)), terminated_t=jnp.array([[0, 0], [0, 1], [0, 0]], bool),
      truncated_t=jnp.array([[0, 0], [1, 0], [0, 0]], bool), obs_tp1=zeros,
      episode_return_t=zeros, episode_length_t=zeros.astype(jnp.int32))
  v_tp1 = jnp.array([[1.0, 1.0], [10.0, 99.0], [2.0, 2.0]])  # V(obs_tp1); 99 must be ignored
  hp = PROBE.hyperparams()._replace(discount=jnp.float32(0.5), gae_lambda=jnp.float32(1.0))
  batch = ppo.rollout_batch(traj, v_tp1, hp)
  adv = np.asarray(batch.advantage_t).reshape(t, e)
  # env 0: step 1 bootstraps from V(final) = 10: A_1 = 1 + 0.5 * 10 - 1 = 5; A_0 = 1 + 0.5 * 6 - 1
  np.testing.assert_allclose(adv[:, 0], [3.0, 5.0, 1.0 + 0.5 * 2.0 - 1.0])
  # env 1: termination zeroes the bootstrap: A_1 = 1 - 1 = 0; A_0 = 1 + 0.5 * 1 - 1
  np.testing.assert_allclose(adv[:, 1], [0.5, 0.0, 1.0])
  np.testing.assert_allclose(np.asarray(batch.target_t), np.asarray(batch.advantage_t) + 1.0)


@pytest.mark.parametrize("changes, message", [
    (dict(num_minibatches=3), r"num_minibatches \(3\) must divide num_envs \* num_steps"),
    (dict(clip_eps=0.0), "clip_eps must be positive"),
    (dict(num_epochs=0), "num_epochs must be at least 1"),
    (dict(log_every=1_000), "must be a positive multiple of num_envs"),
    (dict(gae_lambda=1.5), "gae_lambda must lie in"),
    (dict(reward_scaling=-1.0), "PPOConfig.reward_scaling must be positive"),
    (dict(action_squash="sigmoid"), "PPOConfig.action_squash must be one of"),
    (dict(observation_clip=0.0), "PPOConfig.observation_clip must be positive"),
    (dict(normalize_observations="yes"), "PPOConfig.normalize_observations must be"),
])
def test_nonsense_configs_are_refused_before_compiling(changes, message):
  env, params = envs.probe(4)
  with pytest.raises(ValueError, match=message):
    ppo.make_train(dataclasses.replace(PROBE, **changes), env, params)


def test_continuous_actions_need_the_mlp():
  env, params = envs.make("Pendulum-v1")
  with pytest.raises(ValueError, match=r"network='cnn' takes discrete actions; continuous "
                                       r"actions \(continuous Box"):
    ppo.make_train(dataclasses.replace(PROBE, network="cnn"), env, params)
