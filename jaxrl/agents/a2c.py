"""A2C (synchronous advantage actor-critic) as one compiled function: ``make_train -> train(key)``.

The course notes' advantage actor-critic (Mnih et al., 2016, synchronous form): ``num_envs``
environments step in lock-step for ``num_steps`` steps with the current policy
``a ~ softmax(logits(s))``; the critic ``V(s)`` replaces the Monte Carlo return by an estimate of
the advantage ``A(s, a) = Q(s, a) - V(s)``, and one gradient step minimises

    L = -mean_t[log pi(a_t | s_t) * A_t] + value_coef * mean_t[0.5 (V(s_t) - G_t)^2]
        - entropy_coef * mean_t[H(pi(. | s_t))]

with ``A_t`` from GAE(lambda) (``advantage="gae"``) or n-step returns minus ``V(s_t)``
(``advantage="n_step"``), and ``G_t = A_t + V(s_t)`` the critic's target (both from
:mod:`jaxrl.returns`, gradients stopped). The gradient's global norm is clipped.

Termination is not truncation: the bootstrap ``V(s_{t+1})`` is zeroed only on termination
(``discount_t = gamma * (1 - terminated_t)``); on truncation the returns are cut there and
bootstrap from ``V(info["final_observation"])``, and at the window's end from ``V(s_{t+n})``.

**Action-value critic** (``critic="q"``; the notes' "actor-critic", whose critic learned from
data takes the place of the return). The critic head outputs ``Q(s, .)`` ``[A]`` and the policy's
state value is ``V(s) = sum_a pi(a | s) Q(s, a)``. One gradient step minimises

    L = -mean_t[log pi(a_t | s_t) * w_t] + value_coef * mean_t[0.5 (Q(s_t, a_t) - y_t)^2]
        - entropy_coef * mean_t[H(pi(. | s_t))],
    w_t = Q(s_t, a_t) - V(s_t)   (q_baseline=True; Q(s_t, a_t) alone with q_baseline=False),

with ``w_t`` and ``y_t`` gradient-stopped and ``w_t`` taken from the critic alone (no rewards).
The target bootstraps from ``b(s') = Q(s', a')`` (``q_target="sarsa"``: ``a'`` the next action
taken, or one sampled from ``pi(. | s')`` where the window or the episode is cut) or from
``b(s') = sum_a pi(a | s') Q(s', a)`` (``q_target="expected_sarsa"``):

    advantage="n_step":  y_t = r_t + g r_{t+1} + ... + g^{k-1} r_{t+k-1} + g^k b(s_{t+k}),
                         k = min(n_step, steps to the episode's or window's end)
                         (n_step=1: TD(0) SARSA / expected SARSA);
    advantage="gae":     y_t = r_t + discount_t * (b(s_{t+1})
                                                   + lambda (y_{t+1} - Q(s_{t+1}, a_{t+1})))
                         (SARSA(lambda) for "sarsa"; expected SARSA(lambda) with the action-
                         dependent control variate, Sutton & Barto 2018, sec. 12.9, for
                         "expected_sarsa"), cut like GAE,

with the same termination and truncation conventions as the ``V`` critic (``b`` is zeroed only
on termination and taken at ``info["final_observation"]`` on truncation).

Static structure lives in :class:`A2CConfig`; the numbers a sweep varies live in
:class:`A2CHyperparams` (``jax.vmap(train, in_axes=(0, 0))(keys, hyperparams)``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import policies as policies_lib
from jaxrl import returns as returns_lib
from jaxrl import rollouts
from jaxrl.agents import actors
from jaxrl.agents import optimizers
from jaxrl.agents import trainer as trainer_lib
from jaxrl.agents.config import POSITIVE_OR_INF, AgentConfig, hyperparameter, option
from jaxrl.validation import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, UNIT_INTERVAL

Array = chex.Array

__all__ = ("A2CConfig", "A2CHyperparams", "A2CState", "make_train")

ADVANTAGES = ("gae", "n_step")
CRITICS = ("v", "q")
Q_TARGETS = ("sarsa", "expected_sarsa")


@dataclasses.dataclass(frozen=True)
class A2CConfig(AgentConfig):
  """A2C's settings. Fields marked *hyperparameter* are the fields of :class:`A2CHyperparams`
  (vmappable); each field declares its valid range once (:mod:`jaxrl.agents.config`).

  Attributes:
    total_steps: environment steps in all (summed over the parallel environments).
    num_envs: synchronous parallel environments.
    num_steps: steps per environment between updates (the rollout length ``n``); one update
      consumes ``num_envs * num_steps`` transitions.
    network: ``"mlp"`` (vector observations) or ``"cnn"`` (images ``[H, W, C]``).
    hidden_sizes: MLP torso widths.
    shared_torso: one torso for the actor and the critic (MLP only).
    advantage: ``"gae"`` (GAE(lambda)) or ``"n_step"`` (n-step return minus ``V(s_t)``, with
      ``n = n_step``, cut at episode ends and at the window's end). With ``critic="q"`` it picks
      the critic's target instead: lambda-return or n-step return (see the module docstring).
    n_step: the ``n`` of ``advantage="n_step"`` (None: ``num_steps``).
    critic: ``"v"`` (a state-value critic, advantages from returns) or ``"q"`` (an action-value
      critic ``Q(s, .)``; the policy-gradient weight is ``Q(s, a) - V(s)``).
    q_target: with ``critic="q"``: ``"expected_sarsa"`` or ``"sarsa"`` bootstrap.
    q_baseline: with ``critic="q"``: subtract ``V(s) = sum_a pi(a | s) Q(s, a)`` from
      ``Q(s, a)`` in the policy-gradient weight (False: the plain ``Q(s, a)``; note that
      ``normalize_advantages`` still centres the weights on the batch mean).
    q_dueling: with ``critic="q"``: the dueling head ``Q(s, a) = V(s) + D(s, a) - mean D(s, .)``
      (:func:`jaxrl.networks.make_actor_critic`).
    normalize_advantages: standardise the batch's advantages (policy-gradient weights) before
      the policy loss.
    max_grad_norm: global-norm gradient clipping (``inf`` disables it).
    anneal_lr: decay the learning rate linearly to zero over the run.
    log_every: environment steps between logged metrics (a multiple of ``num_envs * num_steps``).
    eval_every: environment steps between greedy evaluations (a multiple of ``log_every``).
    eval_episodes: episodes per evaluation (greedy: ``argmax`` of the logits).
    eval_max_steps: step cap of an evaluation episode (None: the environment's limit).
    learning_rate: Adam step size (*hyperparameter*).
    discount: the discount factor gamma in [0, 1] (*hyperparameter*).
    gae_lambda: GAE's lambda (or the lambda of the Q critic's lambda-return)
      (*hyperparameter*).
    value_coef: weight of the critic's squared error in the loss (*hyperparameter*).
    entropy_coef: weight of the entropy bonus (*hyperparameter*).
    actor_lr_scale: the actor's step is ``learning_rate * actor_lr_scale`` (*hyperparameter*):
      Adam's update, after the global-norm clip over all parameters, times it; the critic steps
      with ``learning_rate``. Which parameters are the actor's the network says
      (:func:`jaxrl.networks.param_labels`: the policy head and a separate actor torso; a shared
      torso counts as critic). A slower actor (e.g. 0.1) lets a ``Q`` critic keep up with the
      policy (two-timescale actor-critic).
  """

  total_steps: int = option(500_000, AT_LEAST_ONE)
  num_envs: int = option(16, AT_LEAST_ONE)
  num_steps: int = option(5, AT_LEAST_ONE)
  network: str = option("mlp", choices=networks_lib.ACTOR_CRITIC_KINDS)
  hidden_sizes: tuple[int, ...] = (64, 64)
  shared_torso: bool = option(False)
  advantage: str = option("gae", choices=ADVANTAGES)
  n_step: int | None = option(None, AT_LEAST_ONE, optional=True)
  critic: str = option("v", choices=CRITICS)
  q_target: str = option("expected_sarsa", choices=Q_TARGETS)
  q_baseline: bool = option(True)
  q_dueling: bool = option(False)
  normalize_advantages: bool = option(True)
  max_grad_norm: float = option(0.5, POSITIVE_OR_INF)
  anneal_lr: bool = option(False)
  log_every: int = option(10_000, AT_LEAST_ONE)
  eval_every: int = option(10_000, AT_LEAST_ONE)
  eval_episodes: int = option(8, AT_LEAST_ONE)
  eval_max_steps: int | None = option(None, AT_LEAST_ONE, optional=True)
  # hyperparameters (vmappable)
  learning_rate: float = hyperparameter(2.5e-3, POSITIVE)
  discount: float = hyperparameter(0.99, UNIT_INTERVAL)
  gae_lambda: float = hyperparameter(0.95, UNIT_INTERVAL)
  value_coef: float = hyperparameter(0.5, NON_NEGATIVE)
  entropy_coef: float = hyperparameter(0.01, NON_NEGATIVE)
  actor_lr_scale: float = hyperparameter(1.0, POSITIVE)


#: The numbers a sweep may vary (generated from :class:`A2CConfig`'s hyperparameter fields).
A2CHyperparams = A2CConfig.hyperparams_type()


#: Everything a run carries (checkpoint this to resume): the on-policy agents' shared state.
A2CState = trainer_lib.OnPolicyState


class A2CStats(NamedTuple):
  """One update's numbers, averaged over a logging interval into the metrics of their names."""

  loss: Array
  policy_loss: Array
  value_loss: Array
  entropy: Array
  value_mean: Array


def _check_config(config: A2CConfig) -> trainer_lib.Intervals:
  """The cross-field rules (each field's own range is checked by ``config.check()``)."""
  config.check()
  if config.critic == "v" and not config.q_baseline:
    raise ValueError("A2CConfig: q_baseline=False needs critic='q' (a V critic has no Q(s, a) to "
                     "weight by).")
  if config.critic == "v" and config.q_dueling:
    raise ValueError("A2CConfig: q_dueling=True needs critic='q'.")
  return trainer_lib.intervals(
      "A2CConfig", total_steps=config.total_steps, log_every=config.log_every,
      eval_every=config.eval_every, steps_per_iteration=config.num_envs * config.num_steps,
      per_iteration="num_envs * num_steps")


def _per_env(fn):
  """``fn`` of one stream ``[T]`` mapped over the environments of ``[T, E]`` arrays."""
  return jax.vmap(fn, in_axes=1, out_axes=1)


def _flat(x: Array) -> Array:
  """``[T, E, ...] -> [T * E, ...]``."""
  return x.reshape((-1,) + x.shape[2:])


def _make_v_loss(config: A2CConfig, actor: actors.Actor, n_step: int):
  """The state-value critic's loss ``(params, traj, hp, key) -> (loss, A2CStats)``."""

  def advantages(traj, v, v_tp1, hp):
    r, d, end = traj.r_t, traj.discount_t(hp.discount), traj.end_t
    if config.advantage == "gae":
      return _per_env(lambda *a: returns_lib.gae(*a, hp.gae_lambda))(r, d, end, v, v_tp1)
    return _per_env(lambda *a: returns_lib.n_step_returns(*a, n_step))(r, d, end, v_tp1) - v

  def loss_fn(params, traj, hp, key):
    del key
    pi, v = actor.network.apply(params, traj.obs_t)           # logits [T, E, A] (or mean, log_std)
    v_tp1 = jax.lax.stop_gradient(actor.network.apply(params, traj.obs_tp1)[1])
    adv = jax.lax.stop_gradient(advantages(traj, jax.lax.stop_gradient(v), v_tp1, hp))
    target = adv + jax.lax.stop_gradient(v)
    if config.normalize_advantages:
      adv = losses_lib.normalize(adv)
    pi = jax.tree.map(_flat, pi)
    out = losses_lib.actor_critic_loss(
        actors.pg_loss(actor.dist, pi, _flat(traj.a_t), _flat(adv)),
        losses_lib.value_loss(_flat(v), _flat(target)), actors.mean_entropy(actor.dist, pi),
        value_coef=hp.value_coef, entropy_coef=hp.entropy_coef)
    return out.loss, A2CStats(*out, value_mean=jnp.mean(v))

  return loss_fn


def _make_q_loss(config: A2CConfig, network, n_step: int):
  """The action-value critic's loss ``(params, traj, hp, key) -> (loss, A2CStats)`` (see the
  module docstring; ``key`` samples SARSA's bootstrap actions where none was taken)."""
  take = lambda x, a: jnp.take_along_axis(x, a[..., None], axis=-1)[..., 0]  # noqa: E731

  def bootstrap(traj, logits_tp1, q_tp1, key):
    if config.q_target == "expected_sarsa":
      return losses_lib.state_value_from_q(logits_tp1, q_tp1)                # [T, E]
    sampled = policies_lib.categorical_sample(key, logits_tp1)              # [T, E]
    return take(q_tp1, _per_env(returns_lib.sarsa_next_actions)(traj.a_t, traj.end_t, sampled))

  def loss_fn(params, traj, hp, key):
    logits, q = network.apply(params, traj.obs_t)                           # [T, E, A] twice
    logits_tp1, q_tp1 = jax.lax.stop_gradient(network.apply(params, traj.obs_tp1))
    sg_logits, sg_q = jax.lax.stop_gradient(logits), jax.lax.stop_gradient(q)
    if config.advantage == "gae":
      target_fn = functools.partial(returns_lib.action_value_targets, lambda_=hp.gae_lambda)
    else:
      target_fn = functools.partial(returns_lib.action_value_targets, n=n_step)
    target = _per_env(target_fn)(traj.r_t, traj.discount_t(hp.discount), traj.end_t,
                                 take(sg_q, traj.a_t), bootstrap(traj, logits_tp1, q_tp1, key))
    weight = losses_lib.q_actor_critic_weights(_flat(sg_logits), _flat(sg_q), _flat(traj.a_t),
                                               baseline=config.q_baseline)
    if config.normalize_advantages:
      weight = losses_lib.normalize(weight)
    out = losses_lib.actor_critic_loss(
        losses_lib.policy_gradient_loss(_flat(logits), _flat(traj.a_t), weight),
        losses_lib.action_value_loss(_flat(q), _flat(traj.a_t),
                                     _flat(jax.lax.stop_gradient(target))),
        -losses_lib.entropy_loss(_flat(logits)), value_coef=hp.value_coef,
        entropy_coef=hp.entropy_coef)
    return out.loss, A2CStats(*out, value_mean=jnp.mean(
        losses_lib.state_value_from_q(sg_logits, sg_q)))

  return loss_fn


def _optimizer(config: A2CConfig, network, num_updates: int, hp) -> optax.GradientTransformation:
  """Adam (eps 1e-5) after a global-norm clip, annealed to 0 over the run with ``anneal_lr``;
  the actor's parameters (as the network labels them) step ``actor_lr_scale`` times slower."""
  return optimizers.adam(
      hp.learning_rate, max_grad_norm=config.max_grad_norm, eps=1e-5,
      anneal_steps=num_updates if config.anneal_lr else None,
      group_scales={"actor": hp.actor_lr_scale, "critic": 1.0},
      labels=functools.partial(networks_lib.param_labels, network))


def make_train(config: A2CConfig, env, env_params) -> trainer_lib.Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates the config, environment and network eagerly (ValueError, before anything compiles).

  Metrics (leading ``[num_logs]`` axis): those of every agent (:mod:`jaxrl.agents.trainer`:
    ``env_steps``, ``updates``, ``episode_return``/``episode_length``/``episodes`` of the episodes
    that finished, ``eval_return``, ``loss_finite``), and
    ``loss``, ``policy_loss``, ``value_loss``, ``entropy``, ``value_mean`` (mean ``V(s)``):
    means over the interval's updates.
    With ``critic="q"``, ``value_loss`` is the ``Q(s_t, a_t)`` regression loss and
    ``value_mean`` the mean of ``V(s) = sum_a pi(a | s) Q(s, a)``.
    With a tabular environment, ``policy_match``: fraction of non-terminal states whose most
    probable action is optimal under the exact ``Q*``.
  """
  loop = _check_config(config)
  actor, env, rollout, evaluate, reference = actors.make_on_policy_parts(
      "A2CConfig", config, env, env_params, length=config.num_steps, critic=config.critic,
      dueling=config.q_dueling)
  network = actor.network
  n_step = config.num_steps if config.n_step is None else config.n_step
  loss_fn = (_make_q_loss(config, network, n_step) if config.critic == "q"
             else _make_v_loss(config, actor, n_step))
  sarsa = config.critic == "q" and config.q_target == "sarsa"
  optimizer = functools.partial(_optimizer, config, network,
                                loop.num_logs * loop.iterations_per_log)

  def iteration(state: A2CState, hp):
    """``num_steps`` steps of every environment, then one gradient step on all of them."""
    (env_state, obs, key), traj = rollout(state.key, state.params, state.env_state, state.obs)
    k_boot = None
    if sarsa:
      key, k_boot = jax.random.split(key)
    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, traj, hp,
                                                                     k_boot)
    updates, opt_state = optimizer(hp).update(grads, state.opt_state, state.params)
    state = A2CState(params=optax.apply_updates(state.params, updates), opt_state=opt_state,
                     env_state=env_state, obs=obs, key=key,
                     env_steps=state.env_steps + config.num_envs * config.num_steps,
                     updates=state.updates + 1)
    return state, trainer_lib.IterationStats(sums=stats, count=jnp.float32(1),
                                             finite=jnp.isfinite(loss),
                                             episodes=trainer_lib.episodes_of(traj))

  def report(state: A2CState, hp) -> dict:
    del hp
    if reference is None:
      return {}
    return dict(policy_match=reference(actor.pi, state.params)["policy_match"])

  def init_state(key, hp) -> A2CState:
    k_net, k_env, key = jax.random.split(key, 3)
    obs, env_state = rollouts.reset(env, env_params, k_env, config.num_envs)
    params = network.init(k_net, obs[0])
    return A2CState(params=params, opt_state=optimizer(hp).init(params), env_state=env_state,
                    obs=obs, key=key, env_steps=jnp.int32(0), updates=jnp.int32(0))

  return trainer_lib.make_trainer(
      "a2c", config, state_type=A2CState, init_state=init_state, iteration=iteration, loop=loop,
      evaluate=evaluate, sums=A2CStats, report=report, network=network,
      one_update_per_iteration=True)
