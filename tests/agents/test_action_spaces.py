"""Every agent reads its environment's action space before compiling, and refuses what it cannot use.

Value-based agents (DQN, PQN, FQI) need ``Discrete``: on a continuous ``Box`` (Pendulum-v1,
MountainCarContinuous-v0) they name the agents that take continuous actions. Every agent refuses
spaces no agent takes (``Dict``, ``Tuple``, a ``Box`` that is not a vector), naming itself.
"""

import re

import jax
import pytest
from gymnax.environments import spaces

from jaxrl import cli, envs
from jaxrl.agents import a2c, dqn, fqi, ppo, pqn, reinforce
from jaxrl.envs import wrappers


class _ActionSpace(wrappers.Wrapper):
  """CartPole with another action space (the agents must refuse before stepping it)."""

  def __init__(self, env, space):
    super().__init__(env)
    self._space = space

  def action_space(self, params=None):
    return self._space


def _fqi_collect(config, env, params):
  del config
  return fqi.collect_random_transitions(jax.random.PRNGKey(0), env, params, num_steps=2)


VALUE_BASED = {
    "DQN": lambda e, p: dqn.make_train(dqn.DQNConfig(), e, p),
    "PQN": lambda e, p: pqn.make_train(pqn.PQNConfig(), e, p),
    "FQI": lambda e, p: fqi.make_fqi(fqi.FQIConfig(), e, p),
    "FQI (collect_random_transitions)": lambda e, p: _fqi_collect(None, e, p),
}
POLICY_GRADIENT = {
    "A2C": lambda e, p: a2c.make_train(a2c.A2CConfig(), e, p),
    "PPO": lambda e, p: ppo.make_train(ppo.PPOConfig(total_steps=10_240), e, p),
    "REINFORCE": lambda e, p: reinforce.make_train(reinforce.ReinforceConfig(), e, p),
}


@pytest.mark.parametrize("env_name", ["Pendulum-v1", "MountainCarContinuous-v0"])
@pytest.mark.parametrize("agent", sorted(VALUE_BASED))
def test_value_based_agents_refuse_continuous_actions_naming_the_alternatives(agent, env_name):
  env, params = envs.make(env_name)
  with pytest.raises(ValueError, match="^" + re.escape(agent) + rf" needs a discrete action "
                                       rf"space, and {env_name} has a continuous Box .*use ppo, "
                                       r"a2c, reinforce, sac, td3 or ddpg"):
    VALUE_BASED[agent](env, params)


@pytest.mark.parametrize("agent", sorted(POLICY_GRADIENT))
def test_policy_gradient_agents_take_continuous_actions(agent):
  env, params = envs.make("Pendulum-v1")
  assert POLICY_GRADIENT[agent](env, params) is not None


_BAD_SPACES = {
    "Dict": spaces.Dict({"a": spaces.Discrete(2)}),
    "Tuple": spaces.Tuple([spaces.Discrete(2), spaces.Discrete(3)]),
    "Box [2, 2]": spaces.Box(-1.0, 1.0, (2, 2)),
}


@pytest.mark.parametrize("space", sorted(_BAD_SPACES))
@pytest.mark.parametrize("agent", sorted({**VALUE_BASED, **POLICY_GRADIENT}))
def test_every_agent_refuses_a_space_it_cannot_use_naming_itself(agent, space):
  base, params = envs.make("CartPole-v1")
  env = _ActionSpace(base, _BAD_SPACES[space])
  make = {**VALUE_BASED, **POLICY_GRADIENT}[agent]
  kind = space.split()[0]
  with pytest.raises(ValueError, match=rf"^{agent.split()[0]}.*{kind}"):
    make(env, params)


@pytest.mark.parametrize("algorithm", ["dqn", "pqn"])
@pytest.mark.parametrize("env_name", ["Pendulum-v1", "MountainCarContinuous-v0"])
def test_the_command_line_refuses_continuous_actions_for_value_based_agents(
    algorithm, env_name, tmp_path, capsys):
  out = tmp_path / "never"
  assert cli.main(["train", algorithm, "--env", env_name, "--out", str(out)]) == 2
  err = capsys.readouterr().err
  assert err.startswith(f"jaxrl: error: {algorithm.upper()} needs a discrete action space, and "
                        f"{env_name} has a continuous Box"), err
  assert "use ppo, a2c, reinforce, sac, td3 or ddpg" in err
  assert not out.exists()
