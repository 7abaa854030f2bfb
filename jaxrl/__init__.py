"""jaxrl: reinforcement learning in JAX, as pure functions compiled end to end."""

from jaxrl import mdp
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
    "gridworld",
    "mdp",
    "policy_evaluation",
    "policy_iteration",
    "q_iteration",
    "value_iteration",
)
