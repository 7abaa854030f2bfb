"""DQN as one pure, compiled function: ``make_train(config, env, env_params) -> train(key)``.

The course notes' algorithm (Mnih et al., 2013/2015): an epsilon-greedy behaviour policy fills a
replay buffer from ``num_envs`` parallel environments; minibatches sampled uniformly from it
regress ``Q_new(s, a)`` onto ``r + discount * max_a' Q_old(s', a')``, where ``Q_old`` (the target
network) is a hard copy every ``target_update_period`` updates or a Polyak average. The bootstrap
is zeroed only on *termination*; on truncation (a time limit) the target bootstraps from the
final observation of the episode, which the environment returns in ``info["final_observation"]``.

The Rainbow family's parts are options of the same agent, each a component of its own
(Hessel et al., 2018, without noisy nets)::

    DQNConfig(replay="prioritized", n_step=3, dueling=True, head="c51")     # "Rainbow"

* ``replay="prioritized"``: proportional prioritized replay (Schaul et al., 2016;
  :func:`jaxrl.buffers.make_prioritized_replay_buffer`): transitions are sampled with
  probability ``P(i) = p_i / sum_j p_j``, ``p_i = (signal_i + priority_epsilon)^alpha`` with
  ``alpha = priority_exponent``, new ones at the largest priority so far; each sampled loss is
  weighted by ``w_i = (N P(i))^-beta / max_batch w``, ``beta`` annealed linearly from
  ``importance_sampling_exponent`` to 1 over ``total_steps``. The signal is the transition's
  ``|TD error|`` (scalar head) or its loss (C51's cross-entropy, QR-DQN's quantile loss).
* ``n_step = n``: n-step targets from the replay
  (:func:`jaxrl.agents.off_policy.n_step_push`), cut at termination and truncation.
* ``dueling=True``: ``Q = V + A - mean_a A`` (Wang et al., 2016), per atom with a
  distributional head.
* ``head="c51"``: ``num_atoms`` atoms on ``[v_min, v_max]`` and the categorical projection
  (Bellemare et al., 2017; :func:`jaxrl.losses.categorical_q_learning`); ``head="qr"``:
  ``num_atoms`` quantiles at the midpoints ``(2i + 1) / 2K`` and the quantile (Huber) loss
  (Dabney et al., 2018; :func:`jaxrl.losses.quantile_q_learning`, ``kappa = huber_delta``
  with ``loss="huber"``, 0 with ``"mse"``). Actions are greedy in the distribution's mean;
  ``double_dqn`` selects the bootstrap action by the online network's mean.

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
#: Replay schemes: uniform sampling, or proportional prioritization.
REPLAYS = ("uniform", "prioritized")
#: Value heads: one value per action, C51's categorical distribution, QR-DQN's quantiles.
HEADS = ("scalar", "c51", "qr")


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
    replay: ``"uniform"`` or ``"prioritized"`` (see the module docstring).
    n_step: steps summed in the bootstrapped target (1: the one-step target).
    dueling: a dueling head, ``Q = V + A - mean_a A``.
    head: ``"scalar"``, ``"c51"`` (categorical) or ``"qr"`` (quantiles).
    num_atoms: C51's atoms or QR-DQN's quantiles.
    v_min: the lowest of C51's atoms, ``linspace(v_min, v_max, num_atoms)``.
    v_max: the highest of C51's atoms.
    priority_epsilon: added to a transition's signal before the exponent, so none has
      priority 0.
    priority_exponent: ``alpha``, 0 is uniform sampling (*hyperparameter*).
    importance_sampling_exponent: ``beta`` at step 0, annealed linearly to 1 at
      ``total_steps`` (*hyperparameter*).
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
  replay: str = option("uniform", choices=REPLAYS)
  n_step: int = option(1, AT_LEAST_ONE)
  dueling: bool = option(False)
  head: str = option("scalar", choices=HEADS)
  num_atoms: int = option(51, AT_LEAST_ONE)
  v_min: float = option(-10.0)
  v_max: float = option(10.0)
  priority_epsilon: float = option(1e-6, POSITIVE)
  priority_exponent: float = hyperparameter(0.6, NON_NEGATIVE)
  importance_sampling_exponent: float = hyperparameter(0.4, UNIT_INTERVAL)

  def check_family(self) -> None:
    """The Rainbow options' rules across fields (ValueError naming them)."""
    if self.head == "c51":
      if self.num_atoms < 2:
        raise ValueError(f"DQNConfig: head='c51' needs num_atoms >= 2, got {self.num_atoms}.")
      if not self.v_min < self.v_max:
        raise ValueError(f"DQNConfig: head='c51' needs v_min < v_max, got v_min={self.v_min}, "
                         f"v_max={self.v_max}.")
      if self.loss != "mse":
        raise ValueError("DQNConfig: head='c51' has its own loss (the cross-entropy to the "
                         f"projected target); loss={self.loss!r} would be ignored, leave it "
                         "'mse'.")


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


class _Head(NamedTuple):
  """How a value head turns the network's output into action values and a loss.

  Attributes:
    q_values: output ``[..., A]`` or ``[..., A, K]`` -> action values ``[..., A]`` (the mean
      of a distributional head).
    loss: ``(out_tm1, a_tm1, r_t, discount_t, out_t_target, out_t_online) -> (loss, signal)``
      for one transition: the loss to minimise and the prioritized replay signal (``|TD
      error|`` or the loss). ``out_t_online`` is None without double DQN.
  """

  q_values: Any
  loss: Any


def _make_head(config: DQNConfig) -> _Head:
  """The :class:`_Head` of ``config.head``."""
  huber = config.huber_delta if config.loss == "huber" else None
  if config.head == "scalar":

    def scalar_loss(q_tm1, a_tm1, r_t, discount_t, q_t_target, q_t_online):
      if q_t_online is None:
        loss = losses_lib.q_learning_loss(q_tm1, a_tm1, r_t, discount_t, q_t_target,
                                          huber_delta=huber)
        target = losses_lib.q_learning_target(r_t, discount_t, q_t_target)
      else:
        loss = losses_lib.double_q_learning_loss(q_tm1, a_tm1, r_t, discount_t, q_t_target,
                                                 q_t_online, huber_delta=huber)
        target = losses_lib.double_q_learning_target(r_t, discount_t, q_t_target, q_t_online)
      return loss, jnp.abs(losses_lib.td_error(q_tm1, a_tm1, target))

    return _Head(q_values=lambda out: out, loss=scalar_loss)

  if config.head == "c51":
    atoms = jnp.linspace(config.v_min, config.v_max, config.num_atoms, dtype=jnp.float32)

    def c51_values(logits):
      return jnp.sum(jax.nn.softmax(logits, axis=-1) * atoms, axis=-1)

    def c51_loss(logits_tm1, a_tm1, r_t, discount_t, logits_t_target, logits_t_online):
      if logits_t_online is None:
        loss = losses_lib.categorical_q_learning(atoms, logits_tm1, a_tm1, r_t, discount_t,
                                                 atoms, logits_t_target)
      else:
        loss = losses_lib.categorical_double_q_learning(
            atoms, logits_tm1, a_tm1, r_t, discount_t, atoms, logits_t_target,
            c51_values(logits_t_online))
      return loss, jax.lax.stop_gradient(loss)

    return _Head(q_values=c51_values, loss=c51_loss)

  taus = losses_lib.quantile_midpoints(config.num_atoms)
  kappa = 0.0 if huber is None else float(huber)

  def qr_loss(dist_tm1, a_tm1, r_t, discount_t, dist_t_target, dist_t_online):
    selector = dist_t_target if dist_t_online is None else dist_t_online
    # the network's [A, K] against rlax's quantiles-first [K, A]
    loss = losses_lib.quantile_q_learning(dist_tm1.T, taus, a_tm1, r_t, discount_t, selector.T,
                                          dist_t_target.T, huber_param=kappa)
    return loss, jax.lax.stop_gradient(loss)

  return _Head(q_values=lambda dist: jnp.mean(dist, axis=-1), loss=qr_loss)


def _importance_exponent(config: DQNConfig, hp, env_steps):
  """``beta``: ``importance_sampling_exponent`` at step 0, linearly to 1 at ``total_steps``."""
  frac = jnp.minimum(env_steps.astype(jnp.float32) / config.total_steps, 1.0)
  return hp.importance_sampling_exponent + frac * (1.0 - hp.importance_sampling_exponent)


def _make_update(config: DQNConfig, network, head: _Head, buffer):
  """``update(state, key, hp, index) -> (state, (DQNStats, DQNMaxima, finite))``: one gradient
  step on a sampled minibatch (importance-weighted, and its priorities updated, with
  prioritized replay), then the target network's hard copy or Polyak step."""
  prioritized = config.replay == "prioritized"

  def batch_loss(params, target_params, batch, weights):
    out_tm1 = network.apply(params, batch.obs)
    out_t_target = network.apply(target_params, batch.next_obs)
    out_t_online = network.apply(params, batch.next_obs) if config.double_dqn else None
    per_item, signal = jax.vmap(head.loss)(out_tm1, batch.action, batch.reward, batch.discount,
                                           out_t_target, out_t_online)
    loss = jnp.mean(per_item) if weights is None else jnp.mean(weights * per_item)
    q_tm1 = head.q_values(out_tm1)
    return loss, (jnp.mean(q_tm1), jnp.max(jnp.abs(q_tm1)), signal)

  def update(state: DQNState, key, hp, index):
    del index
    if prioritized:
      sample = buffer.sample(state.buffer, key)
      batch = sample.items
      weights = buffers_lib.importance_weights(
          sample.probabilities, state.buffer.size,
          _importance_exponent(config, hp, state.env_steps))
    else:
      batch, weights = buffer.sample(state.buffer, key), None
    (loss, (q_mean, q_abs, signal)), grads = jax.value_and_grad(batch_loss, has_aux=True)(
        state.params, state.target_params, batch, weights)
    optimizer = optimizers.adam(hp.learning_rate, max_grad_norm=config.max_grad_norm)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    n = state.updates + 1
    if config.target_update == "hard":
      target = optax.periodic_update(params, state.target_params, n, hp.target_update_period)
    else:
      target = optax.incremental_update(params, state.target_params, hp.polyak_step)
    buffer_state = state.buffer
    if prioritized:
      priorities = (signal + config.priority_epsilon) ** hp.priority_exponent
      buffer_state = buffer.update_priorities(buffer_state, sample.indices, priorities)
    return state._replace(params=params, target_params=target, opt_state=opt_state,
                          updates=n, buffer=buffer_state), (
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
  config.check_family()
  obs_shape = tuple(env.observation_space(env_params).shape)
  num_actions = spaces_lib.require_discrete("DQN", env, env_params)
  head_kwargs = {} if config.head == "scalar" else dict(num_atoms=config.num_atoms)
  if config.dueling:
    head_kwargs["dueling"] = True
  network = networks_lib.make_q_network(config.network, num_actions, obs_shape,
                                        hidden_sizes=config.hidden_sizes, **head_kwargs)
  head = _make_head(config)
  q_apply = lambda params, obs: head.q_values(network.apply(params, obs))  # noqa: E731
  env = wrappers_lib.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, env_params, config.num_envs)
  make_buffer = (buffers_lib.make_prioritized_replay_buffer if config.replay == "prioritized"
                 else buffers_lib.make_replay_buffer)
  buffer = make_buffer(config.buffer_size, config.batch_size, min_size=config.batch_size)
  reference = rollouts.tabular_reference(env_params)
  evaluate = rollouts.make_greedy_evaluation(env, env_params, q_apply, config.eval_episodes,
                                             config.eval_max_steps)
  learn, skip = off_policy.make_learn(_make_update(config, network, head, buffer), schedule,
                                     DQNStats, DQNMaxima)

  def act(key, state: DQNState, hp, t):
    """Epsilon-greedy in every environment."""
    del t
    q = q_apply(state.params, state.obs)
    return jax.vmap(policies_lib.epsilon_greedy, in_axes=(0, 0, None))(
        jax.random.split(key, config.num_envs), q, _epsilon(config, hp)(state.env_steps))

  iteration = off_policy.make_iteration(env_step=env_step, buffer=buffer, act=act, learn=learn,
                                        skip=skip, schedule=schedule, num_envs=config.num_envs,
                                        n_step=config.n_step)

  def report(state: DQNState, hp) -> dict:
    metrics = dict(epsilon=_epsilon(config, hp)(state.env_steps))
    if reference is not None:
      metrics.update(reference(q_apply, state.params))
    return metrics

  def init_state(key, hp) -> DQNState:
    k_net, k_env, key = jax.random.split(key, 3)
    obs, env_state = rollouts.reset(env, env_params, k_env, config.num_envs)
    params = network.init(k_net, obs[0])
    opt_state = optimizers.adam(hp.learning_rate, max_grad_norm=config.max_grad_norm).init(params)
    example = buffers_lib.Transition(obs=obs[0], action=jnp.int32(0), reward=jnp.float32(0),
                                     discount=jnp.float32(0), next_obs=obs[0])
    window = (None if config.n_step == 1
              else off_policy.n_step_window(example, config.n_step, config.num_envs))
    return DQNState(params=params, target_params=params, opt_state=opt_state,
                    buffer=buffer.init(example), env_state=env_state, obs=obs, key=key,
                    env_steps=jnp.int32(0), updates=jnp.int32(0), window=window)

  return trainer_lib.make_trainer(
      "dqn", config, state_type=DQNState, init_state=init_state, iteration=iteration, loop=loop,
      evaluate=evaluate, sums=DQNStats, maxima=DQNMaxima, report=report, network=network,
      indexed=True)
