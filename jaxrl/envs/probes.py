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

Two probes are not tabular: :class:`ContinuousProbe` (a one-step continuous bandit, for Gaussian
policies) and :class:`MemoryProbe` (a cue to remember across blank steps, for recurrent agents:
every memoryless policy's expected return is exactly 0, the optimum +1).
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
    "MemoryProbe",
    "MemoryProbeParams",
    "MemoryProbeState",
    "NUM_PROBES",
    "continuous_probe",
    "memory_probe",
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


# ------------------------------------------------------------------------------------------------
# A memory probe
# ------------------------------------------------------------------------------------------------
@struct.dataclass
class MemoryProbeState(environment.EnvState):
  """State of :class:`MemoryProbe`: ``time`` (int32 ``[]``, steps taken in this episode) and the
  cue ``c`` (int32 ``[]``, 0 or 1) drawn at reset."""

  c: jax.Array


@struct.dataclass
class MemoryProbeParams:
  """Numbers of :class:`MemoryProbe`.

  Attributes:
    max_steps_in_episode: ``delay + 2``, the length of every episode (a smaller value truncates
      episodes before their query; :func:`memory_probe` never sets one).
  """

  max_steps_in_episode: int = 4


class MemoryProbe(environment.Environment):
  """Remember a cue across ``delay`` blank steps: the probe for an agent's memory.

  An episode lasts ``delay + 2`` steps, ``t = 0 .. delay + 1``. At reset a cue ``c`` is drawn
  uniformly from ``{0, 1}``; the observation ``o_t`` (float32 ``[3]``) is

      o(0)          = [1 - c, c, 0]    the cue, one-hot (the only step that shows it)
      o(t)          = [0, 0, 0]        t = 1 .. delay
      o(delay + 1)  = [0, 0, 1]        the query: the flag (entry 2) is 1 here only

  (with ``delay = 0`` the query follows the cue at once). There are two actions; the reward is 0
  for every action before the query, and at the query ``r = +1`` if ``a = c``, ``-1`` otherwise;
  the episode then terminates (the final observation is ``[0, 0, 0]``). The optimal return is +1,
  reached by remembering the first observation.

  Any memoryless policy ``pi(a | o)`` (feed-forward, deterministic or stochastic) has expected
  return exactly 0: its query observation ``[0, 0, 1]`` is the same for both cues, so its answer
  ``a`` is independent of ``c``, and with ``P(c = 0) = P(c = 1) = 1/2``,

      P(a = c) = (pi(0 | query) + pi(1 | query)) / 2 = 1/2,
      E[return] = P(a = c) - P(a != c) = 0.

  A return above 0 therefore measures memory and nothing else, and the ``delay`` blank steps
  check that the memory survives uninformative inputs. bsuite's memory-length experiment (Osband
  et al., 2020, "Behaviour Suite for Reinforcement Learning") tests the same thing; gymnax's port
  of it is ``"MemoryChain-bsuite"``. Register name ``"MemoryProbe-v0"`` (option ``delay``).

  Args:
    delay: blank steps between the cue and the query, an int ``>= 0``.
  """

  def __init__(self, delay: int = 2):
    super().__init__()
    self._delay = validation.check_int("MemoryProbe delay", delay, minimum=0)

  def __eq__(self, other):
    return type(other) is type(self) and other._delay == self._delay

  def __hash__(self):
    return hash((type(self), self._delay))

  def __repr__(self):
    return f"MemoryProbe(delay={self._delay})"

  @property
  def delay(self) -> int:
    """Blank steps between the cue and the query."""
    return self._delay

  @property
  def episode_length(self) -> int:
    """``delay + 2``: the steps of every episode."""
    return self._delay + 2

  @property
  def name(self) -> str:
    return "MemoryProbe-v0"

  @property
  def num_actions(self) -> int:
    return 2

  @property
  def default_params(self) -> MemoryProbeParams:
    return MemoryProbeParams(max_steps_in_episode=self.episode_length)

  def step_env(self, key, state: MemoryProbeState, action, params: MemoryProbeParams):
    del key, params
    is_query = state.time == self._delay + 1
    correct = jnp.asarray(action, jnp.int32).reshape(()) == state.c
    reward = jnp.where(is_query, jnp.where(correct, 1.0, -1.0), 0.0).astype(jnp.float32)
    state = MemoryProbeState(time=state.time + 1, c=state.c)
    return self.get_obs(state), state, reward, self.is_terminated(state, None), {}

  def reset_env(self, key, params: MemoryProbeParams):
    del params
    c = jax.random.randint(key, (), 0, 2, dtype=jnp.int32)
    state = MemoryProbeState(time=jnp.zeros((), jnp.int32), c=c)
    return self.get_obs(state), state

  def get_obs(self, state: MemoryProbeState, params=None, key=None) -> jax.Array:
    del params, key
    cue = jax.nn.one_hot(state.c, 2, dtype=jnp.float32) * (state.time == 0)
    query = (state.time == self._delay + 1).astype(jnp.float32)
    return jnp.concatenate([cue, query[None]])

  def is_terminal(self, state, params) -> jax.Array:
    return self.is_terminated(state, params)

  def is_terminated(self, state, params) -> jax.Array:
    del params
    return state.time >= self.episode_length

  def is_truncated(self, state, params) -> jax.Array:
    return jnp.logical_and(state.time >= params.max_steps_in_episode,
                           ~self.is_terminated(state, params))

  def action_space(self, params=None) -> spaces.Discrete:
    return spaces.Discrete(2)

  def observation_space(self, params=None) -> spaces.Box:
    return spaces.Box(0.0, 1.0, (3,), jnp.float32)


def memory_probe(delay: int = 2) -> tuple[MemoryProbe, MemoryProbeParams]:
  """The :class:`MemoryProbe` with ``delay`` blank steps between the cue and the query, as
  ``(env, params)``: episodes of ``delay + 2`` steps, optimal return +1, and exactly 0 expected
  return for every memoryless policy (see :class:`MemoryProbe`).

  Raises:
    ValueError: ``delay`` not an int ``>= 0``.
  """
  env = MemoryProbe(delay)
  return env, env.default_params
