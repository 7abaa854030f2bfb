"""Probe environments: exact Q* from the solvers, and episodes that behave as documented."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import NUM_PROBES
from jaxrl.envs import exact_q_values
from jaxrl.envs import probe
from jaxrl.mdp import terminal_states

G = 0.9


def _expected_q(n, g):
  """Hand-computed Q* on the non-terminal states."""
  return {
      1: [[1.0]],
      2: [[1.0], [-1.0]],
      3: [[g], [1.0]],
      4: [[-1.0, 1.0]],
      5: [[1.0, -1.0], [-1.0, 1.0]],
      6: [[2.0, g * max(2 * g, 1.0)], [2 * g, 1.0]],  # chain cells 1, 2
  }[n]


@pytest.mark.parametrize("n", range(1, NUM_PROBES + 1))
def test_probe_exact_q_values(n):
  env, params = probe(n, discount=G)
  assert env.name == f"Probe{n}-v0"
  q = np.asarray(jax.jit(exact_q_values)(params))
  live = ~np.asarray(terminal_states(params.mdp))
  np.testing.assert_allclose(q[live], _expected_q(n, G), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(q[~live], 0.0)
  assert env.num_actions == (1 if n <= 3 else 2)


@pytest.mark.parametrize("discount, best", [(0.9, 0), (0.6, 0), (0.4, 1), (0.1, 1)])
def test_probe6_best_first_action_flips_with_the_discount(discount, best):
  _, params = probe(6, discount=discount)
  start = int(jnp.argmax(params.initial_distribution))
  q = exact_q_values(params)
  np.testing.assert_allclose(q[start], [2 * discount, 1.0], rtol=1e-5)
  assert int(jnp.argmax(q[start])) == best


def test_probe3_discount_shows_in_q():
  for g in (0.5, 0.99, 1.0):
    _, params = probe(3, discount=g)
    assert float(exact_q_values(params)[0, 0]) == pytest.approx(g)


@pytest.mark.parametrize("n, length", [(2, 1), (3, 2), (5, 1)])  # 1 and 4 are special cases
def test_probe_episodes(n, length):
  """Random actions over many keys: episode length, rewards, observations as documented."""
  env, params = probe(n)
  num_envs = 512

  def run(key):
    k_reset, k_act, k_step = jax.random.split(key, 3)
    obs0, state = env.reset(k_reset, params)
    acts = jax.random.randint(k_act, (2,), 0, env.num_actions)
    obs1, state, r1, term1, trunc1, info1 = env.step(k_step, state, acts[0], params)
    _, _, r2, term2, _, _ = env.step(k_step, state, acts[1], params)
    return obs0, acts, r1, term1, trunc1, r2, term2

  obs0, acts, r1, term1, trunc1, r2, term2 = jax.jit(jax.vmap(run))(
      jax.random.split(jax.random.key(n), num_envs))
  s0 = np.asarray(jnp.argmax(obs0, -1))
  assert not np.any(trunc1)
  if length == 1:
    assert np.all(term1)
  else:
    assert not np.any(term1) and np.all(term2)
  r1 = np.asarray(r1)
  a0 = np.asarray(acts[:, 0])
  if n == 2:
    assert 0.4 < np.mean(s0 == 0) < 0.6  # two observations, half each
    np.testing.assert_array_equal(r1, np.where(s0 == 0, 1.0, -1.0))
  elif n == 3:
    np.testing.assert_array_equal(r1, 0.0)
    np.testing.assert_array_equal(r2, 1.0)
  elif n == 5:
    assert 0.4 < np.mean(s0 == 0) < 0.6
    np.testing.assert_array_equal(r1, np.where(a0 == s0, 1.0, -1.0))


def test_probe_refuses_bad_input():
  for n in (0, 7, 2.0, True):
    with pytest.raises(ValueError, match="probe number"):
      probe(n)
  with pytest.raises(ValueError, match="discount"):
    probe(3, discount=1.5)
