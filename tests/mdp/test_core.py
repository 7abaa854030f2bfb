"""TabularMDP: eager validation at the edge, none under transformations; to_dense; pymdptoolbox."""

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse

from jaxrl.mdp import SparseTransitions
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import expected_rewards
from jaxrl.mdp import from_mdptoolbox
from jaxrl.mdp import gridworld
from jaxrl.mdp import random_mdp
from jaxrl.mdp import to_dense

S, A = 3, 2


def _valid():
  """A valid 3-state, 2-action MDP as numpy float32 arrays."""
  rng = np.random.RandomState(0)
  p = rng.uniform(0.1, 1.0, (S, A, S)).astype(np.float32)
  p /= p.sum(-1, keepdims=True)
  r = rng.uniform(-1, 1, (S, A)).astype(np.float32)
  return p, r, np.float32(0.9)


def _valid_sparse():
  """3 states, 2 actions, K=2 successors (one repeated index, one zero padding)."""
  indices = np.array([[[0, 1], [2, 2]],
                      [[1, 0], [0, 2]],
                      [[2, 2], [1, 1]]], np.int32)
  probs = np.array([[[0.5, 0.5], [0.3, 0.7]],
                    [[1.0, 0.0], [0.25, 0.75]],
                    [[0.6, 0.4], [0.9, 0.1]]], np.float32)
  rewards = np.arange(S * A, dtype=np.float32).reshape(S, A)
  return indices, probs, rewards


def _stack(*trees):
  return jax.tree.map(lambda *x: jnp.stack(x), *trees)


# ---------------------------------------------------------------------------------------------
# Valid inputs
# ---------------------------------------------------------------------------------------------
def test_valid_dense_mdp_properties():
  p, r, g = _valid()
  mdp = TabularMDP(p, r, g)
  assert (mdp.num_states, mdp.num_actions, mdp.batch_shape) == (S, A, ())
  assert not mdp.is_sparse
  assert isinstance(mdp.transitions, jax.Array) and mdp.transitions.dtype == jnp.float32
  assert mdp.rewards.dtype == jnp.float32 and mdp.discount.dtype == jnp.float32
  assert mdp.discount.shape == ()
  np.testing.assert_array_equal(mdp.transitions, p)
  np.testing.assert_array_equal(mdp.rewards, r)
  assert "dense" in repr(mdp) and "num_states=3" in repr(mdp)


def test_integer_inputs_become_float_and_edge_discounts_are_valid():
  p = np.zeros((2, 1, 2), np.int32)
  p[0, 0, 1] = p[1, 0, 1] = 1
  for discount in (0, 1, 0.0, 1.0):
    mdp = TabularMDP(p, np.array([[1], [0]]), discount)
    assert jnp.issubdtype(mdp.transitions.dtype, jnp.floating)
    assert jnp.issubdtype(mdp.rewards.dtype, jnp.floating)
    assert float(mdp.discount) == float(discount)


def test_float64_numpy_inputs_become_float32_quietly():
  """numpy's default float64 is the common input; it becomes float32 (x64 off) without the
  'requested dtype float64 is not available' UserWarning on every construction."""
  p, r, g = _valid()
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    mdp = TabularMDP(p.astype(np.float64), r.astype(np.float64), 0.9)
    sparse = TabularMDP(SparseTransitions(_valid_sparse()[0], _valid_sparse()[1].astype(np.float64)),
                        _valid_sparse()[2].astype(np.float64), np.float64(0.5))
  assert mdp.transitions.dtype == mdp.rewards.dtype == mdp.discount.dtype == jnp.float32
  assert sparse.transitions.probs.dtype == jnp.float32


def test_per_transition_rewards_are_valid():
  p, _, g = _valid()
  r3 = np.ones((S, A, S), np.float32)
  mdp = TabularMDP(p, r3, g)
  assert mdp.rewards.shape == (S, A, S)
  np.testing.assert_allclose(expected_rewards(mdp), np.ones((S, A)), atol=1e-6)


def test_valid_sparse_mdp_properties():
  idx, probs, r = _valid_sparse()
  mdp = TabularMDP(SparseTransitions(idx, probs), r, 0.5)
  assert mdp.is_sparse
  assert (mdp.num_states, mdp.num_actions, mdp.batch_shape) == (S, A, ())
  assert mdp.transitions.shape == (S, A, 2)
  assert mdp.transitions.indices.dtype == jnp.int32
  # per-successor rewards [S, A, K]
  mdp_k = TabularMDP(SparseTransitions(idx, probs), np.ones((S, A, 2), np.float32), 0.5)
  assert mdp_k.rewards.shape == (S, A, 2)


def test_immutable_and_replace_validates():
  p, r, g = _valid()
  mdp = TabularMDP(p, r, g)
  with pytest.raises(AttributeError):
    mdp.discount = 0.5
  sp = SparseTransitions(*_valid_sparse()[:2])
  with pytest.raises(AttributeError):
    sp.probs = None
  half = mdp.replace(discount=0.5)
  assert float(half.discount) == 0.5 and float(mdp.discount) == pytest.approx(0.9)
  with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\]"):
    mdp.replace(discount=2.0)


# ---------------------------------------------------------------------------------------------
# Invalid inputs: each raises ValueError naming the problem
# ---------------------------------------------------------------------------------------------
def test_rows_not_summing_to_one_names_state_and_action():
  p, r, g = _valid()
  p[2, 1] *= 0.9
  with pytest.raises(ValueError, match=r"at \[s=2, a=1\] sum to 0\.9.*not 1"):
    TabularMDP(p, r, g)


def test_row_sum_tolerance_is_atol():
  p, r, g = _valid()
  p[1, 0, 0] += 1e-3
  with pytest.raises(ValueError, match=r"s=1, a=0"):
    TabularMDP(p, r, g)
  TabularMDP(p, r, g, atol=1e-2)  # accepted with a looser tolerance


def test_negative_probability_names_position():
  p, r, g = _valid()
  p[1, 0] = [1.5, -0.5, 0.0]  # still sums to 1
  with pytest.raises(ValueError, match=r"negative probability at \[s=1, a=0, next=1\]"):
    TabularMDP(p, r, g)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_transitions(bad):
  p, r, g = _valid()
  p[0, 1, 2] = bad
  with pytest.raises(ValueError, match=r"transitions contain NaN or infinity at \[s=0, a=1, next=2\]"):
    TabularMDP(p, r, g)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rewards_name_state_and_action(bad):
  p, r, g = _valid()
  r[2, 0] = bad
  with pytest.raises(ValueError, match=r"rewards contain NaN or infinity at \[s=2, a=0\]"):
    TabularMDP(p, r, g)


@pytest.mark.parametrize("discount", [-0.1, 1.1, -1e-6, 1.0001, np.nan, np.inf])
def test_discount_outside_unit_interval(discount):
  p, r, _ = _valid()
  with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\]"):
    TabularMDP(p, r, discount)


@pytest.mark.parametrize("shape", [(S, A + 1), (S,), (S + 1, A), (S, A, S + 1), (A, S)])
def test_rewards_of_wrong_shape(shape):
  p, _, g = _valid()
  with pytest.raises(ValueError, match=re.escape(f"rewards must have shape") + r".*got \(" ):
    TabularMDP(p, np.zeros(shape, np.float32), g)


def test_transitions_not_square():
  p = np.full((S, A, S + 1), 1.0 / (S + 1), np.float32)
  with pytest.raises(ValueError, match=r"square.*3 states but 4 successor columns"):
    TabularMDP(p, np.zeros((S, A), np.float32), 0.9)


def test_transitions_of_too_few_dimensions_and_empty():
  with pytest.raises(ValueError, match=r"transitions must have shape \[\*B, S, A, S'\]"):
    TabularMDP(np.eye(3, dtype=np.float32), np.zeros((3, 3), np.float32), 0.9)
  with pytest.raises(ValueError, match=r"at least one state and one action"):
    TabularMDP(np.zeros((0, 2, 0), np.float32), np.zeros((0, 2), np.float32), 0.9)


def test_discount_shape_must_match_batch():
  p, r, g = _valid()
  with pytest.raises(ValueError, match=r"discount must have the batch shape \(\)"):
    TabularMDP(p, r, np.array([0.9], np.float32))
  pb, rb = np.stack([p, p]), np.stack([r, r])
  with pytest.raises(ValueError, match=r"discount must have the batch shape \(2,\)"):
    TabularMDP(pb, rb, g)  # a scalar discount for a batch of two
  with pytest.raises(ValueError, match=r"discount must have the batch shape \(2,\)"):
    TabularMDP(pb, rb, np.full(3, 0.9, np.float32))
  with pytest.raises(ValueError, match=r"rewards must have shape"):
    TabularMDP(pb, r, np.full(2, 0.9, np.float32))  # rewards lack the batch axis


def test_sparse_indices_out_of_range():
  idx, probs, r = _valid_sparse()
  for value in (S, -1):
    bad = idx.copy()
    bad[1, 1, 0] = value
    with pytest.raises(ValueError,
                       match=r"indices out of range \[0, 3\) at \[s=1, a=1, k=0\]"):
      TabularMDP(SparseTransitions(bad, probs), r, 0.9)


def test_sparse_shape_mismatch_and_dtype():
  idx, probs, _ = _valid_sparse()
  with pytest.raises(ValueError, match=r"indices \(3, 2, 2\) and probs \(3, 2, 3\) must have the same"):
    SparseTransitions(idx, np.concatenate([probs, np.zeros((S, A, 1), np.float32)], -1))
  with pytest.raises(ValueError, match=r"indices must be integers"):
    SparseTransitions(idx.astype(np.float32), probs)
  with pytest.raises(ValueError, match=r"\[\*B, S, A, K\]"):
    SparseTransitions(idx[0], probs[0])


def test_sparse_rows_and_rewards_are_checked():
  idx, probs, r = _valid_sparse()
  bad = probs.copy()
  bad[2, 0, 1] = 0.3
  with pytest.raises(ValueError, match=r"at \[s=2, a=0\] sum to 0\.9"):
    TabularMDP(SparseTransitions(idx, bad), r, 0.9)
  with pytest.raises(ValueError, match=r"rewards must have shape \[\*B, S, A\] or \[\*B, S, A, K\]"):
    TabularMDP(SparseTransitions(idx, probs), np.zeros((S, A, S + 1), np.float32), 0.9)


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------
def test_stacked_batch_is_valid():
  p, r, g = _valid()
  m1 = TabularMDP(p, r, g)
  m2 = TabularMDP(p[:, ::-1], -r, np.float32(0.5))
  batch = _stack(m1, m2)
  assert isinstance(batch, TabularMDP)
  assert batch.batch_shape == (2,)
  assert (batch.num_states, batch.num_actions) == (S, A)
  again = TabularMDP(batch.transitions, batch.rewards, batch.discount)  # validates
  assert again.batch_shape == (2,)
  np.testing.assert_allclose(again.discount, [0.9, 0.5])
  idx, probs, rs = _valid_sparse()
  sp = TabularMDP(SparseTransitions(idx, probs), rs, 0.5)
  sbatch = _stack(sp, sp, sp)
  assert sbatch.is_sparse and sbatch.batch_shape == (3,)
  TabularMDP(sbatch.transitions, sbatch.rewards, sbatch.discount)


def test_bad_batch_members_are_named_by_batch_index():
  p, r, g = _valid()
  pb, rb, gb = np.stack([p, p]), np.stack([r, r]), np.array([0.9, 0.8], np.float32)
  bad_p = pb.copy()
  bad_p[1, 0, 1] *= 0.5
  with pytest.raises(ValueError, match=r"at \[batch=\(1,\), s=0, a=1\] sum to"):
    TabularMDP(bad_p, rb, gb)
  bad_r = rb.copy()
  bad_r[1, 2, 1] = np.nan
  with pytest.raises(ValueError, match=r"rewards contain NaN or infinity at \[batch=\(1,\), s=2, a=1\]"):
    TabularMDP(pb, bad_r, gb)
  with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\], got 1\.5 at batch=\(1,\)"):
    TabularMDP(pb, rb, np.array([0.9, 1.5], np.float32))
  # two batch axes
  p22 = np.stack([pb, pb, pb])  # [3, 2, S, A, S]
  p22[2, 1, 1, 1] = np.roll(p22[2, 1, 1, 1], 1) * 2
  with pytest.raises(ValueError, match=r"at \[batch=\(2, 1\), s=1, a=1\]"):
    TabularMDP(p22, np.stack([rb] * 3), np.full((3, 2), 0.9, np.float32))
  # sparse batch with an index out of range in member 1
  idx, probs, rs = _valid_sparse()
  ib = np.stack([idx, idx])
  ib[1, 2, 0, 1] = 7
  with pytest.raises(ValueError, match=r"out of range \[0, 3\) at \[batch=\(1,\), s=2, a=0, k=1\]"):
    TabularMDP(SparseTransitions(ib, np.stack([probs, probs])), np.stack([rs, rs]),
               np.array([0.9, 0.9], np.float32))


# ---------------------------------------------------------------------------------------------
# No validation under transformations
# ---------------------------------------------------------------------------------------------
def _invalid_arrays():
  p, r, _ = _valid()
  p = p * 2.0  # rows sum to 2
  r = r.copy()
  r[0, 0] = np.nan
  return p, r, np.float32(1.5)


def test_no_validation_under_jit():
  p, r, g = _invalid_arrays()

  @jax.jit
  def build(p, r, g):
    mdp = TabularMDP(p, r, g)
    return mdp.transitions.sum(-1), mdp.discount

  sums, discount = build(p, r, g)
  np.testing.assert_allclose(sums, 2.0, rtol=1e-6)
  assert float(discount) == 1.5


def test_no_validation_under_vmap():
  p, r, g = _invalid_arrays()
  pb, rb = np.stack([p, p]), np.stack([r, r])
  gb = np.array([g, -3.0], np.float32)
  out = jax.vmap(lambda p, r, g: TabularMDP(p, r, g).discount)(pb, rb, gb)
  np.testing.assert_array_equal(out, gb)


def test_no_validation_in_tree_map():
  p, r, g = _valid()
  mdp = TabularMDP(p, r, g)
  doubled = jax.tree.map(lambda x: x * 2, mdp)  # rows sum to 2, discount 1.8
  assert isinstance(doubled, TabularMDP)
  assert float(doubled.discount) == pytest.approx(1.8)
  placeholders = jax.tree.map(lambda _: object(), mdp)
  assert isinstance(placeholders, TabularMDP)
  axes = jax.tree.map(lambda _: 0, mdp)  # an in_axes spec for vmap
  batch = _stack(mdp, mdp.replace(discount=0.5))
  out = jax.vmap(lambda m: m.discount * 2, in_axes=(axes,))(batch)
  np.testing.assert_allclose(out, [1.8, 1.0])


def test_no_validation_with_some_traced_leaves():
  """gridworld-style construction: concrete transitions, traced rewards."""
  p, r, g = _valid()

  @jax.jit
  def build(scale):
    return TabularMDP(p, scale * jnp.asarray(r), 2.0 * scale).discount

  assert float(build(3.0)) == 6.0


# ---------------------------------------------------------------------------------------------
# to_dense
# ---------------------------------------------------------------------------------------------
def test_to_dense_by_hand():
  idx, probs, r = _valid_sparse()
  mdp = to_dense(TabularMDP(SparseTransitions(idx, probs), r, 0.5))
  assert not mdp.is_sparse
  expected = np.zeros((S, A, S), np.float32)
  for s in range(S):
    for a in range(A):
      for k in range(2):
        expected[s, a, idx[s, a, k]] += probs[s, a, k]
  np.testing.assert_allclose(mdp.transitions, expected, atol=1e-7)
  np.testing.assert_array_equal(mdp.rewards, r)
  assert float(mdp.discount) == 0.5
  # per-successor rewards collapse to their expectation
  rk = np.arange(S * A * 2, dtype=np.float32).reshape(S, A, 2)
  mdp_k = to_dense(TabularMDP(SparseTransitions(idx, probs), rk, 0.5))
  np.testing.assert_allclose(mdp_k.rewards, (probs * rk).sum(-1), rtol=1e-6)


def test_to_dense_of_dense_is_identity():
  mdp = TabularMDP(*_valid())
  assert to_dense(mdp) is mdp


def test_to_dense_equals_dense_build():
  sparse, dense = gridworld(sparse=True).mdp, gridworld().mdp
  assert sparse.is_sparse and not dense.is_sparse
  densified = to_dense(sparse)
  np.testing.assert_allclose(densified.transitions, dense.transitions, atol=1e-7)
  np.testing.assert_allclose(densified.rewards, dense.rewards, atol=1e-6)
  np.testing.assert_array_equal(densified.discount, dense.discount)
  key = jax.random.key(3)
  rs = random_mdp(key, 7, 3, num_successors=3, sparse=True)
  rd = random_mdp(key, 7, 3, num_successors=3, sparse=False)
  np.testing.assert_allclose(to_dense(rs).transitions, rd.transitions, atol=1e-7)
  np.testing.assert_allclose(to_dense(rs).rewards, rd.rewards)


def test_to_dense_of_a_batch():
  idx, probs, r = _valid_sparse()
  m = TabularMDP(SparseTransitions(idx, probs), r, 0.5)
  batch = to_dense(_stack(m, m))
  assert batch.transitions.shape == (2, S, A, S)
  np.testing.assert_allclose(batch.transitions[1], to_dense(m).transitions)


# ---------------------------------------------------------------------------------------------
# pymdptoolbox layout
# ---------------------------------------------------------------------------------------------
def _toolbox_arrays():
  p, r, _ = _valid()
  return np.transpose(p, (1, 0, 2)).astype(np.float64), r.astype(np.float64)  # [A, S, S], [S, A]


def test_from_mdptoolbox_rewards_s_a():
  P, R = _toolbox_arrays()
  mdp = from_mdptoolbox(P, R, 0.9)
  assert (mdp.num_states, mdp.num_actions) == (S, A)
  assert mdp.transitions.dtype == jnp.float32
  for a in range(A):
    np.testing.assert_allclose(mdp.transitions[:, a, :], P[a], rtol=1e-6)
  np.testing.assert_allclose(mdp.rewards, R, rtol=1e-6)
  assert float(mdp.discount) == pytest.approx(0.9)


def test_from_mdptoolbox_rewards_a_s_s_and_s():
  P, _ = _toolbox_arrays()
  R3 = np.random.RandomState(1).uniform(-1, 1, (A, S, S))
  mdp = from_mdptoolbox(P, R3, 0.9)
  expected = np.einsum("ast,ast->sa", P, R3)
  np.testing.assert_allclose(expected_rewards(mdp), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(mdp.rewards[:, 1, :], R3[1], rtol=1e-6)
  Rs = np.array([1.0, -2.0, 3.0])
  mdp_s = from_mdptoolbox(P, Rs, 0.9)
  np.testing.assert_allclose(mdp_s.rewards, np.repeat(Rs[:, None], A, 1))


def test_from_mdptoolbox_lists_and_scipy_sparse():
  P, R = _toolbox_arrays()
  ref = from_mdptoolbox(P, R, 0.9)
  for P_alt in ([P[a] for a in range(A)], [scipy.sparse.csr_matrix(P[a]) for a in range(A)]):
    mdp = from_mdptoolbox(P_alt, R, 0.9)
    np.testing.assert_allclose(mdp.transitions, ref.transitions)


def test_from_mdptoolbox_refuses_bad_shapes():
  P, R = _toolbox_arrays()
  with pytest.raises(ValueError, match=r"transitions must be \[A, S, S\], got \(2, 3, 4\)"):
    from_mdptoolbox(np.concatenate([P, P[:, :, :1]], -1), R, 0.9)
  with pytest.raises(ValueError, match=r"transitions must be \[A, S, S\]"):
    from_mdptoolbox(P[0], R, 0.9)
  for bad_r in (R.T, np.zeros(S + 1), np.zeros((A, S, S + 1)), np.zeros((S, A, 1))):
    with pytest.raises(ValueError, match=r"rewards must be \[S\], \[S, A\] or \[A, S, S\]"):
      from_mdptoolbox(P, bad_r, 0.9)
  with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\]"):
    from_mdptoolbox(P, R, 1.2)
  bad_p = P.copy()
  bad_p[1, 2] *= 0.5  # action 1, state 2
  with pytest.raises(ValueError, match=r"s=2, a=1"):
    from_mdptoolbox(bad_p, R, 0.9)
