"""The loop every replay-based agent shares (DQN, SAC, TD3): act, step, store, learn on schedule.

One iteration of an off-policy agent is one step of its ``E`` parallel environments::

    key -> (key, k_act, k_step, k_update)
    a_t = act(k_act, state, hp, t)                 # the agent's action (what the buffer stores)
    obs, env_state, out = env_step(k_step, ...)    # jaxrl.rollouts.make_env_step
    buffer.add(Transition(obs_t, a_t, r_t, discount_t = gamma (1 - terminated_t), obs_tp1))
    if schedule.due(t): updates_per_iteration gradient updates (a lax.scan), else none

``obs_tp1`` is the observation the step reached before any auto-reset, so a time limit
bootstraps from the episode's final state and only a termination zeroes the discount.

:class:`UpdateSchedule` decides which iterations learn from the iteration index ``t``, which
:class:`~jaxrl.agents.trainer.Trainer` passes to indexed agents unbatched, the same in every
vmapped run: the choice between learning and not learning (and the warm-up of
:func:`warm_up`, and TD3's delayed actor updates, from :meth:`UpdateSchedule.update_index`) is
then a real branch under ``vmap``, not a select that computes both sides. Learning starts at
the first iteration after which ``max(learning_starts, batch_size)`` transitions have been
stored and repeats every ``update_every`` iterations: ``updates_per_step = k`` gives ``k``
updates per iteration, ``updates_per_step = 1/k`` one update every ``k`` iterations (after the
``k``-th, ``2k``-th, ... iteration), however many environments step at once.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl import buffers as buffers_lib
from jaxrl.agents import trainer as trainer_lib

Array = chex.Array

__all__ = ("OffPolicyState", "UpdateSchedule", "check_config", "make_iteration", "make_learn",
           "update_schedule", "warm_up")


class OffPolicyState(NamedTuple):
  """Everything a replay agent's run carries (checkpoint this to resume).

  Attributes:
    params: the learned parameters (DQN: the Q-network's; SAC/TD3: a NamedTuple of the actor's,
      the critics' and, for SAC, the log-temperature).
    target_params: the target networks' parameters.
    opt_state: the optimizer state(s).
    buffer: the :class:`~jaxrl.buffers.ReplayBufferState`.
    env_state, obs: the ``E`` environments' states and current observations ``[E, *O]``.
    key: the run's PRNG key (split once per iteration and once per logging interval).
    env_steps, updates: int32 counters (environment steps summed over the environments;
      gradient updates).
  """

  params: Any
  target_params: Any
  opt_state: Any
  buffer: Any
  env_state: Any
  obs: Array
  key: Array
  env_steps: Array
  updates: Array


class UpdateSchedule(NamedTuple):
  """Which iterations learn (see the module docstring); static numbers.

  Attributes:
    updates_per_iteration: gradient updates in a learning iteration.
    update_every: iterations from one learning iteration to the next.
    first: the index of the first iteration that may learn.
  """

  updates_per_iteration: int
  update_every: int
  first: int

  def due(self, t: Array) -> Array:
    """bool ``[]``: iteration ``t`` learns (from ``first``, whenever ``(t + 1) *
    num_envs`` steps is a multiple of ``update_every * num_envs``)."""
    return (t >= self.first) & ((t + 1) % self.update_every == 0)

  def updates_before(self, t: Array) -> Array:
    """int32 ``[]``: the gradient updates made by the iterations before ``t``: one batch of
    updates per multiple of ``update_every`` in ``[first + 1, t]``."""
    learned = jnp.maximum(0, t // self.update_every - self.first // self.update_every)
    return (learned * self.updates_per_iteration).astype(jnp.int32)

  def update_index(self, t: Array) -> Array:
    """int32 ``[updates_per_iteration]``: the run's numbers (from 1) of the updates iteration
    ``t`` makes when it learns."""
    return self.updates_before(t) + jnp.arange(1, self.updates_per_iteration + 1,
                                               dtype=jnp.int32)


def update_schedule(owner: str, *, updates_per_step: float, num_envs: int, learning_starts: int,
                    batch_size: int) -> UpdateSchedule:
  """The :class:`UpdateSchedule` of a config's ``updates_per_step`` (an integer, or ``1/k``).

  Raises:
    ValueError: ``updates_per_step`` below 1 that is not ``1/k``, or above 1 not an integer.
  """
  if updates_per_step < 1 and not float(1 / updates_per_step).is_integer():
    raise ValueError(f"{owner}: updates_per_step below 1 must be 1/k for an integer k, got "
                     f"{updates_per_step}.")
  if updates_per_step >= 1 and not float(updates_per_step).is_integer():
    raise ValueError(f"{owner}: updates_per_step above 1 must be an integer, got "
                     f"{updates_per_step}.")
  if updates_per_step >= 1:
    n, every = int(updates_per_step), 1
  else:
    n, every = 1, int(round(1 / updates_per_step))
  # after iteration t, (t + 1) * num_envs transitions are stored
  first = max(0, math.ceil(max(learning_starts, batch_size) / num_envs) - 1)
  return UpdateSchedule(updates_per_iteration=n, update_every=every, first=first)


def check_config(config: Any) -> tuple[trainer_lib.Intervals, UpdateSchedule]:
  """A replay agent's config checked (every field by ``config.check()``, then the rules across
  fields its loop needs) -> ``(Intervals, UpdateSchedule)``: the fields ``total_steps``,
  ``num_envs``, ``buffer_size``, ``batch_size``, ``learning_starts``, ``updates_per_step``,
  ``log_every`` and ``eval_every``.

  Raises:
    ValueError: naming the config class and the fields (a batch or an add larger than the
      buffer, a ``updates_per_step`` that is not ``k`` or ``1/k``, intervals off the iterations).
  """
  config.check()
  owner = type(config).__name__
  if config.batch_size > config.buffer_size:
    raise ValueError(f"{owner}: batch_size {config.batch_size} is larger than buffer_size "
                     f"{config.buffer_size}.")
  if config.num_envs > config.buffer_size:
    raise ValueError(f"{owner}: num_envs {config.num_envs} is larger than buffer_size "
                     f"{config.buffer_size}.")
  schedule = update_schedule(owner, updates_per_step=config.updates_per_step,
                             num_envs=config.num_envs, learning_starts=config.learning_starts,
                             batch_size=config.batch_size)
  loop = trainer_lib.intervals(owner, total_steps=config.total_steps, log_every=config.log_every,
                               eval_every=config.eval_every, steps_per_iteration=config.num_envs,
                               per_iteration="num_envs")
  return loop, schedule


def make_learn(update: Callable, schedule: UpdateSchedule, sums: type, maxima: type | None):
  """``(learn, skip)``: ``learn(state, key, hp, t)`` scans ``update(state, key, hp, index) ->
  (state, (sums, maxima, finite))`` over the iteration's updates (``index``: the update's
  number in the run, :meth:`UpdateSchedule.update_index`, unbatched), and both return
  ``(state, (sums, maxima, count, finite))`` (summed, maximised, the update count, all finite),
  ``skip`` with zeros, for one ``lax.cond``."""
  n = schedule.updates_per_iteration
  zeros = trainer_lib.Accumulator.zeros(sums, maxima)

  def learn(state, key, hp, t):
    state, (s, m, finite) = jax.lax.scan(
        lambda st, x: update(st, x[0], hp, x[1]), state,
        (jax.random.split(key, n), schedule.update_index(t)))
    return state, (jax.tree.map(jnp.sum, s), jax.tree.map(jnp.max, m), jnp.float32(n),
                   jnp.all(finite))

  def skip(state, key, hp, t):
    del key, hp, t
    return state, (zeros.sums, zeros.maxima, jnp.float32(0), jnp.bool_(True))

  return learn, skip


def make_iteration(*, env_step: Callable, buffer: buffers_lib.ReplayBuffer, act: Callable,
                   learn: Callable, skip: Callable, schedule: UpdateSchedule,
                   num_envs: int) -> Callable:
  """``iteration(state: OffPolicyState, hp, t) -> (state, IterationStats)`` (see the module
  docstring) for :func:`~jaxrl.agents.trainer.make_trainer` with ``indexed=True``.

  Args:
    env_step: :func:`jaxrl.rollouts.make_env_step` of the ``E`` environments (with the map from
      the agent's actions to the environment's).
    buffer: the replay buffer (stores :class:`~jaxrl.buffers.Transition` s).
    act: ``(key, state, hp, t) -> actions [E, ...]`` the behaviour policy's actions.
    learn, skip: from :func:`make_learn`.
    schedule: the :class:`UpdateSchedule`.
    num_envs: ``E``.
  """

  def iteration(state: OffPolicyState, hp, t):
    key, k_act, k_step, k_upd = jax.random.split(state.key, 4)
    actions = act(k_act, state, hp, t)
    obs, env_state, out = env_step(k_step, state.env_state, actions)
    transition = buffers_lib.Transition(
        obs=state.obs, action=actions, reward=out.r_t,
        discount=hp.discount * (1.0 - out.terminated_t.astype(jnp.float32)),
        next_obs=out.obs_tp1)
    state = state._replace(buffer=buffer.add(state.buffer, transition), env_state=env_state,
                           obs=obs, key=key, env_steps=state.env_steps + num_envs)
    state, (sums, maxima, count, finite) = jax.lax.cond(schedule.due(t), learn, skip, state,
                                                        k_upd, hp, t)
    return state, trainer_lib.IterationStats(sums=sums, count=count, finite=finite,
                                             episodes=trainer_lib.episodes_of(out), maxima=maxima)

  return iteration


def warm_up(act: Callable, *, learning_starts: int, num_envs: int, action_dim: int) -> Callable:
  """``act`` preceded by uniform random actions in ``[-1, 1]^D`` while fewer than
  ``learning_starts`` environment steps have been taken (SAC's and TD3's initial exploration):
  ``(key, state, hp, t) -> actions [E, D]``; the choice is a branch on the unbatched ``t``."""

  def uniform(key, state, hp, t):
    del state, hp, t
    return jax.random.uniform(key, (num_envs, action_dim), jnp.float32, -1.0, 1.0)

  def behave(key, state, hp, t):
    return jax.lax.cond(t * num_envs < learning_starts, uniform, act, key, state, hp, t)

  return behave
