"""Records the pinned metrics of ``fixture_cases`` under one code generation.

Run from the repository root::

    .venv/bin/python -m tests.agents.record_fixtures --codegen default [case ...]
    .venv/bin/python -m tests.agents.record_fixtures --codegen fast [case ...]

``default`` writes ``fixtures/agent_metrics.npz`` and the JSON's ``params`` (XLA's default code
generation, the code users run); ``fast`` writes ``fixtures/agent_metrics_fast.npz`` and the
JSON's ``params_fast`` (the test session's cheap code generation, ``tests/conftest.py``, which
this script sets before JAX is imported; what CI checks, at a quarter of the compile time). The
other recording and the JSON's history are left as they are. Re-record only when a change is meant
to alter numbers, both recordings together, and say which and why in the commit.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import time

import numpy as np

OUT = pathlib.Path(__file__).parent / "fixtures"
FILES = {"default": ("agent_metrics.npz", "params"), "fast": ("agent_metrics_fast.npz",
                                                           "params_fast")}


def main(argv=None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--codegen", choices=sorted(FILES), required=True)
  ap.add_argument("names", nargs="*", help="cases to record (default: all)")
  args = ap.parse_args(argv)
  from tests.agents import fixture_cases  # pylint: disable=import-outside-toplevel
  npz_name, params_key = FILES[args.codegen]
  record_path = OUT / "agent_metrics.json"
  record = json.loads(record_path.read_text()) if record_path.exists() else {}
  arrays = dict(np.load(OUT / npz_name)) if (OUT / npz_name).exists() and args.names else {}
  digests = dict(record.get(params_key, {})) if args.names else {}
  for name, fn in fixture_cases.all_runs(args.codegen).items():
    if args.names and name not in args.names:
      continue
    t0 = time.perf_counter()
    metrics, params = fn()
    arrays = {k: v for k, v in arrays.items() if not k.startswith(f"{name}::")}
    arrays.update({f"{name}::{k}": v for k, v in metrics.items()})
    digests[name] = params
    print(f"recorded {name} ({args.codegen}): {len(metrics)} metrics in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
  commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False).stdout.strip()
  OUT.mkdir(exist_ok=True)
  np.savez_compressed(OUT / npz_name, **arrays)
  signature = fixture_cases.machine_signature()
  record.setdefault("machine", signature)
  record.setdefault("bitwise_on", [signature])
  record[params_key] = digests
  record[f"{params_key}_recorded_at"] = f"commit {commit}"
  record_path.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
  if "fast" in os.sys.argv[1:] or "--codegen=fast" in os.sys.argv[1:]:
    # The cheap code generation must be in XLA_FLAGS before JAX is imported: importing the
    # test session's settings puts it there (and a compilation cache folder, removed after).
    import shutil
    from tests import conftest
    try:
      main()
    finally:
      own = conftest._OWN_CACHE  # pylint: disable=protected-access
      if os.environ.get(own) == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
  else:
    main()
