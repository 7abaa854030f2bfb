"""Several hosts, simulated: 2 processes x 2 CPU devices after jax.distributed.initialize()
checkpoint together (each process writes its own shards, process 0 the rest of the run
directory); a run stopped mid-way whose newest checkpoint was damaged resumes from the previous
one and gives bitwise the metrics of 1 process x 4 devices straight through."""

import json
import os
import socket
import subprocess
import sys
import textwrap

from tests.conftest import xla_flags

WORKER = textwrap.dedent("""
    import json, pathlib, sys
    import jax
    pid, port, out, run_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    if pid >= 0:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2,
                                   process_id=pid)
    import numpy as np
    from jax.experimental import multihost_utils
    from jaxrl import training
    from jaxrl.agents import DQNConfig
    from jaxrl.training import checkpoints
    spec = training.RunSpec(
        "dqn", DQNConfig(total_steps=800, num_envs=4, log_every=200, eval_every=400,
                         learning_starts=100, buffer_size=500, batch_size=16, hidden_sizes=(8,),
                         updates_per_step=1.0),
        env="Probe3-v0", num_seeds=4)
    as_list = lambda m: {k: np.asarray(v, np.float64).tolist() for k, v in m.items()}
    result = dict(processes=jax.process_count(), devices=len(jax.devices()))
    if pid < 0:   # straight through, one process
        r = training.run(spec, run_dir, progress=False, log=None, write_plot=False)
        result["metrics"] = as_list(r.metrics)
    else:         # stopped after 3 of 4 chunks, newest checkpoint damaged, resumed
        try:
            training.run(spec, run_dir, progress=False, log=None, stop_after_chunks=3)
        except training.Interrupted:
            pass
        ckpt = pathlib.Path(run_dir) / "checkpoints"
        result["steps"] = checkpoints.steps(ckpt)
        result["shards"] = sorted(p.name for p in (ckpt / "step_00000400" / "state").iterdir()
                                  if p.name.startswith("ocdbt"))
        if pid == 0:   # truncate an array file that process 1 wrote, in the newest checkpoint
            data = sorted((ckpt / "step_00000600" / "state" / "ocdbt.process_1" / "d").iterdir())
            data[0].write_bytes(data[0].read_bytes()[:10])
        multihost_utils.sync_global_devices("damaged")
        said = []
        r = training.resume(run_dir, progress=False, log=said.append, write_plot=False)
        result.update(metrics=as_list(r.metrics), said=said,
                      left=sorted(p.name for p in ckpt.iterdir()))
    json.dump(result, open(out, "w"))
""")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_equal_one_and_resume_past_a_damaged_checkpoint(tmp_path):
  script = tmp_path / "worker.py"
  script.write_text(WORKER)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  port = str(_free_port())
  procs = []
  for pid in (0, 1):
    e = dict(env, XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=2"))
    procs.append(subprocess.Popen(
        [sys.executable, str(script), str(pid), port, str(tmp_path / f"p{pid}.json"),
         str(tmp_path / "run")], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
  single = subprocess.run(
      [sys.executable, str(script), "-1", "0", str(tmp_path / "single.json"),
       str(tmp_path / "single-run")],
      env=dict(env, XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=4")),
      capture_output=True,
      text=True, timeout=600, check=False)
  for p in procs:
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()[-3000:]
  assert single.returncode == 0, single.stderr[-3000:]
  p0, p1, one = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("p0", "p1", "single"))
  assert p0["processes"] == 2 and p0["devices"] == 4 and one["processes"] == 1
  # stopped after 3 of 4 chunks (checkpoints 400 and 600 kept), each process wrote its shards
  assert p0["steps"] == p1["steps"] == [400, 600]
  assert p0["shards"] == ["ocdbt.process_0", "ocdbt.process_1"]
  # 600 damaged, resumed from 400: bitwise the metrics of one process straight through
  assert p0["metrics"] == p1["metrics"] == one["metrics"]        # bitwise, NaNs as NaN
  said = " ".join(p0["said"])
  assert "ocdbt.process_1" in said and "truncated" in said, said
  assert "env step 400 per run: 200 env steps per run" in said, said
  assert p0["left"] == ["damaged-step_00000600", "step_00000600", "step_00000800"], p0["left"]
  assert (tmp_path / "run" / "metrics.csv").exists()            # written once, by process 0
