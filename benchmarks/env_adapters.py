"""Every suite's adapter overhead in one table: env steps/s through ``jaxrl.envs.make("suite:...")``
against the raw suite (with its own auto-reset), measured in the same run.

Runs ``benchmarks/adapter_overhead_<suite>.py`` for each suite, one process after another (each
its own XLA), and gathers their table rows. Each script times the adapter and the raw suite
alternately over the same environments, random actions, vmapped, compile excluded; its docstring
says what "raw" is for that suite.

    .venv/bin/python benchmarks/env_adapters.py [--suites brax,playground,jumanji,xminigrid,navix]
        [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ("brax", "playground", "jumanji", "xminigrid", "navix")


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--suites", default=",".join(SUITES))
  parser.add_argument("--quick", action="store_true", help="each script's tiny size")
  args = parser.parse_args()
  rows, failed = [], []
  for suite in args.suites.split(","):
    cmd = [sys.executable, os.path.join(HERE, f"adapter_overhead_{suite}.py")]
    if args.quick:
      cmd.append("--quick")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    print(f"# {suite}: {time.perf_counter() - t0:.0f} s, exit {out.returncode}", flush=True)
    found = [line for line in out.stdout.splitlines()
             if line.startswith("|") and line.split("|")[1].strip() == suite]
    if out.returncode or not found:
      failed.append(suite)
      print(out.stdout[-2000:], out.stderr[-4000:], sep="\n")
    rows += found
  print("| suite | env | envs | raw steps/s | adapter steps/s | overhead |")
  print("|---|---|---|---|---|---|")
  print("\n".join(rows))
  if failed:
    print(f"FAILED: {', '.join(failed)}")
    sys.exit(1)


if __name__ == "__main__":
  main()
