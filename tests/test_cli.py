"""The `jaxrl` command line, end to end on tiny problems."""

import pytest

from jaxrl import cli


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
  patient = capsys.readouterr().out.splitlines()[-1]
  assert cli.main(["solve", "chain", "--discount", "0.1"]) == 0
  impatient = capsys.readouterr().out.splitlines()[-1]
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
