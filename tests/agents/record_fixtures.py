"""Records ``fixtures/agent_metrics.{npz,json}``, the pinned metrics of ``fixture_cases``.

Run from the repository root: ``.venv/bin/python -m tests.agents.record_fixtures [case ...]``.
Re-record only when a change is meant to alter numbers, and say which and why in the commit.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

import numpy as np

from tests.agents import fixture_cases

OUT = pathlib.Path(__file__).parent / "fixtures"


def main(names=None) -> None:
  arrays, digests = {}, {}
  for name, fn in fixture_cases.all_runs().items():
    if names and name not in names:
      continue
    t0 = time.perf_counter()
    metrics, params = fn()
    arrays.update({f"{name}::{k}": v for k, v in metrics.items()})
    digests[name] = params
    print(f"recorded {name}: {len(metrics)} metrics in {time.perf_counter() - t0:.1f} s",
          flush=True)
  commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False).stdout.strip()
  OUT.mkdir(exist_ok=True)
  np.savez_compressed(OUT / "agent_metrics.npz", **arrays)
  (OUT / "agent_metrics.json").write_text(json.dumps(
      dict(machine=fixture_cases.machine_signature(), recorded_at=f"commit {commit}",
           bitwise_on=[fixture_cases.machine_signature()], params=digests), indent=1) + "\n")


if __name__ == "__main__":
  main(sys.argv[1:])
