"""Sweep figures and tables that explain themselves, and the rliable-style comparison of agents.

Figures are checked by their matplotlib objects (legend texts, colour bars, markers), not pixels.
"""

import csv
import io
import json
import pathlib

import numpy as np
import pytest
import scipy.stats

from jaxrl.training import compare, figures, rundir, sweeps


def _metrics(settings: int, seeds: int = 3, logs: int = 5, seed: int = 0) -> dict:
  rng = np.random.default_rng(seed)
  steps = np.arange(1, logs + 1) * 100.0
  return {"env_steps": np.broadcast_to(steps, (settings, seeds, logs)).copy(),
          "eval_return": (rng.normal(size=(settings, seeds, logs))
                          + np.arange(settings)[:, None, None])}


def _legend(fig) -> list[str]:
  return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


# ------------------------------------------------------------------------------- curves


def test_format_value_is_short():
  assert [figures.format_value(v) for v in (3e-4, 0.99, 1e6, 64, (64, 64), [8], True, 0.0)] == [
      "3e-4", "0.99", "1e6", "64", "(64, 64)", "(8,)", "True", "0"]


def test_legend_names_only_the_values_that_vary():
  settings = [{"learning_rate": 3e-4, "hidden_sizes": (64, 64), "discount": 0.99},
              {"learning_rate": 1e-2, "hidden_sizes": (64, 64), "discount": 0.99},
              {"learning_rate": 1e-2, "hidden_sizes": (128,), "discount": 0.99}]
  fig, metric = figures.curves_figure([("dqn CartPole-v1", _metrics(3), settings)])
  assert metric == "eval_return"
  assert _legend(fig) == ["learning_rate=3e-4, hidden_sizes=(64, 64) (n=3)",
                          "learning_rate=0.01, hidden_sizes=(64, 64) (n=3)",
                          "learning_rate=0.01, hidden_sizes=(128,) (n=3)"]
  assert not any("setting" in t for t in _legend(fig))
  assert len(fig.axes) == 1     # no colour bar for a few curves


def test_several_runs_prefix_their_label_and_one_setting_keeps_the_run_label():
  fig, _ = figures.curves_figure([("a: dqn", _metrics(1), ({"learning_rate": 1e-3},)),
                                  ("b: dqn", _metrics(1), ({"learning_rate": 1e-2},))])
  assert _legend(fig) == ["a: dqn: learning_rate=0.001 (n=3)", "b: dqn: learning_rate=0.01 (n=3)"]
  fig, _ = figures.curves_figure([("dqn Probe1-v0", _metrics(1), ())])
  assert _legend(fig) == ["dqn Probe1-v0 (n=3)"]


def test_more_than_ten_settings_get_a_sequential_colour_map_keyed_by_the_value():
  lrs = [10 ** (-k / 4) for k in range(12)]
  m = _metrics(12)
  m["eval_return"] += 9.0 * np.arange(12)[:, None, None]   # 10 apart: the ranking is certain
  fig, _ = figures.curves_figure([("dqn", m, [{"learning_rate": lr} for lr in lrs])])
  assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "learning_rate"   # the colour bar
  colours = [tuple(line.get_color()) for line in fig.axes[0].get_lines()]
  assert len(set(colours)) == 12       # no colour reused, unlike the default 10-colour cycle
  legend = fig.axes[0].get_legend()
  assert legend.get_title().get_text() == "best 3 of 12 settings" and len(_legend(fig)) == 3
  # the best three by final value are the ones named
  assert [t.split(" (n=")[0] for t in _legend(fig)] == [
      f"learning_rate={figures.format_value(lr)}" for lr in lrs[::-1][:3]]   # best first


def test_more_than_ten_settings_of_several_fields_are_keyed_by_rank():
  settings = sweeps.grid({"learning_rate": [1e-3, 1e-2, 1e-1], "discount": [0.9, 0.95, 0.99, 1.0]})
  fig, _ = figures.curves_figure([("dqn", _metrics(12), settings)])
  assert fig.axes[1].get_ylabel() == "rank by final value (1 = best)"


def test_a_single_log_point_draws_a_marker_with_its_interval():
  fig, _ = figures.curves_figure([("dqn", _metrics(2, logs=1), [{"discount": 0.9},
                                                                  {"discount": 0.99}])])
  markers = [line.get_marker() for line in fig.axes[0].get_lines()]
  assert markers.count("o") == 2
  assert fig.axes[0].containers            # error bars: the interval of the one point


def test_settings_that_do_not_match_the_metrics_are_refused():
  with pytest.raises(ValueError, match="has 2 settings in its metrics but 1 settings given"):
    figures.curves_figure([("dqn", _metrics(2), [{"discount": 0.9}])])


# ------------------------------------------------------------------------------ ranking


def _summary(diverged=True) -> dict:
  rows = []
  for i, (lr, mean) in enumerate([(1e-3, 0.5), (3e-2, 0.9)]):
    row = dict(setting=i, overrides={"learning_rate": lr, "hidden_sizes": [8]},
               final_eval_return=dict(mean=mean, median=mean, std=0.1, ci95_low=mean - 0.1,
                                      ci95_high=mean + 0.1, n=4))
    if diverged:
      row["diverged_seeds"] = i
    rows.append(row)
  return dict(algorithm="dqn", env="Probe1-v0", settings=rows, ranking=[1, 0])


def test_ranking_markdown_names_the_values_and_the_intervals():
  md = sweeps.ranking_markdown(_summary())
  assert "Shared by every setting: `hidden_sizes=(8,)`" in md
  assert ("| rank | setting | learning_rate | final eval return (mean) | median | std | "
          "95% interval | seeds | diverged seeds |") in md
  assert "| 1 | 1 | 0.03 | 0.9 | 0.9 | 0.1 | [0.8, 1] | 4 | 1 |" in md
  assert "diverged" not in sweeps.ranking_markdown(_summary(diverged=False)).split("\n\n")[2]


def test_ranking_csv_reads_back_best_first():
  rows = list(csv.DictReader(io.StringIO(sweeps.ranking_csv(_summary()))))
  assert [r["setting"] for r in rows] == ["1", "0"]
  assert float(rows[0]["learning_rate"]) == 3e-2 and rows[0]["hidden_sizes"] == "(8,)"
  assert float(rows[0]["final_eval_return_ci95_low"]) == 0.9 - 0.1
  assert rows[0]["final_eval_return_n"] == "4" and rows[0]["diverged_seeds"] == "1"
  assert "diverged_seeds" not in sweeps.ranking_csv(_summary(diverged=False))


# ------------------------------------------------------------------------------ compare


def test_iqm_by_hand():
  assert compare.iqm(np.arange(1, 9)) == 4.5          # mean of 3, 4, 5, 6
  assert compare.iqm([1.0, 2.0, 100.0]) == pytest.approx(103 / 3)   # n < 4 trims nothing
  x = np.random.default_rng(0).normal(size=(10, 3))
  assert compare.iqm(x) == pytest.approx(scipy.stats.trim_mean(x, 0.25, axis=None))


def test_bootstrap_is_stratified_by_task():
  # task 0 always scores 0, task 1 always 1: resampling runs within tasks keeps the mean at 0.5
  # exactly; a bootstrap that pooled the tasks would not.
  x = np.tile([0.0, 1.0], (6, 1))
  lo, hi = compare.stratified_bootstrap(x, compare.STATISTICS["mean"], reps=500)
  assert lo == hi == 0.5


def test_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time():
  rng = np.random.default_rng(1)
  hits = 0
  for k in range(200):
    x = rng.normal(size=(20, 1))
    lo, hi = compare.stratified_bootstrap(x, compare.STATISTICS["mean"], reps=400, seed=k)
    hits += lo <= 0.0 <= hi
  assert 0.85 <= hits / 200 <= 0.99     # percentile bootstrap undercovers a little at n=20


def test_performance_profile_by_hand():
  prof, lo, hi = compare.performance_profile(np.array([[0.0], [1.0], [2.0], [3.0]]),
                                             [-1.0, 0.5, 2.5, 5.0], reps=200)
  np.testing.assert_array_equal(prof, [1.0, 0.75, 0.25, 0.0])
  assert (lo <= prof).all() and (prof <= hi).all() and lo[0] == hi[0] == 1.0


def test_aggregate_and_figure():
  x = np.random.default_rng(0).normal(size=(8, 2))
  agg = compare.aggregate({"a": x, "b": x + 3}, reps=300)
  for name in ("median", "iqm", "mean"):
    point, lo, hi = agg["b"][name]
    assert lo <= point <= hi and agg["a"][name][2] < lo
  fig = compare.comparison_figure({"a": x, "b": x + 3}, reps=300)
  assert [ax.get_title() for ax in fig.axes] == ["Median", "IQM", "Mean", "Performance profile"]
  assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]
  assert [t.get_text() for t in fig.axes[3].get_legend().get_texts()] == [
      "a (8 runs x 2 tasks)", "b (8 runs x 2 tasks)"]


@pytest.mark.parametrize("scores, message", [
    ({}, "non-empty dict"),
    ({"a": np.zeros(5)}, "agent 'a': scores must be \\[runs, tasks\\]"),
    ({"a": np.array([[1.0], [np.nan]])}, "agent 'a' has 1 non-finite score"),
    ({"a": np.zeros((3, 1)), "b": np.zeros((3, 2))}, "different numbers of tasks"),
])
def test_bad_scores_are_refused(scores, message):
  with pytest.raises(ValueError, match=message):
    compare.aggregate(scores)


def test_agrees_with_rliable():
  """rliable 1.2.0 (``get_interval_estimates`` / ``create_performance_profile``, 20,000 and
  5,000 resamples) on these scores, run once in a scratch venv; intervals agree to Monte Carlo
  error (the resampling streams differ), point estimates exactly."""
  rng = np.random.default_rng(3)
  scores = {"a": rng.normal(size=(10, 4)), "b": rng.gamma(2.0, size=(10, 4))}
  rliable = {"a": {"median": (-0.109, -0.47, 0.322), "iqm": (-0.076, -0.36, 0.202),
                   "mean": (-0.041, -0.391, 0.301)},
             "b": {"median": (2.031, 1.63, 2.384), "iqm": (1.805, 1.463, 2.222),
                   "mean": (2.022, 1.646, 2.41)}}
  ours = compare.aggregate(scores, reps=20_000)
  for agent, stats in rliable.items():
    for name, (point, lo, hi) in stats.items():
      assert ours[agent][name][0] == pytest.approx(point, abs=1e-3)
      assert ours[agent][name][1:] == pytest.approx((lo, hi), abs=0.03)
  prof, lo, hi = compare.performance_profile(scores["a"], np.linspace(-1, 3, 5), reps=5000)
  np.testing.assert_allclose(prof, [0.875, 0.425, 0.15, 0.05, 0.025])
  np.testing.assert_allclose(lo, [0.78, 0.28, 0.05, 0.0, 0.0], atol=0.04)
  np.testing.assert_allclose(hi, [0.98, 0.57, 0.25, 0.12, 0.08], atol=0.04)


def test_min_max_normalize_maps_each_task_to_unit_range():
  out = compare.min_max_normalize({"a": [[0.0, -500.0], [10.0, -100.0]], "b": [[5.0, -300.0]]})
  np.testing.assert_allclose(out["a"], [[0.0, 0.0], [1.0, 1.0]])
  np.testing.assert_allclose(out["b"], [[0.5, 0.5]])


def _fake_run(root, name, algorithm, env, per_seed, overrides=({},)):
  d = root / name
  d.mkdir()
  rows = [dict(setting=i, overrides=o, final_eval_return_per_seed=list(s))
          for i, (o, s) in enumerate(zip(overrides, per_seed))]
  rundir.write_json(d / "summary.json", dict(algorithm=algorithm, env=env, settings=rows))
  return d


def test_load_scores_names_agents_by_the_values_that_vary(tmp_path):
  a = _fake_run(tmp_path, "a", "dqn", "CartPole-v1", [[1.0, 2.0], [3.0, 4.0]],
                ({"learning_rate": 1e-3}, {"learning_rate": 1e-2}))
  b = _fake_run(tmp_path, "b", "ppo", "CartPole-v1", [[5.0, 6.0]])
  scores, tasks = compare.load_scores([a, b])
  assert tasks == ["CartPole-v1"]
  assert {k: v.tolist() for k, v in scores.items()} == {
      "dqn learning_rate=0.001": [[1.0], [2.0]], "dqn learning_rate=0.01": [[3.0], [4.0]],
      "ppo": [[5.0], [6.0]]}


def test_load_scores_refuses_what_cannot_be_compared(tmp_path):
  a = _fake_run(tmp_path, "a", "dqn", "CartPole-v1", [[1.0, 2.0]])
  b = _fake_run(tmp_path, "b", "ppo", "Acrobot-v1", [[5.0, 6.0]])
  c = _fake_run(tmp_path, "c", "dqn", "Acrobot-v1", [[5.0, 6.0, 7.0]])
  with pytest.raises(ValueError, match=r"agent 'dqn' has no runs on \['Acrobot-v1'\]"):
    compare.load_scores([a, b])
  with pytest.raises(ValueError, match="agent 'dqn' has different numbers of seeds per env"):
    compare.load_scores([a, c])
  with pytest.raises(ValueError, match="a directory is given twice"):
    compare.load_scores([a, a])
  with pytest.raises(ValueError, match="has no summary.json: not a finished jaxrl run"):
    compare.load_scores([tmp_path])


def test_load_scores_tells_apart_runs_that_differ_in_a_static_option(tmp_path):
  # two DQN run directories whose configs differ in n_step and head (not swept numbers), and
  # two that differ in nothing but their seeds (pooled)
  dirs = []
  for name, n_step, head, per_seed in [("a", 1, "scalar", [1.0, 2.0]), ("b", 3, "c51", [3.0, 4.0]),
                                       ("c", 3, "c51", [5.0, 6.0])]:
    d = pathlib.Path(_fake_run(tmp_path, name, "dqn", "CartPole-v1", [per_seed]))
    (d / "config.json").write_text(json.dumps(dict(algorithm="dqn", config=dict(
        n_step=n_step, head=head, learning_rate=1e-3))))
    dirs.append(d)
  scores, _ = compare.load_scores(dirs)
  assert {k: v.ravel().tolist() for k, v in scores.items()} == {
      "dqn n_step=1, head=scalar": [1.0, 2.0], "dqn n_step=3, head=c51": [3.0, 4.0, 5.0, 6.0]}
