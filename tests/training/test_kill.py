"""A run killed with SIGKILL mid-way and resumed equals one that ran straight through, also when
its newest checkpoint was damaged (resume falls back to the previous one and says so); a finished
run is recognised without opening its checkpoints; no intact checkpoint left is one clear error."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxrl import cli
from jaxrl import training
from jaxrl.agents import DQNConfig
from jaxrl.training import checkpoints


def _largest_array_file(checkpoint):
  files = [f for f in (checkpoint / "state").rglob("*") if f.is_file() and f.parent.name == "d"]
  return max(files, key=lambda f: f.stat().st_size)


def test_sigkill_then_resume_past_a_damaged_checkpoint_equals_straight_through(tmp_path):
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
  steps = checkpoints.steps(run_dir / "checkpoints")
  assert len(steps) == 2 and 400 <= steps[-1] < 8000, steps   # killed mid-way

  newest = run_dir / "checkpoints" / f"step_{steps[-1]:08d}"
  damaged = _largest_array_file(newest)
  damaged.write_bytes(damaged.read_bytes()[:50])
  said = []
  resumed = training.resume(run_dir, progress=False, log=said.append)
  text = "\n".join(said)
  assert f"checkpoint {steps[-1]:,} of {run_dir} is damaged: {damaged} is 50 bytes" in text, text
  assert (f"env step {steps[0]:,} per run: {steps[-1] - steps[0]:,} env steps per run up to the "
          f"damaged checkpoint's {steps[-1]:,} are redone") in text, text
  assert (run_dir / "checkpoints" / f"damaged-{newest.name}").is_dir()

  straight = training.run(training.load_spec(run_dir), None, progress=False, log=None)
  for k, v in straight.metrics.items():
    np.testing.assert_array_equal(resumed.metrics[k], v, err_msg=k)
  assert resumed.metrics["env_steps"][0, :, -1].tolist() == [8000, 8000]


SPEC = training.RunSpec(
    "dqn", DQNConfig(total_steps=800, num_envs=4, log_every=200, eval_every=400,
                     learning_starts=100, buffer_size=500, batch_size=16, hidden_sizes=(8,),
                     updates_per_step=1.0),
    env="Probe3-v0", num_seeds=2, checkpoint_every=200)


def test_no_intact_checkpoint_and_finished_run_with_a_damaged_one(tmp_path, capsys):
  run_dir = tmp_path / "run"
  with pytest.raises(training.Interrupted):
    training.run(SPEC, run_dir, progress=False, log=None, stop_after_chunks=2)
  ckpt = run_dir / "checkpoints"
  assert checkpoints.steps(ckpt) == [200, 400]

  # every checkpoint damaged: one paragraph naming each file and what to do; nothing is moved
  broken = tmp_path / "broken"
  shutil.copytree(run_dir, broken)
  meta = broken / "checkpoints" / "step_00000400" / "metadata.json"
  meta.write_text(meta.read_text()[:200])
  shutil.rmtree(broken / "checkpoints" / "step_00000200" / "state")
  assert cli.main(["resume", str(broken)]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith(f"jaxrl: error: cannot resume {broken}: every checkpoint") and (
      "\n" not in err), err
  assert f"step 400: {meta} is not valid JSON" in err, err
  assert f"step 200: {broken / 'checkpoints' / 'step_00000200' / 'state'} is missing" in err, err
  assert "--overwrite" in err and f"jaxrl repeat {broken}" in err, err
  assert checkpoints.steps(broken / "checkpoints") == [200, 400]

  # a finished run whose last checkpoint is damaged: `jaxrl resume` says it is finished
  training.resume(run_dir, progress=False, log=None, write_plot=False)
  _largest_array_file(ckpt / "step_00000800").write_bytes(b"")
  shutil.rmtree(ckpt / "step_00000600" / "state")
  assert cli.main(["resume", str(run_dir)]) == 0
  out = capsys.readouterr().out
  assert "has already finished (800 env steps per run); nothing to resume" in out, out
  finished = training.resume(run_dir, progress=False, log=None)
  assert finished.final_state is None and finished.metrics["env_steps"][0, :, -1].tolist() == [
      800, 800]
