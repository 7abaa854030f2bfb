"""Tabular MDPs as arrays, and exact solvers as pure functions."""

from jaxrl.mdp.bellman import bellman_expectation
from jaxrl.mdp.bellman import bellman_optimality
from jaxrl.mdp.bellman import bellman_q_optimality
from jaxrl.mdp.bellman import expected_next_values
from jaxrl.mdp.bellman import expected_rewards
from jaxrl.mdp.bellman import greedy_policy
from jaxrl.mdp.bellman import policy_probabilities
from jaxrl.mdp.bellman import policy_transitions
from jaxrl.mdp.bellman import q_from_values
from jaxrl.mdp.bellman import terminal_states
from jaxrl.mdp.builders import ACTIONS
from jaxrl.mdp.builders import ARROWS
from jaxrl.mdp.builders import DEFAULT_LAYOUT
from jaxrl.mdp.builders import GridWorld
from jaxrl.mdp.builders import chain
from jaxrl.mdp.builders import from_mdptoolbox
from jaxrl.mdp.builders import gridworld
from jaxrl.mdp.builders import gridworld_layout
from jaxrl.mdp.builders import random_mdp
from jaxrl.mdp.core import SparseTransitions
from jaxrl.mdp.core import TabularMDP
from jaxrl.mdp.core import check_traced
from jaxrl.mdp.core import to_dense
from jaxrl.mdp.core import validity
from jaxrl.mdp.solvers import Evaluation
from jaxrl.mdp.solvers import Solution
from jaxrl.mdp.solvers import policy_evaluation
from jaxrl.mdp.solvers import policy_iteration
from jaxrl.mdp.solvers import proper_policy
from jaxrl.mdp.solvers import q_iteration
from jaxrl.mdp.solvers import value_iteration

__all__ = (
    "ACTIONS",
    "ARROWS",
    "DEFAULT_LAYOUT",
    "Evaluation",
    "GridWorld",
    "Solution",
    "SparseTransitions",
    "TabularMDP",
    "bellman_expectation",
    "bellman_optimality",
    "bellman_q_optimality",
    "chain",
    "check_traced",
    "expected_next_values",
    "expected_rewards",
    "from_mdptoolbox",
    "greedy_policy",
    "gridworld",
    "gridworld_layout",
    "policy_evaluation",
    "policy_iteration",
    "policy_probabilities",
    "policy_transitions",
    "proper_policy",
    "q_from_values",
    "q_iteration",
    "random_mdp",
    "terminal_states",
    "to_dense",
    "validity",
    "value_iteration",
)
