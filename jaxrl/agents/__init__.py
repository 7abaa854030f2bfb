"""Agents: each a config plus ``make_train(config, env, env_params) -> train(key)``.

The agents (:mod:`~jaxrl.agents.dqn`, :mod:`~jaxrl.agents.pqn`, :mod:`~jaxrl.agents.a2c`,
:mod:`~jaxrl.agents.ppo`, :mod:`~jaxrl.agents.reinforce`, :mod:`~jaxrl.agents.fqi`,
:mod:`~jaxrl.agents.sac`, :mod:`~jaxrl.agents.td3` with DDPG) never import one another; each is a short composition of the shared parts below them:

* :mod:`~jaxrl.agents.config`: config fields declared once (:func:`~jaxrl.agents.config.option`,
  :func:`~jaxrl.agents.config.hyperparameter`), from which the vmappable hyperparameters and the
  eager checks are generated;
* :mod:`~jaxrl.agents.trainer`: the training skeleton (:class:`Trainer`, a logging interval of
  iterations, typed metric accumulation, scheduled evaluation);
* :mod:`~jaxrl.agents.optimizers`: the optax chain (clipping, Adam/RAdam, annealing, per-group
  scales);
* :mod:`~jaxrl.agents.actors`: a policy network bundled with its action distribution (categorical
  or diagonal Gaussian, :mod:`jaxrl.distributions`) and the map to the environment's actions;
* :mod:`~jaxrl.agents.epochs`: epochs of shuffled minibatches over one rollout (PPO, PQN);
* :mod:`~jaxrl.agents.off_policy`: the replay agents' loop (DQN, SAC, TD3): act, step, store,
  learn on a schedule of the run's iteration index;
* and, below the agents, :mod:`jaxrl.rollouts` (environment steps, the scan rollout, greedy
  evaluation), :mod:`jaxrl.losses`, :mod:`jaxrl.returns`, :mod:`jaxrl.policies`,
  :mod:`jaxrl.networks`, :mod:`jaxrl.buffers`.
"""

from jaxrl.agents import a2c
from jaxrl.agents import actors
from jaxrl.agents import config
from jaxrl.agents import dqn
from jaxrl.agents import epochs
from jaxrl.agents import fqi
from jaxrl.agents import off_policy
from jaxrl.agents import optimizers
from jaxrl.agents import ppo
from jaxrl.agents import pqn
from jaxrl.agents import reinforce
from jaxrl.agents import sac
from jaxrl.agents import td3
from jaxrl.agents import trainer
from jaxrl.agents.a2c import A2CConfig
from jaxrl.agents.a2c import A2CHyperparams
from jaxrl.agents.a2c import A2CState
from jaxrl.agents.config import AgentConfig
from jaxrl.agents.dqn import DQNConfig
from jaxrl.agents.dqn import DQNHyperparams
from jaxrl.agents.dqn import DQNState
from jaxrl.agents.fqi import FQIConfig
from jaxrl.agents.fqi import collect_random_transitions
from jaxrl.agents.fqi import make_fqi
from jaxrl.agents.ppo import PPOConfig
from jaxrl.agents.ppo import PPOHyperparams
from jaxrl.agents.ppo import PPOState
from jaxrl.agents.pqn import PQNConfig
from jaxrl.agents.pqn import PQNHyperparams
from jaxrl.agents.pqn import PQNState
from jaxrl.agents.reinforce import ReinforceConfig
from jaxrl.agents.reinforce import ReinforceHyperparams
from jaxrl.agents.reinforce import ReinforceState
from jaxrl.agents.sac import SACConfig
from jaxrl.agents.sac import SACHyperparams
from jaxrl.agents.sac import SACState
from jaxrl.agents.td3 import DDPGConfig
from jaxrl.agents.td3 import TD3Config
from jaxrl.agents.td3 import TD3Hyperparams
from jaxrl.agents.td3 import TD3State
from jaxrl.agents.trainer import Trainer

__all__ = (
    "A2CConfig",
    "A2CHyperparams",
    "A2CState",
    "AgentConfig",
    "DDPGConfig",
    "DQNConfig",
    "DQNHyperparams",
    "DQNState",
    "FQIConfig",
    "PPOConfig",
    "PPOHyperparams",
    "PPOState",
    "PQNConfig",
    "PQNHyperparams",
    "PQNState",
    "ReinforceConfig",
    "ReinforceHyperparams",
    "ReinforceState",
    "SACConfig",
    "SACHyperparams",
    "SACState",
    "TD3Config",
    "TD3Hyperparams",
    "TD3State",
    "Trainer",
    "a2c",
    "actors",
    "collect_random_transitions",
    "config",
    "dqn",
    "epochs",
    "fqi",
    "make_fqi",
    "off_policy",
    "optimizers",
    "ppo",
    "pqn",
    "reinforce",
    "sac",
    "td3",
    "trainer",
)
