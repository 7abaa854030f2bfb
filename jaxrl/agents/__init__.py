"""Agents: each a config plus ``make_train(config, env, env_params) -> train(key)``."""

from jaxrl.agents import a2c
from jaxrl.agents import dqn
from jaxrl.agents import fqi
from jaxrl.agents import reinforce
from jaxrl.agents.a2c import A2CConfig
from jaxrl.agents.a2c import A2CHyperparams
from jaxrl.agents.a2c import A2CState
from jaxrl.agents.dqn import DQNConfig
from jaxrl.agents.dqn import DQNHyperparams
from jaxrl.agents.dqn import DQNState
from jaxrl.agents.fqi import FQIConfig
from jaxrl.agents.fqi import collect_random_transitions
from jaxrl.agents.fqi import make_fqi
from jaxrl.agents.reinforce import ReinforceConfig
from jaxrl.agents.reinforce import ReinforceHyperparams
from jaxrl.agents.reinforce import ReinforceState
from jaxrl.agents.trainer import Trainer

__all__ = (
    "A2CConfig",
    "A2CHyperparams",
    "A2CState",
    "DQNConfig",
    "DQNHyperparams",
    "DQNState",
    "FQIConfig",
    "collect_random_transitions",
    "dqn",
    "fqi",
    "make_fqi",
    "ReinforceConfig",
    "ReinforceHyperparams",
    "ReinforceState",
    "Trainer",
    "a2c",
    "reinforce",
)
