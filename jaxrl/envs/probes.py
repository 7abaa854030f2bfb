"""Probe environments: tiny MDPs whose exact ``Q*`` is known, for debugging an agent piece by piece.

Each probe isolates one part of a value-based agent (after Andy Jones, "Debugging RL, Without the
Agonizing Pain", 2021). They are :class:`~jaxrl.mdp.TabularMDP` s turned into
:class:`~jaxrl.envs.TabularEnv` s, so ``exact_q_values(params)`` gives the answer the agent must
learn, and each episode lasts one or two steps. The observation is ``one_hot(s)``; the last state
of probes 1 to 5 is the terminal one (the agent sees it only as ``info["final_observation"]``).

====== ======= ================================================== ===============================
probe  actions what happens                                       ``Q*`` (``g`` = discount)
====== ======= ================================================== ===============================
1      1       one state, reward +1, terminates                   ``Q(s0) = 1``
2      1       start in s0 or s1 (1/2 each); reward +1 in s0,     ``Q(s0) = 1, Q(s1) = -1``
               -1 in s1; terminates                               (value depends on the obs)
3      1       s0 -> s1 (reward 0) -> end (reward +1)             ``Q(s0) = g, Q(s1) = 1``
                                                                  (tests the discounted backup)
4      2       one state; action 1 pays +1, action 0 pays -1      ``Q(s0) = [-1, 1]``
5      2       start in s0 or s1; +1 when the action equals the   ``Q(s0) = [1, -1]``,
               state's index, -1 otherwise                        ``Q(s1) = [-1, 1]``
6      2       4-cell chain, start in cell 2; left exit (2 cells  ``Q(2) = [2 g, 1]``,
               away) pays 2, right exit (next cell) pays 1        ``Q(1) = [2, g max(2 g, 1)]``:
                                                                  left is best iff ``g > 1/2``
====== ======= ================================================== ===============================

A failure localises the bug: 1 the value loss or optimiser; 2 the network's use of the
observation; 3 discounting or the bootstrap (and termination masking); 4 the action selection
in the loss; 5 the two together; 6 whether the agent's discount is the one it was given.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment
from gymnax.environments import spaces

from jaxrl import validation
from jaxrl.envs.tabular import TabularEnv
from jaxrl.envs.tabular import TabularEnvParams
from jaxrl.envs.tabular import from_mdp
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import chain

__all__ = (
    "ContinuousProbe",
    "ContinuousProbeParams",
    "ContinuousProbeState",
    "NUM_PROBES",
    "continuous_probe",
    "probe",
)


#: Probes are numbered 1 .. NUM_PROBES.
NUM_PROBES = 6


def _episodic(num_live: int, num_actions: int, next_state, rewards, discount) -> TabularMDP:
  """An MDP with ``num_live`` states plus one terminal state (index ``num_live``).

  ``next_state[s]`` is where every action from live state ``s`` leads; ``rewards[s][a]``.
  """
  num_states = num_live + 1
  p = np.zeros((num_states, num_actions, num_states), np.float32)
  for s in range(num_live):
    p[s, :, next_state[s]] = 1.0
  p[num_live, :, num_live] = 1.0
  r = np.zeros((num_states, num_actions), np.float32)
  r[:num_live] = np.asarray(rewards, np.float32).reshape(num_live, num_actions)
  return TabularMDP(p, r, np.float32(discount))


def probe(n: int, *, discount: float = 0.99,
          max_steps_in_episode: int = 10) -> tuple[TabularEnv, TabularEnvParams]:
  """Probe environment ``n`` (1 to 6, see the module docstring) as ``(env, params)``.

  Args:
    n: which probe.
    discount: the MDP's discount (what ``exact_q_values`` uses; the agent should use the same).
      Probes 3 and 6 depend on it; 6 changes its best first action at ``discount = 0.5``.
    max_steps_in_episode: time limit (episodes last at most two steps, so it never binds unless
      set to 1 on probes 3 or 6).

  Returns:
    ``(env, params)``; ``env.name`` is ``f"Probe{n}-v0"``.

  Raises:
    ValueError: ``n`` outside 1..6, a discount outside [0, 1], a bad time limit.
  """
  try:
    n = validation.check_int("probe number", n, minimum=1, maximum=NUM_PROBES)
  except ValueError:
    raise ValueError(f"probe number must be an int in 1..{NUM_PROBES}, got {n!r}.") from None
  validation.check_scalar("discount", discount, validation.UNIT_INTERVAL)
  name = f"Probe{n}-v0"
  kwargs = dict(max_steps_in_episode=max_steps_in_episode, name=name)
  if n == 1:
    mdp = _episodic(1, 1, [1], [[1.0]], discount)
    return from_mdp(mdp, initial_state=0, **kwargs)
  if n == 2:
    mdp = _episodic(2, 1, [2, 2], [[1.0], [-1.0]], discount)
    return from_mdp(mdp, initial_distribution=[0.5, 0.5, 0.0], **kwargs)
  if n == 3:
    mdp = _episodic(2, 1, [1, 2], [[0.0], [1.0]], discount)
    return from_mdp(mdp, initial_state=0, **kwargs)
  if n == 4:
    mdp = _episodic(1, 2, [1], [[-1.0, 1.0]], discount)
    return from_mdp(mdp, initial_state=0, **kwargs)
  if n == 5:
    mdp = _episodic(2, 2, [2, 2], [[1.0, -1.0], [-1.0, 1.0]], discount)
    return from_mdp(mdp, initial_distribution=[0.5, 0.5, 0.0], **kwargs)
  mdp = chain(4, far_reward=2.0, near_reward=1.0, discount=float(discount))
  return from_mdp(mdp, initial_state=2, **kwargs)


# ------------------------------------------------------------------------------------------------
# A continuous-action probe
# ------------------------------------------------------------------------------------------------
@struct.dataclass
class ContinuousProbeState(environment.EnvState):
  """State of :class:`ContinuousProbe`: the context ``c`` (int32 ``[]``) drawn at reset."""

  c: jax.Array


@struct.dataclass
class ContinuousProbeParams:
  """Numbers of :class:`ContinuousProbe`.

  Attributes:
    targets: float32 ``[K]`` the best action in each of the ``K`` contexts.
    max_steps_in_episode: 1 (every episode is one step).
  """

  targets: jax.Array
  max_steps_in_episode: int = 1


class ContinuousProbe(environment.Environment):
  """A one-step continuous bandit whose optimal action is known: the probe for Gaussian policies.

  Each episode draws a context ``c`` uniformly from ``K`` and shows ``one_hot(c)``; the agent
  answers with one real action ``a`` in ``[-3, 3]`` and receives ``r = -(a - targets[c])^2``,
  and the episode terminates. The optimal (greedy) action in context ``c`` is ``targets[c]``
  (in ``[-1, 1]``), with return 0; a Gaussian policy with mean ``mu(c)`` and scale ``sigma``
  earns ``-(mu(c) - targets[c])^2 - sigma^2`` on average while ``sigma`` is small against the
  distance to the bounds (the bounds are wide so that clipping, which rewards pushing a wide
  Gaussian's mean past a near bound, does not move the optimum). Register name
  ``"ContinuousProbe-v0"``.
  """

  def __init__(self, num_contexts: int = 2):
    super().__init__()
    self._k = validation.check_int("num_contexts", num_contexts, minimum=1)

  def __eq__(self, other):
    return type(other) is type(self) and other._k == self._k

  def __hash__(self):
    return hash((type(self), self._k))

  @property
  def name(self) -> str:
    return "ContinuousProbe-v0"

  @property
  def num_actions(self) -> int:
    return 1

  @property
  def default_params(self) -> ContinuousProbeParams:
    return ContinuousProbeParams(targets=jnp.linspace(-0.5, 0.5, self._k, dtype=jnp.float32))

  def step_env(self, key, state: ContinuousProbeState, action, params: ContinuousProbeParams):
    del key
    a = jnp.asarray(action, jnp.float32).reshape(())
    reward = -jnp.square(a - params.targets[state.c])
    state = ContinuousProbeState(time=state.time + 1, c=state.c)
    return self.get_obs(state), state, reward, jnp.bool_(True), {}

  def reset_env(self, key, params: ContinuousProbeParams):
    del params
    c = jax.random.randint(key, (), 0, self._k, dtype=jnp.int32)
    state = ContinuousProbeState(time=jnp.zeros((), jnp.int32), c=c)
    return self.get_obs(state), state

  def get_obs(self, state: ContinuousProbeState, params=None, key=None) -> jax.Array:
    del params, key
    return jax.nn.one_hot(state.c, self._k, dtype=jnp.float32)

  def is_terminal(self, state, params) -> jax.Array:
    return state.time >= 1

  def is_terminated(self, state, params) -> jax.Array:
    return state.time >= 1

  def is_truncated(self, state, params) -> jax.Array:
    return jnp.bool_(False)

  def action_space(self, params=None) -> spaces.Box:
    return spaces.Box(-3.0, 3.0, (1,), jnp.float32)

  def observation_space(self, params=None) -> spaces.Box:
    return spaces.Box(0.0, 1.0, (self._k,), jnp.float32)


def continuous_probe(num_contexts: int = 2,
                     targets=None) -> tuple[ContinuousProbe, ContinuousProbeParams]:
  """The :class:`ContinuousProbe` with ``targets`` (default: evenly spaced in ``[-0.5, 0.5]``)."""
  env = ContinuousProbe(num_contexts)
  if targets is None:
    return env, env.default_params
  targets = np.asarray(targets, np.float32)
  if targets.shape != (env._k,) or not np.all(np.abs(targets) <= 1.0):  # pylint: disable=protected-access
    raise ValueError(f"targets must be {num_contexts} numbers in [-1, 1], got {targets.tolist()}.")
  return env, ContinuousProbeParams(targets=jnp.asarray(targets))
