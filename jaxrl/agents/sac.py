"""SAC (soft actor-critic) as one pure, compiled function: ``make_train(config, env, env_params)``.

Haarnoja et al. (2018a, b). A tanh-squashed Gaussian policy (state-dependent scale,
:class:`~jaxrl.networks.SquashedGaussianPolicy`) acts in ``E`` parallel environments; its
action ``a = tanh(u)`` in ``[-1, 1]^D`` is stored in a replay buffer and the environment gets it
rescaled to the bounds, ``low + (a + 1) / 2 (high - low)``. Before ``learning_starts``
environment steps, actions are uniform in the box. Each gradient update samples a minibatch and

* regresses twin critics ``Q_1, Q_2`` (:class:`~jaxrl.networks.ContinuousQNetwork`) onto the
  soft clipped double-Q target (:func:`jaxrl.losses.soft_clipped_double_q_target`)

      y = r + discount (min_i Qbar_i(s', a') - alpha log pi(a' | s')),    a' ~ pi(. | s'),

  with ``Qbar`` the Polyak-averaged target critics, ``L_Q = mean sum_i 0.5 (Q_i(s, a) - y)^2``;
* then steps the policy on ``mean[alpha log pi(a~ | s) - min_i Q_i(s, a~)]`` with the
  reparameterised sample ``a~ = tanh(mu + sigma eps)`` (:func:`jaxrl.losses.sac_policy_loss`);
* then, with ``autotune``, the temperature on ``mean[-alpha (log pi(a~ | s) + H_target)]``
  (:func:`jaxrl.losses.temperature_loss`, gradient in ``log alpha``), ``H_target =
  -target_entropy_scale * D``; without it ``alpha`` stays fixed;
* and moves the target critics ``Qbar <- tau Q + (1 - tau) Qbar`` (``optax.incremental_update``).

``log pi`` is the density of the action in the environment's bounds: the Gaussian's, corrected
by the squash's and the rescaling's Jacobian (:func:`jaxrl.distributions.tanh_gaussian`). The
greedy evaluation acts with ``tanh(mu(s))`` rescaled.

Termination is not truncation: ``discount = gamma (1 - terminated)`` and the next state of a
truncated step is its final observation (:mod:`jaxrl.agents.off_policy`). Updates run on the
schedule of ``updates_per_step`` (gradient updates per iteration of the ``E`` environments),
whatever ``E`` is.

References:
  Haarnoja et al. (2018a), Soft actor-critic: off-policy maximum entropy deep reinforcement
  learning with a stochastic actor, ICML.
  Haarnoja et al. (2018b), Soft actor-critic algorithms and applications, arXiv:1812.05905
  (the automatic temperature).
  Fujimoto et al. (2018), Addressing function approximation error in actor-critic methods
  (clipped double Q).
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
from jaxrl import rollouts
from jaxrl.agents import off_policy
from jaxrl.agents import optimizers
from jaxrl.agents import trainer as trainer_lib
from jaxrl.agents.config import POSITIVE_OR_INF, AgentConfig, hyperparameter, option
from jaxrl.envs import spaces as spaces_lib
from jaxrl.envs import wrappers as wrappers_lib
from jaxrl.validation import AT_LEAST_ONE, HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE, UNIT_INTERVAL

Array = chex.Array

__all__ = ("SACConfig", "SACHyperparams", "SACParams", "SACState", "SACStats", "make_train")


@dataclasses.dataclass(frozen=True)
class SACConfig(AgentConfig):
  """SAC's settings (Haarnoja et al.'s: 256x256 ReLU networks, Adam 3e-4, batch 256, tau 0.005,
  learned temperature towards ``-dim(A)``). Fields marked *hyperparameter* are the fields of
  :class:`SACHyperparams` (vmappable); each declares its valid range once.

  Attributes:
    total_steps: environment steps in all (summed over the parallel environments).
    num_envs: environments stepping in parallel; each iteration stores ``num_envs`` transitions.
    hidden_sizes: hidden widths of the actor and of each critic.
    activation: the hidden nonlinearity (``"relu"``, ``"tanh"`` or ``"swish"``).
    buffer_size: replay capacity (transitions).
    batch_size: minibatch size.
    learning_starts: environment steps of uniform random actions before the policy acts (and
      before the first update).
    updates_per_step: gradient updates per iteration (one step of every environment); ``1/k``:
      one update every ``k`` iterations.
    autotune: learn the temperature towards the target entropy (else ``alpha`` stays fixed).
    max_grad_norm: global-norm clipping of each network's gradient (``inf``: none).
    log_every: environment steps between logged metrics (a multiple of ``num_envs``).
    eval_every: environment steps between greedy evaluations (a multiple of ``log_every``).
    eval_episodes: episodes per evaluation.
    eval_max_steps: step cap of an evaluation episode (None: the environment's limit).
    learning_rate: the critics' Adam step size (*hyperparameter*).
    actor_learning_rate: the policy's Adam step size (*hyperparameter*).
    alpha_learning_rate: the temperature's Adam step size (*hyperparameter*).
    discount: gamma (*hyperparameter*).
    tau: the target critics' Polyak step per update (*hyperparameter*).
    alpha: the temperature: its initial value with ``autotune``, else its value throughout
      (*hyperparameter*).
    target_entropy_scale: the target entropy is ``-target_entropy_scale * dim(A)``
      (*hyperparameter*; SAC's default 1).
  """

  total_steps: int = option(100_000, AT_LEAST_ONE)
  num_envs: int = option(1, AT_LEAST_ONE)
  hidden_sizes: tuple[int, ...] = (256, 256)
  activation: str = option("relu", choices=tuple(networks_lib.ACTIVATIONS))
  buffer_size: int = option(100_000, AT_LEAST_ONE)
  batch_size: int = option(256, AT_LEAST_ONE)
  learning_starts: int = option(5_000, NON_NEGATIVE)
  updates_per_step: float = option(1.0, POSITIVE)
  autotune: bool = option(True)
  max_grad_norm: float = option(float("inf"), POSITIVE_OR_INF)
  log_every: int = option(5_000, AT_LEAST_ONE)
  eval_every: int = option(5_000, AT_LEAST_ONE)
  eval_episodes: int = option(10, AT_LEAST_ONE)
  eval_max_steps: int | None = option(None, AT_LEAST_ONE, optional=True)
  # hyperparameters (vmappable)
  learning_rate: float = hyperparameter(3e-4, POSITIVE)
  actor_learning_rate: float = hyperparameter(3e-4, POSITIVE)
  alpha_learning_rate: float = hyperparameter(3e-4, POSITIVE)
  discount: float = hyperparameter(0.99, UNIT_INTERVAL)
  tau: float = hyperparameter(0.005, HALF_OPEN_UNIT)
  alpha: float = hyperparameter(1.0, POSITIVE)
  target_entropy_scale: float = hyperparameter(1.0, NON_NEGATIVE)


#: The numbers a sweep may vary (generated from :class:`SACConfig`'s hyperparameter fields).
SACHyperparams = SACConfig.hyperparams_type()

#: Everything a run carries: :class:`~jaxrl.agents.off_policy.OffPolicyState` with ``params`` a
#: :class:`SACParams`, ``target_params`` the target critics', ``opt_state`` a :class:`SACParams`
#: of the three optimizer states.
SACState = off_policy.OffPolicyState


class SACParams(NamedTuple):
  """SAC's learned parameters: the policy's, the critics' (leading ``[2]``), and ``log alpha``
  (float32 ``[]``)."""

  actor: Any
  critic: Any
  log_alpha: Array


class SACStats(NamedTuple):
  """Summed over an interval's updates (the metrics of their names; ``entropy`` is
  ``-mean log pi`` of the policy's samples, ``alpha`` the temperature the update used)."""

  critic_loss: Array
  actor_loss: Array
  alpha_loss: Array
  q_mean: Array
  entropy: Array
  alpha: Array


class SACMaxima(NamedTuple):
  """Maximised over an interval's minibatches (metric ``q_abs_max``)."""

  q_abs_max: Array


def make_train(config: SACConfig, env, env_params) -> trainer_lib.Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates the config and the action space eagerly (ValueError before anything compiles; SAC
  takes a ``Box [D]`` of actions). ``trainer.network`` is the policy: apply it to
  ``state.params.actor``.

  Metrics (leading ``[num_logs]`` axis): those of every agent (:mod:`jaxrl.agents.trainer`),
  and the means over the interval's updates of ``critic_loss``, ``actor_loss``, ``alpha_loss``
  (0 without ``autotune``), ``q_mean``, ``entropy`` and ``alpha`` (NaN before learning starts),
  ``q_abs_max`` (compare it with ``r_max / (1 - discount)``).
  """
  loop, schedule = off_policy.check_config(config)
  spec = spaces_lib.require_continuous("SAC", env, env_params)
  obs_shape = tuple(env.observation_space(env_params).shape)
  action_dim = spec.size
  nets = dict(hidden_sizes=tuple(config.hidden_sizes), activation=config.activation,
              observation_ndim=len(obs_shape))
  actor = networks_lib.SquashedGaussianPolicy(action_dim, **nets)
  critic = networks_lib.ContinuousQNetwork(2, **nets)
  dist = distributions_lib.tanh_gaussian(spec.low, spec.high)
  to_env = distributions_lib.rescale_to(spec.low, spec.high)
  env = wrappers_lib.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, env_params, config.num_envs, action_map=to_env)
  buffer = buffers_lib.make_replay_buffer(config.buffer_size, config.batch_size,
                                          min_size=config.batch_size)
  evaluate = rollouts.make_greedy_evaluation(
      env, env_params, lambda params, obs: actor.apply(params.actor, obs),
      config.eval_episodes, config.eval_max_steps,
      to_action=lambda out: to_env(jnp.tanh(out[0])))

  def opt(lr):
    return optimizers.adam(lr, max_grad_norm=config.max_grad_norm)

  def sample(key, actor_params, obs):
    """``(a = tanh(u) [B, D], log pi(a | s) [B])`` of a reparameterised sample."""
    pi = actor.apply(actor_params, obs)
    u = dist.sample(key, pi)
    return jnp.tanh(u), dist.log_prob(pi, u)

  def update(state: SACState, key, hp, index):
    del index
    k_batch, k_next, k_pi = jax.random.split(key, 3)
    batch = buffer.sample(state.buffer, k_batch)
    params, opt_state = state.params, state.opt_state
    alpha = jnp.exp(params.log_alpha) if config.autotune else hp.alpha
    # critics: the soft clipped double-Q target from the target critics
    a_next, log_pi_next = sample(k_next, params.actor, batch.next_obs)
    q_next = critic.apply(state.target_params, batch.next_obs, a_next)          # [2, B]
    y = jax.vmap(losses_lib.soft_clipped_double_q_target, in_axes=(0, 0, 1, 0, None))(
        batch.reward, batch.discount, q_next, log_pi_next, alpha)

    def critic_loss(p):
      q = critic.apply(p, batch.obs, batch.action)                               # [2, B]
      return jnp.mean(jax.vmap(losses_lib.ensemble_q_loss, in_axes=(1, 0))(q, y)), q

    (c_loss, q), grads = jax.value_and_grad(critic_loss, has_aux=True)(params.critic)
    steps, c_opt = opt(hp.learning_rate).update(grads, opt_state.critic, params.critic)
    critic_params = optax.apply_updates(params.critic, steps)

    # policy: through the updated critics
    def actor_loss(p):
      a, log_pi = sample(k_pi, p, batch.obs)
      q_pi = critic.apply(critic_params, batch.obs, a)
      return jnp.mean(jax.vmap(losses_lib.sac_policy_loss, in_axes=(1, 0, None))(
          q_pi, log_pi, alpha)), log_pi

    (a_loss, log_pi), grads = jax.value_and_grad(actor_loss, has_aux=True)(params.actor)
    steps, a_opt = opt(hp.actor_learning_rate).update(grads, opt_state.actor, params.actor)
    actor_params = optax.apply_updates(params.actor, steps)

    # temperature
    target_entropy = -hp.target_entropy_scale * action_dim
    if config.autotune:
      def alpha_loss(log_alpha):
        return jnp.mean(jax.vmap(losses_lib.temperature_loss, in_axes=(None, 0, None))(
            jnp.exp(log_alpha), log_pi, target_entropy))

      t_loss, grad = jax.value_and_grad(alpha_loss)(params.log_alpha)
      steps, t_opt = opt(hp.alpha_learning_rate).update(grad, opt_state.log_alpha,
                                                         params.log_alpha)
      log_alpha = optax.apply_updates(params.log_alpha, steps)
    else:
      t_loss, t_opt, log_alpha = jnp.float32(0), opt_state.log_alpha, params.log_alpha

    target = optax.incremental_update(critic_params, state.target_params, hp.tau)
    state = state._replace(params=SACParams(actor_params, critic_params, log_alpha),
                           target_params=target, opt_state=SACParams(a_opt, c_opt, t_opt),
                           updates=state.updates + 1)
    stats = SACStats(critic_loss=c_loss, actor_loss=a_loss, alpha_loss=t_loss,
                     q_mean=jnp.mean(q), entropy=-jnp.mean(log_pi), alpha=jnp.float32(alpha))
    finite = jnp.isfinite(c_loss) & jnp.isfinite(a_loss) & jnp.isfinite(t_loss)
    return state, (stats, SACMaxima(jnp.max(jnp.abs(q))), finite)

  learn, skip = off_policy.make_learn(update, schedule, SACStats, SACMaxima)

  def act(key, state: SACState, hp, t):
    del hp, t
    return sample(key, state.params.actor, state.obs)[0]

  iteration = off_policy.make_iteration(
      env_step=env_step, buffer=buffer,
      act=off_policy.warm_up(act, learning_starts=config.learning_starts,
                             num_envs=config.num_envs, action_dim=action_dim),
      learn=learn, skip=skip, schedule=schedule, num_envs=config.num_envs)

  def report(state: SACState, hp) -> dict:
    return dict(alpha=jnp.exp(state.params.log_alpha) if config.autotune else hp.alpha)

  def init_state(key, hp) -> SACState:
    k_actor, k_critic, k_env, key = jax.random.split(key, 4)
    obs, env_state = rollouts.reset(env, env_params, k_env, config.num_envs)
    params = SACParams(actor=actor.init(k_actor, obs[0]),
                       critic=critic.init(k_critic, obs[0], jnp.zeros(action_dim)),
                       log_alpha=jnp.log(jnp.asarray(hp.alpha, jnp.float32)))
    opt_state = SACParams(opt(hp.actor_learning_rate).init(params.actor),
                          opt(hp.learning_rate).init(params.critic),
                          opt(hp.alpha_learning_rate).init(params.log_alpha))
    example = buffers_lib.Transition(obs=obs[0], action=jnp.zeros(action_dim),
                                     reward=jnp.float32(0), discount=jnp.float32(0),
                                     next_obs=obs[0])
    return SACState(params=params, target_params=params.critic, opt_state=opt_state,
                    buffer=buffer.init(example), env_state=env_state, obs=obs, key=key,
                    env_steps=jnp.int32(0), updates=jnp.int32(0))

  return trainer_lib.make_trainer(
      "sac", config, state_type=SACState, init_state=init_state, iteration=iteration, loop=loop,
      evaluate=evaluate, sums=SACStats, maxima=SACMaxima, report=report, network=actor,
      indexed=True)
