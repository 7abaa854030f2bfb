"""Exact solvers for a single :class:`TabularMDP`, as pure ``jit``/``vmap``/``grad``-able functions.

Batch over MDPs with ``jax.vmap(value_iteration)(stacked_mdp)``; every loop is a
``lax.while_loop`` with a tolerance and an iteration cap, so a batch stops each member on its own
schedule and nothing hangs.

Stopping rule (value and Q-iteration, iterative policy evaluation). With
``delta_k = ||V_{k+1} - V_k||_inf`` and discount ``g < 1``, the contraction bound

    ||V_{k+1} - V*||_inf <= g / (1 - g) * delta_k

holds, so the loop stops once ``delta_k <= tol * (1 - g) / g`` and the returned *values* (not
only the greedy policy) are within ``tol`` of the fixed point. ``Solution.error_bound`` reports
``g / (1 - g) * delta_k`` itself. (pymdptoolbox stops on the *span* of ``V_{k+1} - V_k``, which
bounds only the loss of the greedy policy; its values can be off by far more than epsilon.)
At ``g = 1`` no such bound exists; the loop stops once ``delta_k <= tol`` and ``error_bound``
is ``inf``. In floating point the change cannot shrink below rounding: the loop also stops once
``delta_k <= 16 * eps * max|V|`` (``eps`` of the dtype) and ``error_bound`` then shows the
precision actually reached (use ``jax_enable_x64`` for tighter values).

``converged`` is False when the cap is reached or the values stop being finite; at discount 1 the
loop also stops early, not converged, once S + 256 sweeps in a row change the values by the same
non-zero amounts (to rounding) (values growing linearly for ever: a positive reward loop, or a
negative one nothing can escape). Such a solution's numbers must not be used.

``converged`` says nothing about the MDP itself: a concrete MDP was checked when it was built,
but one built inside ``jit``/``vmap`` (traced) cannot be read while tracing. Every solver then
emits the MDP's rules as opt-in traced checks (:func:`~jaxrl.mdp.core.check_traced`, also for a
traced ``tol``/``max_iterations``/policy): compiled away in a plain ``jit``, a ValueError naming
the rule, state and action under ``jaxrl.validation.checked(value_iteration)(mdp)``. jax 0.10's
``checkify`` cannot transform a vmapped ``while_loop``: check a batch member by member with
``checked(value_iteration, in_axes=0, sequential=True)(batch)``, or in parallel, read
:func:`~jaxrl.mdp.core.validity` next to the vmapped solve and name the bad members with
``jaxrl.validation.raise_failures``::

    sol, ok = jax.jit(lambda b: (jax.vmap(value_iteration)(b), validity(b)))(batch)
    jaxrl.validation.raise_failures(ok)  # ValueError: ... rows must sum to 1 ...: batch member 3

Discount 1: absorbing zero-reward states (:func:`~jaxrl.mdp.bellman.terminal_states`) are held at
value 0, which makes the linear system of a policy that reaches them with probability 1
non-singular. Policy iteration starts from a policy that reaches a terminal state from every
state that can reach one (see :func:`proper_policy`), so it works on the textbook grid world at
discount 1. A policy that never terminates has no finite value there, and is reported
as not converged.

Gradients: every solver's ``values`` and ``q_values`` are reverse-differentiable (``jax.grad``,
``jax.vjp``, ``jax.jacrev``) with respect to the MDP's rewards, transition probabilities and
discount. Value/Q-iteration and iterative evaluation differentiate implicitly at the fixed point
(a ``custom_vjp``: the adjoint system ``u = v_bar + g P_pi*^T u`` is solved by the same fixed-point iteration, with
the greedy policy held fixed), so memory does not grow with the number of sweeps; the linear solve
differentiates through LU. At discount 1 the derivative with respect to a terminal state's own
reward is taken as 0. Forward mode (``jax.jvp``) is supported by the linear solve only.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import numpy as np
import jax.numpy as jnp
from jax import lax

from jaxrl import validation
from jaxrl.mdp import bellman
from jaxrl.mdp.core import SparseTransitions, TabularMDP, check_traced

__all__ = (
    "DEFAULT_MAX_ITERATIONS",
    "DEFAULT_TOL",
    "Evaluation",
    "MAX_DENSE_SOLVE_STATES",
    "ROUNDING_ULPS",
    "Solution",
    "policy_evaluation",
    "policy_iteration",
    "proper_policy",
    "q_iteration",
    "value_iteration",
)


Array = chex.Array

DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITERATIONS = 100_000
#: Dense linear solves build an ``[S, S]`` matrix; beyond this many states use ``method="iterative"``.
MAX_DENSE_SOLVE_STATES = 20_000
#: A sweep cannot change values by less than rounding: a few units in the last place of each of
#: the sums it does. Below ``ROUNDING_ULPS * eps * max|V|`` the loop stops (see the docstring).
ROUNDING_ULPS = 16.0


class Solution(NamedTuple):
  """What a solver returns (add leading ``[*B]`` axes under ``vmap``).

  Attributes:
    values: ``[S]`` state values ``V``.
    q_values: ``[S, A]`` action values ``Q = r + discount * P V``.
    policy: int32 ``[S]`` greedy policy.
    iterations: int32 ``[]`` sweeps (value/Q-iteration, iterative evaluation) or improvement
      steps (policy iteration).
    converged: bool ``[]``; False when the cap was reached or the values did not stay finite.
    error_bound: ``[]`` bound on ``||values - V_fixed_point||_inf`` (``inf`` when none is known,
      e.g. at discount 1).
  """

  values: Array
  q_values: Array
  policy: Array
  iterations: Array
  converged: Array
  error_bound: Array


class Evaluation(NamedTuple):
  """The value of a given policy (see :func:`policy_evaluation`).

  Attributes:
    values: ``[S]`` ``V_pi``.
    q_values: ``[S, A]`` ``Q_pi = r + discount * P V_pi``.
    iterations: int32 ``[]`` sweeps (0 for the linear solve).
    converged: bool ``[]``; False when the cap was reached, the solve was singular (a policy
      that never terminates at discount 1) or the values were not finite.
    error_bound: ``[]`` bound on ``||values - V_pi||_inf`` (``inf`` when none is known).
  """

  values: Array
  q_values: Array
  iterations: Array
  converged: Array
  error_bound: Array


# --------------------------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------------------------
def _check_single(mdp: TabularMDP, name: str) -> None:
  """One MDP; when it is traced (its values unread, e.g. built inside ``jit``), its value rules
  become opt-in traced checks (:func:`~jaxrl.mdp.core.check_traced`: raised under
  :func:`jaxrl.validation.checked`, compiled away otherwise)."""
  if not isinstance(mdp, TabularMDP):
    raise TypeError(f"{name} expects a TabularMDP, got {type(mdp).__name__}.")
  if mdp.batch_shape:
    raise ValueError(
        f"{name} solves one MDP; this one has batch shape {mdp.batch_shape}. "
        f"Use jax.vmap({name})(mdp) for a batch.")
  if validation.any_traced(mdp):
    check_traced(mdp)


def _check_loop_args(tol, max_iterations, name: str) -> None:
  """``tol > 0`` and ``max_iterations`` an integer >= 1, given as Python, numpy or 0-d jax
  numbers (taken by value); traced values (a vmapped tolerance) get the opt-in traced check."""
  if validation.is_traced(tol):
    validation.check_rule_traced(f"{name}: tol", tol, validation.POSITIVE)
  else:
    validation.check_scalar(f"{name}: tol", tol, validation.POSITIVE)
  if validation.is_traced(max_iterations):
    validation.check_rule_traced(f"{name}: max_iterations", max_iterations,
                                 validation.AT_LEAST_ONE)
  else:
    validation.check_int(f"{name}: max_iterations", max_iterations)
    validation.check_rule(f"{name}: max_iterations", max_iterations, validation.AT_LEAST_ONE)


def _pinned(mdp: TabularMDP, rewards: Array) -> Array:
  """States whose value is held at 0: terminal states, at discount 1 only. ``bool [S]``."""
  return bellman.terminal_states(mdp, rewards) & (mdp.discount >= 1.0)


def _stop_threshold(discount: Array, tol) -> Array:
  return jnp.where(discount < 1.0, tol * (1.0 - discount) / jnp.maximum(discount, 1e-30), tol)


def _error_bound(discount: Array, delta: Array) -> Array:
  return jnp.where(discount < 1.0, discount / (1.0 - jnp.minimum(discount, 1.0 - 1e-12)) * delta,
                   jnp.inf)


def _adjoint_solve(vjp_x, x_bar, max_iterations):
  """Solves ``u = x_bar + J^T u`` by fixed-point iteration (``J`` the operator's Jacobian at
  the fixed point, given as its VJP).

  ``J^T`` is a contraction in the same sense as the forward operator (modulus ``discount``, or
  termination with probability 1 at discount 1), so this converges at the forward loop's rate;
  unlike Krylov methods it cannot break down. Iterates until the change is at rounding level.
  """
  eps = jnp.finfo(x_bar.dtype).eps

  def cond(c):
    _, delta, scale, it = c
    return (delta > 16 * eps * scale) & (it < max_iterations) & jnp.isfinite(delta)

  def body(c):
    u, _, _, it = c
    u_new = x_bar + vjp_x(u)[0]
    return u_new, jnp.max(jnp.abs(u_new - u)), jnp.max(jnp.abs(u_new)), it + 1

  init = (x_bar, jnp.full((), jnp.finfo(x_bar.dtype).max, x_bar.dtype), jnp.ones((), x_bar.dtype),
          jnp.zeros((), jnp.int32))
  return lax.while_loop(cond, body, init)[0]


def _iterate(operator, params, x0, limits):
  """Iterates ``x <- operator(params, x)`` under the module's stopping rule (not differentiable)."""
  discount = params[0].discount
  tol, max_iterations = limits[0], limits[1]
  threshold = _stop_threshold(discount, tol)
  eps = jnp.finfo(x0.dtype).eps

  # At discount 1, sweeps that change the values by the same amounts as the sweep before (to
  # rounding, while the change is >= 1024 times rounding), S + 256 times in a row (long enough
  # for every state to have heard from every other), mean the values grow linearly for ever:
  # stop, not converged. A converging loop would need a rate above 1 - 1/1024 to look like this.
  patience = x0.shape[0] + 256

  def cond(carry):
    *_, it, _, done = carry
    return ~done & (it < max_iterations)

  def body(carry):
    x, step_prev, repeats, it, _, _ = carry
    x_new = operator(params, x)
    step = x_new - x
    delta = jnp.max(jnp.abs(step))
    finite = jnp.all(jnp.isfinite(x_new))
    floor = ROUNDING_ULPS * eps * jnp.max(jnp.abs(x_new))
    repeated = (delta > threshold) & (delta >= 1024 * floor) & (
        jnp.max(jnp.abs(step - step_prev)) <= floor)
    repeats = jnp.where(repeated, repeats + 1, 0)
    diverging = (discount >= 1.0) & (repeats >= patience)
    done = (delta <= threshold) | (delta <= floor) | ~finite | diverging
    return x_new, step, repeats, it + 1, delta, done

  zero = jnp.zeros((), jnp.int32)
  carry = (x0, jnp.zeros_like(x0), zero, zero, jnp.full((), jnp.inf, x0.dtype), jnp.zeros((), bool))
  x, _, _, it, delta, _ = lax.while_loop(cond, body, carry)
  finite = jnp.all(jnp.isfinite(x))
  floor = ROUNDING_ULPS * eps * jnp.max(jnp.abs(x))
  converged = finite & ((delta <= threshold) | (delta <= floor))
  return x, (it, converged, delta)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fixed_point(operator, params, x0, limits):
  """The fixed point ``x* = operator(params, x*)``, reverse-differentiable in ``params``.

  Implicit function theorem: with ``J = d operator / dx`` at ``x*``, the cotangent ``u`` solves
  ``u = x_bar + J^T u`` and ``params_bar = (d operator / d params)^T u``. The forward loop is
  never differentiated, so its cost does not grow with the number of sweeps.
  """
  return _iterate(operator, params, x0, limits)


def _fixed_point_fwd(operator, params, x0, limits):
  out = _iterate(operator, params, x0, limits)
  return out, (params, out[0], x0, limits)


def _fixed_point_bwd(operator, residuals, cotangents):
  params, x_star, x0, limits = residuals
  x_bar = cotangents[0]
  _, vjp_x = jax.vjp(lambda x: operator(params, x), x_star)
  u = _adjoint_solve(vjp_x, x_bar, limits[1])
  _, vjp_params = jax.vjp(lambda p: operator(p, x_star), params)
  (params_bar,) = vjp_params(u)
  return params_bar, jnp.zeros_like(x0), jnp.zeros_like(limits)


_fixed_point.defvjp(_fixed_point_fwd, _fixed_point_bwd)


def _iterate_to_fixed_point(operator, params, x0, tol, max_iterations):
  limits = jnp.stack([jnp.asarray(tol, x0.dtype), jnp.asarray(max_iterations, x0.dtype)])
  return _fixed_point(operator, params, x0, limits)


def _optimality_op(params, v):
  mdp, rewards, pinned = params
  return jnp.where(pinned, 0.0, bellman.bellman_optimality(mdp, v, rewards))


def _q_optimality_op(params, q):
  mdp, rewards, pinned = params
  return jnp.where(pinned[:, None], 0.0, bellman.bellman_q_optimality(mdp, q, rewards))


def _expectation_op(params, v):
  mdp, rewards, pinned, policy = params
  return jnp.where(pinned, 0.0, bellman.bellman_expectation(mdp, policy, v, rewards))


# --------------------------------------------------------------------------------------------
# Value iteration and Q-iteration
# --------------------------------------------------------------------------------------------
def value_iteration(mdp: TabularMDP, *, init_values: Array | None = None, tol: float = DEFAULT_TOL,
                    max_iterations: int = DEFAULT_MAX_ITERATIONS) -> Solution:
  """Value iteration: ``V_{k+1}(s) = max_a [r(s, a) + discount * sum_s' P(s' | s, a) V_k(s')]``.

  Stops by the module's rule, so ``||values - V*||_inf <= error_bound`` when ``discount < 1``
  and ``converged``; ``error_bound <= tol`` unless the loop stopped at float rounding (in float32
  with a small ``tol`` and large values), when ``error_bound`` is the precision actually reached
  and ``jax_enable_x64`` gets closer to ``tol``. Reference: Bellman (1957); Puterman (1994) sec. 6.3.

  Args:
    mdp: a single MDP (``vmap`` for a batch), dense or sparse.
    init_values: ``[S]`` starting values (zeros by default).
    tol: bound on the error of the returned values (see the module docstring).
    max_iterations: cap on sweeps; reaching it gives ``converged = False``.

  Returns:
    A :class:`Solution`.

  Example:
    >>> from jaxrl.mdp import gridworld, value_iteration
    >>> sol = jax.jit(value_iteration)(gridworld().mdp)
    >>> bool(sol.converged)
    True
  """
  _check_single(mdp, "value_iteration")
  _check_loop_args(tol, max_iterations, "value_iteration")
  rewards = bellman.expected_rewards(mdp)
  pinned = _pinned(mdp, rewards)

  v0 = jnp.zeros(mdp.num_states, rewards.dtype) if init_values is None else jnp.asarray(
      init_values, rewards.dtype)
  v, (it, converged, delta) = _iterate_to_fixed_point(_optimality_op, (mdp, rewards, pinned), v0,
                                                      tol, max_iterations)
  q = bellman.q_from_values(mdp, v, rewards)
  return Solution(v, q, bellman.greedy_policy(q), it, converged, _error_bound(mdp.discount, delta))


def q_iteration(mdp: TabularMDP, *, init_q_values: Array | None = None, tol: float = DEFAULT_TOL,
                max_iterations: int = DEFAULT_MAX_ITERATIONS) -> Solution:
  """Q-iteration: ``Q_{k+1}(s, a) = r(s, a) + discount * sum_s' P(s' | s, a) max_a' Q_k(s', a')``.

  Same stopping rule as :func:`value_iteration`, on ``||Q_{k+1} - Q_k||_inf``, so
  ``||q_values - Q*||_inf <= error_bound``.

  Args:
    mdp: a single MDP, dense or sparse.
    init_q_values: ``[S, A]`` starting values (zeros by default).
    tol: bound on the error of the returned Q-values.
    max_iterations: cap on sweeps.

  Returns:
    A :class:`Solution` with ``values = max_a q_values``.
  """
  _check_single(mdp, "q_iteration")
  _check_loop_args(tol, max_iterations, "q_iteration")
  rewards = bellman.expected_rewards(mdp)
  pinned = _pinned(mdp, rewards)

  q0 = jnp.zeros((mdp.num_states, mdp.num_actions), rewards.dtype) if init_q_values is None \
      else jnp.asarray(init_q_values, rewards.dtype)
  q, (it, converged, delta) = _iterate_to_fixed_point(_q_optimality_op, (mdp, rewards, pinned), q0,
                                                      tol, max_iterations)
  return Solution(jnp.max(q, -1), q, bellman.greedy_policy(q), it, converged,
                  _error_bound(mdp.discount, delta))


# --------------------------------------------------------------------------------------------
# Policy evaluation
# --------------------------------------------------------------------------------------------
def _terminates(mdp: TabularMDP, probs: Array, pinned: Array) -> Array:
  """Whether the policy ``probs [S, A]`` reaches a pinned state from every state. ``bool []``.

  In a finite Markov chain, absorption is certain exactly when an absorbing set can be reached
  from every state; this is a backward reachability search over positive-probability moves.
  """
  t = mdp.transitions
  acts = probs > 0

  def body(carry):
    reach, _ = carry
    if isinstance(t, SparseTransitions):
      reach_sa = jnp.any((t.probs > 0) & reach[t.indices], axis=-1)
    else:
      reach_sa = jnp.any((t > 0) & reach[None, None, :], axis=-1)
    new = pinned | jnp.any(acts & reach_sa, axis=-1)
    return new, jnp.any(new != reach)

  reach, _ = lax.while_loop(lambda c: c[1], body, (pinned, jnp.array(True)))
  return jnp.all(reach)


def _solve_linear(mdp: TabularMDP, policy: Array, rewards: Array):
  """``(I - g P_pi) V = r_pi`` by LU, with pinned (terminal, at g = 1) rows replaced by ``V(s) = 0``.

  At discount 1 the system is non-singular exactly when the policy reaches a pinned state from
  every state; that is checked, so a policy that does not terminate is reported, not solved.
  """
  probs = bellman.policy_probabilities(policy, mdp.num_actions).astype(rewards.dtype)
  p_pi = bellman.policy_transitions(mdp, probs)
  r_pi = jnp.sum(probs * rewards, -1)
  pinned = _pinned(mdp, rewards)
  eye = jnp.eye(mdp.num_states, dtype=rewards.dtype)
  a = jnp.where(pinned[:, None], eye, eye - mdp.discount * p_pi)
  b = jnp.where(pinned, 0.0, r_pi)
  v = jnp.linalg.solve(a, b)
  residual = jnp.max(jnp.abs(a @ v - b))
  finite = jnp.all(jnp.isfinite(v))
  proper = (mdp.discount < 1.0) | _terminates(mdp, lax.stop_gradient(probs), pinned)
  scale = 1.0 + jnp.max(jnp.abs(b))
  converged = finite & proper & (residual <= 1e3 * jnp.finfo(v.dtype).eps * mdp.num_states * scale)
  bound = jnp.where(mdp.discount < 1.0, residual / (1.0 - jnp.minimum(mdp.discount, 1 - 1e-12)),
                    jnp.inf)
  return v, jnp.zeros((), jnp.int32), lax.stop_gradient(converged), lax.stop_gradient(bound)


def _solve_iterative(mdp, policy, rewards, init_values, tol, max_iterations):
  pinned = _pinned(mdp, rewards)

  v0 = jnp.zeros(mdp.num_states, rewards.dtype) if init_values is None else init_values
  v, (it, converged, delta) = _iterate_to_fixed_point(_expectation_op, (mdp, rewards, pinned, policy),
                                                      v0, tol, max_iterations)
  return v, it, converged, _error_bound(mdp.discount, delta)


def _check_policy(mdp: TabularMDP, policy, name: str) -> Array:
  """Checks shape always, and values with numpy when the policy is concrete (even inside jit);
  a traced policy's values get the opt-in traced checks (:func:`_check_policy_traced`)."""
  num_states, num_actions = mdp.num_states, mdp.num_actions
  traced = validation.is_traced(policy)
  policy = policy if traced else np.asarray(policy)
  if np.issubdtype(policy.dtype, np.integer):
    if policy.shape != (num_states,):
      raise ValueError(f"{name}: a deterministic policy must be int [S] = ({num_states},), "
                       f"got shape {policy.shape}.")
    if traced:
      _check_policy_traced(policy, num_actions, name)
    else:
      bad = (policy < 0) | (policy >= num_actions)
      if bad.any():
        s = int(np.argmax(bad))
        raise ValueError(f"{name}: policy picks action {int(policy[s])} in state {s}; "
                         f"actions are 0..{num_actions - 1}.")
  else:
    if policy.shape != (num_states, num_actions):
      raise ValueError(f"{name}: a stochastic policy must be [S, A] = ({num_states}, {num_actions}) "
                       f"probabilities, got shape {policy.shape}.")
    if traced:
      _check_policy_traced(policy, num_actions, name)
    else:
      bad = (policy < 0).any(-1) | ~np.isfinite(policy).all(-1) | (np.abs(policy.sum(-1) - 1) >= 1e-5)
      if bad.any():
        s = int(np.argmax(bad))
        raise ValueError(f"{name}: policy probabilities in state {s} are not a distribution "
                         f"(negative or not summing to 1): {policy[s]}.")
  return policy if traced else jnp.asarray(policy)


def _check_policy_traced(policy: Array, num_actions: int, name: str) -> None:
  """The policy's value rules as opt-in traced checks (see :func:`_check_single`)."""
  if jnp.issubdtype(policy.dtype, jnp.integer):
    bad = (policy < 0) | (policy >= num_actions)
    s = jnp.argmax(bad)
    validation.traced_check(~jnp.any(bad), f"{name}: policy picks action {{a}} in state {{s}}; "
                            f"actions are 0..{num_actions - 1}.", a=policy[s], s=s)
  else:
    bad = (policy < 0).any(-1) | ~jnp.isfinite(policy).all(-1) | ~(
        jnp.abs(policy.sum(-1) - 1) < 1e-5)
    s = jnp.argmax(bad)
    validation.traced_check(~jnp.any(bad), f"{name}: policy probabilities in state {{s}} are not a "
                            "distribution (negative or not summing to 1): they sum to {total:.6g}.",
                            s=s, total=policy[s].sum())


def policy_evaluation(mdp: TabularMDP, policy: Array, *, method: str | None = None,
                      init_values: Array | None = None, tol: float = DEFAULT_TOL,
                      max_iterations: int = DEFAULT_MAX_ITERATIONS) -> Evaluation:
  """The value of a policy: the solution of ``V = r_pi + discount * P_pi V``.

  ``method="solve"`` solves the linear system exactly (LU on the dense ``[S, S]`` matrix
  ``I - discount * P_pi``); ``method="iterative"`` repeats the expectation backup
  ``V <- T_pi V`` under the module's stopping rule (matrix-free, for large sparse MDPs).
  Default: ``"solve"`` for dense MDPs, ``"iterative"`` for sparse ones.

  At discount 1, terminal states are pinned to 0 (see the module docstring); a policy that does
  not reach them has no finite value and gives ``converged = False``.

  Args:
    mdp: a single MDP.
    policy: deterministic int ``[S]`` or stochastic ``[S, A]`` (rows are probabilities).
    method: ``"solve"`` or ``"iterative"``.
    init_values: ``[S]`` starting point of the iterative method.
    tol: bound on the error of the values (iterative method).
    max_iterations: cap on sweeps (iterative method).

  Returns:
    An :class:`Evaluation`; its values are differentiable with respect to the MDP (and, for a
    stochastic policy, the policy's probabilities).
  """
  _check_single(mdp, "policy_evaluation")
  _check_loop_args(tol, max_iterations, "policy_evaluation")
  policy = _check_policy(mdp, policy, "policy_evaluation")
  method = _pick_method(mdp, method, "policy_evaluation")
  rewards = bellman.expected_rewards(mdp)
  if method == "solve":
    v, it, converged, bound = _solve_linear(mdp, policy, rewards)
  else:
    v, it, converged, bound = _solve_iterative(mdp, policy, rewards, init_values, tol, max_iterations)
  return Evaluation(v, bellman.q_from_values(mdp, v, rewards), it, converged, bound)


def _pick_method(mdp: TabularMDP, method: str | None, name: str) -> str:
  if method is None:
    method = "iterative" if mdp.is_sparse else "solve"
  if method not in ("solve", "iterative"):
    raise ValueError(f"{name}: method must be 'solve' or 'iterative', got {method!r}.")
  if method == "solve" and mdp.num_states > MAX_DENSE_SOLVE_STATES:
    raise ValueError(
        f"{name}: method='solve' would build a dense {mdp.num_states} x {mdp.num_states} matrix; "
        f"use method='iterative' beyond {MAX_DENSE_SOLVE_STATES} states.")
  return method


# --------------------------------------------------------------------------------------------
# Policy iteration
# --------------------------------------------------------------------------------------------
def proper_policy(mdp: TabularMDP) -> Array:
  """A policy that reaches a terminal state with probability 1 from every state that can.

  Computes ``d(s)``, the fewest steps in which some sequence of actions reaches a terminal
  state with positive probability (a backward breadth-first search), and in each state picks an
  action that can move to a state one step closer. If every state can reach a terminal state,
  this policy terminates with probability 1 (it is *proper*), which policy iteration at
  discount 1 needs to start from. States that cannot reach one (and MDPs without terminal
  states) get the action of highest immediate reward. int32 ``[S]``.
  """
  rewards = bellman.expected_rewards(mdp)
  terminal = bellman.terminal_states(mdp, rewards)
  t = mdp.transitions
  big = jnp.iinfo(jnp.int32).max // 2

  def successor_min(d):  # [S, A]: min over possible successors of d
    if isinstance(t, SparseTransitions):
      return jnp.min(jnp.where(t.probs > 0, d[t.indices], big), axis=-1)
    return jnp.min(jnp.where(t > 0, d[None, None, :], big), axis=-1)

  def body(carry):
    d, _ = carry
    best = jnp.min(successor_min(d), axis=-1)
    d_new = jnp.where(terminal, 0, jnp.minimum(d, jnp.where(best < big, best + 1, big)))
    return d_new, jnp.any(d_new != d)

  d0 = jnp.where(terminal, 0, big).astype(jnp.int32)
  d, _ = lax.while_loop(lambda c: c[1], body, (d0, jnp.array(True)))
  m = successor_min(d)
  closer = jnp.argmin(m, axis=-1).astype(jnp.int32)
  reachable = (d < big) & ~terminal
  return jnp.where(reachable, closer, bellman.greedy_policy(rewards))


def policy_iteration(mdp: TabularMDP, *, initial_policy: Array | None = None,
                     method: str | None = None, tol: float = DEFAULT_TOL,
                     max_iterations: int = 1_000,
                     max_evaluation_iterations: int = DEFAULT_MAX_ITERATIONS) -> Solution:
  """Policy iteration: evaluate ``V_{pi_i}``, then ``pi_{i+1}(s) = argmax_a Q_{pi_i}(s, a)``.

  An action changes only if it beats the current one by more than ``tol`` and more than the
  rounding noise of the evaluation (``64 eps max|Q| min(S, 1/(1-discount))``), so ties and
  round-off cannot make it cycle; it stops when no action changes. Converges in finitely many
  improvement steps, usually far fewer than value iteration's sweeps (Howard, 1960; Puterman
  1994, sec. 6.4). The default start is :func:`proper_policy`, so discount 1 with absorbing exits
  works.

  Args:
    mdp: a single MDP, dense or sparse.
    initial_policy: int ``[S]``; :func:`proper_policy` by default.
    method: evaluation method, as in :func:`policy_evaluation`.
    tol: improvement threshold, and the error bound of iterative evaluation.
    max_iterations: cap on improvement steps.
    max_evaluation_iterations: cap on the sweeps of each iterative evaluation.

  Returns:
    A :class:`Solution`; ``iterations`` counts improvement steps, and ``values`` are those of
    the final policy (differentiable with respect to the MDP). ``error_bound`` bounds
    ``||values - V*||_inf`` by ``max_s (max_a Q(s, a) - V(s)) / (1 - discount)`` plus the
    evaluation's own error (``inf`` at discount 1); with ``tol`` as the improvement threshold the
    policy is within ``tol / (1 - discount)`` of optimal.
  """
  _check_single(mdp, "policy_iteration")
  _check_loop_args(tol, max_iterations, "policy_iteration")
  method = _pick_method(mdp, method, "policy_iteration")
  rewards = bellman.expected_rewards(mdp)
  if initial_policy is None:
    policy0 = proper_policy(mdp)
  else:
    policy0 = _check_policy(mdp, initial_policy, "policy_iteration")
    if not jnp.issubdtype(policy0.dtype, jnp.integer):
      raise ValueError("policy_iteration: initial_policy must be deterministic (int [S]).")
    policy0 = policy0.astype(jnp.int32)

  def evaluate(m, policy, v_init):
    if method == "solve":
      v, _, ok, bound = _solve_linear(m, policy, bellman.expected_rewards(m))
    else:
      v, _, ok, bound = _solve_iterative(m, policy, bellman.expected_rewards(m), v_init, tol,
                                         max_evaluation_iterations)
    return v, ok, bound

  frozen = lax.stop_gradient(mdp)

  def cond(carry):
    _, _, it, stable, ok = carry
    return ~stable & ok & (it < max_iterations)

  def body(carry):
    policy, v, it, _, _ = carry
    v, ok, _ = evaluate(frozen, policy, v)
    q = bellman.q_from_values(frozen, v, lax.stop_gradient(rewards))
    best = bellman.greedy_policy(q)
    q_best = jnp.take_along_axis(q, best[:, None], -1)[:, 0]
    q_old = jnp.take_along_axis(q, policy[:, None], -1)[:, 0]
    # Evaluating a policy in floating point leaves ~eps * |V| / (1 - g) of noise in Q; an action
    # must beat the current one by more than that (and tol), or ties make the loop cycle.
    horizon = jnp.minimum(mdp.num_states, 1.0 / jnp.maximum(1.0 - frozen.discount, 1e-12))
    noise = 64 * jnp.finfo(q.dtype).eps * jnp.max(jnp.abs(q)) * horizon
    new = jnp.where(q_best > q_old + jnp.maximum(tol, noise), best, policy)
    stable = jnp.all(new == policy)
    return new, v, it + 1, stable, ok

  v0 = jnp.zeros(mdp.num_states, rewards.dtype)
  carry = (policy0, v0, jnp.zeros((), jnp.int32), jnp.zeros((), bool), jnp.ones((), bool))
  policy, v_last, it, stable, ok = lax.while_loop(cond, body, carry)
  # Values of the final policy, differentiable with respect to the (unfrozen) MDP.
  v, ok_final, bound = evaluate(mdp, lax.stop_gradient(policy), lax.stop_gradient(v_last))
  q = bellman.q_from_values(mdp, v, rewards)
  converged = stable & ok & ok_final & jnp.all(jnp.isfinite(v))
  # ||V* - V_pi|| <= ||T V_pi - V_pi|| / (1 - g), plus the error of evaluating V_pi.
  gap = lax.stop_gradient(jnp.max(jnp.max(q, -1) - v))
  bound = jnp.where(mdp.discount < 1.0,
                    bound + jnp.maximum(gap, 0.0) / (1.0 - jnp.minimum(mdp.discount, 1 - 1e-12)),
                    jnp.inf)
  return Solution(v, q, policy, it, converged, bound)
