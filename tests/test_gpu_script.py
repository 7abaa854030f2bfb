"""The GPU run (benchmarks/gpu/run.py) at its dry-run sizes, and the CPU split on a GPU host.

``run.py --dry-run`` runs every figure's code at tiny sizes on this CPU, in a subprocess (its
imports split the CPU into one device per core, which only a fresh process may do), with the
session's cheap compile settings and compilation cache (tests/conftest.py, inherited through the
environment). The checks: both outputs exist, every figure is there with finite numbers, and
both say they are a dry run. Bad arguments are refused in one line before anything compiles.

``jaxrl.cpu_devices.use_all_cores`` (what the ``jaxrl`` command runs first) asks JAX for one CPU
device per core; that setting reaches only JAX's CPU backend. What would change a run is
``devices.make_mesh`` fitting the runs to a divisor of the devices, and it does so only when
``jax.devices()[0].platform == "cpu"``: on a GPU host the split must leave the mesh as on any
accelerator. The test gives ``make_mesh`` fake GPU devices after a split to check that.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import pytest

from jaxrl import cpu_devices
from jaxrl.training import devices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "gpu", "run.py")
FIGURES = ("ppo", "pqn", "dqn", "vi", "brax")


def _run(*args, timeout=300):
  return subprocess.run([sys.executable, RUN, *args], capture_output=True, text=True,
                        cwd=ROOT, timeout=timeout, check=False)


def test_dry_run_writes_every_figure_and_says_it_is_a_dry_run(tmp_path):
  t0 = time.perf_counter()
  proc = _run("--dry-run", "--out", str(tmp_path))
  wall = time.perf_counter() - t0
  assert proc.returncode == 0, proc.stderr[-4000:]
  res = json.loads((tmp_path / "gpu_benchmarks.json").read_text())
  md = (tmp_path / "gpu_benchmarks.md").read_text()
  assert res["dry_run"] is True and res["complete"] is True
  assert "dry run" in res["note"]
  assert [f["name"] for f in res["figures"]] == list(FIGURES)
  for f in res["figures"]:
    assert "error" not in f, f
    for key in ("value", "wall_s", "compile_s", "ratio_to_cpu"):
      assert isinstance(f[key], (int, float)) and math.isfinite(f[key]) and f[key] > 0, (key, f)
    assert f["device_kind"] == res["device"]["device_kind"]
  assert res["device"]["backend"] == "cpu" and res["versions"]["jax"]
  assert "DRY RUN" in md and "This is a dry run" in md and "not meaningful" in md
  for name in FIGURES:
    assert f"| {name}: " in md
  print(f"dry run: {wall:.1f} s wall")


@pytest.mark.parametrize("args, words", [
    (["--figures", "ppo,nope"], "--figures must name some of"),
    (["--figures", "ppo,ppo"], "--figures must name some of"),
    (["--repeats", "0"], "--repeats must be a positive integer"),
    (["--scale", "2"], "--scale must be a number in (0, 1]"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_arguments_are_refused_in_one_line(args, words, tmp_path):
  proc = _run("--dry-run", "--out", str(tmp_path / "out"), *args, timeout=60)
  assert proc.returncode == 2
  assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
  assert not (tmp_path / "out" / "gpu_benchmarks.json").exists()


class _Device:
  def __init__(self, platform: str, i: int):
    self.platform, self.id = platform, i


def test_the_cpu_split_is_a_no_op_on_a_gpu_host(monkeypatch):
  """After use_all_cores (``configured()``), a GPU host's mesh is not fitted to the runs: 4 runs
  take both GPUs, 3 are refused as on any accelerator. The same split on a CPU host fits 3 runs
  to one device (the control: the patched devices do reach the decision)."""
  monkeypatch.setattr(cpu_devices, "_CONFIGURED", [2])
  monkeypatch.setattr(devices, "Mesh", lambda devs, axes: list(devs))
  assert cpu_devices.configured()
  gpus = [_Device("gpu", 0), _Device("gpu", 1)]
  monkeypatch.setattr(devices.jax, "devices", lambda: gpus)
  assert devices.make_mesh(4) == gpus
  with pytest.raises(ValueError, match="3 runs .* do not divide over 2 devices"):
    devices.make_mesh(3)
  cpus = [_Device("cpu", 0), _Device("cpu", 1)]
  monkeypatch.setattr(devices.jax, "devices", lambda: cpus)
  monkeypatch.setattr(devices.jax, "process_count", lambda: 1)
  assert devices.make_mesh(3) == cpus[:1]
