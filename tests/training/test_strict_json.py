"""Every JSON file a run, a sweep or a solve writes is strict JSON (no NaN/Infinity literals):
any JSON reader loads it. Non-finite numbers are null; config infinities reload exactly."""

import dataclasses
import json
import math

import numpy as np
import pytest

from jaxrl import cli, training
from jaxrl.agents import DQNConfig
from jaxrl.training import rundir

CFG = DQNConfig(total_steps=800, num_envs=4, log_every=200, eval_every=400, learning_starts=100,
                buffer_size=1_000, batch_size=32, hidden_sizes=(16,), updates_per_step=1.0,
                epsilon_decay_steps=1_000, max_grad_norm=math.inf)


def _refuse(name):
  raise AssertionError(f"non-standard JSON constant {name}")


def strict_load(path):
  """Loads ``path`` as RFC 8259 JSON (NaN, Infinity and -Infinity refused)."""
  return json.loads(path.read_text(), parse_constant=_refuse)


def every_json(directory):
  files = sorted(directory.rglob("*.json"))
  assert files
  return {str(p.relative_to(directory)): strict_load(p) for p in files}


def test_write_json_writes_null_for_non_finite_numbers(tmp_path):
  path = tmp_path / "x.json"
  rundir.write_json(path, {"a": math.nan, "b": [np.float32(np.inf), -math.inf, 1.5],
                           "c": (np.int64(3), np.array([np.nan, 2.0]))})
  assert strict_load(path) == {"a": None, "b": [None, None, 1.5], "c": [3, [None, 2.0]]}


def test_one_seed_run_and_its_resume_write_strict_json(tmp_path):
  spec = training.RunSpec("dqn", CFG, env="Probe3-v0", num_seeds=1, checkpoint_every=400)
  run_dir = tmp_path / "run"
  with pytest.raises(training.Interrupted):
    training.run(spec, run_dir, progress=False, log=None, write_plot=False, stop_after_chunks=1)
  files = every_json(run_dir)
  assert files["config.json"]["config"]["max_grad_norm"] == "inf"
  assert training.load_spec(run_dir) == spec            # inf reloads exactly ...
  said = []
  result = training.resume(run_dir, progress=False, log=said.append, write_plot=False)
  assert result.spec.config.max_grad_norm == math.inf   # ... and the run resumes with it
  files = every_json(run_dir)
  final = files["summary.json"]["settings"][0]["final_eval_return"]
  assert final["n"] == 1 and final["std"] is None and final["ci95_low"] is None
  assert files["summary.json"] == result.summary
  assert "(1 seed: no interval)" in said[-1] and "nan" not in said[-1]


def test_sweep_json_is_strict_and_keeps_infinite_settings(tmp_path):
  settings = training.grid({"max_grad_norm": [10.0, math.inf]})
  cfg = dataclasses.replace(CFG, max_grad_norm=10.0)
  kw = dict(env="Probe1-v0", num_seeds=1, out=tmp_path / "sw", progress=False, log=None,
            write_plot=False, save_checkpoints=False)
  result = training.sweep("dqn", cfg, settings, **kw)
  files = every_json(tmp_path / "sw")
  sweep_json = files["sweep.json"]
  assert [s["overrides"]["max_grad_norm"] for s in sweep_json["settings"]] == [10.0, "inf"]
  assert sweep_json["plan"]["settings"][1] == {"max_grad_norm": "inf"}
  assert files["group-001/config.json"]["config"]["max_grad_norm"] == "inf"
  assert training.load_spec(tmp_path / "sw" / "group-001").config.max_grad_norm == math.inf
  assert all(files[f"group-00{g}/summary.json"]["settings"][0]["final_eval_return"]["std"]
             is None for g in (0, 1))
  # the plan read back from sweep.json equals this sweep's, so resuming it is accepted
  again = training.sweep("dqn", cfg, settings, resume=True, **kw)
  assert again.summary["ranking"] == result.summary["ranking"]


def test_solve_writes_strict_json_with_null_for_an_unbounded_error(tmp_path, capsys):
  out = tmp_path / "solve"
  # a reward loop at discount 1: not converged, error bound infinite
  code = cli.main(["solve", "gridworld", "--discount", "1", "--living-reward", "0.5",
                   "--max-iterations", "5", "--out", str(out)])
  assert code == 1
  capsys.readouterr()
  files = every_json(out)
  assert files["solution.json"]["converged"] is False
  assert files["solution.json"]["error_bound"] is None
  assert files["config.json"]["config"]["discount"] == 1.0
