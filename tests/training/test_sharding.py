"""The run axis sharded over 4 forced CPU devices equals one device (in a fresh process)."""

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import xla_flags

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    import numpy as np
    from jaxrl import training
    from jaxrl.agents import A2CConfig, DQNConfig

    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    dqn = training.RunSpec(
        "dqn", DQNConfig(total_steps=800, num_envs=4, log_every=200, eval_every=400,
                         learning_starts=100, buffer_size=500, batch_size=16, hidden_sizes=(8,),
                         updates_per_step=1.0),
        env="Probe3-v0", num_seeds=2, settings=({"learning_rate": 1e-3}, {"learning_rate": 1e-2}))
    a2c = training.RunSpec(
        "a2c", A2CConfig(total_steps=800, num_envs=4, num_steps=5, log_every=200, eval_every=400,
                         hidden_sizes=(8,)), env="Probe2-v0", num_seeds=4)
    for name, spec in (("dqn", dqn), ("a2c", a2c)):
        four = training.run(spec, None, num_devices=4, progress=False, log=None)
        one = training.run(spec, None, num_devices=1, progress=False, log=None)
        worst = 0.0
        bitwise = True
        for k in four.metrics:
            a = np.asarray(four.metrics[k], np.float64)
            b = np.asarray(one.metrics[k], np.float64)
            assert a.shape == b.shape, (k, a.shape, b.shape)
            assert np.array_equal(np.isnan(a), np.isnan(b)), k
            ok = ~np.isnan(a)
            worst = max(worst, float(np.max(np.abs(a[ok] - b[ok]) / (1e-6 + np.abs(b[ok])), initial=0.0)))
            bitwise &= bool(np.array_equal(a, b, equal_nan=True))
        shards = {str(s.device) for s in jax.tree.leaves(four.final_state)[0].addressable_shards}
        out[name] = dict(worst_rel=worst, bitwise=bitwise, devices=four.summary["devices"],
                         shards=len(shards))
    try:
        training.run(training.RunSpec("dqn", DQNConfig(), num_seeds=3), None, progress=False)
    except ValueError as err:
        out["error"] = str(err)
    print("RESULT" + json.dumps(out))
""")


def test_four_devices_equal_one():
  env = dict(os.environ, XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=4"),
             JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                        env=env, timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
  out = json.loads(line[len("RESULT"):])
  for name in ("dqn", "a2c"):
    assert len(out[name]["devices"]) == 4 and out[name]["shards"] == 4, out[name]
    # Each device runs the same program on its own runs; only float rounding may differ.
    assert out[name]["worst_rel"] < 1e-4, out
  assert "3 runs (seeds x settings) do not divide over 4 devices" in out["error"]
  assert "4 runs" in out["error"]
