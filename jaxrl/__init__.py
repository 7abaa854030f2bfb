"""jaxrl: reinforcement learning in JAX, as pure functions compiled end to end."""

from jaxrl import agents
from jaxrl import buffers
from jaxrl import envs
from jaxrl import losses
from jaxrl import mdp
from jaxrl import networks
from jaxrl import policies
from jaxrl import returns
from jaxrl import rollouts
from jaxrl import training
from jaxrl.mdp import Solution
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import gridworld
from jaxrl.mdp import policy_evaluation
from jaxrl.mdp import policy_iteration
from jaxrl.mdp import q_iteration
from jaxrl.mdp import value_iteration

__version__ = "0.1.0"

__all__ = (
    "Solution",
    "TabularMDP",
    "agents",
    "buffers",
    "envs",
    "gridworld",
    "losses",
    "mdp",
    "networks",
    "policies",
    "policy_evaluation",
    "policy_iteration",
    "q_iteration",
    "returns",
    "rollouts",
    "training",
    "value_iteration",
)
