"""Reverse-mode gradients of the solvers' outputs against central finite differences.

Values are piecewise linear in the rewards (linear for a fixed optimal policy) and smooth in the
noise and discount; the points used are away from policy switches (the 4x3 world's smallest
action gap at -0.04 is about 0.018), so float32 finite differences with a moderate step are
accurate. One objective per solver covers the rewards array, the grid world's noise and living
reward (passed through ``gridworld`` inside the differentiated function) and the discount; it is
jitted once and used at discount 0.9 and 1 (the discount is a traced argument), and all finite
differences are one vmapped call.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.mdp import TabularMDP
from jaxrl.mdp import gridworld
from jaxrl.mdp import policy_evaluation
from jaxrl.mdp import policy_iteration
from jaxrl.mdp import q_iteration
from jaxrl.mdp import value_iteration

NUM_STATES, NUM_ACTIONS = 11, 4
EXITS = np.array([3, 6])
# The textbook optimal policy of the 4x3 world (a proper policy: it reaches an exit).
POLICY = jnp.array([1, 1, 1, 0, 0, 0, 0, 0, 3, 3, 3], jnp.int32)
_rng = np.random.RandomState(0)
WEIGHTS = jnp.asarray(_rng.uniform(0.5, 1.5, NUM_STATES), jnp.float32)
Q_WEIGHTS = jnp.asarray(_rng.uniform(0.1, 0.3, (NUM_STATES, NUM_ACTIONS)), jnp.float32)

# Each takes (mdp, policy); the policy is an argument of the jitted function.
SOLVERS = {
    "value_iteration": lambda m, _: value_iteration(m),
    "q_iteration": lambda m, _: q_iteration(m),
    "policy_iteration": lambda m, _: policy_iteration(m),
    "policy_iteration_iterative": lambda m, _: policy_iteration(m, method="iterative"),
    "evaluation_solve": lambda m, pi: policy_evaluation(m, pi, method="solve"),
    "evaluation_iterative": lambda m, pi: policy_evaluation(m, pi, method="iterative"),
}
OPTIMIZING = {"value_iteration", "q_iteration", "policy_iteration", "policy_iteration_iterative"}


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_grad_matches_finite_differences(name):
  """d/d(rewards, noise, living reward, discount) of sum(w * values) + sum(w_q * q_values)."""
  solve = SOLVERS[name]

  def objective(reward_delta, params, policy):
    grid = gridworld(noise=params[0], living_reward=params[1], discount=params[2]).mdp
    mdp = TabularMDP(grid.transitions, grid.rewards + reward_delta, grid.discount)
    out = solve(mdp, policy)
    return jnp.sum(WEIGHTS * out.values) + jnp.sum(Q_WEIGHTS * out.q_values)

  grad = jax.jit(jax.grad(objective, argnums=(0, 1)))
  batched = jax.jit(jax.vmap(objective, in_axes=(0, 0, None)))
  size = NUM_STATES * NUM_ACTIONS
  h_r, h_p = 1e-2, 2e-3
  reward_steps = h_r * jnp.eye(size, dtype=jnp.float32).reshape(size, NUM_STATES, NUM_ACTIONS)
  param_steps = h_p * jnp.eye(3, dtype=jnp.float32)
  zero = jnp.zeros((NUM_STATES, NUM_ACTIONS), jnp.float32)
  for discount in (0.9, 1.0):
    x = jnp.array([0.2, -0.04, discount], jnp.float32)
    g_r, g_p = (np.asarray(a) for a in grad(zero, x, POLICY))
    # the discount cannot exceed 1: at 1 a one-sided second-order difference for it
    back = discount == 1.0
    param_points = jnp.concatenate([
        x + param_steps[:2], x - param_steps[:2],
        jnp.stack([x - param_steps[2], x - 2 * param_steps[2], x] if back
                  else [x + param_steps[2], x - param_steps[2], x])])
    steps = reward_steps
    if back:  # a reward on an exit makes it non-terminal: no finite values to difference
      steps = steps * jnp.asarray(~np.isin(np.arange(NUM_STATES), EXITS))[:, None]
    deltas = jnp.concatenate([steps, -steps, jnp.zeros((7, NUM_STATES, NUM_ACTIONS))])
    params = jnp.concatenate([jnp.broadcast_to(x, (2 * size, 3)), param_points])
    v = np.asarray(batched(deltas, params, POLICY), np.float64)
    fd_r = ((v[:size] - v[size:2 * size]) / (2 * h_r)).reshape(NUM_STATES, NUM_ACTIONS)
    vp = v[2 * size:]
    fd_p = np.array([(vp[0] - vp[2]) / (2 * h_p), (vp[1] - vp[3]) / (2 * h_p),
                     (3 * vp[6] - 4 * vp[4] + vp[5]) / (2 * h_p) if back
                     else (vp[4] - vp[5]) / (2 * h_p)])

    check = np.ones((NUM_STATES, NUM_ACTIONS), bool)
    if name in OPTIMIZING or back:
      # exits: every action ties (a kink for the optimizers); at discount 1 a nonzero reward
      # makes an exit non-terminal, and the gradient there is documented to be 0 for the values.
      check[EXITS] = False
    scale = np.abs(fd_r[check]).max()
    assert scale > 1.0  # the check is not vacuous
    np.testing.assert_allclose(g_r[check], fd_r[check], atol=2e-3 * scale,
                               err_msg=f"rewards, discount {discount}")
    assert np.all(np.abs(fd_p) > 1.0)  # every parameter matters here
    np.testing.assert_allclose(g_p, fd_p, rtol=2e-3,
                               err_msg=f"(noise, living reward, discount) at discount {discount}")


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_values_grad_wrt_terminal_rewards_is_zero_at_discount_one(name):
  """Documented: at discount 1 the derivative with respect to a terminal state's own reward is
  taken as 0 (any nonzero reward would make it non-terminal)."""
  solve = SOLVERS[name]
  base = gridworld(discount=1.0).mdp

  def objective(rewards, policy):
    return jnp.sum(WEIGHTS * solve(TabularMDP(base.transitions, rewards, base.discount),
                                   policy).values)

  g = np.asarray(jax.grad(objective)(base.rewards, POLICY))
  np.testing.assert_array_equal(g[EXITS], 0.0)
  assert np.abs(g).max() > 1.0


def test_grad_wrt_discount_by_hand():
  """Two states, 'stay' pays r for ever: V = r / (1 - g), dV/dg = r / (1 - g)^2."""
  p = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])
  r = jnp.array([[2.0], [0.0]])

  def value(discount, solver):
    return solver(TabularMDP(p, r, discount)).values[0]

  for solver in (value_iteration, q_iteration, policy_iteration,
                 lambda m: policy_evaluation(m, np.zeros(2, np.int32), method="iterative")):
    dv = jax.jit(jax.grad(lambda g, s=solver: value(g, s)))(jnp.float32(0.8))
    np.testing.assert_allclose(dv, 2.0 / 0.2**2, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# With respect to a stochastic policy's probabilities
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["solve", "iterative"])
def test_grad_wrt_stochastic_policy(method):
  """The policy-gradient theorem: d sum_s w(s) V(s) / d pi(a|s) = d(s) Q(s, a) with the
  discounted visits d = (I - g P_pi)^-T w (pinned exit rows at discount 1 give 0); and
  directional finite differences along directions that keep each row summing to 1."""
  rng = np.random.RandomState(3)
  probs = jnp.asarray(rng.dirichlet(np.ones(4) * 2.0, NUM_STATES), jnp.float32)
  p = gridworld().mdp.transitions

  def objective(pi, discount):
    mdp = gridworld(discount=discount).mdp
    return jnp.sum(WEIGHTS * policy_evaluation(mdp, pi, method=method).values)

  grad = jax.jit(jax.grad(objective))
  batched = jax.jit(jax.vmap(objective, in_axes=(0, None)))
  directions = rng.normal(size=(8, NUM_STATES, 4))
  directions -= directions.mean(-1, keepdims=True)  # rows sum to 0
  directions = jnp.asarray(directions, jnp.float32)
  h = 1e-3
  for discount in (0.9, 1.0):
    d = jnp.float32(discount)
    g = np.asarray(grad(probs, d))
    ev = policy_evaluation(gridworld(discount=discount).mdp, probs, method="solve")
    p_pi = np.einsum("sa,sat->st", np.asarray(probs, np.float64), np.asarray(p, np.float64))
    a = np.eye(NUM_STATES) - discount * p_pi
    if discount == 1.0:
      a[EXITS] = np.eye(NUM_STATES)[EXITS]
    visits = np.linalg.solve(a.T, np.asarray(WEIGHTS, np.float64))
    expected = visits[:, None] * np.asarray(ev.q_values, np.float64)
    if discount == 1.0:
      expected[EXITS] = 0.0
    np.testing.assert_allclose(g, expected, atol=1e-3 * np.abs(expected).max(),
                               err_msg=f"discount {discount}")
    v = np.asarray(batched(jnp.concatenate([probs + h * directions, probs - h * directions]), d))
    fd = (v[:8] - v[8:]) / (2 * h)
    analytic = np.einsum("sa,ksa->k", g, np.asarray(directions))
    np.testing.assert_allclose(analytic, fd, atol=5e-3 * np.abs(fd).max(),
                               err_msg=f"discount {discount}")
