"""DQN as one pure, compiled function: ``make_train(config, env, env_params) -> train(key)``.

The course notes' algorithm (Mnih et al., 2013/2015): an epsilon-greedy behaviour policy fills a
replay buffer from ``num_envs`` parallel environments; minibatches sampled uniformly from it
regress ``Q_new(s, a)`` onto ``r + discount * max_a' Q_old(s', a')``, where ``Q_old`` (the target
network) is a hard copy every ``target_update_period`` updates or a Polyak average. The bootstrap
is zeroed only on *termination*; on truncation (a time limit) the target bootstraps from the
final observation of the episode, which the environment returns in ``info["final_observation"]``.

Static structure (shapes, loop lengths, network) lives in :class:`DQNConfig`; numbers a sweep
varies (learning rate, discount, epsilon schedule, target period, Polyak step) live in
:class:`DQNHyperparams`, a pytree: ``jax.vmap(train, in_axes=(0, 0))(keys, hyperparams)`` runs a
sweep, ``jax.vmap(train)(keys)`` runs seeds. Everything random comes from ``key``.

Metrics come back stacked over ``num_logs = total_steps // log_every`` logging points; see
:func:`make_train`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxrl import buffers as buffers_lib
from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import policies as policies_lib
from jaxrl import rollouts
from jaxrl.agents import off_policy
from jaxrl.agents import optimizers
from jaxrl.agents import trainer as trainer_lib
from jaxrl.agents.config import POSITIVE_OR_INF, AgentConfig, hyperparameter, option
from jaxrl.envs import spaces as spaces_lib
from jaxrl.envs import wrappers as wrappers_lib
from jaxrl.validation import (AT_LEAST_ONE, HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE,
                              UNIT_INTERVAL)

Array = chex.Array

__all__ = ("DQNConfig", "DQNHyperparams", "DQNState", "make_train")

TARGET_UPDATES = ("hard", "polyak")
LOSSES = ("mse", "huber")


@dataclasses.dataclass(frozen=True)
class DQNConfig(AgentConfig):
  """DQN's settings. Fields marked *hyperparameter* are the fields of :class:`DQNHyperparams`
  and may be swept with ``vmap``; the rest fix shapes and loop lengths. Each field declares its
  valid range once (:mod:`jaxrl.agents.config`).

  Attributes:
    total_steps: environment steps in all (summed over the parallel environments).
    num_envs: environments stepping in parallel; each iteration adds ``num_envs`` transitions.
    network: ``"linear"`` (the notes' ``Q(s, a) = W_a^T s + b_a``), ``"mlp"`` or ``"cnn"``.
    hidden_sizes: MLP layer widths.
    buffer_size: replay capacity (transitions).
    batch_size: minibatch size.
    learning_starts: environment steps of pure exploration before the first update.
    updates_per_step: gradient updates per iteration (one step of every environment); a
      fraction ``1/k`` means one update every ``k`` iterations.
    target_update: ``"hard"`` (copy every ``target_update_period`` updates) or ``"polyak"``.
    double_dqn: select the bootstrap action with the online network (van Hasselt et al., 2016).
    loss: ``"mse"`` (the notes' squared error) or ``"huber"``.
    huber_delta: Huber threshold.
    max_grad_norm: global-norm gradient clipping (``inf`` disables it).
    epsilon_schedule: ``"constant"``, ``"linear"`` or ``"exponential"`` (decay towards
      ``epsilon_end`` with ``epsilon_decay_steps`` as the time constant).
    log_every: environment steps between logged metrics (a multiple of ``num_envs``).
    eval_every: environment steps between greedy evaluations (a multiple of ``log_every``).
    eval_episodes: episodes (on separate environments) per evaluation.
    eval_max_steps: step cap of an evaluation episode (None: the environment's own limit).
    learning_rate: Adam step size (*hyperparameter*).
    discount: the discount factor gamma in [0, 1] (*hyperparameter*).
    epsilon_start: exploration rate at step 0 (*hyperparameter*).
    epsilon_end: exploration rate the schedule decays to (*hyperparameter*).
    epsilon_decay_steps: environment steps of the linear decay, or the exponential decay's time
      constant (*hyperparameter*).
    target_update_period: gradient updates between hard target copies (*hyperparameter*).
    polyak_step: the target network's step towards the online one per update, with
      ``target_update="polyak"`` (*hyperparameter*).
  """

  total_steps: int = option(100_000, AT_LEAST_ONE)
  num_envs: int = option(10, AT_LEAST_ONE)
  network: str = option("mlp", choices=networks_lib.Q_NETWORK_KINDS)
  hidden_sizes: tuple[int, ...] = (64, 64)
  buffer_size: int = option(50_000, AT_LEAST_ONE)
  batch_size: int = option(100, AT_LEAST_ONE)
  learning_starts: int = option(5_000, NON_NEGATIVE)
  updates_per_step: float = option(5.0, POSITIVE)
  target_update: str = option("polyak", choices=TARGET_UPDATES)
  double_dqn: bool = option(True)
  loss: str = option("mse", choices=LOSSES)
  huber_delta: float = option(1.0, POSITIVE)
  max_grad_norm: float = option(10.0, POSITIVE_OR_INF)
  epsilon_schedule: str = option("linear", choices=policies_lib.EPSILON_SCHEDULES)
  log_every: int = option(2_500, AT_LEAST_ONE)
  eval_every: int = option(2_500, AT_LEAST_ONE)
  eval_episodes: int = option(10, AT_LEAST_ONE)
  eval_max_steps: int | None = option(None, AT_LEAST_ONE, optional=True)
  # hyperparameters (vmappable)
  learning_rate: float = hyperparameter(1e-3, POSITIVE)
  discount: float = hyperparameter(0.99, UNIT_INTERVAL)
  epsilon_start: float = hyperparameter(1.0, UNIT_INTERVAL)
  epsilon_end: float = hyperparameter(0.05, UNIT_INTERVAL)
  epsilon_decay_steps: float = hyperparameter(50_000, POSITIVE)
  target_update_period: int = hyperparameter(200, AT_LEAST_ONE)
  polyak_step: float = hyperparameter(0.02, HALF_OPEN_UNIT)


#: The numbers a sweep may vary (generated from :class:`DQNConfig`'s hyperparameter fields).
DQNHyperparams = DQNConfig.hyperparams_type()


#: Everything a run carries (checkpoint this to resume): the replay agents' shared state
#: (:class:`~jaxrl.agents.off_policy.OffPolicyState`), ``params`` the Q-network's.
DQNState = off_policy.OffPolicyState


class DQNStats(NamedTuple):
  """Summed over an interval's gradient updates (metrics ``loss``, ``q_mean``)."""

  loss: Array
  q_mean: Array


class DQNMaxima(NamedTuple):
  """Maximised over an interval's minibatches (metric ``q_abs_max``)."""

  q_abs_max: Array


def _epsilon(config: DQNConfig, hp) -> Any:
  """The exploration schedule ``env_steps -> epsilon`` (:func:`jaxrl.policies.epsilon_schedule`)."""
  return policies_lib.epsilon_schedule(config.epsilon_schedule, hp.epsilon_start,
                                       hp.epsilon_end, hp.epsilon_decay_steps)


def _make_update(config: DQNConfig, network, buffer):
  """``update(state, key, hp, index) -> (state, (DQNStats, DQNMaxima, finite))``: one gradient
  step on a sampled minibatch, then the target network's hard copy or Polyak step."""
  loss_fn = losses_lib.double_q_learning_loss if config.double_dqn else losses_lib.q_learning_loss
  huber = config.huber_delta if config.loss == "huber" else None

  def batch_loss(params, target_params, batch):
    q_tm1 = network.apply(params, batch.obs)
    q_t_target = network.apply(target_params, batch.next_obs)
    args = (q_tm1, batch.action, batch.reward, batch.discount, q_t_target)
    if config.double_dqn:
      args += (network.apply(params, batch.next_obs),)
    per_item = jax.vmap(lambda *a: loss_fn(*a, huber_delta=huber))(*args)
    return jnp.mean(per_item), (jnp.mean(q_tm1), jnp.max(jnp.abs(q_tm1)))

  def update(state: DQNState, key, hp, index):
    del index
    batch = buffer.sample(state.buffer, key)
    (loss, (q_mean, q_abs)), grads = jax.value_and_grad(batch_loss, has_aux=True)(
        state.params, state.target_params, batch)
    optimizer = optimizers.adam(hp.learning_rate, max_grad_norm=config.max_grad_norm)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    n = state.updates + 1
    if config.target_update == "hard":
      target = optax.periodic_update(params, state.target_params, n, hp.target_update_period)
    else:
      target = optax.incremental_update(params, state.target_params, hp.polyak_step)
    return state._replace(params=params, target_params=target, opt_state=opt_state, updates=n), (
        DQNStats(loss, q_mean), DQNMaxima(q_abs), jnp.isfinite(loss))

  return update


def make_train(config: DQNConfig, env, env_params) -> trainer_lib.Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates the config, environment and network eagerly (ValueError, before anything compiles).

  Metrics (leading ``[num_logs]`` axis): those of every agent (:mod:`jaxrl.agents.trainer`:
    ``env_steps``, ``updates``, ``episode_return``/``episode_length``/``episodes`` of the episodes
    that finished, ``eval_return``, ``loss_finite``), and
    ``loss``, ``q_mean``: means over the interval's updates (NaN before learning starts);
    ``q_abs_max``: the largest ``|Q(s, a)|`` in the interval's minibatches — compare it with
    ``r_max / (1 - discount)``: far above it, the values are diverging even while the loss is
    finite (the deadly triad without a target network does this);
    ``epsilon``: the exploration rate at the logging point.
    With a tabular environment (:class:`jaxrl.envs.TabularEnv`), also ``q_error`` (max over
    non-terminal states and actions of ``|Q_theta - Q*|``) and ``policy_match`` (fraction of
    non-terminal states whose greedy action is optimal), against ``q_iteration``'s exact Q*.
  """
  loop, schedule = off_policy.check_config(config)
  obs_shape = tuple(env.observation_space(env_params).shape)
  num_actions = spaces_lib.require_discrete("DQN", env, env_params)
  network = networks_lib.make_q_network(config.network, num_actions, obs_shape,
                                        hidden_sizes=config.hidden_sizes)
  env = wrappers_lib.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, env_params, config.num_envs)
  buffer = buffers_lib.make_replay_buffer(config.buffer_size, config.batch_size,
                                          min_size=config.batch_size)
  reference = rollouts.tabular_reference(env_params)
  evaluate = rollouts.make_greedy_evaluation(env, env_params, network.apply, config.eval_episodes,
                                             config.eval_max_steps)
  learn, skip = off_policy.make_learn(_make_update(config, network, buffer), schedule, DQNStats,
                                     DQNMaxima)

  def act(key, state: DQNState, hp, t):
    """Epsilon-greedy in every environment."""
    del t
    q = network.apply(state.params, state.obs)
    return jax.vmap(policies_lib.epsilon_greedy, in_axes=(0, 0, None))(
        jax.random.split(key, config.num_envs), q, _epsilon(config, hp)(state.env_steps))

  iteration = off_policy.make_iteration(env_step=env_step, buffer=buffer, act=act, learn=learn,
                                        skip=skip, schedule=schedule, num_envs=config.num_envs)

  def report(state: DQNState, hp) -> dict:
    metrics = dict(epsilon=_epsilon(config, hp)(state.env_steps))
    if reference is not None:
      metrics.update(reference(network.apply, state.params))
    return metrics

  def init_state(key, hp) -> DQNState:
    k_net, k_env, key = jax.random.split(key, 3)
    obs, env_state = rollouts.reset(env, env_params, k_env, config.num_envs)
    params = network.init(k_net, obs[0])
    opt_state = optimizers.adam(hp.learning_rate, max_grad_norm=config.max_grad_norm).init(params)
    example = buffers_lib.Transition(obs=obs[0], action=jnp.int32(0), reward=jnp.float32(0),
                                     discount=jnp.float32(0), next_obs=obs[0])
    return DQNState(params=params, target_params=params, opt_state=opt_state,
                    buffer=buffer.init(example), env_state=env_state, obs=obs, key=key,
                    env_steps=jnp.int32(0), updates=jnp.int32(0))

  return trainer_lib.make_trainer(
      "dqn", config, state_type=DQNState, init_state=init_state, iteration=iteration, loop=loop,
      evaluate=evaluate, sums=DQNStats, maxima=DQNMaxima, report=report, network=network,
      indexed=True)
