"""Atomic, pickle-free checkpoints of a whole training run's state, on top of orbax.

A run's state is any JAX pytree: NamedTuples of arrays with flax parameter dicts inside, optax
optimizer states (NamedTuples, ``optax.EmptyState()``), replay buffers, environment states that are
flax struct dataclasses, raw ``uint32`` PRNG keys (``jax.random.PRNGKey``), ``int32``/``bool``
scalars; possibly with a leading ``[R]`` runs axis, possibly sharded over a device mesh with a
``jax.sharding.NamedSharding``. Four functions cover the life of a run::

  path = checkpoints.save(directory, step, state, metadata={"config": ...}, keep=2)
  step = checkpoints.latest_step(directory)          # None before the first save
  meta = checkpoints.read_metadata(directory)        # the dict given to save
  state = checkpoints.restore(directory, like=init_state)

and two help past a damaged checkpoint: ``steps(directory)`` lists every complete one, and
``set_aside(directory, step)`` renames one out of sight (``damaged-step_XXXXXXXX``).

``restore`` rebuilds the state in the structure of ``like`` (a pytree of arrays or of
``jax.ShapeDtypeStruct``, e.g. ``jax.eval_shape(init, key)``), so orbax never has to understand
NamedTuples or custom pytree nodes: ``save`` flattens the state with
``jax.tree_util.tree_flatten_with_path`` and hands orbax a flat dict ``{"leaf_00000": array, ...}``;
the key path, shape and dtype of every leaf go into ``metadata.json``, and ``restore`` checks
``like`` against them leaf by leaf before reading any array.

Layout on disk::

  directory/
    step_00000100/               a complete checkpoint: it appears by one atomic rename
      metadata.json              format version, step, the caller's metadata, each leaf's
                                 key path, shape and dtype, each file's size and SHA-256
                                 (plain JSON)
      state/                     an orbax PyTree checkpoint of the flat dict of leaves
    .tmp-step_00000200/          a save in progress, or one killed mid-write: never read
    damaged-step_00000300/       set aside by ``set_aside``: never read

Atomicity: a checkpoint is written whole (arrays, then ``metadata.json``, each file fsynced) under a
``.tmp-`` name in ``directory`` and then renamed to ``step_XXXXXXXX``; only names of that form that
hold a ``metadata.json`` count as checkpoints, so a save killed at any point leaves the previous
checkpoint as the latest. Older checkpoints beyond ``keep`` are deleted only after the rename (by
renaming them to a ``.tmp-`` name first, then removing them), and stale ``.tmp-`` directories are
swept by the next successful ``save``. This relies on ``os.rename`` being atomic, so ``directory``
must be on a POSIX filesystem, and one run at a time may write to it.

Integrity: ``save`` records the size and SHA-256 of every file orbax wrote in ``metadata.json``;
``restore`` checks them (sizes first) before orbax reads anything, so a truncated, changed or
missing file, or a ``metadata.json`` that is not what ``save`` wrote, raises
:class:`DamagedCheckpointError`, a one-paragraph ``ValueError`` naming the file, instead of an
orbax/TensorStore traceback. Orbax's own read errors (TensorStore's ``ValueError``, ``OSError``)
are turned into the same error; they remain possible for format-1 checkpoints, which recorded no
sizes or checksums. Hashing costs one read of the state per save and per restore.

Several processes (``jax.distributed``, e.g. hosts of a pod): every process calls ``save`` and
``restore`` with the same arguments and globally sharded arrays; ``directory`` must be one folder
that every process sees (a shared filesystem). Each process writes and reads its own shards through
orbax; process 0 alone writes ``metadata.json``, renames and prunes, with barriers
(``jax.experimental.multihost_utils.sync_global_devices``) in between.

Safety: loading never unpickles anything. Orbax's PyTree handler stores every array with
TensorStore (zarr chunks inside an OCDBT key-value store, raw little-endian bytes, compressed) and
its own tree, sharding and array metadata as JSON files (``_METADATA``, ``_sharding``,
``_CHECKPOINT_METADATA``, ``array_metadatas/``); this module's ``metadata.json`` is JSON too. A
checkpoint from an untrusted source can at worst fail to load or load wrong numbers, not run code.

Exactness: arrays are stored as raw bytes, so a restored array equals the saved one bit for bit,
NaN payloads in float arrays included. Typed PRNG keys (``jax.random.key``) are stored as their
``jax.random.key_data`` and rewrapped with the same implementation on restore; raw ``uint32`` keys
are plain arrays. A leaf of ``like`` that is weakly typed (e.g. ``jnp.asarray(0.5)``) is restored
weakly typed, so a restored state promotes dtypes and hits the ``jit`` cache like the original.

Orbax is used synchronously (``save`` returns once the checkpoint is on disk) and its per-save INFO
logging is silenced for the duration of each call; its warnings and errors still show.

Why not orbax's ``CheckpointManager``: it would replace the step folders, rename, pruning and
latest-step bookkeeping here, and it keeps two of the guarantees the tests pin: bitwise resume (it
saves through the same PyTree handler) and several hosts (barriers around each save; process 0
alone renames and deletes). It breaks the other three. Checked with orbax-checkpoint 0.11.22 (the
lowest supported) and 0.12.8 on a local directory, synchronous saves, ``step_prefix="step"``,
``step_format_fixed_length=8``, ``max_to_keep=2``:

- Integrity: it checks none. On a POSIX path a step is complete when its folder name matches and
  lacks ``.orbax-checkpoint-tmp`` (``validate_atomic_rename_final_path`` in
  ``_src/path/atomicity.py``; ``is_checkpoint_finalized`` in 0.11.22's ``_src/path/step.py``).
  With one bit flipped at each of 41 places in an array file, ``restore`` returned other numbers
  without an error at 39 of them. Recording hashes inside the folder before it appears would take a
  ``CheckpointHandler`` or ``temporary_path_class`` of our own around orbax's private finalize
  sequence (handler ``finalize``, ``_CHECKPOINT_METADATA`` update, rename).
- Fallback past a damaged checkpoint: ``all_steps()`` and ``latest_step()`` count a step whose
  array file was truncated to 20 bytes, and an empty ``step_00000009/`` folder (then the latest),
  so the list of complete steps has to stay here (``test_half_written_checkpoints_are_ignored``).
- Atomic appearance: a step appears by one rename, but a save that raises leaves its
  ``step_XXXXXXXX.orbax-checkpoint-tmp`` folder behind (``test_failed_save_leaves_previous_latest``
  pins that nothing is left); old steps are deleted in place (``rmtree``, from 0.12 a parallel
  unlink of each file first; ``_src/path/deleter.py``), so a kill while pruning leaves a partly
  deleted step that the rule above counts as complete; and orbax fsyncs neither its JSON files nor
  the folder before the rename.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
import uuid
from typing import Any, Iterator

import jax
import numpy as np

from jaxrl import validation

__all__ = [
    "DamagedCheckpointError",
    "latest_step",
    "read_metadata",
    "restore",
    "save",
    "set_aside",
    "steps",
]

_FORMAT = 2           # 2: metadata.json records each file's size and SHA-256
_READABLE_FORMATS = (1, 2)
_METADATA_FILE = "metadata.json"
_STATE_DIR = "state"
_TMP_PREFIX = ".tmp-"
_STEP_RE = re.compile(r"^step_(\d+)$")
_DAMAGED_PREFIX = "damaged-"
_HASH_BLOCK = 1 << 20


class DamagedCheckpointError(ValueError):
  """A checkpoint whose files are not what was saved (truncated, changed, missing or garbled).

  Attributes:
    step: the checkpoint's step.
    file: the damaged (or missing) file or folder, a path.
    reason: what is wrong with it, e.g. ``"is 120 bytes, 2,779 were saved (truncated)"``.
  """

  def __init__(self, step: int, file: pathlib.Path, reason: str):
    self.step, self.file, self.reason = step, file, reason
    super().__init__(
        f"checkpoint {file.parent if file.name == _METADATA_FILE else _checkpoint_of(file)} is "
        f"damaged: {file} {reason}. Its state cannot be restored; restore an earlier step "
        "(checkpoints.steps lists them) or save the state again."
    )


def _checkpoint_of(file: pathlib.Path) -> pathlib.Path:
  """The ``step_XXXXXXXX`` folder that holds ``file``."""
  for parent in (file, *file.parents):
    if _STEP_RE.match(parent.name):
      return parent
  return file.parent


def save(
    directory: str | os.PathLike,
    step: int,
    state: Any,
    *,
    metadata: dict,
    keep: int = 2,
) -> str:
  """Writes checkpoint ``step`` of ``state`` plus ``metadata`` under ``directory``, atomically.

  The checkpoint is written under a temporary name and renamed to ``directory/step_XXXXXXXX`` only
  once complete, so a half-written checkpoint is never visible (see the module docstring). After the
  rename, only the ``keep`` checkpoints with the highest steps are kept (the one just written is
  never deleted), and stale temporary directories left by killed saves are removed.

  Args:
    directory: folder of this run's checkpoints, created (with parents) if missing. Local
      filesystem; one writer at a time.
    step: the checkpoint's step, an int >= 0 (e.g. environment steps or updates so far). Steps are
      ordered by value: ``latest_step`` is the highest.
    state: a pytree whose leaves are ``jax.Array`` (any sharding, typed PRNG keys included),
      ``np.ndarray``/numpy scalars, or Python ``bool``/``int``/``float``; any shapes, e.g. a
      leading ``[R]`` runs axis. Must be concrete (call ``save`` outside ``jit``).
    metadata: a JSON-serialisable dict saved alongside, e.g. the config and the code version.
      JSON turns tuples into lists and non-string keys into strings.
    keep: how many checkpoints to keep, >= 1.

  Returns:
    The path of the new checkpoint directory, as a string.

  Raises:
    ValueError: for a bad ``step``, ``keep`` or ``metadata``, or a leaf that is not an array.
    FileExistsError: when ``directory`` already holds a checkpoint for ``step``.
  """
  step = _check_step(step, "step")
  keep = validation.check_int("keep (how many checkpoints to keep)", keep, minimum=1)
  _check_metadata(metadata)

  leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(state)
  records, arrays = [], {}
  for i, (path, leaf) in enumerate(leaves_with_paths):
    record, array = _leaf_to_save(jax.tree_util.keystr(path), leaf)
    records.append(record)
    if record.get("empty"):
      continue                # nothing to store; restore rebuilds it from its shape and dtype
    arrays[_leaf_name(i)] = array

  root = pathlib.Path(os.fspath(directory)).absolute()   # orbax needs absolute paths
  root.mkdir(parents=True, exist_ok=True)
  if step in _complete_steps(root):
    raise FileExistsError(
        f"{root} already holds a checkpoint for step {step}. Save under a new step, or use a new "
        "directory for a new run."
    )
  final = root / _step_name(step)
  _write_atomically(root, final, arrays,
                    {"format": _FORMAT, "step": step, "metadata": metadata, "leaves": records})
  if _is_primary():
    _prune(root, step, keep)
  _sync(f"jaxrl-checkpoint-pruned-{final}")
  return str(final)


def _check_metadata(metadata: Any) -> None:
  if not isinstance(metadata, dict):
    raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}.")
  try:
    json.dumps(metadata)
  except (TypeError, ValueError) as e:
    raise ValueError(
        f"metadata must be JSON-serialisable (dicts, lists, str, int, float, bool, None): {e}. "
        "Convert arrays with .tolist() and dataclasses with dataclasses.asdict()."
    ) from e


def _write_atomically(root: pathlib.Path, final: pathlib.Path, arrays: dict,
                      record_file: dict) -> None:
  """Writes the arrays (orbax, every process its shards) and ``metadata.json`` (with each file's
  size and SHA-256) under a temporary name; the primary process fsyncs and renames."""
  primary = _is_primary()
  tmp = root / f"{_TMP_PREFIX}{final.name}"     # the same name on every process
  if primary:
    shutil.rmtree(tmp, ignore_errors=True)      # left by a save of this step that was killed
    tmp.mkdir()
  _sync(f"jaxrl-checkpoint-start-{final}")
  try:
    if arrays:
      ocp = _orbax()
      with _quiet_orbax():
        checkpointer = ocp.Checkpointer(ocp.PyTreeCheckpointHandler())
        try:
          checkpointer.save(tmp / _STATE_DIR, args=ocp.args.PyTreeSave(arrays))
        finally:
          checkpointer.close()
    if primary:
      record_file = dict(record_file, files=_file_records(tmp))
      with open(tmp / _METADATA_FILE, "w") as f:
        json.dump(record_file, f, indent=1)
      _fsync_tree(tmp)
      os.rename(tmp, final)
      _fsync_dir(root)
  except BaseException:
    if primary:
      shutil.rmtree(tmp, ignore_errors=True)
    raise
  _sync(f"jaxrl-checkpoint-written-{final}")


def _prune(root: pathlib.Path, step: int, keep: int) -> None:
  """Keeps the ``keep`` newest checkpoints (never ``step``'s) and sweeps stale temporaries."""
  steps = _complete_steps(root)
  for old in steps[: max(len(steps) - keep, 0)]:
    if old != step:
      _remove(root / _step_name(old))
  for stale in root.iterdir():
    if stale.name.startswith(_TMP_PREFIX):
      shutil.rmtree(stale, ignore_errors=True)


def latest_step(directory: str | os.PathLike) -> int | None:
  """The newest complete checkpoint's step under ``directory``.

  Args:
    directory: the folder given to ``save``.

  Returns:
    The highest step with a complete checkpoint, or None when there is none or ``directory`` does
    not exist. Half-written checkpoints (``.tmp-`` directories, or step folders without
    ``metadata.json``) are ignored.
  """
  steps = _complete_steps(pathlib.Path(os.fspath(directory)))
  return steps[-1] if steps else None


def steps(directory: str | os.PathLike) -> list[int]:
  """The steps of every complete checkpoint under ``directory``, oldest first ([] when none).

  Complete means published by ``save`` (a ``step_XXXXXXXX`` folder holding ``metadata.json``);
  whether its files are intact is checked by ``read_metadata`` and ``restore``.
  """
  return _complete_steps(pathlib.Path(os.fspath(directory)))


def set_aside(directory: str | os.PathLike, step: int) -> str:
  """Renames checkpoint ``step`` to ``damaged-step_XXXXXXXX[-N]`` in ``directory``, out of sight.

  For a damaged checkpoint that should neither be read again nor block a new save of the same
  step, while its files stay for inspection (delete them by hand). With several JAX processes
  every process calls it; the primary one renames. Returns the new path.
  """
  root = pathlib.Path(os.fspath(directory)).absolute()
  step = _check_step(step, "step")
  if step not in _complete_steps(root):
    raise FileNotFoundError(f"no checkpoint for step {step} under {root} to set aside.")
  name = f"{_DAMAGED_PREFIX}{_step_name(step)}"
  target, n = root / name, 1
  while target.exists():
    n += 1
    target = root / f"{name}-{n}"
  _sync(f"jaxrl-checkpoint-aside-{root}-{step}")      # every process has chosen the same name
  if _is_primary():
    os.rename(root / _step_name(step), target)
    _fsync_dir(root)
  _sync(f"jaxrl-checkpoint-set-aside-{root}-{step}")
  return str(target)


def read_metadata(directory: str | os.PathLike, step: int | None = None) -> dict:
  """The ``metadata`` dict saved with checkpoint ``step``.

  Args:
    directory: the folder given to ``save``.
    step: which checkpoint; None (default) for the latest.

  Returns:
    The dict given to ``save`` (after a JSON round trip).

  Raises:
    FileNotFoundError: when there is no complete checkpoint (for ``step``) under ``directory``.
    DamagedCheckpointError: when its ``metadata.json`` is not the JSON ``save`` wrote (the
      message names the file).
  """
  _, record_file = _open_checkpoint(directory, step)
  return record_file["metadata"]


def restore(directory: str | os.PathLike, like: Any, step: int | None = None) -> Any:
  """Restores checkpoint ``step`` into the structure of ``like``.

  Each leaf comes back as the kind of leaf ``like`` has there: a ``jax.Array`` leaf or a
  ``jax.ShapeDtypeStruct`` gives a ``jax.Array`` with that leaf's sharding (a ``NamedSharding``
  over a mesh included; a ``ShapeDtypeStruct`` without one gives an array on the default device),
  an ``np.ndarray``/numpy scalar gives the same, a Python scalar gives a Python scalar. The pytree
  is rebuilt with ``like``'s treedef, so NamedTuples, flax struct dataclasses and optax states come
  back as their own types. The values of ``like``'s leaves are never read.

  Args:
    directory: the folder given to ``save``.
    like: a pytree with the saved state's structure, shapes and dtypes, e.g. the freshly
      initialised state or ``jax.eval_shape`` of its initialiser (whose leaves may be given a
      ``sharding``).
    step: which checkpoint; None (default) for the latest.

  Returns:
    The saved state, bit for bit, as a pytree of ``like``'s type.

  Raises:
    FileNotFoundError: when there is no complete checkpoint (for ``step``) under ``directory``.
    DamagedCheckpointError: when a file of the checkpoint is missing, truncated or changed since
      ``save`` (sizes and SHA-256 are checked before orbax reads anything), or orbax cannot read
      it; the message names the file.
    ValueError: when the checkpoint does not fit ``like``: a different number or key paths of
      leaves, or a leaf of a different shape or dtype (the message names the first such leaf and
      both shapes and dtypes), e.g. a checkpoint saved from a different config.
  """
  path, record_file = _open_checkpoint(directory, step)
  records = record_file["leaves"]
  leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(like)
  like_paths = [jax.tree_util.keystr(p) for p, _ in leaves_with_paths]
  saved_paths = [r["path"] for r in records]
  where = f"checkpoint {path}"
  if like_paths != saved_paths:
    raise ValueError(_structure_mismatch(where, saved_paths, like_paths))

  targets = [
      _leaf_target(p, leaf, r, where)
      for p, (_, leaf), r in zip(like_paths, leaves_with_paths, records)
  ]
  _verify_files(path, record_file)
  stored = {i: t for i, t in enumerate(targets) if not records[i].get("empty")}
  restored = _orbax_restore(path, record_file["step"], stored) if stored else {}
  leaves = [_leaf_from_restore(
      restored[_leaf_name(i)] if i in stored else np.zeros(t["data_shape"], t["data_dtype"]), t)
            for i, t in enumerate(targets)]
  return jax.tree_util.tree_unflatten(treedef, leaves)


def _orbax_restore(path: pathlib.Path, step: int, targets: dict[int, dict]) -> dict:
  """Reads the stored leaves (``{leaf index: target}``) with orbax; DamagedCheckpointError when
  orbax cannot."""
  ocp = _orbax()
  items, restore_args = {}, {}
  for i, t in targets.items():
    name = _leaf_name(i)
    items[name] = jax.ShapeDtypeStruct(t["data_shape"], t["data_dtype"])
    if t["sharding"] is not None and t["key_impl"] is None:
      restore_args[name] = ocp.ArrayRestoreArgs(
          restore_type=jax.Array,
          sharding=t["sharding"],
          global_shape=t["data_shape"],
          dtype=t["data_dtype"],
      )
    else:
      restore_args[name] = ocp.RestoreArgs(restore_type=np.ndarray, dtype=t["data_dtype"])
  with _quiet_orbax():
    checkpointer = ocp.Checkpointer(ocp.PyTreeCheckpointHandler())
    try:
      return checkpointer.restore(
          path / _STATE_DIR, args=ocp.args.PyTreeRestore(item=items, restore_args=restore_args)
      )
    except Exception as err:  # pylint: disable=broad-exception-caught
      read_error = _read_error(err)
      if read_error is None:
        raise
      # Only reached when the files passed _verify_files (or a format-1 checkpoint has no record).
      text = str(read_error).strip()
      first = text.splitlines()[0][:300] if text else ""
      raise DamagedCheckpointError(
          step, path / _STATE_DIR,
          f"could not be read by orbax ({type(read_error).__name__}: {first})") from err
    finally:
      checkpointer.close()


def _read_error(err: BaseException) -> BaseException | None:
  """The error that says a checkpoint's files are unreadable, or None for any other error.

  TensorStore reports undecodable data as ``ValueError`` (``DATA_LOSS: ...``), orbax a missing
  folder as ``FileNotFoundError`` and a garbled JSON file of its own as ``json.JSONDecodeError``
  (a ValueError); orbax wraps a failed array read in a plain ``Exception`` whose cause is the
  TensorStore error.
  """
  if isinstance(err, (OSError, ValueError)):
    return err
  wrapper = type(err) is Exception  # pylint: disable=unidiomatic-typecheck
  if wrapper and isinstance(err.__cause__, (OSError, ValueError)):
    return err.__cause__
  return None


# --------------------------------------------------------------------------------------------------
# Leaves.


def _leaf_to_save(path: str, leaf: Any) -> tuple[dict, Any]:
  """The JSON record of one leaf and the array to hand orbax for it."""
  if validation.is_traced(leaf):
    raise ValueError(
        f"state leaf `{path}` is a traced value: call checkpoints.save outside jit/scan/vmap, "
        "on concrete arrays."
    )
  if isinstance(leaf, jax.Array):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      data = jax.random.key_data(leaf)
      return {
          "path": path,
          "shape": list(leaf.shape),
          "dtype": str(leaf.dtype),
          "key_impl": str(jax.random.key_impl(leaf)),
          "data_shape": list(data.shape),
          "data_dtype": str(data.dtype),
      }, data
    array = leaf
  elif isinstance(leaf, (np.ndarray, np.generic, bool, int, float)):
    array = np.asarray(leaf)
    if array.dtype.kind not in "biufc":
      raise ValueError(
          f"state leaf `{path}` is a numpy array of dtype {array.dtype}; only bool and numeric "
          "arrays can be checkpointed. Move strings and objects into `metadata`."
      )
  else:
    raise ValueError(
        f"state leaf `{path}` is a {type(leaf).__name__}; checkpoint leaves must be jax or numpy "
        "arrays or Python bool/int/float. Move other values into `metadata`, or mark the field "
        "static (flax.struct.field(pytree_node=False))."
    )
  record = {"path": path, "shape": list(array.shape), "dtype": str(array.dtype)}
  if array.size == 0:
    # Zero-size arrays (e.g. Brax's MJX contact fields when no contact can occur) cannot be
    # stored by orbax/TensorStore; their shape and dtype are all there is, and the record has them.
    record["empty"] = True
  return record, array


def _leaf_target(path: str, leaf: Any, record: dict, where: str) -> dict:
  """What ``like``'s leaf asks for; ValueError when it does not fit the saved leaf ``record``."""
  sharding, weak_type = None, False
  if isinstance(leaf, (jax.Array, jax.ShapeDtypeStruct)):
    kind = "jax"
    shape, dtype = tuple(leaf.shape), leaf.dtype
    sharding = getattr(leaf, "sharding", None)
    weak_type = bool(getattr(leaf, "weak_type", False))
  elif isinstance(leaf, (np.ndarray, np.generic)):
    kind = "numpy_scalar" if isinstance(leaf, np.generic) else "numpy"
    shape, dtype = leaf.shape, leaf.dtype
  elif isinstance(leaf, (bool, int, float)):
    kind = "python"
    array = np.asarray(leaf)
    shape, dtype = array.shape, array.dtype
  else:
    raise ValueError(
        f"`like` leaf `{path}` is a {type(leaf).__name__}; give arrays or jax.ShapeDtypeStruct "
        "(e.g. jax.eval_shape of the state's initialiser)."
    )
  saved_shape, saved_dtype = tuple(record["shape"]), record["dtype"]
  if shape != saved_shape or str(dtype) != saved_dtype:
    raise ValueError(
        f"{where} does not fit `like` at leaf `{path}`: the checkpoint has shape {saved_shape} "
        f"dtype {saved_dtype}, `like` has shape {shape} dtype {dtype}. Was it saved with a "
        "different config (sizes, number of runs, dtypes)? Restore with a `like` built from the "
        "config in read_metadata()."
    )
  key_impl = record.get("key_impl")
  return {
      "kind": kind,
      "shape": saved_shape,
      "sharding": sharding,
      "weak_type": weak_type,
      "key_impl": key_impl,
      "data_shape": tuple(record.get("data_shape", saved_shape)),
      "data_dtype": np.dtype(record.get("data_dtype", saved_dtype)),
  }


def _leaf_from_restore(value: Any, target: dict) -> Any:
  """Turns what orbax read back into the kind of leaf ``like`` had."""
  kind = target["kind"]
  if kind == "python":
    return np.asarray(value).item()
  if kind == "numpy":
    return np.asarray(value)
  if kind == "numpy_scalar":
    return np.asarray(value)[()]
  if target["key_impl"] is not None:
    value = jax.random.wrap_key_data(value, impl=target["key_impl"])
  if target["sharding"] is not None:
    if getattr(value, "sharding", None) != target["sharding"]:
      value = jax.device_put(value, target["sharding"])
  else:
    value = jax.device_put(value)
  if target["weak_type"]:
    value = _as_weak_type(value)
  return value


def _as_weak_type(x: jax.Array) -> jax.Array:
  """``x`` marked weakly typed (same bits, dtype and sharding), as ``jnp.asarray(0.5)`` is.

  Without it a restored weak scalar would be strongly typed, changing dtype promotion (e.g.
  against bfloat16) and the ``jit`` cache key. Public API only: the identity, compiled ahead of
  time for a weakly typed input of ``x``'s shape, dtype and sharding, returns its input weakly
  typed.
  """
  spec = jax.ShapeDtypeStruct(x.shape, x.dtype, weak_type=True, sharding=x.sharding)
  return _weak_identity(spec)(x)


@functools.lru_cache(maxsize=64)
def _weak_identity(spec: jax.ShapeDtypeStruct):
  return jax.jit(lambda v: v).lower(spec).compile()


def _structure_mismatch(where: str, saved: list[str], like: list[str]) -> str:
  """The message for a checkpoint whose leaves' key paths differ from ``like``'s."""
  for i, (s, l) in enumerate(zip(saved, like)):
    if s != l:
      return (
          f"{where} does not fit the structure of `like`: leaf {i} is `{s}` in the checkpoint "
          f"but `{l}` in `like` ({len(saved)} leaves saved, {len(like)} in `like`). Restore with "
          "a `like` of the same pytree type as the saved state."
      )
  longer, which = (saved, "the checkpoint") if len(saved) > len(like) else (like, "`like`")
  return (
      f"{where} does not fit the structure of `like`: {len(saved)} leaves saved, {len(like)} in "
      f"`like`; the first leaf only in {which} is `{longer[min(len(saved), len(like))]}`. Restore "
      "with a `like` of the same pytree type as the saved state."
  )


# --------------------------------------------------------------------------------------------------
# Files.


def _leaf_name(i: int) -> str:
  return f"leaf_{i:05d}"


def _step_name(step: int) -> str:
  return f"step_{step:08d}"


def _check_step(step: Any, name: str) -> int:
  return validation.check_int(name, step, minimum=0)


def _is_primary() -> bool:
  """Whether this process writes the files that only one process may write (process 0)."""
  return jax.process_index() == 0


def _sync(name: str) -> None:
  """A barrier of every JAX process (nothing with one process)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    multihost_utils.sync_global_devices(name)


def _complete_steps(root: pathlib.Path) -> list[int]:
  """Sorted steps of the complete checkpoints under ``root``; [] when it does not exist."""
  if not root.is_dir():
    return []
  steps = []
  for entry in root.iterdir():
    match = _STEP_RE.match(entry.name)
    if match and (entry / _METADATA_FILE).is_file():
      steps.append(int(match.group(1)))
  return sorted(steps)


def _open_checkpoint(directory: str | os.PathLike, step: int | None) -> tuple[pathlib.Path, dict]:
  """The path and parsed ``metadata.json`` of checkpoint ``step`` (None: latest)."""
  root = pathlib.Path(os.fspath(directory)).absolute()
  complete = _complete_steps(root)
  if step is None:
    if not complete:
      raise FileNotFoundError(
          f"no complete checkpoint under {root}"
          + ("" if root.is_dir() else " (the directory does not exist)")
          + "; save one first with checkpoints.save."
      )
    step = complete[-1]
  else:
    step = _check_step(step, "step")
    if step not in complete:
      raise FileNotFoundError(
          f"no complete checkpoint for step {step} under {root}; complete steps: {complete}."
      )
  path = root / _step_name(step)
  record_file = _read_record_file(path / _METADATA_FILE, step)
  if record_file["format"] not in _READABLE_FORMATS:
    raise ValueError(
        f"{path / _METADATA_FILE} has checkpoint format {record_file['format']!r}; this version of "
        f"jaxrl reads formats {list(_READABLE_FORMATS)}. Restore it with the jaxrl version that "
        "wrote it."
    )
  return path, record_file


def _read_record_file(file: pathlib.Path, step: int) -> dict:
  """Parses ``metadata.json``; DamagedCheckpointError when it is not what ``save`` writes."""
  try:
    with open(file, "rb") as f:
      record_file = json.loads(f.read().decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as err:
    raise DamagedCheckpointError(step, file, f"is not valid JSON ({err})") from None
  expected = {"format": int, "step": int, "metadata": dict, "leaves": list}
  if not isinstance(record_file, dict):
    raise DamagedCheckpointError(step, file, "holds no JSON object")
  for key, kind in expected.items():
    if not isinstance(record_file.get(key), kind):
      raise DamagedCheckpointError(step, file, f"has no valid {key!r} entry")
  if record_file["format"] >= 2 and not isinstance(record_file.get("files"), dict):
    raise DamagedCheckpointError(step, file, "has no valid 'files' entry")
  return record_file


def _file_records(checkpoint: pathlib.Path) -> dict:
  """``{relative path: {"bytes": size, "sha256": hex}}`` of every file under ``checkpoint``."""
  records = {}
  for dirpath, _, filenames in os.walk(checkpoint):
    for filename in sorted(filenames):
      file = pathlib.Path(dirpath) / filename
      records[file.relative_to(checkpoint).as_posix()] = {
          "bytes": file.stat().st_size, "sha256": _sha256(file)}
  return dict(sorted(records.items()))


def _sha256(file: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(file, "rb") as f:
    while block := f.read(_HASH_BLOCK):
      digest.update(block)
  return digest.hexdigest()


def _verify_files(path: pathlib.Path, record_file: dict) -> None:
  """Checks every file recorded at save time (sizes first, then SHA-256) before orbax reads any;
  DamagedCheckpointError naming the first damaged file. Format 1 recorded none."""
  files, step = record_file.get("files"), record_file["step"]
  if files is None:
    return
  stored = [r for r in record_file["leaves"] if not r.get("empty")]
  if stored and not (path / _STATE_DIR).is_dir():
    raise DamagedCheckpointError(step, path / _STATE_DIR, "is missing (the folder of the arrays)")
  for name, record in files.items():
    file = path / name
    if not (isinstance(record, dict) and isinstance(record.get("bytes"), int)
            and isinstance(record.get("sha256"), str)):
      raise DamagedCheckpointError(step, path / _METADATA_FILE,
                                   f"has no valid size and SHA-256 for {name!r}")
    if not file.is_file():
      raise DamagedCheckpointError(step, file, "is missing")
    size = file.stat().st_size
    if size != record["bytes"]:
      what = "truncated" if size < record["bytes"] else "grown"
      raise DamagedCheckpointError(
          step, file, f"is {size:,} bytes, {record['bytes']:,} were saved ({what})")
  for name, record in files.items():
    if _sha256(path / name) != record["sha256"]:
      raise DamagedCheckpointError(
          step, path / name, "does not hold the bytes that were saved (SHA-256 differs)")


def _remove(path: pathlib.Path) -> None:
  """Deletes a checkpoint, renamed out of sight first: a killed delete leaves no half-checkpoint."""
  doomed = path.parent / f"{_TMP_PREFIX}delete-{path.name}-{uuid.uuid4().hex[:8]}"
  os.rename(path, doomed)
  shutil.rmtree(doomed, ignore_errors=True)


def _fsync_tree(root: pathlib.Path) -> None:
  """Flushes every file and directory under ``root`` to disk, so the rename publishes full data."""
  for dirpath, _, filenames in os.walk(root):
    for filename in filenames:
      fd = os.open(os.path.join(dirpath, filename), os.O_RDONLY)
      try:
        os.fsync(fd)
      finally:
        os.close(fd)
    _fsync_dir(pathlib.Path(dirpath))


def _fsync_dir(path: pathlib.Path) -> None:
  try:
    fd = os.open(path, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass  # Some filesystems cannot fsync a directory.
  finally:
    os.close(fd)


# --------------------------------------------------------------------------------------------------
# Orbax.


def _orbax():
  """``orbax.checkpoint``, imported on first use so ``import jaxrl`` stays fast."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  return ocp


class _DropOrbaxInfo(logging.Filter):
  """Drops orbax's log records below WARNING (it logs dozens of INFO lines per save)."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or f"{os.sep}orbax{os.sep}" not in record.pathname


@contextlib.contextmanager
def _quiet_orbax() -> Iterator[None]:
  """Silences orbax's INFO logging (absl and stdlib loggers) for the duration of the block."""
  loggers = [logging.getLogger("absl"), logging.getLogger()]
  log_filter = _DropOrbaxInfo()
  for logger in loggers:
    logger.addFilter(log_filter)
  try:
    yield
  finally:
    for logger in loggers:
      logger.removeFilter(log_filter)
