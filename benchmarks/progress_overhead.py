"""What progress reporting and checkpointing cost a training run (jaxrl.training.run).

Runs the same spec (DQN and A2C on CartPole-v1, seeds vmapped) four ways, interleaved rep by rep,
(the order rotated each rep) and reports the median compiled execution time of each against the bare one:

* ``bare``: no progress callback, no run directory (so no checkpoints): one chunk;
* ``progress``: the progress callback (one ``jax.debug.callback`` per logging interval, lines
  printed at most every ``--interval`` seconds), still one chunk;
* ``progress-every-log``: the callback and a printed line at every logging interval;
* ``checkpoints``: progress plus a run directory with ``--checkpoints`` orbax checkpoints
  (checkpoint writing is outside the timed compiled execution; it is reported separately as
  wall time minus compile and execution).

The target (issue 5): progress costs less than 5% of the run's time.

    .venv/bin/python benchmarks/progress_overhead.py [--seeds 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


import common  # noqa: E402
from jaxrl import training  # noqa: E402
from jaxrl.agents import A2CConfig, DQNConfig  # noqa: E402


def callback_cost(calls: int = 5_000, runs: int = 8) -> float:
  """Seconds per progress callback: a ``lax.scan`` of ``calls`` trivial steps with and without
  :meth:`Progress.hook` (min of 5), so the per-call price is measured without training noise."""
  import time  # pylint: disable=import-outside-toplevel
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel

  prog = training.Progress(runs, calls, interval_s=3600.0, printer=lambda line: None)
  ids = jnp.arange(runs)

  def make(hook):
    def body(c, i):
      m = dict(env_steps=jnp.full(runs, i), episode_return=c, eval_return=c)
      if hook:
        prog.hook(ids, m)
      return c + 1.0, None
    return jax.jit(lambda: jax.lax.scan(body, jnp.zeros(runs), jnp.arange(calls))[0])

  best = {}
  for hook in (False, True):
    fn = make(hook)
    jax.block_until_ready(fn())
    ts = []
    for _ in range(5):
      t = time.perf_counter()
      jax.block_until_ready(fn())
      ts.append(time.perf_counter() - t)
    best[hook] = min(ts)
  return (best[True] - best[False]) / calls


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--interval", type=float, default=10.0)
  parser.add_argument("--checkpoints", type=int, default=10)
  args = parser.parse_args()
  common.print_machine("progress and checkpoint overhead of jaxrl.training.run")
  specs = {
      "dqn": training.RunSpec("dqn", DQNConfig(total_steps=50_000, log_every=1_000,
                                               eval_every=10_000), "CartPole-v1", args.seeds),
      "a2c": training.RunSpec("a2c", A2CConfig(total_steps=200_000, log_every=2_000,
                                               eval_every=20_000), "CartPole-v1", args.seeds),
  }
  per_call = callback_cost()
  print(f"\none progress callback (8 runs' numbers, no line printed): {per_call * 1e6:.1f} us")
  tmp = tempfile.mkdtemp(prefix="jaxrl-progress-")
  try:
    for name, spec in specs.items():
      logs = spec.config.total_steps // spec.config.log_every
      whole = dataclasses.replace(spec, checkpoint_every=spec.config.total_steps)
      chunked = dataclasses.replace(
          spec, checkpoint_every=spec.config.total_steps // args.checkpoints)
      variants = {
          "bare": dict(spec=whole, run_dir=False, progress=False),
          "progress": dict(spec=whole, run_dir=False, progress=True, interval=args.interval),
          "progress-every-log": dict(spec=whole, run_dir=False, progress=True, interval=0.0),
          "checkpoints": dict(spec=chunked, run_dir=True, progress=True, interval=args.interval),
      }
      times = {k: [] for k in variants}
      extra = {k: [] for k in variants}
      for rep in range(args.repeats):
        names = list(variants)
        for v in names[rep % len(names):] + names[:rep % len(names)]:   # rotate: no order bias
          opt = variants[v]
          run_dir = os.path.join(tmp, f"{name}-{v}-{rep}") if opt["run_dir"] else None
          lines = []
          prog = (training.Progress(spec.num_seeds, spec.config.total_steps, v,
                                    interval_s=opt["interval"], printer=lines.append)
                  if opt["progress"] else False)
          r = training.run(opt["spec"], run_dir, progress=prog, log=None, write_plot=False)
          s = r.summary
          times[v].append(s["execute_time_s"])
          extra[v].append(s["wall_time_s"] - s["compile_time_s"] - s["execute_time_s"])
          if run_dir:
            shutil.rmtree(run_dir)
      base = statistics.median(times["bare"])
      print(f"\n{name}: callbacks x measured cost per callback = {logs} x {per_call * 1e6:.1f} us "
            f"= {100 * logs * per_call / base:.3f}% of the bare run's execution time")
      print(f"\n{name}: {spec.num_seeds} seeds x {spec.config.total_steps:,} steps, {logs} logging "
            f"intervals (callbacks), median of {args.repeats}")
      print(f"  {'variant':<20} {'execute s':>10} {'vs bare':>9} {'other wall s':>13}")
      for v in variants:
        t = statistics.median(times[v])
        print(f"  {v:<20} {t:>10.3f} {100 * (t / base - 1):>+8.1f}% "
              f"{statistics.median(extra[v]):>13.3f}")
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
  main()
