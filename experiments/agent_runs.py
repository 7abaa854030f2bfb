"""Helpers for the experiments that compare agents (never imported by jaxrl).

:func:`timed_run` runs every seed of one agent in one compiled program, ONE logging interval per
call, so the wall-clock time of every logging point is measured (not interpolated): the curve
"median greedy return vs seconds" is real. The interval program is the trainer's own
``step`` on the batched trainer (:meth:`jaxrl.agents.Trainer.batched`), compiled once before
the clock starts; the Python loop between intervals costs a few microseconds per call.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import cpu_devices

# One JAX device per core before anything runs: the seeds of a timed run split over the cores,
# as `jaxrl train` does (jaxrl.cpu_devices).
cpu_devices.use_all_cores()

OUT = pathlib.Path(__file__).parent / "out"


def timed_run(trainer, keys, hyperparams=None, budget: float | None = None) -> dict[str, Any]:
  """Runs ``trainer`` for every key (a leading seed axis) interval by interval; with ``budget``
  (seconds of execution), stops after the interval that passes it.

  Returns ``{"metrics": {name: [seeds, logs]}, "seconds": [logs] cumulative execution seconds at
  each logging point, "compile_s": float, "final_state": ...}``.
  """
  num = keys.shape[0]
  hp = trainer.default_hyperparams if hyperparams is None else hyperparams
  if hyperparams is None:
    hp = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], num, axis=0), hp)
  trainer.validate(hp)
  batched = trainer.batched()
  from jaxrl.training import devices  # pylint: disable=import-outside-toplevel
  mesh = devices.make_mesh(num)            # the seeds split over the CPU cores (or devices)
  t0 = time.perf_counter()
  init = devices.shard_runs(batched.init, mesh).lower(keys, hp).compile()
  carry = init(keys, hp)
  step = devices.shard_runs(batched.step, mesh, replicated=(1,), donate_argnums=(0,)).lower(
      carry, jnp.int32(0), hp).compile()
  compile_s = time.perf_counter() - t0
  jax.block_until_ready(carry)
  rows, seconds, elapsed = [], [], 0.0
  for i in range(trainer.num_logs):
    t = time.perf_counter()
    carry, metrics = step(carry, jnp.int32(i), hp)
    metrics = jax.block_until_ready(metrics)
    elapsed += time.perf_counter() - t
    seconds.append(elapsed)
    rows.append(jax.tree.map(np.asarray, metrics))
    if budget is not None and elapsed >= budget:
      break
  metrics = {k: np.stack([r[k] for r in rows], axis=1) for k in rows[0]}
  return dict(metrics=metrics, seconds=np.asarray(seconds), compile_s=compile_s,
              final_state=trainer.state_of(carry))


def first_reaching(curve, threshold: float):
  """The first index where ``curve >= threshold`` (None if never)."""
  hits = np.nonzero(np.asarray(curve) >= threshold)[0]
  return None if hits.size == 0 else int(hits[0])


def median_over_seeds(values) -> np.ndarray:
  """``[seeds, logs] -> [logs]`` median, NaN-aware (NaN where no seed has a value)."""
  values = np.asarray(values, float)
  with np.errstate(all="ignore"):
    import warnings  # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", RuntimeWarning)
      return np.nanmedian(values, axis=0)


def machine() -> dict:
  return dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
              jax=jax.__version__, backend=jax.default_backend(),
              load=os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))


def save_json(name: str, obj) -> pathlib.Path:
  OUT.mkdir(parents=True, exist_ok=True)
  path = OUT / name

  def default(x):
    if isinstance(x, (np.integer,)):
      return int(x)
    if isinstance(x, (np.floating,)):
      return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.ndarray):
      return [default(v) if isinstance(v, (np.generic, np.ndarray)) else v for v in x.tolist()]
    raise TypeError(type(x))

  def clean(o):
    if isinstance(o, float) and not np.isfinite(o):
      return None
    if isinstance(o, dict):
      return {k: clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
      return [clean(v) for v in o]
    return o

  path.write_text(json.dumps(clean(json.loads(json.dumps(obj, default=default))), indent=1))
  return path


def plot_median_band(ax, x, values, label, color=None):
  """Median over seeds as a line with the 25-75% band shaded."""
  values = np.asarray(values, float)
  import warnings  # pylint: disable=import-outside-toplevel
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    med = np.nanmedian(values, axis=0)
    lo, hi = np.nanpercentile(values, 25, axis=0), np.nanpercentile(values, 75, axis=0)
  (line,) = ax.plot(x, med, label=label, color=color, lw=1.6)
  ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
  return line


def experiment(name: str, module, config, env_name: str, *, seeds: int, seed: int,
               target: float | None, target_words: str, env_kwargs: dict | None = None) -> dict:
  """One agent, ``seeds`` seeds in one compiled program: prints the greedy-return table, the
  final median against ``target`` and the env steps / seconds to reach it; writes
  ``out/{name}.png`` (median and 25-75% band vs env steps and vs seconds) and ``out/{name}.json``.
  """
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  from jaxrl import envs  # pylint: disable=import-outside-toplevel

  env, params = envs.make(env_name, **(env_kwargs or {}))
  trainer = module.make_train(config, env, params)
  keys = jax.random.split(jax.random.PRNGKey(seed), seeds)
  res = timed_run(trainer, keys)
  m, secs = res["metrics"], res["seconds"]
  steps = m["env_steps"][0]
  evals = m["eval_return"]
  med = median_over_seeds(evals)
  hit = None if target is None else first_reaching(med, target)
  final = evals[:, -1]
  total = seeds * int(steps[-1])
  print(f"{name}: {trainer.name} on {env_name}, {seeds} seeds x {int(steps[-1]):,} steps in one "
        f"program: compile {res['compile_s']:.1f} s, run {secs[-1]:.1f} s "
        f"({total / secs[-1]:,.0f} env steps/s); root seed {seed}")
  print("  env steps   seconds   median greedy return   (per seed)")
  for j, s in enumerate(steps):
    print(f"  {int(s):9,d}  {secs[j]:8.1f}   {med[j]:10.1f}   "
          + " ".join(f"{v:7.1f}" for v in evals[:, j]))
  verdict = {}
  if target is not None:
    ok = float(np.median(final)) >= target
    verdict = dict(target=target, met=ok,
                   first_log_reaching=None if hit is None else dict(
                       env_steps=int(steps[hit]), seconds=float(secs[hit])))
    reach = ("never reached" if hit is None else
             f"first reached at {int(steps[hit]):,} env steps per seed, {secs[hit]:.1f} s")
    print(f"  final median {np.median(final):.1f} ({target_words}: {'MET' if ok else 'NOT MET'});"
          f" {reach}; seeds >= target at the end: {int(np.sum(final >= target))}/{seeds}; "
          f"all losses finite: {bool(np.all(m['loss_finite']))}")
  OUT.mkdir(parents=True, exist_ok=True)
  fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
  for ax, x, xlabel in ((axes[0], steps, "environment steps per seed"),
                        (axes[1], secs, "seconds (execution, compile excluded)")):
    plot_median_band(ax, x, evals, "greedy evaluation")
    plot_median_band(ax, x, m["episode_return"], "training episodes")
    if target is not None:
      ax.axhline(target, color="gray", ls="--", lw=1)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
  axes[0].set_ylabel("return (median over seeds, 25-75%)")
  axes[0].legend(fontsize=8)
  fig.suptitle(f"{trainer.name} on {env_name}, {seeds} seeds in one program")
  fig.tight_layout()
  fig.savefig(OUT / f"{name}.png", dpi=120)
  plt.close(fig)
  out = dict(name=name, agent=trainer.name, env=env_name, seeds=seeds, root_seed=seed,
             compile_s=res["compile_s"], run_s=float(secs[-1]), env_steps_per_s=total / secs[-1],
             env_steps=steps, seconds=secs, median_eval=med, final_eval_per_seed=final,
             config={f: getattr(config, f) for f in config.__dataclass_fields__},
             machine=machine(), **verdict)
  print(f"  wrote {OUT / (name + '.png')} and {save_json(name + '.json', out)}")
  return out
