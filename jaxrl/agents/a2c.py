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

ADVANTAGES = ("gae", "n_step")
CRITICS = ("v", "q")
Q_TARGETS = ("sarsa", "expected_sarsa")


@dataclasses.dataclass(frozen=True)
class A2CConfig:
  """A2C's settings. Fields marked *hyperparameter* are defaults of :class:`A2CHyperparams`.

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
    actor_lr_scale: the actor's step is ``learning_rate * actor_lr_scale`` (*hyperparameter*).
  """

  total_steps: int = 500_000
  num_envs: int = 16
  num_steps: int = 5
  network: str = "mlp"
  hidden_sizes: tuple[int, ...] = (64, 64)
  shared_torso: bool = False
  advantage: str = "gae"
  n_step: int | None = None
  critic: str = "v"
  q_target: str = "expected_sarsa"
  q_baseline: bool = True
  q_dueling: bool = False
  normalize_advantages: bool = True
  max_grad_norm: float = 0.5
  anneal_lr: bool = False
  log_every: int = 10_000
  eval_every: int = 10_000
  eval_episodes: int = 8
  eval_max_steps: int | None = None
  # hyperparameters (vmappable)
  learning_rate: float = 2.5e-3
  discount: float = 0.99
  gae_lambda: float = 0.95
  value_coef: float = 0.5
  entropy_coef: float = 0.01
  actor_lr_scale: float = 1.0

  def hyperparams(self) -> "A2CHyperparams":
    """The vmappable numbers of this config, as a pytree of scalars."""
    return A2CHyperparams(
        learning_rate=jnp.float32(self.learning_rate), discount=jnp.float32(self.discount),
        gae_lambda=jnp.float32(self.gae_lambda), value_coef=jnp.float32(self.value_coef),
        entropy_coef=jnp.float32(self.entropy_coef),
        actor_lr_scale=jnp.float32(self.actor_lr_scale))


class A2CHyperparams(NamedTuple):
  """Numbers a sweep may vary: every field a scalar (add a leading axis and ``vmap``).

  ``actor_lr_scale`` multiplies the actor's step only (Adam's update, after the global-norm clip
  over all parameters, times ``learning_rate * actor_lr_scale``); the critic steps with
  ``learning_rate``. The actor is the ``policy_head`` and, with separate torsos, the ``actor_*``
  torso; everything else (critic heads and torso, and a shared torso, as with
  ``shared_torso=True`` or the CNN) counts as critic (:func:`actor_param_labels`). A slower
  actor (e.g. 0.1) lets the ``Q`` critic keep up with the policy (two-timescale actor-critic).
  """

  learning_rate: Array
  discount: Array
  gae_lambda: Array
  value_coef: Array
  entropy_coef: Array
  actor_lr_scale: Array


def validate_hyperparams(hp: A2CHyperparams) -> None:
  """Raises ValueError for concrete hyperparameters that make no sense (any batch shape)."""
  _checks.check_hyperparams("A2C", hp, [
      ("learning_rate", _checks.POSITIVE),
      ("discount", _checks.UNIT_INTERVAL),
      ("gae_lambda", _checks.UNIT_INTERVAL),
      ("value_coef", _checks.NON_NEGATIVE),
      ("entropy_coef", _checks.NON_NEGATIVE),
      ("actor_lr_scale", _checks.POSITIVE),
  ])


def actor_param_labels(params: Any) -> Any:
  """The tree of ``params`` with each leaf labelled ``"actor"`` or ``"critic"``.

  A leaf is the actor's when the top-level module holding it is ``policy_head`` or a separate
  actor torso layer ``actor_<i>`` (:class:`jaxrl.networks.ActorCritic`); all else is the
  critic's, a shared torso included (``shared_torso=True``'s ``torso_<i>``, the CNN's layers).
  """
  def label(path, _):
    names = [p.key for p in path if isinstance(p, jax.tree_util.DictKey)]
    top = names[1] if names and names[0] == "params" and len(names) > 1 else (names or [""])[0]
    is_actor = top == "policy_head" or (top.startswith("actor_") and top[6:].isdigit())
    return "actor" if is_actor else "critic"

  return jax.tree_util.tree_map_with_path(label, params)


class A2CState(NamedTuple):
  """Everything a run carries (checkpoint this to resume)."""

  params: Any
  opt_state: Any
  env_state: Any
  obs: Array
  key: Array
  env_steps: Array
  updates: Array


def _check_config(config: A2CConfig, obs_shape: tuple[int, ...]) -> int:
  def bad(msg):
    raise ValueError(f"A2CConfig: {msg}")

  for name in ("total_steps", "num_envs", "num_steps", "log_every", "eval_every", "eval_episodes"):
    if getattr(config, name) < 1:
      bad(f"{name} must be at least 1, got {getattr(config, name)}.")
  batch = config.num_envs * config.num_steps
  if config.log_every % batch:
    bad(f"log_every ({config.log_every}) must be a multiple of num_envs * num_steps ({batch}).")
  if config.eval_every % config.log_every:
    bad(f"eval_every ({config.eval_every}) must be a multiple of log_every ({config.log_every}).")
  if config.total_steps % config.log_every:
    bad(f"total_steps ({config.total_steps}) must be a multiple of log_every ({config.log_every}).")
  if config.advantage not in ADVANTAGES:
    bad(f"advantage must be one of {ADVANTAGES}, got {config.advantage!r}.")
  if config.critic not in CRITICS:
    bad(f"critic must be one of {CRITICS}, got {config.critic!r}.")
  if config.q_target not in Q_TARGETS:
    bad(f"q_target must be one of {Q_TARGETS}, got {config.q_target!r}.")
  if not isinstance(config.q_baseline, (bool, np.bool_)):
    bad(f"q_baseline must be a bool, got {config.q_baseline!r}.")
  if config.critic == "v" and not config.q_baseline:
    bad("q_baseline=False needs critic='q' (a V critic has no Q(s, a) to weight by).")
  if not isinstance(config.q_dueling, (bool, np.bool_)):
    bad(f"q_dueling must be a bool, got {config.q_dueling!r}.")
  if config.critic == "v" and config.q_dueling:
    bad("q_dueling=True needs critic='q'.")
  if config.n_step is not None and config.n_step < 1:
    bad(f"n_step must be at least 1 (or None), got {config.n_step}.")
  if not config.max_grad_norm > 0:
    bad(f"max_grad_norm must be positive (inf disables clipping), got {config.max_grad_norm}.")
  if config.eval_max_steps is not None and config.eval_max_steps < 1:
    bad(f"eval_max_steps must be at least 1, got {config.eval_max_steps}.")
  if config.network not in networks_lib.ACTOR_CRITIC_KINDS:
    bad(f"network must be one of {networks_lib.ACTOR_CRITIC_KINDS}, got {config.network!r}.")
  validate_hyperparams(config.hyperparams())
  return batch


def sarsa_next_actions(a_t: Array, end_t: Array, sampled_tp1: Array) -> Array:
  """The action SARSA bootstraps with after each step of one stream.

      a'_t = a_{t+1}            if t + 1 < T and the episode goes on after step t,
      a'_t = sampled_tp1[t]     otherwise (the window's last step, or an episode's end, where
                                 the next action was never taken: sample it from pi(. | s'))

  Args:
    a_t: int ``[T]`` actions taken.
    end_t: bool ``[T]`` the episode ended (terminated or truncated) at step ``t``.
    sampled_tp1: int ``[T]`` actions drawn from ``pi(. | s'_t)`` at each next observation.

  Returns:
    int ``[T]``.
  """
  chex.assert_rank([a_t, end_t, sampled_tp1], 1)
  chex.assert_equal_shape([a_t, end_t, sampled_tp1])
  taken = jnp.concatenate([a_t[1:], sampled_tp1[-1:]], axis=0)
  return jnp.where(end_t, sampled_tp1, taken)


def q_critic_targets(r_t: Array, discount_t: Array, end_t: Array, q_sa_t: Array, b_tp1: Array,
                     *, lambda_: Array | float | None = None, n: int | None = None) -> Array:
  """Targets ``y_t`` of the action-value critic for one stream (gradients not stopped).

  With ``b_tp1`` the bootstrap after each step (``Q(s', a')`` for SARSA, ``sum_a pi(a | s')
  Q(s', a)`` for expected SARSA; at the final observation on truncation):

      n-step  (``n``):        y_t = sum_{i<m} g_{t:t+i} r_{t+i} + g_{t:t+m} b_tp1_{t+m-1},
                              m = min(n, steps to the first cut), g_{t:t+i} = prod of discounts
      lambda  (``lambda_``):  y_t = r_t + discount_t * (b_tp1_t + lambda * (1 - c_t)
                                                        * (y_{t+1} - q_sa_{t+1})),  c_t cuts

  The lambda form is :func:`jaxrl.returns.gae` with ``v = q_sa``, ``v_tp1 = b_tp1``, plus
  ``q_sa``: SARSA(lambda) when ``b_tp1_t = q_sa_{t+1}`` inside an episode, expected SARSA(lambda)
  with a control variate otherwise (Sutton & Barto 2018, sec. 12.9).

  Args:
    r_t: float ``[T]`` rewards.
    discount_t: float ``[T]`` ``gamma * (1 - terminated_t)``.
    end_t: bool ``[T]`` terminated or truncated at step ``t``.
    q_sa_t: float ``[T]`` ``Q(s_t, a_t)``.
    b_tp1: float ``[T]`` bootstrap values after each step.
    lambda_: the lambda of the lambda-return (give exactly one of ``lambda_`` and ``n``).
    n: the static ``n`` of the n-step return (1: TD(0)).

  Returns:
    float ``[T]``.
  """
  if (lambda_ is None) == (n is None):
    raise ValueError("q_critic_targets: give exactly one of lambda_ and n.")
  if n is not None:
    return returns_lib.n_step_returns(r_t, discount_t, end_t, b_tp1, n)
  return returns_lib.gae(r_t, discount_t, end_t, q_sa_t, b_tp1, lambda_) + q_sa_t


def _policy_match(env, env_params):
  """For a tabular environment, ``fn(logits_fn, params) -> {"policy_match": ...}``, else None."""
  compare = rollouts.tabular_reference(env, env_params)
  if compare is None:
    return None

  def fn(logits_fn, params):
    return dict(policy_match=compare(logits_fn, params)["policy_match"])

  return fn


def make_train(config: A2CConfig, env, env_params) -> Trainer:
  """Builds ``train(key, hyperparams=None) -> (final_state, metrics)``, pure and jit-able.

  Validates the config, environment and network eagerly (ValueError, before anything compiles).

  Metrics (arrays with a leading ``[num_logs]`` axis, one entry per ``log_every`` steps), named
  as DQN's:
    ``env_steps``, ``updates``;
    ``episode_return``, ``episode_length``: means over episodes that *finished* in the interval
    (NaN when none did); ``episodes``: how many finished;
    ``eval_return``: mean greedy return over ``eval_episodes`` fresh episodes (NaN between
    evaluations);
    ``loss``, ``policy_loss``, ``value_loss``, ``entropy``: means over the interval's updates;
    ``loss_finite``: False once any update produced a non-finite loss — the run diverged;
    ``value_mean``: mean ``V(s)`` over the interval's batches.
    With ``critic="q"``, ``value_loss`` is the ``Q(s_t, a_t)`` regression loss and
    ``value_mean`` the mean of ``V(s) = sum_a pi(a | s) Q(s, a)``.
    With a tabular environment, ``policy_match``: fraction of non-terminal states whose most
    probable action is optimal under the exact ``Q*``.
  """
  num_actions = int(env.num_actions)
  obs_shape = tuple(env.observation_space(env_params).shape)
  batch = _check_config(config, obs_shape)
  network = networks_lib.make_actor_critic(config.network, num_actions, obs_shape,
                                           hidden_sizes=config.hidden_sizes,
                                           shared=config.shared_torso, critic=config.critic,
                                           dueling=config.q_dueling)
  env = wrappers_lib.EpisodeStatistics(env)
  reference = _policy_match(env, env_params)

  def logits_fn(params, obs):
    return network.apply(params, obs)[0]

  evaluate = rollouts.make_greedy_evaluation(env, env_params, logits_fn, config.eval_episodes,
                                             config.eval_max_steps)
  iterations_per_log = config.log_every // batch
  num_logs = config.total_steps // config.log_every
  logs_per_eval = config.eval_every // config.log_every
  total_updates = config.total_steps // batch
  n_step = config.num_steps if config.n_step is None else config.n_step

  def make_optimizer(hp):
    clip = (optax.clip_by_global_norm(config.max_grad_norm) if np.isfinite(config.max_grad_norm)
            else optax.identity())
    if config.anneal_lr:
      rate = lambda count: -hp.learning_rate * (1.0 - count / total_updates)  # noqa: E731
    else:
      rate = lambda count: -hp.learning_rate  # noqa: E731
    # the actor's step times actor_lr_scale, applied last (1.0: an exact no-op on the updates)
    actor_scale = optax.multi_transform(
        {"actor": optax.scale(hp.actor_lr_scale), "critic": optax.identity()},
        actor_param_labels)
    return optax.chain(clip, optax.scale_by_adam(eps=1e-5), optax.scale_by_schedule(rate),
                       actor_scale)

  def advantages(r, d, end, v, v_tp1, hp):
    """``[T, E]`` arrays -> advantages ``[T, E]`` (one stream per environment)."""
    if config.advantage == "gae":
      fn = lambda r, d, e, v, vn: returns_lib.gae(r, d, e, v, vn, hp.gae_lambda)  # noqa: E731
      return jax.vmap(fn, in_axes=1, out_axes=1)(r, d, end, v, v_tp1)
    fn = lambda r, d, e, vn: returns_lib.n_step_returns(r, d, e, vn, n_step)  # noqa: E731
    return jax.vmap(fn, in_axes=1, out_axes=1)(r, d, end, v_tp1) - v

  def q_loss_fn(params, traj, hp, k_boot):
    """The action-value critic's loss: ``traj`` arrays ``[T, E, ...]``."""
    logits, q = network.apply(params, traj["obs"])                     # [T, E, A], [T, E, A]
    logits_tp1, q_tp1 = jax.lax.stop_gradient(network.apply(params, traj["next_obs"]))
    sg_logits, sg_q = jax.lax.stop_gradient(logits), jax.lax.stop_gradient(q)
    action = traj["action"]                                             # [T, E]
    take = lambda x, a: jnp.take_along_axis(x, a[..., None], axis=-1)[..., 0]  # noqa: E731
    per_env = lambda fn: jax.vmap(fn, in_axes=1, out_axes=1)  # noqa: E731  [T, E] streams
    if config.q_target == "expected_sarsa":
      b_tp1 = losses_lib.state_value_from_q(logits_tp1, q_tp1)         # [T, E]
    else:
      sampled = policies_lib.categorical_sample(k_boot, logits_tp1)     # [T, E]
      b_tp1 = take(q_tp1, per_env(sarsa_next_actions)(action, traj["end"], sampled))
    q_sa = take(sg_q, action)
    if config.advantage == "gae":
      target_fn = functools.partial(q_critic_targets, lambda_=hp.gae_lambda)
    else:
      target_fn = functools.partial(q_critic_targets, n=n_step)
    target = per_env(target_fn)(traj["reward"], traj["discount"], traj["end"], q_sa, b_tp1)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    weight = losses_lib.q_actor_critic_weights(flat(sg_logits), flat(sg_q), flat(action),
                                               baseline=config.q_baseline)
    if config.normalize_advantages:
      weight = (weight - jnp.mean(weight)) / (jnp.std(weight) + 1e-8)
    pg = losses_lib.policy_gradient_loss(flat(logits), flat(action), weight)
    vl = losses_lib.action_value_loss(flat(q), flat(action), flat(jax.lax.stop_gradient(target)))
    ent = -losses_lib.entropy_loss(flat(logits))
    loss = pg + hp.value_coef * vl - hp.entropy_coef * ent
    return loss, (pg, vl, ent, jnp.mean(losses_lib.state_value_from_q(sg_logits, sg_q)))

  def loss_fn(params, traj, hp):
    logits, v = network.apply(params, traj["obs"])                     # [T, E, A], [T, E]
    _, v_tp1 = network.apply(params, traj["next_obs"])
    v_tp1 = jax.lax.stop_gradient(v_tp1)
    adv = jax.lax.stop_gradient(advantages(traj["reward"], traj["discount"], traj["end"],
                                           jax.lax.stop_gradient(v), v_tp1, hp))
    target = adv + jax.lax.stop_gradient(v)
    if config.normalize_advantages:
      adv = (adv - jnp.mean(adv)) / (jnp.std(adv) + 1e-8)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    pg = losses_lib.policy_gradient_loss(flat(logits), flat(traj["action"]), flat(adv))
    vl = losses_lib.value_loss(flat(v), flat(target))
    ent = -losses_lib.entropy_loss(flat(logits))
    loss = pg + hp.value_coef * vl - hp.entropy_coef * ent
    return loss, (pg, vl, ent, jnp.mean(v))

  def env_step(carry, _, params):
    env_state, obs, key = carry
    key, k_act, k_step = jax.random.split(key, 3)
    logits, _ = network.apply(params, obs)
    action = policies_lib.categorical_sample(k_act, logits)
    next_obs, env_state, reward, terminated, truncated, info = jax.vmap(
        env.step, in_axes=(0, 0, 0, None))(jax.random.split(k_step, config.num_envs), env_state,
                                           action, env_params)
    step = dict(obs=obs, action=action, reward=reward.astype(jnp.float32),
                terminated=terminated, end=terminated | truncated,
                next_obs=info["final_observation"], done=info["episode_done"],
                ep_return=info["episode_return"], ep_length=info["episode_length"])
    return (env_state, next_obs, key), step

  def iteration(carry, _, hp):
    state, acc = carry
    (env_state, obs, key), traj = jax.lax.scan(
        lambda c, x: env_step(c, x, state.params), (state.env_state, state.obs, state.key), None,
        length=config.num_steps)
    traj["discount"] = hp.discount * (1.0 - traj["terminated"].astype(jnp.float32))
    if config.critic == "q":
      k_boot = None
      if config.q_target == "sarsa":
        key, k_boot = jax.random.split(key)
      (loss, (pg, vl, ent, v_mean)), grads = jax.value_and_grad(q_loss_fn, has_aux=True)(
          state.params, traj, hp, k_boot)
    else:
      (loss, (pg, vl, ent, v_mean)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          state.params, traj, hp)
    updates, opt_state = make_optimizer(hp).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    state = A2CState(params=params, opt_state=opt_state, env_state=env_state, obs=obs, key=key,
                     env_steps=state.env_steps + batch, updates=state.updates + 1)
    acc = trainer_lib.tally_episodes(dict(
        acc, loss=acc["loss"] + loss, pg=acc["pg"] + pg, vl=acc["vl"] + vl, ent=acc["ent"] + ent,
        v=acc["v"] + v_mean, finite=acc["finite"] & jnp.isfinite(loss)),
        traj["done"], traj["ep_return"], traj["ep_length"])
    return (state, acc), None

  def log_interval(carry, log_index, hp):
    state, finite_so_far = carry
    zero = jnp.float32(0)
    acc = dict(loss=zero, pg=zero, vl=zero, ent=zero, v=zero, finite=jnp.bool_(True),
               **trainer_lib.episode_tally())
    (state, acc), _ = jax.lax.scan(lambda c, x: iteration(c, x, hp), (state, acc), None,
                                   length=iterations_per_log)
    state, episode_metrics = trainer_lib.close_interval(state, acc, log_index, logs_per_eval,
                                                        evaluate)
    finite = finite_so_far & acc["finite"]
    n = jnp.float32(iterations_per_log)
    metrics = dict(
        env_steps=state.env_steps,
        updates=state.updates,
        **episode_metrics,
        loss=acc["loss"] / n,
        policy_loss=acc["pg"] / n,
        value_loss=acc["vl"] / n,
        entropy=acc["ent"] / n,
        value_mean=acc["v"] / n,
        loss_finite=finite,
    )
    if reference is not None:
      metrics.update(reference(logits_fn, state.params))
    return (state, finite), metrics

  def init_state(key, hp) -> A2CState:
    k_net, k_env, key = jax.random.split(key, 3)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(k_env, config.num_envs), env_params)
    params = network.init(k_net, obs[0])
    return A2CState(params=params, opt_state=make_optimizer(hp).init(params), env_state=env_state,
                    obs=obs, key=key, env_steps=jnp.int32(0), updates=jnp.int32(0))

  return Trainer(
      name="a2c", config=config,
      init=lambda key, hp: (init_state(key, hp), jnp.bool_(True)),
      step=log_interval, num_logs=num_logs, steps_per_log=config.log_every,
      default_hyperparams=config.hyperparams(), validate=validate_hyperparams, network=network)
