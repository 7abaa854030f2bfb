"""The loop every replay-based agent shares (DQN, SAC, TD3): act, step, store, learn on schedule.

One iteration of an off-policy agent is one step of its ``E`` parallel environments::

    key -> (key, k_act, k_step, k_update)
    a_t = act(k_act, state, hp, t)                 # the agent's action (what the buffer stores)
    obs, env_state, out = env_step(k_step, ...)    # jaxrl.rollouts.make_env_step
    buffer.add(Transition(obs_t, a_t, r_t, discount_t = gamma (1 - terminated_t), obs_tp1))
    if schedule.due(t): updates_per_iteration gradient updates (a lax.scan), else none

``obs_tp1`` is the observation the step reached before any auto-reset, so a time limit
bootstraps from the episode's final state and only a termination zeroes the discount.

With ``n_step = n > 1`` the buffer stores n-step transitions instead (:func:`n_step_push`):
each environment's last ``n`` steps wait in an :class:`NStepWindow`, and once it is full every
iteration stores the oldest step's transition with the discounted sum of the rewards up to the
first episode end (termination or truncation) in the window, the product of the discounts up to
there, and the observation reached there: the target ``r + discount * max_a Q(next_obs, a)`` is
then the n-step target, cut at episode ends exactly as :func:`jaxrl.returns.n_step_returns`
cuts a stream.

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

__all__ = ("NStepWindow", "OffPolicyState", "UpdateSchedule", "check_config", "make_iteration",
           "make_learn", "n_step_push", "n_step_window", "update_schedule", "warm_up")


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
    window: the :class:`NStepWindow` of the last ``n`` steps with ``n_step > 1`` (``None``,
      an empty pytree, otherwise).
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
  window: Any = None


class NStepWindow(NamedTuple):
  """The last ``n`` one-step transitions of ``E`` environments, oldest first.

  Attributes:
    transitions: a :class:`~jaxrl.buffers.Transition` with leading ``[n, E]`` on every field
      (``discount = gamma (1 - terminated)``, ``next_obs`` the final observation on a
      truncation).
    end: bool ``[n, E]``: the episode ended at that step (terminated or truncated).
  """

  transitions: buffers_lib.Transition
  end: Array


def n_step_window(example: buffers_lib.Transition, n: int, num_envs: int) -> NStepWindow:
  """An empty (zero) :class:`NStepWindow` for transitions shaped like ``example`` (one
  transition, no leading axis)."""
  zeros = jax.tree.map(lambda x: jnp.zeros((n, num_envs) + jnp.shape(x), jnp.asarray(x).dtype),
                       example)
  return NStepWindow(transitions=zeros, end=jnp.zeros((n, num_envs), bool))


def n_step_push(window: NStepWindow, transition: buffers_lib.Transition,
                end: Array) -> tuple[NStepWindow, buffers_lib.Transition]:
  """Appends one step of every environment and returns the oldest step's n-step transition.

  For the window's steps ``k = 0..n-1`` (oldest first) with rewards ``r_k``, discounts
  ``d_k = gamma (1 - terminated_k)`` and ends ``e_k``, let ``m`` be the first ``k`` with
  ``e_k`` (``n - 1`` if none). The returned transition is::

      (obs_0, action_0,  sum_{i<=m} (prod_{j<i} d_j) r_i,  prod_{j<=m} d_j,  next_obs_m)

  so a termination in the window zeroes the bootstrap, a truncation bootstraps from the final
  observation with ``gamma^(m+1)``, and steps of the next episode never enter the sum. The
  result is meaningful once ``n`` steps have been pushed (the caller stores it from then on).

  Args:
    window: :class:`NStepWindow` ``[n, E]``.
    transition: this step's one-step transitions, leading ``[E]``.
    end: bool ``[E]``, terminated or truncated.

  Returns:
    ``(window, transition [E])``.
  """
  shift = lambda w, x: jnp.concatenate([w[1:], x[None]], axis=0)  # noqa: E731
  window = NStepWindow(transitions=jax.tree.map(shift, window.transitions, transition),
                       end=shift(window.end, end))
  steps = window.transitions
  n = window.end.shape[0]
  reward, discount, next_obs = steps.reward[n - 1], steps.discount[n - 1], steps.next_obs[n - 1]
  for k in range(n - 2, -1, -1):
    cut = window.end[k]
    reward = jnp.where(cut, steps.reward[k], steps.reward[k] + steps.discount[k] * reward)
    discount = steps.discount[k] * jnp.where(cut, 1.0, discount)
    next_obs = jnp.where(cut.reshape(cut.shape + (1,) * (next_obs.ndim - 1)),
                         steps.next_obs[k], next_obs)
  return window, buffers_lib.Transition(obs=steps.obs[0], action=steps.action[0],
                                        reward=reward, discount=discount, next_obs=next_obs)


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
                    batch_size: int, delay: int = 0) -> UpdateSchedule:
  """The :class:`UpdateSchedule` of a config's ``updates_per_step`` (an integer, or ``1/k``).

  ``delay``: iterations before the first transition is stored (``n_step - 1``).

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
  # after iteration t, (t + 1 - delay) * num_envs transitions are stored
  first = max(0, math.ceil(max(learning_starts, batch_size) / num_envs) - 1 + delay)
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
                             batch_size=config.batch_size,
                             delay=getattr(config, "n_step", 1) - 1)
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
                   num_envs: int, n_step: int = 1) -> Callable:
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
    n_step: store n-step transitions (:func:`n_step_push`; ``state.window`` holds the window)
      from iteration ``n - 1`` on.
  """

  def store(state: OffPolicyState, transition, out, t):
    if n_step == 1:
      return state._replace(buffer=buffer.add(state.buffer, transition))
    window, transition = n_step_push(state.window, transition, out.terminated_t | out.truncated_t)
    buffer_state = jax.lax.cond(t >= n_step - 1, buffer.add, lambda b, _: b, state.buffer,
                                transition)
    return state._replace(buffer=buffer_state, window=window)

  def iteration(state: OffPolicyState, hp, t):
    key, k_act, k_step, k_upd = jax.random.split(state.key, 4)
    actions = act(k_act, state, hp, t)
    obs, env_state, out = env_step(k_step, state.env_state, actions)
    transition = buffers_lib.Transition(
        obs=state.obs, action=actions, reward=out.r_t,
        discount=hp.discount * (1.0 - out.terminated_t.astype(jnp.float32)),
        next_obs=out.obs_tp1)
    state = store(state, transition, out, t)._replace(
        env_state=env_state, obs=obs, key=key, env_steps=state.env_steps + num_envs)
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
