"""Environments with gymnax 1.x's interface: tabular MDPs, probes, wrappers and ``make``."""

from jaxrl.envs.probes import NUM_PROBES
from jaxrl.envs.probes import ContinuousProbe
from jaxrl.envs.probes import MemoryProbe
from jaxrl.envs.probes import continuous_probe
from jaxrl.envs.probes import memory_probe
from jaxrl.envs.probes import probe
from jaxrl.envs.registry import check_env_kwargs
from jaxrl.envs.registry import env_names
from jaxrl.envs.registry import env_options
from jaxrl.envs.registry import make
from jaxrl.envs.registry import make_configured
from jaxrl.envs.registry import suite_names
from jaxrl.envs.options import EnvOption
from jaxrl.envs.suites import MissingSuiteError
from jaxrl.envs.spaces import ActionSpec
from jaxrl.envs.spaces import action_spec
from jaxrl.envs.spaces import episode_limit
from jaxrl.envs.spaces import require_discrete
from jaxrl.envs.tabular import DiscountMismatchWarning
from jaxrl.envs.tabular import QComparison
from jaxrl.envs.tabular import TabularEnv
from jaxrl.envs.tabular import TabularEnvParams
from jaxrl.envs.tabular import TabularEnvState
from jaxrl.envs.tabular import chain_env
from jaxrl.envs.tabular import compare_q_values
from jaxrl.envs.tabular import discount_mismatch
from jaxrl.envs.tabular import exact_q_values
from jaxrl.envs.tabular import from_mdp
from jaxrl.envs.tabular import gridworld_env
from jaxrl.envs.tabular import is_terminal_state
from jaxrl.envs.wrappers import EpisodeStatistics
from jaxrl.envs.wrappers import EpisodeStatisticsState
from jaxrl.envs.wrappers import FrameStack
from jaxrl.envs.wrappers import FrameStackState
from jaxrl.envs.wrappers import MaskObservation
from jaxrl.envs.wrappers import NormalizeObservation
from jaxrl.envs.wrappers import NormalizeObservationState
from jaxrl.envs.wrappers import TimeLimit
from jaxrl.envs.wrappers import TimeLimitState
from jaxrl.envs.wrappers import Wrapper

__all__ = (
    "ActionSpec",
    "ContinuousProbe",
    "DiscountMismatchWarning",
    "EnvOption",
    "EpisodeStatistics",
    "EpisodeStatisticsState",
    "FrameStack",
    "FrameStackState",
    "MaskObservation",
    "MemoryProbe",
    "MissingSuiteError",
    "NUM_PROBES",
    "NormalizeObservation",
    "NormalizeObservationState",
    "QComparison",
    "TabularEnv",
    "TabularEnvParams",
    "TabularEnvState",
    "TimeLimit",
    "TimeLimitState",
    "Wrapper",
    "action_spec",
    "chain_env",
    "check_env_kwargs",
    "continuous_probe",
    "compare_q_values",
    "discount_mismatch",
    "env_names",
    "env_options",
    "episode_limit",
    "exact_q_values",
    "from_mdp",
    "gridworld_env",
    "is_terminal_state",
    "make",
    "make_configured",
    "memory_probe",
    "probe",
    "require_discrete",
    "suite_names",
)
