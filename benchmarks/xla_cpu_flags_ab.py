"""Do XLA:CPU's scheduling and fusion flags bring PPO closer to its floor? (issue 25)

XLA reads ``XLA_FLAGS`` once per process, so each setting runs in its own process: PPO in
``ppo_throughput.py``'s setting (CartPole-v1, rejax's PPO recipe) at ``--seeds`` vmapped seeds on
one CPU device, ``--repeats`` timed calls after a warm-up (median), and the floor of the same
point (``ppo_throughput.network_floor``) timed in the same process under the same flags. The
settings run in turn for ``--rounds`` rounds, so a slow moment of the machine hits all alike.

    .venv/bin/python benchmarks/xla_cpu_flags_ab.py [--seeds 32] [--steps 25000]
        [--repeats 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# "" is XLA's defaults (what jaxrl runs with).
SETTINGS = (
    "",
    "--xla_cpu_enable_concurrency_optimized_scheduler=false",
    "--xla_cpu_scheduler_type=CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED",
    "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY",
    "--xla_cpu_use_xnnpack=true",
)


def child(seeds: int, steps: int, repeats: int) -> dict:
  """One setting (whatever ``XLA_FLAGS`` this process got): PPO and its floor on one device."""
  sys.path.insert(0, HERE)
  import ppo_throughput as pt  # pylint: disable=import-outside-toplevel
  ppo = pt.JaxrlPPO(cores=False)
  t0 = time.perf_counter()
  ppo.prepare(seeds, steps)
  compile_s = time.perf_counter() - t0
  ppo.run(seeds, steps, repeats)                                # warm-up
  walls = [ppo.run(seeds, steps, r)["wall_s"] for r in range(repeats)]
  floor = pt.network_floor(seeds, steps, mesh=None, repeats=repeats)
  wall = statistics.median(walls)
  return dict(flags=os.environ.get("XLA_FLAGS", ""), seeds=seeds, compile_s=compile_s,
              walls_s=walls, wall_s=wall, floor_s=floor["total_s"], floor_parts=floor["seconds"],
              rate=seeds * steps / wall, floor_fraction=floor["total_s"] / wall)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--seeds", type=int, default=32)
  ap.add_argument("--steps", type=int, default=25_000, help="env steps per seed")
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--rounds", type=int, default=2)
  ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.child:
    print("RESULT " + json.dumps(child(args.seeds, args.steps, args.repeats)), flush=True)
    return
  print(f"PPO (ppo_throughput.py's setting), {args.seeds} seeds x {args.steps:,} steps, one "
        f"device; each XLA_FLAGS setting in its own process, {args.rounds} rounds in turn")
  results = {s: [] for s in SETTINGS}
  for _ in range(args.rounds):
    for flags in SETTINGS:
      env = dict(os.environ, XLA_FLAGS=flags)
      proc = subprocess.run(
          [sys.executable, os.path.abspath(__file__), "--child", "--seeds", str(args.seeds),
           "--steps", str(args.steps), "--repeats", str(args.repeats)],
          capture_output=True, text=True, env=env, check=False)
      line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
      if proc.returncode or line is None:
        print(f"  {flags or '(defaults)'}: failed: {proc.stderr.strip().splitlines()[-1:]}")
        continue
      r = json.loads(line[len("RESULT "):])
      results[flags].append(r)
      print(f"  {flags or '(defaults)'}: PPO {r['wall_s']:.3f} s ({r['rate'] / 1e3:.0f}k steps/s), "
            f"floor {r['floor_s']:.3f} s, floor / PPO {r['floor_fraction']:.0%}", flush=True)
  base = [r["wall_s"] for r in results[""]]
  print("\nmedian over rounds (PPO wall, ratio to the defaults' PPO wall):")
  for flags, rs in results.items():
    if rs and base:
      w = statistics.median(r["wall_s"] for r in rs)
      print(f"  {flags or '(defaults)'}: {w:.3f} s, {w / statistics.median(base):.2f}x")


if __name__ == "__main__":
  main()
