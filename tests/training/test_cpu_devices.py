"""One CPU device per core (jaxrl.cpu_devices): what the `jaxrl` command does before it runs.

Each check runs in a fresh process, since JAX fixes its devices at its first computation.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from jaxrl import cpu_devices
from tests.conftest import FAST_COMPILE

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    import jaxrl                                  # imports nothing heavy: no backend yet
    from jaxrl import cpu_devices
    out = {}
    out["count"] = cpu_devices.use_all_cores(3)
    out["configured"] = cpu_devices.configured()
    out["devices"] = len(jax.devices())
    from jaxrl import training
    from jaxrl.agents import A2CConfig
    from jaxrl.training import devices
    # the mesh fits the runs: 6 runs over 3 devices, 4 over 2, 5 over 1 (no refusal)
    out["fit"] = {n: int(devices.make_mesh(n).devices.size) for n in (6, 4, 5)}
    try:
      devices.make_mesh(4, 3)                     # an explicit count is still checked
    except ValueError as err:
      out["explicit"] = str(err)
    try:
      cpu_devices.use_all_cores(2)                # too late: JAX has run
    except RuntimeError as err:
      out["late"] = str(err)
    # the sharded vmap is the vmap, run by run (to float rounding)
    import numpy as np
    from jaxrl import envs
    from jaxrl.agents import a2c
    cfg = A2CConfig(total_steps=600, num_envs=2, num_steps=5, log_every=200, eval_every=200,
                    hidden_sizes=(8,))
    train = jax.vmap(a2c.make_train(cfg, *envs.make("Probe2-v0")))
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    mesh = devices.make_mesh(3)
    _, split = devices.shard_runs(train, mesh)(keys)
    _, whole = jax.jit(train)(keys)
    out["shards"] = len({str(s.device) for s in split["loss"].addressable_shards})
    out["worst"] = max(float(np.nanmax(np.abs(np.asarray(split[k], np.float64) -
                                              np.asarray(whole[k], np.float64))))
                       for k in whole)
    print("RESULT" + json.dumps(out))
""")


def _run(code, **env):
  # the session's compile flags (tests/conftest.py) but no device count unless the test sets one
  env = {k: v for k, v in dict(os.environ, JAX_PLATFORMS="cpu", **env).items()
         if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES") or k in env}
  env["XLA_FLAGS"] = " ".join([FAST_COMPILE, env.get("XLA_FLAGS", "")]).strip()
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                        timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])


def test_use_all_cores_splits_the_cpu_and_the_mesh_fits_the_runs():
  out = _run(SCRIPT)
  assert out["count"] == 3 and out["configured"] and out["devices"] == 3
  assert out["fit"] == {"6": 3, "4": 2, "5": 1}
  assert "4 runs (seeds x settings) do not divide over 3 devices" in out["explicit"]
  assert "must run before the first JAX computation" in out["late"]
  assert out["shards"] == 3
  assert out["worst"] < 1e-4, out


def test_the_users_device_count_wins():
  code = ("import json, jax; from jaxrl import cpu_devices; n = cpu_devices.use_all_cores(); "
          "print('RESULT' + json.dumps([n, len(jax.devices()), cpu_devices.configured()]))")
  assert _run(code, XLA_FLAGS="--xla_force_host_platform_device_count=4") == [4, 4, False]
  assert _run(code, JAX_NUM_CPU_DEVICES="2") == [2, 2, False]


@pytest.mark.parametrize("count", [0, -1, 2.0, True, "2"])
def test_bad_counts_are_refused(count):
  with pytest.raises(ValueError, match="count must be a positive integer"):
    cpu_devices.use_all_cores(count)


def test_the_jaxrl_command_splits_seeds_over_the_cores(tmp_path):
  """`python -m jaxrl` (the `jaxrl` command) with 2 forced cores: 2 seeds on 2 devices."""
  out = tmp_path / "run"
  env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
  env["XLA_FLAGS"] = FAST_COMPILE
  proc = subprocess.run(
      [sys.executable, "-m", "jaxrl", "train", "a2c", "--env", "Probe2-v0", "--num-seeds", "2",
       "--total-steps", "400", "--num-envs", "2", "--num-steps", "5", "--log-every", "200",
       "--eval-every", "200", "--hidden-sizes", "8", "--out", str(out)],
      capture_output=True, text=True, timeout=600, check=False,
      env=dict(env, JAX_PLATFORMS="cpu"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  cores = cpu_devices.available_cores()
  summary = json.loads((out / "summary.json").read_text())
  assert len(summary["devices"]) == (2 if cores >= 2 else 1), summary["devices"]
  if cores >= 2:
    assert "2 runs split over 2 cpu devices." in proc.stdout + proc.stderr
