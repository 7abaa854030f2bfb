"""A suite's environment through everything a gymnax one goes through: the driver's checkpoints
and bitwise resume, ``repeat`` from the saved config, the CLI with --env-kwargs, and refusals.

One tiny PPO on ``navix:Navix-Empty-Random-5x5-v0`` (random starts: a resume that lost the
environment's state or keys would show).
"""

import json

import jax
import numpy as np
import pytest

from jaxrl import cli
from jaxrl import training
from jaxrl.agents import PPOConfig

ENV = "navix:Navix-Empty-Random-5x5-v0"
CONFIG = PPOConfig(total_steps=1_024, num_envs=4, num_steps=16, num_epochs=1, num_minibatches=2,
                   hidden_sizes=(8,), log_every=256, eval_every=512, eval_episodes=2)
SPEC = training.RunSpec("ppo", CONFIG, env=ENV, num_seeds=2, seed=1, checkpoint_every=512,
                        env_kwargs={"max_steps": 12})


def _leaves(state):
  return jax.tree.leaves(jax.tree.map(np.asarray, state))


def test_a_suite_run_checkpoints_and_resumes_bitwise(tmp_path):
  straight = training.run(SPEC, tmp_path / "straight", progress=False, log=None)
  saved = json.loads((tmp_path / "straight" / "config.json").read_text())
  assert saved["env"] == ENV and saved["env_kwargs"] == {"max_steps": 12}
  with pytest.raises(training.Interrupted):
    training.run(SPEC, tmp_path / "resumed", progress=False, log=None, stop_after_chunks=1)
  resumed = training.resume(tmp_path / "resumed", progress=False, log=None)
  assert training.load_spec(tmp_path / "straight") == SPEC     # what `jaxrl repeat` runs
  for k in straight.metrics:
    np.testing.assert_array_equal(np.asarray(resumed.metrics[k]), np.asarray(straight.metrics[k]))
  for a, b in zip(_leaves(resumed.final_state), _leaves(straight.final_state), strict=True):
    np.testing.assert_array_equal(a, b)
  # the time limit came through --env-kwargs: no episode is longer than 12 steps
  lengths = np.asarray(straight.metrics["episode_length"])
  assert lengths.max() <= 12 and np.isfinite(straight.metrics["loss"]).all()


@pytest.mark.parametrize("args, message", [
    (["--env-kwargs", "max_steps=0"], f"{ENV}'s max_steps must be at least 1, got 0."),
    (["--env-kwargs", "max_steps=2.5"], "max_steps is an int"),
    (["--env-kwargs", "observation=pixels"], "must be one of ('symbolic',"),
    (["--env-kwargs", "speed=3"], "has no environment option 'speed'; its options: max_steps"),
])
def test_the_cli_refuses_bad_suite_options_before_compiling(args, message, tmp_path, capsys):
  code = cli.main(["train", "ppo", "--env", ENV, "--out", str(tmp_path / "r"), *args])
  assert code == 2
  assert message in capsys.readouterr().err
  assert not (tmp_path / "r").exists()


def test_the_cli_refuses_unknown_suites_and_names(tmp_path, capsys):
  for env, message in (("brux:ant", "unknown environment suite 'brux'"),
                       ("navix:Navix-Empty-5x5-v9", "Did you mean 'navix:Navix-Empty-5x5-v0'")):
    assert cli.main(["train", "ppo", "--env", env, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
