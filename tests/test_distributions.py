"""jaxrl.distributions: log-densities and entropies by hand, sampling moments, the action map."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
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


def test_tanh_gaussian_log_prob_is_the_change_of_variables():
  # a = low + (tanh(u) + 1) / 2 (high - low): log p_a(a) = log N(u) - log |da/du|, the
  # derivative taken by central differences in float64 (numpy), not by the formula under test
  low, high = np.array([-2.0, 0.0]), np.array([2.0, 1.0])
  dist = distributions.tanh_gaussian(low, high)
  mean, log_std = jnp.array([0.3, -1.0]), jnp.log(jnp.array([0.7, 1.5]))
  u = np.array([[-2.5, 0.1], [0.0, 3.0], [1.2, -0.7]])
  squash = lambda x: low + (np.tanh(x) + 1.0) / 2.0 * (high - low)  # noqa: E731
  h = 1e-6
  jacobian = (squash(u + h) - squash(u - h)) / (2 * h)
  expected = (scipy.stats.norm.logpdf(u, np.asarray(mean), np.exp(np.asarray(log_std)))
              - np.log(jacobian)).sum(-1)
  got = dist.log_prob((jnp.broadcast_to(mean, u.shape), jnp.broadcast_to(log_std, u.shape)),
                      jnp.asarray(u, jnp.float32))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  # the squashed density integrates to 1 over (low, high) (one dimension, on a fine grid of a)
  one = distributions.tanh_gaussian(low[:1], high[:1])
  a = np.linspace(-2.0, 2.0, 200_001)[1:-1]
  u_of_a = np.arctanh(np.clip((a - low[0]) / (high[0] - low[0]) * 2.0 - 1.0, -1, 1))
  shape = (a.size, 1)
  density = np.exp(np.asarray(one.log_prob(
      (jnp.broadcast_to(mean[:1], shape), jnp.broadcast_to(log_std[:1], shape)),
      jnp.asarray(u_of_a[:, None], jnp.float32))))
  np.testing.assert_allclose(np.trapezoid(density, a), 1.0, rtol=1e-3)
  to_env = distributions.squash_to(low, high)
  np.testing.assert_allclose(to_env(jnp.asarray(u, jnp.float32)), squash(u), rtol=1e-6)


def test_tanh_gaussian_entropy_and_samples():
  dist = distributions.tanh_gaussian(np.array([-2.0, 0.0]), np.array([2.0, 1.0]))
  params = (jnp.array([0.3, -1.0]), jnp.log(jnp.array([0.7, 1.5])))
  u = jax.vmap(dist.sample, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(0), 50_000),
                                                params)
  np.testing.assert_allclose(u.mean(0), params[0], atol=0.03)          # u is the Gaussian's
  # H = -E[log p_a(a)]
  monte_carlo = -float(jnp.mean(jax.vmap(dist.log_prob, in_axes=(None, 0))(params, u)))
  np.testing.assert_allclose(float(dist.entropy(params)), monte_carlo, atol=0.02)
  assert dist.continuous and dist.mode(params) is params[0]
  grad = jax.grad(lambda ls: dist.entropy((params[0], ls)))(params[1])
  assert np.all(np.isfinite(np.asarray(grad)))


def test_squash_choice_follows_the_option():
  spec = envs.action_spec(*envs.make("Pendulum-v1"))
  _, to_env = distributions.for_action_spec(spec, squash="tanh")
  np.testing.assert_allclose(to_env(jnp.array([[-50.0], [0.0], [50.0]]))[:, 0], [-2, 0, 2])
  with pytest.raises(ValueError, match=r"squash must be one of \('clip', 'tanh'\), got 'sig'"):
    distributions.for_action_spec(spec, squash="sig")
