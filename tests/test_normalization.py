"""jaxrl.normalization: running statistics against numpy over the concatenated stream."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import normalization


def test_running_stats_equal_numpy_over_the_concatenated_stream():
  # batches of different sizes (one of a single item), merged one by one, give the mean and
  # population variance of everything seen; the order of the batches does not matter
  rng = np.random.default_rng(0)
  batches = [rng.normal(3.0, 2.0, (n, 3)).astype(np.float32) for n in (5, 1, 40, 7)]
  stream = np.concatenate(batches)
  stats = normalization.init_stats((3,))
  for b in batches:
    stats = normalization.update_stats(stats, b)
  assert float(stats.count) == len(stream)
  np.testing.assert_allclose(stats.mean, stream.mean(0), rtol=1e-5)
  np.testing.assert_allclose(stats.variance, stream.var(0), rtol=1e-5)
  backwards = normalization.init_stats((3,))
  for b in batches[::-1]:
    backwards = normalization.update_stats(backwards, b)
  np.testing.assert_allclose(backwards.variance, stats.variance, rtol=1e-5)
  # a [T, E, *S] rollout is T * E items (batch_dims=2), jit-able
  rollout = rng.normal(size=(4, 6, 2)).astype(np.float32)
  two = jax.jit(normalization.update_stats, static_argnames="batch_dims")(
      normalization.init_stats((2,)), rollout, batch_dims=2)
  flat = rollout.reshape(-1, 2)
  np.testing.assert_allclose(two.mean, flat.mean(0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(two.variance, flat.var(0), rtol=1e-5)


def test_standardize_is_the_identity_before_any_item_and_clips():
  x = jnp.array([[0.5, -30.0]])
  np.testing.assert_array_equal(normalization.standardize(normalization.init_stats((2,)), x), x)
  stats = normalization.update_stats(normalization.init_stats((2,)),
                                     jnp.array([[0.0, 0.0], [2.0, 4.0]]))   # mean 1, 2; std 1, 2
  out = normalization.standardize(stats, jnp.array([[3.0, -100.0]]), clip=10.0)
  np.testing.assert_allclose(out, [[2.0, -10.0]], rtol=1e-6)
  # no gradient reaches the statistics
  grad = jax.grad(lambda s: jnp.sum(normalization.standardize(s, x)))(stats)
  assert all(float(jnp.sum(jnp.abs(g))) == 0.0 for g in jax.tree.leaves(grad))


def test_rewards_are_divided_by_the_std_of_the_discounted_return():
  # two envs, three steps, gamma 0.5; env 0 ends at step 1, so its return restarts at step 2,
  # and env 1's return carries over from the previous rollout (1.0)
  state = normalization.ReturnNormalizerState(normalization.init_stats(), jnp.array([0.0, 1.0]))
  r = jnp.array([[1.0, 2.0], [3.0, 0.0], [5.0, 1.0]])
  end = jnp.array([[0, 0], [1, 0], [0, 0]], bool)
  scaled, state = normalization.normalize_rewards(state, r, end, 0.5)
  g = np.array([[1.0, 2.5], [3.5, 1.25], [5.0, 1.625]])        # G_t by hand
  np.testing.assert_allclose(state.stats.variance, g.var(), rtol=1e-5)
  np.testing.assert_allclose(scaled, np.asarray(r) / np.sqrt(g.var() + 1e-8), rtol=1e-5)
  np.testing.assert_allclose(state.return_t, [5.0, 1.625])
