"""Builders: grid world (layout, noise, exits), gridworld_layout, chain, random_mdp."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.mdp import ACTIONS
from jaxrl.mdp import ARROWS
from jaxrl.mdp import DEFAULT_LAYOUT
from jaxrl.mdp import GridWorld
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import chain
from jaxrl.mdp import gridworld
from jaxrl.mdp import gridworld_layout
from jaxrl.mdp import random_mdp
from jaxrl.mdp import terminal_states
from jaxrl.mdp import to_dense

UP, RIGHT, DOWN, LEFT = range(4)


def test_action_constants():
  assert ACTIONS == ("up", "right", "down", "left")
  assert len(ARROWS) == 4


# ---------------------------------------------------------------------------------------------
# The default 4x3 world
# ---------------------------------------------------------------------------------------------
def test_default_layout():
  g = gridworld()
  assert isinstance(g, GridWorld)
  assert g.layout == DEFAULT_LAYOUT
  assert g.shape == (3, 4)
  assert g.num_states == 11
  assert (g.mdp.num_states, g.mdp.num_actions) == (11, 4)
  assert not g.mdp.is_sparse
  assert float(g.mdp.discount) == 1.0
  plus, minus = g.state_index(0, 3), g.state_index(1, 3)
  assert g.exits == {plus: 1.0, minus: -1.0}
  assert plus == 3 and minus == 6
  np.testing.assert_array_equal(np.flatnonzero(g.is_exit), [3, 6])
  assert g.start == g.state_index(2, 0) == 7
  # states are the open cells in reading order
  expected_cells = [(r, c) for r in range(3) for c in range(4) if (r, c) != (1, 1)]
  np.testing.assert_array_equal(g.cells, expected_cells)
  for s, (r, c) in enumerate(expected_cells):
    assert g.state_index(r, c) == s


def test_state_index_refuses_walls_and_outside_cells():
  g = gridworld()
  with pytest.raises(ValueError, match=r"cell \(1, 1\) is a wall"):
    g.state_index(1, 1)
  for r, c in [(3, 0), (0, 4), (-1, 0), (0, -1)]:
    with pytest.raises(ValueError, match=r"outside the 3x4 grid"):
      g.state_index(r, c)


def test_sparse_gridworld_has_three_successors():
  g = gridworld(sparse=True)
  assert g.mdp.is_sparse
  assert g.mdp.transitions.shape == (11, 4, 3)
  assert g.mdp.rewards.shape == (11, 4, 3)


def _open_3x3():
  return gridworld([". . .", ". . .", ". . ."], noise=0.2, living_reward=0.0)


@pytest.mark.parametrize("action,intended,left_slip,right_slip", [
    (UP, (0, 1), (1, 0), (1, 2)),
    (RIGHT, (1, 2), (0, 1), (2, 1)),
    (DOWN, (2, 1), (1, 2), (1, 0)),
    (LEFT, (1, 0), (2, 1), (0, 1)),
])
def test_noise_semantics_from_open_center(action, intended, left_slip, right_slip):
  g = _open_3x3()
  p = np.asarray(g.mdp.transitions)
  center = g.state_index(1, 1)
  expected = np.zeros(9)
  expected[g.state_index(*intended)] = 0.8
  expected[g.state_index(*left_slip)] = 0.1
  expected[g.state_index(*right_slip)] = 0.1
  np.testing.assert_allclose(p[center, action], expected, atol=1e-7)


def test_bumping_a_wall_or_the_edge_stays_put():
  g = gridworld()
  p = np.asarray(g.mdp.transitions)
  s = g.state_index(0, 1)  # wall below, edge above
  np.testing.assert_allclose(p[s, RIGHT, g.state_index(0, 2)], 0.8, atol=1e-7)
  np.testing.assert_allclose(p[s, RIGHT, s], 0.2, atol=1e-7)
  s = g.state_index(2, 1)  # the wall is above
  np.testing.assert_allclose(p[s, UP, s], 0.8, atol=1e-7)
  np.testing.assert_allclose(p[s, UP, g.state_index(2, 0)], 0.1, atol=1e-7)
  np.testing.assert_allclose(p[s, UP, g.state_index(2, 2)], 0.1, atol=1e-7)
  s = g.state_index(2, 0)  # bottom-left corner
  np.testing.assert_allclose(p[s, LEFT, s], 0.9, atol=1e-7)
  np.testing.assert_allclose(p[s, LEFT, g.state_index(1, 0)], 0.1, atol=1e-7)
  np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-6)


def test_noise_extremes():
  g0 = gridworld(noise=0.0)
  p0 = np.asarray(g0.mdp.transitions)
  s = g0.state_index(2, 1)
  assert p0[s, RIGHT, g0.state_index(2, 2)] == 1.0
  g1 = gridworld(noise=1.0)
  p1 = np.asarray(g1.mdp.transitions)
  assert p1[s, RIGHT, g1.state_index(2, 2)] == 0.0
  np.testing.assert_allclose(p1[s, RIGHT, s], 1.0)  # up: the wall, down: the edge
  s = g1.state_index(1, 2)
  np.testing.assert_allclose(p1[s, LEFT, g1.state_index(0, 2)], 0.5)
  np.testing.assert_allclose(p1[s, LEFT, g1.state_index(2, 2)], 0.5)


def test_rewards_living_plus_exit_on_landing():
  g = gridworld(living_reward=-0.04)
  r = np.asarray(g.mdp.rewards)
  above_plus = g.state_index(0, 2)
  np.testing.assert_allclose(r[above_plus, RIGHT], -0.04 + 0.8 * 1.0, atol=1e-6)
  np.testing.assert_allclose(r[above_plus, UP], -0.04 + 0.1 * 1.0, atol=1e-6)
  np.testing.assert_allclose(r[above_plus, LEFT], -0.04, atol=1e-6)
  beside_minus = g.state_index(1, 2)
  np.testing.assert_allclose(r[beside_minus, RIGHT], -0.04 - 0.8, atol=1e-6)
  np.testing.assert_allclose(r[beside_minus, UP], -0.04 - 0.1, atol=1e-6)
  np.testing.assert_allclose(r[g.start], -0.04, atol=1e-7)
  # sparse: per-successor rewards, the exit's reward on the successor that lands on it
  gs = gridworld(sparse=True, living_reward=-0.04)
  idx = np.asarray(gs.mdp.transitions.indices[above_plus, RIGHT])
  rk = np.asarray(gs.mdp.rewards[above_plus, RIGHT])
  np.testing.assert_allclose(rk, np.where(idx == g.state_index(0, 3), 0.96, -0.04), atol=1e-6)


def test_exits_are_absorbing_with_zero_reward():
  for sparse in (False, True):
    g = gridworld(sparse=sparse, living_reward=-0.5)
    dense = to_dense(g.mdp)
    for s in g.exits:
      np.testing.assert_array_equal(dense.transitions[s, :, s], 1.0)
      np.testing.assert_array_equal(dense.rewards[s], 0.0)
    np.testing.assert_array_equal(terminal_states(g.mdp), g.is_exit)
    np.testing.assert_array_equal(terminal_states(dense), g.is_exit)


# ---------------------------------------------------------------------------------------------
# Custom layouts
# ---------------------------------------------------------------------------------------------
def test_custom_layout_with_several_exits_and_start():
  layout = ["+5 . # . -2",
            ".  S # . . ",
            "_  . . . +1"]
  g = gridworld(layout, living_reward=-0.1)
  assert g.shape == (3, 5)
  assert g.num_states == 13
  assert g.start == g.state_index(1, 1)
  assert g.exits == {g.state_index(0, 0): 5.0, g.state_index(0, 4): -2.0,
                     g.state_index(2, 4): 1.0}
  with pytest.raises(ValueError, match="wall"):
    g.state_index(1, 2)
  np.testing.assert_allclose(np.asarray(g.mdp.transitions).sum(-1), 1.0, atol=1e-6)
  np.testing.assert_array_equal(terminal_states(g.mdp), g.is_exit)
  # the move from (1, 0) up lands on the +5 exit w.p. 0.8
  s = g.state_index(1, 0)
  np.testing.assert_allclose(g.mdp.rewards[s, UP], -0.1 + 0.8 * 5.0, atol=1e-5)


def test_layout_as_multiline_string_and_no_start():
  text = """
  . . +1
  . # -1
  . . .
  """
  g = gridworld(text)
  assert tuple(row.split() for row in g.layout) == (
      [".", ".", "+1"], [".", "#", "-1"], [".", ".", "."])
  assert g.start is None
  assert g.num_states == 8
  g1 = gridworld(["s . . +1"])  # lower-case start, one row
  assert g1.start == 0 and g1.shape == (1, 4) and g1.exits == {3: 1.0}


def test_render_shows_walls_exits_values_and_arrows():
  g = gridworld()
  text = g.render(values=np.arange(11) / 10, policy=np.full(11, 1))
  lines = text.splitlines()
  assert len(lines) == 3
  assert "#" in lines[1] and "[+1]" in lines[0] and "[-1]" in lines[1]
  assert "0.700 \u2192" in lines[2]


@pytest.mark.parametrize("layout,message", [
    ([". . .", ". ."], r"not rectangular: rows have \[2, 3\] cells"),
    ([". . .", ". x ."], r"row 1, column 1: unknown token 'x'"),
    (["S . .", ". . S"], r"marks 2 start cells"),
    ([], r"layout is empty"),
    (["# #", "# #"], r"no open cell"),
    ([". inf"], r"exit reward 'inf' is not finite"),
    ([". nan"], r"exit reward 'nan' is not finite"),
])
def test_bad_layouts(layout, message):
  with pytest.raises(ValueError, match=message):
    gridworld(layout)


@pytest.mark.parametrize("kwargs,message", [
    (dict(noise=-0.1), r"noise must lie in \[0.0, 1.0\]"),
    (dict(noise=1.5), r"noise must lie in \[0.0, 1.0\]"),
    (dict(discount=1.5), r"discount must lie in"),
    (dict(discount=-0.5), r"discount must lie in"),
    (dict(living_reward=float("nan")), r"living_reward must be finite"),
    (dict(living_reward=float("inf")), r"living_reward must be finite"),
])
def test_bad_gridworld_numbers(kwargs, message):
  with pytest.raises(ValueError, match=message):
    gridworld(**kwargs)


def test_gridworld_layout():
  assert gridworld_layout(3, 4, walls=[(1, 1)]) == DEFAULT_LAYOUT
  a, b = gridworld(gridworld_layout(3, 4, walls=[(1, 1)])).mdp, gridworld().mdp
  np.testing.assert_array_equal(a.transitions, b.transitions)
  np.testing.assert_array_equal(a.rewards, b.rewards)
  layout = gridworld_layout(4, 6, exits={(0, 0): 2.5, (3, 5): -1.0}, walls=[(1, 1), (2, 1)],
                            start=(3, 0))
  g = gridworld(layout)
  assert g.shape == (4, 6) and g.num_states == 22
  assert g.exits == {g.state_index(0, 0): 2.5, g.state_index(3, 5): -1.0}
  assert g.start == g.state_index(3, 0)
  assert gridworld_layout(1, 3) == ("S . +1",)
  big = gridworld(gridworld_layout(20, 30), sparse=True)
  assert big.num_states == 600 and big.mdp.is_sparse
  with pytest.raises(ValueError, match="gridworld_layout rows must be an int >= 1, got 0"):
    gridworld_layout(0, 4)
  with pytest.raises(ValueError, match="gridworld_layout cols must be an int, got 2.5"):
    gridworld_layout(3, 2.5)


# ---------------------------------------------------------------------------------------------
# Chain
# ---------------------------------------------------------------------------------------------
def test_chain_shape_exits_and_rewards():
  m = chain(5, far_reward=10.0, near_reward=1.0, discount=0.9)
  assert isinstance(m, TabularMDP) and not m.is_sparse
  assert (m.num_states, m.num_actions) == (5, 2)
  assert float(m.discount) == pytest.approx(0.9)
  np.testing.assert_array_equal(terminal_states(m), [True, False, False, False, True])
  p, r = np.asarray(m.transitions), np.asarray(m.rewards)
  for s in (0, 4):
    np.testing.assert_array_equal(p[s, :, s], 1.0)
    np.testing.assert_array_equal(r[s], 0.0)
  for s in (1, 2, 3):  # deterministic moves
    assert p[s, 0, s - 1] == 1.0 and p[s, 1, s + 1] == 1.0
  expected_r = np.zeros((5, 2))
  expected_r[1, 0] = 10.0
  expected_r[3, 1] = 1.0
  np.testing.assert_allclose(r, expected_r)


def test_chain_noise_and_living_reward():
  m = chain(4, noise=0.25, living_reward=-1.0, far_reward=3.0, near_reward=2.0)
  p, r = np.asarray(m.transitions), np.asarray(m.rewards)
  np.testing.assert_allclose(p[1, 0, [0, 2]], [0.75, 0.25])
  np.testing.assert_allclose(p[1, 1, [0, 2]], [0.25, 0.75])
  np.testing.assert_allclose(r[1, 0], -1.0 + 0.75 * 3.0)
  np.testing.assert_allclose(r[2, 1], -1.0 + 0.75 * 2.0)
  np.testing.assert_allclose(r[2, 0], -1.0 + 0.25 * 2.0)  # slips onto the near exit
  np.testing.assert_allclose(chain(5, living_reward=-1.0).rewards[2], -1.0)
  np.testing.assert_array_equal(r[[0, 3]], 0.0)
  assert chain(3).num_states == 3


@pytest.mark.parametrize("num_cells", [2, 0, -1, 3.0, "5"])
def test_chain_bad_num_cells(num_cells):
  with pytest.raises(ValueError, match=r"num_cells >= 3"):
    chain(num_cells)


@pytest.mark.parametrize("kwargs", [dict(noise=1.1), dict(discount=-0.1),
                                    dict(far_reward=float("nan"))])
def test_chain_bad_numbers(kwargs):
  with pytest.raises(ValueError):
    chain(5, **kwargs)


# ---------------------------------------------------------------------------------------------
# Random MDPs
# ---------------------------------------------------------------------------------------------
def test_random_mdp_dense():
  key = jax.random.key(0)
  m = random_mdp(key, 6, 3, discount=0.8, reward_scale=2.0)
  assert (m.num_states, m.num_actions) == (6, 3) and not m.is_sparse
  assert float(m.discount) == pytest.approx(0.8)
  p, r = np.asarray(m.transitions), np.asarray(m.rewards)
  np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
  assert (p > 0).all()
  assert r.shape == (6, 3) and np.all(np.abs(r) <= 2.0) and r.std() > 0.1
  TabularMDP(m.transitions, m.rewards, m.discount)  # valid


def test_random_mdp_with_successors_dense_and_sparse():
  key = jax.random.key(1)
  dense = random_mdp(key, 10, 2, num_successors=3)
  sparse = random_mdp(key, 10, 2, num_successors=3, sparse=True)
  assert not dense.is_sparse and sparse.is_sparse
  assert sparse.transitions.shape == (10, 2, 3)
  assert ((np.asarray(dense.transitions) > 0).sum(-1) <= 3).all()
  idx = np.asarray(sparse.transitions.indices)
  assert idx.min() >= 0 and idx.max() < 10
  TabularMDP(sparse.transitions, sparse.rewards, sparse.discount)  # valid
  TabularMDP(dense.transitions, dense.rewards, dense.discount)
  np.testing.assert_allclose(to_dense(sparse).transitions, dense.transitions, atol=1e-7)


def test_random_mdp_keys():
  k1, k2 = jax.random.key(4), jax.random.key(5)
  for kwargs in (dict(), dict(num_successors=2, sparse=True)):
    a, b, c = (random_mdp(k, 5, 2, **kwargs) for k in (k1, k1, k2))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(x, y)
    assert not np.allclose(a.rewards, c.rewards)
    pa = a.transitions.probs if a.is_sparse else a.transitions
    pc = c.transitions.probs if c.is_sparse else c.transitions
    assert not np.allclose(pa, pc)


@pytest.mark.parametrize("args,kwargs,message", [
    ((0, 2), {}, r"random_mdp num_states must be an int >= 1, got 0"),
    ((3, 0), {}, r"random_mdp num_actions must be an int >= 1, got 0"),
    ((3.0, 2), {}, r"random_mdp num_states must be an int, got 3.0"),
    ((3, True), {}, r"random_mdp num_actions must be an int, got the bool"),
    ((3, 2), dict(sparse=True), r"needs num_successors"),
    ((3, 2), dict(num_successors=0), r"num_successors must be an int >= 1"),
    ((3, 2), dict(discount=1.5), r"discount must lie in"),
])
def test_random_mdp_bad_arguments(args, kwargs, message):
  with pytest.raises(ValueError, match=message):
    random_mdp(jax.random.key(0), *args, **kwargs)


def test_builders_accept_traced_numbers():
  """Numbers enter through jnp: the builders work under vmap (sweeps) and jit."""
  noises = jnp.array([0.0, 0.2, 0.5])
  probs = jax.vmap(lambda n: gridworld(noise=n).mdp.transitions)(noises)
  assert probs.shape == (3, 11, 4, 11)
  for i, n in enumerate([0.0, 0.2, 0.5]):
    np.testing.assert_allclose(probs[i], gridworld(noise=n).mdp.transitions, atol=1e-7)
  rewards = jax.jit(lambda lr: gridworld(living_reward=lr).mdp.rewards)(-0.3)
  np.testing.assert_allclose(rewards, gridworld(living_reward=-0.3).mdp.rewards, atol=1e-7)
  far = jax.vmap(lambda f: chain(5, far_reward=f).rewards[1, 0])(jnp.array([1.0, 7.0]))
  np.testing.assert_allclose(far, [1.0, 7.0])
