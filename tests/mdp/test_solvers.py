"""Solvers in three tiers: (a) hand-computed values, (b) invariants, (c) agreement with pymdptoolbox.

Everything runs in float32 (the library default); tolerances are float32 ones. Solvers are jitted
once at module level and reused, so each shape compiles once.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl.mdp.solvers as solvers_module
from jaxrl.training import count_compilations
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import bellman_optimality
from jaxrl.mdp import bellman_q_optimality
from jaxrl.mdp import chain
from jaxrl.mdp import from_mdptoolbox
from jaxrl.mdp import gridworld
from jaxrl.mdp import gridworld_layout
from jaxrl.mdp import policy_evaluation
from jaxrl.mdp import policy_iteration
from jaxrl.mdp import policy_transitions
from jaxrl.mdp import proper_policy
from jaxrl.mdp import q_from_values
from jaxrl.mdp import q_iteration
from jaxrl.mdp import random_mdp
from jaxrl.mdp import terminal_states
from jaxrl.mdp import value_iteration

UP, RIGHT, DOWN, LEFT = range(4)

TOL = solvers_module.DEFAULT_TOL
CAP = solvers_module.DEFAULT_MAX_ITERATIONS

# Jitted once; tol and the iteration caps are traced arguments, so changing them does not
# recompile (keyword arguments that come and go would).
_vi = jax.jit(lambda m, tol, cap: value_iteration(m, tol=tol, max_iterations=cap))
_qi = jax.jit(lambda m, tol, cap: q_iteration(m, tol=tol, max_iterations=cap))
_pi = jax.jit(lambda m, method, tol, cap: policy_iteration(m, method=method, tol=tol,
                                                            max_iterations=cap),
              static_argnums=1)
_pi_from = jax.jit(lambda m, policy: policy_iteration(m, initial_policy=policy))
_pe = jax.jit(lambda m, policy, method, tol, cap: policy_evaluation(
    m, policy, method=method, tol=tol, max_iterations=cap), static_argnums=2)
PROPER = jax.jit(proper_policy)


def VI(mdp, tol=TOL, max_iterations=CAP):  # pylint: disable=invalid-name
  return _vi(mdp, tol, max_iterations)


def QI(mdp, tol=TOL, max_iterations=CAP):  # pylint: disable=invalid-name
  return _qi(mdp, tol, max_iterations)


def PI(mdp, method=None, max_iterations=1_000, initial_policy=None):  # pylint: disable=invalid-name
  if initial_policy is not None:
    return _pi_from(mdp, initial_policy)
  return _pi(mdp, method, TOL, max_iterations)


def PE(mdp, policy, method=None, tol=TOL, max_iterations=CAP):  # pylint: disable=invalid-name
  return _pe(mdp, jnp.asarray(policy), method, tol, max_iterations)


OPTIMAL_SOLVERS = {"value_iteration": VI, "q_iteration": QI, "policy_iteration": PI}


def _scale(values):
  return max(1.0, float(np.max(np.abs(np.asarray(values)))))


def _tolerance(result, scale, undiscounted=1e-5):
  """How far ``result`` (a Solution or Evaluation) may be from the exact values: its own
  ``error_bound`` when one is known (discount < 1), else ``undiscounted * scale``; plus rounding.
  The bound is asserted to be small, so a test using it can still fail."""
  bound = float(result.error_bound)
  if not np.isfinite(bound):
    return undiscounted * scale
  assert bound <= 1e-3 * scale, f"error_bound {bound} is too loose to test against"
  return bound + 1e-6 * scale


def _two_state(stay_reward, leave_reward, discount, stay_prob=1.0):
  """State 0: action 0 'stay' (reward r, stays w.p. stay_prob, else ends), action 1 'leave'
  (reward c, ends). State 1: absorbing, zero reward (terminal)."""
  p = np.zeros((2, 2, 2), np.float32)
  p[0, 0] = [stay_prob, 1.0 - stay_prob]
  p[0, 1, 1] = 1.0
  p[1, :, 1] = 1.0
  r = np.array([[stay_reward, leave_reward], [0.0, 0.0]], np.float32)
  return TabularMDP(p, r, discount)


# ---------------------------------------------------------------------------------------------
# (a) Hand-computed values
# ---------------------------------------------------------------------------------------------
# Russell & Norvig (3rd ed.), fig. 17.3: utilities of the 4x3 world, R(s) = -0.04, gamma = 1.
TEXTBOOK_UTILITIES = {
    (0, 0): 0.812, (0, 1): 0.868, (0, 2): 0.918,
    (1, 0): 0.762, (1, 2): 0.660,
    (2, 0): 0.705, (2, 1): 0.655, (2, 2): 0.611, (2, 3): 0.388,
}
# Fig. 17.2(a): the optimal policy for R(s) = -0.04.
TEXTBOOK_POLICY = {
    (0, 0): RIGHT, (0, 1): RIGHT, (0, 2): RIGHT,
    (1, 0): UP, (1, 2): UP,
    (2, 0): UP, (2, 1): LEFT, (2, 2): LEFT, (2, 3): LEFT,
}
# The same policy by state (reading order; the exits, states 3 and 6, take action 0).
TEXTBOOK_POLICY_ARRAY = np.array([1, 1, 1, 0, 0, 0, 0, 0, 3, 3, 3], np.int32)


@pytest.mark.parametrize("name", sorted(OPTIMAL_SOLVERS))
@pytest.mark.parametrize("sparse", [False, True])
def test_textbook_grid_utilities_and_policy(name, sparse):
  g = gridworld(noise=0.2, living_reward=-0.04, discount=1.0, sparse=sparse)
  sol = OPTIMAL_SOLVERS[name](g.mdp)
  assert bool(sol.converged)
  values, policy = np.asarray(sol.values), np.asarray(sol.policy)
  for cell, utility in TEXTBOOK_UTILITIES.items():
    assert values[g.state_index(*cell)] == pytest.approx(utility, abs=1e-3), cell
  for cell, action in TEXTBOOK_POLICY.items():
    assert policy[g.state_index(*cell)] == action, cell
  np.testing.assert_array_equal(values[list(g.exits)], 0.0)


def test_textbook_grid_render():
  g = gridworld()
  sol = VI(g.mdp)
  assert g.render(policy=sol.policy) == (
      "   \u2192    \u2192    \u2192 [+1]\n"
      "   \u2191    #    \u2191 [-1]\n"
      "   \u2191    \u2190    \u2190    \u2190")
  assert g.render(values=sol.values) == (
      "  0.812   0.868   0.918    [+1]\n"
      "  0.762       #   0.660    [-1]\n"
      "  0.705   0.655   0.611   0.388")


# stay_reward, leave_reward, discount, stay_prob -> V(0), best action
TWO_STATE_CASES = [
    (1.0, 5.0, 0.9, 1.0, 1.0 / (1 - 0.9), 0),  # staying forever: r / (1 - g) = 10 > 5
    (0.1, 2.0, 0.9, 1.0, 2.0, 1),  # staying is worth 1 < 2
    (1.0, 1.0, 0.9, 0.5, 1.0 / (1 - 0.9 * 0.5), 0),  # V = r + g p V => r / (1 - g p)
    (-1.0, -3.0, 1.0, 1.0, -3.0, 1),  # discount 1: staying costs -inf, leaving -3
    (-1.0, -5.0, 1.0, 0.75, -4.0, 0),  # discount 1: V = r / (1 - p) = -4 > -5
]


@pytest.mark.parametrize("stay,leave,discount,prob,value,action", TWO_STATE_CASES)
@pytest.mark.parametrize("name", sorted(OPTIMAL_SOLVERS))
def test_two_state_values_by_hand(name, stay, leave, discount, prob, value, action):
  sol = OPTIMAL_SOLVERS[name](_two_state(stay, leave, discount, prob))
  assert bool(sol.converged)
  atol = _tolerance(sol, abs(value))
  np.testing.assert_allclose(sol.values, [value, 0.0], rtol=0, atol=atol)
  assert int(sol.policy[0]) == action
  q_stay = stay + discount * prob * value
  np.testing.assert_allclose(sol.q_values[0], [q_stay, leave], rtol=0, atol=atol)


def test_two_state_policy_evaluation_by_hand():
  mdp = _two_state(1.0, 5.0, 0.9)
  for method in ("solve", "iterative"):
    stay = PE(mdp, jnp.array([0, 0]), method=method)
    leave = PE(mdp, jnp.array([1, 0]), method=method)
    np.testing.assert_allclose(stay.values, [10.0, 0.0], rtol=0, atol=_tolerance(stay, 10.0))
    np.testing.assert_allclose(leave.values, [5.0, 0.0], rtol=0, atol=_tolerance(leave, 5.0))
    # a coin flip between them: V = 0.5 (1 + 0.9 V) + 0.5 * 5 => V = 3 / 0.55
    mix = PE(mdp, jnp.array([[0.5, 0.5], [1.0, 0.0]]), method=method)
    np.testing.assert_allclose(mix.values, [3.0 / 0.55, 0.0], rtol=0, atol=_tolerance(mix, 5.5))
    if method == "solve":  # exact up to rounding
      assert float(stay.error_bound) < 1e-5


@pytest.mark.parametrize("name", sorted(OPTIMAL_SOLVERS))
def test_chain_values_by_hand(name):
  far, near, n = 10.0, 1.0, 5
  patient = OPTIMAL_SOLVERS[name](chain(n, far_reward=far, near_reward=near, discount=0.9))
  # interior cell i: left is worth far * g^(i-1), right near * g^(n-2-i)
  np.testing.assert_allclose(patient.values, [0, far, far * 0.9, far * 0.9**2, 0], rtol=0,
                             atol=_tolerance(patient, far))
  np.testing.assert_array_equal(patient.policy[1:4], [0, 0, 0])
  np.testing.assert_allclose(patient.q_values[3, 1], near, rtol=1e-6)
  impatient = OPTIMAL_SOLVERS[name](chain(n, far_reward=far, near_reward=near, discount=0.1))
  np.testing.assert_allclose(impatient.values, [0, far, far * 0.1, near, 0], rtol=0,
                             atol=_tolerance(impatient, far))
  np.testing.assert_array_equal(impatient.policy[1:4], [0, 0, 1])
  undiscounted = OPTIMAL_SOLVERS[name](chain(n, far_reward=far, near_reward=near, discount=1.0))
  assert bool(undiscounted.converged)
  np.testing.assert_allclose(undiscounted.values, [0, far, far, far, 0], rtol=1e-6)


def test_stochastic_policy_value_against_numpy_solve():
  g = gridworld(discount=0.9)
  rng = np.random.RandomState(0)
  pi = rng.dirichlet(np.ones(4), 11).astype(np.float32)
  p, r = np.asarray(g.mdp.transitions, np.float64), np.asarray(g.mdp.rewards, np.float64)
  p_pi = np.einsum("sa,sat->st", pi, p)
  r_pi = np.einsum("sa,sa->s", pi, r)
  expected = np.linalg.solve(np.eye(11) - 0.9 * p_pi, r_pi)
  for method in ("solve", "iterative"):
    ev = PE(g.mdp, jnp.asarray(pi), method=method)
    assert bool(ev.converged)
    np.testing.assert_allclose(ev.values, expected, atol=2e-5)
    np.testing.assert_allclose(ev.q_values, r + 0.9 * p @ expected, atol=2e-5)


# ---------------------------------------------------------------------------------------------
# (b) Invariants
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _case(name):
  if name == "grid_d1":
    return gridworld().mdp
  if name == "grid_d0.9":
    return gridworld(discount=0.9).mdp
  if name == "grid_sparse_d0.9":
    return gridworld(discount=0.9, living_reward=-0.1, sparse=True).mdp
  if name == "chain_d0.9":
    return chain(5, discount=0.9, noise=0.1, living_reward=-0.1)
  if name == "chain_d1":
    return chain(5, noise=0.2, living_reward=-0.5, far_reward=4.0, near_reward=2.0)
  if name == "random_dense":
    return random_mdp(jax.random.key(0), 8, 3, discount=0.9)
  if name == "random_sparse":
    return random_mdp(jax.random.key(1), 12, 3, num_successors=3, sparse=True, discount=0.95)
  raise KeyError(name)


CASES = ["grid_d1", "grid_d0.9", "grid_sparse_d0.9", "chain_d0.9", "chain_d1", "random_dense",
         "random_sparse"]


def _decisive(q_values, gap=1e-3):
  """States whose best action beats the second best by more than ``gap``."""
  q = np.sort(np.asarray(q_values), -1)
  return q[:, -1] - q[:, -2] > gap


@pytest.mark.parametrize("case", CASES)
def test_solvers_agree_with_each_other_and_with_exact_evaluation(case):
  mdp = _case(case)
  vi, qi, pi = VI(mdp), QI(mdp), PI(mdp)
  for sol in (vi, qi, pi):
    assert bool(sol.converged)
  scale = _scale(vi.values)
  exact = PE(mdp, vi.policy, method="solve")
  assert bool(exact.converged)
  for sol in (vi, qi, pi):
    atol = _tolerance(sol, scale, undiscounted=5e-5)
    np.testing.assert_allclose(sol.values, exact.values, atol=atol)
    np.testing.assert_allclose(sol.q_values, exact.q_values, atol=atol)
  decisive = _decisive(exact.q_values)
  assert decisive.sum() >= 3
  for sol in (qi, pi):
    np.testing.assert_array_equal(np.asarray(sol.policy)[decisive], np.asarray(vi.policy)[decisive])
  # PI's values are those of its final policy (exact with the solve, within error_bound with
  # iterative evaluation, the sparse default)
  np.testing.assert_allclose(pi.values, PE(mdp, pi.policy, method="solve").values,
                             atol=_tolerance(pi, scale))


@pytest.mark.parametrize("case", CASES)
def test_bellman_optimality_within_error_bound(case):
  mdp = _case(case)
  discount = float(mdp.discount)
  vi, qi = VI(mdp), QI(mdp)
  rounding = 1e-5 * _scale(vi.values)
  # V = max_a Q and Q = r + g P V
  np.testing.assert_allclose(vi.q_values, q_from_values(mdp, vi.values), atol=rounding)
  np.testing.assert_allclose(qi.values, np.max(np.asarray(qi.q_values), -1), atol=0)
  residual_v = float(jnp.max(jnp.abs(bellman_optimality(mdp, vi.values) - vi.values)))
  residual_q = float(jnp.max(jnp.abs(bellman_q_optimality(mdp, qi.q_values) - qi.q_values)))
  if discount < 1:
    assert np.isfinite(float(vi.error_bound)) and np.isfinite(float(qi.error_bound))
    assert residual_v <= float(vi.error_bound) + rounding
    assert residual_q <= float(qi.error_bound) + rounding
  else:
    assert float(vi.error_bound) == np.inf and float(qi.error_bound) == np.inf
    terminal = np.asarray(terminal_states(mdp))
    residual_v = np.abs(np.asarray(bellman_optimality(mdp, vi.values) - vi.values))[~terminal]
    assert residual_v.max() <= 1e-5 * _scale(vi.values)


@pytest.mark.parametrize("case", ["grid_d0.9", "grid_sparse_d0.9", "chain_d0.9", "random_dense",
                                  "random_sparse"])
@pytest.mark.parametrize("tol", [TOL, 1e-3, 1e-1])
def test_error_bound_holds_and_is_below_tol(case, tol):
  """With discount < 1: error <= error_bound always, and error_bound <= tol when float32 can
  reach tol. (At the default tol=1e-6 the loop may stop at rounding level, g / (1 - g) * 4 eps
  max|V|, above tol; the module docstring says error_bound then reports the precision reached.)"""
  mdp = _case(case)
  pi = PI(mdp)
  exact = PE(mdp, pi.policy, method="solve")  # the optimal policy's values by a linear solve
  # policy iteration's bound covers both its evaluation error and the policy's suboptimality
  assert bool(pi.converged) and np.isfinite(float(pi.error_bound))
  assert float(jnp.max(jnp.abs(pi.values - exact.values))) <= (
      float(pi.error_bound) + 2e-6 * _scale(exact.values))
  for solver in (VI, QI):
    sol = solver(mdp, tol=tol)
    assert bool(sol.converged)
    bound = float(sol.error_bound)
    assert 0 <= bound
    if tol >= 1e-3:
      assert bound <= tol
    else:
      g = float(mdp.discount)
      ulps = getattr(solvers_module, "ROUNDING_ULPS", 4.0)
      floor = ulps * np.finfo(np.float32).eps * _scale(sol.q_values if solver is QI else sol.values)
      assert bound <= max(tol, 1.01 * g / (1 - g) * floor)
    rounding = 2e-6 * _scale(exact.values)
    err_v = float(jnp.max(jnp.abs(sol.values - exact.values)))
    assert err_v <= bound + rounding
    if solver is QI:
      assert float(jnp.max(jnp.abs(sol.q_values - exact.q_values))) <= bound + rounding
  loose, tight = VI(mdp, tol=1e-1), VI(mdp, tol=1e-4)
  assert int(loose.iterations) < int(tight.iterations)


@pytest.mark.parametrize("discount", [0.9, 1.0])
def test_stochastic_policy_evaluation(discount):
  g = gridworld(discount=discount)
  policy = PI(g.mdp).policy
  onehot = jax.nn.one_hot(policy, 4)
  det_solve = PE(g.mdp, policy, method="solve")
  for method in ("solve", "iterative"):
    det = PE(g.mdp, policy, method=method)
    sto = PE(g.mdp, onehot, method=method)
    assert bool(det.converged) and bool(sto.converged)
    np.testing.assert_allclose(sto.values, det.values, atol=1e-6)
    np.testing.assert_allclose(det.values, det_solve.values, atol=2e-5)
  # a genuinely stochastic policy: the linear solve equals iterative evaluation
  pi = jnp.asarray(np.random.RandomState(1).dirichlet(np.ones(4), 11), jnp.float32)
  solve, iterative = PE(g.mdp, pi, method="solve"), PE(g.mdp, pi, method="iterative")
  assert bool(solve.converged) and bool(iterative.converged)
  assert int(solve.iterations) == 0 and int(iterative.iterations) > 0
  np.testing.assert_allclose(iterative.values, solve.values, atol=1e-4 * _scale(solve.values))
  np.testing.assert_allclose(iterative.q_values, solve.q_values,
                             atol=1e-4 * _scale(solve.values))


def test_jit_equals_eager():
  mdp = gridworld().mdp
  for eager, jitted in ((value_iteration, VI), (q_iteration, QI), (policy_iteration, PI)):
    a, b = eager(mdp), jitted(mdp)
    np.testing.assert_allclose(a.values, b.values, atol=1e-6)
    np.testing.assert_allclose(a.q_values, b.q_values, atol=1e-6)
    np.testing.assert_array_equal(a.policy, b.policy)
    assert int(a.iterations) == int(b.iterations)
    assert bool(a.converged) == bool(b.converged)
  for method in ("solve", "iterative"):
    a = policy_evaluation(mdp, TEXTBOOK_POLICY_ARRAY, method=method)
    b = PE(mdp, TEXTBOOK_POLICY_ARRAY, method=method)
    np.testing.assert_allclose(a.values, b.values, atol=1e-6)
    assert int(a.iterations) == int(b.iterations)
    assert bool(a.converged) and bool(b.converged)


def test_policy_closed_over_inside_jit():
  """A fixed policy held by the jitted function (a constant, not an argument) is checked like
  any concrete policy and evaluated, not refused with a tracer error."""
  mdp = gridworld().mdp
  expected = PE(mdp, TEXTBOOK_POLICY_ARRAY, method="solve").values
  policy = jnp.asarray(TEXTBOOK_POLICY_ARRAY)
  values = jax.jit(lambda m: policy_evaluation(m, policy).values)(mdp)
  np.testing.assert_allclose(values, expected, atol=1e-6)
  values = jax.jit(lambda m: policy_iteration(m, initial_policy=policy).values)(mdp)
  np.testing.assert_allclose(values, expected, atol=1e-5)
  stochastic = jnp.asarray(jax.nn.one_hot(TEXTBOOK_POLICY_ARRAY, 4))
  values = jax.jit(lambda m: policy_evaluation(m, stochastic).values)(mdp)
  np.testing.assert_allclose(values, expected, atol=1e-6)


@pytest.mark.parametrize("name", ["value_iteration", "q_iteration", "policy_iteration",
                                  "policy_evaluation", "proper_policy"])
def test_numpy_arrays_with_a_traced_discount(name):
  """TabularMDP(numpy P, numpy R, traced discount) inside jit/vmap/grad: a discount sweep over
  fixed arrays. Partly traced leaves skip validation; the solvers must still accept them."""
  solver = {"value_iteration": value_iteration, "q_iteration": q_iteration,
            "policy_iteration": policy_iteration,
            "policy_evaluation": lambda m: policy_evaluation(m, np.zeros(2, np.int32)),
            "proper_policy": lambda m: proper_policy(m)}[name]
  p = np.zeros((2, 1, 2), np.float32)
  p[0, 0, 0] = p[1, 0, 1] = 1.0  # state 0 pays 2 for ever; state 1 is terminal
  r = np.array([[2.0], [0.0]], np.float32)
  discounts = jnp.array([0.5, 0.8])
  out = jax.jit(jax.vmap(lambda g: solver(TabularMDP(p, r, g))))(discounts)
  if name == "proper_policy":
    np.testing.assert_array_equal(out, [[0, 0], [0, 0]])
  else:
    np.testing.assert_allclose(out.values[:, 0], 2.0 / (1.0 - discounts), rtol=1e-5)


def test_second_call_does_not_recompile():
  solve = jax.jit(value_iteration)
  solve(gridworld(living_reward=-0.04).mdp)
  other = gridworld(living_reward=-0.5, noise=0.1, discount=0.8).mdp
  with count_compilations() as compiled:
    sol = solve(other)
  assert compiled.count == 0
  assert bool(sol.converged)


def _stack(*trees):
  return jax.tree.map(lambda *x: jnp.stack(x), *trees)


def _assert_batch_equals_loop(batched, singles, rtol=1e-5):
  for i, single in enumerate(singles):
    for field in single._fields:
      got, want = np.asarray(getattr(batched, field)[i]), np.asarray(getattr(single, field))
      if np.issubdtype(want.dtype, np.floating):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * _scale(want[np.isfinite(want)]
                                                                            if want.ndim else 1.0),
                                   err_msg=f"member {i}, {field}")
      else:
        np.testing.assert_array_equal(got, want, err_msg=f"member {i}, {field}")


@pytest.mark.parametrize("sparse", [False, True])
def test_vmap_over_stacked_mdps_equals_loop(sparse):
  num_states = 12 if sparse else 8  # the shapes of the random cases: compiled already
  keys = jax.random.split(jax.random.key(7), 3)
  members = [random_mdp(k, num_states, 3, num_successors=3 if sparse else None, sparse=sparse,
                        discount=d) for k, d in zip(keys, (0.5, 0.9, 0.99))]
  batch = _stack(*members)
  assert batch.batch_shape == (3,)
  singles = {value_iteration: VI, q_iteration: QI, policy_iteration: PI}
  for solver in ((value_iteration, q_iteration, policy_iteration) if not sparse
                 else (value_iteration,)):
    batched = jax.jit(jax.vmap(solver))(batch)
    _assert_batch_equals_loop(batched, [singles[solver](m) for m in members])
  policies = jnp.stack([jnp.zeros(num_states, jnp.int32), jnp.ones(num_states, jnp.int32),
                        jnp.arange(num_states) % 3])
  for method in ("solve", "iterative") if not sparse else ("iterative",):
    evaluate = functools.partial(policy_evaluation, method=method)
    batched = jax.jit(jax.vmap(evaluate))(batch, policies)
    _assert_batch_equals_loop(batched, [PE(m, p, method=method) for m, p in zip(members, policies)])


def test_vmap_over_gridworld_living_rewards_equals_loop():
  """A sweep built inside the vmapped function; one member never converges, the others must
  not be affected by it."""
  living = [-0.04, -0.4, -2.0, 0.1]

  @jax.jit
  @jax.vmap
  def sweep(lr):
    return value_iteration(gridworld(living_reward=lr).mdp)

  batched = sweep(jnp.array(living))
  np.testing.assert_array_equal(batched.converged, [True, True, True, False])
  singles = [VI(gridworld(living_reward=lr).mdp) for lr in living]
  _assert_batch_equals_loop(jax.tree.map(lambda x: x[:3], batched), singles[:3])
  assert not bool(singles[3].converged)  # its numbers must not be used, so are not compared


def test_vmap_over_gridworld_discounts_and_noise_equals_loop():
  discounts = [0.5, 0.9, 0.99, 1.0]
  noises = [0.0, 0.1, 0.2, 0.3]

  @jax.jit
  @jax.vmap
  def sweep(discount, noise):
    return value_iteration(gridworld(discount=discount, noise=noise).mdp)

  batched = sweep(jnp.array(discounts), jnp.array(noises))
  assert bool(jnp.all(batched.converged))
  singles = [VI(gridworld(discount=d, noise=n).mdp) for d, n in zip(discounts, noises)]
  _assert_batch_equals_loop(batched, singles)


@pytest.mark.parametrize("discount", [0.9, 1.0])
def test_sparse_equals_dense_for_every_solver(discount):
  dense = gridworld(discount=discount, living_reward=-0.1).mdp
  sparse = gridworld(discount=discount, living_reward=-0.1, sparse=True).mdp
  for solver in (VI, QI):
    a, b = solver(dense), solver(sparse)
    np.testing.assert_allclose(a.values, b.values, atol=1e-5)
    np.testing.assert_allclose(a.q_values, b.q_values, atol=1e-5)
    np.testing.assert_array_equal(a.policy, b.policy)
    assert int(a.iterations) == int(b.iterations)
  for method in ("solve", "iterative"):
    a, b = PI(dense, method=method), PI(sparse, method=method)
    assert bool(a.converged) and bool(b.converged)
    np.testing.assert_allclose(a.values, b.values, atol=2e-5)
    np.testing.assert_array_equal(a.policy, b.policy)
    a = PE(dense, TEXTBOOK_POLICY_ARRAY, method=method)
    b = PE(sparse, TEXTBOOK_POLICY_ARRAY, method=method)
    np.testing.assert_allclose(a.values, b.values, atol=2e-5)
  # the default methods (solve for dense, iterative for sparse) agree too
  np.testing.assert_allclose(PI(dense).values, PI(sparse).values, atol=2e-5)


# --- non-convergence ---------------------------------------------------------------------------
def test_iteration_cap_reports_not_converged():
  mdp = gridworld().mdp
  for solver in (VI, QI):
    sol = solver(mdp, max_iterations=3)
    assert not bool(sol.converged)
    assert int(sol.iterations) == 3
  ev = PE(mdp, TEXTBOOK_POLICY_ARRAY, method="iterative", max_iterations=3)
  assert not bool(ev.converged) and int(ev.iterations) == 3
  pi = PI(mdp, max_iterations=1)  # the proper start policy is not optimal
  assert not bool(pi.converged) and int(pi.iterations) == 1


@pytest.mark.parametrize("name", sorted(OPTIMAL_SOLVERS))
def test_positive_living_reward_at_discount_one_is_not_converged(name):
  """Staying away from the exits for ever pays: no finite values. Must finish, not converged."""
  mdp = gridworld(living_reward=0.1, discount=1.0).mdp
  sol = OPTIMAL_SOLVERS[name](mdp)
  assert not bool(sol.converged)
  assert float(sol.error_bound) == np.inf
  if name == "policy_iteration":
    # stops once a policy that avoids the exits cannot be evaluated, not at the cap of 1000
    assert int(sol.iterations) < 100
  else:
    # stopped by the divergence check, long before the default cap of 100_000 sweeps
    assert int(sol.iterations) < 10_000


@pytest.mark.parametrize("method", ["solve", "iterative"])
def test_policy_that_never_terminates_at_discount_one_is_not_converged(method):
  # two states: 'stay' in state 0 costs 1 for ever
  two = _two_state(-1.0, -3.0, 1.0)
  assert not bool(PE(two, jnp.array([0, 0]), method=method).converged)
  assert bool(PE(two, jnp.array([1, 0]), method=method).converged)
  # the 4x3 world: always 'left' never reaches an exit from all but the bottom-right cell,
  # always 'down' from any cell but the top row's right end
  g = gridworld(discount=1.0)
  for action in (LEFT, DOWN):
    ev = PE(g.mdp, jnp.full(11, action, jnp.int32), method=method)
    assert not bool(ev.converged), (
        f"policy 'always {action}' claimed converged with values {np.asarray(ev.values)}")


def test_policy_iteration_at_discount_one_converges_from_default_start():
  g = gridworld(discount=1.0)
  start = PROPER(g.mdp)
  assert bool(PE(g.mdp, start, method="solve").converged)
  for method in ("solve", "iterative"):
    sol = PI(g.mdp, method=method)
    assert bool(sol.converged)
    assert 1 <= int(sol.iterations) <= 20
    np.testing.assert_array_equal(np.asarray(sol.policy)[~g.is_exit],
                                  TEXTBOOK_POLICY_ARRAY[~g.is_exit])


def _absorption_probabilities(mdp, policy, terminal, steps=2**24):
  p = np.asarray(policy_transitions(mdp, policy), np.float64)
  p /= p.sum(-1, keepdims=True)  # float32 rows sum to 1 only to rounding
  return np.linalg.matrix_power(p, steps) @ terminal.astype(np.float64)


@pytest.mark.parametrize("layout,noise,sparse", [
    (None, 0.2, False),
    (None, 0.0, True),
    (("S . . # . +1",
      ". # . # . .",
      ". # . . . #",
      ". # # # . -1",
      ". . . . . ."), 0.2, False),
    (gridworld_layout(6, 7, walls=[(1, 1), (2, 2), (3, 3), (4, 4), (1, 5)]), 0.4, True),
])
def test_proper_policy_reaches_an_exit_from_every_cell(layout, noise, sparse):
  g = gridworld(noise=noise, sparse=sparse) if layout is None else gridworld(
      layout, noise=noise, sparse=sparse)
  policy = PROPER(g.mdp)
  assert policy.dtype == jnp.int32 and policy.shape == (g.num_states,)
  reach = _absorption_probabilities(g.mdp, policy, g.is_exit)
  np.testing.assert_allclose(reach, 1.0, atol=1e-6)


def test_proper_policy_in_states_that_cannot_terminate():
  """State 2 is a closed loop: no terminal state is reachable, so it takes the action of highest
  immediate reward; states 0 and 1 head for terminal state 3."""
  p = np.zeros((4, 2, 4), np.float32)
  p[0, 0, 0] = p[0, 1, 1] = 1  # 0: a0 stays, a1 -> 1
  p[1, 0, 3] = p[1, 1, 0] = 1  # 1: a0 -> terminal, a1 -> 0
  p[2, :, 2] = 1
  p[3, :, 3] = 1
  r = np.array([[5, 0], [0, 5], [-1, 2], [0, 0]], np.float32)
  policy = np.asarray(PROPER(TabularMDP(p, r, 1.0)))
  np.testing.assert_array_equal(policy[:3], [1, 0, 1])


def test_policy_iteration_from_an_improper_start_at_discount_one_is_not_converged():
  g = gridworld(discount=1.0)
  two = _two_state(-1.0, -3.0, 1.0)
  assert not bool(PI(two, initial_policy=jnp.array([0, 0])).converged)
  assert bool(PI(two, initial_policy=jnp.array([1, 0])).converged)
  sol = PI(g.mdp, initial_policy=jnp.full(11, LEFT, jnp.int32))
  assert not bool(sol.converged)


# --- refusals ---------------------------------------------------------------------------------
def test_batched_mdp_without_vmap_is_refused():
  batch = _stack(gridworld().mdp, gridworld(discount=0.9).mdp)
  calls = {
      "value_iteration": lambda: value_iteration(batch),
      "q_iteration": lambda: q_iteration(batch),
      "policy_iteration": lambda: policy_iteration(batch),
      "policy_evaluation": lambda: policy_evaluation(batch, TEXTBOOK_POLICY_ARRAY),
  }
  for name, call in calls.items():
    with pytest.raises(ValueError, match=rf"batch shape \(2,\).*jax\.vmap\({name}\)"):
      call()


def test_not_an_mdp_is_refused():
  with pytest.raises(TypeError, match="expects a TabularMDP"):
    value_iteration((1, 2, 3))


def _uniform_with_row(state, row):
  probs = np.full((11, 4), 0.25, np.float32)
  probs[state] = row
  return probs


@pytest.mark.parametrize("policy,message", [
    (np.zeros(10, np.int32), r"deterministic policy must be int \[S\] = \(11,\)"),
    (np.zeros((11, 1), np.int32), r"deterministic policy must be int \[S\]"),
    (np.full(11, 4, np.int32), r"picks action 4 in state 0; actions are 0\.\.3"),
    (np.where(np.arange(11) == 5, -1, 0).astype(np.int32), r"picks action -1 in state 5"),
    (np.full((11, 3), 1 / 3, np.float32), r"stochastic policy must be \[S, A\] = \(11, 4\)"),
    (np.full(11, 0.5, np.float32), r"stochastic policy must be \[S, A\]"),
    (_uniform_with_row(2, [0.3, 0.3, 0.3, 0.3]), r"probabilities in state 2 are not a distribution"),
    (_uniform_with_row(4, [0.25, -0.5, 1.0, 0.25]),  # sums to 1, one negative
     r"probabilities in state 4 are not a distribution"),
    (_uniform_with_row(7, [np.nan, 0.5, 0.25, 0.25]),
     r"probabilities in state 7 are not a distribution"),
])
def test_bad_policies_are_refused(policy, message):
  mdp = gridworld().mdp
  for method in ("solve", "iterative"):
    with pytest.raises(ValueError, match=message):
      policy_evaluation(mdp, policy, method=method)
  if np.issubdtype(policy.dtype, np.integer):
    with pytest.raises(ValueError, match=message.replace("policy_evaluation", "policy_iteration")):
      policy_iteration(mdp, initial_policy=policy)


def test_policy_iteration_refuses_a_stochastic_start():
  with pytest.raises(ValueError, match=r"initial_policy must be deterministic"):
    policy_iteration(gridworld().mdp, initial_policy=np.full((11, 4), 0.25, np.float32))


@pytest.mark.parametrize("kwargs,message", [
    (dict(tol=0.0), r"tol must be positive"),
    (dict(tol=-1e-3), r"tol must be positive"),
    (dict(max_iterations=0), r"max_iterations must be at least 1"),
])
def test_bad_loop_arguments(kwargs, message):
  mdp = gridworld().mdp
  for call in (value_iteration, q_iteration, policy_iteration,
               lambda m, **kw: policy_evaluation(m, TEXTBOOK_POLICY_ARRAY, method="iterative", **kw)):
    with pytest.raises(ValueError, match=message):
      call(mdp, **kwargs)


def test_unknown_method_is_refused():
  mdp = gridworld().mdp
  with pytest.raises(ValueError, match=r"method must be 'solve' or 'iterative', got 'lu'"):
    policy_evaluation(mdp, TEXTBOOK_POLICY_ARRAY, method="lu")
  with pytest.raises(ValueError, match=r"method must be 'solve' or 'iterative'"):
    policy_iteration(mdp, method="lu")


def test_dense_solve_refused_above_max_states(monkeypatch):
  monkeypatch.setattr(solvers_module, "MAX_DENSE_SOLVE_STATES", 10)
  dense, sparse = gridworld().mdp, gridworld(sparse=True).mdp  # 11 states
  for mdp in (dense, sparse):
    with pytest.raises(ValueError, match=r"dense 11 x 11 matrix; use method='iterative' beyond 10"):
      policy_evaluation(mdp, TEXTBOOK_POLICY_ARRAY, method="solve")
    with pytest.raises(ValueError, match=r"method='iterative'"):
      policy_iteration(mdp, method="solve")
  with pytest.raises(ValueError, match=r"method='iterative'"):
    policy_evaluation(dense, TEXTBOOK_POLICY_ARRAY)  # dense defaults to the solve
  # the iterative method (the sparse default) is not refused
  assert bool(PE(sparse, TEXTBOOK_POLICY_ARRAY).converged)
  assert bool(PI(dense, method="iterative").converged)
  monkeypatch.setattr(solvers_module, "MAX_DENSE_SOLVE_STATES", 11)
  assert bool(jax.jit(lambda m: policy_evaluation(m, jnp.asarray(TEXTBOOK_POLICY_ARRAY),
                                                  method="solve").converged)(dense))


def test_init_values_do_not_change_the_answer():
  mdp = gridworld(discount=0.9).mdp
  ref = VI(mdp)
  warm_start = jax.jit(lambda m, v: value_iteration(m, init_values=v))
  warm = warm_start(mdp, ref.values)
  assert int(warm.iterations) <= 2
  np.testing.assert_allclose(warm.values, ref.values, atol=1e-5)
  far = warm_start(mdp, jnp.full(11, 50.0))
  np.testing.assert_allclose(far.values, ref.values, atol=_tolerance(far, 1) + _tolerance(ref, 1))
  assert int(far.iterations) > int(ref.iterations)
  q_far = jax.jit(lambda m, q: q_iteration(m, init_q_values=q))(mdp, jnp.full((11, 4), -50.0))
  np.testing.assert_allclose(q_far.q_values, ref.q_values,
                             atol=_tolerance(q_far, 1) + _tolerance(ref, 1))
  ev = jax.jit(lambda m, p, v: policy_evaluation(m, p, method="iterative", init_values=v))(
      mdp, ref.policy, ref.values)
  np.testing.assert_allclose(ev.values, ref.values, atol=1e-5)
  assert int(ev.iterations) <= 2


# ---------------------------------------------------------------------------------------------
# (c) Agreement with pymdptoolbox
# ---------------------------------------------------------------------------------------------
def _toolbox_examples():
  import mdptoolbox.example  # pylint: disable=g-import-not-at-top
  yield "forest", mdptoolbox.example.forest(S=5)
  yield "forest_b", mdptoolbox.example.forest(S=5, r1=5, r2=3, p=0.05)
  state = np.random.get_state()
  try:
    for seed in (0, 1):
      np.random.seed(seed)
      yield f"rand_{seed}", mdptoolbox.example.rand(8, 3)
  finally:
    np.random.set_state(state)


@pytest.mark.parametrize("discount", [0.9, 0.96])
def test_agreement_with_pymdptoolbox(discount):
  import mdptoolbox.mdp  # pylint: disable=g-import-not-at-top
  for name, (P, R) in _toolbox_examples():
    ref_pi = mdptoolbox.mdp.PolicyIteration(P, R, discount)  # exact (matrix) evaluation
    ref_pi.run()
    ref_vi = mdptoolbox.mdp.ValueIteration(P, R, discount)
    ref_vi.run()
    mdp = from_mdptoolbox(P, R, discount)
    pi_values = np.asarray(ref_pi.V)
    for solver in (VI, QI, PI):
      sol = solver(mdp)
      assert bool(sol.converged), name
      np.testing.assert_array_equal(sol.policy, ref_pi.policy, err_msg=name)
      np.testing.assert_array_equal(sol.policy, ref_vi.policy, err_msg=name)
      np.testing.assert_allclose(sol.values, pi_values, rtol=1e-4, atol=1e-4 * _scale(pi_values),
                                 err_msg=name)
