"""Metrics to TensorBoard and W&B: read back with TensorBoard's own reader, equal to metrics.csv."""

import json
import pathlib
import sys
import types

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.util import tensor_util

from jaxrl import cli
from jaxrl import training
from jaxrl.agents import DQNConfig
from jaxrl.training import loggers, rundir

# DQN on probe 1: 4 logs of 200 steps (evaluations at 400 and 800), 2 chunks; 2 settings x 2 seeds.
CFG = DQNConfig(total_steps=800, num_envs=2, log_every=200, eval_every=400, learning_starts=100,
                buffer_size=1_000, batch_size=32, hidden_sizes=(8,), updates_per_step=1.0,
                epsilon_decay_steps=400)
SPEC = training.RunSpec("dqn", CFG, env="Probe1-v0", num_seeds=2, seed=3, checkpoint_every=400,
                        settings=({"learning_rate": 1e-3}, {"learning_rate": 3e-3}))
RUNS = [f"setting_{s:03d}/{n}" for s in range(2) for n in ("seed_000", "seed_001", "mean", "median")]


def events(folder: pathlib.Path) -> list[tuple[int, dict[str, float]]]:
  """Every scalar event in ``folder``'s event files, in file order, as TensorBoard's own loader
  gives them (scalars migrated to 0-d tensors, as its scalar plugin reads them)."""
  out = []
  for path in sorted(folder.glob("events.out.tfevents.*")):
    for event in event_file_loader.EventFileLoader(str(path)).Load():
      if event.HasField("summary"):
        out.append((event.step, {v.tag: tensor_util.make_ndarray(v.tensor).item()
                                 for v in event.summary.value}))
  return out


def expected(metrics: dict, run: str) -> list[tuple[int, dict[str, float]]]:
  """What ``run`` should hold, from metrics.csv's ``{name: [settings, seeds, logs]}``."""
  setting, name = run.split("/")
  s = int(setting.split("_")[1])
  out = []
  for t in range(metrics["env_steps"].shape[-1]):
    row = {}
    step = int(metrics["env_steps"][s, 0, t])
    for m, v in metrics.items():
      if m == "env_steps":
        continue
      x = (v[s, int(name.split("_")[1]), t] if name.startswith("seed")
           else getattr(np, name)(v[s, :, t]))
      if np.isfinite(x):
        row[m] = float(np.float32(x))    # event files hold float32
    out.append((step, row))
  return out


def assert_logged_once(run_dir: pathlib.Path):
  metrics = rundir.read_metrics(run_dir / "metrics.csv")
  for run in RUNS:
    got, want = events(run_dir / "tensorboard" / run), expected(metrics, run)
    assert [s for s, _ in got] == [s for s, _ in want], run    # every step once, in order
    for (step, g), (_, w) in zip(got, want):
      assert sorted(g) == sorted(w), (run, step)
      np.testing.assert_allclose([g[k] for k in sorted(g)], [w[k] for k in sorted(w)],
                                 rtol=1e-6, err_msg=f"{run} step {step}")


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  run_dir = tmp_path_factory.mktemp("tb") / "run"
  return training.run(SPEC, run_dir, progress=False, log=None, logger="tensorboard")


def test_tensorboard_reads_back_what_metrics_csv_holds(straight):
  d = straight.run_dir / "tensorboard"
  assert sorted(str(p.relative_to(d)) for p in d.glob("setting_*/*")) == sorted(RUNS)
  acc = event_accumulator.EventAccumulator(str(d / "setting_001" / "seed_001"))
  acc.Reload()
  evals = acc.Scalars("eval_return")
  assert [e.step for e in evals] == [400, 800]       # NaN (no evaluation) is not written
  np.testing.assert_array_equal([e.value for e in evals],
                                np.float32(straight.metrics["eval_return"][1, 1, [1, 3]]))
  assert_logged_once(straight.run_dir)


def test_seeds_of_a_setting_are_not_mixed_with_another_setting(straight):
  # The settings differ in learning rate, so their losses differ: each folder holds its own.
  a = events(straight.run_dir / "tensorboard" / "setting_000" / "seed_000")
  b = events(straight.run_dir / "tensorboard" / "setting_001" / "seed_000")
  assert a[-1][1]["loss"] != b[-1][1]["loss"]


def test_resume_continues_the_logs_without_writing_a_step_twice(straight, tmp_path):
  run_dir = tmp_path / "resumed"
  with pytest.raises(training.Interrupted):
    training.run(SPEC, run_dir, progress=False, log=None, stop_after_chunks=1,
                 logger="tensorboard")
  assert json.loads((run_dir / "tensorboard" / "jaxrl_logged.json").read_text()) == {"logs": 2}
  training.resume(run_dir, progress=False, log=None, logger="tensorboard")
  assert_logged_once(run_dir)
  # two processes' files in each folder, together the straight run's values
  assert len(list((run_dir / "tensorboard" / RUNS[0]).glob("events.*"))) == 2
  for run in RUNS:
    assert events(run_dir / "tensorboard" / run) == events(straight.run_dir / "tensorboard" / run)


def test_a_logger_added_on_resume_writes_the_earlier_steps_too(tmp_path):
  run_dir = tmp_path / "late"
  with pytest.raises(training.Interrupted):
    training.run(SPEC, run_dir, progress=False, log=None, stop_after_chunks=1)
  assert not (run_dir / "tensorboard").exists()
  training.resume(run_dir, progress=False, log=None, logger="tensorboard")
  assert_logged_once(run_dir)


def test_a_finished_run_resumed_with_a_logger_is_logged_from_its_files(straight, tmp_path):
  import shutil  # pylint: disable=import-outside-toplevel
  run_dir = tmp_path / "copy"
  shutil.copytree(straight.run_dir, run_dir)
  shutil.rmtree(run_dir / "tensorboard")
  training.resume(run_dir, progress=False, log=None, logger="tensorboard")
  assert_logged_once(run_dir)
  training.resume(run_dir, progress=False, log=None, logger="tensorboard")   # nothing new
  assert_logged_once(run_dir)


class FakeWandb(types.ModuleType):
  """Records what jaxrl asks of ``wandb`` (init arguments, logged dicts)."""

  def __init__(self):
    super().__init__("wandb")
    self.inits, self.logs, self.finished = [], [], 0

  def init(self, **kwargs):
    self.inits.append(kwargs)
    fake = self

    class Run:
      def log(self, data, step):
        fake.logs.append((step, dict(data)))

      def finish(self):
        fake.finished += 1
    return Run()


def test_wandb_logs_offline_into_the_run_directory_and_resumes_the_same_run(
    straight, tmp_path, monkeypatch):
  fake = FakeWandb()
  monkeypatch.setitem(sys.modules, "wandb", fake)
  monkeypatch.delenv("WANDB_MODE", raising=False)
  run_dir = tmp_path / "wb"
  with pytest.raises(training.Interrupted):
    training.run(SPEC, run_dir, progress=False, log=None, stop_after_chunks=1, logger="wandb")
  training.resume(run_dir, progress=False, log=None, logger="wandb")
  assert len(fake.inits) == 2 and fake.finished == 2
  first, second = fake.inits
  assert first["mode"] == "offline" and first["dir"] == str(run_dir / "wandb")
  assert first["id"] == second["id"] and second["resume"] == "allow"
  assert first["config"] == SPEC.to_dict()
  assert [step for step, _ in fake.logs] == [200, 400, 600, 800]    # each step once
  metrics = straight.metrics
  for t, (_, data) in enumerate(fake.logs):
    assert data["setting_001/seed_000/loss"] == float(metrics["loss"][1, 0, t])
    assert data["setting_000/mean/q_error"] == pytest.approx(
        float(np.mean(metrics["q_error"][0, :, t].astype(np.float64))))
    assert ("setting_000/seed_001/eval_return" in data) == (t % 2 == 1)


def test_a_missing_package_is_named_with_its_pip_install_before_anything_runs(
    tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, "wandb", None)    # import wandb -> ImportError
  with pytest.raises(ValueError, match=r"logger 'wandb' needs the wandb package.*"
                                       r"pip install 'jaxrl\[wandb\]'"):
    training.run(SPEC, tmp_path / "run", progress=False, log=None, logger="wandb")
  assert not (tmp_path / "run").exists()


def test_cli_refuses_a_missing_logger_package_with_its_message(tmp_path, monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, "tensorboardX", None)
  code = cli.main(["train", "dqn", "--env", "Probe1-v0", "--out", str(tmp_path / "run"),
                   "--logger", "tensorboard"])
  assert code == 2
  err = capsys.readouterr().err
  assert "jaxrl: error: logger 'tensorboard' needs the tensorboardX package" in err
  assert "pip install 'jaxrl[tensorboard]'" in err
  assert not (tmp_path / "run").exists()


def test_cli_refuses_an_unknown_logger(capsys):
  with pytest.raises(SystemExit) as exit_:
    cli.main(["resume", "somewhere", "--logger", "mlflow"])
  assert exit_.value.code == 2
  assert "mlflow" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    (dict(logger="mlflow"), r"logger must be one of \('none', 'tensorboard', 'wandb'\), "
                            r"got 'mlflow'"),
    (dict(logger="tensorboard", run_dir=None), r"logger 'tensorboard' writes into the run "
                                               r"directory: give run_dir"),
])
def test_bad_logger_arguments_are_refused(kwargs, message, tmp_path):
  kwargs.setdefault("run_dir", tmp_path / "run")
  with pytest.raises(ValueError, match=message):
    training.run(SPEC, progress=False, log=None, **kwargs)
