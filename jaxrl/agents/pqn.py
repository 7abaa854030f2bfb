"""PQN (parallelised Q-learning with Q(lambda)) as one compiled function: ``make_train``.

Gallici et al. (2025), "Simplifying deep temporal difference learning" (purejaxql). No replay
buffer and no target network: ``num_envs`` environments step ``num_steps`` times with an
epsilon-greedy policy on the current Q-network (LayerNorm in every hidden layer keeps TD stable
without a target network); after each rollout the Q(lambda) targets are computed backwards over
it with the same network,

    y_t = r_t + discount_t * [(1 - c_t) ((1 - lambda) max_a Q(s_{t+1}, a) + lambda y_{t+1})
                              + c_t max_a Q(s_{t+1}, a)]

(:func:`jaxrl.returns.lambda_returns` with ``v_tp1 = max_a Q(obs_tp1, a)``; ``c_t`` cuts at
episode ends and at the rollout's end), and ``num_epochs`` passes over ``num_minibatches``
shuffled minibatches each take one gradient step on ``0.5 mean (Q(s_t, a_t) - y_t)^2``
(RAdam by default, gradient norm clipped, learning rate annealed linearly).

Termination is not truncation: ``discount_t = gamma (1 - terminated_t)`` zeroes the bootstrap
only on termination; on truncation the target bootstraps from ``max_a Q(obs_tp1, a)`` at the
final observation (purejaxql cuts both). Rewards are scaled by ``reward_scale`` in the targets
(returns and metrics are reported unscaled).

Memory (``network="gru"`` or ``"lstm"``, purejaxql's PQN-RNN): a recurrent Q-network
(:class:`jaxrl.networks.RecurrentNetwork` with a Q head, LayerNorm in its embedding) whose carry
is part of the state and is reset wherever an episode starts. The rollout keeps the memory it
started from; the targets value each ``obs_tp1`` with the carry its step left, and the update
replays whole sequences (:func:`jaxrl.networks.unroll`), so minibatches split the rollout across
environments, never across time.

Static structure in :class:`PQNConfig`; the numbers a sweep varies in :class:`PQNHyperparams`.

References:
  Gallici, Fellows, Ellis, Pou, Masmitja, Foerster, Martin (2025), Simplifying deep temporal
  difference learning, ICLR. Peng & Williams (1996), Incremental multi-step Q-learning.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxrl import networks as networks_lib
from jaxrl import policies as policies_lib
from jaxrl import returns as returns_lib
from jaxrl import rollouts
from jaxrl.agents import epochs as epochs_lib
from jaxrl.agents import optimizers
from jaxrl.agents import trainer as trainer_lib
from jaxrl.agents.config import POSITIVE_OR_INF, AgentConfig, hyperparameter, option
from jaxrl.envs import spaces as spaces_lib
from jaxrl.envs import wrappers as wrappers_lib
from jaxrl.validation import AT_LEAST_ONE, POSITIVE, UNIT_INTERVAL

Array = chex.Array

__all__ = ("PQNBatch", "PQNConfig", "PQNHyperparams", "PQNState", "PQNStats", "make_train",
           "q_lambda_targets")

OPTIMIZERS = ("radam", "adam")


@dataclasses.dataclass(frozen=True)
class PQNConfig(AgentConfig):
  """PQN's settings. Fields marked *hyperparameter* are the fields of :class:`PQNHyperparams`
  (vmappable); each declares its valid range once.

  The defaults are sized for a CPU: purejaxql's CartPole setting (32 envs x 64 steps, LayerNorm,
  RAdam, reward scale 0.1, lambda 0.95, epsilon to 0.2) with a 64x64 network and 4 epochs of 4
  minibatches instead of 256x256 and 4 x 16, and the learning rate raised to 3e-3 to match
  (two small sweeps, 42 settings on seeds 0-3, chose them; ``experiments/pqn_cartpole.py``
  checks them on other seeds). purejaxql's
  own numbers are ``hidden_sizes=(256, 256), num_minibatches=16, learning_rate=1e-4,
  epsilon_decay_steps=100_000`` (a GPU's setting).

  Attributes:
    total_steps: environment steps in all (summed over the parallel environments).
    num_envs: synchronous parallel environments.
    num_steps: steps per environment per rollout; a rollout is ``num_envs * num_steps`` steps.
    num_epochs: passes over each rollout.
    num_minibatches: minibatches per pass (must divide ``num_envs * num_steps``).
    network: ``"mlp"``, ``"cnn"`` (MinAtar images) or a recurrent ``"gru"`` / ``"lstm"``
      (``num_minibatches`` must then divide ``num_envs``).
    hidden_sizes: MLP widths (with a recurrent network: the embedding before the cell).
    memory_size: the recurrent cell's width.
    layer_norm: LayerNorm in every hidden layer (PQN's stabiliser; the CNN's convolution and
      dense layer too).
    optimizer: ``"radam"`` (PQN's) or ``"adam"``.
    max_grad_norm: global-norm gradient clipping (``inf`` disables it).
    anneal_lr: decay the learning rate linearly to zero over the run.
    epsilon_schedule: ``"constant"``, ``"linear"`` or ``"exponential"``
      (:func:`jaxrl.policies.epsilon_schedule`, by environment steps).
    log_every: environment steps between logged metrics (a multiple of ``num_envs * num_steps``).
    eval_every: environment steps between greedy evaluations (a multiple of ``log_every``).
    eval_episodes: episodes per greedy evaluation.
    eval_max_steps: step cap of an evaluation episode (None: the environment's limit).
    learning_rate: step size (*hyperparameter*).
    discount: the discount factor gamma in [0, 1] (*hyperparameter*).
    q_lambda: the lambda of the Q(lambda) targets (*hyperparameter*).
    reward_scale: rewards are multiplied by it in the targets (*hyperparameter*).
    epsilon_start: exploration rate at step 0 (*hyperparameter*).
    epsilon_end: exploration rate the schedule decays to (*hyperparameter*).
    epsilon_decay_steps: environment steps of the linear decay (or the exponential's time
      constant) (*hyperparameter*).
  """

  total_steps: int = option(512_000, AT_LEAST_ONE)
  num_envs: int = option(32, AT_LEAST_ONE)
  num_steps: int = option(64, AT_LEAST_ONE)
  num_epochs: int = option(4, AT_LEAST_ONE)
  num_minibatches: int = option(4, AT_LEAST_ONE)
  network: str = option("mlp", choices=("mlp", "cnn") + networks_lib.RECURRENT_CELLS)
  hidden_sizes: tuple[int, ...] = (64, 64)
  memory_size: int = option(128, AT_LEAST_ONE)
  layer_norm: bool = option(True)
  optimizer: str = option("radam", choices=OPTIMIZERS)
  max_grad_norm: float = option(10.0, POSITIVE_OR_INF)
  anneal_lr: bool = option(True)
  epsilon_schedule: str = option("linear", choices=policies_lib.EPSILON_SCHEDULES)
  log_every: int = option(20_480, AT_LEAST_ONE)
  eval_every: int = option(20_480, AT_LEAST_ONE)
  eval_episodes: int = option(8, AT_LEAST_ONE)
  eval_max_steps: int | None = option(None, AT_LEAST_ONE, optional=True)
  # hyperparameters (vmappable)
  learning_rate: float = hyperparameter(3e-3, POSITIVE)
  discount: float = hyperparameter(0.99, UNIT_INTERVAL)
  q_lambda: float = hyperparameter(0.95, UNIT_INTERVAL)
  reward_scale: float = hyperparameter(0.1, POSITIVE)
  epsilon_start: float = hyperparameter(1.0, UNIT_INTERVAL)
  epsilon_end: float = hyperparameter(0.2, UNIT_INTERVAL)
  epsilon_decay_steps: float = hyperparameter(80_000, POSITIVE)


#: The numbers a sweep may vary (generated from :class:`PQNConfig`'s hyperparameter fields).
PQNHyperparams = PQNConfig.hyperparams_type()


#: Everything a run carries (checkpoint this to resume): the on-policy agents' shared state.
PQNState = trainer_lib.OnPolicyState


class PQNBatch(NamedTuple):
  """One rollout's items, flattened to ``[B] = [num_steps * num_envs]``: observations ``[B, *O]``,
  actions ``[B]`` and Q(lambda) targets ``[B]``. For a recurrent network, environment-major
  sequences ``[E, T, ...]`` instead, with the episode starts ``start_t`` ``[E, T]`` and the
  ``carry`` ``[E, ...]`` the rollout started from (else both ``()``)."""

  obs_t: Array
  a_t: Array
  target_t: Array
  start_t: Any = ()
  carry: Any = ()


class PQNStats(NamedTuple):
  """One minibatch update's numbers, averaged into the metrics of their names: the TD loss and
  the mean ``Q(s_t, a_t)`` of the minibatch."""

  loss: Array
  q_mean: Array


def _check_config(config: PQNConfig) -> trainer_lib.Intervals:
  """The cross-field rules (each field's own range is checked by ``config.check()``)."""
  config.check()
  batch = config.num_envs * config.num_steps
  if batch % config.num_minibatches:
    raise ValueError(f"PQNConfig: num_minibatches ({config.num_minibatches}) must divide "
                     f"num_envs * num_steps ({batch}).")
  if config.network in networks_lib.RECURRENT_CELLS and config.num_envs % config.num_minibatches:
    raise ValueError(f"PQNConfig: with network={config.network!r} minibatches take whole "
                     f"environments' sequences, so num_minibatches ({config.num_minibatches}) "
                     f"must divide num_envs ({config.num_envs}).")
  return trainer_lib.intervals("PQNConfig", total_steps=config.total_steps,
                               log_every=config.log_every, eval_every=config.eval_every,
                               steps_per_iteration=batch, per_iteration="num_envs * num_steps")


def _epsilon(config: PQNConfig, hp):
  return policies_lib.epsilon_schedule(config.epsilon_schedule, hp.epsilon_start,
                                       hp.epsilon_end, hp.epsilon_decay_steps)


def q_lambda_targets(traj: rollouts.Trajectory, q_tp1: Array, hp) -> Array:
  """Q(lambda) targets ``[T, E]`` of a rollout: lambda-returns per environment bootstrapped
  from ``max_a Q(obs_tp1, a)`` (the final observation on truncation; zero at termination),
  rewards times ``reward_scale``.

  Args:
    traj: the rollout ``[T, E]`` (``r_t``, ``terminated_t``, ``truncated_t`` are read).
    q_tp1: float ``[T, E, A]`` ``Q(obs_tp1, .)``.
    hp: the hyperparameters (``discount``, ``q_lambda``, ``reward_scale``).
  """
  return jax.vmap(lambda *a: returns_lib.lambda_returns(*a, hp.q_lambda, parallel=True),
                  in_axes=1, out_axes=1)(hp.reward_scale * traj.r_t, traj.discount_t(hp.discount),
                              traj.end_t, jnp.max(q_tp1, axis=-1))


def _optimizer(config: PQNConfig, num_updates: int, hp) -> optax.GradientTransformation:
  """RAdam (or Adam) after a global-norm clip, annealed linearly to 0 over the run."""
  return optimizers.adam(hp.learning_rate, max_grad_norm=config.max_grad_norm,
                         anneal_steps=num_updates if config.anneal_lr else None,
                         rectified=config.optimizer == "radam", flatten=True)


def make_train(config: PQNConfig, env, env_params) -> trainer_lib.Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates the config, the action space (discrete only) and the network eagerly (ValueError,
  before anything compiles). Metrics (leading ``[num_logs]`` axis): those of every agent
  (:mod:`jaxrl.agents.trainer`), ``loss`` and ``q_mean`` (means over the interval's minibatch
  updates), ``epsilon``; on a tabular environment ``q_error`` and ``policy_match`` of
  ``Q / reward_scale`` (the network learns the scaled rewards' values) against the exact ``Q*``.
  """
  loop = _check_config(config)
  num_actions = spaces_lib.require_discrete("PQN", env, env_params)
  obs_shape = tuple(env.observation_space(env_params).shape)
  recurrent = config.network in networks_lib.RECURRENT_CELLS
  if recurrent:
    network = networks_lib.make_recurrent_network(
        config.network, num_actions, obs_shape, head="q", memory_size=config.memory_size,
        hidden_sizes=config.hidden_sizes, layer_norm=config.layer_norm)
  else:
    kwargs = dict(layer_norm=True) if config.layer_norm else {}
    network = networks_lib.make_q_network(config.network, num_actions, obs_shape,
                                          hidden_sizes=config.hidden_sizes, **kwargs)
  env = wrappers_lib.EpisodeStatistics(env)
  reference = None if recurrent else rollouts.tabular_reference(env_params)
  if recurrent:
    evaluate = rollouts.make_greedy_evaluation(
        env, env_params, network.apply, config.eval_episodes, config.eval_max_steps,
        initial_carry=network.initial_carry((config.eval_episodes,)))
  else:
    evaluate = rollouts.make_greedy_evaluation(env, env_params, network.apply,
                                               config.eval_episodes, config.eval_max_steps)
  updates_per_iteration = config.num_epochs * config.num_minibatches
  optimizer = functools.partial(_optimizer, config,
                                loop.num_logs * loop.iterations_per_log * updates_per_iteration)
  env_step = rollouts.make_env_step(env, env_params, config.num_envs)

  def q_values(params, mb: PQNBatch):
    """``(Q [B, A], the minibatch flattened to [B])``; a recurrent network replays the
    minibatch's sequences from their starting carry."""
    if not recurrent:
      return network.apply(params, mb.obs_t), mb
    q = networks_lib.unroll_sequences(network, params, mb.carry, mb.obs_t, mb.start_t)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    return q, jax.tree.map(flat, mb._replace(start_t=(), carry=()))

  def loss_fn(params, mb: PQNBatch):
    q, mb = q_values(params, mb)
    q_sa = jnp.take_along_axis(q, mb.a_t[:, None], axis=-1)[:, 0]
    return 0.5 * jnp.mean(jnp.square(q_sa - jax.lax.stop_gradient(mb.target_t))), jnp.mean(q_sa)

  def iteration(state: PQNState, hp):
    """An epsilon-greedy rollout, its Q(lambda) targets, then the epochs of minibatches."""
    epsilon = _epsilon(config, hp)(state.env_steps)

    def greedy(key, q):
      keys = jax.random.split(key, config.num_envs)
      return jax.vmap(policies_lib.epsilon_greedy, in_axes=(0, 0, None))(keys, q, epsilon)

    if recurrent:
      def act_recurrent(key, params, obs, carry, start):
        carry, q = network.apply(params, carry, obs, start)
        return greedy(key, q), (), carry

      (env_state, obs, key, memory), traj = rollouts.make_recurrent_rollout(
          env_step, act_recurrent, config.num_steps)(state.key, state.params, state.env_state,
                                                     state.obs, state.memory)
      q_tp1 = network.apply(state.params, traj.extras_t.carry_tp1, traj.obs_tp1,
                            jnp.zeros(traj.r_t.shape, bool))[1]
    else:
      (env_state, obs, key), traj = rollouts.make_rollout(
          env_step, lambda k, p, o: (greedy(k, network.apply(p, o)), ()), config.num_steps)(
              state.key, state.params, state.env_state, state.obs)
      memory = ()
      q_tp1 = network.apply(state.params, traj.obs_tp1)
    targets = q_lambda_targets(traj, q_tp1, hp)
    if recurrent:
      seq = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731
      batch = PQNBatch(obs_t=seq(traj.obs_t), a_t=seq(traj.a_t), target_t=seq(targets),
                       start_t=seq(traj.extras_t.start_t), carry=state.memory.carry)
    else:
      flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
      batch = PQNBatch(obs_t=flat(traj.obs_t), a_t=flat(traj.a_t), target_t=flat(targets))

    def update(carry, mb):
      params, opt_state = carry
      (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
      updates, opt_state = optimizer(hp).update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), (PQNStats(loss, q_mean),
                                                                 jnp.isfinite(loss))

    key, k_epochs = jax.random.split(key)
    (params, opt_state), (stats, finite) = epochs_lib.run_epochs(
        k_epochs, (state.params, state.opt_state), batch, update, num_epochs=config.num_epochs,
        num_minibatches=config.num_minibatches)
    state = PQNState(params=params, opt_state=opt_state, env_state=env_state, obs=obs, key=key,
                     env_steps=state.env_steps + config.num_envs * config.num_steps,
                     updates=state.updates + updates_per_iteration, memory=memory)
    return state, trainer_lib.IterationStats(
        sums=jax.tree.map(jnp.sum, stats), count=jnp.float32(updates_per_iteration),
        finite=jnp.all(finite), episodes=trainer_lib.episodes_of(traj))

  def report(state: PQNState, hp) -> dict:
    metrics = dict(epsilon=_epsilon(config, hp)(state.env_steps))
    if reference is not None:   # Q learns reward_scale * Q*: compare on the reward's scale
      metrics.update(reference(lambda p, o: network.apply(p, o) / hp.reward_scale, state.params))
    return metrics

  def init_state(key, hp) -> PQNState:
    k_net, k_env, key = jax.random.split(key, 3)
    obs, env_state = rollouts.reset(env, env_params, k_env, config.num_envs)
    if recurrent:
      params = network.init(k_net, network.initial_carry(), obs[0], jnp.bool_(True))
      memory = rollouts.Memory(network.initial_carry((config.num_envs,)),
                               jnp.ones(config.num_envs, bool))
    else:
      params, memory = network.init(k_net, obs[0]), ()
    return PQNState(params=params, opt_state=optimizer(hp).init(params), env_state=env_state,
                    obs=obs, key=key, env_steps=jnp.int32(0), updates=jnp.int32(0),
                    memory=memory)

  return trainer_lib.make_trainer(
      "pqn", config, state_type=PQNState, init_state=init_state, iteration=iteration, loop=loop,
      evaluate=evaluate, sums=PQNStats, report=report, network=network)
