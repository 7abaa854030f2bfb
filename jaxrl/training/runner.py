"""One mechanism for every agent: seeds x settings in one compiled call, in checkpointed chunks.

:func:`run` takes a :class:`RunSpec` (algorithm, environment, agent config, seeds, hyperparameter
settings) and

1. builds the agent's :class:`~jaxrl.agents.Trainer` and checks everything eagerly (ValueError,
   before anything compiles);
2. lays the runs (``settings x seeds``, setting-major) on a 1-D device mesh and runs
   ``shard_map(scan(vmap(trainer.step)))`` chunk by chunk; a chunk is ``checkpoint_every``
   environment steps per run, after which the whole training state and the metrics so far are
   checkpointed (orbax), so a run killed at any point resumes from its last chunk;
3. reports progress from inside the compiled loop (one ``jax.debug.callback`` per logging
   interval and device);
4. writes the run directory (see :mod:`jaxrl.training.rundir`) and returns the metrics as arrays.

Exactness. Straight-through and resumed runs execute the same compiled chunk on the same carry,
so their metrics are bitwise equal; the same spec on the same machine gives bitwise the same
metrics. Seed ``k`` of every setting uses the same key (``split(PRNGKey(seed), num_seeds)[k]``),
so settings are compared on common random numbers, and run ``k`` equals
``trainer(keys[k], hyperparams)`` alone up to float rounding (vmapped arithmetic may fuse
differently). Across devices counts, CPU and GPU, results agree to rounding, not bitwise: XLA
picks different fusions and reduction orders per backend and per batch size.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import time
import warnings
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from jaxrl import envs as envs_lib
from jaxrl import validation
from jaxrl.training import algorithms
from jaxrl.training import devices as devices_lib
from jaxrl.training import loggers
from jaxrl.training import progress as progress_lib
from jaxrl.training import rundir
from jaxrl.training import stats

__all__ = (
    "DEFAULT_CHUNKS",
    "Interrupted",
    "RunResult",
    "RunSpec",
    "SPEC_VERSION",
    "check",
    "load_spec",
    "resume",
    "run",
    "write_plots",
)


SPEC_VERSION = 1
#: Chunks (checkpoints) per run when ``checkpoint_every`` is not given.
DEFAULT_CHUNKS = 10


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """Everything that determines a run's results (saved as ``config.json``).

  Attributes:
    algorithm: ``"dqn"``, ``"a2c"`` or ``"reinforce"``.
    config: that algorithm's config dataclass (e.g. :class:`~jaxrl.agents.DQNConfig`).
    env: an environment name for :func:`jaxrl.envs.make`.
    num_seeds: independent runs per setting, vmapped in one call.
    seed: the root seed; run ``k`` of every setting uses ``split(PRNGKey(seed), num_seeds)[k]``.
    settings: hyperparameter overrides, one dict per setting (only fields of the algorithm's
      hyperparameters: those vary inside one compiled call). Empty: one setting, the config's.
    checkpoint_every: environment steps per run between checkpoints (a multiple of the
      config's ``log_every``); None: about ``DEFAULT_CHUNKS`` checkpoints per run.
    env_kwargs: the environment's options (:func:`jaxrl.envs.make_configured`, e.g.
      ``{"discount": 0.9}`` for ``GridWorld-v0``, ``{"max_steps_in_episode": 200}`` for a
      gymnax environment); saved in ``config.json`` only when given, so the fingerprints of runs
      without them are those of earlier versions.
  """

  algorithm: str
  config: Any
  env: str = "CartPole-v1"
  num_seeds: int = 1
  seed: int = 0
  settings: tuple[dict, ...] = ()
  checkpoint_every: int | None = None
  env_kwargs: dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    object.__setattr__(self, "env_kwargs", dict(self.env_kwargs or {}))
    # numpy / 0-d jax counts are taken by value (one spec, one config.json); check() judges them.
    for name in ("num_seeds", "seed", "checkpoint_every"):
      object.__setattr__(self, name, validation.plain_scalar(getattr(self, name)))

  def to_dict(self) -> dict:
    """The spec as plain JSON values: what ``config.json`` holds (:func:`load_spec` reads it)."""
    out = dict(
        jaxrl_run_spec=SPEC_VERSION, algorithm=self.algorithm, env=self.env,
        num_seeds=self.num_seeds, seed=self.seed, checkpoint_every=self.checkpoint_every,
        settings=[dict(s) for s in self.settings],
        config=algorithms.config_to_dict(self.config))
    if self.env_kwargs:
      out["env_kwargs"] = dict(self.env_kwargs)
    return out

  @classmethod
  def from_dict(cls, d: dict) -> "RunSpec":
    if d.get("jaxrl_run_spec") != SPEC_VERSION:
      raise ValueError(f"not a jaxrl run spec of version {SPEC_VERSION} "
                       f"(jaxrl_run_spec={d.get('jaxrl_run_spec')!r}).")
    algo = algorithms.get(d["algorithm"])
    return cls(algorithm=d["algorithm"], config=algorithms.config_from_dict(algo, d["config"]),
               env=d["env"], num_seeds=int(d["num_seeds"]), seed=int(d["seed"]),
               settings=tuple(dict(s) for s in d["settings"]),
               checkpoint_every=d["checkpoint_every"], env_kwargs=d.get("env_kwargs", {}))

  def fingerprint(self) -> str:
    """A hash of :meth:`to_dict` (checkpoints record it; resuming checks it)."""
    return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


@dataclasses.dataclass
class RunResult:
  """What :func:`run` returns.

  Attributes:
    spec: the run's spec.
    metrics: ``{name: [settings, seeds, num_logs]}`` numpy arrays (every agent metric).
    summary: the ``summary.json`` dict.
    final_state: the agents' final states (global arrays with a leading run axis of
      ``settings * seeds``, setting-major).
    run_dir: where the files are (None when no directory was given).
  """

  spec: RunSpec
  metrics: dict[str, np.ndarray]
  summary: dict
  final_state: Any
  run_dir: pathlib.Path | None


class Interrupted(RuntimeError):
  """Raised by ``run(..., stop_after_chunks=k)`` after the ``k``-th chunk's checkpoint."""


def load_spec(run_dir: str | os.PathLike) -> RunSpec:
  """The spec saved in ``run_dir/config.json`` (repeat a run with ``run(load_spec(d), new_dir)``)."""
  path = pathlib.Path(run_dir) / rundir.CONFIG
  if not path.exists():
    raise ValueError(f"{run_dir} is not a jaxrl run directory (no {rundir.CONFIG}).")
  return RunSpec.from_dict(rundir.read_json(path))


def check(spec: RunSpec, num_devices: int | None = None) -> Any:
  """Everything about ``spec`` that can be checked without compiling (ValueError naming the
  problem); returns the built :class:`~jaxrl.agents.Trainer`."""
  algo = _check_spec(spec)
  env, env_params = envs_lib.make_configured(spec.env, spec.env_kwargs)
  trainer = algo.make_train(spec.config, env, env_params)
  hp, num_settings = _hyperparams(spec, algo)
  trainer.validate(hp)
  devices_lib.make_mesh(num_settings * spec.num_seeds, num_devices)
  _chunk_logs(trainer.num_logs, trainer.steps_per_log, spec.checkpoint_every)
  return trainer


def _check_spec(spec: RunSpec):
  algo = algorithms.get(spec.algorithm)
  if type(spec.config) is not algo.config_cls:  # pylint: disable=unidiomatic-typecheck
    raise ValueError(f"algorithm {spec.algorithm!r} takes a {algo.config_cls.__name__}, got "
                     f"{type(spec.config).__name__}.")
  validation.check_int("num_seeds", spec.num_seeds, minimum=1)
  # jax.random.PRNGKey keeps 32 bits of the seed (without x64): 2**32 would be seed 0 again.
  validation.check_int("seed", spec.seed, minimum=0, maximum=2**32 - 1)
  if spec.checkpoint_every is not None:
    validation.check_int("checkpoint_every", spec.checkpoint_every, minimum=1)
  names = algorithms.hyperparam_names(algo)
  for i, s in enumerate(spec.settings):
    bad = sorted(set(s) - set(names))
    if bad:
      raise ValueError(f"setting {i} varies {bad}, which are not {spec.algorithm} "
                       f"hyperparameters (those that vary in one call: {list(names)}); "
                       "sweep other fields with jaxrl.training.sweep, which loops over them.")
  return algo


def _hyperparams(spec: RunSpec, algo) -> tuple[Any, int]:
  """Stacked hyperparameters ``[settings * seeds]`` (setting-major) and the number of settings."""
  settings = spec.settings or ({},)
  per_setting = [dataclasses.replace(spec.config, **s).hyperparams() for s in settings]
  for i, (s, hp) in enumerate(zip(spec.settings, per_setting)):  # name the setting, not the run
    try:
      algo.config_cls.validate_hyperparams(hp)
    except ValueError as e:
      raise ValueError(f"setting {i} {s}: {e}") from None
  stacked = jax.tree.map(lambda *xs: np.repeat(np.stack([np.asarray(x) for x in xs]),
                                                spec.num_seeds, axis=0), *per_setting)
  return stacked, len(settings)


def _warn_discount(spec: RunSpec, env_params, say) -> None:
  """A :class:`~jaxrl.envs.DiscountMismatchWarning` (and a status line) for each setting whose
  discount differs from a tabular environment's: ``q_error`` and ``policy_match`` measure the
  distance to ``Q*`` at the environment's discount, which such an agent does not estimate."""
  message = envs_lib.discount_mismatch(env_params, _discounts(spec), who=type(spec.config).__name__,
                                       env=spec.env)
  if message is not None:
    warnings.warn(message, envs_lib.DiscountMismatchWarning, stacklevel=4)
    say(f"warning: {message}")


def _discounts(spec: RunSpec) -> list:
  """The discount of each setting (``[]`` for an agent without one)."""
  if not hasattr(spec.config, "discount"):
    return []
  return [s.get("discount", spec.config.discount) for s in (spec.settings or ({},))]


def _chunk_logs(num_logs: int, steps_per_log: int, checkpoint_every: int | None) -> int:
  if checkpoint_every is None:
    target = -(-num_logs // DEFAULT_CHUNKS)
    return next(d for d in range(target, num_logs + 1) if num_logs % d == 0)
  if checkpoint_every < 1 or checkpoint_every % steps_per_log:
    raise ValueError(f"checkpoint_every ({checkpoint_every}) must be a positive multiple of "
                     f"log_every ({steps_per_log}).")
  return min(checkpoint_every // steps_per_log, num_logs)


def _prepare_dir(run_dir: pathlib.Path, spec: RunSpec, resume: bool,
                 overwrite: bool) -> tuple[bool, pathlib.Path | None]:
  """Returns (whether an existing run is resumed, where an overwritten run was moved)."""
  if resume and overwrite:
    raise ValueError("resume and overwrite exclude each other: resume continues the run in the "
                     "directory, overwrite deletes it.")
  exists = run_dir.exists() and any(run_dir.iterdir())
  if not exists:
    if resume:
      raise ValueError(f"cannot resume: {run_dir} does not exist or is empty.")
    run_dir.mkdir(parents=True, exist_ok=True)
    return False, None
  if overwrite:
    if not (run_dir / rundir.CONFIG).exists():
      raise ValueError(f"refusing to overwrite {run_dir}: it is not a jaxrl run directory (no "
                       f"{rundir.CONFIG}); delete it yourself if you mean it.")
    # Moved aside, deleted only when the new run has finished: a failed or interrupted
    # replacement loses nothing.
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = run_dir.with_name(f"{run_dir.name}.replaced-{stamp}")
    n = 1
    while aside.exists():
      n += 1
      aside = run_dir.with_name(f"{run_dir.name}.replaced-{stamp}-{n}")
    run_dir.rename(aside)
    run_dir.mkdir(parents=True)
    return False, aside
  if not resume:
    raise ValueError(f"run directory {run_dir} already exists; pass resume=True to continue it, "
                     "overwrite=True to replace it, or choose another directory.")
  saved = load_spec(run_dir)
  if saved.to_dict() != spec.to_dict():
    a, b = saved.to_dict(), spec.to_dict()
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if "config" in diff:
      diff.remove("config")
      diff += [f"config.{k}" for k in sorted(set(a["config"]) | set(b["config"]))
               if a["config"].get(k) != b["config"].get(k)]
    raise ValueError(f"cannot resume {run_dir}: it was started with a different config "
                     f"(differs in {diff}). Resume with its own config (jaxrl resume "
                     f"{run_dir}) or start a new run directory.")
  return True, None


def run(spec: RunSpec, run_dir: str | os.PathLike | None = None, *, resume: bool = False,
        overwrite: bool = False, num_devices: int | None = None,
        progress: bool | progress_lib.Progress = True, progress_interval_s: float = 10.0,
        write_plot: bool = True, save_checkpoints: bool = True,
        stop_after_chunks: int | None = None,
        log: Callable[[str], None] | None = print, logger: str = "none") -> RunResult:
  """Trains ``spec``: every setting and seed in one compiled call, checkpointed per chunk.

  The steps, each a function below: :func:`_prepare` (check everything, lay the runs on the
  devices, prepare or reopen the run directory), :func:`_compile` (the init and the chunk
  programs), :func:`_restore` (when resuming: the last checkpoint), :func:`_chunk_loop` (run
  chunk after chunk, checkpoint after each) and :func:`_finish` (summary, files).

  Args:
    spec: what to run.
    run_dir: the run directory (None: nothing written, no checkpoints). It must not exist (or
      be empty) unless ``resume`` (continue from its last checkpoint; its config must equal
      ``spec``) or ``overwrite`` (delete it first).
    num_devices: shard the runs over this many local devices (None: all).
    progress: print progress lines (True), not (False: the compiled programs then carry no
      progress callback, so JAX's persistent compilation cache can keep them), or a
      :class:`Progress` to report to.
    progress_interval_s: least seconds between progress lines.
    write_plot: write ``curve.png``.
    save_checkpoints: write checkpoints into ``run_dir`` (False: only the other files; the run
      cannot be resumed). On several hosts ``run_dir`` must be one folder every process sees
      (a shared filesystem): each process writes its own shards of the checkpoint.
    stop_after_chunks: raise :class:`Interrupted` after this many chunks of this call have
      been checkpointed (what a kill does, for tests).
    log: where status lines go (None: silent).
    logger: where the metrics also go, after each chunk, per seed and aggregated:
      ``"tensorboard"`` (event files in ``run_dir/tensorboard``), ``"wandb"`` (offline, in
      ``run_dir/wandb``) or ``"none"``; see :mod:`jaxrl.training.loggers`. Resuming continues
      the logs without writing a step twice.

  Returns:
    :class:`RunResult` with metrics ``{name: [settings, seeds, num_logs]}``.
  """
  say = log or (lambda _: None)
  loggers.check(logger, has_run_dir=run_dir is not None)
  plan = _prepare(spec, run_dir, resume=resume, overwrite=overwrite, num_devices=num_devices,
                  save_checkpoints=save_checkpoints, say=say)
  if isinstance(progress, progress_lib.Progress):
    prog = progress
  elif progress:
    prog = progress_lib.Progress(plan.num_runs,
                                 plan.trainer.num_logs * plan.trainer.steps_per_log,
                                 f"{spec.algorithm} {spec.env} x{plan.num_runs}",
                                 interval_s=progress_interval_s)
  else:   # no progress: the programs carry no host callback (JAX's persistent cache takes them)
    prog = None
  sink = loggers.open_logger(logger if plan.main else "none", plan.run_dir, spec.to_dict())
  try:
    if plan.resuming and (plan.run_dir / rundir.SUMMARY).exists():
      result = _already_finished(plan, say)
      if sink is not None:   # a run finished without this logger: its metrics, written now
        sink.write(result.metrics, plan.trainer.num_logs)
      return result
    t_wall = time.perf_counter()
    exe = _compile(plan, prog)
    if plan.run_dir is not None and plan.main and not plan.resuming:
      rundir.write_json(plan.run_dir / rundir.CONFIG, spec.to_dict())
    if plan.run_dir is not None and plan.main:
      rundir.write_json(plan.run_dir / rundir.VERSIONS, plan.versions)
    if plan.resuming:
      _restore(plan, exe, say)
    _chunk_loop(plan, exe, prog, t_wall, stop_after_chunks, sink)
    return _finish(plan, exe, t_wall, write_plot, say)
  finally:
    if sink is not None:
      sink.close()


@dataclasses.dataclass
class _Plan:
  """Everything :func:`run` decided before compiling (see :func:`_prepare`)."""

  spec: RunSpec
  trainer: Any
  num_settings: int
  num_runs: int
  mesh: Any
  chunk: int
  hp: Any              # global arrays [runs, ...]
  keys: Any
  run_ids: Any
  run_dir: pathlib.Path | None
  ckpt_dir: pathlib.Path | None
  resuming: bool
  aside: pathlib.Path | None
  main: bool
  versions: dict


@dataclasses.dataclass
class _Execution:
  """The compiled programs and the state of the chunk loop."""

  init: Any
  chunk_fn: Callable[[int], Any]
  compiled: dict
  carry: Any
  metrics: dict
  compile_s: float
  logs_done: int = 0
  logs_at_start: int = 0
  prior_wall: float = 0.0
  prior_exec: float = 0.0
  exec_s: float = 0.0


def _prepare(spec: RunSpec, run_dir, *, resume: bool, overwrite: bool, num_devices,
             save_checkpoints: bool, say) -> _Plan:
  """Checks the spec (ValueError before anything compiles), builds the trainer, lays the runs on
  a device mesh and prepares (or reopens, or moves aside) the run directory."""
  if run_dir is not None:   # a file or an unwritable place is refused before anything is built
    rundir.check_out_dir(run_dir, hint="choose another run_dir")
  algo = _check_spec(spec)
  env, env_params = envs_lib.make_configured(spec.env, spec.env_kwargs)
  trainer = algo.make_train(spec.config, env, env_params)
  hp_host, num_settings = _hyperparams(spec, algo)
  trainer.validate(hp_host)
  _warn_discount(spec, env_params, say)
  num_runs = num_settings * spec.num_seeds
  mesh = devices_lib.make_mesh(num_runs, num_devices)
  if mesh.devices.size > 1:
    say(f"{num_runs} runs split over {mesh.devices.size} {mesh.devices.flat[0].platform} devices.")
  chunk = _chunk_logs(trainer.num_logs, trainer.steps_per_log, spec.checkpoint_every)
  main = devices_lib.is_main_process()
  resuming, aside = False, None
  if run_dir is not None:
    run_dir = pathlib.Path(run_dir)
    resuming, aside = _prepare_dir(run_dir, spec, resume, overwrite) if main else (resume, None)
    if aside is not None:
      say(f"moved the old {run_dir} to {aside}; it is deleted when this run finishes.")
  elif resume:
    raise ValueError("resume needs a run directory.")
  keys = np.tile(np.asarray(jax.random.split(jax.random.PRNGKey(spec.seed), spec.num_seeds)),
                 (num_settings, 1))
  hp, keys_g, ids_g = devices_lib.put((hp_host, keys, np.arange(num_runs, dtype=np.int32)), mesh)
  return _Plan(spec=spec, trainer=trainer, num_settings=num_settings, num_runs=num_runs,
               mesh=mesh, chunk=chunk, hp=hp, keys=keys_g, run_ids=ids_g, run_dir=run_dir,
               ckpt_dir=None if run_dir is None or not save_checkpoints
               else run_dir / rundir.CHECKPOINTS,
               resuming=resuming, aside=aside, main=main,
               versions=rundir.versions(list(mesh.devices.flat)))


def _compile(plan: _Plan, prog: progress_lib.Progress | None) -> _Execution:
  """Compiles the sharded init and runs it; the chunk programs are compiled on first use.

  A chunk is ``shard_map`` over the run axis of the trainer's own loop
  (:meth:`~jaxrl.agents.Trainer.run`) on the batched trainer (``vmap`` over runs inside the
  ``scan``, so the progress callback fires once per logging interval and device). Without a
  ``prog`` the programs have no callback: JAX's persistent compilation cache, when it is on,
  can then store and reuse them (it refuses programs with host callbacks).
  """
  batched = plan.trainer.batched()
  runs = P(devices_lib.AXIS)
  # Every leaf of the carry placed as a restored checkpoint places it (split over the run axis),
  # also on a one-device mesh, where XLA would otherwise mark some outputs replicated: a chunk
  # lowered for a fresh run is then the very program a resumed run lowers (one entry in JAX's
  # persistent compilation cache, not two).
  placed = devices_lib.runs_sharding(plan.mesh)

  def make_chunk(length):
    def chunk_fn(carry, hp, ids, start):
      carry, metrics = batched.run(carry, start, length, hp,
                                   on_log=None if prog is None else
                                   (lambda i, m: prog.hook(ids, m)))
      return carry, jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), metrics)
    sharded = jax.shard_map(chunk_fn, mesh=plan.mesh, in_specs=(runs, runs, runs, P()),
                            out_specs=(runs, runs), check_vma=False)
    return jax.jit(sharded, donate_argnums=0, out_shardings=placed)

  init = jax.jit(jax.shard_map(batched.init, mesh=plan.mesh, in_specs=(runs, runs),
                               out_specs=runs, check_vma=False), out_shardings=placed)
  t0 = time.perf_counter()
  init_compiled = init.lower(plan.keys, plan.hp).compile()
  compile_s = time.perf_counter() - t0
  carry = init_compiled(plan.keys, plan.hp)
  # metric shapes/dtypes without running anything
  shapes = jax.eval_shape(lambda c, h, i: make_chunk(1)(c, h, i, jnp.int32(0))[1], carry,
                          plan.hp, plan.run_ids)
  metrics = {k: np.full((plan.num_runs, plan.trainer.num_logs),
                        np.nan if np.issubdtype(v.dtype, np.floating) else 0, dtype=v.dtype)
             for k, v in shapes.items()}
  return _Execution(init=init_compiled, chunk_fn=make_chunk, compiled={}, carry=carry,
                    metrics=metrics, compile_s=compile_s)


def _compiled_chunk(plan: _Plan, exe: _Execution, length: int):
  """The compiled chunk of ``length`` logging intervals (compiled once, timed)."""
  if length not in exe.compiled:
    t = time.perf_counter()
    exe.compiled[length] = exe.chunk_fn(length).lower(exe.carry, plan.hp, plan.run_ids,
                                                      jnp.int32(0)).compile()
    exe.compile_s += time.perf_counter() - t
  return exe.compiled[length]


def _already_finished(plan: _Plan, say) -> RunResult:
  """A finished run (its ``summary.json`` is written last), read from its files: no checkpoint
  is opened, so a damaged one does not matter; ``final_state`` is None."""
  if not (plan.run_dir / rundir.METRICS).is_file():
    raise ValueError(f"{plan.run_dir} has finished ({rundir.SUMMARY} is there) but its "
                     f"{rundir.METRICS} is missing; run its config again with `jaxrl repeat "
                     f"{plan.run_dir}` to get the metrics back.")
  summary = rundir.read_json(plan.run_dir / rundir.SUMMARY)
  metrics = rundir.read_metrics(plan.run_dir / rundir.METRICS)
  say(f"{plan.run_dir} has already finished ({summary['env_steps_per_run']:,} env steps per run); "
      f"nothing to resume. Its results are in {rundir.SUMMARY} and {rundir.METRICS}.")
  return RunResult(spec=plan.spec, metrics=metrics, summary=summary, final_state=None,
                   run_dir=plan.run_dir)


def _restore(plan: _Plan, exe: _Execution, say) -> None:
  """Loads the newest intact checkpoint of the run directory into ``exe`` (nothing when it has
  none yet). Damaged newer ones are set aside (renamed ``damaged-step_...``), saying which and
  how many env steps per run are redone; ValueError when every checkpoint is damaged."""
  from jaxrl.training import checkpoints  # pylint: disable=import-outside-toplevel
  steps = [] if plan.ckpt_dir is None else checkpoints.steps(plan.ckpt_dir)
  if not steps:
    say(f"{plan.run_dir}: no checkpoint yet; starting from the beginning.")
    return
  sharding = devices_lib.runs_sharding(plan.mesh)
  carry_like = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                            exe.carry)
  num_logs = _num_logs_by_fingerprint(plan)
  damaged = []
  for step in reversed(steps):
    try:
      meta = checkpoints.read_metadata(plan.ckpt_dir, step)
      if meta.get("fingerprint") not in num_logs:
        raise ValueError(f"checkpoint {step} in {plan.ckpt_dir} was written by a different "
                         f"config (fingerprint {meta.get('fingerprint')} != "
                         f"{plan.spec.fingerprint()}); start a new run directory.")
      logs = num_logs[meta["fingerprint"]]
      like = dict(carry=carry_like, metrics={
          k: jax.ShapeDtypeStruct((v.shape[0], logs) + v.shape[2:], v.dtype)
          for k, v in exe.metrics.items()})
      restored = checkpoints.restore(plan.ckpt_dir, like, step)
      break
    except checkpoints.DamagedCheckpointError as err:
      damaged.append(err)
  else:
    raise ValueError(_all_damaged(plan, damaged))
  exe.carry = restored["carry"]
  for k, v in restored["metrics"].items():   # a checkpoint from before an extension is shorter
    exe.metrics[k][:, :logs] = np.asarray(v)
  exe.logs_done = exe.logs_at_start = int(meta["logs_done"])
  exe.prior_wall, exe.prior_exec = float(meta["wall_s"]), float(meta["exec_s"])
  at = exe.logs_done * plan.trainer.steps_per_log
  for err in damaged:
    moved = checkpoints.set_aside(plan.ckpt_dir, err.step)
    say(f"checkpoint {err.step:,} of {plan.run_dir} is damaged: {err.file} {err.reason}. "
        f"Moved it to {moved} (delete it once you have looked).")
  if damaged:
    say(f"resuming {plan.run_dir} from its newest intact checkpoint, env step {at:,} per run: "
        f"{damaged[0].step - at:,} env steps per run up to the damaged checkpoint's "
        f"{damaged[0].step:,} are redone.")
  else:
    say(f"resuming {plan.run_dir} from env step {at:,} per run.")


def _num_logs_by_fingerprint(plan: _Plan) -> dict[str, int]:
  """The checkpoints this run may resume from, by fingerprint: its own spec's, and those of the
  spec before each recorded extension (:mod:`jaxrl.training.extension`), with their lengths."""
  from jaxrl.training import extension  # pylint: disable=import-outside-toplevel
  out = {plan.spec.fingerprint(): plan.trainer.num_logs}
  for record in extension.history(plan.run_dir):
    out.setdefault(record["fingerprint_before"],
                   int(record["from_total_steps"]) // plan.trainer.steps_per_log)
  return out


def _all_damaged(plan: _Plan, damaged: list) -> str:
  """The message when no intact checkpoint is left to resume from."""
  listing = "; ".join(f"step {e.step:,}: {e.file} {e.reason}" for e in damaged)
  return (f"cannot resume {plan.run_dir}: every checkpoint in {plan.ckpt_dir} is damaged "
          f"({listing}). Start the run again: `jaxrl repeat {plan.run_dir}` (into a new "
          "directory), or the same `jaxrl train ...` command with --overwrite (the damaged run "
          "is kept aside until the new one finishes).")


def _chunk_loop(plan: _Plan, exe: _Execution, prog: progress_lib.Progress | None, t_wall: float,
                stop_after_chunks: int | None, sink: loggers.Logger | None = None) -> None:
  """Runs the remaining chunks; after each, a checkpoint, the metrics file and the logger (host
  side, from the metrics already fetched: nothing is added to the compiled loop)."""
  from jaxrl.training import checkpoints  # pylint: disable=import-outside-toplevel
  trainer = plan.trainer
  remaining = trainer.num_logs - exe.logs_done
  for length in {min(plan.chunk, remaining), remaining % plan.chunk} - {0}:
    _compiled_chunk(plan, exe, length)    # every chunk length compiled before the clock starts
  if prog is not None:
    prog.start(exe.logs_done * trainer.steps_per_log)
  chunks = 0
  while exe.logs_done < trainer.num_logs:
    length = min(plan.chunk, trainer.num_logs - exe.logs_done)
    fn = _compiled_chunk(plan, exe, length)
    t = time.perf_counter()
    exe.carry, chunk_metrics = fn(exe.carry, plan.hp, plan.run_ids, jnp.int32(exe.logs_done))
    chunk_metrics = devices_lib.to_host(chunk_metrics)
    exe.exec_s += time.perf_counter() - t
    for k, v in chunk_metrics.items():
      exe.metrics[k][:, exe.logs_done:exe.logs_done + length] = v
    exe.logs_done += length
    chunks += 1
    if plan.ckpt_dir is not None:
      meta = dict(fingerprint=plan.spec.fingerprint(), logs_done=exe.logs_done,
                  env_steps_per_run=exe.logs_done * trainer.steps_per_log,
                  wall_s=exe.prior_wall + time.perf_counter() - t_wall,
                  exec_s=exe.prior_exec + exe.exec_s)
      checkpoints.save(plan.ckpt_dir, exe.logs_done * trainer.steps_per_log,
                       dict(carry=exe.carry, metrics=exe.metrics), metadata=meta)
    if plan.run_dir is not None and plan.main:
      rundir.write_text_atomic(plan.run_dir / rundir.METRICS, rundir.metrics_csv(
          _by_setting(exe.metrics, plan.num_settings), exe.logs_done))
    if sink is not None:
      sink.write(_by_setting(exe.metrics, plan.num_settings), exe.logs_done)
    if stop_after_chunks is not None and chunks >= stop_after_chunks \
        and exe.logs_done < trainer.num_logs:
      raise Interrupted(f"stopped after {chunks} chunk(s), at env step "
                        f"{exe.logs_done * trainer.steps_per_log:,} per run.")
  if sink is not None:   # resumed after the last checkpoint: the logs not written before
    sink.write(_by_setting(exe.metrics, plan.num_settings), exe.logs_done)


def _finish(plan: _Plan, exe: _Execution, t_wall: float, write_plot: bool, say) -> RunResult:
  """The summary, the final files of the run directory, and the result."""
  spec, trainer = plan.spec, plan.trainer
  wall_s = exe.prior_wall + time.perf_counter() - t_wall
  steps_run = (exe.logs_done - exe.logs_at_start) * trainer.steps_per_log * plan.num_runs
  by_setting = _by_setting(exe.metrics, plan.num_settings)
  summary = _summary(spec, by_setting, trainer, wall_s=wall_s, compile_s=exe.compile_s,
                     exec_s=exe.exec_s, steps_run=steps_run,
                     devices=plan.versions["devices_used"])
  summary["compiled_programs"] = 1 + len(exe.compiled)
  if plan.run_dir is not None and plan.main:
    rundir.write_text_atomic(plan.run_dir / rundir.METRICS, rundir.metrics_csv(by_setting))
    rundir.write_json(plan.run_dir / rundir.SUMMARY, summary)
    if write_plot:
      rundir.plot_curves([(f"{spec.algorithm} {spec.env}", by_setting, spec.settings)],
                         plan.run_dir / rundir.CURVE)
  if plan.aside is not None:
    shutil.rmtree(plan.aside, ignore_errors=True)
  say(_summary_line(summary))
  return RunResult(spec=spec, metrics=by_setting, summary=summary,
                   final_state=trainer.state_of(exe.carry), run_dir=plan.run_dir)


def _by_setting(metrics: dict[str, np.ndarray], num_settings: int) -> dict[str, np.ndarray]:
  return {k: v.reshape((num_settings, -1) + v.shape[1:]) for k, v in metrics.items()}


def _summary(spec: RunSpec, metrics, trainer, *, wall_s, compile_s, exec_s, steps_run,
             devices) -> dict:
  """The ``summary.json`` dict, as strict JSON values (``None`` where a number is undefined or
  not finite; see :mod:`jaxrl.training.rundir`)."""
  settings = spec.settings or ({},)
  rows = []
  for s, overrides in enumerate(settings):
    final_eval = stats.last_finite(metrics["eval_return"][s])
    final_return = stats.last_finite(metrics["episode_return"][s])
    rows.append(dict(
        setting=s, overrides=dict(overrides),
        final_eval_return=stats.summarize(final_eval),
        final_episode_return=stats.summarize(final_return),
        final_eval_return_per_seed=[float(x) for x in final_eval],
        **_divergence({k: v[s] for k, v in metrics.items()}),
    ))
  return rundir.strict_json(dict(
      algorithm=spec.algorithm, env=spec.env, num_seeds=spec.num_seeds,
      num_settings=len(rows), env_steps_per_run=trainer.num_logs * trainer.steps_per_log,
      settings=rows, ranking=stats.rank(rows),
      wall_time_s=wall_s, compile_time_s=compile_s, execute_time_s=exec_s,
      env_steps_per_s=steps_run / exec_s if exec_s > 0 else float("nan"),
      devices=devices, divergence_rule=stats.DIVERGENCE_RULE,
      note=("final_*: the last evaluation (or episode) return of each seed; ci95 is a "
            "percentile bootstrap interval of the mean over seeds (null with one seed); "
            "diverged_seeds counts the seeds that met divergence_rule, and divergence says "
            "where each first did (the env step per run) and why; the ranking puts settings "
            "with fewer diverged seeds first, then higher final eval return; null: no value "
            "(not measured, undefined or not finite); env_steps_per_s counts every run's steps "
            "over the compiled execution time of this process (compilation and checkpoint "
            "writing excluded).")))


def _divergence(metrics: dict[str, np.ndarray]) -> dict:
  """One setting's ``diverged_seeds`` and ``divergence`` (per diverged seed: the env step of
  the first logging point that met :data:`~jaxrl.training.stats.DIVERGENCE_RULE`, and why)."""
  div = stats.divergence(metrics)
  steps = np.asarray(metrics["env_steps"])
  seeds = [dict(seed=k, env_step=int(steps[k, div.first_log[k]]), reason=str(div.reason[k]))
           for k in np.flatnonzero(div.diverged).tolist()]
  return dict(diverged_seeds=len(seeds), divergence=seeds)


def _number(x, fmt: str) -> str:
  return "none" if x is None or not np.isfinite(x) else format(x, fmt)


def _final_text(name: str, f: dict, missing: str) -> str:
  """``final eval return 9.5 +- 0.14 (95% CI [...], median ..., n=2)``; with one seed no
  interval, with none ``missing``."""
  if not f["n"]:
    return f"{name}: none ({missing})"
  if f["n"] == 1:
    return f"{name} {_number(f['mean'], '.4g')} (1 seed: no interval)"
  return (f"{name} {_number(f['mean'], '.4g')} +- {_number(f['std'], '.3g')} (95% CI "
          f"[{_number(f['ci95_low'], '.4g')}, {_number(f['ci95_high'], '.4g')}], median "
          f"{_number(f['median'], '.4g')}, n={f['n']})")


def _diverged_text(row: dict, num_seeds: int) -> str:
  """``DIVERGED: 2/2 seeds (first at env step 5,000, seed 0: loss not finite)`` for a summary
  row with diverged seeds ("" without)."""
  if not row["diverged_seeds"]:
    return ""
  first = min(row["divergence"], key=lambda d: (d["env_step"], d["seed"]))
  return (f"DIVERGED: {row['diverged_seeds']}/{num_seeds} seeds (first at env step "
          f"{first['env_step']:,}, seed {first['seed']}: {first['reason']})")


def _summary_line(summary: dict) -> str:
  """The console's final line: the best setting's final eval return, and every setting's
  divergence (first, for a single setting, so that a diverged run never reads as ordinary)."""
  rows, n = summary["settings"], summary["num_seeds"]
  best = rows[summary["ranking"][0]]
  final = _final_text("final eval return", best["final_eval_return"], "no evaluation finished")
  if summary["num_settings"] == 1:
    parts = [_diverged_text(best, n), final] if best["diverged_seeds"] else [final]
  else:
    parts = [f"{final} (best of {summary['num_settings']} settings: {best['overrides']})"]
    parts += [f"setting {r['setting']} {r['overrides']}: {_diverged_text(r, n)}"
              for r in rows if r["diverged_seeds"]]
  return (f"{summary['algorithm']} {summary['env']}: " + "; ".join(parts)
          + f"; {_number(summary['env_steps_per_s'], ',.0f')} env steps/s, compile "
          f"{summary['compile_time_s']:.1f} s, wall {summary['wall_time_s']:.1f} s")


def resume(run_dir: str | os.PathLike, total_steps: int | None = None, **kwargs) -> RunResult:
  """Continues the run in ``run_dir`` from its last checkpoint, with its own saved config.

  ``total_steps`` above the saved one extends the run (finished or not) to that many env steps
  per run, when nothing in its compiled step depends on ``total_steps``
  (:mod:`jaxrl.training.extension`: the metrics then equal those of a run straight to
  ``total_steps`` bitwise; otherwise ValueError naming the setting that prevents it). The
  extension is recorded in ``config.json``; ``kwargs`` are :func:`run`'s.
  """
  spec = load_spec(run_dir)
  if total_steps is not None and total_steps != spec.config.total_steps:
    from jaxrl.training import extension  # pylint: disable=import-outside-toplevel
    log = kwargs.get("log", print)
    spec = extension.prepare_extension(
        pathlib.Path(run_dir), spec, total_steps,
        check=lambda s: check(s, kwargs.get("num_devices")), say=log or (lambda _: None))
  return run(spec, run_dir, resume=True, **kwargs)


def write_plots(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike,
                metric: str | None = None) -> str:
  """Overlays the learning curves of several run directories in one PNG (``jaxrl plot``)."""
  runs = []
  for d in run_dirs:
    d = pathlib.Path(d)
    path = d / rundir.METRICS
    if not path.exists():
      raise ValueError(f"{d} has no {rundir.METRICS}: not a jaxrl run directory, or the run has "
                       "not finished its first chunk.")
    label, settings = d.name, ()
    if (d / rundir.CONFIG).exists():
      spec = rundir.read_json(d / rundir.CONFIG)
      label, settings = f"{d.name}: {spec['algorithm']} {spec['env']}", spec.get("settings", ())
    runs.append((label, rundir.read_metrics(path), settings))
  return rundir.plot_curves(runs, out, metric=metric)
