"""TD3 (twin delayed DDPG) and DDPG as one pure, compiled function: ``make_train``.

Fujimoto et al. (2018). A deterministic policy ``mu(s)`` in ``[-1, 1]^D``
(:class:`~jaxrl.networks.DeterministicPolicy`) acts with Gaussian noise
(:func:`jaxrl.policies.gaussian_exploration`, ``exploration_noise`` in units of the action
half-width); the environment gets the action rescaled to its bounds. Before
``learning_starts`` environment steps, actions are uniform in the box. Each gradient update
samples a minibatch and regresses the critics (:class:`~jaxrl.networks.ContinuousQNetwork`)
onto the clipped double-Q target (:func:`jaxrl.losses.clipped_double_q_target`)

    y = r + discount min_i Qbar_i(s', a'),   a' = clip(mubar(s') + clip(sigma eps, -c, c), -1, 1)

(target policy smoothing, :func:`jaxrl.policies.smoothed_target_action`: ``sigma =
target_noise``, ``c = target_noise_clip``), ``L_Q = mean sum_i 0.5 (Q_i(s, a) - y)^2``. Every
``policy_delay``-th update (counted over the run, so the schedule holds whatever the number of
environments and updates per iteration) also steps the policy on ``-mean Q_1(s, mu(s))`` and
moves both target networks ``theta_bar <- tau theta + (1 - tau) theta_bar``.

**DDPG** (Lillicrap et al. 2016) is the setting without TD3's three changes: one critic
(``twin_critics=False``), no target smoothing (``target_noise=0``) and no delay
(``policy_delay=1``); :class:`DDPGConfig` is that setting (``jaxrl train ddpg``).

Termination is not truncation (:mod:`jaxrl.agents.off_policy`).

References:
  Fujimoto, van Hoof & Meger (2018), Addressing function approximation error in actor-critic
  methods, ICML.
  Lillicrap et al. (2016), Continuous control with deep reinforcement learning, ICLR (DDPG).
  Silver et al. (2014), Deterministic policy gradient algorithms, ICML.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxrl import buffers as buffers_lib
from jaxrl import distributions as distributions_lib
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
from jaxrl.validation import AT_LEAST_ONE, HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE, UNIT_INTERVAL

Array = chex.Array

__all__ = ("DDPGConfig", "DDPGHyperparams", "TD3Config", "TD3Hyperparams", "TD3Params",
           "TD3State", "TD3Stats", "make_train")


@dataclasses.dataclass(frozen=True)
class TD3Config(AgentConfig):
  """TD3's settings (Fujimoto et al.'s: 256x256 ReLU, Adam 3e-4, batch 256, tau 0.005,
  exploration noise 0.1, target noise 0.2 clipped at 0.5, policy delay 2). Fields marked
  *hyperparameter* are the fields of :class:`TD3Hyperparams` (vmappable).

  Attributes:
    total_steps: environment steps in all (summed over the parallel environments).
    num_envs: environments stepping in parallel.
    hidden_sizes: hidden widths of the actor and of each critic.
    activation: the hidden nonlinearity (``"relu"``, ``"tanh"`` or ``"swish"``).
    buffer_size: replay capacity (transitions).
    batch_size: minibatch size.
    learning_starts: environment steps of uniform random actions before the policy acts (and
      before the first update).
    updates_per_step: critic updates per iteration (one step of every environment); ``1/k``:
      one every ``k`` iterations.
    policy_delay: the policy and the targets step on every ``policy_delay``-th critic update.
    twin_critics: two critics and the minimum in the target (else one critic: DDPG's).
    max_grad_norm: global-norm clipping of each network's gradient (``inf``: none).
    log_every, eval_every, eval_episodes, eval_max_steps: as every agent's.
    learning_rate: the critics' Adam step size (*hyperparameter*).
    actor_learning_rate: the policy's Adam step size (*hyperparameter*).
    discount: gamma (*hyperparameter*).
    tau: the targets' Polyak step (*hyperparameter*).
    exploration_noise: the behaviour noise's scale, in action half-widths (*hyperparameter*).
    target_noise: the target smoothing noise's scale ``sigma`` (*hyperparameter*; 0: none).
    target_noise_clip: its bound ``c`` (*hyperparameter*).
  """

  total_steps: int = option(100_000, AT_LEAST_ONE)
  num_envs: int = option(1, AT_LEAST_ONE)
  hidden_sizes: tuple[int, ...] = (256, 256)
  activation: str = option("relu", choices=tuple(networks_lib.ACTIVATIONS))
  buffer_size: int = option(100_000, AT_LEAST_ONE)
  batch_size: int = option(256, AT_LEAST_ONE)
  learning_starts: int = option(5_000, NON_NEGATIVE)
  updates_per_step: float = option(1.0, POSITIVE)
  policy_delay: int = option(2, AT_LEAST_ONE)
  twin_critics: bool = option(True)
  max_grad_norm: float = option(float("inf"), POSITIVE_OR_INF)
  log_every: int = option(5_000, AT_LEAST_ONE)
  eval_every: int = option(5_000, AT_LEAST_ONE)
  eval_episodes: int = option(10, AT_LEAST_ONE)
  eval_max_steps: int | None = option(None, AT_LEAST_ONE, optional=True)
  # hyperparameters (vmappable)
  learning_rate: float = hyperparameter(3e-4, POSITIVE)
  actor_learning_rate: float = hyperparameter(3e-4, POSITIVE)
  discount: float = hyperparameter(0.99, UNIT_INTERVAL)
  tau: float = hyperparameter(0.005, HALF_OPEN_UNIT)
  exploration_noise: float = hyperparameter(0.1, NON_NEGATIVE)
  target_noise: float = hyperparameter(0.2, NON_NEGATIVE)
  target_noise_clip: float = hyperparameter(0.5, NON_NEGATIVE)


@dataclasses.dataclass(frozen=True)
class DDPGConfig(TD3Config):
  """DDPG (Lillicrap et al. 2016) as a setting of TD3: one critic, no target smoothing, no
  delay (``twin_critics=False``, ``target_noise=0``, ``policy_delay=1``); every other field as
  :class:`TD3Config`. Setting those fields back gives TD3."""

  policy_delay: int = option(1, AT_LEAST_ONE)
  twin_critics: bool = option(False)
  target_noise: float = hyperparameter(0.0, NON_NEGATIVE)


#: The numbers a sweep may vary (generated from :class:`TD3Config`'s hyperparameter fields).
TD3Hyperparams = TD3Config.hyperparams_type()
#: DDPG's (the same fields).
DDPGHyperparams = DDPGConfig.hyperparams_type()

#: Everything a run carries: :class:`~jaxrl.agents.off_policy.OffPolicyState` with ``params``,
#: ``target_params`` and ``opt_state`` each a :class:`TD3Params`.
TD3State = off_policy.OffPolicyState


class TD3Params(NamedTuple):
  """The policy's and the critics' (leading ``[N]``) parameters (or their targets, or their
  optimizer states)."""

  actor: Any
  critic: Any


class TD3Stats(NamedTuple):
  """Summed over an interval's updates; ``actor_loss`` (``-mean Q_1(s, mu(s))``) over the
  policy's updates only (a :class:`~jaxrl.agents.trainer.Weighted`)."""

  critic_loss: Array
  q_mean: Array
  actor_loss: Any

  weighted = ("actor_loss",)


class TD3Maxima(NamedTuple):
  """Maximised over an interval's minibatches (metric ``q_abs_max``)."""

  q_abs_max: Array


def make_train(config: TD3Config, env, env_params) -> trainer_lib.Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able
  (TD3, or DDPG with a :class:`DDPGConfig`).

  Validates the config and the action space eagerly (ValueError before anything compiles; a
  ``Box [D]`` of actions). ``trainer.network`` is the policy: apply it to
  ``state.params.actor``.

  Metrics (leading ``[num_logs]`` axis): those of every agent (:mod:`jaxrl.agents.trainer`),
  ``critic_loss``, ``q_mean`` (means over the interval's updates), ``actor_loss`` (over its
  policy updates), ``q_abs_max``; NaN before learning starts.
  """
  loop, schedule = off_policy.check_config(config)
  name = "ddpg" if isinstance(config, DDPGConfig) else "td3"
  spec = spaces_lib.require_continuous(name.upper(), env, env_params)
  obs_shape = tuple(env.observation_space(env_params).shape)
  action_dim = spec.size
  nets = dict(hidden_sizes=tuple(config.hidden_sizes), activation=config.activation,
              observation_ndim=len(obs_shape))
  actor = networks_lib.DeterministicPolicy(action_dim, **nets)
  critic = networks_lib.ContinuousQNetwork(2 if config.twin_critics else 1, **nets)
  to_env = distributions_lib.rescale_to(spec.low, spec.high)
  env = wrappers_lib.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, env_params, config.num_envs, action_map=to_env)
  buffer = buffers_lib.make_replay_buffer(config.buffer_size, config.batch_size,
                                          min_size=config.batch_size)
  evaluate = rollouts.make_greedy_evaluation(
      env, env_params, lambda params, obs: actor.apply(params.actor, obs),
      config.eval_episodes, config.eval_max_steps, to_action=to_env)

  def opt(lr):
    return optimizers.adam(lr, max_grad_norm=config.max_grad_norm)

  def update(state: TD3State, key, hp, index):
    k_batch, k_noise = jax.random.split(key)
    batch = buffer.sample(state.buffer, k_batch)
    params, target, opt_state = state.params, state.target_params, state.opt_state
    a_next = policies_lib.smoothed_target_action(
        k_noise, actor.apply(target.actor, batch.next_obs), hp.target_noise,
        hp.target_noise_clip)
    q_next = critic.apply(target.critic, batch.next_obs, a_next)                # [N, B]
    y = jax.vmap(losses_lib.clipped_double_q_target, in_axes=(0, 0, 1))(
        batch.reward, batch.discount, q_next)

    def critic_loss(p):
      q = critic.apply(p, batch.obs, batch.action)                               # [N, B]
      return jnp.mean(jax.vmap(losses_lib.ensemble_q_loss, in_axes=(1, 0))(q, y)), q

    (c_loss, q), grads = jax.value_and_grad(critic_loss, has_aux=True)(params.critic)
    steps, c_opt = opt(hp.learning_rate).update(grads, opt_state.critic, params.critic)
    critic_params = optax.apply_updates(params.critic, steps)

    def policy_step(_):
      def actor_loss(p):
        return -jnp.mean(critic.apply(critic_params, batch.obs, actor.apply(p, batch.obs))[0])

      a_loss, grads = jax.value_and_grad(actor_loss)(params.actor)
      steps, a_opt = opt(hp.actor_learning_rate).update(grads, opt_state.actor, params.actor)
      actor_params = optax.apply_updates(params.actor, steps)
      new_target = TD3Params(optax.incremental_update(actor_params, target.actor, hp.tau),
                             optax.incremental_update(critic_params, target.critic, hp.tau))
      return actor_params, a_opt, new_target, trainer_lib.Weighted(a_loss, jnp.float32(1))

    def no_policy_step(_):
      return params.actor, opt_state.actor, target, trainer_lib.Weighted(jnp.float32(0),
                                                                         jnp.float32(0))

    # ``index`` is the update's number in the run, unbatched: a branch, not a select
    actor_params, a_opt, target, a_loss = jax.lax.cond(index % config.policy_delay == 0,
                                                       policy_step, no_policy_step, None)
    state = state._replace(params=TD3Params(actor_params, critic_params), target_params=target,
                           opt_state=TD3Params(a_opt, c_opt), updates=state.updates + 1)
    finite = jnp.isfinite(c_loss) & jnp.isfinite(a_loss.total)
    return state, (TD3Stats(c_loss, jnp.mean(q), a_loss), TD3Maxima(jnp.max(jnp.abs(q))), finite)

  learn, skip = off_policy.make_learn(update, schedule, TD3Stats, TD3Maxima)

  def act(key, state: TD3State, hp, t):
    del t
    return policies_lib.gaussian_exploration(key, actor.apply(state.params.actor, state.obs),
                                             hp.exploration_noise)

  iteration = off_policy.make_iteration(
      env_step=env_step, buffer=buffer,
      act=off_policy.warm_up(act, learning_starts=config.learning_starts,
                             num_envs=config.num_envs, action_dim=action_dim),
      learn=learn, skip=skip, schedule=schedule, num_envs=config.num_envs)

  def init_state(key, hp) -> TD3State:
    k_actor, k_critic, k_env, key = jax.random.split(key, 4)
    obs, env_state = rollouts.reset(env, env_params, k_env, config.num_envs)
    params = TD3Params(actor=actor.init(k_actor, obs[0]),
                       critic=critic.init(k_critic, obs[0], jnp.zeros(action_dim)))
    opt_state = TD3Params(opt(hp.actor_learning_rate).init(params.actor),
                          opt(hp.learning_rate).init(params.critic))
    example = buffers_lib.Transition(obs=obs[0], action=jnp.zeros(action_dim),
                                     reward=jnp.float32(0), discount=jnp.float32(0),
                                     next_obs=obs[0])
    return TD3State(params=params, target_params=params, opt_state=opt_state,
                    buffer=buffer.init(example), env_state=env_state, obs=obs, key=key,
                    env_steps=jnp.int32(0), updates=jnp.int32(0))

  return trainer_lib.make_trainer(
      name, config, state_type=TD3State, init_state=init_state, iteration=iteration, loop=loop,
      evaluate=evaluate, sums=TD3Stats, maxima=TD3Maxima, network=actor, indexed=True)
