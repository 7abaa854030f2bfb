"""The run axis (seeds x settings) sharded across devices with ``jax.sharding``.

Every run is independent, so the driver splits the run axis over a 1-D :class:`jax.sharding.Mesh`
named ``"runs"`` and runs ``shard_map(vmap(...))``: each device steps its own runs with no
communication. On several hosts (after ``jax.distributed.initialize()``), ``jax.devices()``
lists every host's devices, inputs are built with ``jax.make_array_from_callback`` (each host
supplies its own shards) and outputs come back to every host with
``multihost_utils.process_allgather``; only process 0 writes the run directory.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxrl import cpu_devices
from jaxrl import validation

__all__ = (
    "AXIS",
    "is_main_process",
    "make_mesh",
    "put",
    "runs_sharding",
    "shard_runs",
    "to_host",
)


AXIS = "runs"


def make_mesh(num_runs: int, num_devices: int | None = None) -> Mesh:
  """A 1-D mesh over the first ``num_devices`` devices (None: all of them, on every host).

  When the CPU was split into one device per core (:func:`jaxrl.cpu_devices.use_all_cores`, as
  the ``jaxrl`` command does) and ``num_devices`` is None, the mesh takes the largest count of
  those devices that divides ``num_runs`` (on a CPU fewer devices cost only speed).

  Raises ValueError when ``num_runs`` does not divide evenly over the devices (the driver does
  not pad: padded runs would cost time and shift no result, so it asks for a divisible count).
  """
  num_runs = validation.check_int("num_runs", num_runs, minimum=1)
  devices = jax.devices()
  if num_devices is not None:
    num_devices = validation.check_int("num_devices", num_devices)
  n = len(devices) if num_devices is None else num_devices
  if num_devices is None and cpu_devices.configured() and devices[0].platform == "cpu" and (
      jax.process_count() == 1):
    n = max(d for d in range(1, len(devices) + 1) if num_runs % d == 0)
  if n < 1 or n > len(devices):
    raise ValueError(f"num_devices must be between 1 and the {len(devices)} available "
                     f"device(s) ({devices[0].platform}), got {num_devices}.")
  if num_runs % n:
    lower = (num_runs // n) * n
    options = [str(k) for k in (lower, lower + n) if k > 0]
    raise ValueError(f"{num_runs} runs (seeds x settings) do not divide over {n} devices; use a "
                     f"number of runs that is a multiple of {n} (e.g. {' or '.join(options)} "
                     f"runs) or set num_devices to a divisor of {num_runs}.")
  return Mesh(np.asarray(devices[:n]), (AXIS,))


def shard_runs(batched_fn: Any, mesh: Mesh, *, replicated: tuple[int, ...] = (),
               donate_argnums: tuple[int, ...] = ()) -> Any:
  """``jit(shard_map(batched_fn))``: each device runs ``batched_fn`` on its slice of the runs.

  Every argument and output of ``batched_fn`` carries the run axis first (e.g. ``jax.vmap(train)``
  over keys), except the arguments at positions ``replicated`` (e.g. a loop counter), which
  every device gets whole. Runs never communicate, so this is the vmapped function, spread::

      mesh = devices.make_mesh(keys.shape[0])
      state, metrics = devices.shard_runs(jax.vmap(train), mesh)(keys)
  """
  def call(*args):
    specs = tuple(P() if i in replicated else P(AXIS) for i in range(len(args)))
    return jax.shard_map(batched_fn, mesh=mesh, in_specs=specs, out_specs=P(AXIS),
                         check_vma=False)(*args)

  return jax.jit(call, donate_argnums=donate_argnums)


def runs_sharding(mesh: Mesh) -> NamedSharding:
  """Leading axis split over the mesh, other axes whole."""
  return NamedSharding(mesh, P(AXIS))


def put(tree: Any, mesh: Mesh) -> Any:
  """Host arrays with a leading run axis -> global arrays sharded over ``mesh`` (works on one
  host and on several: each process supplies the shards of its own devices)."""
  sharding = runs_sharding(mesh)

  def one(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])

  return jax.tree.map(one, tree)


def to_host(tree: Any) -> Any:
  """Global arrays -> numpy arrays holding every run, on every process."""
  if jax.process_count() > 1:
    return multihost_utils.process_allgather(tree, tiled=True)
  return jax.tree.map(np.asarray, tree)


def is_main_process() -> bool:
  return jax.process_index() == 0
