"""Replay buffer: ring order, uniform sampling of written slots only, bookkeeping, jit/vmap, donation."""

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
                                  "make_replay_buffer"}
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
@pytest.mark.parametrize("kwargs,match", [
    (dict(capacity=0, batch_size=1), "capacity must be an int >= 1"),
    (dict(capacity=-3, batch_size=1), "capacity must be an int >= 1"),
    (dict(capacity=2.5, batch_size=1), "capacity must be an int"),
    (dict(capacity=True, batch_size=1), "capacity must be an int"),
    (dict(capacity=10, batch_size=0), "batch_size must be an int >= 1"),
    (dict(capacity=10, batch_size=11), r"batch_size \(11\) must be <= capacity \(10\)"),
    (dict(capacity=10, batch_size=2, min_size=11), r"min_size \(11\) must be <= capacity \(10\)"),
    (dict(capacity=10, batch_size=2, min_size=-1), "min_size must be an int >= 0"),
    (dict(capacity=10, batch_size="2"), "batch_size must be an int"),
])
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
