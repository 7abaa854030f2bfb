"""REINFORCE (Williams, 1992) as one compiled function: ``make_train -> train(key)``.

Each iteration resets ``E = num_envs`` environments, rolls every one out for
``T = rollout_length`` steps with the current policy ``a ~ softmax(logits(s))`` (auto-resetting,
so a window may hold several episodes), and takes one gradient step on

    L = -(1 / (E T)) sum_e sum_{t in M_e} log pi(a_t | s_t) (G_t - b_t)   [+ value, entropy terms]

Which steps are counted. Every episode lasts at most ``L_max = episode_limit`` steps (by default
the environment's time limit ``max_steps_in_episode``; ``resolve`` requires ``T >= L_max``). The
set ``M_e`` holds the steps of every episode of environment ``e``'s window that STARTED at a step
``s <= T - L_max`` (:func:`jaxrl.returns.started_episode_mask`). With the default ``T = L_max``
that is exactly the FIRST episode of each window, one per environment. Then

* every counted episode ended inside the window (terminated, or truncated by the time limit), so
  its return and reward-to-go are complete;
* whether an episode is counted depends only on the lengths of the episodes before it in the
  window, never on its own (a stopping rule), and episodes are i.i.d. draws of the policy; by
  Wald's identity the sum over counted episodes has mean ``E[N] * (per-episode mean)``:

      E[grad L] = -(E[N] / T) * grad J,    N = counted episodes per window (N = 1 when T = L_max),

  an unbiased estimate of the policy gradient, scaled by a positive constant (``1 / T`` by
  default). The sum is divided by the fixed batch size ``E T``, not by the random number of
  counted steps: that ratio would bring a bias back.

The rest of the window (later episodes, finished or not) does not enter the loss; it is the price
of unbiasedness (a ``rollout_length`` of ``k`` times the limit counts more episodes per window).
The metrics ``counted_fraction`` and ``counted_episodes`` say how much was used. An earlier
version counted every episode that FINISHED inside the window; one that starts mid-window finishes
in time only if it is short, so short episodes were over-represented (selection bias). That rule
is gone.

The weight ``G_t`` (``returns``), with ``gamma = discount``:

* ``"total"``: the discounted return of the whole episode from its first step, ``R(tau)`` for every
  step — the notes' estimator ``grad J ~ sum_t grad log pi(a_t | s_t) R(tau)``;
* ``"reward_to_go"``: ``G_t = sum_{k >= t} gamma^(k - t) r_k`` within the episode (causality: an
  action does not change the rewards before it).

With ``gamma = 1`` (the notes' setting) both are unbiased for ``grad J``, ``J = E[sum_t r_t]``.
With ``gamma < 1``, ``"total"`` is unbiased for the gradient of ``E[sum_t gamma^t r_t]``, while
``"reward_to_go"`` is the estimator practice uses, which drops the factor ``gamma^t`` in front of
each term and so is not exactly that gradient (Thomas, 2014; Nota & Thomas, 2020).

The baseline ``b_t`` (``baseline``) does not depend on the action, so it leaves the mean alone:
``"none"``; ``"mean"``, a running mean of the weights (an exponential average of earlier batches'
means with step ``baseline_step``, fixed before the batch is drawn); ``"value"``, a learned
``V(s_t)`` (the current parameters, trained on earlier batches; regressed on the counted steps'
``G_t`` with ``value_coef``). ``normalize_advantages`` standardises the weights with the batch's
own mean and standard deviation, which is NOT unbiased (off by default).

Time limits. A trajectory cut by a time limit is not a finished one (``truncated`` is not
``terminated``). ``truncation="horizon"`` (the default, and the only choice without a critic)
takes the limit as the horizon ``H`` of the objective the notes write down,
``J = E[sum_{t<H} gamma^t r_t]``: a truncated episode is a complete sample of it, its return stops
at the limit, and the estimate is unbiased as above. ``truncation="bootstrap"`` (needs
``baseline="value"``) targets the untruncated discounted return instead: the return of a truncated
episode is continued by ``gamma * V(info["final_observation"])``, so the estimate is biased by the
critic's error (as A2C's is), and exact only when ``V = V^pi``. Terminations zero the bootstrap in
both.

References:
  Williams (1992), Simple statistical gradient-following algorithms for connectionist RL.
  Thomas (2014), Bias in natural actor-critic algorithms, ICML.
  Nota & Thomas (2020), Is the policy gradient a gradient?, AAMAS.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import returns as returns_lib
from jaxrl import rollouts
from jaxrl.agents import actors
from jaxrl.agents import optimizers
from jaxrl.agents import trainer as trainer_lib
from jaxrl.envs import spaces
from jaxrl.agents.config import POSITIVE_OR_INF, AgentConfig, hyperparameter, option
from jaxrl.validation import (AT_LEAST_ONE, HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE,
                              UNIT_INTERVAL)

Array = chex.Array

__all__ = ("ReinforceConfig", "ReinforceHyperparams", "ReinforceState", "batch_weights",
           "make_train", "resolve")

RETURNS = ("total", "reward_to_go")
BASELINES = ("none", "mean", "value")
TRUNCATIONS = ("horizon", "bootstrap")


@dataclasses.dataclass(frozen=True)
class ReinforceConfig(AgentConfig):
  """REINFORCE's settings. Fields marked *hyperparameter* are the fields of
  :class:`ReinforceHyperparams` (vmappable); each field declares its valid range once
  (:mod:`jaxrl.agents.config`).

  Attributes:
    total_steps: environment steps in all (every step of every window counts, used or not).
    num_envs: parallel environments; each contributes one window per iteration.
    rollout_length: steps per environment per iteration, at least ``episode_limit`` (None:
      ``episode_limit``, so the first episode of every window, and only it, is counted).
    episode_limit: a bound on an episode's length, steps (None: the environment's
      ``max_steps_in_episode``; it may not be smaller). Episodes starting at a window step
      ``<= rollout_length - episode_limit`` are counted (see the module docstring).
    network: ``"mlp"`` or ``"cnn"`` (the actor-critic; the value head is trained only with
      ``baseline="value"``).
    hidden_sizes: MLP torso widths.
    returns: ``"total"`` or ``"reward_to_go"``.
    baseline: ``"none"``, ``"mean"`` or ``"value"``.
    truncation: ``"horizon"`` or ``"bootstrap"`` (see the module docstring).
    normalize_advantages: standardise the weights over the batch's counted steps.
    max_grad_norm: global-norm gradient clipping (``inf`` disables it).
    log_every: environment steps between logged metrics (a multiple of
      ``num_envs * rollout_length``).
    eval_every: environment steps between greedy evaluations (a multiple of ``log_every``).
    eval_episodes: episodes (on separate environments) per greedy evaluation.
    eval_max_steps: step cap of an evaluation episode (None: the environment's own limit).
    learning_rate: Adam step size (*hyperparameter*).
    discount: the discount factor gamma in [0, 1] of the returns (*hyperparameter*).
    baseline_step: step size of the running-mean baseline, ``baseline="mean"``
      (*hyperparameter*).
    value_coef: weight of the learned value's squared error, ``baseline="value"``
      (*hyperparameter*).
    entropy_coef: weight of the entropy bonus (*hyperparameter*).
  """

  total_steps: int = option(1_000_000, AT_LEAST_ONE)
  num_envs: int = option(8, AT_LEAST_ONE)
  rollout_length: int | None = option(None, AT_LEAST_ONE, optional=True)
  episode_limit: int | None = option(None, AT_LEAST_ONE, optional=True)
  network: str = option("mlp", choices=networks_lib.ACTOR_CRITIC_KINDS)
  hidden_sizes: tuple[int, ...] = (64, 64)
  returns: str = option("reward_to_go", choices=RETURNS)
  baseline: str = option("value", choices=BASELINES)
  truncation: str = option("horizon", choices=TRUNCATIONS)
  normalize_advantages: bool = option(False)
  max_grad_norm: float = option(1.0, POSITIVE_OR_INF)
  log_every: int | None = option(None, AT_LEAST_ONE, optional=True)
  eval_every: int | None = option(None, AT_LEAST_ONE, optional=True)
  eval_episodes: int = option(8, AT_LEAST_ONE)
  eval_max_steps: int | None = option(None, AT_LEAST_ONE, optional=True)
  # hyperparameters (vmappable)
  learning_rate: float = hyperparameter(1e-3, POSITIVE)
  discount: float = hyperparameter(0.99, UNIT_INTERVAL)
  baseline_step: float = hyperparameter(0.1, HALF_OPEN_UNIT)
  value_coef: float = hyperparameter(0.5, NON_NEGATIVE)
  entropy_coef: float = hyperparameter(0.0, NON_NEGATIVE)


#: The numbers a sweep may vary (generated from :class:`ReinforceConfig`'s hyperparameter fields).
ReinforceHyperparams = ReinforceConfig.hyperparams_type()


class ReinforceState(NamedTuple):
  """Everything a run carries."""

  params: Any
  opt_state: Any
  baseline: Array       # the running mean of the weights (baseline="mean")
  key: Array
  env_steps: Array
  updates: Array


class ReinforceStats(NamedTuple):
  """One update's numbers, averaged over a logging interval into the metrics of their names:
  the loss and its parts, the fraction of the window's steps counted, and the episodes counted
  per environment."""

  loss: Array
  policy_loss: Array
  value_loss: Array
  entropy: Array
  counted_fraction: Array
  counted_episodes: Array


def resolve(config: ReinforceConfig, env_params, env=None) -> ReinforceConfig:
  """Fills the ``None`` defaults from the environment and validates (ValueError).

  The environment's time limit is :func:`jaxrl.envs.episode_limit` of ``env`` and
  ``env_params`` (``env`` may be omitted where the params carry ``max_steps_in_episode``).

  Each field's own range is checked by ``config.check()``; here the rules that tie fields to
  each other and to the environment's time limit.
  """
  config.check()

  def bad(msg):
    raise ValueError(f"ReinforceConfig: {msg}")

  env_limit = spaces.episode_limit(env, env_params)
  limit = config.episode_limit
  if limit is None:
    if env_limit is None:
      bad("episode_limit is None and the environment's params have no max_steps_in_episode: "
          "REINFORCE needs a bound on the length of an episode to know which episodes end "
          "inside the window.")
    limit = env_limit
  if env_limit is not None and limit < env_limit:
    bad(f"episode_limit ({limit}) is less than the environment's time limit "
        f"max_steps_in_episode ({env_limit}): an episode may outlast it, so a counted episode "
        "might not end inside the window.")
  length = limit if config.rollout_length is None else config.rollout_length
  if length < limit:
    bad(f"rollout_length ({length}) is less than the episode limit ({limit}): no episode is "
        "sure to end inside the window, and counting only those that do favours short ones.")
  batch = config.num_envs * length
  log_every = batch if config.log_every is None else config.log_every
  eval_every = log_every if config.eval_every is None else config.eval_every
  total = config.total_steps - config.total_steps % log_every   # whole logging intervals only
  if total < log_every:
    bad(f"total_steps ({config.total_steps}) is less than log_every ({log_every}).")
  if config.truncation == "bootstrap" and config.baseline != "value":
    bad("truncation='bootstrap' needs a learned value (baseline='value').")
  return dataclasses.replace(config, rollout_length=length, episode_limit=limit,
                             log_every=log_every, eval_every=eval_every, total_steps=total)


def _intervals(config: ReinforceConfig) -> trainer_lib.Intervals:
  return trainer_lib.intervals(
      "ReinforceConfig", total_steps=config.total_steps, log_every=config.log_every,
      eval_every=config.eval_every, steps_per_iteration=config.num_envs * config.rollout_length,
      per_iteration="num_envs * rollout_length")


def batch_weights(config: ReinforceConfig, traj: rollouts.Trajectory, v: Array, v_final: Array,
                  baseline: Array, discount: Array) -> tuple[Array, Array, Array]:
  """The agent's policy-gradient weights on a ``[T, E]`` window, and the counted steps.

  Per environment :func:`jaxrl.returns.reinforce_weights` with the config's return, baseline
  (0, the running mean ``baseline``, or ``v``) and truncation rule (``"bootstrap"`` continues
  a truncated episode's return with ``v_final``), counting the episodes that start at a step
  ``<= T - episode_limit``; then, with ``normalize_advantages``, standardised over the counted
  steps. The agent's surrogate is ``jaxrl.losses.policy_gradient_loss`` of the flattened
  ``w * mask`` (divided by the fixed ``T E``).

  Args:
    config: a resolved config (:func:`resolve`).
    traj: the window (``r_t``, ``terminated_t``, ``truncated_t`` are read), ``[T, E]``.
    v: float ``[T, E]`` ``V(s_t)``; v_final: float ``[T, E]`` ``V(obs_tp1)``.
    baseline: float ``[]`` the running mean; discount: float ``[]`` gamma.

  Returns:
    ``(w, mask, g)``: float, bool, float ``[T, E]``, gradients stopped.

  Raises:
    ValueError: an unresolved config, or a window shorter than ``episode_limit``.
  """
  if config.episode_limit is None or config.rollout_length is None:
    raise ValueError("batch_weights needs a resolved config (episode_limit is None); pass it "
                     "through reinforce.resolve(config, env_params).")
  last_start = traj.r_t.shape[0] - config.episode_limit
  if last_start < 0:
    raise ValueError(f"batch_weights: a window of {traj.r_t.shape[0]} steps is shorter than "
                     f"episode_limit ({config.episode_limit}); no episode is sure to end in it.")
  if config.truncation == "bootstrap":
    v_tp1 = jnp.where(traj.truncated_t, v_final, 0.0)
  else:
    v_tp1 = jnp.zeros_like(traj.r_t)
  b = dict(none=jnp.zeros_like(v), mean=jnp.broadcast_to(baseline, v.shape), value=v)
  w, mask, g = jax.vmap(
      lambda *a: returns_lib.reinforce_weights(*a, last_start=last_start,
                                               total=config.returns == "total"),
      in_axes=1, out_axes=1)(traj.r_t, traj.discount_t(discount), traj.end_t,
                             b[config.baseline], v_tp1)
  if config.normalize_advantages:
    w = losses_lib.normalize(w, mask)
  return jax.lax.stop_gradient(w), mask, jax.lax.stop_gradient(g)


def _make_loss(config: ReinforceConfig, actor: actors.Actor):
  """``loss_fn(params, traj, baseline, hp) -> (loss, (ReinforceStats, mean counted return))``."""

  def loss_fn(params, traj, baseline, hp):
    pi, v = actor.network.apply(params, traj.obs_t)   # logits [T, E, A] (or mean, log_std)
    v_final = jnp.zeros_like(v)
    if config.truncation == "bootstrap":
      v_final = actor.network.apply(params, traj.obs_tp1)[1]
    w, mask, g = batch_weights(config, traj, jax.lax.stop_gradient(v),
                               jax.lax.stop_gradient(v_final), baseline, hp.discount)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    # the sum over counted steps / (T E), a constant: unbiased (see the module docstring)
    pg = actors.pg_loss(actor.dist, jax.tree.map(flat, pi), flat(traj.a_t),
                        flat(w * mask.astype(w.dtype)))
    vl = losses_lib.masked_value_loss(v, g, mask) if config.baseline == "value" else None
    out = losses_lib.actor_critic_loss(pg, vl, actors.mean_entropy(actor.dist,
                                                                   jax.tree.map(flat, pi)),
                                       value_coef=hp.value_coef, entropy_coef=hp.entropy_coef)
    m = mask.astype(jnp.float32)
    g_mean = jnp.sum(g * m) / jnp.maximum(jnp.sum(m), 1.0)
    is_start = jnp.concatenate([jnp.ones_like(mask[:1]), traj.end_t[:-1]], axis=0)
    episodes = jnp.sum(is_start & mask) / config.num_envs
    return out.loss, (ReinforceStats(*out, counted_fraction=jnp.mean(m),
                                     counted_episodes=episodes), g_mean)

  return loss_fn


def make_train(config: ReinforceConfig, env, env_params) -> trainer_lib.Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates eagerly (ValueError, before anything compiles). Metrics are named as DQN's and A2C's
  (leading ``[num_logs]`` axis): ``env_steps``, ``updates``, ``episode_return``,
  ``episode_length``, ``episodes`` (episodes that finished in the interval; NaN when none),
  ``eval_return`` (greedy, NaN between evaluations), ``loss``, ``policy_loss``, ``value_loss``,
  ``entropy``, ``loss_finite``, ``baseline`` (the running mean), ``counted_fraction`` (the
  fraction of the windows' steps that the policy gradient counted), ``counted_episodes``
  (episodes counted per environment and window; 1 when ``rollout_length = episode_limit``), and
  ``policy_match`` on tabular environments. ``episode_return``/``episode_length`` average every
  episode that finished, as DQN's and A2C's do; within a window those favour short episodes, so
  they are a monitor, not an unbiased estimate of ``J``.
  """
  config = resolve(config, env_params, env)
  loop = _intervals(config)
  obs_shape = tuple(env.observation_space(env_params).shape)
  actor, env, rollout, evaluate, reference = actors.make_on_policy_parts(
      "ReinforceConfig", config, env, env_params, length=config.rollout_length)
  network = actor.network
  loss_fn = _make_loss(config, actor)

  def optimizer(hp):
    return optimizers.adam(hp.learning_rate, max_grad_norm=config.max_grad_norm)

  def iteration(state: ReinforceState, hp):
    """Fresh episodes in every environment, one window of ``rollout_length`` steps, one
    gradient step on the counted episodes, and the running-mean baseline's step."""
    key, k_reset, k_roll = jax.random.split(state.key, 3)
    obs, env_state = rollouts.reset(env, env_params, k_reset, config.num_envs)
    _, traj = rollout(k_roll, state.params, env_state, obs)
    (loss, (stats, g_mean)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, traj, state.baseline, hp)
    updates, opt_state = optimizer(hp).update(grads, state.opt_state, state.params)
    baseline = jnp.where(state.updates == 0, g_mean,
                         state.baseline + hp.baseline_step * (g_mean - state.baseline))
    state = ReinforceState(params=optax.apply_updates(state.params, updates),
                           opt_state=opt_state, baseline=baseline, key=key,
                           env_steps=state.env_steps + config.num_envs * config.rollout_length,
                           updates=state.updates + 1)
    return state, trainer_lib.IterationStats(sums=stats, count=jnp.float32(1),
                                             finite=jnp.isfinite(loss),
                                             episodes=trainer_lib.episodes_of(traj))

  def report(state: ReinforceState, hp) -> dict:
    del hp
    metrics = dict(baseline=state.baseline)
    if reference is not None:
      metrics["policy_match"] = reference(actor.pi, state.params)["policy_match"]
    return metrics

  def init_state(key, hp) -> ReinforceState:
    k_net, key = jax.random.split(key)
    params = network.init(k_net, jnp.zeros(obs_shape, jnp.float32))
    return ReinforceState(params=params, opt_state=optimizer(hp).init(params),
                          baseline=jnp.float32(0), key=key, env_steps=jnp.int32(0),
                          updates=jnp.int32(0))

  return trainer_lib.make_trainer(
      "reinforce", config, state_type=ReinforceState, init_state=init_state, iteration=iteration,
      loop=loop, evaluate=evaluate, sums=ReinforceStats, report=report, network=network,
      one_update_per_iteration=True)
