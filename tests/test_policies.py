"""Policies: epsilon-greedy frequencies, schedules, categorical sample / log-prob / entropy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import policies
from jaxrl.policies import categorical_entropy
from jaxrl.policies import categorical_log_prob
from jaxrl.policies import categorical_sample
from jaxrl.policies import constant_epsilon
from jaxrl.policies import epsilon_greedy
from jaxrl.policies import exponential_epsilon
from jaxrl.policies import greedy
from jaxrl.policies import linear_epsilon

NUM_DRAWS = 20_000
Q = jnp.array([0.1, 2.0, -1.0, 0.5])   # greedy action 1, A = 4


def _draw(q_values, epsilon, num=NUM_DRAWS, seed=0):
  keys = jax.random.split(jax.random.key(seed), num)
  return np.asarray(jax.jit(jax.vmap(epsilon_greedy, in_axes=(0, None, None)))(keys, q_values,
                                                                               epsilon))


def test_public_names():
  assert set(policies.__all__) == {
      "categorical_entropy", "categorical_log_prob", "categorical_sample", "constant_epsilon",
      "epsilon_greedy", "exponential_epsilon", "greedy", "linear_epsilon", "epsilon_schedule",
      "EPSILON_SCHEDULES", "gaussian_exploration", "smoothed_target_action"}
  for name in policies.__all__:
    assert getattr(policies, name).__doc__


# ---------------------------------------------------------------------------------------------
# greedy / epsilon-greedy
# ---------------------------------------------------------------------------------------------
def test_greedy_ties_go_to_the_lowest_index_and_batches_work():
  assert int(greedy(jnp.array([1.0, 3.0, 3.0, 0.0]))) == 1
  actions = greedy(jnp.array([[[0.0, 1.0], [5.0, 5.0]], [[2.0, -1.0], [0.0, 0.1]]]))
  assert actions.dtype == jnp.int32 and actions.shape == (2, 2)
  np.testing.assert_array_equal(np.asarray(actions), [[1, 0], [0, 1]])


def test_epsilon_zero_is_greedy():
  actions = _draw(Q, 0.0, num=500)
  assert actions.dtype == np.int32
  np.testing.assert_array_equal(actions, 1)


def test_epsilon_one_is_uniform():
  actions = _draw(Q, 1.0)
  freq = np.bincount(actions, minlength=4) / NUM_DRAWS
  np.testing.assert_allclose(freq, 0.25, atol=0.015)   # std ~ 0.003


@pytest.mark.parametrize("epsilon", [0.1, 0.5])
def test_greedy_action_frequency(epsilon):
  actions = _draw(Q, epsilon, seed=1)
  freq = np.bincount(actions, minlength=4) / NUM_DRAWS
  num_actions = 4
  np.testing.assert_allclose(freq[1], 1 - epsilon + epsilon / num_actions, atol=0.015)
  for a in (0, 2, 3):
    np.testing.assert_allclose(freq[a], epsilon / num_actions, atol=0.015)


def test_epsilon_greedy_batched_draws_independently():
  q = jnp.tile(Q, (1000, 1))                              # [1000, 4], all greedy at 1
  # a per-entry epsilon broadcasts over the batch: 0 for the first half, 1 for the second
  eps = jnp.concatenate([jnp.zeros(500), jnp.ones(500)])
  actions = np.asarray(jax.jit(epsilon_greedy)(jax.random.key(3), q, eps))
  assert actions.shape == (1000,)
  np.testing.assert_array_equal(actions[:500], 1)
  assert len(np.unique(actions[500:])) == 4              # not one coin for the whole batch


def test_epsilon_greedy_traced_epsilon_from_a_schedule():
  schedule = linear_epsilon(1.0, 0.0, steps=10)

  @jax.jit
  def act(key, step):
    return epsilon_greedy(key, Q, schedule(step))

  assert int(act(jax.random.key(0), 10)) == 1             # epsilon reached 0
  assert int(act(jax.random.key(0), 50)) == 1


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), jnp.array([0.5, 2.0])])
def test_epsilon_greedy_validates_concrete_epsilon(bad):
  with pytest.raises(ValueError, match="epsilon must be in"):
    epsilon_greedy(jax.random.key(0), Q, bad)


def test_epsilon_greedy_needs_an_action_axis():
  with pytest.raises(ValueError, match="q_values must have shape"):
    epsilon_greedy(jax.random.key(0), jnp.float32(1.0), 0.1)


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------
def test_constant_epsilon():
  schedule = constant_epsilon(0.05)
  for step in (0, 10, 10**6):
    np.testing.assert_allclose(schedule(step), 0.05)


def test_linear_epsilon_values():
  schedule = linear_epsilon(1.0, 0.1, steps=100)
  for step, expected in [(0, 1.0), (50, 0.55), (100, 0.1), (1000, 0.1)]:
    np.testing.assert_allclose(schedule(step), expected, rtol=1e-6)
  delayed = linear_epsilon(1.0, 0.0, steps=10, begin=20)
  for step, expected in [(0, 1.0), (20, 1.0), (25, 0.5), (30, 0.0), (99, 0.0)]:
    np.testing.assert_allclose(delayed(step), expected, atol=1e-6)
  # works under jit with a traced step, and vmaps over steps
  np.testing.assert_allclose(jax.jit(jax.vmap(schedule))(jnp.array([0, 50, 100])),
                             [1.0, 0.55, 0.1], rtol=1e-6)


def test_linear_epsilon_sweeps_over_traced_endpoints():
  ends = jnp.array([0.0, 0.5])
  values = jax.vmap(lambda end: linear_epsilon(1.0, end, steps=10)(5))(ends)
  np.testing.assert_allclose(values, [0.5, 0.75])


def test_exponential_epsilon_values():
  # epsilon(t) = end + (start - end) exp(-(t - begin) / tau): the decaying part halves every
  # half-life, shrinks by decay_rate per step, or by e every time constant
  by_half_life = exponential_epsilon(1.0, 0.1, half_life=10)
  for step, expected in [(0, 1.0), (10, 0.55), (20, 0.325), (5, 0.1 + 0.9 * 0.5**0.5),
                         (1000, 0.1)]:
    np.testing.assert_allclose(by_half_life(step), expected, rtol=1e-5)
  by_rate = exponential_epsilon(0.8, 0.05, decay_rate=0.9, begin=5)
  for step, expected in [(0, 0.8), (5, 0.8), (6, 0.725), (7, 0.6575), (10_000, 0.05)]:
    np.testing.assert_allclose(by_rate(step), expected, rtol=1e-5)
  by_tau = exponential_epsilon(1.0, 0.0, time_constant=10.0)
  np.testing.assert_allclose(by_tau(10), np.exp(-1.0), rtol=1e-6)


def test_epsilon_schedule_by_name_is_what_dqn_uses():
  # the names of DQNConfig.epsilon_schedule; "exponential" takes the steps as time constant
  np.testing.assert_allclose(policies.epsilon_schedule("linear", 1.0, 0.1, 100)(50), 0.55)
  np.testing.assert_allclose(policies.epsilon_schedule("exponential", 1.0, 0.0, 10.0)(10),
                             np.exp(-1.0), rtol=1e-6)
  np.testing.assert_allclose(policies.epsilon_schedule("constant", 0.3, 0.0, 1.0)(99), 0.3)
  # every number may be traced: a vmapped sweep over the decay length
  steps = jnp.array([10.0, 20.0])
  values = jax.vmap(lambda n: policies.epsilon_schedule("linear", 1.0, 0.0, n)(5))(steps)
  np.testing.assert_allclose(values, [0.5, 0.75])
  with pytest.raises(ValueError, match="epsilon schedule must be one of"):
    policies.epsilon_schedule("cosine", 1.0, 0.0, 10)


@pytest.mark.parametrize("make,match", [
    (lambda: constant_epsilon(1.1), "value must be in"),
    (lambda: constant_epsilon(-0.5), "value must be in"),
    (lambda: linear_epsilon(1.5, 0.1, 10), "start must be in"),
    (lambda: linear_epsilon(1.0, -0.1, 10), "end must be in"),
    (lambda: linear_epsilon(1.0, 0.1, 0), r"steps must lie in \(0, inf\)"),
    (lambda: linear_epsilon(1.0, 0.1, "10"), "steps must be a number"),
    (lambda: linear_epsilon(1.0, 0.1, 10, begin=-1), r"begin must lie in \[0, inf\)"),
    (lambda: exponential_epsilon(1.0, 0.1), "exactly one of time_constant, half_life or decay"),
    (lambda: exponential_epsilon(1.0, 0.1, decay_rate=0.9, half_life=3), "exactly one"),
    (lambda: exponential_epsilon(1.0, 0.1, decay_rate=1.0), r"decay_rate must lie in \(0, 1\)"),
    (lambda: exponential_epsilon(1.0, 0.1, decay_rate=0.0), "decay_rate must lie in"),
    (lambda: exponential_epsilon(1.0, 0.1, half_life=0), r"half_life must lie in \(0, inf\)"),
    (lambda: exponential_epsilon(1.0, 0.1, half_life=-2.0), "half_life must lie in"),
    (lambda: exponential_epsilon(1.0, 0.1, time_constant=np.float32(0)), "time_constant must"),
    (lambda: exponential_epsilon(2.0, 0.1, half_life=5), "start must be in"),
    (lambda: exponential_epsilon(1.0, 0.1, half_life=5, begin=-3), "begin must lie in"),
])
def test_schedules_validate(make, match):
  with pytest.raises(ValueError, match=match):
    make()


# ---------------------------------------------------------------------------------------------
# Categorical policies
# ---------------------------------------------------------------------------------------------
def test_categorical_log_prob_hand_values():
  logits = jnp.array([0.0, jnp.log(3.0)])          # probabilities 1/4, 3/4
  np.testing.assert_allclose(categorical_log_prob(logits, jnp.int32(0)), np.log(0.25), rtol=1e-6)
  np.testing.assert_allclose(categorical_log_prob(logits, jnp.int32(1)), np.log(0.75), rtol=1e-6)
  batch = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
  lp = categorical_log_prob(batch, jnp.array([2, 0]))
  expected = [np.log(1 / 3), 1.0 - np.log(np.exp(1) + np.exp(2) + np.exp(3))]
  np.testing.assert_allclose(lp, expected, rtol=1e-6)


def test_categorical_entropy_hand_values():
  np.testing.assert_allclose(categorical_entropy(jnp.zeros(4)), np.log(4), rtol=1e-6)
  logits = jnp.array([0.0, jnp.log(3.0)])
  expected = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
  np.testing.assert_allclose(categorical_entropy(logits), expected, rtol=1e-6)
  batch = categorical_entropy(jnp.zeros((2, 3, 5)))
  assert batch.shape == (2, 3)
  np.testing.assert_allclose(batch, np.log(5), rtol=1e-6)


def test_categorical_is_stable_for_large_and_masked_logits():
  big = jnp.array([1000.0, 0.0, -1000.0])
  np.testing.assert_allclose(categorical_log_prob(big, jnp.int32(0)), 0.0, atol=1e-6)
  np.testing.assert_allclose(categorical_log_prob(big, jnp.int32(1)), -1000.0, rtol=1e-6)
  np.testing.assert_allclose(categorical_entropy(big), 0.0, atol=1e-6)
  shifted = jnp.array([1e4 + 1.0, 1e4])
  np.testing.assert_allclose(categorical_entropy(shifted), categorical_entropy(jnp.array([1.0, 0.0])),
                             rtol=1e-5)
  masked = jnp.array([0.0, -jnp.inf, 0.0])
  np.testing.assert_allclose(categorical_entropy(masked), np.log(2), rtol=1e-6)
  grad = jax.grad(categorical_entropy)(masked)
  assert np.all(np.isfinite(grad))
  grad = jax.grad(lambda l: categorical_log_prob(l, jnp.int32(0)))(big)
  assert np.all(np.isfinite(grad))


def test_categorical_sample_frequencies():
  probs = np.array([0.1, 0.6, 0.3])
  logits = jnp.log(jnp.asarray(probs))
  keys = jax.random.split(jax.random.key(0), NUM_DRAWS)
  actions = np.asarray(jax.jit(jax.vmap(categorical_sample, in_axes=(0, None)))(keys, logits))
  assert actions.dtype == np.int32
  np.testing.assert_allclose(np.bincount(actions, minlength=3) / NUM_DRAWS, probs, atol=0.015)
  # batched logits: one independent draw per row; a masked action is never drawn
  masked = jnp.tile(jnp.array([0.0, -jnp.inf, 0.0]), (2000, 1))
  actions = np.asarray(categorical_sample(jax.random.key(1), masked))
  assert actions.shape == (2000,)
  assert set(np.unique(actions)) == {0, 2}


def test_categorical_log_prob_shape_checks():
  with pytest.raises(AssertionError):
    categorical_log_prob(jnp.zeros((2, 3)), jnp.zeros((3,), jnp.int32))
  with pytest.raises(AssertionError):
    categorical_log_prob(jnp.zeros((3,)), jnp.zeros((), jnp.float32))
  with pytest.raises(ValueError, match="logits must have shape"):
    categorical_entropy(jnp.float32(0.0))
