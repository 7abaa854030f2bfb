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
import numpy as np
import optax

from jaxrl.agents import _checks
from jaxrl.agents import trainer as trainer_lib
from jaxrl.agents.trainer import Trainer
from jaxrl import buffers as buffers_lib
from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import policies as policies_lib
from jaxrl import rollouts
from jaxrl.envs import wrappers as wrappers_lib

Array = chex.Array

EPSILON_SCHEDULES = ("constant", "linear", "exponential")
TARGET_UPDATES = ("hard", "polyak")
LOSSES = ("mse", "huber")


@dataclasses.dataclass(frozen=True)
class DQNConfig:
  """DQN's settings. Fields marked *hyperparameter* are defaults of :class:`DQNHyperparams` and
  may be swept with ``vmap``; the rest fix shapes and loop lengths.

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

  total_steps: int = 100_000
  num_envs: int = 10
  network: str = "mlp"
  hidden_sizes: tuple[int, ...] = (64, 64)
  buffer_size: int = 50_000
  batch_size: int = 100
  learning_starts: int = 5_000
  updates_per_step: float = 5.0
  target_update: str = "polyak"
  double_dqn: bool = True
  loss: str = "mse"
  huber_delta: float = 1.0
  max_grad_norm: float = 10.0
  epsilon_schedule: str = "linear"
  log_every: int = 2_500
  eval_every: int = 2_500
  eval_episodes: int = 10
  eval_max_steps: int | None = None
  # hyperparameters (vmappable)
  learning_rate: float = 1e-3
  discount: float = 0.99
  epsilon_start: float = 1.0
  epsilon_end: float = 0.05
  epsilon_decay_steps: float = 50_000
  target_update_period: int = 200
  polyak_step: float = 0.02

  def hyperparams(self) -> "DQNHyperparams":
    """The vmappable numbers of this config, as a pytree of scalars."""
    return DQNHyperparams(
        learning_rate=jnp.float32(self.learning_rate), discount=jnp.float32(self.discount),
        epsilon_start=jnp.float32(self.epsilon_start), epsilon_end=jnp.float32(self.epsilon_end),
        epsilon_decay_steps=jnp.float32(self.epsilon_decay_steps),
        target_update_period=jnp.int32(self.target_update_period),
        polyak_step=jnp.float32(self.polyak_step))


class DQNHyperparams(NamedTuple):
  """Numbers a sweep may vary: every field a scalar (add a leading axis and ``vmap``)."""

  learning_rate: Array
  discount: Array
  epsilon_start: Array
  epsilon_end: Array
  epsilon_decay_steps: Array
  target_update_period: Array
  polyak_step: Array


def validate_hyperparams(hp: DQNHyperparams) -> None:
  """Raises ValueError for concrete hyperparameters that make no sense (any batch shape)."""
  _checks.check_hyperparams("DQN", hp, [
      ("learning_rate", _checks.POSITIVE),
      ("discount", _checks.UNIT_INTERVAL),
      ("epsilon_start", _checks.UNIT_INTERVAL),
      ("epsilon_end", _checks.UNIT_INTERVAL),
      ("epsilon_decay_steps", _checks.POSITIVE),
      ("target_update_period", _checks.AT_LEAST_ONE),
      ("polyak_step", _checks.HALF_OPEN_UNIT),
  ])


class DQNState(NamedTuple):
  """Everything a run carries (checkpoint this to resume)."""

  params: Any
  target_params: Any
  opt_state: Any
  buffer: Any
  env_state: Any
  obs: Array
  key: Array
  env_steps: Array
  updates: Array


def _check_config(config: DQNConfig, num_actions: int, obs_shape: tuple[int, ...]) -> None:
  def bad(msg):
    raise ValueError(f"DQNConfig: {msg}")

  positive = ("total_steps", "num_envs", "buffer_size", "batch_size", "log_every", "eval_every",
              "eval_episodes")
  for name in positive:
    if getattr(config, name) < 1:
      bad(f"{name} must be at least 1, got {getattr(config, name)}.")
  if config.batch_size > config.buffer_size:
    bad(f"batch_size {config.batch_size} is larger than buffer_size {config.buffer_size}.")
  if config.num_envs > config.buffer_size:
    bad(f"num_envs {config.num_envs} is larger than buffer_size {config.buffer_size}.")
  if config.learning_starts < 0:
    bad(f"learning_starts must be >= 0, got {config.learning_starts}.")
  if not config.updates_per_step > 0:
    bad(f"updates_per_step must be positive, got {config.updates_per_step}.")
  if config.updates_per_step < 1 and not float(1 / config.updates_per_step).is_integer():
    bad(f"updates_per_step below 1 must be 1/k for an integer k, got {config.updates_per_step}.")
  if config.updates_per_step >= 1 and not float(config.updates_per_step).is_integer():
    bad(f"updates_per_step above 1 must be an integer, got {config.updates_per_step}.")
  if config.log_every % config.num_envs:
    bad(f"log_every ({config.log_every}) must be a multiple of num_envs ({config.num_envs}) so "
        "logging fires on schedule.")
  if config.eval_every % config.log_every:
    bad(f"eval_every ({config.eval_every}) must be a multiple of log_every ({config.log_every}).")
  if config.total_steps % config.log_every:
    bad(f"total_steps ({config.total_steps}) must be a multiple of log_every ({config.log_every}).")
  if config.target_update not in TARGET_UPDATES:
    bad(f"target_update must be one of {TARGET_UPDATES}, got {config.target_update!r}.")
  if config.loss not in LOSSES:
    bad(f"loss must be one of {LOSSES}, got {config.loss!r}.")
  if config.epsilon_schedule not in EPSILON_SCHEDULES:
    bad(f"epsilon_schedule must be one of {EPSILON_SCHEDULES}, got {config.epsilon_schedule!r}.")
  if not config.max_grad_norm > 0:
    bad(f"max_grad_norm must be positive (inf disables clipping), got {config.max_grad_norm}.")
  if config.eval_max_steps is not None and config.eval_max_steps < 1:
    bad(f"eval_max_steps must be at least 1, got {config.eval_max_steps}.")
  validate_hyperparams(config.hyperparams())
  del num_actions, obs_shape


def epsilon_at(schedule: str, hp: DQNHyperparams, env_steps: Array) -> Array:
  """The exploration rate after ``env_steps`` environment steps (traced-friendly)."""
  t = env_steps.astype(jnp.float32)
  if schedule == "constant":
    return hp.epsilon_start
  if schedule == "linear":
    frac = jnp.clip(t / hp.epsilon_decay_steps, 0.0, 1.0)
    return hp.epsilon_start + frac * (hp.epsilon_end - hp.epsilon_start)
  return hp.epsilon_end + (hp.epsilon_start - hp.epsilon_end) * jnp.exp(-t / hp.epsilon_decay_steps)


def make_train(config: DQNConfig, env, env_params) -> Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates the config, environment and network eagerly (ValueError, before anything compiles).

  Metrics (arrays with a leading ``[num_logs]`` axis, one entry per ``log_every`` steps):
    ``env_steps``: environment steps done at the logging point;
    ``episode_return``, ``episode_length``: means over episodes that *finished* in the interval
    (NaN when none did); ``episodes``: how many finished;
    ``eval_return``: mean greedy return over ``eval_episodes`` fresh episodes (NaN between
    evaluations);
    ``loss``, ``q_mean``: means over the interval's updates (NaN before learning starts);
    ``q_abs_max``: the largest ``|Q(s, a)|`` in the interval's minibatches — compare it with
    ``r_max / (1 - discount)``: far above it, the values are diverging even while the loss is
    finite (the deadly triad without a target network does this);
    ``loss_finite``: False once any update produced a non-finite loss — the run diverged;
    ``epsilon``: exploration rate at the logging point; ``updates``: gradient updates so far.
    With a tabular environment (:class:`jaxrl.envs.TabularEnv`), also ``q_error`` (max over
    non-terminal states and actions of ``|Q_theta - Q*|``) and ``policy_match`` (fraction of
    non-terminal states whose greedy action is optimal), against ``q_iteration``'s exact Q*.
  """
  num_actions = int(env.num_actions)
  obs_shape = tuple(env.observation_space(env_params).shape)
  _check_config(config, num_actions, obs_shape)
  network = networks_lib.make_q_network(config.network, num_actions, obs_shape,
                                        hidden_sizes=config.hidden_sizes)
  env = wrappers_lib.EpisodeStatistics(env)
  buffer = buffers_lib.make_replay_buffer(config.buffer_size, config.batch_size,
                                          min_size=max(config.batch_size, 1))
  reference = rollouts.tabular_reference(env, env_params)

  iterations_per_log = config.log_every // config.num_envs
  num_logs = config.total_steps // config.log_every
  logs_per_eval = config.eval_every // config.log_every
  if config.updates_per_step >= 1:
    updates_per_iteration, update_every = int(config.updates_per_step), 1
  else:
    updates_per_iteration, update_every = 1, int(round(1 / config.updates_per_step))
  evaluate = rollouts.make_greedy_evaluation(env, env_params, network.apply, config.eval_episodes,
                                             config.eval_max_steps)
  loss_fn = losses_lib.double_q_learning_loss if config.double_dqn else losses_lib.q_learning_loss
  huber = config.huber_delta if config.loss == "huber" else None

  def make_optimizer(hp):
    clip = (optax.clip_by_global_norm(config.max_grad_norm) if np.isfinite(config.max_grad_norm)
            else optax.identity())
    return optax.chain(clip, optax.adam(hp.learning_rate))

  def batch_loss(params, target_params, batch, hp):
    q_tm1 = network.apply(params, batch.obs)
    q_t_target = network.apply(target_params, batch.next_obs)
    if config.double_dqn:
      q_t_online = network.apply(params, batch.next_obs)
      per_item = jax.vmap(lambda q, a, r, d, qt, qs: loss_fn(q, a, r, d, qt, qs, huber_delta=huber))(
          q_tm1, batch.action, batch.reward, batch.discount, q_t_target, q_t_online)
    else:
      per_item = jax.vmap(lambda q, a, r, d, qt: loss_fn(q, a, r, d, qt, huber_delta=huber))(
          q_tm1, batch.action, batch.reward, batch.discount, q_t_target)
    return jnp.mean(per_item), (jnp.mean(q_tm1), jnp.max(jnp.abs(q_tm1)))

  def update(state: DQNState, key, hp):
    batch = buffer.sample(state.buffer, key)
    (loss, (q_mean, q_abs)), grads = jax.value_and_grad(batch_loss, has_aux=True)(
        state.params, state.target_params, batch, hp)
    updates, opt_state = make_optimizer(hp).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    n = state.updates + 1
    if config.target_update == "hard":
      target = optax.periodic_update(params, state.target_params, n, hp.target_update_period)
    else:
      target = optax.incremental_update(params, state.target_params, hp.polyak_step)
    return state._replace(params=params, target_params=target, opt_state=opt_state, updates=n), (
        loss, q_mean, q_abs)

  def iteration(carry, _, hp):
    state, acc = carry
    key, k_act, k_step, k_upd = jax.random.split(state.key, 4)
    q = network.apply(state.params, state.obs)
    epsilon = epsilon_at(config.epsilon_schedule, hp, state.env_steps)
    act_keys = jax.random.split(k_act, config.num_envs)
    actions = jax.vmap(policies_lib.epsilon_greedy, in_axes=(0, 0, None))(act_keys, q, epsilon)
    step_keys = jax.random.split(k_step, config.num_envs)
    obs, env_state, reward, terminated, truncated, info = jax.vmap(
        env.step, in_axes=(0, 0, 0, None))(step_keys, state.env_state, actions, env_params)
    transition = buffers_lib.Transition(
        obs=state.obs, action=actions, reward=reward.astype(jnp.float32),
        discount=hp.discount * (1.0 - terminated.astype(jnp.float32)),
        next_obs=info["final_observation"])
    buf = buffer.add(state.buffer, transition)
    env_steps = state.env_steps + config.num_envs
    state = state._replace(buffer=buf, env_state=env_state, obs=obs, key=key, env_steps=env_steps)

    iteration_index = env_steps // config.num_envs
    learn = (env_steps >= config.learning_starts) & buffer.can_sample(buf) & (
        iteration_index % update_every == 0)

    def do_updates(s):
      def one(s, k):
        return update(s, k, hp)
      s, (losses, q_means, q_abs) = jax.lax.scan(one, s,
                                                 jax.random.split(k_upd, updates_per_iteration))
      return s, jnp.sum(losses), jnp.sum(q_means), jnp.max(q_abs), jnp.float32(
          updates_per_iteration), jnp.all(jnp.isfinite(losses))

    def skip(s):
      return s, jnp.float32(0), jnp.float32(0), jnp.float32(0), jnp.float32(0), jnp.bool_(True)

    state, loss_sum, q_sum, q_abs, n_updates, finite = jax.lax.cond(learn, do_updates, skip, state)
    acc = trainer_lib.tally_episodes(dict(
        acc, loss=acc["loss"] + loss_sum, q=acc["q"] + q_sum, n=acc["n"] + n_updates,
        q_abs=jnp.maximum(acc["q_abs"], q_abs), finite=acc["finite"] & finite),
        info["episode_done"], info["episode_return"], info["episode_length"])
    return (state, acc), None

  def log_interval(carry, log_index, hp):
    state, finite_so_far = carry
    acc = dict(loss=jnp.float32(0), q=jnp.float32(0), q_abs=jnp.float32(0), n=jnp.float32(0),
               finite=jnp.bool_(True), **trainer_lib.episode_tally())
    (state, acc), _ = jax.lax.scan(lambda c, x: iteration(c, x, hp), (state, acc), None,
                                   length=iterations_per_log)
    state, episode_metrics = trainer_lib.close_interval(state, acc, log_index, logs_per_eval,
                                                        evaluate)
    finite = finite_so_far & acc["finite"]
    nan = jnp.float32(jnp.nan)
    metrics = dict(
        env_steps=state.env_steps,
        updates=state.updates,
        **episode_metrics,
        loss=jnp.where(acc["n"] > 0, acc["loss"] / jnp.maximum(acc["n"], 1), nan),
        q_mean=jnp.where(acc["n"] > 0, acc["q"] / jnp.maximum(acc["n"], 1), nan),
        q_abs_max=jnp.where(acc["n"] > 0, acc["q_abs"], nan),
        loss_finite=finite,
        epsilon=epsilon_at(config.epsilon_schedule, hp, state.env_steps),
    )
    if reference is not None:
      metrics.update(reference(network.apply, state.params))
    return (state, finite), metrics

  def init_state(key, hp) -> DQNState:
    k_net, k_env, key = jax.random.split(key, 3)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(k_env, config.num_envs), env_params)
    params = network.init(k_net, obs[0])
    opt_state = make_optimizer(hp).init(params)
    example = buffers_lib.Transition(
        obs=obs[0], action=jnp.int32(0), reward=jnp.float32(0), discount=jnp.float32(0),
        next_obs=obs[0])
    return DQNState(params=params, target_params=params, opt_state=opt_state,
                    buffer=buffer.init(example), env_state=env_state, obs=obs, key=key,
                    env_steps=jnp.int32(0), updates=jnp.int32(0))

  return Trainer(
      name="dqn", config=config,
      init=lambda key, hp: (init_state(key, hp), jnp.bool_(True)),
      step=log_interval, num_logs=num_logs, steps_per_log=config.log_every,
      default_hyperparams=config.hyperparams(), validate=validate_hyperparams, network=network)
