"""Environment options in a RunSpec (saved, reloaded) and the discount-mismatch warning."""

import json

import pytest

from jaxrl import envs
from jaxrl import training
from jaxrl.agents import DQNConfig

CFG = DQNConfig(total_steps=400, num_envs=4, log_every=200, eval_every=200, learning_starts=100,
                buffer_size=500, batch_size=16, hidden_sizes=(8,), updates_per_step=1.0)


def test_env_kwargs_are_saved_only_when_given():
  plain = training.RunSpec("dqn", CFG, env="Probe3-v0")
  assert "env_kwargs" not in plain.to_dict()     # earlier runs keep their fingerprints
  spec = training.RunSpec("dqn", CFG, env="Probe3-v0", env_kwargs={"discount": 0.5})
  assert spec.to_dict()["env_kwargs"] == {"discount": 0.5}
  assert training.RunSpec.from_dict(spec.to_dict()) == spec
  assert spec.fingerprint() != plain.fingerprint()


def test_unknown_env_kwargs_are_refused_before_compiling():
  spec = training.RunSpec("dqn", CFG, env="Probe3-v0", env_kwargs={"gamma": 0.5})
  with pytest.raises(ValueError, match=r"Probe3-v0 has no environment option\(s\) \['gamma'\]; "
                                       r"its options: discount, max_steps_in_episode\."):
    training.check(spec)


def test_a_setting_whose_discount_differs_is_warned_about(tmp_path):
  # probe 3's discount is 0.99; the second setting's 0.9 measures q_error against another Q*
  spec = training.RunSpec("dqn", CFG, env="Probe3-v0",
                          settings=({"discount": 0.99}, {"discount": 0.9}))
  said = []
  with pytest.warns(envs.DiscountMismatchWarning,
                    match=r"DQNConfig.discount 0.9 differs from Probe3-v0's discount 0.99"):
    training.run(spec, tmp_path / "run", progress=False, log=said.append, write_plot=False)
  assert said[0].startswith("warning: DQNConfig.discount 0.9 differs")
  assert json.loads((tmp_path / "run" / "config.json").read_text())["env"] == "Probe3-v0"

