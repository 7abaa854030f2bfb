"""Extending a run to more environment steps (``jaxrl resume DIR --total-steps N``).

A run that has finished (or stopped) at ``total_steps = n`` continues to ``N > n`` from its last
checkpoint only when nothing the compiled logging interval does depends on ``total_steps``: then
the chunks from ``n`` to ``N`` are exactly those a run straight to ``N`` would have executed, and
the extended metrics equal that run's bitwise (tested). Two checks decide it, before anything is
written:

1. the settings known to make the step depend on the run's length, each refused by name:
   ``anneal_lr=True`` (A2C, PPO, PQN) anneals the learning rate linearly to 0 at ``total_steps``;
   epsilon schedules are not among them (they run over ``epsilon_decay_steps`` env steps, not a
   fraction of the run);
2. as a safety net for anything not listed, the traced program (jaxpr) of one logging interval
   built with ``n`` and with ``N``: when they differ, the extension is refused too.

An accepted extension rewrites ``config.json`` with the new ``total_steps`` and appends to its
``"extensions"`` list (``from_total_steps``, ``to_total_steps``, the old spec's fingerprint, the
time), removes ``summary.json`` (the run is unfinished again) and then resumes; checkpoints
written under the old fingerprint stay loadable (their metrics are padded to the new length).
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl import validation
from jaxrl.training import rundir

__all__ = ("EXTENSIONS_KEY", "blockers", "history", "prepare_extension")

#: The key of ``config.json`` that lists a run's extensions.
EXTENSIONS_KEY = "extensions"


def history(run_dir: str | pathlib.Path) -> list[dict]:
  """The extensions recorded in ``run_dir/config.json`` (oldest first; ``[]`` when none)."""
  path = pathlib.Path(run_dir) / rundir.CONFIG
  if not path.is_file():
    return []
  return list(rundir.read_json(path).get(EXTENSIONS_KEY, []))


def blockers(algorithm: str, old_config: Any, new_config: Any, old_trainer,
             new_trainer) -> list[str]:
  """Why ``old_config`` cannot be extended to ``new_config`` (they differ in ``total_steps``
  only): one sentence per setting that makes the step depend on ``total_steps``; ``[]`` when
  the extension is exact."""
  name = type(old_config).__name__
  found = []
  if getattr(old_config, "anneal_lr", False):
    found.append(f"{name}.anneal_lr=True anneals the learning rate linearly to 0 at total_steps "
                 f"({old_config.total_steps:,}): the updates so far followed that schedule, and a "
                 f"run to {new_config.total_steps:,} would have followed a slower one")
  if not found and _step_program(old_trainer) != _step_program(new_trainer):
    found.append(f"the compiled {algorithm} logging interval changes with total_steps (its "
                 f"traced program differs between {old_config.total_steps:,} and "
                 f"{new_config.total_steps:,}) through a setting jaxrl does not name")
  return found


def _step_program(trainer) -> str:
  """The traced program of one logging interval (shapes only; nothing runs or compiles)."""
  hp = trainer.default_hyperparams
  carry = jax.eval_shape(trainer.init, jax.random.PRNGKey(0), hp)
  return str(jax.make_jaxpr(trainer.step)(carry, jnp.int32(0), hp))


def prepare_extension(run_dir: pathlib.Path, spec, total_steps: Any, *, check, say):
  """Checks that the run in ``run_dir`` (saved spec ``spec``) can be extended to
  ``total_steps`` per run, then records the extension in ``config.json`` and removes
  ``summary.json``. Returns the extended spec. ``check`` is :func:`jaxrl.training.check`.

  Raises:
    ValueError: ``total_steps`` is not an int, is fewer than the run's, does not fit the
      config (e.g. not a multiple of ``log_every``), the run has no checkpoint to continue from,
      or a setting makes the step depend on ``total_steps`` (named, see :func:`blockers`).
  """
  from jaxrl.training import checkpoints  # pylint: disable=import-outside-toplevel
  old = spec.config.total_steps
  total_steps = validation.check_int("total_steps", total_steps, minimum=1)
  head = f"cannot extend {run_dir} from {old:,} to {total_steps:,} env steps per run"
  if total_steps < old:
    raise ValueError(f"{head}: a run cannot be shortened (its metrics up to {old:,} are "
                     "computed); give --total-steps above its own, or use its metrics up to the "
                     "step you want.")
  ckpt_dir = run_dir / rundir.CHECKPOINTS
  if not ckpt_dir.is_dir() or not checkpoints.steps(ckpt_dir):
    raise ValueError(f"{head}: it has no checkpoint to continue from (it ran with "
                     "--no-checkpoints, or stopped before its first one). Train a new run with "
                     f"--total-steps {total_steps}.")
  new_spec = dataclasses.replace(
      spec, config=dataclasses.replace(spec.config, total_steps=total_steps))
  try:
    new_trainer = check(new_spec)
  except ValueError as err:
    raise ValueError(f"{head}: {err}") from None
  found = blockers(spec.algorithm, spec.config, new_spec.config, check(spec), new_trainer)
  if found:
    raise ValueError(f"{head}: {'; '.join(found)}. An extended run must equal a run straight to "
                     f"{total_steps:,}, and here it would not. Train a new run with "
                     f"--total-steps {total_steps} instead (and, for runs you mean to extend "
                     "later, without that setting).")
  saved = rundir.read_json(run_dir / rundir.CONFIG)
  record = dict(from_total_steps=old, to_total_steps=total_steps,
                fingerprint_before=spec.fingerprint(),
                at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
  # summary.json first: a kill between the two leaves an unfinished run of the old length,
  # which `jaxrl resume` finishes again; never a "finished" run whose config says otherwise.
  (run_dir / rundir.SUMMARY).unlink(missing_ok=True)
  rundir.write_json(run_dir / rundir.CONFIG, {**new_spec.to_dict(), EXTENSIONS_KEY:
                                              [*saved.get(EXTENSIONS_KEY, []), record]})
  say(f"extending {run_dir} from {old:,} to {total_steps:,} env steps per run "
      f"(recorded under {EXTENSIONS_KEY!r} in {rundir.CONFIG}).")
  return new_spec
