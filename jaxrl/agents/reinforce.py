"""REINFORCE (Williams, 1992) as one compiled function: ``make_train -> train(key)``.

Each iteration resets ``num_envs`` environments, rolls every one out for ``rollout_length``
steps with the current policy ``a ~ softmax(logits(s))`` (auto-resetting, so a stream may hold
several episodes), and takes one gradient step on

    L = -(1 / |M|) sum_{t in M} log pi(a_t | s_t) * (G_t - b_t)   [+ value and entropy terms]

over the set ``M`` of steps that belong to an episode that ENDED inside the window; the tail of
the episode still running when the window closes has no return yet and is masked out (so
``rollout_length`` should be at least the episode limit, which it is by default, or no episode
of a good policy would ever count). The weight ``G_t`` is (``returns``):

* ``"total"``: the discounted return of the whole episode, from its first step — the notes'
  estimator ``grad J ~ sum_t grad log pi(a_t | s_t) R(tau)``;
* ``"reward_to_go"``: ``G_t = sum_{k >= t} gamma^(k - t) r_k`` within the episode (causality:
  an action does not change the rewards before it).

and the baseline ``b_t``, which does not depend on the action (``baseline``): ``"none"``;
``"mean"``, a running mean of the weights (an exponential average of each batch's mean with step
``baseline_step``); ``"value"``, a learned ``V(s_t)`` regressed on ``G_t`` with ``value_coef``.

Time limits. A trajectory cut by a time limit is not a finished one (``truncated`` is not
``terminated``). ``truncation="bootstrap"`` (needs ``baseline="value"``) treats it as such:
the return is cut at the limit and continued by ``gamma * V(info["final_observation"])``.
``truncation="horizon"`` (the default, and the only choice without a critic) instead takes the
time limit as the horizon ``H`` of the objective the notes write down, ``J = E[sum_{t<H} r_t]``:
the truncated episode is a complete sample of that objective, and its return stops at the limit.
Terminations zero the bootstrap in both.
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
from jaxrl.agents.trainer import Trainer
from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import policies as policies_lib
from jaxrl import returns as returns_lib
from jaxrl import rollouts
from jaxrl.envs import wrappers as wrappers_lib

Array = chex.Array

RETURNS = ("total", "reward_to_go")
BASELINES = ("none", "mean", "value")
TRUNCATIONS = ("horizon", "bootstrap")


@dataclasses.dataclass(frozen=True)
class ReinforceConfig:
  """REINFORCE's settings. Fields marked *hyperparameter* are defaults of
  :class:`ReinforceHyperparams`.

  Attributes:
    total_steps: environment steps in all (every step of every window counts, masked or not).
    num_envs: parallel environments; each contributes one window per iteration.
    rollout_length: steps per environment per iteration (None: the environment's
      ``max_steps_in_episode``, so every environment finishes at least one episode).
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
    eval_episodes, eval_max_steps: as :class:`jaxrl.agents.dqn.DQNConfig`.
    learning_rate, discount, baseline_step, value_coef, entropy_coef: *hyperparameters*.
  """

  total_steps: int = 1_000_000
  num_envs: int = 8
  rollout_length: int | None = None
  network: str = "mlp"
  hidden_sizes: tuple[int, ...] = (64, 64)
  returns: str = "reward_to_go"
  baseline: str = "value"
  truncation: str = "horizon"
  normalize_advantages: bool = False
  max_grad_norm: float = 1.0
  log_every: int | None = None
  eval_every: int | None = None
  eval_episodes: int = 8
  eval_max_steps: int | None = None
  # hyperparameters (vmappable)
  learning_rate: float = 1e-3
  discount: float = 0.99
  baseline_step: float = 0.1
  value_coef: float = 0.5
  entropy_coef: float = 0.0

  def hyperparams(self) -> "ReinforceHyperparams":
    """The vmappable numbers of this config, as a pytree of scalars."""
    return ReinforceHyperparams(
        learning_rate=jnp.float32(self.learning_rate), discount=jnp.float32(self.discount),
        baseline_step=jnp.float32(self.baseline_step), value_coef=jnp.float32(self.value_coef),
        entropy_coef=jnp.float32(self.entropy_coef))


class ReinforceHyperparams(NamedTuple):
  """Numbers a sweep may vary: every field a scalar (add a leading axis and ``vmap``)."""

  learning_rate: Array
  discount: Array
  baseline_step: Array
  value_coef: Array
  entropy_coef: Array


def validate_hyperparams(hp: ReinforceHyperparams) -> None:
  """Raises ValueError for concrete hyperparameters that make no sense (any batch shape)."""
  _checks.check_hyperparams("REINFORCE", hp, [
      ("learning_rate", _checks.POSITIVE),
      ("discount", _checks.UNIT_INTERVAL),
      ("baseline_step", _checks.HALF_OPEN_UNIT),
      ("value_coef", _checks.NON_NEGATIVE),
      ("entropy_coef", _checks.NON_NEGATIVE),
  ])


class ReinforceState(NamedTuple):
  """Everything a run carries."""

  params: Any
  opt_state: Any
  baseline: Array       # the running mean of the weights (baseline="mean")
  key: Array
  env_steps: Array
  updates: Array


def resolve(config: ReinforceConfig, env_params) -> ReinforceConfig:
  """Fills the ``None`` defaults from the environment and validates (ValueError)."""
  def bad(msg):
    raise ValueError(f"ReinforceConfig: {msg}")

  length = config.rollout_length
  if length is None:
    length = getattr(env_params, "max_steps_in_episode", None)
    if length is None:
      bad("rollout_length is None and the environment's params have no max_steps_in_episode.")
    length = int(length)
  if length < 1:
    bad(f"rollout_length must be at least 1, got {length}.")
  for name in ("total_steps", "num_envs", "eval_episodes"):
    if getattr(config, name) < 1:
      bad(f"{name} must be at least 1, got {getattr(config, name)}.")
  batch = config.num_envs * length
  log_every = batch if config.log_every is None else config.log_every
  eval_every = log_every if config.eval_every is None else config.eval_every
  if log_every < 1 or log_every % batch:
    bad(f"log_every ({log_every}) must be a positive multiple of num_envs * rollout_length "
        f"({batch}).")
  if eval_every < 1 or eval_every % log_every:
    bad(f"eval_every ({eval_every}) must be a multiple of log_every ({log_every}).")
  total = config.total_steps - config.total_steps % log_every   # whole logging intervals only
  if total < log_every:
    bad(f"total_steps ({config.total_steps}) is less than log_every ({log_every}).")
  if config.returns not in RETURNS:
    bad(f"returns must be one of {RETURNS}, got {config.returns!r}.")
  if config.baseline not in BASELINES:
    bad(f"baseline must be one of {BASELINES}, got {config.baseline!r}.")
  if config.truncation not in TRUNCATIONS:
    bad(f"truncation must be one of {TRUNCATIONS}, got {config.truncation!r}.")
  if config.truncation == "bootstrap" and config.baseline != "value":
    bad("truncation='bootstrap' needs a learned value (baseline='value').")
  if not config.max_grad_norm > 0:
    bad(f"max_grad_norm must be positive (inf disables clipping), got {config.max_grad_norm}.")
  if config.eval_max_steps is not None and config.eval_max_steps < 1:
    bad(f"eval_max_steps must be at least 1, got {config.eval_max_steps}.")
  if config.network not in networks_lib.ACTOR_CRITIC_KINDS:
    bad(f"network must be one of {networks_lib.ACTOR_CRITIC_KINDS}, got {config.network!r}.")
  validate_hyperparams(config.hyperparams())
  return dataclasses.replace(config, rollout_length=length, log_every=log_every,
                             eval_every=eval_every, total_steps=total)


def make_weights(config: ReinforceConfig, traj: dict, v: Array, v_final: Array, baseline: Array,
                 hp) -> tuple[Array, Array, Array]:
  """``[T, E]`` trajectories -> ``(weights, mask, returns)``, each ``[T, E]`` (no gradients).

  ``traj``: ``reward``, ``discount`` (``gamma (1 - terminated)``), ``end``, ``truncated``.
  ``v``: ``V(s_t)``; ``v_final``: ``V(final_observation_t)`` (used on truncation with
  ``truncation="bootstrap"``); ``baseline``: the running mean (``baseline="mean"``).
  """
  if config.truncation == "bootstrap":
    v_tp1 = jnp.where(traj["truncated"], v_final, 0.0)
  else:
    v_tp1 = jnp.zeros_like(traj["reward"])
  fn = (returns_lib.episode_total_returns if config.returns == "total"
        else returns_lib.discounted_returns)
  g = jax.vmap(fn, in_axes=1, out_axes=1)(traj["reward"], traj["discount"], traj["end"], v_tp1)
  mask = jax.vmap(returns_lib.finished_episode_mask, in_axes=1, out_axes=1)(traj["end"])
  if config.baseline == "none":
    w = g
  elif config.baseline == "mean":
    w = g - baseline
  else:
    w = g - v
  if config.normalize_advantages:
    m = mask.astype(jnp.float32)
    n = jnp.maximum(jnp.sum(m), 1.0)
    mean = jnp.sum(w * m) / n
    std = jnp.sqrt(jnp.sum(jnp.square(w - mean) * m) / n)
    w = (w - mean) / (std + 1e-8)
  return jax.lax.stop_gradient(w), mask, jax.lax.stop_gradient(g)


def make_train(config: ReinforceConfig, env, env_params) -> Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates eagerly (ValueError, before anything compiles). Metrics are named as DQN's and A2C's
  (leading ``[num_logs]`` axis): ``env_steps``, ``updates``, ``episode_return``,
  ``episode_length``, ``episodes`` (episodes that finished in the interval; NaN when none),
  ``eval_return`` (greedy, NaN between evaluations), ``loss``, ``policy_loss``, ``value_loss``,
  ``entropy``, ``loss_finite``, ``baseline`` (the running mean), ``counted_fraction`` (the
  fraction of steps that belonged to a finished episode), and ``policy_match`` on tabular
  environments.
  """
  config = resolve(config, env_params)
  num_actions = int(env.num_actions)
  obs_shape = tuple(env.observation_space(env_params).shape)
  network = networks_lib.make_actor_critic(config.network, num_actions, obs_shape,
                                           hidden_sizes=config.hidden_sizes)
  env = wrappers_lib.EpisodeStatistics(env)
  compare = rollouts.tabular_reference(env, env_params)

  def logits_fn(params, obs):
    return network.apply(params, obs)[0]

  evaluate = rollouts.make_greedy_evaluation(env, env_params, logits_fn, config.eval_episodes,
                                             config.eval_max_steps)
  length = config.rollout_length
  batch = config.num_envs * length
  iterations_per_log = config.log_every // batch
  num_logs = config.total_steps // config.log_every
  logs_per_eval = config.eval_every // config.log_every

  def make_optimizer(hp):
    clip = (optax.clip_by_global_norm(config.max_grad_norm) if np.isfinite(config.max_grad_norm)
            else optax.identity())
    return optax.chain(clip, optax.adam(hp.learning_rate))

  def loss_fn(params, traj, baseline, hp):
    logits, v = network.apply(params, traj["obs"])                       # [T, E, A], [T, E]
    v_final = jnp.zeros_like(v)
    if config.truncation == "bootstrap":
      v_final = network.apply(params, traj["next_obs"])[1]
    w, mask, g = make_weights(config, traj, jax.lax.stop_gradient(v),
                              jax.lax.stop_gradient(v_final), baseline, hp)
    m = mask.astype(jnp.float32)
    scale = m.size / jnp.maximum(jnp.sum(m), 1.0)     # mean over the counted steps only
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    pg = scale * losses_lib.policy_gradient_loss(flat(logits), flat(traj["action"]), flat(w * m))
    loss = pg
    vl = jnp.float32(0)
    if config.baseline == "value":
      vl = scale * losses_lib.value_loss(flat(jnp.where(mask, v, g)), flat(g))
      loss = loss + hp.value_coef * vl
    ent = -losses_lib.entropy_loss(flat(logits))
    loss = loss - hp.entropy_coef * ent
    g_mean = jnp.sum(g * m) / jnp.maximum(jnp.sum(m), 1.0)
    return loss, (pg, vl, ent, g_mean, jnp.mean(m))

  def env_step(carry, _, params):
    env_state, obs, key = carry
    key, k_act, k_step = jax.random.split(key, 3)
    logits, _ = network.apply(params, obs)
    action = policies_lib.categorical_sample(k_act, logits)
    next_obs, env_state, reward, terminated, truncated, info = jax.vmap(
        env.step, in_axes=(0, 0, 0, None))(jax.random.split(k_step, config.num_envs), env_state,
                                           action, env_params)
    step = dict(obs=obs, action=action, reward=reward.astype(jnp.float32),
                terminated=terminated, truncated=truncated & ~terminated,
                end=terminated | truncated, next_obs=info["final_observation"],
                done=info["episode_done"], ep_return=info["episode_return"],
                ep_length=info["episode_length"])
    return (env_state, next_obs, key), step

  def iteration(carry, _, hp):
    state, acc = carry
    key, k_reset, k_roll = jax.random.split(state.key, 3)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(k_reset, config.num_envs), env_params)
    _, traj = jax.lax.scan(lambda c, x: env_step(c, x, state.params), (env_state, obs, k_roll),
                           None, length=length)
    traj["discount"] = hp.discount * (1.0 - traj["terminated"].astype(jnp.float32))
    (loss, (pg, vl, ent, g_mean, counted)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, traj, state.baseline, hp)
    updates, opt_state = make_optimizer(hp).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    baseline = jnp.where(state.updates == 0, g_mean,
                         state.baseline + hp.baseline_step * (g_mean - state.baseline))
    state = ReinforceState(params=params, opt_state=opt_state, baseline=baseline, key=key,
                           env_steps=state.env_steps + batch, updates=state.updates + 1)
    done = traj["done"]
    acc = dict(
        loss=acc["loss"] + loss, pg=acc["pg"] + pg, vl=acc["vl"] + vl, ent=acc["ent"] + ent,
        counted=acc["counted"] + counted, finite=acc["finite"] & jnp.isfinite(loss),
        ret=acc["ret"] + jnp.sum(jnp.where(done, traj["ep_return"], 0.0)),
        length=acc["length"] + jnp.sum(jnp.where(done, traj["ep_length"], 0)),
        episodes=acc["episodes"] + jnp.sum(done))
    return (state, acc), None

  def log_interval(carry, log_index, hp):
    state, finite_so_far = carry
    zero = jnp.float32(0)
    acc = dict(loss=zero, pg=zero, vl=zero, ent=zero, counted=zero, finite=jnp.bool_(True),
               ret=zero, length=jnp.int32(0), episodes=jnp.int32(0))
    (state, acc), _ = jax.lax.scan(lambda c, x: iteration(c, x, hp), (state, acc), None,
                                   length=iterations_per_log)
    key, k_eval = jax.random.split(state.key)
    state = state._replace(key=key)
    do_eval = (log_index + 1) % logs_per_eval == 0
    eval_return = jax.lax.cond(do_eval, lambda: evaluate(k_eval, state.params),
                               lambda: jnp.float32(jnp.nan))
    finite = finite_so_far & acc["finite"]
    nan = jnp.float32(jnp.nan)
    n = jnp.float32(iterations_per_log)
    episodes = acc["episodes"]
    metrics = dict(
        env_steps=state.env_steps, updates=state.updates,
        episode_return=jnp.where(episodes > 0, acc["ret"] / jnp.maximum(episodes, 1), nan),
        episode_length=jnp.where(episodes > 0, acc["length"] / jnp.maximum(episodes, 1), nan),
        episodes=episodes, eval_return=eval_return, loss=acc["loss"] / n,
        policy_loss=acc["pg"] / n, value_loss=acc["vl"] / n, entropy=acc["ent"] / n,
        counted_fraction=acc["counted"] / n, baseline=state.baseline, loss_finite=finite)
    if compare is not None:
      metrics["policy_match"] = compare(logits_fn, state.params)["policy_match"]
    return (state, finite), metrics

  def init_state(key, hp) -> ReinforceState:
    k_net, key = jax.random.split(key)
    params = network.init(k_net, jnp.zeros(obs_shape, jnp.float32))
    return ReinforceState(params=params, opt_state=make_optimizer(hp).init(params),
                          baseline=jnp.float32(0), key=key, env_steps=jnp.int32(0),
                          updates=jnp.int32(0))

  return Trainer(
      name="reinforce", config=config,
      init=lambda key, hp: (init_state(key, hp), jnp.bool_(True)),
      step=log_interval, num_logs=num_logs, steps_per_log=config.log_every,
      default_hyperparams=config.hyperparams(), validate=validate_hyperparams, network=network)
