"""The files of a run directory, written atomically (a crash never leaves half a file).

    RUN_DIR/
      config.json     the run's spec: algorithm, environment, agent config, seeds, settings
                      (reload it with :func:`jaxrl.training.load_spec` to repeat the run)
      versions.json   jaxrl and dependency versions, Python, platform, devices used, XLA_FLAGS
      metrics.csv     one row per (setting, seed, logging point): setting, seed, log, env_steps
                      and every metric; readable by ``pandas.read_csv``
      summary.json    per setting: final evaluation return mean, std and bootstrap 95% interval
                      over seeds, diverged seeds (where and why, see
                      jaxrl.training.stats.DIVERGENCE_RULE); settings ranked; wall time,
                      compile time, env steps/s
      curve.png       learning curve: mean over seeds with the 95% interval shaded
      checkpoints/    orbax checkpoints of the whole training state (see checkpoints.py)

Every JSON file is strict JSON (RFC 8259), readable by any JSON reader: a number that is not
finite (NaN, +-inf) is written as ``null``, which means "no value" (nothing was measured, e.g.
no evaluation finished, or a statistic is undefined, e.g. the spread of one seed, or the value
was not finite). Config fields where infinity is a meaningful setting (``max_grad_norm=inf``)
are written as the strings ``"inf"``/``"-inf"`` by the config's own encoding, so they reload
exactly.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import os
import pathlib
import platform
import sys
import tempfile
from typing import Any, Sequence

import jax
import numpy as np

__all__ = (
    "CHECKPOINTS",
    "CONFIG",
    "CURVE",
    "METRICS",
    "SUMMARY",
    "VERSIONS",
    "check_out_dir",
    "metrics_csv",
    "plot_curves",
    "read_json",
    "read_metrics",
    "strict_json",
    "versions",
    "write_json",
    "write_text_atomic",
)


CONFIG = "config.json"
VERSIONS = "versions.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
CURVE = "curve.png"
CHECKPOINTS = "checkpoints"

def check_out_dir(path: str | os.PathLike, *, what: str = "run directory",
                  hint: str = "choose another directory") -> pathlib.Path:
  """``path`` as a Path, when it is a directory or can be made one; ValueError otherwise.

  Checked before anything is built or compiled, and nothing is left behind: ``path`` must not be
  a file, and its nearest existing ancestor must be a directory in which a directory can be
  created (probed by creating and removing a temporary one, so a read-only or virtual file system
  such as ``/proc`` is caught too). The message names ``path``, the reason and ``hint``.
  """
  path = pathlib.Path(path)
  if path.exists() and not path.is_dir():
    raise ValueError(f"{what} {path} is a file, not a directory; {hint}.")
  ancestor = path if path.exists() else path.parent
  while not ancestor.exists():
    ancestor = ancestor.parent
  if not ancestor.is_dir():
    raise ValueError(f"cannot create {what} {path}: {ancestor} is a file, not a directory; "
                     f"{hint}.")
  try:
    probe = tempfile.mkdtemp(prefix=".jaxrl-write-check-", dir=ancestor)
  except OSError as err:
    raise ValueError(f"cannot write {what} {path}: {ancestor} does not take new directories "
                     f"({err.strerror or err}); {hint}.") from None
  os.rmdir(probe)
  return path


_PACKAGES = ("jaxrl", "jax", "jaxlib", "flax", "optax", "chex", "gymnax", "numpy",
             "orbax-checkpoint", "tyro", "matplotlib")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
  """Writes ``text`` to a temporary file beside ``path`` and renames it into place."""
  path = pathlib.Path(path)
  tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def strict_json(obj) -> Any:
  """``obj`` with every non-finite float (NaN, +-inf) replaced by ``None`` (JSON ``null``),
  numpy scalars and arrays as Python numbers and lists, tuples as lists: what
  :func:`write_json` writes and what reads back from it."""
  if isinstance(obj, dict):
    return {k: strict_json(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [strict_json(v) for v in obj]
  if isinstance(obj, np.ndarray):
    return strict_json(obj.tolist())
  if isinstance(obj, np.generic):
    obj = obj.item()
  if isinstance(obj, float) and not np.isfinite(obj):
    return None
  return obj


def write_json(path, obj) -> None:
  """Writes ``obj`` as strict JSON (non-finite floats as ``null``, see :func:`strict_json`),
  atomically."""
  text = json.dumps(strict_json(obj), indent=2, sort_keys=False, allow_nan=False)
  write_text_atomic(path, text + "\n")


def read_json(path) -> Any:
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def versions(mesh_devices: Sequence[Any] = ()) -> dict:
  """Versions of jaxrl and its dependencies, the interpreter, the machine and the devices."""
  out = {}
  for name in _PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = None
  return dict(
      packages=out,
      python=sys.version.split()[0],
      platform=platform.platform(),
      machine=platform.machine(),
      cpu_count=os.cpu_count(),
      backend=jax.default_backend(),
      devices_used=[str(d) for d in mesh_devices],
      device_kind=mesh_devices[0].device_kind if len(mesh_devices) else None,
      process_count=jax.process_count(),
      xla_flags=os.environ.get("XLA_FLAGS", ""),
  )


def _cell(v) -> str:
  if isinstance(v, (bool, np.bool_)):
    return "1" if v else "0"
  if isinstance(v, (float, np.floating)):
    return repr(float(v))   # shortest string that round-trips exactly
  return str(int(v)) if isinstance(v, (int, np.integer)) else str(v)


def metrics_csv(metrics: dict[str, np.ndarray], logs_done: int | None = None) -> str:
  """``{name: [settings, seeds, logs]}`` -> CSV text with columns ``setting, seed, log`` then the
  metrics (``env_steps`` first). Floats are written so that they read back exactly; booleans
  as 0/1; only the first ``logs_done`` logs (default all)."""
  names = sorted(metrics, key=lambda n: (n != "env_steps", n))
  any_metric = np.asarray(metrics[names[0]])
  settings, seeds, logs = any_metric.shape
  logs = logs if logs_done is None else logs_done
  buf = io.StringIO()
  w = csv.writer(buf, lineterminator="\n")
  w.writerow(["setting", "seed", "log"] + names)
  cols = [np.asarray(metrics[n]) for n in names]
  for s in range(settings):
    for k in range(seeds):
      for t in range(logs):
        w.writerow([s, k, t] + [_cell(c[s, k, t].item()) for c in cols])
  return buf.getvalue()


def read_metrics(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads ``metrics.csv`` back into ``{name: [settings, seeds, logs]}`` float64 arrays."""
  with open(path, encoding="utf-8") as f:
    rows = list(csv.reader(f))
  header, body = rows[0], rows[1:]
  if header[:3] != ["setting", "seed", "log"]:
    raise ValueError(f"{path} is not a jaxrl metrics file (header {header[:3]}).")
  data = np.asarray([[float(x) for x in r] for r in body], dtype=np.float64)
  if data.size == 0:
    raise ValueError(f"{path} holds no rows.")
  idx = data[:, :3].astype(int)
  shape = tuple(idx.max(axis=0) + 1)
  out = {}
  for j, name in enumerate(header[3:]):
    arr = np.full(shape, np.nan)
    arr[idx[:, 0], idx[:, 1], idx[:, 2]] = data[:, 3 + j]
    out[name] = arr
  return out


def plot_curves(runs: Sequence[tuple], path: str | os.PathLike, *, metric: str | None = None,
                title: str | None = None) -> str:
  """Learning curves of one or more runs: :func:`jaxrl.training.figures.plot_curves`."""
  from jaxrl.training import figures  # pylint: disable=import-outside-toplevel
  return figures.plot_curves(runs, path, metric=metric, title=title)
