"""The `jaxrl` command line, end to end on tiny problems."""

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from jaxrl import cli


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)   # default run directories go to ./runs


def test_solve_writes_a_run_directory(tmp_path, capsys):
  out = tmp_path / "solved"
  assert cli.main(["solve", "gridworld", "--living-reward", "-0.4", "--out", str(out)]) == 0
  assert f"run directory: {out}" in capsys.readouterr().out
  solution = json.loads((out / "solution.json").read_text())
  assert solution["converged"] and len(solution["values"]) == 11   # the 11 open cells
  assert (out / "policy.png").read_bytes()[:4] == b"\x89PNG"
  assert json.loads((out / "config.json").read_text())["config"]["living_reward"] == -0.4
  assert (out / "versions.json").exists()
  assert cli.main(["solve", "gridworld"]) == 0
  assert len(list((tmp_path / "runs").iterdir())) == 1      # the default: runs/solve-gridworld-*


def test_solve_gridworld_prints_textbook_grid(capsys):
  assert cli.main(["solve", "gridworld"]) == 0
  out = capsys.readouterr().out
  assert "converged=True" in out
  # Russell & Norvig's utilities of the 4x3 world, top row then bottom row.
  for value in ("0.812", "0.868", "0.918", "0.705", "0.655", "0.611", "0.388"):
    assert value in out
  assert "\u2192" in out and "\u2191" in out and "\u2190" in out


def test_solve_gridworld_writes_plot(tmp_path, capsys):
  path = tmp_path / "sub" / "grid.png"
  code = cli.main(["solve", "gridworld", "--living-reward", "-0.4", "--solver", "policy_iteration",
                   "--plot", str(path)])
  assert code == 0
  assert path.exists() and path.stat().st_size > 1000
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert "policy_iteration" in capsys.readouterr().out


def test_solve_chain_flips_with_discount(capsys):
  assert cli.main(["solve", "chain", "--discount", "1.0"]) == 0
  action = lambda out: next(l for l in out.splitlines() if l.startswith("action:"))  # noqa: E731
  patient = action(capsys.readouterr().out)
  assert cli.main(["solve", "chain", "--discount", "0.1"]) == 0
  impatient = action(capsys.readouterr().out)
  assert "\u2192" not in patient  # walks to the far exit everywhere
  assert "\u2192" in impatient  # takes the near exit from the cell beside it


def test_non_convergence_is_an_error_exit(capsys):
  # A positive living reward at discount 1: the values grow for ever.
  assert cli.main(["solve", "gridworld", "--living-reward", "0.1"]) == 1
  captured = capsys.readouterr()
  assert "converged=False" in captured.out
  assert "NOT CONVERGED" in captured.err


@pytest.mark.parametrize("args, message", [
    (["solve", "gridworld", "--noise", "2"], "noise must lie in"),
    (["solve", "gridworld", "--discount", "1.5"], "discount must lie in"),
    (["solve", "gridworld", "--tol", "0"], "--tol must be positive"),
    (["solve", "chain", "--num-cells", "2"], "num_cells >= 3"),
    (["solve", "gridworld", "--layout", ". x +1"], "unknown token 'x'"),
])
def test_bad_input_is_refused_with_a_message(args, message, capsys):
  assert cli.main(args) == 2
  assert message in capsys.readouterr().err


def test_unknown_option_is_refused():
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["solve", "gridworld", "--no-such-option", "1"])
  assert exit_info.value.code != 0


# ------------------------------------------------------------------- train / sweep / plot / resume

TINY = ["--env", "Probe2-v0", "--total-steps", "800", "--num-envs", "4", "--num-steps", "5",
        "--log-every", "200", "--eval-every", "400", "--hidden-sizes", "8",
        "--progress-interval", "0"]


@pytest.fixture(scope="module")
def a2c_run(tmp_path_factory):
  """``jaxrl train a2c TINY --num-seeds 2``: ``(exit code, run directory, stdout, stderr)``; the
  run is trained once for the tests that read it (one that changes it works on a copy)."""
  out = tmp_path_factory.mktemp("cli") / "a2c"
  stdout, stderr = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
    code = cli.main(["train", "a2c", *TINY, "--num-seeds", "2", "--out", str(out)])
  return code, out, stdout.getvalue(), stderr.getvalue()


def test_train_writes_a_complete_run_directory(a2c_run, tmp_path, capsys):
  code, out, captured_out, captured_err = a2c_run
  assert code == 0
  assert "final eval return" in captured_out and f"run directory: {out}" in captured_out
  assert "800/800 env steps per run (100%)" in captured_err      # progress from inside the loop
  for name in ("config.json", "versions.json", "metrics.csv", "summary.json", "curve.png"):
    assert (out / name).is_file(), name
  assert any((out / "checkpoints").iterdir())
  # Probe 2 (reward = observation, one action): A2C's critic learns it; every episode scores.
  summary = json.loads((out / "summary.json").read_text())
  assert summary["algorithm"] == "a2c" and summary["num_seeds"] == 2
  # The same directory again is refused and left alone; --resume of a finished run is a no-op.
  before = (out / "metrics.csv").read_bytes()
  assert cli.main(["train", "a2c", *TINY, "--num-seeds", "2", "--out", str(out)]) == 2
  assert (f"jaxrl: error: run directory {out} already exists; add --resume to continue it (or "
          f"run `jaxrl resume {out}`), --overwrite to replace it, or choose another --out."
          ) in capsys.readouterr().err
  assert (out / "metrics.csv").read_bytes() == before
  assert cli.main(["resume", str(out)]) == 0
  assert (out / "metrics.csv").read_bytes() == before
  # repeat: the saved config, from scratch, gives bitwise the same metrics.
  again = tmp_path / "again"
  assert cli.main(["repeat", str(out), "--out", str(again)]) == 0
  assert (again / "metrics.csv").read_bytes() == before
  # plot overlays both.
  png = tmp_path / "curves.png"
  assert cli.main(["plot", str(out), str(again), "--out", str(png)]) == 0
  assert png.read_bytes()[:4] == b"\x89PNG"


def test_sweep_command_ranks_settings(tmp_path, capsys):
  out = tmp_path / "sweep"
  code = cli.main(["sweep", "reinforce", "--env", "Probe1-v0", "--total-steps", "400",
                   "--num-envs", "2", "--log-every", "200", "--eval-every", "200",
                   "--hidden-sizes", "8", "--num-seeds", "2", "--out", str(out),
                   "--grid", "learning_rate=1e-3,1e-2", "--progress-interval", "0"])
  assert code == 0, capsys.readouterr().err
  text = capsys.readouterr().out
  assert "rank" in text and "'learning_rate': 0.01" in text
  assert json.loads((out / "sweep.json").read_text())["status"] == "finished"
  # the sweep directory explains itself: a ranking table named by the values, and the curves
  md = (out / "ranking.md").read_text()
  assert "| rank | setting | learning_rate |" in md and "95% interval" in md
  assert (out / "ranking.csv").read_text().startswith("rank,setting,learning_rate,")
  assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
  # plotting the sweep directory itself says where its figure is and what to plot instead
  assert cli.main(["plot", str(out), "--out", str(tmp_path / "c.png")]) == 2
  assert (f"jaxrl: error: {out} is a sweep directory: its curves are {out / 'curves.png'} and its "
          f"ranking {out / 'ranking.md'}; to overlay curves, give its group-NNN directories, or "
          "compare its settings with --compare.") in capsys.readouterr().err
  # ... and --compare takes it: one agent per setting, named by its learning rate
  assert cli.main(["plot", "--compare", str(out), "--out", str(tmp_path / "c.png"),
                   "--reps", "100"]) == 0
  assert "reinforce learning_rate=0.01" in capsys.readouterr().out


def _fake_run(root, name, algorithm, env, per_seed):
  d = root / name
  d.mkdir()
  (d / "summary.json").write_text(json.dumps(dict(algorithm=algorithm, env=env, settings=[
      dict(setting=0, overrides={}, final_eval_return_per_seed=per_seed)])))
  return str(d)


def test_plot_compare_draws_the_rliable_figure(tmp_path, capsys):
  dirs = [_fake_run(tmp_path, f"{a}-{e}", a, e, [base + k for k in range(4)])
          for a, base in (("dqn", 0.0), ("ppo", 10.0)) for e in ("Acrobot-v1", "CartPole-v1")]
  png = tmp_path / "cmp.png"
  assert cli.main(["plot", "--compare", *dirs, "--out", str(png), "--reps", "200"]) == 0
  out = capsys.readouterr().out
  assert png.read_bytes()[:4] == b"\x89PNG"
  assert "IQM" in out and out.splitlines()[1].split()[:2] == ["dqn", "4"]
  assert cli.main(["plot", "--compare", dirs[0], "--reps", "0", "--out", str(png)]) == 2
  assert "jaxrl: error: --reps must be an int >= 1, got 0." in capsys.readouterr().err
  assert cli.main(["plot", "--compare", dirs[0], "--metric", "loss", "--out", str(png)]) == 2
  assert ("jaxrl: error: --compare scores each seed by its final eval return; leave out --metric."
          in capsys.readouterr().err)


def test_train_help_shows_every_option_with_default():
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["train", "dqn", "--help"])
  assert exit_info.value.code == 0


@pytest.mark.parametrize("args, message", [
    (["train", "dqn", "--env", "NoSuch-v0"], "unknown environment 'NoSuch-v0'"),
    (["train", "dqn", "--env", "Probe1-v0", "--total-steps", "1000", "--log-every", "300"],
     "must be a positive multiple of"),
    (["train", "a2c", "--env", "Probe1-v0", "--learning-rate", "-1"], "learning_rate must be positive"),
    (["sweep", "dqn", "--env", "Probe1-v0"], "give either --grid"),
    (["sweep", "dqn", "--env", "Probe1-v0", "--grid", "learning_rate"], "--grid takes NAME=V1,V2"),
    (["sweep", "dqn", "--env", "Probe1-v0", "--grid", "no_such=1,2"], "has no field 'no_such'"),
    (["sweep", "dqn", "--env", "Probe1-v0", "--random", "2", "--space", "learning_rate=1:x"],
     "--space bounds must be numbers"),
    (["resume", "/nonexistent/run"], "not a jaxrl run directory"),
    (["plot", "/nonexistent/run"], "has no metrics.csv"),
])
def test_bad_training_input_is_refused_with_a_message(args, message, capsys):
  assert cli.main(args) == 2
  assert message in capsys.readouterr().err


def test_unknown_algorithm_is_refused():
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["train", "no-such-agent"])
  assert exit_info.value.code != 0


def test_top_level_help_lists_the_commands(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["--help"])
  assert exit_info.value.code == 0
  out = capsys.readouterr().out
  for command in ("solve", "train", "sweep", "resume", "repeat", "plot"):
    assert command in out
  assert "Union" not in out


# ------------------------------------------------------------------------------- output paths

_QUICK_TRAIN = ["train", "dqn", "--env", "Probe1-v0", "--total-steps", "1000"]  # a bad config too


def _out_commands(out):
  return [[*_QUICK_TRAIN, "--out", out],
          ["sweep", "dqn", "--env", "Probe1-v0", "--grid", "learning_rate=1e-3", "--out", out],
          ["solve", "chain", "--out", out]]


@pytest.mark.parametrize("which", range(3), ids=["train", "sweep", "solve"])
def test_an_out_path_that_is_a_file_is_refused_first(which, tmp_path, capsys):
  afile = tmp_path / "afile"
  afile.write_text("keep me")
  for out, message in ((afile, f"{afile} is a file, not a directory; choose another --out."),
                       (afile / "sub", f"{afile} is a file, not a directory; choose another --out")):
    assert cli.main(_out_commands(str(out))[which]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxrl: error: ") and message in err, err
    assert "Traceback" not in err
  assert afile.read_text() == "keep me"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
@pytest.mark.parametrize("which", range(3), ids=["train", "sweep", "solve"])
def test_an_out_path_where_nothing_can_be_created_is_refused(which, capsys):
  assert cli.main(_out_commands("/proc/jaxrl-run")[which]) == 2
  err = capsys.readouterr().err
  assert "cannot write" in err and "/proc does not take new directories" in err, err
  assert "choose another --out" in err


def test_file_outputs_that_are_folders_or_unwritable_are_refused(tmp_path, capsys):
  assert cli.main(["solve", "chain", "--no-save", "--plot", str(tmp_path)]) == 2
  assert f"--plot {tmp_path} is a directory; give a file name" in capsys.readouterr().err
  afile = tmp_path / "afile"
  afile.write_text("")
  assert cli.main(["plot", str(tmp_path), "--out", str(afile / "c.png")]) == 2
  assert (f"--out {afile / 'c.png'}: the folder {afile} is a file, not a directory; choose "
          "another --out.") in capsys.readouterr().err


def test_resume_or_repeat_of_a_solve_directory_says_what_it_is(tmp_path, capsys):
  out = tmp_path / "solved"
  assert cli.main(["solve", "chain", "--out", str(out)]) == 0
  capsys.readouterr()
  for command in ("resume", "repeat"):
    assert cli.main([command, str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxrl: error: {out} is a `jaxrl solve` directory, not a training run: "
                          f"a solve runs in one go and has nothing to {command}."), err
  assert cli.main(["solve", "chain", "--out", str(out)]) == 2
  assert "already exists; choose another --out" in capsys.readouterr().err


# ------------------------------------------------------------------------------- values

@pytest.mark.parametrize("text, value", [("100000", 100_000), ("1e5", 100_000), ("1.5e3", 1500),
                                         ("1_000", 1000), (" 7 ", 7), ("-3", -3)])
def test_exact_int_reads_whole_numbers_in_any_notation(text, value):
  assert cli.exact_int(text) == value and type(cli.exact_int(text)) is int


@pytest.mark.parametrize("text", ["2.5", "1e-3", "inf", "nan", "fast", ""])
def test_exact_int_refuses_what_is_not_a_whole_number(text):
  with pytest.raises(ValueError, match="is not a whole number"):
    cli.exact_int(text)


def test_int_options_take_exact_integers_written_as_floats(capsys):
  # Parsed as 3000 and 300 (the config check that follows names them): no "invalid literal".
  args = ["train", "dqn", "--env", "Probe1-v0", "--eval-every", "3e3", "--log-every", "3e2",
          "--num-seeds", "1e0", "--hidden-sizes", "1.6e1", "8"]
  assert cli.main(args) == 2
  assert "total_steps (100000) must be a positive multiple of log_every (300)" in (
      capsys.readouterr().err)


@pytest.mark.parametrize("flag, text", [
    ("--total-steps", "2.5"), ("--num-seeds", "1e-3"), ("--log-every", "fast"),
    ("--checkpoint-every", "1.5"), ("--eval-max-steps", "2.5"), ("--hidden-sizes", "16.5")])
def test_int_options_refuse_other_numbers_naming_the_option(flag, text, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["train", "dqn", "--env", "Probe1-v0", flag, text])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert f"Error parsing {flag}" in err and "invalid literal" not in err, err


@pytest.mark.parametrize("grid, message", [
    ("learning_rate=fast", "--grid learning_rate=fast: DQNConfig.learning_rate takes a number, "
                           "got 'fast'."),
    ("total_steps=2.5", "--grid total_steps=2.5: DQNConfig.total_steps is an int, got 2.5."),
    ("double_dqn=maybe", "--grid double_dqn=maybe: DQNConfig.double_dqn is a bool (true or "
                         "false), got 'maybe'."),
    ("no_such=1", "--grid no_such=1: DQNConfig has no field 'no_such'"),
])
def test_grid_values_of_the_wrong_kind_name_the_field_and_the_flag(grid, message, capsys):
  assert cli.main(["sweep", "dqn", "--env", "Probe1-v0", "--grid", grid]) == 2
  assert f"jaxrl: error: {message}" in capsys.readouterr().err


def test_grid_and_space_values_of_int_fields_read_exact_integers():
  from jaxrl.agents import DQNConfig  # pylint: disable=import-outside-toplevel
  from jaxrl.training import sweeps  # pylint: disable=import-outside-toplevel
  grid = cli._parse_grid(["total_steps=1e5,1.5e3", "learning_rate=1e-3"], DQNConfig())  # pylint: disable=protected-access
  assert grid == {"total_steps": [100_000, 1500], "learning_rate": [1e-3]}
  drawn = sweeps.random_search({"batch_size": sweeps.Range(8, 64, log=True)}, 20, config=DQNConfig())
  assert all(type(s["batch_size"]) is int and 8 <= s["batch_size"] <= 64 for s in drawn)
  with pytest.raises(ValueError, match=r"DQNConfig.batch_size is an int, and the range \[1.2, 1.5\] "
                                       "holds no integer"):
    sweeps.random_search({"batch_size": sweeps.Range(1.2, 1.5)}, 2, config=DQNConfig())


# ------------------------------------------------------------------------------- help

def _help_commands():
  from jaxrl.training import algorithms  # pylint: disable=import-outside-toplevel
  commands = [[], ["solve"], ["solve", "gridworld"], ["solve", "chain"], ["train"], ["sweep"],
              ["resume"], ["repeat"], ["plot"]]
  return commands + [[kind, name] for kind in ("train", "sweep") for name in algorithms.ALGORITHMS]


_MARKUP = re.compile(r"``|:(class|func|meth|mod|data|attr|obj|math|ref|py:[a-z]+):`|`[^`\s][^`]*`_?")


@pytest.mark.parametrize("command", _help_commands(), ids=" ".join)
def test_help_texts_show_no_rest_markup(command, capsys, monkeypatch):
  monkeypatch.setenv("COLUMNS", "400")   # one line per option: a role is never split by wrapping
  with pytest.raises(SystemExit) as exit_info:
    cli.main([*command, "--help"])
  assert exit_info.value.code == 0
  text = capsys.readouterr().out
  assert "usage: jaxrl" in text
  bad = [line.strip() for line in text.splitlines() if _MARKUP.search(line)]
  assert not bad, bad


def test_plain_text_keeps_the_words_of_rest_markup():
  text = ("Fields of :class:`~jaxrl.agents.DQNHyperparams` (:func:`jaxrl.policies.greedy`), "
          "``num_envs * num_steps``, ``\"mlp\"``, `PPO <https://arxiv.org/abs/1707.06347>`_, `x`.")
  assert cli.plain_text(text) == ("Fields of DQNHyperparams (jaxrl.policies.greedy), "
                                  "num_envs * num_steps, \"mlp\", PPO, x.")


@pytest.mark.parametrize("args", [["--help"], ["train", "ppo", "--help"], ["solve", "chain",
                                                                          "--no-save"]])
def test_a_reader_that_stops_early_gets_no_broken_pipe_traceback(args, tmp_path):
  read, write = os.pipe()
  os.close(read)       # like `jaxrl --help | head` once head has exited
  try:
    proc = subprocess.run([sys.executable, "-m", "jaxrl", *args], stdout=write,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
  finally:
    os.close(write)
  assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
  assert proc.returncode == 141


def test_resume_total_steps_extends_a_finished_run(a2c_run, tmp_path, capsys):
  out = tmp_path / "a2c"
  assert a2c_run[0] == 0
  shutil.copytree(a2c_run[1], out)     # test_train_writes_a_complete_run_directory's run
  assert cli.main(["resume", str(out), "--total-steps", "1600", "--progress-interval", "0"]) == 0
  said = capsys.readouterr().out
  assert f"extending {out} from 800 to 1,600 env steps per run" in said
  summary = json.loads((out / "summary.json").read_text())
  assert summary["env_steps_per_run"] == 1_600
  assert "1600" in (out / "metrics.csv").read_text().splitlines()[-1]
  # a schedule over total_steps refuses, by name, and leaves the run as it was
  annealed = tmp_path / "annealed"
  assert cli.main(["train", "a2c", *TINY, "--anneal-lr", "--out", str(annealed)]) == 0
  capsys.readouterr()
  assert cli.main(["resume", str(annealed), "--total-steps", "1600"]) == 2
  err = capsys.readouterr().err
  assert (f"jaxrl: error: cannot extend {annealed} from 800 to 1,600 env steps per run: "
          "A2CConfig.anneal_lr=True anneals the learning rate linearly to 0 at total_steps "
          "(800)") in err
  assert json.loads((annealed / "summary.json").read_text())["env_steps_per_run"] == 800


def test_env_kwargs_reach_the_environment_and_the_saved_config(tmp_path, capsys):
  out = tmp_path / "grid"
  args = ["train", "a2c", "--env", "GridWorld-v0", "--env-kwargs", "discount=0.9", "noise=0",
          *TINY[2:], "--out", str(out)]
  assert cli.main(args) == 0
  captured = capsys.readouterr()
  # the agent's discount (0.99) is not the environment's: one status line, no Python warning
  assert ("warning: A2CConfig.discount 0.99 differs from GridWorld-v0's discount 0.9: q_error "
          "and policy_match measure the distance to Q* at discount 0.9") in captured.out
  assert "DiscountMismatchWarning" not in captured.err
  saved = json.loads((out / "config.json").read_text())
  assert saved["env_kwargs"] == {"discount": 0.9, "noise": 0.0}
  assert cli.main(["repeat", str(out), "--out", str(tmp_path / "again")]) == 0
  assert (tmp_path / "again" / "metrics.csv").read_bytes() == (out / "metrics.csv").read_bytes()


@pytest.mark.parametrize("items, message", [
    (["nois=0.1"], "--env-kwargs nois=0.1: GridWorld-v0 has no environment option 'nois'; its "
                   "options: discount, living_reward, max_steps_in_episode, noise."),
    (["discount"], "--env-kwargs takes NAME=VALUE items, got 'discount'."),
    (["max_steps_in_episode=2.5"], "--env-kwargs max_steps_in_episode=2.5: GridWorld-v0's "
                                   "max_steps_in_episode is an int, and '2.5' is not a whole "
                                   "number"),
    (["discount=high"], "--env-kwargs discount=high: GridWorld-v0's discount is a number, and "
                        "'high' is not a number."),
])
def test_bad_env_kwargs_are_refused(tmp_path, capsys, items, message):
  out = tmp_path / "bad"
  assert cli.main(["train", "dqn", "--env", "GridWorld-v0", "--env-kwargs", *items,
                   "--out", str(out)]) == 2
  assert f"jaxrl: error: {message}" in capsys.readouterr().err
  assert not out.exists()
