"""Tests for jaxrl.training.checkpoints: bitwise round trips, retention, atomicity, mismatches."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import struct

from jaxrl.training import checkpoints

from tests.conftest import xla_flags


class TrainState(NamedTuple):
  params: dict
  opt_state: optax.OptState
  key: jax.Array
  step: jax.Array


@struct.dataclass
class EnvState:
  position: jax.Array
  done: jax.Array
  size: int = struct.field(pytree_node=False, default=3)


def _nan_with_payload() -> np.ndarray:
  """float32 NaNs with non-default payloads (and a negative one), as raw bits."""
  bits = np.array([0x7FC00123, 0xFFC0BEEF, 0x7F800001], dtype=np.uint32)
  return bits.view(np.float32)


def _make_state(runs: int = 2) -> dict:
  params = {"dense": {"kernel": jnp.arange(6.0).reshape(2, 3), "bias": jnp.zeros(3)}}
  params["dense"]["kernel"] = params["dense"]["kernel"].at[0, 0].set(jnp.nan)
  opt_state = optax.adam(1e-3).init(params)
  # One Adam step so mu/nu/count are not all zeros.
  grads = jax.tree.map(jnp.ones_like, params)
  _, opt_state = optax.adam(1e-3).update(grads, opt_state, params)
  return {
      "train": TrainState(
          params=params,
          opt_state=opt_state,
          key=jax.random.PRNGKey(7),
          step=jnp.asarray(5, jnp.int32),
      ),
      "env": EnvState(
          position=jnp.arange(runs * 3, dtype=jnp.int32).reshape(runs, 3),
          done=jnp.array([True, False][:runs]),
      ),
      "nan_payload": _nan_with_payload(),
      "empty": optax.EmptyState(),
      "uint": np.array([0, 1, 2**32 - 1], dtype=np.uint32),
      "flag": np.bool_(True),
      "python_count": 12,
  }


def _assert_bitwise_equal(a, b) -> None:
  leaves_a, tree_a = jax.tree_util.tree_flatten_with_path(a)
  leaves_b, tree_b = jax.tree_util.tree_flatten_with_path(b)
  assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b), (tree_a, tree_b)
  for (path, x), (_, y) in zip(leaves_a, leaves_b):
    assert type(x) is type(y) or (isinstance(x, jax.Array) and isinstance(y, jax.Array)), path
    x_np, y_np = np.asarray(x), np.asarray(y)
    assert x_np.shape == y_np.shape and x_np.dtype == y_np.dtype, path
    assert x_np.tobytes() == y_np.tobytes(), jax.tree_util.keystr(path)


def test_round_trip_is_bitwise_exact(tmp_path):
  state = _make_state()
  path = checkpoints.save(tmp_path, 100, state, metadata={"config": {"lr": 1e-3}})
  assert path == str(tmp_path / "step_00000100")
  restored = checkpoints.restore(tmp_path, like=_make_state())
  _assert_bitwise_equal(state, restored)
  assert isinstance(restored["train"], TrainState)
  assert isinstance(restored["train"].opt_state[0], optax.ScaleByAdamState)
  assert isinstance(restored["env"], EnvState)
  assert restored["python_count"] == 12 and isinstance(restored["python_count"], int)
  assert isinstance(restored["flag"], np.bool_)
  assert isinstance(restored["train"].params["dense"]["kernel"], jax.Array)
  assert np.isnan(np.asarray(restored["train"].params["dense"]["kernel"])[0, 0])


def test_restore_from_shape_dtype_structs(tmp_path):
  state = _make_state()
  checkpoints.save(tmp_path, 1, state, metadata={})
  like = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype)
      if isinstance(x, jax.Array) else x,
      _make_state(),
  )
  restored = checkpoints.restore(tmp_path, like=like)
  _assert_bitwise_equal(state, restored)


def test_weak_type_is_kept(tmp_path):
  state = {"epsilon": jnp.asarray(0.5), "strong": jnp.float32(0.5)}
  assert state["epsilon"].weak_type and not state["strong"].weak_type
  checkpoints.save(tmp_path, 0, state, metadata={})
  restored = checkpoints.restore(tmp_path, like=state)
  assert restored["epsilon"].weak_type and not restored["strong"].weak_type
  assert float(restored["epsilon"]) == 0.5 and restored["epsilon"].dtype == jnp.float32
  # and it behaves as the original in promotion: weak float32 + bfloat16 stays bfloat16
  assert (restored["epsilon"] + jnp.bfloat16(1)).dtype == jnp.bfloat16


def test_typed_prng_keys_round_trip(tmp_path):
  state = {"key": jax.random.split(jax.random.key(3), 4)}
  checkpoints.save(tmp_path, 0, state, metadata={})
  like = {"key": jax.eval_shape(lambda: jax.random.split(jax.random.key(0), 4))}
  restored = checkpoints.restore(tmp_path, like=like)
  assert restored["key"].dtype == state["key"].dtype
  np.testing.assert_array_equal(
      jax.random.key_data(restored["key"]), jax.random.key_data(state["key"])
  )


def test_metadata_round_trip_and_latest_by_default(tmp_path):
  checkpoints.save(tmp_path, 1, {"x": jnp.ones(2)}, metadata={"seed": 0, "tags": ["a", "b"]})
  checkpoints.save(tmp_path, 2, {"x": jnp.zeros(2)}, metadata={"seed": 1, "nested": {"n": None}})
  assert checkpoints.read_metadata(tmp_path) == {"seed": 1, "nested": {"n": None}}
  assert checkpoints.read_metadata(tmp_path, step=1) == {"seed": 0, "tags": ["a", "b"]}
  np.testing.assert_array_equal(checkpoints.restore(tmp_path, {"x": jnp.ones(2)})["x"], 0.0)
  np.testing.assert_array_equal(checkpoints.restore(tmp_path, {"x": jnp.ones(2)}, step=1)["x"], 1)


def test_metadata_must_be_json(tmp_path):
  with pytest.raises(ValueError, match="JSON-serialisable"):
    checkpoints.save(tmp_path, 0, {"x": jnp.ones(2)}, metadata={"a": jnp.ones(2)})
  assert checkpoints.latest_step(tmp_path) is None


def test_keep_deletes_older_checkpoints(tmp_path):
  for step in (10, 20, 30, 40):
    checkpoints.save(tmp_path, step, {"x": jnp.full(2, step)}, metadata={}, keep=2)
  assert sorted(os.listdir(tmp_path)) == ["step_00000030", "step_00000040"]
  assert checkpoints.latest_step(tmp_path) == 40
  with pytest.raises(FileNotFoundError, match="step 10"):
    checkpoints.read_metadata(tmp_path, step=10)


def test_save_refuses_existing_step_and_bad_arguments(tmp_path):
  checkpoints.save(tmp_path, 3, {"x": jnp.ones(2)}, metadata={})
  with pytest.raises(FileExistsError, match="step 3"):
    checkpoints.save(tmp_path, 3, {"x": jnp.ones(2)}, metadata={})
  with pytest.raises(ValueError, match="keep"):
    checkpoints.save(tmp_path, 4, {"x": jnp.ones(2)}, metadata={}, keep=0)
  with pytest.raises(ValueError, match="step"):
    checkpoints.save(tmp_path, -1, {"x": jnp.ones(2)}, metadata={})
  with pytest.raises(ValueError, match=r"\['name'\].*str"):
    checkpoints.save(tmp_path, 4, {"name": "dqn"}, metadata={})


def test_latest_step_none_when_empty_or_missing(tmp_path):
  assert checkpoints.latest_step(tmp_path) is None
  assert checkpoints.latest_step(tmp_path / "missing") is None
  with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
    checkpoints.restore(tmp_path / "missing", like={"x": jnp.ones(2)})
  with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
    checkpoints.read_metadata(tmp_path)


def test_half_written_checkpoints_are_ignored(tmp_path):
  checkpoints.save(tmp_path, 1, {"x": jnp.ones(2)}, metadata={"ok": True})
  # A save killed mid-write leaves a .tmp- directory; a step folder without metadata.json
  # (e.g. copied in part) is not complete either.
  (tmp_path / ".tmp-step_00000002-deadbeef" / "state").mkdir(parents=True)
  (tmp_path / "step_00000003" / "state").mkdir(parents=True)
  assert checkpoints.latest_step(tmp_path) == 1
  assert checkpoints.read_metadata(tmp_path) == {"ok": True}
  # The next successful save sweeps the stale temporary directory.
  checkpoints.save(tmp_path, 4, {"x": jnp.ones(2)}, metadata={}, keep=5)
  assert not (tmp_path / ".tmp-step_00000002-deadbeef").exists()
  assert checkpoints.latest_step(tmp_path) == 4


def test_failed_save_leaves_previous_latest(tmp_path, monkeypatch):
  checkpoints.save(tmp_path, 1, {"x": jnp.ones(2)}, metadata={})

  def fail(*args, **kwargs):
    raise OSError("disk full")

  monkeypatch.setattr(checkpoints.os, "rename", fail)
  with pytest.raises(OSError, match="disk full"):
    checkpoints.save(tmp_path, 2, {"x": jnp.zeros(2)}, metadata={})
  monkeypatch.undo()
  assert checkpoints.latest_step(tmp_path) == 1
  assert os.listdir(tmp_path) == ["step_00000001"]


def test_shape_mismatch_names_the_leaf(tmp_path):
  checkpoints.save(tmp_path, 0, _make_state(runs=2), metadata={})
  with pytest.raises(ValueError, match=r"\['env'\]\.position.*\(2, 3\).*\(1, 3\)"):
    checkpoints.restore(tmp_path, like=_make_state(runs=1))


def test_dtype_mismatch_names_the_leaf(tmp_path):
  checkpoints.save(tmp_path, 0, {"a": jnp.ones(2), "b": jnp.ones(2, jnp.float32)}, metadata={})
  with pytest.raises(ValueError, match=r"\['b'\].*float32.*int32"):
    checkpoints.restore(tmp_path, like={"a": jnp.ones(2), "b": jnp.ones(2, jnp.int32)})


def test_structure_mismatch_raises(tmp_path):
  checkpoints.save(tmp_path, 0, {"a": jnp.ones(2), "b": jnp.ones(2)}, metadata={})
  with pytest.raises(ValueError, match=r"2 leaves saved, 3 in `like`.*\['c'\]"):
    checkpoints.restore(tmp_path, like={"a": jnp.ones(2), "b": jnp.ones(2), "c": jnp.ones(2)})
  with pytest.raises(ValueError, match=r"structure.*\['b'\].*\['z'\]"):
    checkpoints.restore(tmp_path, like={"a": jnp.ones(2), "z": jnp.ones(2)})
  with pytest.raises(ValueError, match="structure"):
    checkpoints.restore(tmp_path, like=(jnp.ones(2), jnp.ones(2)))


def test_restore_with_named_sharding(tmp_path):
  mesh = jax.make_mesh((1,), ("runs",))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
  state = {
      "q": jax.device_put(jnp.arange(8.0).reshape(2, 4), sharding),
      "key": jax.device_put(jax.random.split(jax.random.PRNGKey(0), 2), sharding),
  }
  checkpoints.save(tmp_path, 0, state, metadata={})
  like = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), state)
  restored = checkpoints.restore(tmp_path, like=like)
  for name in state:
    assert restored[name].sharding == sharding, name
  _assert_bitwise_equal(state, restored)


def test_restore_sharded_over_two_devices(tmp_path):
  """Arrays split over a 2-device mesh (forced CPU devices, in a fresh process) come back split."""
  script = textwrap.dedent(f"""
      import jax, jax.numpy as jnp, numpy as np
      from jax.sharding import NamedSharding, PartitionSpec as P
      from jaxrl.training import checkpoints
      assert jax.device_count() == 2, jax.devices()
      mesh = jax.make_mesh((2,), ("runs",))
      split, replicated = NamedSharding(mesh, P("runs")), NamedSharding(mesh, P())
      state = {{
          "q": jax.device_put(jnp.arange(8.0).reshape(2, 4), split),
          "key": jax.device_put(jax.random.split(jax.random.PRNGKey(0), 2), split),
          "typed_key": jax.device_put(jax.random.split(jax.random.key(0), 2), split),
          "w": jax.device_put(jnp.ones(3), replicated),
      }}
      checkpoints.save({str(tmp_path)!r}, 0, state, metadata={{}})
      like = jax.tree.map(
          lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state)
      restored = checkpoints.restore({str(tmp_path)!r}, like)
      for name, x in state.items():
        assert restored[name].sharding == x.sharding, name
        assert len(restored[name].addressable_shards) == 2, name
      for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
          x, y = jax.random.key_data(x), jax.random.key_data(y)
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()
      print("OK")
  """)
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=2"))
  result = subprocess.run(
      [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
  )
  assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]


def test_empty_state_and_metadata_file_is_json(tmp_path):
  path = checkpoints.save(tmp_path, 0, {"nothing": optax.EmptyState()}, metadata={"a": 1})
  assert checkpoints.restore(tmp_path, like={"nothing": optax.EmptyState()}) == {
      "nothing": optax.EmptyState()
  }
  with open(os.path.join(path, "metadata.json")) as f:
    assert json.load(f)["metadata"] == {"a": 1}


def test_orbax_info_logging_is_silenced(tmp_path, caplog):
  with caplog.at_level(logging.INFO):
    checkpoints.save(tmp_path, 0, {"x": jnp.ones(2)}, metadata={})
    checkpoints.restore(tmp_path, like={"x": jnp.ones(2)})
  orbax_records = [r for r in caplog.records if f"{os.sep}orbax{os.sep}" in r.pathname]
  assert not orbax_records, [r.getMessage() for r in orbax_records]


def test_relative_directory_works(tmp_path, monkeypatch):
  # orbax refuses relative paths; the CLI's default run directories are relative (runs/...).
  monkeypatch.chdir(tmp_path)
  state = {"w": jnp.arange(3.0)}
  checkpoints.save("rel/ckpt", 1, state, metadata={})
  assert checkpoints.latest_step("rel/ckpt") == 1
  back = checkpoints.restore("rel/ckpt", like=state)
  np.testing.assert_array_equal(back["w"], state["w"])


# --------------------------------------------------------------------------------------------------
# Damaged checkpoints: one paragraph naming the file, never orbax's traceback.


def _saved(tmp_path):
  state = {"w": jnp.arange(3000.0), "m": np.arange(10), "k": jax.random.PRNGKey(1)}
  path = pathlib.Path(checkpoints.save(tmp_path, 5, state, metadata={"a": 1}))
  return state, path


def _largest_data_file(path):
  return max((path / "state" / "ocdbt.process_0" / "d").iterdir(), key=lambda f: f.stat().st_size)


def _truncate(file, size=20):
  file.write_bytes(file.read_bytes()[:size])
  return file


@pytest.mark.parametrize("damage, expected", [
    (lambda p: _truncate(_largest_data_file(p)), r"is 20 bytes, [\d,]+ were saved \(truncated\)"),
    (lambda p: _truncate(p / "state" / "ocdbt.process_0" / "manifest.ocdbt"), r"truncated"),
    (lambda p: _truncate(p / "state" / "manifest.ocdbt"), r"truncated"),
    (lambda p: _truncate(p / "state" / "_METADATA"), r"truncated"),
    (lambda p: (shutil.rmtree(p / "state"), p / "state")[1], r"is missing \(the folder of"),
    (lambda p: _flip_last_byte(_largest_data_file(p)), r"SHA-256 differs"),
    (lambda p: (_largest_data_file(p).unlink(), _largest_data_file(p))[1], None),
])
def test_damaged_array_files_are_named(tmp_path, damage, expected):
  state, path = _saved(tmp_path)
  file = damage(path)
  with pytest.raises(checkpoints.DamagedCheckpointError) as info:
    checkpoints.restore(tmp_path, like=state)
  message = str(info.value)
  assert "\n" not in message and len(message) < 600, message       # one paragraph
  assert f"checkpoint {path} is damaged" in message and "earlier step" in message, message
  assert info.value.step == 5
  if expected is None:      # the deleted file: whichever the listing reaches first is named
    assert "is missing" in message and str(path / "state") in message, message
  else:
    assert info.value.file == file and str(file) in message, message
    assert re.search(expected, message), message
  assert checkpoints.read_metadata(tmp_path) == {"a": 1}    # metadata.json itself is intact


def _flip_last_byte(file):
  data = bytearray(file.read_bytes())
  data[-1] ^= 0xFF
  file.write_bytes(bytes(data))
  return file


@pytest.mark.parametrize("text, expected", [
    (lambda t: t[:100], "is not valid JSON"),
    (lambda t: t.replace('"leaves"', '"leafs"'), "has no valid 'leaves' entry"),
    (lambda t: "[1, 2]", "holds no JSON object"),
])
def test_garbled_metadata_json_is_named(tmp_path, text, expected):
  state, path = _saved(tmp_path)
  meta = path / "metadata.json"
  meta.write_text(text(meta.read_text()))
  for call in (lambda: checkpoints.read_metadata(tmp_path),
               lambda: checkpoints.restore(tmp_path, like=state)):
    with pytest.raises(checkpoints.DamagedCheckpointError, match=expected) as info:
      call()
    assert str(meta) in str(info.value) and info.value.file == meta
  garbled = meta.read_bytes()
  meta.write_bytes(b"\xff\xfe" + garbled)           # not even UTF-8
  with pytest.raises(checkpoints.DamagedCheckpointError, match="is not valid JSON"):
    checkpoints.read_metadata(tmp_path)


def test_orbax_read_errors_of_an_unrecorded_checkpoint_are_caught(tmp_path):
  # format 1 recorded no sizes or checksums: the damage then shows only when orbax reads, and
  # its errors (TensorStore's ValueError wrapped in a bare Exception) become one paragraph.
  state, path = _saved(tmp_path)
  meta = path / "metadata.json"
  record = json.loads(meta.read_text())
  del record["files"]
  meta.write_text(json.dumps(dict(record, format=1)))
  _truncate(_largest_data_file(path), 100)
  with pytest.raises(checkpoints.DamagedCheckpointError,
                     match=r"state could not be read by orbax \(ValueError: ") as info:
    checkpoints.restore(tmp_path, like=state)
  assert "\n" not in str(info.value) and "TensorStore(" not in str(info.value)
  shutil.rmtree(path / "state")
  with pytest.raises(checkpoints.DamagedCheckpointError, match="FileNotFoundError"):
    checkpoints.restore(tmp_path, like=state)


def test_steps_and_set_aside(tmp_path):
  for step in (1, 2, 3):
    checkpoints.save(tmp_path, step, {"x": jnp.full(2, step)}, metadata={}, keep=3)
  assert checkpoints.steps(tmp_path) == [1, 2, 3] and checkpoints.steps(tmp_path / "no") == []
  moved = checkpoints.set_aside(tmp_path, 3)
  assert moved == str(tmp_path / "damaged-step_00000003")
  assert checkpoints.steps(tmp_path) == [1, 2] and checkpoints.latest_step(tmp_path) == 2
  # the step can be saved again, and set aside again under a new name
  checkpoints.save(tmp_path, 3, {"x": jnp.zeros(2)}, metadata={}, keep=3)
  assert checkpoints.set_aside(tmp_path, 3) == str(tmp_path / "damaged-step_00000003-2")
  with pytest.raises(FileNotFoundError, match="step 3"):
    checkpoints.set_aside(tmp_path, 3)


def test_metadata_json_records_every_file(tmp_path):
  _, path = _saved(tmp_path)
  files = json.loads((path / "metadata.json").read_text())["files"]
  on_disk = sorted(str(f.relative_to(path)) for f in (path / "state").rglob("*") if f.is_file())
  assert sorted(files) == on_disk and all(n.startswith("state/") for n in files)
  name = on_disk[0]
  assert files[name]["bytes"] == (path / name).stat().st_size
  assert files[name]["sha256"] == hashlib.sha256((path / name).read_bytes()).hexdigest()
