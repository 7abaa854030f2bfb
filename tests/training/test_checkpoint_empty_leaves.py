"""Zero-size leaves (Brax MJX states carry contact arrays of shape [.., 0, ..]) round-trip."""

import jax.numpy as jnp
import numpy as np

from jaxrl.training import checkpoints


def test_zero_size_leaves_round_trip(tmp_path):
  state = {"contact": jnp.zeros((2, 0, 3), jnp.float32), "dist": np.zeros((0,), np.int32),
           "w": jnp.arange(4.0), "only_empty": {"x": jnp.zeros((0, 5), jnp.bool_)}}
  checkpoints.save(tmp_path, 1, state, metadata={})
  back = checkpoints.restore(tmp_path, like=state)
  assert back["contact"].shape == (2, 0, 3) and back["contact"].dtype == jnp.float32
  assert isinstance(back["dist"], np.ndarray) and back["dist"].shape == (0,)
  assert back["only_empty"]["x"].shape == (0, 5) and back["only_empty"]["x"].dtype == jnp.bool_
  np.testing.assert_array_equal(back["w"], state["w"])
  # a checkpoint of nothing but empty leaves writes no array files and still restores
  checkpoints.save(tmp_path / "e", 1, {"x": jnp.zeros((0,))}, metadata={})
  assert checkpoints.restore(tmp_path / "e", like={"x": jnp.zeros((0,))})["x"].shape == (0,)
