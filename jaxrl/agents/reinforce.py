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
import numpy as np
import optax

from jaxrl.agents import _checks
from jaxrl.agents import trainer as trainer_lib
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

  total_steps: int = 1_000_000
  num_envs: int = 8
  rollout_length: int | None = None
  episode_limit: int | None = None
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

  env_limit = getattr(env_params, "max_steps_in_episode", None)
  env_limit = None if env_limit is None else int(env_limit)
  limit = config.episode_limit
  if limit is None:
    if env_limit is None:
      bad("episode_limit is None and the environment's params have no max_steps_in_episode: "
          "REINFORCE needs a bound on the length of an episode to know which episodes end "
          "inside the window.")
    limit = env_limit
  limit = int(limit)
  if limit < 1:
    bad(f"episode_limit must be at least 1, got {limit}.")
  if env_limit is not None and limit < env_limit:
    bad(f"episode_limit ({limit}) is less than the environment's time limit "
        f"max_steps_in_episode ({env_limit}): an episode may outlast it, so a counted episode "
        "might not end inside the window.")
  length = limit if config.rollout_length is None else int(config.rollout_length)
  if length < 1:
    bad(f"rollout_length must be at least 1, got {length}.")
  if length < limit:
    bad(f"rollout_length ({length}) is less than the episode limit ({limit}): no episode is "
        "sure to end inside the window, and counting only those that do favours short ones.")
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
  return dataclasses.replace(config, rollout_length=length, episode_limit=limit,
                             log_every=log_every, eval_every=eval_every, total_steps=total)


def make_weights(config: ReinforceConfig, traj: dict, v: Array, v_final: Array, baseline: Array,
                 hp) -> tuple[Array, Array, Array]:
  """``[T, E]`` trajectories -> ``(weights, mask, returns)``, each ``[T, E]`` (no gradients).

      mask_t = [the episode holding step t started at a step <= T - episode_limit]
      weights_t = G_t - b_t   (standardised over the counted steps if normalize_advantages)

  ``T`` is the trajectories' length; with ``T = episode_limit`` the mask is each column's first
  episode. ``G`` is the total return or reward-to-go (``config.returns``), bootstrapped from
  ``v_final`` at truncations with ``truncation="bootstrap"``; ``b`` is 0, the running mean, or
  ``v`` (``config.baseline``). ``weights`` and ``returns`` are computed at every step; only the
  masked ones are meaningful (an unfinished episode's ``G`` stops at the window's end).

  Args:
    config: a resolved config (``episode_limit`` set: see :func:`resolve`).
    traj: float ``reward``, ``discount`` (``gamma (1 - terminated)``), bool ``end`` (terminated
      or truncated), ``truncated``, each ``[T, E]``.
    v: float ``[T, E]`` ``V(s_t)``.
    v_final: float ``[T, E]`` ``V(final_observation_t)`` (read on truncation with
      ``truncation="bootstrap"``).
    baseline: float ``[]`` the running mean (``baseline="mean"``).
    hp: the hyperparameters (unused; kept for a uniform signature).

  Returns:
    ``(weights, mask, returns)``: float, bool, float ``[T, E]``.

  Raises:
    ValueError: an unresolved config, or trajectories shorter than ``episode_limit``.
  """
  del hp
  if config.episode_limit is None:
    raise ValueError("make_weights needs a resolved config (episode_limit is None); pass it "
                     "through reinforce.resolve(config, env_params).")
  length = traj["reward"].shape[0]
  last_start = length - config.episode_limit
  if last_start < 0:
    raise ValueError(f"make_weights: trajectories of {length} steps are shorter than "
                     f"episode_limit ({config.episode_limit}); no episode is sure to end in them.")
  if config.truncation == "bootstrap":
    v_tp1 = jnp.where(traj["truncated"], v_final, 0.0)
  else:
    v_tp1 = jnp.zeros_like(traj["reward"])
  fn = (returns_lib.episode_total_returns if config.returns == "total"
        else returns_lib.discounted_returns)
  g = jax.vmap(fn, in_axes=1, out_axes=1)(traj["reward"], traj["discount"], traj["end"], v_tp1)
  mask = jax.vmap(lambda e: returns_lib.started_episode_mask(e, last_start), in_axes=1,
                  out_axes=1)(traj["end"])
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


def policy_loss(logits: Array, actions: Array, weights: Array, mask: Array) -> Array:
  """REINFORCE's surrogate over a ``[T, E]`` batch; its gradient is the policy-gradient estimate.

      L = -(1 / (T E)) sum_{t, e} mask_te * log pi(a_te | s_te) * stop_gradient(w_te)

  The sum over the counted steps is divided by the FIXED batch size ``T E``, not by the number of
  counted steps (a random ratio would be biased). With the mask of :func:`make_weights`,
  ``E[-grad L] = (E[N] / T) grad J`` (``N = 1`` when ``T`` is the episode limit).

  Args:
    logits: float ``[T, E, A]``.
    actions: int ``[T, E]``.
    weights: float ``[T, E]``.
    mask: bool or float ``[T, E]``.

  Returns:
    float ``[]``.
  """
  chex.assert_rank([logits, actions, weights, mask], [3, 2, 2, 2])
  chex.assert_equal_shape([actions, weights, mask])
  chex.assert_equal_shape_prefix([logits, actions], 2)
  flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
  return losses_lib.policy_gradient_loss(flat(logits), flat(actions),
                                         flat(weights * mask.astype(weights.dtype)))


def make_train(config: ReinforceConfig, env, env_params) -> Trainer:
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
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    pg = policy_loss(logits, traj["action"], w, mask)    # / (T E), a constant: unbiased
    loss = pg
    vl = jnp.float32(0)
    if config.baseline == "value":
      scale = m.size / jnp.maximum(jnp.sum(m), 1.0)     # the critic's regression: mean over M
      vl = scale * losses_lib.value_loss(flat(jnp.where(mask, v, g)), flat(g))
      loss = loss + hp.value_coef * vl
    ent = -losses_lib.entropy_loss(flat(logits))
    loss = loss - hp.entropy_coef * ent
    g_mean = jnp.sum(g * m) / jnp.maximum(jnp.sum(m), 1.0)
    is_start = jnp.concatenate([jnp.ones_like(mask[:1]), traj["end"][:-1]], axis=0)
    episodes = jnp.sum(is_start & mask) / config.num_envs
    return loss, (pg, vl, ent, g_mean, jnp.mean(m), episodes)

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
    (loss, (pg, vl, ent, g_mean, counted, counted_eps)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params, traj, state.baseline, hp)
    updates, opt_state = make_optimizer(hp).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    baseline = jnp.where(state.updates == 0, g_mean,
                         state.baseline + hp.baseline_step * (g_mean - state.baseline))
    state = ReinforceState(params=params, opt_state=opt_state, baseline=baseline, key=key,
                           env_steps=state.env_steps + batch, updates=state.updates + 1)
    acc = trainer_lib.tally_episodes(dict(
        acc, loss=acc["loss"] + loss, pg=acc["pg"] + pg, vl=acc["vl"] + vl, ent=acc["ent"] + ent,
        counted=acc["counted"] + counted, counted_eps=acc["counted_eps"] + counted_eps,
        finite=acc["finite"] & jnp.isfinite(loss)),
        traj["done"], traj["ep_return"], traj["ep_length"])
    return (state, acc), None

  def log_interval(carry, log_index, hp):
    state, finite_so_far = carry
    zero = jnp.float32(0)
    acc = dict(loss=zero, pg=zero, vl=zero, ent=zero, counted=zero, counted_eps=zero,
               finite=jnp.bool_(True), **trainer_lib.episode_tally())
    (state, acc), _ = jax.lax.scan(lambda c, x: iteration(c, x, hp), (state, acc), None,
                                   length=iterations_per_log)
    state, episode_metrics = trainer_lib.close_interval(state, acc, log_index, logs_per_eval,
                                                        evaluate)
    finite = finite_so_far & acc["finite"]
    n = jnp.float32(iterations_per_log)
    metrics = dict(
        env_steps=state.env_steps, updates=state.updates, **episode_metrics, loss=acc["loss"] / n,
        policy_loss=acc["pg"] / n, value_loss=acc["vl"] / n, entropy=acc["ent"] / n,
        counted_fraction=acc["counted"] / n, counted_episodes=acc["counted_eps"] / n,
        baseline=state.baseline, loss_finite=finite)
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
