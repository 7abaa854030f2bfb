"""Extending a run to more env steps: resume(dir, total_steps=N), jaxrl resume --total-steps."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from jaxrl import envs
from jaxrl import training
from jaxrl.agents import DQNConfig
from jaxrl.training import extension
from tests import codegen

# DQN on probe 3; epsilon decays over 1,000 env steps (a step count, not a fraction of the run).
CFG = DQNConfig(total_steps=1_000, num_envs=4, log_every=100, eval_every=200, learning_starts=100,
                buffer_size=1_000, batch_size=32, hidden_sizes=(16,), updates_per_step=1.0,
                epsilon_decay_steps=1_000)
SPEC = training.RunSpec("dqn", CFG, env="Probe3-v0", num_seeds=2, seed=5)
QUIET = dict(progress=False, log=None, write_plot=False)


def same(a: dict, b: dict) -> bool:
  return sorted(a) == sorted(b) and all(
      np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True) for k in a)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  """SPEC run to the end: ``(run directory, result)``; tests that change it work on a copy.
  Compiled with XLA's default code generation, as the bitwise extension test needs
  (``tests/codegen.py``)."""
  run_dir = tmp_path_factory.mktemp("ext") / "short"
  with codegen.default():
    return run_dir, training.run(SPEC, run_dir, **QUIET)


@pytest.fixture(scope="module")
def finished(finished_run):
  return finished_run[0]


def test_extended_run_equals_a_straight_run(finished_run, tmp_path):
  # a finished run to N, extended to 2N (stopped once on the way and resumed), gives bitwise the
  # metrics of a run straight to 2N: the chunks after N are the ones the straight run executes
  # (with XLA's default code generation: a bitwise claim about the code users run)
  long = dataclasses.replace(SPEC, config=dataclasses.replace(CFG, total_steps=2_000))
  short_dir, short = finished_run
  shutil.copytree(short_dir, tmp_path / "ext")
  assert short.metrics["env_steps"].shape == (1, 2, 10)
  said = []
  with codegen.default():
    straight = training.run(long, tmp_path / "straight", **QUIET)
    with pytest.raises(training.Interrupted):
      training.resume(tmp_path / "ext", total_steps=2_000, stop_after_chunks=1, progress=False,
                      log=said.append, write_plot=False)
    assert not (tmp_path / "ext" / "summary.json").exists()    # unfinished again
    extended = training.resume(tmp_path / "ext", **QUIET)
  assert "extending" in said[0] and "1,000 to 2,000" in said[0]
  assert same(extended.metrics, straight.metrics)
  saved = json.loads((tmp_path / "ext" / "config.json").read_text())
  assert saved["config"]["total_steps"] == 2_000
  [record] = saved["extensions"]
  assert (record["from_total_steps"], record["to_total_steps"]) == (1_000, 2_000)
  assert record["fingerprint_before"] == SPEC.fingerprint()
  assert training.load_spec(tmp_path / "ext") == long
  assert extended.summary["env_steps_per_run"] == 2_000
  # the same total again is a plain resume of a finished run
  again = training.resume(tmp_path / "ext", total_steps=2_000, **QUIET)
  assert again.final_state is None and same(again.metrics, straight.metrics)


@pytest.mark.parametrize("total, message", [
    (500, "cannot extend .* from 1,000 to 500 env steps per run: a run cannot be shortened"),
    (2_050, "from 1,000 to 2,050 .*total_steps \\(2050\\) must be a positive multiple of "
            "log_every \\(100\\)"),
    (2.5, "total_steps must be an int, got 2.5 \\(float\\)"),
])
def test_bad_extensions_are_refused_and_change_nothing(finished, total, message):
  before = (finished / "config.json").read_text()
  with pytest.raises(ValueError, match=message):
    training.resume(finished, total_steps=total, **QUIET)
  assert (finished / "config.json").read_text() == before
  assert (finished / "summary.json").exists()


def test_a_run_without_checkpoints_is_not_extended(tmp_path):
  training.run(SPEC, tmp_path / "nockpt", save_checkpoints=False, **QUIET)
  with pytest.raises(ValueError, match="it has no checkpoint to continue from"):
    training.resume(tmp_path / "nockpt", total_steps=2_000, **QUIET)


def test_annealing_refuses_the_extension_by_name(tmp_path):
  config = training.ALGORITHMS["ppo"].config_cls(
      total_steps=1_024, num_envs=4, num_steps=16, num_epochs=1, num_minibatches=2,
      hidden_sizes=(8,), log_every=512, eval_every=1_024, eval_episodes=1)
  training.run(training.RunSpec("ppo", config, env="Probe1-v0"), tmp_path / "ppo", **QUIET)
  with pytest.raises(ValueError) as err:
    training.resume(tmp_path / "ppo", total_steps=2_048, **QUIET)
  assert str(err.value) == (
      f"cannot extend {tmp_path / 'ppo'} from 1,024 to 2,048 env steps per run: "
      "PPOConfig.anneal_lr=True anneals the learning rate linearly to 0 at total_steps (1,024): "
      "the updates so far followed that schedule, and a run to 2,048 would have followed a "
      "slower one. An extended run must equal a run straight to 2,048, and here it would not. "
      "Train a new run with --total-steps 2048 instead (and, for runs you mean to extend later, "
      "without that setting).")
  assert (tmp_path / "ppo" / "summary.json").exists()


@pytest.mark.parametrize("algorithm", ["a2c", "ppo", "pqn"])
@pytest.mark.parametrize("anneal", [False, True])
def test_named_blockers_agree_with_the_traced_program(algorithm, anneal):
  # the safety net (the logging interval's jaxpr at both lengths) differs exactly when the
  # named setting says the step depends on total_steps
  algo = training.ALGORITHMS[algorithm]
  small = dict(num_envs=4, num_steps=16, hidden_sizes=(8,), log_every=512, eval_every=512)
  if algorithm != "a2c":
    small.update(num_epochs=1, num_minibatches=2)
  old = algo.config_cls(total_steps=1_024, anneal_lr=anneal, **small)
  new = dataclasses.replace(old, total_steps=2_048)
  env, params = envs.make("Probe1-v0")
  t_old, t_new = algo.make_train(old, env, params), algo.make_train(new, env, params)
  program = extension._step_program  # pylint: disable=protected-access
  traced_differs = program(t_old) != program(t_new)
  assert traced_differs == anneal
  assert bool(extension.blockers(algorithm, old, new, t_old, t_new)) == anneal
