"""Several hosts, simulated: 2 processes x 2 CPU devices after jax.distributed.initialize()
give bitwise the metrics of 1 process x 4 devices; only process 0 writes the run directory."""

import json
import os
import socket
import subprocess
import sys
import textwrap

WORKER = textwrap.dedent("""
    import json, sys
    import jax
    pid, port, out, run_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    if pid >= 0:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2,
                                   process_id=pid)
    import numpy as np
    from jaxrl import training
    from jaxrl.agents import DQNConfig
    spec = training.RunSpec(
        "dqn", DQNConfig(total_steps=800, num_envs=4, log_every=200, eval_every=400,
                         learning_starts=100, buffer_size=500, batch_size=16, hidden_sizes=(8,),
                         updates_per_step=1.0),
        env="Probe3-v0", num_seeds=4)
    try:
        training.run(spec, run_dir + "-ckpt", progress=False, log=None)
        refused = None
    except ValueError as err:
        refused = str(err)
    r = training.run(spec, run_dir, progress=False, log=None, save_checkpoints=False,
                     write_plot=False)
    json.dump(dict(processes=jax.process_count(), devices=len(jax.devices()),
                   metrics={k: np.asarray(v, np.float64).tolist() for k, v in r.metrics.items()},
                   refused=refused), open(out, "w"))
""")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_equal_one(tmp_path):
  script = tmp_path / "worker.py"
  script.write_text(WORKER)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  port = str(_free_port())
  procs = []
  for pid in (0, 1):
    e = dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    procs.append(subprocess.Popen(
        [sys.executable, str(script), str(pid), port, str(tmp_path / f"p{pid}.json"),
         str(tmp_path / "run")], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
  single = subprocess.run(
      [sys.executable, str(script), "-1", "0", str(tmp_path / "single.json"),
       str(tmp_path / "single-run")],
      env=dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=4"), capture_output=True,
      text=True, timeout=600, check=False)
  for p in procs:
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()[-3000:]
  assert single.returncode == 0, single.stderr[-3000:]
  p0, p1, one = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("p0", "p1", "single"))
  assert p0["processes"] == 2 and p0["devices"] == 4 and one["processes"] == 1
  assert p0["metrics"] == p1["metrics"] == one["metrics"]        # bitwise, NaNs as NaN
  assert "single process" in p0["refused"] and one["refused"] is None
  assert (tmp_path / "run" / "metrics.csv").exists()            # written once, by process 0
  assert not (tmp_path / "run" / "checkpoints").exists()
