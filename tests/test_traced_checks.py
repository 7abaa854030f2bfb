"""Traced inputs are checked on request: nothing bad passes silently under jit/vmap.

Under ``jit``/``vmap`` the eager checks cannot read values. The opt-in traced checks
(``validation.checked``: checkify) name the rule, the entry and the batch member; the validity
flags (``mdp.validity``, ``AgentConfig.hyperparams_validity``) name the members after a compiled
call; and without either, the compiled program is the one it was before the checks existed.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl import mdp
from jaxrl import validation
from jaxrl.agents import dqn
from jaxrl.mdp import solvers
from jaxrl.training import runner

P = np.full((2, 2, 2), 0.5, np.float32)
R = np.ones((2, 2), np.float32)
ROWS = re.escape("TabularMDP.transitions rows must sum to 1 (tolerance 1e-05)")


def _bad_rows():
  p = P.copy()
  p[0, 1] = [1.0, 1.0]  # row (s=0, a=1) sums to 2
  return p


def _batch(n=5, bad_member=3):
  """A stacked batch whose member ``bad_member`` has a row summing to 2, as one built inside a
  compiled function would be (unflattened: the constructor's eager check does not run)."""
  ps = np.stack([P] * n)
  ps[bad_member] = _bad_rows()
  leaves = [jnp.asarray(ps), jnp.asarray(np.stack([R] * n)), jnp.full(n, 0.9, jnp.float32)]
  return mdp.TabularMDP.tree_unflatten(None, leaves)


SOLVERS = {
    "value_iteration": mdp.value_iteration,
    "q_iteration": mdp.q_iteration,
    "policy_iteration": mdp.policy_iteration,
    "policy_evaluation": lambda m: mdp.policy_evaluation(m, jnp.array([0, 1])),
    "policy_evaluation_iterative": lambda m: mdp.policy_evaluation(m, jnp.array([0, 1]),
                                                                   method="iterative"),
}


# ---------------------------------------------------------------------------------------------
# MDP solvers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_a_bad_mdp_built_under_jit_is_refused_by_checked(name):
  solve = SOLVERS[name]
  build_and_solve = lambda p: solve(mdp.TabularMDP(p, R, 0.9))  # noqa: E731
  with pytest.raises(ValueError, match=ROWS + r": \[s=0, a=1\] sums to 2\.$"):
    validation.checked(build_and_solve)(_bad_rows())
  ok = validation.checked(build_and_solve)(P)
  plain = jax.jit(build_and_solve)(P)
  np.testing.assert_array_equal(ok.values, plain.values)
  assert bool(ok.converged)


@pytest.mark.parametrize("edit, match", [
    (lambda p, r, g: (p.at[1, 0].set(jnp.array([1.5, -0.5])), r, g),
     r"TabularMDP.transitions must be >= 0: \[s=1, a=0, next=1\] is -0.5\."),
    (lambda p, r, g: (p.at[1, 1, 0].set(jnp.nan), r, g),
     r"TabularMDP.transitions must be finite: \[s=1, a=1, next=0\] is nan\."),
    (lambda p, r, g: (p, r.at[0, 1].set(jnp.inf), g),
     r"TabularMDP.rewards must be finite: \[s=0, a=1\] is inf\."),
    (lambda p, r, g: (p, r, g + 0.6), r"TabularMDP.discount must lie in \[0, 1\]: got 1.5\."),
])
def test_each_mdp_rule_is_named_with_its_position(edit, match):
  def f(p, r, g):
    return mdp.value_iteration(mdp.TabularMDP(*edit(p, r, g)))

  with pytest.raises(ValueError, match=match):
    validation.checked(f)(P, R, np.float32(0.9))


def test_sparse_indices_out_of_range_are_named():
  probs = np.full((2, 2, 2), 0.5, np.float32)
  indices = np.array([[[0, 1], [1, 2]], [[0, 0], [1, 1]]], np.int32)
  f = lambda i: mdp.value_iteration(  # noqa: E731
      mdp.TabularMDP(mdp.SparseTransitions(i, probs), R, 0.9))
  with pytest.raises(ValueError, match=r"SparseTransitions.indices must lie in \[0, 2\): "
                                       r"\[s=0, a=1, k=1\] is 2\."):
    validation.checked(f)(indices)


def test_traced_solver_arguments_are_checked():
  m = mdp.TabularMDP(P, R, 0.9)
  with pytest.raises(ValueError, match=r"value_iteration: tol must be positive, got -1\."):
    validation.checked(lambda tol: mdp.value_iteration(m, tol=tol))(-1.0)
  with pytest.raises(ValueError, match=r"policy picks action 5 in state 1; actions are 0\.\.1"):
    validation.checked(lambda pi: mdp.policy_evaluation(m, pi))(jnp.array([0, 5]))
  with pytest.raises(ValueError, match=r"policy probabilities in state 0 are not a distribution"):
    validation.checked(lambda pi: mdp.policy_evaluation(m, pi))(jnp.array([[0.5, 0.6],
                                                                             [1.0, 0.0]]))


def test_one_bad_member_of_a_vmapped_mdp_batch_is_named():
  batch = _batch()
  # the flags, computed in parallel next to the vmapped solve, name the member after the call
  sol, ok = jax.jit(lambda b: (jax.vmap(mdp.value_iteration)(b), mdp.validity(b)))(batch)
  assert ok["TabularMDP.transitions rows must sum to 1 (tolerance 1e-05)"].tolist() == [
      True, True, True, False, True]
  with pytest.raises(ValueError, match=ROWS + r": batch member 3 \(of a batch \(5,\)\)\.$"):
    validation.raise_failures(ok)
  # checked, member by member (checkify cannot vmap the solvers' while_loop in jax 0.10)
  with pytest.raises(ValueError,
                     match=r"^batch member 3: " + ROWS + r": \[s=0, a=1\] sums to 2\.$"):
    validation.checked(mdp.value_iteration, in_axes=0, sequential=True)(batch)
  # the vmapped form says what to do instead of failing inside jax
  with pytest.raises(ValueError, match=r"cannot transform a vmapped while_loop.*sequential=True"):
    validation.checked(mdp.value_iteration, in_axes=0)(batch)
  # check_traced of a whole batch names the member too
  with pytest.raises(ValueError, match=ROWS + r": batch member 3, \[s=0, a=1\] sums to 2\."):
    validation.checked(mdp.check_traced)(batch)


def test_without_checked_the_compiled_solver_is_unchanged(monkeypatch):
  """The checks are opt-in: a plain jit compiles them away (same HLO as with no checks)."""
  def ops(fn, m):  # a fresh lambda each time: jit's trace cache must not hand back the first
    text = jax.jit(lambda m: fn(m)).lower(m).compile().as_text()
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    return sorted(re.findall(r"= [^ ]+ ([a-z][a-z\-]*)\(", text))

  m = mdp.random_mdp(jax.random.PRNGKey(0), 6, 3)
  solve = lambda m: (mdp.value_iteration(m), mdp.policy_iteration(m))  # noqa: E731
  with_checks = ops(solve, m)
  assert "reduce" in with_checks
  monkeypatch.setattr(solvers, "check_traced", lambda mdp: None)
  assert ops(solve, m) == with_checks
  # (the comparison sees a check that is not compiled away)
  monkeypatch.setattr(solvers, "check_traced",
                      lambda mdp: jax.debug.callback(lambda s: None, mdp.transitions.sum()))
  assert ops(solve, m) != with_checks


def test_traced_construction_checks_shapes():
  with pytest.raises(ValueError, match=r"rewards must have shape .* got \(3, 2\)"):
    jax.jit(lambda p: mdp.TabularMDP(p, np.ones((3, 2), np.float32), 0.9).discount)(P)


# ---------------------------------------------------------------------------------------------
# Hyperparameters
# ---------------------------------------------------------------------------------------------
SMALL = dict(total_steps=400, num_envs=4, hidden_sizes=(8,), buffer_size=200, batch_size=8,
             learning_starts=40, log_every=200, eval_every=400, eval_episodes=2)


def _stacked_hp(learning_rates):
  hp = dqn.DQNConfig(**SMALL).hyperparams()
  hp = jax.tree.map(lambda x: jnp.stack([x] * len(learning_rates)), hp)
  return hp._replace(learning_rate=jnp.asarray(learning_rates, jnp.float32))


def test_one_bad_member_of_a_vmapped_hyperparameter_batch_is_named():
  env, params = envs.probe(1)
  train = dqn.make_train(dqn.DQNConfig(**SMALL), env, params)
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  checked_train = validation.checked(train, in_axes=(0, 0))
  good = _stacked_hp([1e-3, 3e-3, 1e-2])
  _, metrics = checked_train(keys, good)
  _, plain = jax.jit(jax.vmap(train))(keys, good)
  np.testing.assert_array_equal(metrics["loss"], plain["loss"])
  with pytest.raises(ValueError, match=r"^batch member 1: DQNConfig.learning_rate must be "
                                       r"positive, got -0\.001\.$"):
    checked_train(keys, _stacked_hp([1e-3, -1e-3, 1e-2]))


def test_hyperparameter_flags_and_the_traced_check_of_a_stacked_batch():
  hp = _stacked_hp([1e-3, 1e-3, -1e-3, 1e-3])
  flags = jax.jit(dqn.DQNConfig.hyperparams_validity)(hp)
  assert flags["DQNConfig.learning_rate must be positive"].tolist() == [True, True, False, True]
  with pytest.raises(ValueError, match=r"^DQNConfig.learning_rate must be positive: batch "
                                       r"member 2 \(of a batch \(4,\)\)\.$"):
    validation.raise_failures(flags)
  with pytest.raises(ValueError, match=r"DQNConfig.learning_rate must be positive, got -0\.001 "
                                       r"\(entry \(2,\) of a batch \(4,\)\)\."):
    validation.checked(dqn.DQNConfig.validate_hyperparams)(hp)
  # eager, the same rule refuses the concrete batch at once
  with pytest.raises(ValueError, match=r"learning_rate must be positive, got -0\.001"):
    dqn.DQNConfig.validate_hyperparams(hp)


def test_the_driver_names_the_bad_setting():
  config = dqn.DQNConfig(**SMALL)
  spec = runner.RunSpec("dqn", config, env="Probe1-v0", num_seeds=2,
                        settings=({"learning_rate": 1e-3}, {"learning_rate": 3e-3},
                                  {"learning_rate": -1.0}))
  with pytest.raises(ValueError, match=r"^setting 2 \{'learning_rate': -1\.0\}: DQNConfig\."
                                       r"learning_rate must be positive, got -1\.0\.$"):
    runner.check(spec)


# ---------------------------------------------------------------------------------------------
# validation's traced helpers
# ---------------------------------------------------------------------------------------------
def test_check_rule_traced_is_free_without_checked_and_names_the_entry_with_it():
  f = lambda lr: (validation.check_rule_traced("lr", lr, validation.POSITIVE), lr * 2)[1]  # noqa
  assert float(jax.jit(f)(-1.0)) == -2.0  # opt-in: a plain jit does not check
  assert float(validation.checked(f)(1.0)) == 2.0
  with pytest.raises(ValueError, match=r"^lr must be positive, got -1\.$"):
    validation.checked(f)(-1.0)
  with pytest.raises(ValueError, match=r"^lr must be positive, got -2 \(entry \(0, 1\) of a "
                                       r"batch \(1, 2\)\)\.$"):
    validation.checked(f)(jnp.array([[1.0, -2.0]]))
  with pytest.raises(ValueError, match=r"^batch member 1: lr must be positive, got -2\.\n"
                                       r"batch member 2: lr must be positive, got -3\.$"):
    validation.checked(f, in_axes=0)(jnp.array([1.0, -2.0, -3.0]))


def test_failures_lists_each_rule_and_its_members():
  flags = {"a must hold": np.array([True, False, False]), "b must hold": np.array(False),
           "c must hold": np.ones((2, 2), bool), "d must hold": np.array([[True, False]])}
  assert validation.failures(flags) == [
      "a must hold: batch members 1, 2 (of a batch (3,))", "b must hold",
      "d must hold: batch member (0, 1) (of a batch (1, 2))"]
  validation.raise_failures({"c": np.ones(3, bool)})


def test_sequential_checked_refuses_axes_it_cannot_map():
  with pytest.raises(ValueError, match="give in_axes"):
    validation.checked(lambda x: x, sequential=True)
  with pytest.raises(ValueError, match=r"in_axes must be 0 or None .* got 1"):
    validation.checked(lambda x: x, in_axes=1, sequential=True)
