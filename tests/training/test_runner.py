"""The training driver: run directories, resume, determinism, progress, sweeps, bad input."""

import dataclasses
import json
import shutil

import jax
import numpy as np
import pandas as pd
import pytest

from jaxrl import envs
from jaxrl import training
from jaxrl.agents import A2CConfig, DQNConfig
from jaxrl.training import checkpoints, devices, rundir, stats, sweeps
from tests import codegen

# DQN on probe 3 (two-step credit assignment, Q* known): 10 logs of 200 steps, 5 chunks.
CFG = DQNConfig(total_steps=2_000, num_envs=4, log_every=200, eval_every=400, learning_starts=100,
                buffer_size=1_000, batch_size=32, hidden_sizes=(16,), updates_per_step=1.0,
                epsilon_decay_steps=1_000)
SPEC = training.RunSpec("dqn", CFG, env="Probe3-v0", num_seeds=3, seed=7, checkpoint_every=400)


def same(a: dict, b: dict) -> bool:
  return sorted(a) == sorted(b) and all(
      np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True) for k in a)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  run_dir = tmp_path_factory.mktemp("runs") / "straight"
  return training.run(SPEC, run_dir, progress=False, log=None)


def test_run_directory_has_every_file(straight):
  d = straight.run_dir
  for name in ("config.json", "versions.json", "metrics.csv", "summary.json", "curve.png"):
    assert (d / name).is_file(), name
  assert (d / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert checkpoints.latest_step(d / "checkpoints") == 2_000
  versions = json.loads((d / "versions.json").read_text())
  assert versions["packages"]["jax"] == jax.__version__
  assert versions["devices_used"] == [str(jax.devices()[0])]
  summary = json.loads((d / "summary.json").read_text())
  final = summary["settings"][0]["final_eval_return"]
  for key in ("mean", "std", "median", "ci95_low", "ci95_high", "n"):
    assert key in final
  assert final["n"] == 3
  assert final["ci95_low"] <= final["mean"] <= final["ci95_high"]
  assert summary["settings"][0]["diverged_seeds"] == 0       # a healthy run is not flagged
  assert summary["wall_time_s"] > summary["compile_time_s"] > 0
  assert summary["env_steps_per_s"] > 0


def test_metrics_csv_is_tidy_and_exact(straight):
  frame = pd.read_csv(straight.run_dir / "metrics.csv")
  assert list(frame.columns[:4]) == ["setting", "seed", "log", "env_steps"]
  assert len(frame) == 1 * 3 * 10
  assert sorted(frame["seed"].unique()) == [0, 1, 2]
  assert frame.groupby("seed")["env_steps"].max().tolist() == [2_000] * 3
  # Read back exactly what the run returned (floats round-trip, NaN stays NaN).
  back = rundir.read_metrics(straight.run_dir / "metrics.csv")
  for k, v in straight.metrics.items():
    np.testing.assert_array_equal(back[k], np.asarray(v, np.float64), err_msg=k)


def test_probe_is_learned(straight):
  # Probe 3: Q* of the first step is discount * 1; the greedy policy is trivially optimal, so the
  # test is that the value error fell: the network learned the two-step return.
  q_error = straight.metrics["q_error"][0, :, -1]
  assert np.all(q_error < 0.15), q_error
  assert np.all(straight.metrics["loss_finite"][0, :, -1])


def test_config_reloads_to_the_same_spec(straight):
  assert training.load_spec(straight.run_dir) == SPEC


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
  """SPEC stopped after 2 of 5 chunks (tests copy it before they change it)."""
  run_dir = tmp_path_factory.mktemp("stopped") / "run"
  with pytest.raises(training.Interrupted):
    training.run(SPEC, run_dir, progress=False, log=None, stop_after_chunks=2)
  return run_dir


def test_killed_and_resumed_equals_straight_through(straight, stopped, tmp_path):
  run_dir = tmp_path / "resumed"
  shutil.copytree(stopped, run_dir)
  assert checkpoints.latest_step(run_dir / "checkpoints") == 800
  partial = pd.read_csv(run_dir / "metrics.csv")
  assert partial["env_steps"].max() == 800        # the metrics so far are on disk already
  resumed = training.resume(run_dir, progress=False, log=None)
  assert same(resumed.metrics, straight.metrics)
  leaves = lambda s: jax.tree.leaves(jax.tree.map(np.asarray, s))  # noqa: E731
  for a, b in zip(leaves(resumed.final_state), leaves(straight.final_state)):
    np.testing.assert_array_equal(a, b)
  # a fresh carry is placed as a restored one (even on one device), so the resumed run lowered
  # the straight run's chunk program, not a second one differing only in input shardings
  placed = devices.runs_sharding(jax.tree.leaves(straight.final_state)[0].sharding.mesh)
  for a, b in zip(jax.tree.leaves(resumed.final_state), jax.tree.leaves(straight.final_state)):
    assert a.sharding == b.sharding == placed, (a.sharding, b.sharding)


def test_each_run_equals_its_key_alone(straight):
  env, params = envs.make(SPEC.env)
  train = jax.jit(training.ALGORITHMS["dqn"].make_train(CFG, env, params))
  keys = jax.random.split(jax.random.PRNGKey(SPEC.seed), SPEC.num_seeds)
  _, alone = train(keys[2])
  for k in ("eval_return", "q_mean", "loss", "env_steps"):
    np.testing.assert_allclose(straight.metrics[k][0, 2], alone[k], rtol=1e-5, atol=1e-6,
                               err_msg=k)


def test_progress_fires_from_inside_without_recompiling():
  prog = training.Progress(3, CFG.total_steps, interval_s=None)
  with codegen.default():     # a bitwise claim about the code users run (tests/codegen.py)
    result = training.run(SPEC, None, progress=prog, log=None)
    quiet = training.run(SPEC, None, progress=False, log=None)   # compiled without a callback
  assert prog.calls == 10                         # one callback per logging interval
  assert "2,000/2,000 env steps" in prog.line()
  assert result.summary["compiled_programs"] == 2  # init + one chunk length, nothing more
  assert same(quiet.metrics, result.metrics)      # the callback changes no number


def test_progress_prints_at_a_bounded_rate():
  lines = []
  prog = training.Progress(3, CFG.total_steps, "x", interval_s=3600.0, printer=lines.append)
  training.run(SPEC, None, progress=prog, log=None)
  assert len(lines) == 2 and "2,000/2,000" in lines[-1]   # the first interval and the end


def test_existing_run_directory_is_refused(straight):
  before = (straight.run_dir / "metrics.csv").read_bytes()
  with pytest.raises(ValueError, match="already exists; pass resume"):
    training.run(SPEC, straight.run_dir, progress=False, log=None)
  assert (straight.run_dir / "metrics.csv").read_bytes() == before


def test_resume_with_a_different_config_is_refused(straight):
  other = dataclasses.replace(SPEC, config=dataclasses.replace(CFG, learning_rate=0.5))
  with pytest.raises(ValueError, match=r"different config \(differs in \['config.learning_rate'\]"):
    training.run(other, straight.run_dir, resume=True, progress=False, log=None)


def test_checkpoint_from_a_different_config_is_refused(stopped, tmp_path):
  run_dir = tmp_path / "swapped"
  shutil.copytree(stopped, run_dir)
  # Someone copies another run's checkpoints in: the fingerprint does not match.
  other = dataclasses.replace(SPEC, seed=8)
  other_dir = tmp_path / "other"
  with pytest.raises(training.Interrupted):
    training.run(other, other_dir, progress=False, log=None, stop_after_chunks=1)
  shutil.rmtree(run_dir / "checkpoints")
  shutil.copytree(other_dir / "checkpoints", run_dir / "checkpoints")
  with pytest.raises(ValueError, match="written by a different config"):
    training.resume(run_dir, progress=False, log=None)


@pytest.mark.parametrize("change, message", [
    (dict(algorithm="no_such_algo"), "unknown algorithm 'no_such_algo'"),
    (dict(env="NoSuchEnv-v9"), "unknown environment 'NoSuchEnv-v9'"),
    (dict(num_seeds=0), "num_seeds must be an int >= 1, got 0"),
    (dict(num_seeds=2.0), "num_seeds must be an int, got 2.0"),
    (dict(seed=-1), "seed must be an int >= 0, got -1"),
    (dict(seed=2**32), "seed must be an int <= 4294967295, got 4294967296"),
    (dict(settings=({"hidden_sizes": (8,)},)), "not dqn hyperparameters"),
    (dict(settings=({"learning_rate": -1.0},)), "learning_rate must be positive"),
    (dict(checkpoint_every=300), "multiple of log_every"),
    (dict(config=A2CConfig()), "takes a DQNConfig"),
])
def test_bad_specs_are_refused_before_compiling(change, message, tmp_path):
  spec = dataclasses.replace(SPEC, **change)
  with pytest.raises(ValueError, match=message):
    training.run(spec, tmp_path / "never", progress=False, log=None)
  assert not (tmp_path / "never").exists() or not any((tmp_path / "never").iterdir())


def test_more_devices_than_exist_is_refused():
  with pytest.raises(ValueError, match="num_devices must be between 1 and"):
    training.check(SPEC, num_devices=len(jax.devices()) + 1)


def test_overwrite_replaces_and_resume_overwrite_conflict(tmp_path):
  run_dir = tmp_path / "ow"
  run_dir.mkdir()
  (run_dir / "precious.txt").write_text("mine")
  with pytest.raises(ValueError, match="not a jaxrl run directory"):
    training.run(SPEC, run_dir, overwrite=True, progress=False, log=None)
  assert (run_dir / "precious.txt").read_text() == "mine"
  with pytest.raises(ValueError, match="exclude each other"):
    training.run(SPEC, run_dir, overwrite=True, resume=True, progress=False, log=None)


def test_sweep_vmaps_hyperparameters_and_loops_over_shapes(tmp_path):
  cfg = dataclasses.replace(CFG, total_steps=800, eval_every=400)
  settings = training.grid({"learning_rate": [1e-3, 3e-2], "hidden_sizes": [(8,), (16,)]})
  result = training.sweep("dqn", cfg, settings, env="Probe1-v0", num_seeds=2,
                          out=tmp_path / "sw", progress=False, log=None)
  assert result.summary["calls"] == 2             # one compiled call per network shape
  assert [r.metrics["eval_return"].shape for r in result.groups] == [(2, 2, 4)] * 2
  assert sorted(result.summary["ranking"]) == [0, 1, 2, 3]
  means = [result.summary["settings"][i]["final_eval_return"]["mean"]
           for i in result.summary["ranking"]]
  assert means == sorted(means, reverse=True)
  saved = json.loads((tmp_path / "sw" / "sweep.json").read_text())
  assert saved["status"] == "finished" and saved["ranking"] == result.summary["ranking"]
  assert (tmp_path / "sw" / "group-001" / "metrics.csv").exists()
  table = sweeps.ranking_table(result.summary)
  assert table.count("\n") == 4
  # Resuming a finished sweep reuses every group from disk (nothing recompiles) ...
  again = training.sweep("dqn", cfg, settings, env="Probe1-v0", num_seeds=2,
                         out=tmp_path / "sw", resume=True, progress=False, log=None)
  assert again.summary["ranking"] == result.summary["ranking"]
  assert all(g.final_state is None for g in again.groups)
  # ... and a different sweep in the same directory is refused.
  with pytest.raises(ValueError, match="holds a different sweep"):
    training.sweep("dqn", cfg, settings[:2], env="Probe1-v0", num_seeds=2,
                   out=tmp_path / "sw", resume=True, progress=False, log=None)


def test_random_search_is_reproducible_and_in_range():
  space = {"learning_rate": training.Range(1e-4, 1e-2, log=True),
           "discount": training.Range(0.9, 0.99)}
  a = training.random_search(space, 16, seed=3)
  assert a == training.random_search(space, 16, seed=3)
  assert all(1e-4 <= s["learning_rate"] <= 1e-2 and 0.9 <= s["discount"] <= 0.99 for s in a)
  with pytest.raises(ValueError, match="log range needs low > 0"):
    training.Range(0.0, 1.0, log=True)


def test_bootstrap_interval_and_last_finite():
  assert stats.last_finite(np.array([[1.0, np.nan, 3.0, np.nan]]))[0] == 3.0
  assert np.isnan(stats.last_finite(np.array([[np.nan, np.nan]]))[0])
  s = stats.summarize(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
  assert s["n"] == 4 and s["mean"] == 2.5 and s["median"] == 2.5
  assert 1.0 <= s["ci95_low"] < 2.5 < s["ci95_high"] <= 4.0
  one = stats.summarize(np.array([5.0]))
  assert one["mean"] == 5.0 and np.isnan(one["ci95_low"]) and np.isnan(one["std"])


def test_plot_overlays_runs(straight, tmp_path):
  out = tmp_path / "both.png"
  assert training.write_plots([straight.run_dir, straight.run_dir], out) == "eval_return"
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  with pytest.raises(ValueError, match="has no metrics.csv"):
    training.write_plots([tmp_path], tmp_path / "x.png")


def test_overwrite_keeps_the_old_run_until_the_new_one_finishes(straight, tmp_path):
  run_dir = tmp_path / "replace"
  shutil.copytree(straight.run_dir, run_dir)
  with pytest.raises(training.Interrupted):
    training.run(SPEC, run_dir, overwrite=True, progress=False, log=None, stop_after_chunks=1)
  aside = [p for p in tmp_path.iterdir() if p.name.startswith("replace.replaced-")]
  assert len(aside) == 1 and (aside[0] / "summary.json").exists()   # the old run is intact
  training.resume(run_dir, progress=False, log=None)
  training.run(SPEC, run_dir, overwrite=True, progress=False, log=None)
  assert [p.name for p in tmp_path.iterdir() if "replaced" in p.name] == [aside[0].name]


def test_same_spec_is_bitwise_deterministic_and_without_checkpoints_the_other_files_are_written(
    straight, tmp_path):
  run_dir = tmp_path / "nockpt"
  again = training.run(SPEC, run_dir, save_checkpoints=False, progress=False, log=None,
                       write_plot=False)
  assert same(again.metrics, straight.metrics)    # the same spec again: bitwise the same run
  assert (run_dir / "metrics.csv").exists() and (run_dir / "summary.json").exists()
  assert not (run_dir / "checkpoints").exists()
  said = []   # finished is read from its files: nothing to restore, nothing refused
  again = training.resume(run_dir, progress=False, log=said.append)
  assert "has already finished" in said[-1] and again.final_state is None
  assert again.summary == json.loads((run_dir / "summary.json").read_text())


@pytest.mark.parametrize("algorithm", ["ppo", "pqn"])
def test_new_agents_run_resume_and_sweep_through_the_driver(algorithm, tmp_path):
  # the driver knows nothing of the agent: a killed PPO / PQN run resumes bitwise, and a
  # hyperparameter setting varies inside the same compiled call
  # (PPO with its running observation and return statistics: they are in the state and resume)
  algo = training.ALGORITHMS[algorithm]
  extra = dict(normalize_observations=True, normalize_rewards=True) if algorithm == "ppo" else {}
  config = algo.config_cls(total_steps=2_048, num_envs=4, num_steps=16, num_epochs=2,
                           num_minibatches=2, hidden_sizes=(8,), log_every=512, eval_every=1_024,
                           eval_episodes=2, **extra)
  spec = training.RunSpec(algorithm, config, env="Probe4-v0", num_seeds=2, seed=3,
                          settings=({"learning_rate": 1e-3}, {"learning_rate": 3e-3}),
                          checkpoint_every=1_024)
  straight = training.run(spec, tmp_path / "straight", progress=False, log=None)
  with pytest.raises(training.Interrupted):
    training.run(spec, tmp_path / "resumed", progress=False, log=None, stop_after_chunks=1)
  resumed = training.resume(tmp_path / "resumed", progress=False, log=None)
  assert same(resumed.metrics, straight.metrics)
  leaves = lambda s: jax.tree.leaves(jax.tree.map(np.asarray, s))  # noqa: E731
  for a, b in zip(leaves(resumed.final_state), leaves(straight.final_state), strict=True):
    np.testing.assert_array_equal(a, b)
  if algorithm == "ppo":                        # every observation and return of the run
    assert np.all(np.asarray(straight.final_state.params.obs_stats.count) == 2_048)
    assert np.all(np.asarray(straight.final_state.reward_norm.stats.count) == 2_048)
  assert straight.summary["compiled_programs"] == 2
  assert [r["diverged_seeds"] for r in straight.summary["settings"]] == [0, 0]
  assert straight.metrics["loss"].shape == (2, 2, 4)
  assert not np.array_equal(straight.metrics["loss"][0], straight.metrics["loss"][1])
