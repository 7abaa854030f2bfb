"""A run killed with SIGKILL mid-way and resumed equals one that ran straight through."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from jaxrl import training
from jaxrl.training import checkpoints


def test_sigkill_then_resume_equals_straight_through(tmp_path):
  run_dir = tmp_path / "killed"
  cmd = [sys.executable, "-m", "jaxrl.cli", "train", "dqn", "--env", "Probe3-v0",
         "--num-seeds", "2", "--total-steps", "8000", "--num-envs", "4", "--log-every", "200",
         "--eval-every", "1000", "--learning-starts", "100", "--buffer-size", "1000",
         "--batch-size", "16", "--hidden-sizes", "8", "--updates-per-step", "1",
         "--checkpoint-every", "200", "--out", str(run_dir), "--progress-interval", "3600"]
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
  deadline = time.monotonic() + 300
  try:
    while (checkpoints.latest_step(run_dir / "checkpoints") or 0) < 400:
      assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
      assert time.monotonic() < deadline, "no checkpoint within 300 s"
      time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
  finally:
    proc.wait(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  killed_at = checkpoints.latest_step(run_dir / "checkpoints")
  assert 400 <= killed_at < 8000, killed_at     # killed mid-way, some checkpoints written

  resumed = training.resume(run_dir, progress=False, log=None)
  straight = training.run(training.load_spec(run_dir), None, progress=False, log=None)
  for k, v in straight.metrics.items():
    np.testing.assert_array_equal(resumed.metrics[k], v, err_msg=k)
  assert resumed.metrics["env_steps"][0, :, -1].tolist() == [8000, 8000]
