"""Any :class:`~jaxrl.mdp.TabularMDP` as a gymnax 1.x environment, with its exact answers at hand.

The environment samples the MDP: from state ``s`` and action ``a`` it draws
``s' ~ P(. | s, a)`` and pays ``r(s, a, s')`` (per-transition rewards) or ``r(s, a)``. The agent
sees ``one_hot(s)`` (float32 ``[S]``). An episode *terminates* when ``s'`` is a terminal state of
the MDP (absorbing with zero reward, :func:`jaxrl.mdp.terminal_states`: the exits of a grid world
or chain) and is *truncated* when it reaches ``max_steps_in_episode`` steps without terminating.
gymnax's ``Environment.step`` auto-resets after either and puts the observation of ``s'`` in
``info["final_observation"]``.

Comparing an agent with the exact solution. :func:`exact_q_values` runs
:func:`jaxrl.mdp.q_iteration` on ``params.mdp``. Those are the values of the discounted return
with the MDP's own discount ``params.mdp.discount``, so an agent's discount must equal it for
its Q-values to be comparable (``float(params.mdp.discount)``). On truncation the agent should
bootstrap from ``info["final_observation"]``; then time limits do not bias the fixed point and the
learned Q converges to ``Q*``. A network's Q-values for every state are ``q_network(eye(S))``
because observation ``s`` is row ``s`` of the identity; :func:`compare_q_values` reports how far
they and their greedy policy are from the exact ones.

Static vs. traced. The instance holds only ``num_states``, ``num_actions``, a name and the default
params (compared by content), so it is hashable and two instances built from the same MDP share
compiled code. Everything numeric is in :class:`TabularEnvParams`, a pytree: ``jax.vmap`` over
params runs a batch of MDPs of the same size (e.g. a sweep over discounts or noise).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment
from gymnax.environments import spaces

from jaxrl import validation
from jaxrl.mdp import GridWorld
from jaxrl.mdp import SparseTransitions
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import chain
from jaxrl.mdp import gridworld
from jaxrl.mdp import q_iteration
from jaxrl.mdp import terminal_states

__all__ = (
    "ABSORBING_ATOL",
    "DISTRIBUTION_ATOL",
    "DiscountMismatchWarning",
    "QComparison",
    "TabularEnv",
    "TabularEnvParams",
    "TabularEnvState",
    "chain_env",
    "compare_q_values",
    "discount_mismatch",
    "exact_q_values",
    "from_mdp",
    "gridworld_env",
    "is_terminal_state",
)


Array = chex.Array

#: Tolerance on ``|sum(initial_distribution) - 1|`` accepted by :func:`from_mdp`.
DISTRIBUTION_ATOL = 1e-5
#: A state is absorbing when it stays put with probability ``>= 1 - ABSORBING_ATOL`` under every
#: action; the same test as :func:`jaxrl.mdp.terminal_states`.
ABSORBING_ATOL = 1e-6


@struct.dataclass
class TabularEnvState(environment.EnvState):
  """State of a :class:`TabularEnv` (add leading ``[B]`` axes under ``vmap``).

  Attributes:
    time: int32 ``[]`` steps taken in the current episode.
    s: int32 ``[]`` the MDP state.
  """

  s: jax.Array


@struct.dataclass
class TabularEnvParams:
  """Numbers of a :class:`TabularEnv`: a pytree, so ``jax.vmap`` over it runs a batch of MDPs.

  Attributes:
    mdp: a single (unbatched) :class:`~jaxrl.mdp.TabularMDP` with ``S`` states and ``A`` actions.
    initial_distribution: float ``[S]`` probabilities of the first state of an episode; zero on
      terminal states.
    max_steps_in_episode: int32 ``[]`` time limit; an episode that reaches it without
      terminating is truncated.
  """

  mdp: TabularMDP
  initial_distribution: jax.Array
  max_steps_in_episode: jax.Array


def _digest(tree) -> str | None:
  """A content hash of a pytree of concrete arrays (so equal MDPs give equal environments)."""
  if tree is None:
    return None
  leaves, treedef = jax.tree.flatten(tree)
  h = hashlib.sha256(str(treedef).encode())
  for leaf in leaves:
    a = np.asarray(leaf)
    h.update(f"{a.shape}{a.dtype}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
  return h.hexdigest()


def is_terminal_state(mdp: TabularMDP, s: Array) -> Array:
  """Whether state ``s`` is terminal (absorbing with zero reward), in ``O(A * S)`` work.

  Equals ``terminal_states(mdp)[s]`` without computing every state's flag. ``s`` int ``[]``;
  returns bool ``[]``.
  """
  t = mdp.transitions
  rewards = mdp.rewards[s]  # [A] or [A, S'] / [A, K]
  if isinstance(t, SparseTransitions):
    probs = t.probs[s]  # [A, K]
    stay = jnp.sum(jnp.where(t.indices[s] == s, probs, 0.0), axis=-1)
  else:
    probs = t[s]  # [A, S']
    stay = probs[:, s]
  if rewards.ndim == probs.ndim:
    rewards = jnp.sum(probs * rewards, axis=-1)
  return jnp.all((stay >= 1.0 - ABSORBING_ATOL) & (rewards == 0.0))


class TabularEnv(environment.Environment[TabularEnvState, TabularEnvParams]):
  """A :class:`~jaxrl.mdp.TabularMDP` as a gymnax environment (see the module docstring).

  Build one with :func:`from_mdp` (or :func:`gridworld_env`, :func:`chain_env`,
  :func:`jaxrl.envs.probe`), which validates the MDP and start distribution and returns
  ``(env, params)``.

  Transition, for ``s = state.s`` and action ``a``:

      s' ~ P(. | s, a)    (sparse: k ~ probs[s, a], s' = indices[s, a, k])
      r  = r(s, a, s')    (per-transition rewards; sparse: r[s, a, k]) or r(s, a)
      terminated = s' is terminal;  truncated = time + 1 >= max_steps_in_episode and not terminated

  ``step`` consumes its key once (split into a transition key and a reset key by gymnax);
  ``reset`` consumes its key to draw ``s_0 ~ initial_distribution``. Actions outside
  ``[0, A)`` are not checked inside ``jit`` (JAX clamps the index).

  Attributes:
    num_states: ``S`` (static).
    num_actions: ``A`` (static).
    default_params: the params the factory built (gymnax's ``params=None`` uses them).
  """

  def __init__(self, num_states: int, num_actions: int, *,
               default_params: TabularEnvParams | None = None, name: str = "TabularEnv"):
    super().__init__()
    if num_states < 1 or num_actions < 1:
      raise ValueError(f"TabularEnv needs num_states, num_actions >= 1, got {num_states}, "
                       f"{num_actions}.")
    self._num_states = int(num_states)
    self._num_actions = int(num_actions)
    self._default_params = default_params
    self._name = str(name)
    self._params_digest = _digest(default_params)

  # Identity: static structure plus the default params' content ---------------------------------
  def _key(self):
    return (type(self), self._num_states, self._num_actions, self._name, self._params_digest)

  def __eq__(self, other):
    return isinstance(other, TabularEnv) and self._key() == other._key()

  def __hash__(self):
    return hash(self._key())

  def __repr__(self):
    return f"TabularEnv({self._name!r}, num_states={self._num_states}, num_actions={self._num_actions})"

  # Static structure ------------------------------------------------------------------------------
  @property
  def name(self) -> str:
    return self._name

  @property
  def num_states(self) -> int:
    return self._num_states

  @property
  def num_actions(self) -> int:
    return self._num_actions

  @property
  def default_params(self) -> TabularEnvParams:
    if self._default_params is None:
      raise ValueError(f"{self!r} was built without default params; pass params explicitly "
                       "(from_mdp returns them).")
    return self._default_params

  # gymnax hooks ----------------------------------------------------------------------------------
  def step_env(self, key: jax.Array, state: TabularEnvState, action, params: TabularEnvParams):
    mdp = params.mdp
    action = jnp.asarray(action, jnp.int32)
    chex.assert_rank(action, 0)
    s = state.s
    t = mdp.transitions
    if isinstance(t, SparseTransitions):
      probs = t.probs[s, action]  # [K]
      chex.assert_rank(probs, 1)
      k = jax.random.categorical(key, jnp.log(probs))
      s_next = t.indices[s, action, k]
      per_transition = mdp.rewards.ndim == 3
      reward = mdp.rewards[s, action, k] if per_transition else mdp.rewards[s, action]
    else:
      probs = t[s, action]  # [S]
      chex.assert_rank(probs, 1)
      s_next = jax.random.categorical(key, jnp.log(probs))
      per_transition = mdp.rewards.ndim == 3
      reward = mdp.rewards[s, action, s_next] if per_transition else mdp.rewards[s, action]
    next_state = TabularEnvState(time=state.time + 1, s=s_next.astype(jnp.int32))
    terminated = is_terminal_state(mdp, next_state.s)
    obs = self.observe(key, next_state, action, params)
    return obs, next_state, reward, terminated, {}

  def reset_env(self, key: jax.Array, params: TabularEnvParams):
    chex.assert_rank(params.initial_distribution, 1)
    s0 = jax.random.categorical(key, jnp.log(params.initial_distribution)).astype(jnp.int32)
    state = TabularEnvState(time=jnp.zeros((), jnp.int32), s=s0)
    return self.observe(key, state, None, params), state

  def observe(self, key, state: TabularEnvState, action, params) -> jax.Array:
    """``one_hot(state.s)``, float32 ``[S]``."""
    del key, action, params
    return jax.nn.one_hot(state.s, self._num_states, dtype=jnp.float32)

  def get_obs(self, state: TabularEnvState, params=None, key=None) -> jax.Array:
    return self.observe(key, state, None, params)

  def is_terminated(self, state: TabularEnvState, params: TabularEnvParams) -> jax.Array:
    return is_terminal_state(params.mdp, state.s)

  def is_truncated(self, state: TabularEnvState, params: TabularEnvParams) -> jax.Array:
    """The time limit is reached and the episode did not terminate on the same step."""
    out_of_time = state.time >= params.max_steps_in_episode
    return out_of_time & ~is_terminal_state(params.mdp, state.s)

  # Spaces ----------------------------------------------------------------------------------------
  def action_space(self, params: TabularEnvParams | None = None) -> spaces.Discrete:
    return spaces.Discrete(self._num_actions)

  def observation_space(self, params: TabularEnvParams | None = None) -> spaces.Box:
    return spaces.Box(0.0, 1.0, (self._num_states,), dtype=jnp.float32)

  def state_space(self, params: TabularEnvParams) -> spaces.Dict:
    return spaces.Dict({"time": spaces.Discrete(int(params.max_steps_in_episode) + 1),
                        "s": spaces.Discrete(self._num_states)})


# ------------------------------------------------------------------------------------------------
# Factories
# ------------------------------------------------------------------------------------------------
def from_mdp(mdp: TabularMDP, *, initial_state: int | None = None,
             initial_distribution: Array | None = None, max_steps_in_episode: int = 100,
             name: str = "TabularEnv") -> tuple[TabularEnv, TabularEnvParams]:
  """Turns a :class:`~jaxrl.mdp.TabularMDP` into ``(env, params)`` (see :class:`TabularEnv`).

  The agent's discount should equal ``mdp.discount`` to compare its Q-values with
  ``exact_q_values(params)`` (``q_iteration(mdp).q_values``).

  Args:
    mdp: a single MDP with concrete arrays, dense or sparse, rewards ``[S, A]`` or per transition.
    initial_state: every episode starts in this state. At most one of ``initial_state`` and
      ``initial_distribution`` may be given.
    initial_distribution: ``[S]`` probabilities of the first state (sum 1, none on a terminal
      state). Default (neither given): uniform over the non-terminal states.
    max_steps_in_episode: time limit, an int ``>= 1``.
    name: the environment's name (``env.name``).

  Returns:
    ``(env, params)``: a :class:`TabularEnv` and its :class:`TabularEnvParams`.

  Raises:
    TypeError: ``mdp`` is not a :class:`~jaxrl.mdp.TabularMDP`.
    ValueError: a batched or traced MDP; a start state out of range or terminal; a distribution
      of the wrong shape, with negative or non-finite entries, not summing to 1 or with mass on
      a terminal state; both start arguments given; ``max_steps_in_episode < 1`` or not an int;
      an MDP whose states are all terminal.

  Example:
    >>> env, params = from_mdp(jaxrl.mdp.chain(5, discount=0.9), initial_state=3)
    >>> obs, state = env.reset(jax.random.key(0), params)
  """
  if not isinstance(mdp, TabularMDP):
    raise TypeError(f"from_mdp expects a jaxrl.mdp.TabularMDP, got {type(mdp).__name__}.")
  if validation.any_traced(mdp):
    raise ValueError(
        "from_mdp needs an MDP of concrete arrays, not traced ones (it validates and hashes them). "
        "Build (env, params) once outside jit/vmap, then vary the numbers with "
        "params.replace(mdp=...) inside.")
  if mdp.batch_shape:
    raise ValueError(
        f"from_mdp takes a single MDP; this one has batch shape {mdp.batch_shape}. Build the env "
        "from one member and jax.vmap over stacked TabularEnvParams instead.")
  max_steps_in_episode = validation.check_int("max_steps_in_episode", max_steps_in_episode,
                                              minimum=1)
  num_states, num_actions = mdp.num_states, mdp.num_actions
  terminal = np.asarray(terminal_states(mdp))
  dtype = mdp.rewards.dtype

  if initial_state is not None and initial_distribution is not None:
    raise ValueError("give initial_state or initial_distribution, not both.")
  if initial_state is not None:
    initial_state = validation.check_int("initial_state", initial_state)
    if not 0 <= initial_state < num_states:
      raise ValueError(f"initial_state {initial_state} is out of range [0, {num_states}).")
    if terminal[initial_state]:
      raise ValueError(
          f"initial_state {initial_state} is terminal (absorbing with zero reward): an episode "
          "started there would be over before its first step.")
    dist = np.zeros(num_states)
    dist[initial_state] = 1.0
  elif initial_distribution is not None:
    dist = np.asarray(initial_distribution, np.float64)
    if dist.shape != (num_states,):
      raise ValueError(f"initial_distribution must have shape [S] = ({num_states},), got "
                       f"{dist.shape}.")
    if not np.all(np.isfinite(dist)):
      raise ValueError(f"initial_distribution has a NaN or infinity at state "
                       f"{int(np.argwhere(~np.isfinite(dist))[0, 0])}.")
    if np.any(dist < 0):
      raise ValueError(f"initial_distribution has a negative probability at state "
                       f"{int(np.argwhere(dist < 0)[0, 0])}.")
    total = float(dist.sum())
    if abs(total - 1.0) > DISTRIBUTION_ATOL:
      raise ValueError(f"initial_distribution sums to {total:.6g}, not 1 "
                       f"(tolerance {DISTRIBUTION_ATOL}).")
    bad = np.flatnonzero((dist > 0) & terminal)
    if bad.size:
      raise ValueError(
          f"initial_distribution puts probability {dist[bad[0]]:.6g} on state {int(bad[0])}, which "
          "is terminal (absorbing with zero reward); episodes cannot start there.")
  else:
    if terminal.all():
      raise ValueError("every state of the MDP is terminal (absorbing with zero reward); there "
                       "is nowhere to start an episode.")
    dist = (~terminal).astype(np.float64) / np.sum(~terminal)

  params = TabularEnvParams(mdp=mdp, initial_distribution=jnp.asarray(dist, dtype),
                            max_steps_in_episode=jnp.asarray(max_steps_in_episode, jnp.int32))
  env = TabularEnv(num_states, num_actions, default_params=params, name=name)
  return env, params


def gridworld_env(world: GridWorld | None = None, *, max_steps_in_episode: int = 100,
                  **gridworld_kwargs) -> tuple[TabularEnv, TabularEnvParams]:
  """The grid world (:func:`jaxrl.mdp.gridworld`) as ``(env, params)``, named ``GridWorld-v0``.

  Episodes start at the world's start cell (``S`` in the layout), or uniformly over the
  non-exit cells when the layout marks none. Observation ``one_hot(s)`` with ``s`` the index of
  the open cell in reading order (``world.state_index(row, col)``). Actions: 0 up, 1 right,
  2 down, 3 left. The builder's default discount is 1 (the textbook utilities); pass e.g.
  ``discount=0.9`` for a discounted agent.

  Args:
    world: a built :class:`~jaxrl.mdp.GridWorld`; or None to build one from ``gridworld_kwargs``
      (``layout``, ``noise``, ``living_reward``, ``discount``, ``sparse``, ``dtype``).
    max_steps_in_episode: time limit.

  Raises:
    ValueError: both ``world`` and builder arguments given, or anything :func:`from_mdp` refuses.
  """
  if world is None:
    world = gridworld(**gridworld_kwargs)
  elif gridworld_kwargs:
    raise ValueError(f"gridworld_env got a world and builder arguments {sorted(gridworld_kwargs)}; "
                     "give one or the other.")
  if world.start is not None:
    return from_mdp(world.mdp, initial_state=world.start,
                    max_steps_in_episode=max_steps_in_episode, name="GridWorld-v0")
  open_cells = ~world.is_exit
  dist = open_cells / open_cells.sum()
  return from_mdp(world.mdp, initial_distribution=dist, max_steps_in_episode=max_steps_in_episode,
                  name="GridWorld-v0")


def chain_env(num_cells: int = 5, *, start: int | None = None, max_steps_in_episode: int = 100,
              **chain_kwargs) -> tuple[TabularEnv, TabularEnvParams]:
  """The 1-D chain (:func:`jaxrl.mdp.chain`) as ``(env, params)``, named ``Chain-v0``.

  Cell 0 is the far exit (``far_reward``, default 10), cell ``num_cells - 1`` the near exit
  (``near_reward``, default 1). Actions: 0 left, 1 right. Episodes start in ``start``, by default
  ``num_cells - 2``, the cell next to the near exit: a random policy then mostly finds the near
  exit, so early data favours it even when the far exit is worth more.

  Args:
    num_cells: at least 3.
    start: the start cell, an interior cell ``1 .. num_cells - 2``.
    max_steps_in_episode: time limit.
    **chain_kwargs: ``far_reward``, ``near_reward``, ``discount`` (default 1), ``noise``,
      ``living_reward``, ``dtype``.

  Raises:
    ValueError: anything :func:`jaxrl.mdp.chain` or :func:`from_mdp` refuses (an exit as start).
  """
  mdp = chain(num_cells, **chain_kwargs)
  if start is None:
    start = num_cells - 2
  start = validation.check_int("chain_env start", start)
  return from_mdp(mdp, initial_state=start, max_steps_in_episode=max_steps_in_episode,
                  name="Chain-v0")


# ------------------------------------------------------------------------------------------------
# Exact answers
# ------------------------------------------------------------------------------------------------
class DiscountMismatchWarning(UserWarning):
  """An agent discounts differently from the tabular environment it is compared against."""


def discount_mismatch(env_params, discounts, *, who: str = "the agent",
                      env: str = "the environment") -> str | None:
  """The warning for agent ``discounts`` (one per setting) that differ from a tabular
  environment's own discount, or None (no difference, or not a tabular environment).

  ``q_error`` and ``policy_match`` compare the agent's Q-values with ``Q*`` at the MDP's
  discount (:func:`exact_q_values`); an agent with another discount estimates another ``Q``, so
  the two do not converge to each other however well it learns.
  """
  if not isinstance(env_params, TabularEnvParams):
    return None
  gamma = float(env_params.mdp.discount)
  # compared in float32, the precision both are used in
  differ = sorted({float(d) for d in discounts if np.float32(d) != np.float32(gamma)})
  if not differ:
    return None
  shown = ", ".join(f"{d:g}" for d in differ)
  return (f"{who}.discount {shown} differs from {env}'s discount {gamma:g}: q_error and "
          f"policy_match measure the distance to Q* at discount {gamma:g}, which this agent "
          f"does not estimate. Use the same discount for both (e.g. --discount {gamma:g}, or "
          f"--env-kwargs discount={shown.split(',')[0]}).")


def exact_q_values(params: TabularEnvParams, **q_iteration_kwargs) -> Array:
  """``Q*`` of ``params.mdp`` at its own discount: ``q_iteration(params.mdp).q_values``.

  ``Q*(s, a) = r(s, a) + discount * sum_s' P(s' | s, a) max_a' Q*(s', a')``, ``[S, A]``.
  Pure and jittable; ``jax.vmap`` over batched params. Extra arguments go to
  :func:`jaxrl.mdp.q_iteration` (``tol``, ``max_iterations``).
  """
  return q_iteration(params.mdp, **q_iteration_kwargs).q_values


class QComparison(NamedTuple):
  """How far learned Q-values are from ``Q*`` (see :func:`compare_q_values`). All scalars.

  Attributes:
    max_abs_error: ``max_{s non-terminal, a} |Q(s, a) - Q*(s, a)|``.
    mean_abs_error: the mean of ``|Q - Q*|`` over non-terminal states and all actions.
    optimal_action_fraction: fraction of non-terminal states whose greedy action
      ``argmax_a Q(s, a)`` is optimal (``Q*(s, a) >= max_a Q*(s, .) - atol``).
  """

  max_abs_error: Array
  mean_abs_error: Array
  optimal_action_fraction: Array


def compare_q_values(params: TabularEnvParams, q_values: Array, *, atol: float = 1e-4,
                     exact: Array | None = None) -> QComparison:
  """Compares learned ``q_values [S, A]`` with the exact ``Q*`` of ``params.mdp``.

  Terminal states are left out: the agent never acts there (its bootstrap is zeroed).
  For a network, ``q_values = q_network(jnp.eye(S))``.

  Args:
    params: the environment's params (a single MDP).
    q_values: ``[S, A]`` learned action values.
    atol: tolerance for ties when deciding whether a greedy action is optimal.
    exact: optional precomputed :func:`exact_q_values` (saves a solve per call).

  Returns:
    A :class:`QComparison`.
  """
  atol = validation.check_number("compare_q_values atol", atol, low=0.0)
  chex.assert_rank(q_values, 2)
  q_star = exact_q_values(params) if exact is None else exact
  chex.assert_equal_shape([q_values, q_star])
  live = ~terminal_states(params.mdp)
  weight = live.astype(q_star.dtype)
  num_live = jnp.maximum(jnp.sum(weight), 1.0)
  err = jnp.abs(q_values - q_star)
  max_err = jnp.max(jnp.where(live[:, None], err, 0.0))
  mean_err = jnp.sum(err * weight[:, None]) / (num_live * q_star.shape[-1])
  greedy = jnp.argmax(q_values, axis=-1)
  chosen = jnp.take_along_axis(q_star, greedy[:, None], axis=-1)[:, 0]
  optimal = chosen >= jnp.max(q_star, axis=-1) - atol
  fraction = jnp.sum(optimal * weight) / num_live
  return QComparison(max_err, mean_err, fraction)
