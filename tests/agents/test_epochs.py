"""``epochs.permutation`` (the minibatch shuffle) and ``epochs.minibatches``.

The permutation is checked for being one (every size; past the packed keys' limit it is jax's),
for uniformity (chi-square of where each item lands, and of all 3! orders of 3 items, over many
keys in one vmapped call), for independence of keys under vmap, and against a hand-built tie:
with every random bit equal, one round keeps the order, which is why there are several rounds.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxrl.agents import epochs

DRAWS = 6_000


@pytest.mark.parametrize("n", [1, 2, 3, 7, 500, 4096])
def test_a_permutation_holds_every_item_once(n):
  p = np.asarray(jax.jit(epochs.permutation, static_argnums=1)(jax.random.PRNGKey(n % 97), n))
  assert p.dtype == np.int32 and p.shape == (n,)
  np.testing.assert_array_equal(np.sort(p), np.arange(n))


def test_too_few_random_bits_left_calls_jax_random_permutation(monkeypatch):
  # past n = 2**24 fewer than 8 random bits would be left beside the index; jax's shuffle then
  # (the threshold raised here, so a small n takes that branch without a 2**24-item sort)
  monkeypatch.setattr(epochs, "_MIN_RANDOM_BITS", 29)
  key = jax.random.PRNGKey(5)
  np.testing.assert_array_equal(epochs.permutation(key, 20), jax.random.permutation(key, 20))
  monkeypatch.setattr(epochs, "_MIN_RANDOM_BITS", 8)
  assert not np.array_equal(epochs.permutation(key, 20), jax.random.permutation(key, 20))


@pytest.fixture(scope="module")
def draws():
  keys = jax.random.split(jax.random.PRNGKey(0), DRAWS)
  return {n: np.asarray(jax.jit(jax.vmap(lambda k, n=n: epochs.permutation(k, n)))(keys))
          for n in (3, 10)}


def test_every_item_lands_everywhere_equally_often(draws):
  p = draws[10]
  counts = np.stack([np.bincount(p[:, pos], minlength=10) for pos in range(10)])   # [pos, item]
  assert stats.chisquare(counts.reshape(-1)).pvalue > 1e-3
  # the test can fail: the identity on half of the draws is rejected
  biased = p.copy()
  biased[: DRAWS // 2] = np.arange(10)
  counts = np.stack([np.bincount(biased[:, pos], minlength=10) for pos in range(10)])
  assert stats.chisquare(counts.reshape(-1)).pvalue < 1e-6


def test_all_orders_of_three_items_are_equally_likely(draws):
  codes = draws[3] @ np.array([9, 3, 1])
  _, counts = np.unique(codes, return_counts=True)
  assert len(counts) == 6 and stats.chisquare(counts).pvalue > 1e-3


def test_vmapped_keys_are_independent_runs(draws):
  keys = jax.random.split(jax.random.PRNGKey(0), DRAWS)[:4]
  for i, k in enumerate(keys):
    np.testing.assert_array_equal(epochs.permutation(k, 10), draws[10][i])
  assert len({tuple(row) for row in draws[10][:50]}) > 45


def test_a_round_with_tied_random_bits_keeps_the_order(monkeypatch):
  monkeypatch.setattr(jax.random, "bits",
                      lambda key, shape, dtype: jnp.full(shape, 0xDEADBEEF, dtype))
  np.testing.assert_array_equal(epochs.permutation(jax.random.PRNGKey(0), 6), np.arange(6))


def test_minibatches_use_every_item_once_with_the_same_order_for_every_leaf():
  batch = dict(x=jnp.arange(12), y=jnp.arange(12)[:, None] * jnp.ones((1, 3)))
  mb = epochs.minibatches(jax.random.PRNGKey(1), batch, 4)
  assert mb["x"].shape == (4, 3) and mb["y"].shape == (4, 3, 3)
  np.testing.assert_array_equal(np.sort(np.asarray(mb["x"]).reshape(-1)), np.arange(12))
  np.testing.assert_array_equal(mb["y"][..., 0], mb["x"])


@pytest.mark.parametrize("batch, k, words", [
    (dict(x=jnp.zeros(6), y=jnp.zeros(5)), 1, "same leading"),
    (dict(x=jnp.zeros(6)), 4, "must divide the batch"),
    (dict(x=jnp.zeros(6)), 0, "num_minibatches"),
])
def test_bad_minibatch_arguments_are_refused(batch, k, words):
  with pytest.raises(ValueError, match=words):
    epochs.minibatches(jax.random.PRNGKey(0), batch, k)


def test_a_bad_size_is_refused():
  with pytest.raises(ValueError, match="n"):
    epochs.permutation(jax.random.PRNGKey(0), 0)
