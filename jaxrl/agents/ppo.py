"""PPO (proximal policy optimization, clipped surrogate) as one compiled function: ``make_train``.

Schulman et al. (2017). ``num_envs`` environments step ``num_steps`` times with the current
policy ``pi_old`` (categorical logits for a discrete action space, a diagonal Gaussian with a
state-independent ``log_std`` for a continuous one), recording ``log pi_old(a_t | s_t)`` and
``V_old(s_t)``. Advantages are GAE(lambda) (:func:`jaxrl.returns.gae`, as a log-depth
associative scan: ``parallel=True``), the critic's targets
``G_t = A_t + V_old(s_t)``. Then ``num_epochs`` passes over ``num_minibatches`` shuffled
minibatches (:mod:`jaxrl.agents.epochs`) each take one gradient step on

    L = -mean_t[min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t)]      rho_t = pi / pi_old
        + value_coef * L_V - entropy_coef * mean_t[H(pi(. | s_t))]

with ``A_t`` standardised per minibatch (``normalize_advantages``) and
``L_V = 0.5 mean_t[(V(s_t) - G_t)^2]``, or with ``clip_value`` the clipped form
``0.5 mean_t[max((V - G)^2, (V_old + clip(V - V_old, -eps, eps) - G)^2)]``. The gradient's global
norm is clipped; the learning rate is annealed linearly to zero over the run (``anneal_lr``).

Termination is not truncation: GAE's bootstrap ``V(s_{t+1})`` is zeroed only on termination
(``discount_t = gamma (1 - terminated_t)``); on truncation it is ``V(obs_tp1)``, the value of the
final observation, and the recursion is cut there.

Continuous actions (``action_squash``): with ``"clip"`` a sample ``u ~ N(mu(s), sigma^2)`` is
stored as drawn, the environment gets ``clip(u, low, high)``, and ratios and entropies use the
unclipped sample's Gaussian density; the greedy evaluation acts with ``clip(mu(s), low, high)``.
With ``"tanh"`` (Brax's ``NormalTanhDistribution``) the environment gets
``a = low + (tanh(u) + 1) / 2 (high - low)``, always inside the bounds, and

    log pi(a | s) = log N(u; mu, sigma) - sum_d log((high_d - low_d) / 2 (1 - tanh(u_d)^2))

(:func:`jaxrl.distributions.tanh_gaussian`); the Jacobian term cancels in the ratio, and the
entropy ``H(N) + E[log |da/du|]`` takes its expectation by Gauss-Hermite quadrature. The
greedy evaluation acts with ``squash(mu(s))``.

Observations (``normalize_observations``, Brax's ``normalize_observations=True``): the network
sees ``clip((o - mean) / sqrt(var + 1e-8), -observation_clip, observation_clip)`` with running
statistics over every observation acted on so far (:mod:`jaxrl.normalization`). They travel
inside the parameters (:class:`jaxrl.networks.NormalizedParams`): rollout, update and greedy
evaluation standardise alike, checkpoints hold them, and ``trainer.network.apply(state.params,
obs)`` takes raw observations. A rollout is acted on and learned from with the same statistics
(the ratios start at 1); its observations are merged in after its update.

Rewards: the rollout's rewards are multiplied by ``reward_scaling`` (Brax's), then with
``normalize_rewards`` divided by the running std of the discounted return (PureJaxRL's
``NormalizeVecReward``; :func:`jaxrl.normalization.normalize_rewards`, its state in
``PPOState.reward_norm``). Both touch only what the agent learns from: ``episode_return`` and
``eval_return`` stay in the environment's own reward.

Memory (``network="gru"`` or ``"lstm"``, :class:`jaxrl.networks.RecurrentNetwork`): the policy
and the critic share a recurrent torso whose carry is part of the state
(``PPOState.memory``), reset wherever an episode starts, in the middle of a rollout too. The
rollout keeps the memory it started from; the update replays whole sequences from it
(:func:`jaxrl.networks.unroll` with the rollout's episode starts), so minibatches split the
rollout across environments, never across time, and the first epoch's ratios are exactly 1.
The value of a truncated episode's final observation is taken with the carry the step left.

Static structure in :class:`PPOConfig`; the numbers a sweep varies in :class:`PPOHyperparams`.

References:
  Schulman et al. (2017), Proximal policy optimization algorithms, arXiv:1707.06347.
  Huang et al. (2022), The 37 implementation details of proximal policy optimization, ICLR blog.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxrl import distributions as distributions_lib
from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import normalization
from jaxrl import returns as returns_lib
from jaxrl import rollouts
from jaxrl.agents import actors
from jaxrl.agents import epochs as epochs_lib
from jaxrl.agents import optimizers
from jaxrl.agents import trainer as trainer_lib
from jaxrl.agents.config import POSITIVE_OR_INF, AgentConfig, hyperparameter, option
from jaxrl.validation import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, Rule

Array = chex.Array

__all__ = ("PPOBatch", "PPOConfig", "PPOHyperparams", "PPOState", "PPOStats", "make_train",
           "rollout_batch")


@dataclasses.dataclass(frozen=True)
class PPOConfig(AgentConfig):
  """PPO's settings (PureJaxRL's CartPole defaults). Fields marked *hyperparameter* are the
  fields of :class:`PPOHyperparams` (vmappable); each declares its valid range once.

  Attributes:
    total_steps: environment steps in all (summed over the parallel environments).
    num_envs: synchronous parallel environments.
    num_steps: steps per environment per rollout; a rollout is ``num_envs * num_steps`` steps.
    num_epochs: passes over each rollout.
    num_minibatches: minibatches per pass (must divide ``num_envs * num_steps``).
    network: ``"mlp"`` (any action space), ``"cnn"`` (images, discrete actions), or a
      recurrent torso ``"gru"`` / ``"lstm"`` (any action space; ``num_minibatches`` must then
      divide ``num_envs``).
    hidden_sizes: MLP torso widths (with a recurrent network: the embedding before the cell).
    memory_size: the recurrent cell's width (and its heads' hidden width).
    shared_torso: one torso for the actor and the critic (MLP only).
    clip_value: clip the critic's update around ``V_old`` by ``clip_eps`` too (PureJaxRL's
      default; on CartPole it decides whether late training holds at 500: 40/40 seeds at the
      end with it, 25/40 without, 5 root seeds x 8). Returns of hundreds per unit of
      ``clip_eps`` learn slowly with it (``experiments/ppo_pendulum.py`` turns it off).
    normalize_advantages: standardise the advantages of each minibatch.
    max_grad_norm: global-norm gradient clipping (``inf`` disables it).
    anneal_lr: decay the learning rate linearly to zero over the run.
    log_std_init: the initial ``log sigma`` of a Gaussian policy (continuous actions).
    action_squash: how a continuous action reaches the environment: ``"clip"`` (the Gaussian
      sample clipped to the bounds) or ``"tanh"`` (squashed into them by tanh, the log-density
      corrected by the squash's Jacobian). Ignored for discrete actions.
    normalize_observations: standardise the network's input by running mean and variance of
      the observations, kept in the parameters (checkpointed with them).
    observation_clip: the bound of the standardised observations (``inf``: none).
    normalize_rewards: divide rewards by the running std of the discounted return.
    log_every: environment steps between logged metrics (a multiple of ``num_envs * num_steps``).
    eval_every: environment steps between greedy evaluations (a multiple of ``log_every``).
    eval_episodes: episodes per evaluation (greedy: most probable action, or the mean).
    eval_max_steps: step cap of an evaluation episode (None: the environment's limit).
    learning_rate: Adam step size (*hyperparameter*).
    discount: the discount factor gamma in [0, 1] (*hyperparameter*).
    gae_lambda: GAE's lambda (*hyperparameter*).
    clip_eps: the ratio clip ``eps`` (and the value clip's) (*hyperparameter*).
    value_coef: weight of the critic's loss (*hyperparameter*).
    entropy_coef: weight of the entropy bonus (*hyperparameter*).
    reward_scaling: the factor on every reward the agent learns from (*hyperparameter*; the
      metrics keep the environment's rewards).
  """

  total_steps: int = option(491_520, AT_LEAST_ONE)
  num_envs: int = option(4, AT_LEAST_ONE)
  num_steps: int = option(128, AT_LEAST_ONE)
  num_epochs: int = option(4, AT_LEAST_ONE)
  num_minibatches: int = option(4, AT_LEAST_ONE)
  network: str = option("mlp", choices=networks_lib.ACTOR_CRITIC_KINDS
                        + networks_lib.RECURRENT_CELLS)
  hidden_sizes: tuple[int, ...] = (64, 64)
  memory_size: int = option(128, AT_LEAST_ONE)
  shared_torso: bool = option(False)
  clip_value: bool = option(True)
  normalize_advantages: bool = option(True)
  max_grad_norm: float = option(0.5, POSITIVE_OR_INF)
  anneal_lr: bool = option(True)
  log_std_init: float = option(0.0, Rule(words="must be finite"))
  action_squash: str = option("clip", choices=distributions_lib.SQUASHES)
  normalize_observations: bool = option(False)
  observation_clip: float = option(10.0, POSITIVE_OR_INF)
  normalize_rewards: bool = option(False)
  log_every: int = option(10_240, AT_LEAST_ONE)
  eval_every: int = option(10_240, AT_LEAST_ONE)
  eval_episodes: int = option(8, AT_LEAST_ONE)
  eval_max_steps: int | None = option(None, AT_LEAST_ONE, optional=True)
  # hyperparameters (vmappable)
  learning_rate: float = hyperparameter(2.5e-4, POSITIVE)
  discount: float = hyperparameter(0.99, UNIT_INTERVAL)
  gae_lambda: float = hyperparameter(0.95, UNIT_INTERVAL)
  clip_eps: float = hyperparameter(0.2, POSITIVE)
  value_coef: float = hyperparameter(0.5, NON_NEGATIVE)
  entropy_coef: float = hyperparameter(0.01, NON_NEGATIVE)
  reward_scaling: float = hyperparameter(1.0, POSITIVE)


#: The numbers a sweep may vary (generated from :class:`PPOConfig`'s hyperparameter fields).
PPOHyperparams = PPOConfig.hyperparams_type()


#: Everything a run carries (checkpoint this to resume): the on-policy agents' shared state.
PPOState = trainer_lib.OnPolicyState


class PPOBatch(NamedTuple):
  """One rollout's items, flattened to ``[B] = [num_steps * num_envs]``; for a recurrent
  network, environment-major sequences ``[E, T, ...]`` instead (minibatches take whole
  environments).

  Attributes:
    obs_t: ``[B, *O]``; a_t: ``[B, ...]`` the actions as sampled (unclipped);
    log_prob_t: ``[B]`` ``log pi_old(a_t | s_t)``; value_t: ``[B]`` ``V_old(s_t)``;
    advantage_t: ``[B]`` GAE; target_t: ``[B]`` the critic's target ``A_t + V_old(s_t)``.
    start_t: bool ``[E, T]`` the carry was reset before ``obs_t`` (recurrent only, else
      ``()``); carry: the carry ``[E, ...]`` the rollout started from (recurrent only).
  """

  obs_t: Array
  a_t: Array
  log_prob_t: Array
  value_t: Array
  advantage_t: Array
  target_t: Array
  start_t: Any = ()
  carry: Any = ()


class PPOStats(NamedTuple):
  """One minibatch update's numbers, averaged over a logging interval into the metrics of their
  names (``approx_kl``: ``mean((rho - 1) - log rho)``; ``clip_fraction``: the fraction of
  ratios outside ``[1 - eps, 1 + eps]``)."""

  loss: Array
  policy_loss: Array
  value_loss: Array
  entropy: Array
  approx_kl: Array
  clip_fraction: Array


def _check_config(config: PPOConfig) -> trainer_lib.Intervals:
  """The cross-field rules (each field's own range is checked by ``config.check()``)."""
  config.check()
  batch = config.num_envs * config.num_steps
  if batch % config.num_minibatches:
    raise ValueError(f"PPOConfig: num_minibatches ({config.num_minibatches}) must divide "
                     f"num_envs * num_steps ({batch}).")
  if config.network in networks_lib.RECURRENT_CELLS and config.num_envs % config.num_minibatches:
    raise ValueError(f"PPOConfig: with network={config.network!r} minibatches take whole "
                     f"environments' sequences, so num_minibatches ({config.num_minibatches}) "
                     f"must divide num_envs ({config.num_envs}).")
  return trainer_lib.intervals("PPOConfig", total_steps=config.total_steps,
                               log_every=config.log_every, eval_every=config.eval_every,
                               steps_per_iteration=batch, per_iteration="num_envs * num_steps")


def _make_loss(config: PPOConfig, actor: actors.Actor):
  """``loss_fn(trainable, minibatch: PPOBatch, hp, params) -> (loss, PPOStats)``."""
  dist = actor.dist

  def forward(params, mb: PPOBatch):
    """The policy's output and the values on the minibatch, and the minibatch flattened."""
    if not actor.recurrent:
      return actor.network.apply(params, mb.obs_t), mb
    out = networks_lib.unroll_sequences(actor.network, params, mb.carry, mb.obs_t, mb.start_t)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    return out, jax.tree.map(flat, mb._replace(start_t=(), carry=()))

  def loss_fn(trainable, mb: PPOBatch, hp, params):
    """``trainable``: the part of ``params`` the gradient is taken of (all of it, or without
    the observation statistics)."""
    (pi, v), mb = forward(networks_lib.replace_trainable(params, trainable), mb)
    log_ratio = dist.log_prob(pi, mb.a_t) - mb.log_prob_t
    ratio = jnp.exp(log_ratio)
    adv = losses_lib.normalize(mb.advantage_t) if config.normalize_advantages else mb.advantage_t
    pg = losses_lib.clipped_surrogate_pg_loss(ratio, adv, hp.clip_eps)
    if config.clip_value:
      vl = losses_lib.clipped_value_loss(v, mb.value_t, mb.target_t, hp.clip_eps)
    else:
      vl = losses_lib.value_loss(v, mb.target_t)
    out = losses_lib.actor_critic_loss(pg, vl, jnp.mean(dist.entropy(pi)),
                                       value_coef=hp.value_coef, entropy_coef=hp.entropy_coef)
    approx_kl = jnp.mean((ratio - 1.0) - log_ratio)
    clipped = jnp.mean((jnp.abs(ratio - 1.0) > hp.clip_eps).astype(jnp.float32))
    return out.loss, PPOStats(*out, approx_kl=approx_kl, clip_fraction=clipped)

  return loss_fn


def rollout_batch(traj: rollouts.Trajectory, v_tp1: Array, hp, memory=None) -> PPOBatch:
  """GAE per environment over the ``[T, E]`` rollout, then every item flattened to ``[T * E]``
  (with ``memory``, the recurrent rollout's starting :class:`~jaxrl.rollouts.Memory`: kept as
  environment-major sequences ``[E, T, ...]`` with the episode starts and the starting carry).

  Args:
    traj: the rollout; ``extras_t`` holds ``(log pi_old(a_t | s_t), V_old(s_t))`` (inside a
      :class:`~jaxrl.rollouts.RecurrentExtras` for a recurrent rollout).
    v_tp1: float ``[T, E]`` ``V(obs_tp1)``: the value of the state each step reached (the final
      observation on truncation; read only where the step did not terminate).
    hp: the hyperparameters (``discount``, ``gae_lambda``).
    memory: the recurrent rollout's memory at its start, or None.
  """
  extras = traj.extras_t if memory is None else traj.extras_t.extras
  log_prob, value = extras
  adv = jax.vmap(lambda *a: returns_lib.gae(*a, hp.gae_lambda, parallel=True), in_axes=1,
                 out_axes=1)(
      traj.r_t, traj.discount_t(hp.discount), traj.end_t, value, v_tp1)
  if memory is not None:
    seq = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731
    return PPOBatch(obs_t=seq(traj.obs_t), a_t=seq(traj.a_t), log_prob_t=seq(log_prob),
                    value_t=seq(value), advantage_t=seq(adv), target_t=seq(adv + value),
                    start_t=seq(traj.extras_t.start_t), carry=memory.carry)
  flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
  return PPOBatch(obs_t=flat(traj.obs_t), a_t=flat(traj.a_t), log_prob_t=flat(log_prob),
                  value_t=flat(value), advantage_t=flat(adv), target_t=flat(adv + value))


def make_train(config: PPOConfig, env, env_params) -> trainer_lib.Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates the config, the action space and the network eagerly (ValueError, before anything
  compiles). Metrics (leading ``[num_logs]`` axis): those of every agent
  (:mod:`jaxrl.agents.trainer`), and the means over the interval's minibatch updates of
  ``loss``, ``policy_loss``, ``value_loss``, ``entropy``, ``approx_kl``, ``clip_fraction``; on a
  tabular environment ``policy_match``.
  """
  loop = _check_config(config)
  actor, env, rollout, evaluate, reference = actors.make_on_policy_parts(
      "PPOConfig", config, env, env_params, length=config.num_steps, record=True)
  network = actor.network
  loss_fn = _make_loss(config, actor)
  updates_per_iteration = config.num_epochs * config.num_minibatches
  optimizer = functools.partial(_optimizer, config,
                                loop.num_logs * loop.iterations_per_log * updates_per_iteration)

  def iteration(state: PPOState, hp):
    """A rollout of ``num_steps`` steps of every environment, then the epochs of minibatches."""
    if actor.recurrent:
      (env_state, obs, key, memory), traj = rollout(state.key, state.params, state.env_state,
                                                    state.obs, state.memory)
      # V(final obs) on truncation, from the carry the step left
      v_tp1 = network.apply(state.params, traj.extras_t.carry_tp1, traj.obs_tp1,
                            jnp.zeros(traj.r_t.shape, bool))[1][1]
    else:
      (env_state, obs, key), traj = rollout(state.key, state.params, state.env_state, state.obs)
      memory = ()
      v_tp1 = network.apply(state.params, traj.obs_tp1)[1]     # V(final obs) on truncation
    episodes = trainer_lib.episodes_of(traj)                   # the environment's rewards
    r_t, reward_norm = traj.r_t * hp.reward_scaling, state.reward_norm
    if config.normalize_rewards:
      r_t, reward_norm = normalization.normalize_rewards(reward_norm, r_t, traj.end_t,
                                                         hp.discount)

    def update(carry, mb):
      trainable, opt_state = carry
      (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable, mb, hp,
                                                                       state.params)
      updates, opt_state = optimizer(hp).update(grads, opt_state, trainable)
      return (optax.apply_updates(trainable, updates), opt_state), (stats, jnp.isfinite(loss))

    key, k_epochs = jax.random.split(key)
    (trainable, opt_state), (stats, finite) = epochs_lib.run_epochs(
        k_epochs, (networks_lib.trainable(state.params), state.opt_state),
        rollout_batch(traj._replace(r_t=r_t), v_tp1, hp,
                      state.memory if actor.recurrent else None), update,
        num_epochs=config.num_epochs, num_minibatches=config.num_minibatches)
    params = networks_lib.replace_trainable(state.params, trainable)
    if config.normalize_observations:                          # for the next rollout
      params = network.observe(params, traj.obs_t, batch_dims=2)
    state = PPOState(params=params, opt_state=opt_state, env_state=env_state, obs=obs, key=key,
                     env_steps=state.env_steps + config.num_envs * config.num_steps,
                     updates=state.updates + updates_per_iteration, reward_norm=reward_norm,
                     memory=memory)
    return state, trainer_lib.IterationStats(
        sums=jax.tree.map(jnp.sum, stats), count=jnp.float32(updates_per_iteration),
        finite=jnp.all(finite), episodes=episodes)

  def report(state: PPOState, hp) -> dict:
    del hp
    if reference is None:
      return {}
    return dict(policy_match=reference(actor.pi, state.params)["policy_match"])

  def init_state(key, hp) -> PPOState:
    k_net, k_env, key = jax.random.split(key, 3)
    obs, env_state = rollouts.reset(env, env_params, k_env, config.num_envs)
    if actor.recurrent:
      memory = actor.initial_memory(config.num_envs)
      params = network.init(k_net, network.initial_carry(), obs[0], jnp.bool_(True))
    else:
      memory = ()
      params = network.init(k_net, obs[0])
    reward_norm = (normalization.init_return_normalizer(config.num_envs)
                   if config.normalize_rewards else ())
    return PPOState(params=params, opt_state=optimizer(hp).init(networks_lib.trainable(params)),
                    env_state=env_state, obs=obs, key=key, env_steps=jnp.int32(0),
                    updates=jnp.int32(0), reward_norm=reward_norm, memory=memory)

  return trainer_lib.make_trainer(
      "ppo", config, state_type=PPOState, init_state=init_state, iteration=iteration, loop=loop,
      evaluate=evaluate, sums=PPOStats, report=report, network=network)


def _optimizer(config: PPOConfig, num_updates: int, hp) -> optax.GradientTransformation:
  """Adam (eps 1e-5) after a global-norm clip, annealed to 0 over the run's minibatch updates."""
  return optimizers.adam(hp.learning_rate, max_grad_norm=config.max_grad_norm, eps=1e-5,
                         anneal_steps=num_updates if config.anneal_lr else None, flatten=True)
