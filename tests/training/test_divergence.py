"""Divergence is never silent: one rule (stats.divergence), on the console, in summary.json, in
the progress line and in the sweep ranking."""

import json

import numpy as np
import pytest

from jaxrl import training
from jaxrl.agents import DQNConfig
from jaxrl.training import runner, stats, sweeps

# DQN on probe 3: at learning rate 1e6 its losses stay finite while |Q| reaches 1e12 on a
# problem whose returns are at most 1 (and its greedy return still looks perfect).
CFG = DQNConfig(total_steps=800, num_envs=4, log_every=200, eval_every=400, learning_starts=100,
                buffer_size=1_000, batch_size=32, hidden_sizes=(16,), updates_per_step=1.0,
                epsilon_decay_steps=1_000)
SETTINGS = ({"learning_rate": 1e6}, {"learning_rate": 1e-3})


def rows(**metrics):
  """Metrics ``[1, T]`` from lists (one seed)."""
  return {k: np.asarray([v], np.float64) for k, v in metrics.items()}


def test_a_loss_that_is_not_finite_diverges_from_that_point():
  div = stats.divergence(rows(episode_return=[5.0, 5.0, 5.0], loss=[1.0, np.inf, np.nan],
                              loss_finite=[True, False, False]))
  assert div.diverged.tolist() == [True] and div.first_log.tolist() == [1]
  assert div.reason[0] == "loss not finite"


def test_nan_means_nothing_measured_not_divergence():
  # before learning starts the loss and Q metrics are NaN, and loss_finite is true
  div = stats.divergence(rows(episode_return=[np.nan, 20.0], loss=[np.nan, 3.0],
                              q_abs_max=[np.nan, 50.0], loss_finite=[True, True]))
  assert div.diverged.tolist() == [False] and div.first_log.tolist() == [-1]
  assert div.reason[0] == ""


def test_finite_but_exploding_values_and_losses_diverge_relative_to_the_returns_seen():
  limit = stats.VALUE_FACTOR * 10.0
  ok = stats.divergence(rows(episode_return=[10.0, 10.0], value_mean=[0.5 * limit, limit],
                             value_loss=[limit ** 2, limit ** 2]))
  assert not ok.diverged[0]
  bad = stats.divergence(rows(episode_return=[10.0, 10.0], value_mean=[1.0, 2 * limit]))
  assert bad.first_log.tolist() == [1] and "|value_mean|" in bad.reason[0]
  loss = stats.divergence(rows(eval_return=[-10.0, np.nan], policy_loss=[1.0, -2 * limit ** 2]))
  assert loss.first_log.tolist() == [1] and "|policy_loss|" in loss.reason[0]
  assert "(1000 R)^2" in loss.reason[0] and "R = 10" in loss.reason[0]
  # R is at least 1 and grows with the returns seen so far, never with later ones
  early = stats.divergence(rows(episode_return=[np.nan, 1e6], q_abs_max=[2e3, 2e3]))
  assert early.first_log.tolist() == [0] and "R = 1 " in early.reason[0]


def test_continuing_from_scale_before_equals_one_pass():
  # what the progress line does interval by interval gives what the summary does at the end
  rng = np.random.default_rng(0)
  m = {"episode_return": rng.uniform(0, 30, (4, 6)), "q_abs_max": rng.uniform(0, 3e4, (4, 6)),
       "loss": rng.uniform(0, 1e9, (4, 6)), "loss_finite": rng.uniform(size=(4, 6)) > 0.1}
  whole = stats.divergence(m)
  scale, first = None, np.full(4, -1)
  for t in range(6):
    d = stats.divergence({k: v[:, t:t + 1] for k, v in m.items()}, scale_before=scale)
    first = np.where((first < 0) & d.diverged, t, first)
    scale = d.scale
  assert first.tolist() == whole.first_log.tolist()
  assert np.array_equal(scale, whole.scale)


def test_divergence_needs_logging_points():
  with pytest.raises(ValueError, match=r"shape \[..., T\] with T >= 1"):
    stats.divergence({"loss": np.zeros((2, 0))})


@pytest.fixture(scope="module")
def diverging(tmp_path_factory):
  lines = []
  prog = training.Progress(4, CFG.total_steps, "x", interval_s=3600.0, printer=lines.append)
  out = tmp_path_factory.mktemp("div") / "run"
  said = []
  result = training.run(training.RunSpec("dqn", CFG, env="Probe3-v0", num_seeds=2,
                                         settings=SETTINGS), out, progress=prog,
                        log=said.append, write_plot=False, save_checkpoints=False)
  return result, lines, said, prog


def test_summary_counts_finite_divergence_and_says_where(diverging):
  result, _, _, _ = diverging
  summary = json.loads((result.run_dir / "summary.json").read_text())
  assert summary == result.summary
  bad, good = summary["settings"]
  assert bad["diverged_seeds"] == 2 and good["diverged_seeds"] == 0
  assert [d["seed"] for d in bad["divergence"]] == [0, 1]
  assert all(d["env_step"] == 200 and "|q_abs_max|" in d["reason"] for d in bad["divergence"])
  assert good["divergence"] == []
  assert summary["divergence_rule"] == stats.DIVERGENCE_RULE
  # the diverged setting's greedy return is as good as the healthy one's; it still ranks last
  assert bad["final_eval_return"]["mean"] >= good["final_eval_return"]["mean"]
  assert summary["ranking"] == [1, 0]


def test_console_and_progress_say_diverged(diverging):
  _, lines, said, prog = diverging
  final = said[-1]
  assert "setting 0 {'learning_rate': 1000000.0}: DIVERGED: 2/2 seeds (first at env step 200" in final
  assert "best of 2 settings: {'learning_rate': 0.001}" in final
  # printed as soon as it is seen (the interval is an hour), not only at the end
  assert "DIVERGED: 2/4 runs (first at env step 200, run 0: |q_abs_max|" in lines[0]
  assert prog.diverged.tolist() == [True, True, False, False]


def test_a_single_diverged_setting_leads_its_final_line():
  summary = {"algorithm": "dqn", "env": "E", "num_seeds": 2, "num_settings": 1, "ranking": [0],
             "env_steps_per_s": None, "compile_time_s": 1.0, "wall_time_s": 2.0,
             "settings": [{"setting": 0, "overrides": {}, "diverged_seeds": 2,
                           "divergence": [{"seed": 1, "env_step": 2500, "reason": "loss not finite"},
                                          {"seed": 0, "env_step": 5000, "reason": "x"}],
                           "final_eval_return": stats.summarize(np.array([9.4, 9.6]))}]}
  line = runner._summary_line(summary)  # pylint: disable=protected-access
  assert line.startswith("dqn E: DIVERGED: 2/2 seeds (first at env step 2,500, seed 1: loss not "
                         "finite); final eval return 9.5 +- ")
  assert "none env steps/s" in line


def test_progress_line_before_any_episode_says_so():
  prog = training.Progress(2, 100, interval_s=None)
  line = prog.line()
  assert "return: no finished episode yet" in line and "eval: none yet" in line
  assert "nan" not in line


def test_sweep_ranks_diverged_settings_last_and_marks_them(tmp_path):
  result = training.sweep("dqn", CFG, list(SETTINGS), env="Probe3-v0", num_seeds=1,
                          out=tmp_path / "sw", progress=False, log=None, write_plot=False,
                          save_checkpoints=False)
  assert result.summary["ranking"] == [1, 0]
  assert [r["diverged_seeds"] for r in result.summary["settings"]] == [1, 0]
  table = sweeps.ranking_table(result.summary).splitlines()
  assert table[2].rstrip().endswith("DIVERGED 1/1 seeds") and "DIVERGED" not in table[1]
  assert "nan" not in "\n".join(table)       # one seed: "-" for the missing spread


def test_rank_orders_by_diverged_seeds_then_mean():
  r = lambda div, mean: {"diverged_seeds": div, "final_eval_return": {"mean": mean}}  # noqa: E731
  assert stats.rank([r(1, 500.0), r(0, 10.0), r(0, None), r(0, 20.0), r(2, 900.0)]) == [3, 1, 2,
                                                                                         0, 4]
