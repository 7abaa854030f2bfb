"""Experience from environments: one environment-step helper, one scan rollout, greedy evaluation.

Every agent steps its ``E`` parallel environments through :func:`make_env_step`; the on-policy
agents collect ``T`` steps of them with :func:`make_rollout`, which returns a time-major
:class:`Trajectory` ``[T, E, ...]``. The naming follows :mod:`jaxrl.returns` (and rlax): step ``t``
is the transition ``(obs_t, a_t) -> (r_t, obs_tp1)``; ``terminated_t`` and ``truncated_t`` keep
termination and truncation apart, and ``obs_tp1`` is the observation step ``t`` reached before
any auto-reset (``info["final_observation"]``), so a time limit bootstraps from the right state.

Keys: :func:`make_rollout`'s scan splits its key once per step into ``(carry, act, step)``; the
acting key goes to the policy, the step key is split once per environment. Nothing here makes a
key of its own.

Also here: :func:`make_greedy_evaluation` (the greedy policy's mean return on fresh episodes) and
:func:`tabular_reference` (distance to the exact ``Q*`` when the environment is a tabular MDP).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import validation
from jaxrl.envs import spaces as spaces_lib

Array = chex.Array

__all__ = (
    "EnvStep",
    "Memory",
    "RecurrentExtras",
    "Trajectory",
    "make_env_step",
    "make_greedy_evaluation",
    "make_recurrent_rollout",
    "make_rollout",
    "reset",
    "tabular_reference",
)


class EnvStep(NamedTuple):
  """What one step of ``E`` environments returned (leading ``[E]`` on every field).

  Attributes:
    r_t: float32 ``[E]`` rewards.
    terminated_t: bool ``[E]`` the episode reached an absorbing state: no bootstrap.
    truncated_t: bool ``[E]`` a time limit cut the episode and it did not terminate: bootstrap
      from ``obs_tp1``.
    obs_tp1: ``[E, *O]`` the observation the step reached, before any auto-reset.
    episode_return_t: float32 ``[E]`` the undiscounted return of the episode that ended at this
      step (0 where none ended; :class:`~jaxrl.envs.EpisodeStatistics`).
    episode_length_t: int32 ``[E]`` its length (0 where none ended).
  """

  r_t: Array
  terminated_t: Array
  truncated_t: Array
  obs_tp1: Array
  episode_return_t: Array
  episode_length_t: Array

  @property
  def end_t(self) -> Array:
    """bool: the episode ended at this step (terminated or truncated)."""
    return self.terminated_t | self.truncated_t


class Trajectory(NamedTuple):
  """``T`` steps of ``E`` environments, time-major (made by :func:`make_rollout`).

  Attributes:
    obs_t: ``[T, E, *O]`` observation at which ``a_t`` was taken.
    a_t: ``[T, E, ...]`` action taken (int32 for a discrete space).
    extras_t: pytree ``[T, E, ...]``: what the policy returned beside the action (e.g. its
      log-probability, or the critic's value); ``()`` when nothing.
    r_t: float32 ``[T, E]`` reward.
    terminated_t: bool ``[T, E]`` the episode terminated at step ``t``.
    truncated_t: bool ``[T, E]`` a time limit cut it at step ``t`` (and it did not terminate).
    obs_tp1: ``[T, E, *O]`` the observation step ``t`` reached, before any auto-reset.
    episode_return_t: float32 ``[T, E]`` return of the episode that ended at ``t`` (0 elsewhere).
    episode_length_t: int32 ``[T, E]`` its length (0 elsewhere).
  """

  obs_t: Array
  a_t: Array
  extras_t: Any
  r_t: Array
  terminated_t: Array
  truncated_t: Array
  obs_tp1: Array
  episode_return_t: Array
  episode_length_t: Array

  @property
  def end_t(self) -> Array:
    """bool ``[T, E]``: the episode ended at step ``t`` (terminated or truncated)."""
    return self.terminated_t | self.truncated_t

  def discount_t(self, discount: Array | float) -> Array:
    """float32 ``[T, E]`` ``discount * (1 - terminated_t)``: zero only at a true termination."""
    return discount * (1.0 - self.terminated_t.astype(jnp.float32))


def make_env_step(env, env_params, num_envs: int,
                  action_map: Callable[[Array], Array] | None = None) -> Callable:
  """``env_step(key, env_state, action) -> (obs, env_state, EnvStep)`` for ``E = num_envs``.

  ``key`` is consumed (split once per environment); ``env_state``, ``action`` and the returned
  ``obs`` (the next observation to act on: the new episode's first one after an auto-reset)
  carry a leading ``[E]``. ``env`` must report episode statistics in ``info``
  (:class:`~jaxrl.envs.EpisodeStatistics`). ``action_map`` turns the agent's action into the
  environment's (e.g. a Gaussian sample clipped to the action bounds,
  :func:`jaxrl.distributions.clip_to`); the trajectory keeps the agent's.
  """
  num_envs = validation.check_int("num_envs", num_envs, minimum=1)

  def env_step(key, env_state, action):
    env_action = action if action_map is None else action_map(action)
    obs, env_state, reward, terminated, truncated, info = jax.vmap(
        env.step, in_axes=(0, 0, 0, None))(jax.random.split(key, num_envs), env_state,
                                           env_action, env_params)
    return obs, env_state, EnvStep(
        r_t=reward.astype(jnp.float32), terminated_t=terminated,
        truncated_t=truncated & ~terminated, obs_tp1=info["final_observation"],
        episode_return_t=info["episode_return"], episode_length_t=info["episode_length"])

  return env_step


def reset(env, env_params, key, num_envs: int):
  """``(obs [E, *O], env_state [E])`` of ``num_envs`` fresh episodes (``key`` consumed).

  Raises ValueError unless ``num_envs`` is an int >= 1 (numpy/jax integers taken by value)."""
  num_envs = validation.check_int("num_envs", num_envs, minimum=1)
  return jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), env_params)


def make_rollout(env_step: Callable, policy: Callable, length: int) -> Callable:
  """``rollout(key, params, env_state, obs) -> ((env_state, obs, key), Trajectory [T, ...])``.

  Each of the ``T = length`` steps splits the carried key into ``(key, k_act, k_step)``, acts with
  ``policy(k_act, params, obs) -> (action, extras)`` and steps the environments with
  ``env_step(k_step, env_state, action)`` (:func:`make_env_step`). The returned key is the
  carried one after the last split (use it for what comes next).
  """
  length = validation.check_int("rollout length", length, minimum=1)

  def one(carry, _, params):
    env_state, obs, key = carry
    key, k_act, k_step = jax.random.split(key, 3)
    action, extras = policy(k_act, params, obs)
    next_obs, env_state, out = env_step(k_step, env_state, action)
    step = Trajectory(obs_t=obs, a_t=action, extras_t=extras, r_t=out.r_t,
                      terminated_t=out.terminated_t, truncated_t=out.truncated_t,
                      obs_tp1=out.obs_tp1, episode_return_t=out.episode_return_t,
                      episode_length_t=out.episode_length_t)
    return (env_state, next_obs, key), step

  def rollout(key, params, env_state, obs):
    return jax.lax.scan(lambda c, x: one(c, x, params), (env_state, obs, key), None,
                        length=length)

  return rollout


class Memory(NamedTuple):
  """A recurrent policy's memory between steps, for ``E`` environments.

  Attributes:
    carry: the network's carry ``[E, ...]`` after the last step
      (:meth:`jaxrl.networks.RecurrentNetwork.initial_carry`).
    start: bool ``[E]``: the current observation starts an episode (the previous step ended
      one, or nothing has happened yet), so the carry is reset before acting on it.
  """

  carry: Any
  start: Array


class RecurrentExtras(NamedTuple):
  """``extras_t`` of a :func:`make_recurrent_rollout` trajectory ``[T, E, ...]``.

  Attributes:
    extras: what the policy returned beside the action and the carry.
    start_t: bool ``[T, E]``: the carry was reset before acting on ``obs_t``.
    carry_tp1: the carry after acting on ``obs_t``: with it and ``start = False``, the network
      values ``obs_tp1`` (the final observation on truncation) as the next step would have.
  """

  extras: Any
  start_t: Array
  carry_tp1: Any


def make_recurrent_rollout(env_step: Callable, policy: Callable, length: int) -> Callable:
  """:func:`make_rollout` for a policy with memory:
  ``rollout(key, params, env_state, obs, memory) -> ((env_state, obs, key, memory),
  Trajectory)``, with ``policy(key, params, obs, carry, start) -> (action, extras, carry)`` and
  ``memory`` a :class:`Memory`. After each step ``memory.start`` becomes the step's ``end_t``
  (terminated or truncated): the next observation is a new episode's first, and the policy
  resets its carry on it. ``extras_t`` is a :class:`RecurrentExtras`; keep the ``memory`` passed
  in to replay the rollout (:func:`jaxrl.networks.unroll` from ``memory.carry`` over ``obs_t``
  with ``start_t`` reproduces every step's output).
  """
  length = validation.check_int("rollout length", length, minimum=1)

  def one(carry, _, params):
    env_state, obs, key, memory = carry
    key, k_act, k_step = jax.random.split(key, 3)
    action, extras, carry_tp1 = policy(k_act, params, obs, memory.carry, memory.start)
    next_obs, env_state, out = env_step(k_step, env_state, action)
    step = Trajectory(obs_t=obs, a_t=action,
                      extras_t=RecurrentExtras(extras, memory.start, carry_tp1), r_t=out.r_t,
                      terminated_t=out.terminated_t, truncated_t=out.truncated_t,
                      obs_tp1=out.obs_tp1, episode_return_t=out.episode_return_t,
                      episode_length_t=out.episode_length_t)
    return (env_state, next_obs, key, Memory(carry_tp1, out.end_t)), step

  def rollout(key, params, env_state, obs, memory):
    return jax.lax.scan(lambda c, x: one(c, x, params), (env_state, obs, key, memory), None,
                        length=length)

  return rollout


def make_greedy_evaluation(env, env_params, apply_fn: Callable, num_episodes: int,
                           max_steps: int | None = None, *,
                           to_action: Callable | None = None,
                           initial_carry: Any = None) -> Callable[[Array, object], Array]:
  """Builds ``evaluate(key, params) -> mean return`` of the greedy policy ``argmax_a Q(s, a)``.

  Runs ``num_episodes`` fresh environments side by side for ``max_steps`` steps and sums each
  one's rewards until its *first* episode ends (terminated or truncated); later episodes after
  auto-reset are ignored. ``apply_fn(params, obs) -> [..., A]`` values or logits (the argmax is
  taken either way), or anything ``to_action`` turns into the environment's actions.

  Args:
    env, env_params: a gymnax-style environment.
    apply_fn: the network's apply function.
    num_episodes: parallel evaluation episodes.
    max_steps: step cap; defaults to ``env_params.max_steps_in_episode``, so every episode ends.
    to_action: ``apply_fn``'s output -> actions (default: argmax over the last axis); e.g. the
      clipped mean of a Gaussian policy.
    initial_carry: for a recurrent network, its carry at an episode's start for
      ``num_episodes`` episodes; ``apply_fn(params, carry, obs, start) -> (carry, out)`` is then
      called with the carry of the previous step (each episode is played once from its start,
      so ``start`` is false after the first step).

  Raises:
    ValueError: no cap given and the environment's params carry none.
  """
  if max_steps is None:
    max_steps = spaces_lib.episode_limit(env, env_params)
    if max_steps is None:
      raise ValueError("greedy evaluation needs max_steps: the environment has no time limit "
                       "(its params have no max_steps_in_episode, nor has it episode_limit()).")
  max_steps = validation.check_int("max_steps", max_steps, minimum=1)
  num_episodes = validation.check_int("num_episodes", num_episodes, minimum=1)

  def evaluate(key, params):
    k_reset, k_steps = jax.random.split(key)
    obs, state = reset(env, env_params, k_reset, num_episodes)

    def step(carry, k):
      obs, state, total, done, memory = carry
      if initial_carry is None:
        out = apply_fn(params, obs)
      else:
        memory, out = apply_fn(params, memory, obs, jnp.zeros(num_episodes, bool))
      action = jnp.argmax(out, axis=-1) if to_action is None else to_action(out)
      obs, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
          jax.random.split(k, num_episodes), state, action, env_params)
      total = total + jnp.where(done, 0.0, reward)
      done = done | terminated | truncated
      return (obs, state, total, done, memory), None

    init = (obs, state, jnp.zeros(num_episodes), jnp.zeros(num_episodes, bool), initial_carry)
    (_, _, total, _, _), _ = jax.lax.scan(step, init, jax.random.split(k_steps, max_steps))
    return jnp.mean(total)

  return evaluate


def tabular_reference(env_params) -> Callable | None:
  """For a tabular environment's params (:class:`~jaxrl.envs.TabularEnvParams`),
  ``compare(apply_fn, params) -> {"q_error", "policy_match"}`` against the exact ``Q*`` of its
  MDP (``jaxrl.mdp.q_iteration``); None for other environments.

  The environment is recognised by its params, which every wrapper passes through unchanged.
  ``q_error``: max over non-terminal states and all actions of ``|Q_theta(s, a) - Q*(s, a)|``.
  ``policy_match``: fraction of non-terminal states whose greedy action is optimal (an action
  within 1e-6 of the best counts, so ties do not count as mistakes).

  Raises:
    ValueError: the MDP has no finite optimal ``Q`` (``q_iteration`` did not converge).
  """
  from jaxrl.envs import tabular  # pylint: disable=import-outside-toplevel
  from jaxrl.mdp import q_iteration, terminal_states  # pylint: disable=import-outside-toplevel

  if not isinstance(env_params, tabular.TabularEnvParams):
    return None
  mdp = env_params.mdp
  solution = q_iteration(mdp)
  if not bool(solution.converged):
    raise ValueError("the tabular environment's MDP has no finite optimal Q (q_iteration did not "
                     "converge); cannot report the distance to Q*.")
  q_star = jnp.asarray(solution.q_values)
  live = ~np.asarray(terminal_states(mdp))
  obs = jnp.eye(mdp.num_states, dtype=jnp.float32)[live]
  q_star_live = q_star[live]

  def compare(apply_fn, params):
    q = apply_fn(params, obs)
    greedy = jnp.argmax(q, axis=-1)
    optimal = jnp.take_along_axis(q_star_live, greedy[:, None], -1)[:, 0] >= jnp.max(
        q_star_live, -1) - 1e-6
    return dict(q_error=jnp.max(jnp.abs(q - q_star_live)), policy_match=jnp.mean(optimal))

  return compare
