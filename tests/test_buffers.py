"""Replay buffers: ring order, sampling only written slots (uniformly or by priority),
bookkeeping, the sum tree, jit/vmap, donation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import buffers
from jaxrl.buffers import ReplayBuffer
from jaxrl.buffers import ReplayBufferState
from jaxrl.buffers import Transition
from jaxrl.buffers import make_replay_buffer


def _item(value=0.0):
  """A small item pytree: a scalar id and a vector, both derived from ``value``."""
  return {"id": jnp.float32(value), "vec": jnp.full((2,), value, jnp.float32)}


def _items(values):
  values = jnp.asarray(values, jnp.float32)
  return {"id": values, "vec": jnp.stack([values, values], axis=-1)}


def _ids(state):
  return np.asarray(state.storage["id"])


def test_public_names():
  assert set(buffers.__all__) == {"ReplayBuffer", "ReplayBufferState", "Transition",
                                  "make_replay_buffer", "PrioritizedReplayBuffer",
                                  "PrioritizedReplayBufferState", "PrioritizedSample",
                                  "make_prioritized_replay_buffer", "importance_weights"}
  assert Transition._fields == ("obs", "action", "reward", "discount", "next_obs")


def test_init_shapes_and_dtypes():
  buffer = make_replay_buffer(capacity=5, batch_size=2)
  assert isinstance(buffer, ReplayBuffer)
  example = Transition(obs=jnp.zeros((3, 4), jnp.uint8), action=jnp.int32(0),
                       reward=jnp.float32(0), discount=jnp.float32(0),
                       next_obs=jnp.zeros((3, 4), jnp.uint8))
  state = buffer.init(example)
  assert isinstance(state, ReplayBufferState)
  assert state.storage.obs.shape == (5, 3, 4) and state.storage.obs.dtype == jnp.uint8
  assert state.storage.action.shape == (5,) and state.storage.action.dtype == jnp.int32
  assert state.position.dtype == jnp.int32 and state.size.dtype == jnp.int32
  assert int(state.position) == 0 and int(state.size) == 0


def test_wrap_around_overwrites_the_oldest_first():
  capacity, k = 5, 3
  buffer = make_replay_buffer(capacity=capacity, batch_size=1)
  state = buffer.init(_item())
  for i in range(capacity + k):        # one item per add: ids 1..8
    state = buffer.add(state, _items([i + 1]))
  # slots 0..2 were overwritten by ids 6, 7, 8; slots 3, 4 still hold 4, 5; ids 1..3 are gone.
  np.testing.assert_array_equal(_ids(state), [6, 7, 8, 4, 5])
  np.testing.assert_array_equal(np.asarray(state.storage["vec"]), [[6, 6], [7, 7], [8, 8],
                                                                   [4, 4], [5, 5]])
  assert int(state.position) == k and int(state.size) == capacity


def test_add_n_items_crossing_the_end():
  buffer = make_replay_buffer(capacity=5, batch_size=1)
  state = buffer.init(_item())
  state = buffer.add(state, _items([1, 2, 3]))
  np.testing.assert_array_equal(_ids(state), [1, 2, 3, 0, 0])
  assert (int(state.position), int(state.size)) == (3, 3)
  state = buffer.add(state, _items([4, 5, 6]))     # slots 3, 4, then 0
  np.testing.assert_array_equal(_ids(state), [6, 2, 3, 4, 5])
  assert (int(state.position), int(state.size)) == (1, 5)
  state = buffer.add(state, _items([7, 8, 9, 10, 11]))  # a whole lap starting at slot 1
  np.testing.assert_array_equal(_ids(state), [11, 7, 8, 9, 10])
  assert (int(state.position), int(state.size)) == (1, 5)


def test_add_exactly_capacity_and_landing_on_zero():
  buffer = make_replay_buffer(capacity=4, batch_size=1)
  state = buffer.add(buffer.init(_item()), _items([1, 2, 3, 4]))
  assert (int(state.position), int(state.size)) == (0, 4)
  np.testing.assert_array_equal(_ids(state), [1, 2, 3, 4])


def test_bookkeeping_matches_a_python_ring_for_many_adds():
  capacity, n = 7, 3
  buffer = make_replay_buffer(capacity=capacity, batch_size=1)
  add = jax.jit(buffer.add)
  state = buffer.init(_item())
  ring = [0.0] * capacity
  pos = size = 0
  for step in range(10):
    values = [100 * step + j + 1 for j in range(n)]
    state = add(state, _items(values))
    for v in values:
      ring[pos] = v
      pos = (pos + 1) % capacity
    size = min(size + n, capacity)
    assert (int(state.position), int(state.size)) == (pos, size)
    np.testing.assert_array_equal(_ids(state), ring)


def test_never_samples_unwritten_slots():
  """Unwritten slots hold the init zeros; written ones a sentinel. No sample may be a zero."""
  buffer = make_replay_buffer(capacity=100, batch_size=64)
  state = buffer.add(buffer.init(_item()), _items([-7.0, -7.0, -7.0]))
  sample = jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))
  batch = sample(state, jax.random.split(jax.random.key(0), 200))
  assert batch["id"].shape == (200, 64)
  np.testing.assert_array_equal(np.asarray(batch["id"]), -7.0)
  np.testing.assert_array_equal(np.asarray(batch["vec"]), -7.0)


def test_sampling_is_uniform_over_written_slots():
  buffer = make_replay_buffer(capacity=100, batch_size=50)
  state = buffer.add(buffer.init(_item()), _items(np.arange(1, 6)))  # 5 of 100 slots written
  keys = jax.random.split(jax.random.key(1), 400)
  ids = np.asarray(jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))(state, keys)["id"]).ravel()
  assert set(np.unique(ids)) == {1, 2, 3, 4, 5}
  freq = np.bincount(ids.astype(int), minlength=6)[1:] / ids.size
  np.testing.assert_allclose(freq, 0.2, atol=0.01)   # 20,000 draws: std ~ 0.003


def test_sample_returns_item_structure_with_batch_axis():
  buffer = make_replay_buffer(capacity=8, batch_size=3)
  example = Transition(obs=jnp.zeros(4), action=jnp.int32(0), reward=jnp.float32(0),
                       discount=jnp.float32(0), next_obs=jnp.zeros(4))
  state = buffer.init(example)
  items = jax.tree.map(lambda x: jnp.stack([x + 1] * 5), example)
  state = buffer.add(state, items)
  batch = buffer.sample(state, jax.random.key(0))
  assert isinstance(batch, Transition)
  assert batch.obs.shape == (3, 4) and batch.action.shape == (3,)
  assert batch.action.dtype == jnp.int32
  np.testing.assert_array_equal(np.asarray(batch.action), 1)


def test_sample_is_deterministic_given_a_key():
  buffer = make_replay_buffer(capacity=50, batch_size=16)
  state = buffer.add(buffer.init(_item()), _items(np.arange(1, 41)))
  a = buffer.sample(state, jax.random.key(3))
  b = buffer.sample(state, jax.random.key(3))
  c = buffer.sample(state, jax.random.key(4))
  np.testing.assert_array_equal(np.asarray(a["id"]), np.asarray(b["id"]))
  assert not np.array_equal(np.asarray(a["id"]), np.asarray(c["id"]))


def test_can_sample():
  buffer = make_replay_buffer(capacity=10, batch_size=4, min_size=6)
  state = buffer.init(_item())
  assert not bool(buffer.can_sample(state))
  state = buffer.add(state, _items([1, 2, 3, 4, 5]))
  assert not bool(buffer.can_sample(state))    # 5 >= batch_size but < min_size
  state = buffer.add(state, _items([6]))
  assert bool(buffer.can_sample(state))
  # min_size defaults to batch_size, and a smaller min_size cannot go below it
  for min_size in (None, 2):
    small = make_replay_buffer(capacity=10, batch_size=4, min_size=min_size)
    s = small.add(small.init(_item()), _items([1, 2, 3]))
    assert not bool(small.can_sample(s))
    assert bool(small.can_sample(small.add(s, _items([4]))))


def test_jit_and_scan():
  buffer = make_replay_buffer(capacity=6, batch_size=2)

  def run(state, key):
    def body(state, t):
      state = buffer.add(state, _items(jnp.stack([2 * t, 2 * t + 1]).astype(jnp.float32) + 1))
      return state, buffer.can_sample(state)

    state, can = jax.lax.scan(body, state, jnp.arange(5))
    return state, can, buffer.sample(state, key)

  state, can, batch = jax.jit(run)(buffer.init(_item()), jax.random.key(0))
  np.testing.assert_array_equal(np.asarray(can), [True] * 5)
  # 10 items 1..10 in a ring of 6: slots hold 7, 8, 9, 10, 5, 6
  np.testing.assert_array_equal(_ids(state), [7, 8, 9, 10, 5, 6])
  assert (int(state.position), int(state.size)) == (4, 6)
  assert set(np.asarray(batch["id"]).tolist()) <= {5, 6, 7, 8, 9, 10}


def test_vmap_one_buffer_per_seed():
  num_seeds, n = 3, 2
  buffer = make_replay_buffer(capacity=4, batch_size=3, min_size=4)
  states = jax.vmap(lambda _: buffer.init(_item()))(jnp.arange(num_seeds))
  assert states.storage["id"].shape == (num_seeds, 4) and states.position.shape == (num_seeds,)
  add = jax.jit(jax.vmap(buffer.add))
  for step in range(3):       # 6 items per buffer: wraps once; seed s writes 10 * s + i
    values = jnp.arange(num_seeds)[:, None] * 10.0 + jnp.arange(n)[None, :] + 2 * step + 1
    states = add(states, _items(values))
  np.testing.assert_array_equal(np.asarray(states.position), [2] * num_seeds)
  np.testing.assert_array_equal(np.asarray(states.size), [4] * num_seeds)
  for s in range(num_seeds):
    np.testing.assert_array_equal(_ids(states)[s], 10 * s + np.array([5, 6, 3, 4]))
  keys = jax.random.split(jax.random.key(0), num_seeds)
  batch = jax.jit(jax.vmap(buffer.sample))(states, keys)
  assert batch["id"].shape == (num_seeds, 3)
  for s in range(num_seeds):
    assert set(np.asarray(batch["id"][s]).tolist()) <= set((10 * s + np.arange(3, 7)).tolist())
  np.testing.assert_array_equal(np.asarray(jax.vmap(buffer.can_sample)(states)), [True] * 3)
  # vmapped add equals a Python loop of single adds
  single = buffer.init(_item())
  for step in range(3):
    single = buffer.add(single, _items(10.0 + jnp.arange(n) + 2 * step + 1))
  np.testing.assert_array_equal(_ids(single), _ids(states)[1])


@pytest.mark.parametrize("convenience", [False, True])
def test_donation_reuses_the_storage(convenience):
  buffer = make_replay_buffer(capacity=1000, batch_size=1)
  add = buffer.add_donated if convenience else jax.jit(buffer.add, donate_argnums=0)
  state = buffer.init(_item())
  old_storage = state.storage["vec"]
  new_state = add(state, _items([1.0, 2.0]))
  assert old_storage.is_deleted()          # written in place, not copied
  assert not new_state.storage["vec"].is_deleted()
  np.testing.assert_array_equal(np.asarray(new_state.storage["id"][:3]), [1, 2, 0])
  newer = add(new_state, _items([3.0]))
  assert new_state.storage["id"].is_deleted()
  np.testing.assert_array_equal(np.asarray(newer.storage["id"][:3]), [1, 2, 3])


def test_donation_of_a_vmapped_batch_of_buffers():
  buffer = make_replay_buffer(capacity=100, batch_size=1)
  add = jax.jit(jax.vmap(buffer.add), donate_argnums=0)
  states = jax.vmap(lambda _: buffer.init(_item()))(jnp.arange(3))
  old = states.storage["vec"]
  states = add(states, _items(jnp.ones((3, 2))))
  assert old.is_deleted()
  np.testing.assert_array_equal(np.asarray(states.size), [2, 2, 2])


def test_without_donation_the_old_state_survives():
  buffer = make_replay_buffer(capacity=10, batch_size=1)
  state = buffer.init(_item())
  jax.jit(buffer.add)(state, _items([1.0]))
  assert not state.storage["id"].is_deleted()
  np.testing.assert_array_equal(_ids(state), 0)


def test_add_casts_same_kind_dtypes():
  buffer = make_replay_buffer(capacity=3, batch_size=1)
  state = buffer.init({"a": jnp.int32(0), "x": jnp.float32(0)})
  state = buffer.add(state, {"a": jnp.array([True]), "x": jnp.array([2], jnp.int32)})
  assert state.storage["a"].dtype == jnp.int32 and state.storage["x"].dtype == jnp.float32
  assert int(state.storage["a"][0]) == 1 and float(state.storage["x"][0]) == 2.0


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
BAD_SIZES = [
    (dict(capacity=0, batch_size=1), "capacity must be an int >= 1"),
    (dict(capacity=-3, batch_size=1), "capacity must be an int >= 1"),
    (dict(capacity=2.5, batch_size=1), "capacity must be an int"),
    (dict(capacity=True, batch_size=1), "capacity must be an int"),
    (dict(capacity=10, batch_size=0), "batch_size must be an int >= 1"),
    (dict(capacity=10, batch_size=11), r"batch_size \(11\) must be <= capacity \(10\)"),
    (dict(capacity=10, batch_size=2, min_size=11), r"min_size \(11\) must be <= capacity \(10\)"),
    (dict(capacity=10, batch_size=2, min_size=-1), "min_size must be an int >= 0"),
    (dict(capacity=10, batch_size="2"), "batch_size must be an int"),
]


@pytest.mark.parametrize("kwargs,match", BAD_SIZES)
def test_factory_validates(kwargs, match):
  with pytest.raises(ValueError, match=match):
    make_replay_buffer(**kwargs)


def test_factory_accepts_numpy_ints():
  buffer = make_replay_buffer(np.int64(4), np.int32(2), min_size=np.int64(3))
  state = buffer.add(buffer.init(_item()), _items([1, 2, 3]))
  assert bool(buffer.can_sample(state))


def test_init_needs_an_array_leaf():
  buffer = make_replay_buffer(capacity=4, batch_size=1)
  with pytest.raises(ValueError, match="at least one array leaf"):
    buffer.init({})


@pytest.mark.parametrize("jit", [False, True])
def test_add_validates_shapes(jit):
  buffer = make_replay_buffer(capacity=4, batch_size=1)
  state = buffer.init(_item())
  add = jax.jit(buffer.add) if jit else buffer.add
  with pytest.raises(ValueError, match=r"N=5 items, more than capacity \(4\)"):
    add(state, _items(np.arange(5)))
  with pytest.raises(ValueError, match=r"item\['id'\] is a scalar"):
    add(state, _item(1.0))
  with pytest.raises(ValueError, match=r"item\['vec'\] has item shape \(3,\).*stores \(2,\)"):
    add(state, {"id": jnp.zeros(2), "vec": jnp.zeros((2, 3))})
  with pytest.raises(ValueError, match=r"2 items on one leaf but 3 on item\['vec'\]"):
    add(state, {"id": jnp.zeros(2), "vec": jnp.zeros((3, 2))})
  with pytest.raises(ValueError, match="structure"):
    add(state, {"id": jnp.zeros(2)})
  with pytest.raises(ValueError, match=r"item\['id'\] has dtype float32.*int32"):
    int_buffer_state = buffer.init({"id": jnp.int32(0), "vec": jnp.zeros(2)})
    add(int_buffer_state, _items([1.5]))


# ---------------------------------------------------------------------------------------------
# Prioritized replay
# ---------------------------------------------------------------------------------------------
from jaxrl.buffers import PrioritizedReplayBufferState  # noqa: E402
from jaxrl.buffers import PrioritizedSample  # noqa: E402
from jaxrl.buffers import importance_weights  # noqa: E402
from jaxrl.buffers import make_prioritized_replay_buffer  # noqa: E402


def _leaves(state, capacity):
  tree = np.asarray(state.tree)
  return tree[tree.size // 2:][:capacity]


def _assert_tree_consistent(state, capacity):
  """Padding leaves zero, and every inner node exactly the sum of its two children (the update
  recomputes each ancestor from its children, so float sums agree bit for bit)."""
  tree = np.asarray(state.tree)
  num_leaves = tree.size // 2
  np.testing.assert_array_equal(tree[num_leaves + capacity:], 0)
  inner = np.arange(1, num_leaves)
  np.testing.assert_array_equal(tree[inner], tree[2 * inner] + tree[2 * inner + 1])


def _prioritized(capacity, batch_size, values, priorities=None, **kwargs):
  """A buffer with ``values`` added (ids), then, if given, the priorities of slots 0..B-1 set."""
  buffer = make_prioritized_replay_buffer(capacity, batch_size, **kwargs)
  state = buffer.add(buffer.init(_item()), _items(values))
  if priorities is not None:
    state = buffer.update_priorities(state, jnp.arange(batch_size), jnp.asarray(priorities))
  return buffer, state


def test_prioritized_init_and_add_shapes():
  buffer = make_prioritized_replay_buffer(capacity=5, batch_size=2)
  state = buffer.init(_item())
  assert isinstance(state, PrioritizedReplayBufferState)
  assert state.tree.shape == (16,) and state.tree.dtype == jnp.float32   # P = 8
  assert state.max_priority.dtype == jnp.float32 and float(state.max_priority) == 1.0
  np.testing.assert_array_equal(np.asarray(state.tree), 0)
  state = buffer.add(state, _items([1, 2, 3]))
  np.testing.assert_array_equal(_ids(state), [1, 2, 3, 0, 0])
  np.testing.assert_array_equal(_leaves(state, 5), [1, 1, 1, 0, 0])
  assert float(state.tree[1]) == 3.0 and (int(state.position), int(state.size)) == (3, 3)
  _assert_tree_consistent(state, 5)
  for capacity, length in ((1, 2), (2, 4), (8, 16), (9, 32)):
    tree = make_prioritized_replay_buffer(capacity, 1).init(_item()).tree
    assert tree.shape == (length,)


def test_prioritized_sampling_frequencies_are_proportional():
  """Chi-square goodness of fit of 12,000 draws to P(i) = p_i / sum p; a uniform guess fails."""
  from scipy import stats
  priorities = np.array([1.0, 2.0, 3.0, 4.0, 0.5, 1.5], np.float32)
  buffer, state = _prioritized(7, 6, np.arange(1, 7), priorities)   # slot 6 stays unwritten
  keys = jax.random.split(jax.random.key(0), 2000)
  batch = jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))(state, keys)
  indices = np.asarray(batch.indices).ravel()
  np.testing.assert_array_equal(np.asarray(batch.items["id"]).ravel(), indices + 1)
  counts = np.bincount(indices, minlength=7)
  assert counts[6] == 0
  expected = priorities / priorities.sum()
  np.testing.assert_allclose(np.asarray(batch.probabilities).ravel(), expected[indices],
                             rtol=1e-6)
  assert stats.chisquare(counts[:6], expected * indices.size).pvalue > 0.01
  assert stats.chisquare(counts[:6], np.full(6, indices.size / 6)).pvalue < 1e-6
  wrong = expected.copy()
  wrong[[0, 1]] = wrong[[1, 0]]        # two priorities swapped
  assert stats.chisquare(counts[:6], wrong * indices.size).pvalue < 1e-6


def test_prioritized_sampling_is_stratified():
  """Draw b comes from the b-th of B equal segments of [0, T): the slot's cumulative-priority
  interval [c_{i-1}, c_i) meets [b T / B, (b + 1) T / B)."""
  priorities = np.array([0.3, 5.0, 1.0, 0.2, 2.5, 0.7, 1.3, 4.0], np.float32)
  buffer, state = _prioritized(10, 8, np.arange(1, 9), priorities)
  batch = jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))(
      state, jax.random.split(jax.random.key(2), 200))
  cum = np.concatenate([[0.0], np.cumsum(priorities, dtype=np.float64)])
  total, b = cum[-1], np.arange(8)
  indices = np.asarray(batch.indices)
  lo, hi = b * total / 8, (b + 1) * total / 8
  tol = 1e-5 * total
  assert np.all(cum[indices] < hi + tol) and np.all(cum[indices + 1] > lo - tol)
  assert np.all(np.diff(indices, axis=1) >= 0)      # segments in order: slots non-decreasing
  # equal priorities and B == size: segment b is exactly slot b
  buffer, state = _prioritized(5, 5, np.arange(1, 6))
  np.testing.assert_array_equal(np.asarray(buffer.sample(state, jax.random.key(3)).indices),
                                np.arange(5))


def test_prioritized_never_samples_unwritten_slots():
  """3 of 10 slots written (P = 16 leaves), priorities spanning 12 orders of magnitude so that
  float32 sums round; 500 keys. Also: an empty buffer returns slot 0 with probability 0."""
  buffer = make_prioritized_replay_buffer(capacity=10, batch_size=3)
  sample = jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))
  keys = jax.random.split(jax.random.key(0), 500)
  state = buffer.add(buffer.init(_item()), _items([-7.0, -7.0, -7.0]))
  for priorities in ([1.0, 1.0, 1.0], [1e-6, 1e6, 1e-6], [1e6, 1e-6, 1e-6], [3e-7, 1.0, 7.0]):
    state = buffer.update_priorities(state, jnp.arange(3), jnp.asarray(priorities))
    batch = sample(state, keys)
    assert set(np.unique(np.asarray(batch.indices)).tolist()) <= {0, 1, 2}
    np.testing.assert_array_equal(np.asarray(batch.items["id"]), -7.0)
    assert np.all(np.asarray(batch.probabilities) > 0)
  empty = buffer.sample(buffer.init(_item()), jax.random.key(1))
  np.testing.assert_array_equal(np.asarray(empty.indices), 0)
  np.testing.assert_array_equal(np.asarray(empty.probabilities), 0)


def test_prioritized_descent_with_a_rounded_total():
  """One priority 1 and four of 1e-8 (each below float32's resolution at 1, so every sum above
  them rounds) next to an unwritten slot: the descent still ends on a written slot with P > 0."""
  buffer = make_prioritized_replay_buffer(capacity=6, batch_size=4)
  state = buffer.add(buffer.init(_item()), _items(np.arange(1, 6)))    # slot 5 unwritten
  state = buffer.update_priorities(state, jnp.array([0, 1, 2, 3]),
                                   jnp.array([1.0, 1e-8, 1e-8, 1e-8]))
  state = buffer.update_priorities(state, jnp.array([4, 4, 4, 4]), jnp.full(4, 1e-8))
  batch = jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))(
      state, jax.random.split(jax.random.key(5), 300))
  assert np.all(np.asarray(batch.indices) < 5)
  assert np.all(np.asarray(batch.probabilities) > 0)


def test_importance_weights_on_hand_values():
  p = jnp.array([0.5, 0.25, 0.125])
  # w_i = (N P(i))^-beta / max_j w_j; N = 8, beta = 1: (4, 2, 1)^-1 = (1/4, 1/2, 1) -> itself
  np.testing.assert_allclose(np.asarray(importance_weights(p, jnp.int32(8), 1.0)),
                             [0.25, 0.5, 1.0], rtol=1e-6)
  # beta = 0.5: (4, 2, 1)^-0.5 = (0.5, 0.7071, 1)
  np.testing.assert_allclose(np.asarray(importance_weights(p, 8, 0.5)),
                             [0.5, 2 ** -0.5, 1.0], rtol=1e-6)
  np.testing.assert_allclose(np.asarray(importance_weights(p, 8, 0.0)), 1.0)
  # beta traced and vmapped (a sweep), size traced
  betas = jnp.array([0.0, 0.5, 1.0])
  w = jax.jit(jax.vmap(importance_weights, in_axes=(None, None, 0)))(p, jnp.int32(8), betas)
  np.testing.assert_allclose(np.asarray(w), [[1, 1, 1], [0.5, 2 ** -0.5, 1], [0.25, 0.5, 1]],
                             rtol=1e-6)
  assert w.dtype == jnp.float32


def test_prioritized_wrap_around_resets_the_priority():
  buffer, state = _prioritized(4, 4, [1, 2, 3, 4], [0.1, 7.0, 2.0, 3.0])
  assert float(state.max_priority) == 7.0
  np.testing.assert_allclose(_leaves(state, 4), [0.1, 7.0, 2.0, 3.0])
  state = buffer.add(state, _items([5]))          # overwrites slot 0 (id 1, priority 0.1)
  np.testing.assert_array_equal(_ids(state), [5, 2, 3, 4])
  np.testing.assert_allclose(_leaves(state, 4), [7.0, 7.0, 2.0, 3.0])
  assert (int(state.position), int(state.size)) == (1, 4)
  np.testing.assert_allclose(float(state.tree[1]), 19.0)
  state = buffer.add(state, _items([6, 7, 8]))    # slots 1, 2, 3
  np.testing.assert_allclose(_leaves(state, 4), 7.0)
  _assert_tree_consistent(state, 4)


def test_prioritized_max_priority_tracking():
  buffer, state = _prioritized(6, 2, [1, 2, 3])
  assert float(state.max_priority) == 1.0
  state = buffer.update_priorities(state, jnp.array([0, 1]), jnp.array([0.5, 0.25]))
  assert float(state.max_priority) == 1.0          # the largest EVER set, not the current max
  state = buffer.update_priorities(state, jnp.array([0, 1]), jnp.array([3.0, 0.5]))
  assert float(state.max_priority) == 3.0
  state = buffer.update_priorities(state, jnp.array([0, 1]), jnp.array([0.1, 0.1]))
  assert float(state.max_priority) == 3.0
  state = buffer.add(state, _items([4]))
  np.testing.assert_allclose(_leaves(state, 6), [0.1, 0.1, 1.0, 3.0, 0, 0])


@pytest.mark.parametrize("jit", [False, True])
def test_prioritized_duplicate_indices_keep_the_largest(jit):
  buffer, state = _prioritized(5, 4, [1, 2, 3, 4])
  update = jax.jit(buffer.update_priorities) if jit else buffer.update_priorities
  state = update(state, jnp.array([2, 0, 2, 2]), jnp.array([3.0, 0.5, 5.0, 0.25]))
  np.testing.assert_allclose(_leaves(state, 5), [0.5, 1.0, 5.0, 1.0, 0.0])
  assert float(state.max_priority) == 5.0
  assert float(state.tree[1]) == 7.5
  _assert_tree_consistent(state, 5)
  state = update(state, jnp.array([2, 2, 2, 2]), jnp.array([0.5, 0.25, 0.5, 0.75]))
  np.testing.assert_allclose(_leaves(state, 5), [0.5, 1.0, 0.75, 1.0, 0.0])  # lower than before


def test_prioritized_tree_stays_consistent_under_many_updates():
  """Random adds and updates (duplicates included) in one jitted scan: every inner node equals
  its children's sum exactly and the root equals the leaves' sum to float tolerance."""
  capacity, batch_size = 37, 8                       # P = 64
  buffer = make_prioritized_replay_buffer(capacity, batch_size)

  def step(state, key):
    k1, k2, k3 = jax.random.split(key, 3)
    state = buffer.add(state, _items(jax.random.uniform(k1, (3,))))
    indices = jax.random.randint(k2, (batch_size,), 0, jnp.minimum(state.size, 12))
    priorities = jnp.exp(jax.random.uniform(k3, (batch_size,), minval=-8.0, maxval=8.0))
    return buffer.update_priorities(state, indices, priorities), None

  run = jax.jit(lambda s, k: jax.lax.scan(step, s, jax.random.split(k, 300))[0])
  state = run(buffer.init(_item()), jax.random.key(0))
  assert int(state.size) == capacity
  _assert_tree_consistent(state, capacity)
  leaves = _leaves(state, capacity).astype(np.float64)
  assert np.all(leaves > 0)
  np.testing.assert_allclose(float(state.tree[1]), leaves.sum(), rtol=1e-5)
  assert float(state.max_priority) >= leaves.max()


def test_prioritized_vmap_equals_a_loop():
  capacity, batch_size, num = 6, 3, 3
  buffer = make_prioritized_replay_buffer(capacity, batch_size)
  values = 10.0 * jnp.arange(num)[:, None] + jnp.arange(1, 5)[None, :]     # [3 buffers, 4]
  indices = jnp.array([[0, 1, 2], [3, 3, 0], [1, 2, 3]])
  priorities = jnp.array([[0.5, 2.0, 1.0], [4.0, 0.2, 3.0], [1.0, 1.0, 9.0]])
  keys = jax.random.split(jax.random.key(7), num)

  def run(values, indices, priorities, key):
    state = buffer.add(buffer.init(_item()), _items(values))
    state = buffer.update_priorities(state, indices, priorities)
    state = buffer.add(state, _items(values[:3] + 100))
    return state, buffer.sample(state, key)

  states, batches = jax.jit(jax.vmap(run))(values, indices, priorities, keys)
  assert batches.indices.shape == (num, batch_size)
  for s in range(num):
    state, batch = run(values[s], indices[s], priorities[s], keys[s])
    for a, b in zip(jax.tree.leaves((state, batch)), jax.tree.leaves((states, batches))):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b[s]), rtol=1e-6)


def test_prioritized_add_donated():
  buffer = make_prioritized_replay_buffer(capacity=100, batch_size=1)
  state = buffer.init(_item())
  old_storage, old_tree = state.storage["vec"], state.tree
  new_state = buffer.add_donated(state, _items([1.0, 2.0]))
  assert old_storage.is_deleted() and old_tree.is_deleted()
  np.testing.assert_array_equal(np.asarray(new_state.storage["id"][:3]), [1, 2, 0])
  assert float(new_state.tree[1]) == 2.0


def test_prioritized_sample_structure_and_can_sample():
  buffer = make_prioritized_replay_buffer(capacity=8, batch_size=3, min_size=5)
  example = Transition(obs=jnp.zeros(4), action=jnp.int32(0), reward=jnp.float32(0),
                       discount=jnp.float32(0), next_obs=jnp.zeros(4))
  state = buffer.init(example)
  assert not bool(buffer.can_sample(state))
  state = buffer.add(state, jax.tree.map(lambda x: jnp.stack([x + 1] * 4), example))
  assert not bool(buffer.can_sample(state))
  state = buffer.add(state, jax.tree.map(lambda x: (x + 1)[None], example))
  assert bool(buffer.can_sample(state))
  batch = buffer.sample(state, jax.random.key(0))
  assert isinstance(batch, PrioritizedSample) and isinstance(batch.items, Transition)
  assert batch.items.obs.shape == (3, 4) and batch.items.action.dtype == jnp.int32
  assert batch.indices.dtype == jnp.int32 and batch.probabilities.dtype == jnp.float32


@pytest.mark.parametrize("kwargs,match", BAD_SIZES)
def test_prioritized_factory_validates(kwargs, match):
  with pytest.raises(ValueError, match=match):
    make_prioritized_replay_buffer(**kwargs)


@pytest.mark.parametrize("jit", [False, True])
def test_prioritized_validates_shapes_and_priorities(jit):
  buffer, state = _prioritized(4, 2, [1, 2])
  update = jax.jit(buffer.update_priorities) if jit else buffer.update_priorities
  add = jax.jit(buffer.add) if jit else buffer.add
  with pytest.raises(ValueError, match=r"indices has shape \(3,\).*needs \(2,\)"):
    update(state, jnp.arange(3), jnp.ones(2))
  with pytest.raises(ValueError, match=r"priorities has shape \(2, 1\).*needs \(2,\)"):
    update(state, jnp.arange(2), jnp.ones((2, 1)))
  with pytest.raises(ValueError, match=r"priorities has shape \(\)"):
    update(state, jnp.arange(2), jnp.float32(1))
  with pytest.raises(ValueError, match=r"N=5 items, more than capacity \(4\)"):
    add(state, _items(np.arange(5)))
  with pytest.raises(ValueError, match=r"item\['vec'\] has item shape \(3,\).*stores \(2,\)"):
    add(state, {"id": jnp.zeros(2), "vec": jnp.zeros((2, 3))})
  if not jit:   # concrete priorities are checked eagerly
    with pytest.raises(ValueError, match=r"priorities must be positive, got 0.0 \(entry \(1,\)"):
      update(state, jnp.arange(2), jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="priorities must be positive, got nan"):
      update(state, jnp.arange(2), jnp.array([np.nan, 1.0]))
