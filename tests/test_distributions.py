"""jaxrl.distributions: log-densities and entropies by hand, sampling moments, the action map."""

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from jaxrl import distributions
from jaxrl import envs
from jaxrl import policies


def test_gaussian_log_prob_and_entropy_match_scipy():
  dist = distributions.diag_gaussian()
  mean = jnp.array([[0.0, 1.0], [-2.0, 0.5]])
  log_std = jnp.log(jnp.array([[1.0, 0.5], [2.0, 0.1]]))
  a = jnp.array([[0.3, 0.9], [-1.0, 0.6]])
  expected = scipy.stats.norm.logpdf(np.asarray(a), np.asarray(mean),
                                     np.exp(np.asarray(log_std))).sum(-1)
  np.testing.assert_allclose(dist.log_prob((mean, log_std), a), expected, rtol=1e-5)
  entropy = scipy.stats.norm.entropy(np.asarray(mean), np.exp(np.asarray(log_std))).sum(-1)
  np.testing.assert_allclose(dist.entropy((mean, log_std)), entropy, rtol=1e-5)
  np.testing.assert_array_equal(dist.mode((mean, log_std)), mean)


def test_gaussian_samples_have_the_right_moments():
  dist = distributions.diag_gaussian()
  params = (jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.5, 3.0])))
  samples = jax.vmap(dist.sample, in_axes=(0, None))(
      jax.random.split(jax.random.PRNGKey(0), 20_000), params)
  np.testing.assert_allclose(samples.mean(0), [1.0, -2.0], atol=0.05)
  np.testing.assert_allclose(samples.std(0), [0.5, 3.0], rtol=0.03)
  # the score function has mean zero: E[grad_mu log pi(a)] = 0 (what makes REINFORCE unbiased)
  score = jax.vmap(jax.grad(lambda m, a: dist.log_prob((m, params[1]), a)), in_axes=(None, 0))(
      params[0], samples)
  np.testing.assert_allclose(score.mean(0), 0.0, atol=0.05)


def test_categorical_is_the_policies_functions():
  dist = distributions.categorical()
  logits = jnp.array([[0.0, 1.0, -1.0]])
  np.testing.assert_array_equal(dist.log_prob(logits, jnp.array([1])),
                                policies.categorical_log_prob(logits, jnp.array([1])))
  np.testing.assert_array_equal(dist.entropy(logits), policies.categorical_entropy(logits))
  np.testing.assert_array_equal(dist.mode(logits), [1])
  assert not dist.continuous and distributions.diag_gaussian().continuous


def test_action_map_follows_the_action_space():
  _, to_env = distributions.for_action_spec(envs.action_spec(*envs.make("Pendulum-v1")))
  np.testing.assert_allclose(to_env(jnp.array([[-5.0], [0.5], [7.0]]))[:, 0], [-2.0, 0.5, 2.0])
  dist, to_env = distributions.for_action_spec(envs.action_spec(*envs.make("CartPole-v1")))
  assert not dist.continuous and int(to_env(jnp.int32(1))) == 1
