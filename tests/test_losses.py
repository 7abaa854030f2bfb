"""TD targets and losses on tiny hand-computed inputs, under chex variants (with and without jit)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized

from jaxrl import losses
from jaxrl.losses import action_value_loss
from jaxrl.losses import double_q_learning_loss
from jaxrl.losses import double_q_learning_target
from jaxrl.losses import entropy_loss
from jaxrl.losses import expected_sarsa_target
from jaxrl.losses import policy_gradient_loss
from jaxrl.losses import q_actor_critic_weights
from jaxrl.losses import q_learning_loss
from jaxrl.losses import q_learning_target
from jaxrl.losses import sarsa_target
from jaxrl.losses import state_value_from_q
from jaxrl.losses import td_error
from jaxrl.losses import value_loss

GAMMA = 0.9

# A batch of three transitions, A = 3:
#   0: ordinary step           r=1,  discount=gamma
#   1: true termination        r=2,  discount=0       (no bootstrap)
#   2: truncation (time limit) r=-1, discount=gamma, q_t computed at info["final_observation"]
Q_TM1 = jnp.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [4.0, 0.0, 1.0]])
A_TM1 = jnp.array([2, 0, 1], jnp.int32)
R_T = jnp.array([1.0, 2.0, -1.0])
DISCOUNT_T = jnp.array([GAMMA, 0.0, GAMMA])
Q_T = jnp.array([[0.0, 5.0, 1.0], [100.0, 100.0, 100.0], [2.0, 3.0, 10.0]])  # target network
Q_T_SELECTOR = jnp.array([[9.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 7.0, 1.0]])  # online at s_t

# Hand-computed.
Q_TARGETS = np.array([1.0 + 0.9 * 5.0, 2.0, -1.0 + 0.9 * 10.0])          # [5.5, 2.0, 8.0]
Q_TD = Q_TARGETS - np.array([3.0, 0.5, 0.0])                              # [2.5, 1.5, 8.0]
DOUBLE_TARGETS = np.array([1.0 + 0.9 * 0.0, 2.0, -1.0 + 0.9 * 3.0])      # [1.0, 2.0, 1.7]
DOUBLE_TD = DOUBLE_TARGETS - np.array([3.0, 0.5, 0.0])                    # [-2.0, 1.5, 1.7]


def test_public_names():
  assert set(losses.__all__) == {
      "double_q_learning_loss", "double_q_learning_target", "entropy_loss",
      "policy_gradient_loss", "q_learning_loss", "q_learning_target", "td_error", "value_loss",
      "sarsa_target", "expected_sarsa_target", "state_value_from_q", "q_actor_critic_weights",
      "action_value_loss", "ActorCriticLoss", "actor_critic_loss", "masked_value_loss",
      "normalize", "clipped_surrogate_pg_loss", "clipped_value_loss", "clipped_double_q_target",
      "soft_clipped_double_q_target", "ensemble_q_loss", "sac_policy_loss", "temperature_loss",
      "categorical_l2_project", "categorical_q_learning", "categorical_double_q_learning",
      "quantile_regression_loss", "quantile_q_learning", "quantile_midpoints"}
  for name in losses.__all__:
    assert getattr(losses, name).__doc__


class QLearningTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_q_learning_target_termination_and_truncation(self):
    target = self.variant(jax.vmap(q_learning_target))(R_T, DISCOUNT_T, Q_T)
    np.testing.assert_allclose(target, Q_TARGETS, rtol=1e-6)
    # the terminated transition ignores q_t entirely, the truncated one bootstraps from it
    self.assertAlmostEqual(float(target[1]), 2.0)
    self.assertAlmostEqual(float(target[2]), 8.0, places=5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_double_q_target_uses_the_selectors_argmax(self):
    target = self.variant(jax.vmap(double_q_learning_target))(R_T, DISCOUNT_T, Q_T, Q_T_SELECTOR)
    np.testing.assert_allclose(target, DOUBLE_TARGETS, rtol=1e-6)
    # selecting with the target network itself gives back Q-learning
    same = self.variant(jax.vmap(double_q_learning_target))(R_T, DISCOUNT_T, Q_T, Q_T)
    np.testing.assert_allclose(same, Q_TARGETS, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_td_error(self):
    target = jnp.asarray(Q_TARGETS, jnp.float32)
    td = self.variant(jax.vmap(td_error))(Q_TM1, A_TM1, target)
    np.testing.assert_allclose(td, Q_TD, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_q_learning_loss_mse(self):
    loss = self.variant(jax.vmap(q_learning_loss))(Q_TM1, A_TM1, R_T, DISCOUNT_T, Q_T)
    np.testing.assert_allclose(loss, 0.5 * Q_TD**2, rtol=1e-6)     # [3.125, 1.125, 32.0]

  @chex.variants(with_jit=True, without_jit=True)
  def test_q_learning_loss_huber(self):
    fn = jax.vmap(lambda *args: q_learning_loss(*args, huber_delta=2.0))
    loss = self.variant(fn)(Q_TM1, A_TM1, R_T, DISCOUNT_T, Q_T)
    # |td| = 2.5 > 2 -> 2 * (2.5 - 1) = 3; |td| = 1.5 <= 2 -> 0.5 * 1.5^2; |td| = 8 -> 2 * (8 - 1)
    np.testing.assert_allclose(loss, [3.0, 1.125, 14.0], rtol=1e-6)
    np.testing.assert_allclose(loss, optax.huber_loss(jnp.asarray(Q_TD), delta=2.0), rtol=1e-6)
    # with a large delta Huber is the squared loss
    wide = self.variant(jax.vmap(lambda *a: q_learning_loss(*a, huber_delta=100.0)))(
        Q_TM1, A_TM1, R_T, DISCOUNT_T, Q_T)
    np.testing.assert_allclose(wide, 0.5 * Q_TD**2, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_double_q_learning_loss(self):
    loss = self.variant(jax.vmap(double_q_learning_loss))(
        Q_TM1, A_TM1, R_T, DISCOUNT_T, Q_T, Q_T_SELECTOR)
    np.testing.assert_allclose(loss, 0.5 * DOUBLE_TD**2, rtol=1e-5)
    huber = self.variant(jax.vmap(lambda *a: double_q_learning_loss(*a, huber_delta=1.0)))(
        Q_TM1, A_TM1, R_T, DISCOUNT_T, Q_T, Q_T_SELECTOR)
    np.testing.assert_allclose(huber, np.abs(DOUBLE_TD) - 0.5, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_gradients_flow_only_through_q_tm1(self):
    def mean_loss(q_tm1, q_t, q_t_selector):
      return jnp.mean(jax.vmap(double_q_learning_loss)(q_tm1, A_TM1, R_T, DISCOUNT_T, q_t,
                                                       q_t_selector))

    g_tm1, g_t, g_sel = self.variant(jax.grad(mean_loss, argnums=(0, 1, 2)))(
        Q_TM1, Q_T, Q_T_SELECTOR)
    np.testing.assert_array_equal(g_t, 0.0)
    np.testing.assert_array_equal(g_sel, 0.0)
    # d/dq_tm1[a] of mean 0.5 delta^2 = -delta / B at the taken action, zero elsewhere
    expected = np.zeros((3, 3), np.float32)
    expected[np.arange(3), np.asarray(A_TM1)] = -DOUBLE_TD / 3
    np.testing.assert_allclose(g_tm1, expected, rtol=1e-5)

    def q_mean_loss(q_tm1, q_t):
      return jnp.mean(jax.vmap(q_learning_loss)(q_tm1, A_TM1, R_T, DISCOUNT_T, q_t))

    g_tm1, g_t = self.variant(jax.grad(q_mean_loss, argnums=(0, 1)))(Q_TM1, Q_T)
    np.testing.assert_array_equal(g_t, 0.0)
    expected = np.zeros((3, 3), np.float32)
    expected[np.arange(3), np.asarray(A_TM1)] = -Q_TD / 3
    np.testing.assert_allclose(g_tm1, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_td_error_can_keep_target_gradients(self):
    def residual(q):
      target = q_learning_target(jnp.float32(0.0), jnp.float32(1.0), q)
      return td_error(q, jnp.int32(0), target, stop_target_gradient=False)

    grad = self.variant(jax.grad(residual))(jnp.array([1.0, 3.0]))
    np.testing.assert_allclose(grad, [-1.0, 1.0])    # d/dq (max q - q[0])

  def test_rank_and_type_checks(self):
    with self.assertRaises(AssertionError):          # a batch passed without vmap
      q_learning_loss(Q_TM1, A_TM1, R_T, DISCOUNT_T, Q_T)
    with self.assertRaises(AssertionError):          # float action
      q_learning_loss(Q_TM1[0], jnp.float32(2.0), R_T[0], DISCOUNT_T[0], Q_T[0])
    with self.assertRaises(AssertionError):          # integer rewards
      q_learning_target(jnp.int32(1), DISCOUNT_T[0], Q_T[0])
    with self.assertRaises(AssertionError):          # mismatched action sets
      double_q_learning_target(R_T[0], DISCOUNT_T[0], Q_T[0], jnp.zeros(4))

  @parameterized.parameters(0.0, -1.0)
  def test_huber_delta_validated(self, delta):
    with self.assertRaisesRegex(ValueError, r"huber_delta must lie in \(0"):
      q_learning_loss(Q_TM1[0], A_TM1[0], R_T[0], DISCOUNT_T[0], Q_T[0], huber_delta=delta)
    with self.assertRaisesRegex(ValueError, r"huber_delta must lie in \(0"):
      double_q_learning_loss(Q_TM1[0], A_TM1[0], R_T[0], DISCOUNT_T[0], Q_T[0], Q_T[0],
                             huber_delta=delta)


# Policy-gradient losses: one trajectory of T = 2 steps, A = 2.
LOGITS = jnp.array([[0.0, jnp.log(3.0)], [0.0, 0.0]])     # pi = [1/4, 3/4], [1/2, 1/2]
ACTIONS = jnp.array([1, 0], jnp.int32)
WEIGHTS = jnp.array([2.0, -1.0])


class PolicyGradientTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_policy_gradient_loss_value(self):
    loss = self.variant(policy_gradient_loss)(LOGITS, ACTIONS, WEIGHTS)
    expected = -(np.log(0.75) * 2.0 + np.log(0.5) * -1.0) / 2
    np.testing.assert_allclose(loss, expected, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_policy_gradient_loss_gradients(self):
    g_logits, g_weights = self.variant(jax.grad(policy_gradient_loss, argnums=(0, 2)))(
        LOGITS, ACTIONS, WEIGHTS)
    np.testing.assert_array_equal(g_weights, 0.0)               # weights are stopped
    # d log pi(a) / d logits = onehot(a) - pi; loss = -mean(w * log pi)
    pi = np.array([[0.25, 0.75], [0.5, 0.5]])
    onehot = np.eye(2)[np.asarray(ACTIONS)]
    expected = -(np.asarray(WEIGHTS)[:, None] * (onehot - pi)) / 2
    np.testing.assert_allclose(g_logits, expected, rtol=1e-5, atol=1e-7)

  @chex.variants(with_jit=True, without_jit=True)
  def test_entropy_loss(self):
    loss = self.variant(entropy_loss)(LOGITS)
    h0 = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    np.testing.assert_allclose(loss, -(h0 + np.log(2)) / 2, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_value_loss(self):
    v = jnp.array([1.0, 2.0, 0.0])
    target = jnp.array([3.0, 2.0, -1.0])
    loss = self.variant(value_loss)(v, target)
    np.testing.assert_allclose(loss, 0.5 * (4.0 + 0.0 + 1.0) / 3, rtol=1e-6)
    g_v, g_target = self.variant(jax.grad(value_loss, argnums=(0, 1)))(v, target)
    np.testing.assert_allclose(g_v, (np.asarray(v) - np.asarray(target)) / 3, rtol=1e-6)
    np.testing.assert_array_equal(g_target, 0.0)

  def test_shape_checks(self):
    with self.assertRaises(AssertionError):
      policy_gradient_loss(LOGITS[0], ACTIONS, WEIGHTS)
    with self.assertRaises(AssertionError):
      policy_gradient_loss(LOGITS, ACTIONS, jnp.ones(3))
    with self.assertRaises(AssertionError):
      value_loss(jnp.ones(3), jnp.ones(2))
    with self.assertRaises(AssertionError):
      entropy_loss(jnp.zeros(3))


# Action-value critic: the transitions above, with the next actions A_T and the policy PI_T at s_t.
A_T = jnp.array([0, 2, 2], jnp.int32)
PI_T = jnp.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
SARSA_TARGETS = np.array([1.0 + 0.9 * 0.0, 2.0, -1.0 + 0.9 * 10.0])               # [1, 2, 8]
EXPECTED_SARSA_TARGETS = np.array([1.0 + 0.9 * 2.5, 2.0, -1.0 + 0.9 * 8.5])       # [3.25, 2, 6.65]


class ActionValueCriticTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_sarsa_target_uses_the_next_action(self):
    target = self.variant(jax.vmap(sarsa_target))(R_T, DISCOUNT_T, Q_T, A_T)
    np.testing.assert_allclose(target, SARSA_TARGETS, rtol=1e-6)
    self.assertAlmostEqual(float(target[1]), 2.0)          # termination: no bootstrap

  @chex.variants(with_jit=True, without_jit=True)
  def test_expected_sarsa_target_averages_over_the_policy(self):
    target = self.variant(jax.vmap(expected_sarsa_target))(R_T, DISCOUNT_T, Q_T, PI_T)
    np.testing.assert_allclose(target, EXPECTED_SARSA_TARGETS, rtol=1e-6)
    # a greedy policy gives the Q-learning target; a one-hot on the next action gives SARSA
    greedy = jax.nn.one_hot(jnp.argmax(Q_T, -1), 3)
    np.testing.assert_allclose(
        self.variant(jax.vmap(expected_sarsa_target))(R_T, DISCOUNT_T, Q_T, greedy), Q_TARGETS,
        rtol=1e-6)
    np.testing.assert_allclose(
        self.variant(jax.vmap(expected_sarsa_target))(R_T, DISCOUNT_T, Q_T,
                                                      jax.nn.one_hot(A_T, 3)),
        SARSA_TARGETS, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_state_value_from_q(self):
    v = self.variant(state_value_from_q)(jnp.log(PI_T + 1e-30), Q_T)
    np.testing.assert_allclose(v, [2.5, 100.0, 8.5], rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_q_actor_critic_weights(self):
    # pi = [1/4, 3/4], [1/2, 1/2]; Q(s0) = [1, 3], Q(s1) = [2, 0]; V = [2.5, 1]
    q = jnp.array([[1.0, 3.0], [2.0, 0.0]])
    w = self.variant(q_actor_critic_weights)(LOGITS, q, ACTIONS)
    np.testing.assert_allclose(w, [3.0 - 2.5, 2.0 - 1.0], rtol=1e-6)
    plain = self.variant(lambda *a: q_actor_critic_weights(*a, baseline=False))(LOGITS, q, ACTIONS)
    np.testing.assert_allclose(plain, [3.0, 2.0], rtol=1e-6)
    # the baseline has zero mean under the policy: sum_a pi(a) (Q(s, a) - V(s)) = 0
    pi = np.array([[0.25, 0.75], [0.5, 0.5]])
    all_w = np.stack([np.asarray(q_actor_critic_weights(LOGITS, q, jnp.full(2, a, jnp.int32)))
                      for a in range(2)], -1)
    np.testing.assert_allclose(np.sum(pi * all_w, -1), 0.0, atol=1e-6)
    total = lambda l, q: jnp.sum(q_actor_critic_weights(l, q, ACTIONS))  # noqa: E731
    g_logits, g_q = self.variant(jax.grad(total, argnums=(0, 1)))(LOGITS, q)
    np.testing.assert_array_equal(g_logits, 0.0)               # weights are stopped
    np.testing.assert_array_equal(g_q, 0.0)

  @chex.variants(with_jit=True, without_jit=True)
  def test_action_value_loss_regresses_the_taken_action_only(self):
    target = jnp.asarray(SARSA_TARGETS, jnp.float32)
    loss = self.variant(action_value_loss)(Q_TM1, A_TM1, target)
    td = SARSA_TARGETS - np.array([3.0, 0.5, 0.0])                                 # [-2, 1.5, 8]
    np.testing.assert_allclose(loss, np.mean(0.5 * td**2), rtol=1e-6)
    g_q, g_target = self.variant(jax.grad(action_value_loss, argnums=(0, 2)))(Q_TM1, A_TM1, target)
    expected = np.zeros((3, 3), np.float32)
    expected[np.arange(3), np.asarray(A_TM1)] = -td / 3
    np.testing.assert_allclose(g_q, expected, rtol=1e-6)
    np.testing.assert_array_equal(g_target, 0.0)

  def test_shape_checks(self):
    with self.assertRaises(AssertionError):          # a batch passed without vmap
      sarsa_target(R_T, DISCOUNT_T, Q_T, A_T)
    with self.assertRaises(AssertionError):          # a float action
      sarsa_target(R_T[0], DISCOUNT_T[0], Q_T[0], jnp.float32(1.0))
    with self.assertRaises(AssertionError):          # probabilities over the wrong action set
      expected_sarsa_target(R_T[0], DISCOUNT_T[0], Q_T[0], jnp.ones(2) / 2)
    with self.assertRaises(AssertionError):
      q_actor_critic_weights(LOGITS, Q_T, ACTIONS)
    with self.assertRaises(AssertionError):
      action_value_loss(Q_TM1, A_TM1, jnp.ones(2))


def test_batched_loss_in_a_dqn_update_is_finite_and_decreases():
  """One SGD step on mean(vmap(q_learning_loss)) moves q_tm1 toward the fixed targets."""
  def mean_loss(q_tm1):
    return jnp.mean(jax.vmap(q_learning_loss)(q_tm1, A_TM1, R_T, DISCOUNT_T, Q_T))

  before = mean_loss(Q_TM1)
  after = mean_loss(Q_TM1 - 0.5 * jax.grad(mean_loss)(Q_TM1))
  assert np.isfinite(float(after)) and float(after) < float(before)


if __name__ == "__main__":
  pytest.main([__file__])


# ---------------------------------------------------------------------------------------------
# The actor-critic objective's parts (what A2C and REINFORCE compose)
# ---------------------------------------------------------------------------------------------
def test_actor_critic_loss_by_hand():
  out = losses.actor_critic_loss(jnp.float32(1.0), jnp.float32(2.0), jnp.float32(0.5),
                                 value_coef=0.5, entropy_coef=0.1)
  assert isinstance(out, losses.ActorCriticLoss)
  np.testing.assert_allclose([out.loss, out.policy_loss, out.value_loss, out.entropy],
                             [1.0 + 0.5 * 2.0 - 0.1 * 0.5, 1.0, 2.0, 0.5], rtol=1e-6)
  no_critic = losses.actor_critic_loss(jnp.float32(1.0), None, jnp.float32(0.5), entropy_coef=1.0)
  np.testing.assert_allclose([no_critic.loss, no_critic.value_loss], [0.5, 0.0])


def test_masked_value_loss_is_the_mean_over_counted_steps():
  v = jnp.array([[1.0, 5.0], [2.0, 7.0]])
  target = jnp.array([[0.0, 0.0], [0.0, 9.0]])
  mask = jnp.array([[True, False], [True, True]])
  # counted errors 1, 2, -2: 0.5 * (1 + 4 + 4) / 3
  np.testing.assert_allclose(losses.masked_value_loss(v, target, mask), 1.5, rtol=1e-6)
  grad = jax.grad(lambda x: losses.masked_value_loss(x, target, mask))(v)
  np.testing.assert_allclose(grad, [[1 / 3, 0.0], [2 / 3, -2 / 3]], rtol=1e-6)
  np.testing.assert_allclose(losses.masked_value_loss(v, target, jnp.zeros((2, 2), bool)), 0.0)


def test_normalize_over_all_entries_or_the_masked_ones():
  x = jnp.array([1.0, 2.0, 3.0, 100.0])
  z = losses.normalize(x)
  np.testing.assert_allclose([jnp.mean(z), jnp.std(z)], [0.0, 1.0], atol=1e-5)
  mask = jnp.array([True, True, True, False])
  zm = losses.normalize(x, mask)     # mean 2, std sqrt(2/3) of the first three
  np.testing.assert_allclose(zm[:3], (x[:3] - 2.0) / (np.sqrt(2 / 3) + 1e-8), rtol=1e-5)



# ---------------------------------------------------------------------------------------------
# PPO's clipped objectives
# ---------------------------------------------------------------------------------------------
def test_clipped_surrogate_by_hand():
  rho = jnp.array([0.5, 1.5, 1.0, 0.7])
  adv = jnp.array([1.0, 1.0, -2.0, -1.0])
  # min(rho A, clip(rho) A): 0.5 (unclipped, below 1 - eps helps nothing), 1.2 (capped),
  # -2.0, -0.8 (for A < 0 the clip at 1 - eps = 0.8 binds: min(-0.7, -0.8))
  expected = -(0.5 + 1.2 - 2.0 - 0.8) / 4
  np.testing.assert_allclose(losses.clipped_surrogate_pg_loss(rho, adv, 0.2), expected,
                             rtol=1e-6)
  # the gradient flows through the ratios where unclipped, not through the advantages
  g_rho, g_adv = jax.grad(losses.clipped_surrogate_pg_loss, argnums=(0, 1))(rho, adv, 0.2)
  np.testing.assert_allclose(g_rho, [-0.25, 0.0, 0.5, 0.0], atol=1e-7)
  np.testing.assert_array_equal(g_adv, 0.0)


def test_clipped_value_loss_by_hand():
  v = jnp.array([3.0, 0.0])
  v_old = jnp.array([1.0, 0.5])
  target = jnp.array([4.0, 0.0])
  # step 0: unclipped error 1, clipped v_old + 0.2 = 1.2 -> error 2.8: max 2.8^2
  # step 1: unclipped error 0, clipped 0.5 - 0.2 = 0.3 -> 0.3^2
  np.testing.assert_allclose(losses.clipped_value_loss(v, v_old, target, 0.2),
                             0.5 * (2.8 ** 2 + 0.3 ** 2) / 2, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Distributional losses (C51, QR-DQN): against rlax 0.1.9, hand values, vmap, eager refusals
# ---------------------------------------------------------------------------------------------
# rlax's categorical losses call its categorical_cross_entropy, which warns it will be deprecated.
_RLAX_WARNING = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
ATOMS = jnp.linspace(-2.0, 2.0, 5)                                      # K = 5, gap 1


def _categorical_batch(seed, batch=4, num_actions=3):
  """Random C51 transitions; the last terminates; |r_t| up to 3 reaches beyond the support."""
  k = jax.random.split(jax.random.PRNGKey(seed), 5)
  num_atoms = ATOMS.shape[0]
  return dict(
      q_atoms_tm1=jnp.tile(ATOMS, (batch, 1)),
      q_logits_tm1=jax.random.normal(k[0], (batch, num_actions, num_atoms)),
      a_tm1=jax.random.randint(k[1], (batch,), 0, num_actions),
      r_t=jax.random.uniform(k[2], (batch,), minval=-3.0, maxval=3.0),
      discount_t=jnp.array([0.9] * (batch - 1) + [0.0]),
      q_atoms_t=jnp.tile(ATOMS, (batch, 1)),
      q_logits_t=jax.random.normal(k[3], (batch, num_actions, num_atoms)),
      q_t_selector=jax.random.normal(k[4], (batch, num_actions)))


def _quantile_batch(seed, batch=4, n=4, m=6, num_actions=3):
  """Random QR-DQN transitions (M target quantiles, N' = N + 1 selector quantiles)."""
  k = jax.random.split(jax.random.PRNGKey(seed), 5)
  return dict(
      dist_q_tm1=jax.random.normal(k[0], (batch, n, num_actions)),
      tau_q_tm1=jnp.tile(losses.quantile_midpoints(n), (batch, 1)),
      a_tm1=jax.random.randint(k[1], (batch,), 0, num_actions),
      r_t=jax.random.normal(k[2], (batch,)),
      discount_t=jnp.array([0.9] * (batch - 1) + [0.0]),
      dist_q_t_selector=jax.random.normal(k[3], (batch, n + 1, num_actions)),
      dist_q_t=jax.random.normal(k[4], (batch, m, num_actions)))


def _mean_loss_and_grads(fn, args, argnums):
  """jit(value_and_grad) of the batch mean of vmap(fn), over the arguments ``argnums``."""
  mean = lambda *a: jnp.mean(jax.vmap(fn)(*a))  # noqa: E731
  return jax.jit(jax.value_and_grad(mean, argnums=argnums))(*args)


def _assert_trees_close(ours, theirs, rtol=1e-5, atol=1e-6):
  for x, y in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
    np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def test_categorical_l2_project_matches_rlax():
  rlax = pytest.importorskip("rlax")
  k = jax.random.split(jax.random.PRNGKey(0), 3)
  z_p = jax.random.uniform(k[0], (6,), minval=-3.0, maxval=3.0)        # unsorted, some outside
  probs = jax.nn.softmax(jax.random.normal(k[1], (6,)))
  weights = jax.random.normal(k[2], (5,))
  supports = (ATOMS, jnp.array([-1.5, -1.0, 0.0, 0.5, 2.5]))             # equal and unequal gaps

  @jax.jit
  def both(z_p, probs):
    """Per implementation and support: the projection and the gradients of a weighted sum."""
    out = []
    for project in (losses.categorical_l2_project, rlax.categorical_l2_project):
      for z_q in supports:
        weighted = lambda z_p, probs: jnp.sum(weights * project(z_p, probs, z_q))  # noqa: E731
        out.append((project(z_p, probs, z_q), jax.grad(weighted, argnums=(0, 1))(z_p, probs)))
    return out

  out = both(z_p, probs)
  ours, theirs = out[:2], out[2:]
  _assert_trees_close(ours, theirs, atol=1e-7)
  for projected, _ in ours:
    np.testing.assert_allclose(jnp.sum(projected), 1.0, rtol=1e-5)        # mass is kept


def test_categorical_l2_project_by_hand():
  z = jnp.array([0.0, 1.0, 2.0])
  project = losses.categorical_l2_project
  one = jnp.array([1.0])
  # a point mass between two atoms splits by distance: 0.25 is 3/4 of the way to atom 0
  np.testing.assert_allclose(project(jnp.array([0.25]), one, z), [0.75, 0.25, 0.0], rtol=1e-6)
  # beyond v_max it lands on the last atom, below v_min on the first; on an atom it stays there
  np.testing.assert_allclose(project(jnp.array([7.0]), one, z), [0.0, 0.0, 1.0])
  np.testing.assert_allclose(project(jnp.array([-7.0]), one, z), [1.0, 0.0, 0.0])
  np.testing.assert_allclose(project(jnp.array([1.0]), one, z), [0.0, 1.0, 0.0])
  # unequal gaps: 2.0 is halfway between the atoms 1 and 3
  np.testing.assert_allclose(project(jnp.array([2.0]), one, jnp.array([0.0, 1.0, 3.0])),
                             [0.0, 0.5, 0.5], rtol=1e-6)
  # a distribution already on the support comes back unchanged; masses add up
  p = jnp.array([0.2, 0.3, 0.5])
  np.testing.assert_allclose(project(z, p, z), p, rtol=1e-6)
  np.testing.assert_allclose(project(jnp.array([0.5, 1.5]), jnp.array([0.4, 0.6]), z),
                             [0.2, 0.5, 0.3], rtol=1e-6)


@_RLAX_WARNING
@pytest.mark.parametrize("double", [False, True])
def test_categorical_q_learning_matches_rlax(double):
  rlax = pytest.importorskip("rlax")
  b = _categorical_batch(seed=1 + double)
  names = ["q_atoms_tm1", "q_logits_tm1", "a_tm1", "r_t", "discount_t", "q_atoms_t",
           "q_logits_t"] + (["q_t_selector"] if double else [])
  args = [b[n] for n in names]
  name = "categorical_double_q_learning" if double else "categorical_q_learning"
  grad_args = (0, 1, 5, 6) + ((7,) if double else ())       # every float array argument
  (ours, ours_g) = _mean_loss_and_grads(getattr(losses, name), args, grad_args)
  (theirs, theirs_g) = _mean_loss_and_grads(getattr(rlax, name), args, grad_args)
  np.testing.assert_allclose(ours, theirs, rtol=1e-5)
  _assert_trees_close(ours_g, theirs_g)
  # the gradient flows through q_logits_tm1 only: the target (and the support it is projected
  # onto) is stopped
  assert float(jnp.max(jnp.abs(ours_g[1]))) > 0
  for g in ours_g[:1] + ours_g[2:]:
    np.testing.assert_array_equal(g, 0.0)


def test_categorical_q_learning_by_hand():
  z = jnp.array([0.0, 1.0, 2.0])
  logits_tm1 = jnp.array([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
  # action 1 has all its mass on the atom 2 (mean 2 > action 0's mean 0): it is the greedy one
  logits_t = jnp.log(jnp.array([[1.0, 1e-30, 1e-30], [1e-30, 1e-30, 1.0]]))
  a_tm1 = jnp.int32(1)
  fn = jax.jit(jax.value_and_grad(losses.categorical_q_learning, argnums=1))
  # discount 0 (termination): the target is the reward's projection, 1.5 -> [0, 0.5, 0.5];
  # the logits of a_tm1 are uniform, so the cross-entropy is log 3
  loss, grad = fn(z, logits_tm1, a_tm1, jnp.float32(1.5), jnp.float32(0.0), z, logits_t)
  np.testing.assert_allclose(loss, np.log(3.0), rtol=1e-6)
  # d/dlogits of the cross-entropy = softmax - target, on the taken action's row only
  np.testing.assert_allclose(grad, [[0.0, 0.0, 0.0], [1 / 3, 1 / 3 - 0.5, 1 / 3 - 0.5]],
                             rtol=1e-5, atol=1e-7)
  # r = -1, discount 0.5: the greedy action's atom 2 moves to -1 + 0.5 * 2 = 0, atom 0
  loss, _ = fn(z, logits_tm1, a_tm1, jnp.float32(-1.0), jnp.float32(0.5), z, logits_t)
  np.testing.assert_allclose(loss, np.log(3.0), rtol=1e-6)       # -log softmax(0)[0] = log 3
  # the double variant takes the selector's action (action 0: mass at atom 0 -> -1 + 0 = -1,
  # clipped to atom 0) and the target network's distribution for it
  double = losses.categorical_double_q_learning(
      z, logits_tm1, jnp.int32(0), jnp.float32(-1.0), jnp.float32(0.5), z, logits_t,
      jnp.array([1.0, 0.0]))
  np.testing.assert_allclose(double, -jax.nn.log_softmax(logits_tm1[0])[0], rtol=1e-6)
  # with r = 0, discount 1 and one support, the target is the greedy action's distribution
  probs = jnp.array([0.1, 0.2, 0.7])
  loss = losses.categorical_q_learning(z, logits_tm1, jnp.int32(0), jnp.float32(0.0),
                                       jnp.float32(1.0), z, jnp.stack([jnp.log(probs),
                                                                       jnp.zeros(3)]))
  np.testing.assert_allclose(loss, -jnp.sum(probs * jax.nn.log_softmax(logits_tm1[0])),
                             rtol=1e-6)


def test_quantile_midpoints():
  np.testing.assert_allclose(losses.quantile_midpoints(1), [0.5])
  np.testing.assert_allclose(losses.quantile_midpoints(4), [0.125, 0.375, 0.625, 0.875])
  assert losses.quantile_midpoints(3).dtype == jnp.float32


@pytest.mark.parametrize("huber_param", [0.0, 1.0])
def test_quantile_regression_loss_matches_rlax(huber_param):
  rlax = pytest.importorskip("rlax")
  k = jax.random.split(jax.random.PRNGKey(3), 2)
  src = jax.random.normal(k[0], (5,))
  tau = losses.quantile_midpoints(5)
  target = 2.0 * jax.random.normal(k[1], (7,))
  ours, ours_g = jax.jit(jax.value_and_grad(losses.quantile_regression_loss, argnums=(0, 1, 2)),
                         static_argnums=3)(src, tau, target, huber_param)
  theirs, theirs_g = jax.value_and_grad(rlax.quantile_regression_loss, argnums=(0, 1))(
      src, tau, target, huber_param)
  np.testing.assert_allclose(ours, theirs, rtol=1e-5)
  _assert_trees_close(ours_g[:2], theirs_g)
  np.testing.assert_array_equal(ours_g[2], 0.0)           # the target is stopped (rlax's is not)


def test_quantile_regression_loss_by_hand():
  tau = losses.quantile_midpoints(2)                                         # [0.25, 0.75]
  src, target = jnp.array([0.0, 1.0]), jnp.array([-1.0, 2.0])
  # u = target - src: row 0 (tau 1/4) [-1, 2] -> 3/4 * 1 + 1/4 * 2; row 1 (tau 3/4) [-2, 1]
  # -> 1/4 * 2 + 3/4 * 1; each row averaged over M = 2 and summed: 0.625 + 0.625
  loss, grad = jax.value_and_grad(losses.quantile_regression_loss)(src, tau, target)
  np.testing.assert_allclose(loss, 1.25, rtol=1e-6)
  np.testing.assert_allclose(grad, [0.25, -0.25], rtol=1e-6)    # d/dsrc of |u| is -sign(u)
  # Huber, kappa = 1: L(-1) = L(1) = 0.5, L(2) = L(-2) = 1.5: (0.375 + 0.375) / 2 per row
  np.testing.assert_allclose(losses.quantile_regression_loss(src, tau, target, 1.0), 0.75,
                             rtol=1e-6)
  # identical point masses: every error is 0, so is the loss
  point = jnp.full(3, 0.7)
  for kappa in (0.0, 1.0):
    loss = losses.quantile_regression_loss(point, losses.quantile_midpoints(3), point, kappa)
    np.testing.assert_array_equal(loss, 0.0)
  # huber_param may be traced (a sweep): the same values as the concrete ones
  swept = jax.jit(jax.vmap(losses.quantile_regression_loss, in_axes=(None, None, None, 0)))(
      src, tau, target, jnp.array([0.0, 1.0]))
  np.testing.assert_allclose(swept, [1.25, 0.75], rtol=1e-6)


@pytest.mark.parametrize("huber_param", [0.0, 1.0])
def test_quantile_q_learning_matches_rlax(huber_param):
  rlax = pytest.importorskip("rlax")
  b = _quantile_batch(seed=4)
  names = ["dist_q_tm1", "tau_q_tm1", "a_tm1", "r_t", "discount_t", "dist_q_t_selector",
           "dist_q_t"]
  args = [b[n] for n in names]
  grad_args = (0, 1, 5, 6)

  def fn(module):
    return lambda *a: getattr(module, "quantile_q_learning")(*a, huber_param)

  ours, ours_g = _mean_loss_and_grads(fn(losses), args, grad_args)
  theirs, theirs_g = _mean_loss_and_grads(fn(rlax), args, grad_args)
  np.testing.assert_allclose(ours, theirs, rtol=1e-5)
  _assert_trees_close(ours_g, theirs_g)
  assert float(jnp.max(jnp.abs(ours_g[0]))) > 0
  np.testing.assert_array_equal(ours_g[2], 0.0)           # t arguments: selector and target
  np.testing.assert_array_equal(ours_g[3], 0.0)


def test_quantile_q_learning_by_hand():
  tau = losses.quantile_midpoints(2)
  dist_q_tm1 = jnp.array([[0.0, 5.0], [1.0, 5.0]])         # [N, A]: action 0's quantiles [0, 1]
  dist_q_t = jnp.array([[10.0, -3.0], [-20.0, 3.0]])       # means [-5, 0]: action 1 is greedy
  args = (dist_q_tm1, tau, jnp.int32(0), jnp.float32(0.5))
  # target 0.5 + 0.5 * [-3, 3] = [-1, 2]: the hand case of test_quantile_regression_loss_by_hand
  loss = jax.jit(losses.quantile_q_learning)(*args, jnp.float32(0.5), dist_q_t, dist_q_t)
  np.testing.assert_allclose(loss, 1.25, rtol=1e-6)
  # termination: the target is [r, r] = [0.5, 0.5]: 1/4 * 0.5 (row 0) + 1/4 * 0.5 (row 1)
  loss = losses.quantile_q_learning(*args, jnp.float32(0.0), dist_q_t, dist_q_t)
  np.testing.assert_allclose(loss, 0.25, rtol=1e-6)
  # a selector preferring action 0 bootstraps from the target network's action 0
  loss = losses.quantile_q_learning(*args, jnp.float32(0.5), -dist_q_t, dist_q_t, 1.0)
  expected = losses.quantile_regression_loss(jnp.array([0.0, 1.0]), tau,
                                             jnp.array([5.5, -9.5]), 1.0)
  np.testing.assert_allclose(loss, expected, rtol=1e-6)


@_RLAX_WARNING
def test_distributional_vmap_equals_loop():
  cat = _categorical_batch(seed=5)
  qr = _quantile_batch(seed=6)
  cases = [
      (losses.categorical_q_learning, cat, ["q_atoms_tm1", "q_logits_tm1", "a_tm1", "r_t",
                                            "discount_t", "q_atoms_t", "q_logits_t"]),
      (losses.categorical_double_q_learning, cat,
       ["q_atoms_tm1", "q_logits_tm1", "a_tm1", "r_t", "discount_t", "q_atoms_t", "q_logits_t",
        "q_t_selector"]),
      (losses.quantile_q_learning, qr, ["dist_q_tm1", "tau_q_tm1", "a_tm1", "r_t", "discount_t",
                                        "dist_q_t_selector", "dist_q_t"]),
  ]
  for fn, batch, names in cases:
    args = [batch[n] for n in names]
    batched = jax.jit(jax.vmap(fn))(*args)
    one = jax.jit(fn)                                   # compiled once, called per transition
    looped = [one(*[x[i] for x in args]) for i in range(args[0].shape[0])]
    np.testing.assert_allclose(batched, looped, rtol=1e-6)
  z_p = cat["r_t"][:, None] + cat["discount_t"][:, None] * cat["q_atoms_t"]
  probs = jax.nn.softmax(cat["q_logits_t"][:, 0])
  np.testing.assert_allclose(
      jax.vmap(losses.categorical_l2_project, in_axes=(0, 0, None))(z_p, probs, ATOMS),
      [losses.categorical_l2_project(z_p[i], probs[i], ATOMS) for i in range(4)], rtol=1e-6)


def test_distributional_eager_refusals():
  z, logits = ATOMS, jnp.zeros((2, 5))
  one = (jnp.int32(0), jnp.float32(1.0), jnp.float32(0.9))
  with pytest.raises(ValueError, match=r"categorical_q_learning: q_logits_tm1 must have shape"
                                       r" \[A, K\].*jax.vmap"):
    losses.categorical_q_learning(z, jnp.zeros((4, 2, 5)), *one, z, logits)   # a batch
  with pytest.raises(ValueError, match=r"q_logits_tm1 must have 5 atoms.*q_atoms_tm1's K\), got 4"):
    losses.categorical_q_learning(z, jnp.zeros((2, 4)), *one, z, logits)
  with pytest.raises(ValueError, match=r"q_logits_t must have 3 atoms.*got 5"):
    losses.categorical_q_learning(z, logits, *one, z[:3], logits)
  with pytest.raises(ValueError, match=r"q_logits_t must have 2 actions.*got 3"):
    losses.categorical_q_learning(z, logits, *one, z, jnp.zeros((3, 5)))
  with pytest.raises(ValueError, match=r"a_tm1 must be int"):
    losses.categorical_q_learning(z, logits, jnp.float32(0.0), *one[1:], z, logits)
  with pytest.raises(ValueError, match=r"a_tm1 must lie in \[0, 2\), got 2"):
    losses.categorical_q_learning(z, logits, jnp.int32(2), *one[1:], z, logits)
  with pytest.raises(ValueError, match=r"q_atoms_tm1 must be sorted"):
    losses.categorical_q_learning(z[::-1], logits, *one, z, logits)
  with pytest.raises(ValueError, match=r"q_t_selector must have 2 actions"):
    losses.categorical_double_q_learning(z, logits, *one, z, logits, jnp.zeros(3))
  with pytest.raises(ValueError, match=r"categorical_l2_project: probs must have 5 entries"):
    losses.categorical_l2_project(z, jnp.ones(4) / 4, z)
  with pytest.raises(ValueError, match=r"z_q must be float"):
    losses.categorical_l2_project(z, jnp.ones(5) / 5, jnp.arange(3))
  with pytest.raises(ValueError, match=r"z_q must hold at least one atom"):
    losses.categorical_l2_project(z, jnp.ones(5) / 5, jnp.zeros(0))
  tau = losses.quantile_midpoints(3)
  with pytest.raises(ValueError, match=r"huber_param must lie in \[0, inf\), got -1"):
    losses.quantile_regression_loss(jnp.zeros(3), tau, jnp.zeros(4), -1.0)
  with pytest.raises(ValueError, match=r"tau_src must have 3 entries.*got 2"):
    losses.quantile_regression_loss(jnp.zeros(3), tau[:2], jnp.zeros(4))
  with pytest.raises(ValueError, match=r"dist_target must have shape \[M\]"):
    losses.quantile_regression_loss(jnp.zeros(3), tau, jnp.zeros((4, 1)))
  q = jnp.zeros((3, 2))                                                 # [N, A]
  with pytest.raises(ValueError, match=r"huber_param must lie in \[0, inf\)"):
    losses.quantile_q_learning(q, tau, *one, q, q, huber_param=-0.5)
  with pytest.raises(ValueError, match=r"dist_q_t must have 2 actions on its last axis.*got 3"):
    losses.quantile_q_learning(q, tau, *one, q, jnp.zeros((2, 3)))          # [A, N] swapped
  with pytest.raises(ValueError, match=r"tau_q_tm1 must have 3 entries"):
    losses.quantile_q_learning(q, tau[:2], *one, q, q)
  with pytest.raises(ValueError, match=r"r_t must have shape \[\].*jax.vmap"):
    losses.quantile_q_learning(q, tau, one[0], jnp.zeros(4), one[2], q, q)
  for bad in (0, -1, 2.0):
    with pytest.raises(ValueError, match=r"num_quantiles must be an int"):
      losses.quantile_midpoints(bad)
  with pytest.raises(ValueError, match=r"num_quantiles must be a static int"):
    jax.jit(losses.quantile_midpoints)(3)


def test_the_projection_onto_an_evenly_spaced_support_takes_the_fast_path_with_equal_values():
  import rlax  # pylint: disable=import-outside-toplevel
  z = jnp.linspace(-3.0, 7.0, 11)          # concrete and evenly spaced: the O(K) scatter path
  assert losses._evenly_spaced(z) and not losses._evenly_spaced(z.at[3].add(0.1))  # noqa
  keys = jax.random.split(jax.random.PRNGKey(0), 2)
  z_p = 2.0 * jax.random.normal(keys[0], (16, 9)) + 2.0     # some atoms beyond the support
  probs = jax.nn.softmax(jax.random.normal(keys[1], (16, 9)))
  z_p = z_p.at[0, 0].set(7.0).at[0, 1].set(-3.0).at[0, 2].set(0.0)   # on the ends, on an atom
  fast = jax.jit(jax.vmap(lambda a, p: losses.categorical_l2_project(a, p, z)))(z_p, probs)
  ref = jax.vmap(lambda a, p: rlax.categorical_l2_project(a, p, z))(z_p, probs)
  np.testing.assert_allclose(np.asarray(fast), np.asarray(ref), rtol=1e-5, atol=1e-6)
  grad = jax.grad(lambda p: jnp.sum(losses.categorical_l2_project(z_p[1], p, z) * z))(probs[1])
  grad_ref = jax.grad(lambda p: jnp.sum(rlax.categorical_l2_project(z_p[1], p, z) * z))(probs[1])
  np.testing.assert_allclose(np.asarray(grad), np.asarray(grad_ref), rtol=1e-5, atol=1e-6)
