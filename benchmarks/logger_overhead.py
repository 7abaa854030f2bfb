"""What writing metrics to TensorBoard costs a training run (``jaxrl.training.run(logger=...)``).

Runs the same spec (DQN on CartPole-v1, seeds vmapped, checkpointed in chunks) with
``logger="none"`` and ``logger="tensorboard"``, interleaved rep by rep (the order alternated), and
reports the medians of

* the compiled execution time (the loop is the same program either way: the logger writes on the
  host, after each chunk, from the metrics already fetched; the ratio should be 1 up to noise);
* the wall time outside compilation and execution (checkpoints, ``metrics.csv`` and, with the
  logger, the event files), and the wall time of the whole run, with their ratios.

It also times :meth:`Logger.write` alone on the run's metrics (min of 5): microseconds per
logging interval and per written event (one event per seed or aggregate and interval).

    .venv/bin/python benchmarks/logger_overhead.py [--seeds 8] [--total-steps 50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
from jaxrl import training  # noqa: E402
from jaxrl.agents import DQNConfig  # noqa: E402
from jaxrl.training import loggers  # noqa: E402

VARIANTS = ("none", "tensorboard")


def write_cost(metrics: dict, tmp: str) -> tuple[float, int]:
  """Seconds of one :meth:`Logger.write` of every logging interval (min of 5), and the events."""
  logs = metrics["env_steps"].shape[-1]
  best = float("inf")
  for rep in range(5):
    sink = loggers.open_logger("tensorboard", os.path.join(tmp, f"write-{rep}"))
    t = time.perf_counter()
    sink.write(metrics, logs)
    best = min(best, time.perf_counter() - t)
    sink.close()
  settings, seeds, _ = metrics["env_steps"].shape
  return best, logs * settings * (seeds + 2)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--total-steps", type=int, default=50_000)
  parser.add_argument("--log-every", type=int, default=1_000)
  parser.add_argument("--chunks", type=int, default=10)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  loggers.check("tensorboard")
  common.print_machine("TensorBoard logger overhead of jaxrl.training.run")
  cfg = DQNConfig(total_steps=args.total_steps, log_every=args.log_every,
                  eval_every=10 * args.log_every)
  spec = training.RunSpec("dqn", cfg, "CartPole-v1", args.seeds,
                          checkpoint_every=args.total_steps // args.chunks)
  logs = args.total_steps // args.log_every
  tmp = tempfile.mkdtemp(prefix="jaxrl-logger-")
  execute = {v: [] for v in VARIANTS}
  host = {v: [] for v in VARIANTS}
  wall = {v: [] for v in VARIANTS}
  try:
    for rep in range(args.repeats):
      for v in (VARIANTS if rep % 2 == 0 else VARIANTS[::-1]):   # alternate: no order bias
        run_dir = os.path.join(tmp, f"{v}-{rep}")
        r = training.run(spec, run_dir, progress=False, log=None, write_plot=False, logger=v)
        s = r.summary
        execute[v].append(s["execute_time_s"])
        host[v].append(s["wall_time_s"] - s["compile_time_s"] - s["execute_time_s"])
        wall[v].append(s["wall_time_s"] - s["compile_time_s"])
        shutil.rmtree(run_dir)
    seconds, events = write_cost(r.metrics, tmp)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  print(f"\ndqn CartPole-v1: {args.seeds} seeds x {args.total_steps:,} steps, {logs} logging "
        f"intervals in {args.chunks} chunks (checkpoints), median of {args.repeats}")
  print(f"  {'logger':<12} {'execute s':>10} {'host s':>8} {'wall-compile s':>15}")
  for v in VARIANTS:
    print(f"  {v:<12} {statistics.median(execute[v]):>10.3f} {statistics.median(host[v]):>8.3f} "
          f"{statistics.median(wall[v]):>15.3f}")
  ratio = {k: statistics.median(d["tensorboard"]) / statistics.median(d["none"])
           for k, d in (("execute", execute), ("wall", wall))}
  print(f"  tensorboard / none: execute x{ratio['execute']:.3f}, wall (less compile) "
        f"x{ratio['wall']:.3f}")
  print(f"\nLogger.write of all {logs} intervals ({events} events, {len(r.metrics) - 1} metrics "
        f"each): {seconds * 1e3:.1f} ms = {seconds / logs * 1e6:.0f} us per interval, "
        f"{seconds / events * 1e6:.0f} us per event")


if __name__ == "__main__":
  main()
