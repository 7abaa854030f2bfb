"""Agents: each a config plus ``make_train(config, env, env_params) -> train(key)``."""

from jaxrl.agents import dqn
from jaxrl.agents import fqi
from jaxrl.agents.dqn import DQNConfig
from jaxrl.agents.dqn import DQNHyperparams
from jaxrl.agents.dqn import DQNState
from jaxrl.agents.fqi import FQIConfig
from jaxrl.agents.fqi import collect_random_transitions
from jaxrl.agents.fqi import make_fqi

__all__ = (
    "DQNConfig",
    "DQNHyperparams",
    "DQNState",
    "FQIConfig",
    "collect_random_transitions",
    "dqn",
    "fqi",
    "make_fqi",
)
