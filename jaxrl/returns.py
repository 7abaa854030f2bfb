"""Discounted returns, reward-to-go, n-step and lambda-returns, GAE: arrays in, arrays out.

Also which steps of a stream a Monte Carlo estimate may count without selection bias
(:func:`started_episode_mask`, :func:`first_episode_mask`; not :func:`finished_episode_mask`).

Every function takes ONE stream of experience with a leading time axis ``[T]``, as one
environment produced it (auto-resetting, so several episodes may lie end to end in the stream);
batch environments with ``jax.vmap``. The time naming follows rlax: step ``t`` is the transition
``(s_t, a_t) -> (r_t, s_{t+1})``.

    r_t         float [T]  reward of step t.
    discount_t  float [T]  gamma * (1 - terminated_t): zero only where the episode TERMINATED.
    end_t       bool  [T]  the episode ended at step t, terminated OR truncated (time limit): the
                           recursion must not run from step t into the next episode's steps.
    v_t         float [T]  V(s_t), the critic at the state where step t was taken.
    v_tp1       float [T]  V of the state step t reached: V(s_{t+1}), or, where the episode was
                           truncated at t, V(info["final_observation"]_t) (s_{t+1} is then the
                           next episode's first observation).

Termination is not truncation. Both cut the stream (``end_t``); termination zeroes the bootstrap
through ``discount_t = 0``, truncation keeps ``discount_t = gamma`` and bootstraps from
``v_tp1_t``, the value of the final observation. The last step of the stream is always treated
as a cut: whatever lies beyond the window is summarised by ``v_tp1[T - 1]``. Pass ``v_tp1=None``
(zeros) to bootstrap from nothing, as REINFORCE does with whole episodes.

All recursions are reverse ``lax.scan`` s; they are pure and jit/vmap/grad friendly.
:func:`gae` and :func:`lambda_returns` also take ``parallel=True``: the same recursion, affine in
the next value, as a log-depth ``jax.lax.associative_scan`` (about ``2 log2 T`` vectorised steps
instead of ``T`` sequential ones; equal to float rounding). On XLA:CPU a sequential step costs
microseconds of loop overhead whatever its width, so PPO on CartPole (rollouts of 100 steps) runs
about 15% faster with it at one seed.

References:
  Sutton & Barto (2018), Reinforcement Learning: An Introduction, 2nd ed., ch. 7 and 12.
  Williams (1992), Simple statistical gradient-following algorithms for connectionist RL.
  Schulman et al. (2016), High-dimensional continuous control using generalized advantage
  estimation, ICLR.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import validation

Array = chex.Array

__all__ = (
    "discounted_returns",
    "episode_total_returns",
    "finished_episode_mask",
    "first_episode_mask",
    "gae",
    "lambda_returns",
    "n_step_returns",
    "action_value_targets",
    "reinforce_weights",
    "sarsa_next_actions",
    "started_episode_mask",
)


def _check_stream(r_t, discount_t, end_t, v_tp1):
  chex.assert_rank([r_t, discount_t, end_t], 1)
  chex.assert_type([r_t, discount_t], float)
  chex.assert_equal_shape([r_t, discount_t, end_t])
  if v_tp1 is None:
    return jnp.zeros_like(r_t)
  chex.assert_rank(v_tp1, 1)
  chex.assert_type(v_tp1, float)
  chex.assert_equal_shape([r_t, v_tp1])
  return v_tp1


def _cuts(end_t: Array) -> Array:
  """``end_t`` as float with the last step forced to a cut (the window's end)."""
  cut = jnp.asarray(end_t).astype(jnp.float32)
  return cut.at[-1].set(1.0)


def _affine_reverse_scan(x_t: Array, a_t: Array) -> Array:
  """``y_t = x_t + a_t * y_{t+1}``, ``y_T = 0``, by ``jax.lax.associative_scan``.

  Each step is the affine map ``y -> x_t + a_t y``; composing an earlier segment ``(a_e, x_e)``
  with the later one ``(a_l, x_l)`` it feeds on gives ``(a_e a_l, x_e + a_e x_l)``.
  """
  def compose(later, earlier):
    a_l, x_l = later
    a_e, x_e = earlier
    return a_e * a_l, x_e + a_e * x_l

  return jax.lax.associative_scan(compose, (a_t, x_t), reverse=True)[1]


def _check_fraction(name: str, value) -> None:
  if np.ndim(value) == 0:
    validation.check_number(name, value, low=0.0, high=1.0)


def discounted_returns(r_t: Array, discount_t: Array, end_t: Array,
                       v_tp1: Array | None = None) -> Array:
  """Discounted reward-to-go within each episode of the stream.

      G_t = r_t + discount_t * [(1 - c_t) * G_{t+1} + c_t * v_tp1_t],
      c_t = end_t (and c_{T-1} = 1).

  With ``v_tp1=None`` and ``discount_t = gamma`` this is REINFORCE's reward-to-go
  ``G_t = sum_{k >= t, same episode} gamma^(k - t) r_k``; with a critic's ``v_tp1`` it is the
  Monte Carlo return bootstrapped only where the stream is cut by truncation or the window's end.

  Args:
    r_t: float ``[T]``.
    discount_t: float ``[T]`` ``gamma * (1 - terminated_t)``.
    end_t: bool ``[T]`` terminated or truncated at ``t``.
    v_tp1: float ``[T]`` or None (zeros): value of the state after step ``t`` (the final
      observation's on truncation); only read where ``c_t = 1``.

  Returns:
    float ``[T]``.

  Example:
    >>> r = jnp.array([1., 1., 1., 1.])
    >>> d = jnp.array([1., 0., 1., 1.])          # terminated at t = 1
    >>> end = jnp.array([False, True, False, False])
    >>> discounted_returns(r, d, end).tolist()   # two episodes; the second runs off the window
    [2.0, 1.0, 2.0, 1.0]
  """
  v_tp1 = _check_stream(r_t, discount_t, end_t, v_tp1)
  cut = _cuts(end_t)

  def body(g_next, xs):
    r, d, c, v = xs
    g = r + d * ((1.0 - c) * g_next + c * v)
    return g, g

  _, g = jax.lax.scan(body, jnp.zeros((), r_t.dtype), (r_t, discount_t, cut, v_tp1), reverse=True)
  return g


def episode_total_returns(r_t: Array, discount_t: Array, end_t: Array,
                          v_tp1: Array | None = None) -> Array:
  """Each step's weight is the return of its WHOLE episode, from the episode's first step.

      R(tau)_t = G_{s(t)},   s(t) = the first step of the episode that holds step t,

  with ``G`` from :func:`discounted_returns`. This is the notes' REINFORCE estimator,
  ``grad J ~ sum_t grad log pi(a_t | s_t) * R(tau)``, which also weighs actions by rewards that
  came before them. The first step of the stream is taken as an episode start.

  Args:
    r_t, discount_t, end_t, v_tp1: as :func:`discounted_returns`.

  Returns:
    float ``[T]``.
  """
  g = discounted_returns(r_t, discount_t, end_t, v_tp1)
  cut = jnp.asarray(end_t)
  start = jnp.concatenate([jnp.ones((1,), bool), cut[:-1]])

  def body(carry, xs):
    s, g_t = xs
    total = jnp.where(s, g_t, carry)
    return total, total

  _, total = jax.lax.scan(body, g[0], (start, g))
  return total


def finished_episode_mask(end_t: Array) -> Array:
  """True at the steps whose episode ended inside the stream (at some ``k >= t``).

      m_t = OR_{k >= t} end_k

  Not a rule for choosing which episodes a policy-gradient estimate counts: whether an episode
  that started mid-stream ends before the stream does depends on that episode's own length, so
  this mask keeps short episodes and drops long ones (selection bias; the mean of the estimate
  is not the gradient). Use :func:`started_episode_mask` for that. This mask says which steps
  already have a Monte Carlo return (e.g. to train a critic or report finished episodes).

  Args:
    end_t: bool ``[T]``.

  Returns:
    bool ``[T]``.
  """
  chex.assert_rank(end_t, 1)
  end = jnp.asarray(end_t, bool)
  return jax.lax.cummax(end[::-1].astype(jnp.int32), axis=0)[::-1].astype(bool)


def started_episode_mask(end_t: Array, last_start: int | Array) -> Array:
  """True at the steps of every episode that STARTED at or before step ``last_start``.

      m_t = [s(t) <= last_start],   s(t) = max{k <= t : k = 0 or end_{k-1}},

  ``s(t)`` being the first step of the episode that holds step ``t`` (the stream's first step
  starts an episode, as it does when the environments are reset at the start of the window).

  Why this set gives an unbiased policy gradient. Let every episode last at most ``L`` steps
  (a time limit) and the stream hold ``T >= L`` steps; take ``last_start = T - L``. Then

  * every counted episode ends inside the stream (it starts at ``s <= T - L`` and lasts at most
    ``L`` steps), so its return ``R`` and reward-to-go are complete;
  * whether episode ``k`` of the stream is counted, ``s_k <= T - L``, is decided by the lengths
    of episodes ``1 .. k-1`` only, never by episode ``k`` itself (a stopping rule). Episodes are
    i.i.d. (each starts from a reset, with fresh randomness), so by Wald's identity the sum over
    counted episodes of any per-episode quantity ``X_k`` (e.g. ``sum_t grad log pi(a_t|s_t) G_t``)
    has mean ``E[N] E[X]``, ``N`` the number counted: ``E[X]`` with no selection bias.

  ``last_start = 0`` (with ``T = L``) counts exactly the first episode (:func:`first_episode_mask`,
  ``N = 1``). By contrast :func:`finished_episode_mask` counts an episode when it ENDS in the
  stream, which depends on its own length and biases towards short episodes.

  Args:
    end_t: bool ``[T]`` terminated or truncated at ``t``.
    last_start: int ``[]`` (static or traced), ``>= 0``: the last step at which a counted episode
      may start, ``T - L`` for episodes of at most ``L`` steps.

  Returns:
    bool ``[T]``.

  Raises:
    ValueError: a concrete ``last_start`` that is negative or not an integer.

  Example:
    >>> end = jnp.array([False, True, False, True, True, False])   # episodes 0-1, 2-3, 4, 5
    >>> started_episode_mask(end, 2).tolist()
    [True, True, True, True, False, False]
  """
  if not validation.is_traced(last_start):
    value = np.asarray(last_start)
    if value.ndim != 0 or not np.issubdtype(value.dtype, np.integer):
      raise ValueError(f"last_start must be an integer scalar, got {last_start!r}.")
    if int(value) < 0:
      raise ValueError(
          f"last_start must be >= 0, got {int(value)}: with episodes of up to L steps in a "
          "stream of T < L steps no episode is sure to end inside it.")
  chex.assert_rank(end_t, 1)
  end = jnp.asarray(end_t, bool)
  steps = jnp.arange(end.shape[0], dtype=jnp.int32)
  is_start = jnp.concatenate([jnp.ones((1,), bool), end[:-1]])
  start_of = jax.lax.cummax(jnp.where(is_start, steps, 0), axis=0)     # s(t)
  return start_of <= last_start


def first_episode_mask(end_t: Array) -> Array:
  """True at the steps of the stream's first episode: :func:`started_episode_mask` with
  ``last_start = 0``.

      m_t = [no end_k for k < t]

  With a window at least as long as the time limit, the first episode always ends inside it,
  and counting only it is an unbiased choice (see :func:`started_episode_mask`).

  Args:
    end_t: bool ``[T]``.

  Returns:
    bool ``[T]``.
  """
  return started_episode_mask(end_t, 0)


def n_step_returns(r_t: Array, discount_t: Array, end_t: Array, v_tp1: Array,
                   n: int) -> Array:
  """n-step bootstrapped returns, cut at episode ends and the window's end.

      G^(1)_t = r_t + discount_t * v_tp1_t
      G^(k)_t = r_t + discount_t * [(1 - c_t) * G^(k-1)_{t+1} + c_t * v_tp1_t]

  so ``G^(n)_t = sum_{i<m} (prod_{j<i} discount_{t+j}) r_{t+i} + (prod_{j<m} discount_{t+j})
  v_tp1_{t+m-1}``, with ``m <= n`` the steps until the first cut. ``n = 1`` is the TD target;
  ``n >= T`` is :func:`discounted_returns` bootstrapped at cuts.

  Args:
    r_t, discount_t, end_t: as :func:`discounted_returns`.
    v_tp1: float ``[T]`` value of the state after each step.
    n: static int ``>= 1``.

  Returns:
    float ``[T]``.

  Raises:
    ValueError: ``n < 1``.
  """
  n = validation.check_int("n", n, minimum=1)
  v_tp1 = _check_stream(r_t, discount_t, end_t, v_tp1)
  cut = _cuts(end_t)
  g = r_t + discount_t * v_tp1
  for _ in range(min(int(n), r_t.shape[0]) - 1):
    g_next = jnp.concatenate([g[1:], jnp.zeros((1,), g.dtype)])
    g = r_t + discount_t * ((1.0 - cut) * g_next + cut * v_tp1)
  return g


def lambda_returns(r_t: Array, discount_t: Array, end_t: Array, v_tp1: Array,
                   lambda_: float | Array, *, parallel: bool = False) -> Array:
  """TD(lambda) returns, cut at episode ends and the window's end.

      G^lambda_t = r_t + discount_t * [(1 - c_t) * ((1 - lambda) v_tp1_t + lambda G^lambda_{t+1})
                                       + c_t * v_tp1_t]

  ``lambda = 0`` is the one-step TD target, ``lambda = 1`` :func:`discounted_returns`. Equals
  ``gae(...) + v_t`` when ``v_tp1_t = v_{t+1}`` between cuts.

  Args:
    r_t, discount_t, end_t, v_tp1: as :func:`n_step_returns`.
    lambda_: float ``[]`` in ``[0, 1]`` (may be traced).
    parallel: a log-depth associative scan instead of the sequential one (see the module
      docstring; equal to float rounding).

  Returns:
    float ``[T]``.
  """
  _check_fraction("lambda_", lambda_)
  v_tp1 = _check_stream(r_t, discount_t, end_t, v_tp1)
  cut = _cuts(end_t)
  lam = jnp.asarray(lambda_, r_t.dtype)
  if parallel:   # G_t = [r + d v ((1 - c)(1 - lam) + c)] + d (1 - c) lam G_{t+1}
    return _affine_reverse_scan(
        r_t + discount_t * v_tp1 * ((1.0 - cut) * (1.0 - lam) + cut),
        discount_t * (1.0 - cut) * lam)

  def body(g_next, xs):
    r, d, c, v = xs
    g = r + d * ((1.0 - c) * ((1.0 - lam) * v + lam * g_next) + c * v)
    return g, g

  _, g = jax.lax.scan(body, jnp.zeros((), r_t.dtype), (r_t, discount_t, cut, v_tp1), reverse=True)
  return g


def gae(r_t: Array, discount_t: Array, end_t: Array, v_t: Array, v_tp1: Array,
        lambda_: float | Array, *, parallel: bool = False) -> Array:
  """Generalized advantage estimates, cut at episode ends and the window's end.

      delta_t = r_t + discount_t * v_tp1_t - v_t
      A_t     = delta_t + discount_t * lambda * (1 - c_t) * A_{t+1},     A_T = 0

  ``lambda = 0``: the one-step TD error ``Q - V`` estimate; ``lambda = 1``: the Monte Carlo
  advantage ``G_t - v_t``. The critic's targets are ``A_t + v_t`` (= :func:`lambda_returns`).

  Args:
    r_t, discount_t, end_t: as :func:`discounted_returns`.
    v_t: float ``[T]`` ``V(s_t)``.
    v_tp1: float ``[T]`` value of the state after each step (final observation on truncation).
    lambda_: float ``[]`` in ``[0, 1]`` (may be traced).
    parallel: a log-depth associative scan instead of the sequential one (see the module
      docstring; equal to float rounding).

  Returns:
    float ``[T]`` advantages (no gradient is stopped here).

  Example:
    >>> r = jnp.array([1., 1., 1.]); d = jnp.array([0.5, 0., 0.5])
    >>> end = jnp.array([False, True, False])
    >>> v = jnp.zeros(3); v_tp1 = jnp.array([0., 0., 2.])
    >>> gae(r, d, end, v, v_tp1, 1.0).tolist()      # [1 + .5 * 1, 1, 1 + .5 * 2]
    [1.5, 1.0, 2.0]
  """
  _check_fraction("lambda_", lambda_)
  v_tp1 = _check_stream(r_t, discount_t, end_t, v_tp1)
  chex.assert_equal_shape([r_t, v_t])
  chex.assert_type(v_t, float)
  cut = _cuts(end_t)
  lam = jnp.asarray(lambda_, r_t.dtype)
  delta = r_t + discount_t * v_tp1 - v_t
  if parallel:
    return _affine_reverse_scan(delta, discount_t * lam * (1.0 - cut))

  def body(a_next, xs):
    dl, d, c = xs
    a = dl + d * lam * (1.0 - c) * a_next
    return a, a

  _, adv = jax.lax.scan(body, jnp.zeros((), r_t.dtype), (delta, discount_t, cut), reverse=True)
  return adv


# ---------------------------------------------------------------------------------------------
# Targets of the agents' critics and weights of their policy gradients
# ---------------------------------------------------------------------------------------------
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

  Example:
    >>> a, end = jnp.array([0, 1, 2]), jnp.array([True, False, False])
    >>> sarsa_next_actions(a, end, jnp.array([7, 8, 9])).tolist()
    [7, 2, 9]
  """
  chex.assert_rank([a_t, end_t, sampled_tp1], 1)
  chex.assert_equal_shape([a_t, end_t, sampled_tp1])
  taken = jnp.concatenate([a_t[1:], sampled_tp1[-1:]], axis=0)
  return jnp.where(end_t, sampled_tp1, taken)


def action_value_targets(r_t: Array, discount_t: Array, end_t: Array, q_sa_t: Array,
                         b_tp1: Array, *, lambda_: Array | float | None = None,
                         n: int | None = None) -> Array:
  """Targets ``y_t`` of an action-value critic ``Q(s_t, a_t)`` for one stream (no gradient stop).

  With ``b_tp1`` the bootstrap after each step (``Q(s', a')`` for SARSA, ``sum_a pi(a | s')
  Q(s', a)`` for expected SARSA; at the final observation on truncation):

      n-step  (``n``):        y_t = sum_{i<m} g_{t:t+i} r_{t+i} + g_{t:t+m} b_tp1_{t+m-1},
                              m = min(n, steps to the first cut), g_{t:t+i} = prod of discounts
      lambda  (``lambda_``):  y_t = r_t + discount_t * (b_tp1_t + lambda * (1 - c_t)
                                                        * (y_{t+1} - q_sa_{t+1})),  c_t cuts

  The lambda form is :func:`gae` with ``v = q_sa``, ``v_tp1 = b_tp1``, plus ``q_sa``:
  SARSA(lambda) when ``b_tp1_t = q_sa_{t+1}`` inside an episode, expected SARSA(lambda) with a
  control variate otherwise (Sutton & Barto 2018, sec. 12.9).

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

  Raises:
    ValueError: not exactly one of ``lambda_`` and ``n``.
  """
  if (lambda_ is None) == (n is None):
    raise ValueError("action_value_targets: give exactly one of lambda_ and n.")
  if n is not None:
    return n_step_returns(r_t, discount_t, end_t, b_tp1, n)
  return gae(r_t, discount_t, end_t, q_sa_t, b_tp1, lambda_) + q_sa_t


def reinforce_weights(r_t: Array, discount_t: Array, end_t: Array, b_t: Array,
                      v_tp1: Array | None = None, *, last_start: int | Array,
                      total: bool = False) -> tuple[Array, Array, Array]:
  """REINFORCE's policy-gradient weights for one stream, and which steps they count.

      G_t  = R(tau)_t (total=True, :func:`episode_total_returns`)
             or the reward-to-go (:func:`discounted_returns`), bootstrapped from v_tp1 at cuts
      w_t  = G_t - b_t
      m_t  = [the episode holding step t started at a step <= last_start]
             (:func:`started_episode_mask`: counting these is unbiased)

  ``w_t`` is defined at every step; only the counted ones (``m_t``) are meaningful (an
  unfinished episode's ``G`` stops at the window's end). Divide the policy-gradient sum over
  counted steps by the FIXED batch size (``jaxrl.losses.policy_gradient_loss`` of ``w * m``).

  Args:
    r_t, discount_t, end_t: as :func:`discounted_returns`.
    b_t: float ``[T]`` the baseline (zeros, a running mean, or ``V(s_t)``).
    v_tp1: float ``[T]`` or None: the value continuing a cut (e.g. ``V`` of the final
      observation on truncation and 0 elsewhere); None returns stop at cuts.
    last_start: the last step at which a counted episode may start (``T - L`` for episodes of
      at most ``L`` steps).
    total: the whole episode's return for every step, instead of the reward-to-go (static).

  Returns:
    ``(w_t, m_t, G_t)``: float, bool, float ``[T]``.

  Example:
    >>> r, d = jnp.array([1., 1., 1.]), jnp.array([1., 0., 1.])      # terminated at step 1
    >>> end = jnp.array([False, True, False])
    >>> w, m, g = reinforce_weights(r, d, end, jnp.zeros(3), last_start=0)
    >>> w.tolist(), m.tolist()
    ([2.0, 1.0, 1.0], [True, True, False])
  """
  fn = episode_total_returns if total else discounted_returns
  g = fn(r_t, discount_t, end_t, v_tp1)
  mask = started_episode_mask(end_t, last_start)
  return g - b_t, mask, g
