"""Metrics where researchers look: TensorBoard event files and Weights & Biases (offline).

:func:`jaxrl.training.run` fetches each chunk's metrics ``{name: [settings, seeds, logs]}`` to
the host anyway (for the checkpoint and ``metrics.csv``); a logger writes them from there, after
the chunk. Nothing is added to the compiled loop, so the loop runs exactly the program it runs
without a logger (``benchmarks/logger_overhead.py`` measures what the host-side writing costs).

What is written, at every logging interval ``t`` (step: the run's ``env_steps`` at ``t``), for
every metric except ``env_steps`` itself (booleans as 0/1):

* per seed: under the name ``setting_SSS/seed_KKK``;
* aggregated over the seeds of a setting: ``setting_SSS/mean`` and ``setting_SSS/median``.

A value that is not finite is not written: ``eval_return`` is NaN at the intervals without an
evaluation, and an aggregate is NaN when a seed's value is (a diverged seed shows in
``loss_finite``). TensorBoard draws no point there.

Backends (``logger=`` of :func:`~jaxrl.training.run`, ``--logger`` of the CLI):

* ``"tensorboard"``: event files in ``RUN_DIR/tensorboard/setting_SSS/seed_KKK`` (and ``.../mean``,
  ``.../median``), one TensorBoard run each, so the seeds overlay in one chart per metric:
  ``tensorboard --logdir RUN_DIR/tensorboard``. Written with ``tensorboardX`` (no TensorFlow, no
  torch): ``pip install 'jaxrl[tensorboard]'``.
* ``"wandb"``: one W&B run per run directory in ``RUN_DIR/wandb``, offline (unless ``WANDB_MODE``
  says otherwise), keys ``setting_SSS/seed_KKK/METRIC``; upload later with ``wandb sync``.
  ``pip install 'jaxrl[wandb]'``.
* ``"none"`` (default): nothing beyond ``metrics.csv``.

Resuming continues the logs without writing a step twice: the number of logging intervals
already written is kept in the backend's folder (``jaxrl_logged.json``), and a resumed run writes
from there (a W&B run resumes under the same run id).
"""

from __future__ import annotations

import importlib
import os
import pathlib
import uuid
from typing import Any

import numpy as np

from jaxrl import validation
from jaxrl.training import rundir

__all__ = (
    "LOGGERS",
    "Logger",
    "check",
    "open_logger",
    "scalars",
)

#: The accepted ``logger`` names.
LOGGERS = ("none", "tensorboard", "wandb")
_PACKAGES = {"tensorboard": "tensorboardX", "wandb": "wandb"}
_STATE = "jaxrl_logged.json"


def check(name: str, *, has_run_dir: bool = True) -> str:
  """``name`` if it is one of :data:`LOGGERS` and its package is installed.

  Args:
    name: the logger.
    has_run_dir: whether the run has a run directory (a backend writes into it).

  Raises:
    ValueError: an unknown name (listing the choices), a backend whose package is missing
      (naming the ``pip install`` that brings it), or a backend without a run directory; before
      anything is built or compiled.
  """
  validation.check_choice("logger", name, LOGGERS)
  if name == "none":
    return name
  if not has_run_dir:
    raise ValueError(f"logger {name!r} writes into the run directory: give run_dir (the CLI "
                     "always has one), or logger='none'.")
  package = _PACKAGES[name]
  try:
    importlib.import_module(package)
  except ImportError as err:
    raise ValueError(f"logger {name!r} needs the {package} package, which is not installed "
                     f"({err}): pip install 'jaxrl[{name}]', or choose another logger "
                     f"(one of {LOGGERS}).") from None
  return name


def scalars(metrics: dict[str, np.ndarray], start: int,
            stop: int) -> list[dict[str, tuple[int, dict[str, float]]]]:
  """What is written for logging intervals ``start..stop-1``: per interval,
  ``{name: (step, {metric: value})}``.

  Args:
    metrics: ``{metric: [settings, seeds, logs]}``, with ``env_steps`` (the step).
    start, stop: the logging intervals.

  Returns:
    per interval, one entry per seed (``setting_SSS/seed_KKK``) and per aggregate over a
    setting's seeds (``setting_SSS/mean``, ``setting_SSS/median``); non-finite values left out.
  """
  steps = np.asarray(metrics["env_steps"])[..., start:stop]
  num_settings, num_seeds, _ = steps.shape
  per_seed = {k: np.asarray(v)[..., start:stop].astype(np.float64)
              for k, v in metrics.items() if k != "env_steps"}
  # [settings, seeds + 2, logs]: the seeds, then their mean and median (vectorized: one call)
  table = {k: np.concatenate([v, v.mean(axis=1, keepdims=True),
                              np.median(v, axis=1, keepdims=True)], axis=1)
           for k, v in sorted(per_seed.items())}
  names = [f"seed_{k:03d}" for k in range(num_seeds)] + ["mean", "median"]
  out = []
  for t in range(stop - start):
    rows = {}
    for s in range(num_settings):
      for j, name in enumerate(names):
        step = int(steps[s, min(j, num_seeds - 1), t])
        rows[f"setting_{s:03d}/{name}"] = (step, {m: float(v[s, j, t]) for m, v in table.items()
                                                  if np.isfinite(v[s, j, t])})
    out.append(rows)
  return out


class Logger:
  """Writes the metrics of a run's logging intervals to a backend, each interval once.

  Subclasses implement :meth:`_write` (one interval) and :meth:`_flush`/:meth:`_close`.

  Args:
    folder: the backend's folder inside the run directory (holds ``jaxrl_logged.json``).
  """

  def __init__(self, folder: pathlib.Path):
    self.folder = folder
    folder.mkdir(parents=True, exist_ok=True)
    state = folder / _STATE
    self.state = rundir.read_json(state) if state.is_file() else {}
    self.logged = int(self.state.get("logs", 0))

  def write(self, metrics: dict[str, np.ndarray], stop: int) -> None:
    """Writes logging intervals ``logged..stop-1`` of ``metrics`` (``{name: [settings, seeds,
    logs]}``) and records that they are written; intervals already written are skipped."""
    if stop <= self.logged:
      return
    for rows in scalars(metrics, self.logged, stop):
      self._write(rows)
    self._flush()
    self.logged = stop
    self.state["logs"] = stop
    rundir.write_json(self.folder / _STATE, self.state)

  def close(self) -> None:
    self._close()

  def _write(self, rows: dict[str, tuple[int, dict[str, float]]]) -> None:
    raise NotImplementedError

  def _flush(self) -> None:
    pass

  def _close(self) -> None:
    pass


class _TensorBoard(Logger):
  """One ``tensorboardX.FileWriter`` per TensorBoard run (``setting_SSS/seed_KKK``, ...); one
  event per run and logging interval, holding every metric (a ``Summary`` of simple values)."""

  def __init__(self, folder: pathlib.Path):
    super().__init__(folder)
    self._tbx = importlib.import_module("tensorboardX")
    self._summary = importlib.import_module("tensorboardX.proto.summary_pb2").Summary
    self._writers: dict[str, Any] = {}
    self._suffix = f".{os.getpid()}.{uuid.uuid4().hex[:8]}"

  def _write(self, rows):
    for name, (step, values) in rows.items():
      writer = self._writers.get(name)
      if writer is None:   # the suffix: a resumed run never reopens (clobbers) an earlier file
        writer = self._writers[name] = self._tbx.FileWriter(
            str(self.folder / name), max_queue=100_000, flush_secs=3600,
            filename_suffix=self._suffix)
      summary = self._summary(value=[self._summary.Value(tag=tag, simple_value=v)
                                     for tag, v in values.items()])
      writer.add_summary(summary, step)

  def _flush(self):
    for writer in self._writers.values():
      writer.flush()

  def _close(self):
    for writer in self._writers.values():
      writer.close()
    self._writers = {}


class _WandB(Logger):
  """One W&B run per run directory, offline by default, resumed under the same id."""

  def __init__(self, folder: pathlib.Path, run_name: str, config: dict):
    super().__init__(folder)
    wandb = importlib.import_module("wandb")
    if "id" not in self.state:
      self.state["id"] = uuid.uuid4().hex[:8]
      rundir.write_json(folder / _STATE, self.state)
    self._run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", "jaxrl"), name=run_name, id=self.state["id"],
        resume="allow", dir=str(folder), mode=os.environ.get("WANDB_MODE", "offline"),
        config=config)

  def _write(self, rows):
    step = max(s for s, _ in rows.values())
    self._run.log({f"{name}/{tag}": v for name, (_, values) in rows.items()
                   for tag, v in values.items()}, step=step)

  def _close(self):
    self._run.finish()


def open_logger(name: str, run_dir: str | os.PathLike | None,
                config: dict | None = None) -> Logger | None:
  """The logger ``name`` writing into ``run_dir`` (None for ``"none"``).

  Args:
    name: one of :data:`LOGGERS` (see :func:`check`).
    run_dir: the run directory; the backend writes into ``run_dir/NAME``.
    config: the run's config (``RunSpec.to_dict()``), recorded by W&B.

  Raises:
    ValueError: a bad name, a missing package, or no run directory for a backend.
  """
  check(name, has_run_dir=run_dir is not None)
  if name == "none":
    return None
  run_dir = pathlib.Path(run_dir)
  if name == "tensorboard":
    return _TensorBoard(run_dir / "tensorboard")
  return _WandB(run_dir / "wandb", run_dir.name, config or {})
