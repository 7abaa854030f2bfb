"""The one skeleton every agent shares: ``init`` once, then ``step`` per logging interval.

An agent supplies three small pure functions and gets a :class:`Trainer`
(:func:`make_trainer`)::

    init_state(key, hp)    -> state                      # the whole training state
    iteration(state, hp)   -> (state, IterationStats)    # one update's worth of experience
    report(state, hp)      -> {name: scalar}             # metrics read off the state at a log

``Trainer.step`` scans ``iteration`` over one logging interval, adding each
:class:`IterationStats` into an :class:`Accumulator` (typed sums, maxima, a count, a finiteness
flag and the finished episodes), then closes the interval: a greedy evaluation on schedule and
the metrics row. ``Trainer.__call__(key, hyperparams=None) -> (final_state, metrics)`` is the
agent's ``train``: ``init`` and a ``lax.scan`` of ``step`` over ``num_logs`` intervals
(:meth:`Trainer.run`, the same loop :mod:`jaxrl.training` runs in checkpointed chunks).

The agent's state is a NamedTuple with (at least) the fields ``params`` (what the greedy
evaluation acts with), ``key`` (split once per interval for the evaluation), ``env_steps`` and
``updates`` (int32 counters); :func:`make_trainer` checks that eagerly. The carry the trainer
threads is ``(state, finite_so_far)``, a plain pytree of arrays, so it saves and restores exactly.

Every agent's metrics row holds ``env_steps``, ``updates``, ``episode_return``,
``episode_length``, ``episodes`` (means over the episodes that *finished* in the interval; NaN
when none did), ``eval_return`` (NaN between evaluations), ``loss_finite`` (False once any loss
was not finite), the means of the agent's summed stats (NaN when nothing was summed), its maxima,
and whatever ``report`` adds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

Array = chex.Array

__all__ = (
    "Accumulator",
    "EpisodeTally",
    "Intervals",
    "IterationStats",
    "OnPolicyState",
    "Trainer",
    "Weighted",
    "intervals",
    "make_trainer",
)

#: Fields an agent's state must have (see the module docstring).
STATE_FIELDS = ("params", "key", "env_steps", "updates")


class OnPolicyState(NamedTuple):
  """The state of an agent that learns from its own synchronous rollouts (A2C, PPO, PQN):
  everything a run carries, so checkpoint this to resume.

  Attributes:
    params: the network's parameters; opt_state: the optimizer's state;
    env_state, obs: the ``num_envs`` environments' states and current observations;
    key: the run's PRNG key (split once per rollout and once per logging interval);
    env_steps, updates: int32 counters (environment steps summed over the environments;
      gradient steps).
    reward_norm: the return normaliser's state when the agent normalises rewards
      (:class:`~jaxrl.normalization.ReturnNormalizerState`), else ``()`` (no leaves).
    memory: a recurrent policy's :class:`~jaxrl.rollouts.Memory` (its carry and which
      environments start an episode), else ``()``.
  """

  params: Any
  opt_state: Any
  env_state: Any
  obs: Array
  key: Array
  env_steps: Array
  updates: Array
  reward_norm: Any = ()
  memory: Any = ()


class EpisodeTally(NamedTuple):
  """Sums over the episodes that finished in a logging interval (only finished ones count).

  Attributes:
    returns: float32 ``[]`` sum of their undiscounted returns.
    lengths: int32 ``[]`` sum of their lengths.
    count: int32 ``[]`` how many finished.
  """

  returns: Array
  lengths: Array
  count: Array

  @classmethod
  def zeros(cls) -> "EpisodeTally":
    return cls(jnp.float32(0), jnp.int32(0), jnp.int32(0))

  def add(self, end_t: Array, episode_return_t: Array, episode_length_t: Array) -> "EpisodeTally":
    """Adds the episodes that ended where ``end_t`` (any shape, e.g. ``[T, E]``)."""
    return EpisodeTally(
        returns=self.returns + jnp.sum(jnp.where(end_t, episode_return_t, 0.0)),
        lengths=self.lengths + jnp.sum(jnp.where(end_t, episode_length_t, 0)),
        count=self.count + jnp.sum(end_t))

  def means(self) -> dict[str, Array]:
    """``episode_return``, ``episode_length`` (NaN when none finished) and ``episodes``."""
    nan = jnp.float32(jnp.nan)
    some = self.count > 0
    n = jnp.maximum(self.count, 1)
    return dict(episode_return=jnp.where(some, self.returns / n, nan),
                episode_length=jnp.where(some, self.lengths / n, nan), episodes=self.count)


class Weighted(NamedTuple):
  """A summed stat with its own count, for a stat that only some updates produce (TD3's actor
  loss, computed every ``policy_delay``-th update): its interval mean is ``total / count``
  (NaN when the count is 0) instead of a division by the iteration's count.

  Attributes:
    total: float32 ``[]`` the sum; count: float32 ``[]`` how many values it holds.
  """

  total: Array
  count: Array


class IterationStats(NamedTuple):
  """What one iteration reports to its logging interval.

  Attributes:
    sums: a NamedTuple of float32 scalars to average over the interval (e.g. the losses);
      each field becomes the metric of its name. A field may be a :class:`Weighted` (averaged
      over its own count).
    count: float32 ``[]`` how many items ``sums`` holds (e.g. gradient updates; 0 for none).
    finite: bool ``[]`` every loss summed was finite.
    episodes: the :class:`EpisodeTally` of the episodes that finished in the iteration.
    maxima: a NamedTuple of float32 scalars whose interval maximum is reported (``()``: none).
  """

  sums: Any
  count: Array
  finite: Array
  episodes: EpisodeTally
  maxima: Any = ()


class Accumulator(NamedTuple):
  """Running totals of a logging interval (a pytree; see :class:`IterationStats`)."""

  sums: Any
  maxima: Any
  count: Array
  finite: Array
  episodes: EpisodeTally

  @classmethod
  def zeros(cls, sums_type: type, maxima_type: type | None = None) -> "Accumulator":
    """Zero totals for NamedTuple classes of summed (and maximised) stats; the fields of
    ``sums_type`` named in its class attribute ``weighted`` (a tuple of names, if any) are
    :class:`Weighted`."""
    zero = lambda t: t(*[jnp.float32(0)] * len(t._fields))  # noqa: E731
    weighted = getattr(sums_type, "weighted", ())
    sums = zero(sums_type)._replace(**{k: Weighted(jnp.float32(0), jnp.float32(0))
                                       for k in weighted})
    return cls(sums=sums, maxima=() if maxima_type is None else zero(maxima_type),
               count=jnp.float32(0), finite=jnp.bool_(True), episodes=EpisodeTally.zeros())

  def add(self, stats: IterationStats) -> "Accumulator":
    return Accumulator(
        sums=jax.tree.map(jnp.add, self.sums, stats.sums),
        maxima=jax.tree.map(jnp.maximum, self.maxima, stats.maxima),
        count=self.count + stats.count,
        finite=self.finite & stats.finite,
        episodes=EpisodeTally(*jax.tree.map(jnp.add, tuple(self.episodes),
                                            tuple(stats.episodes))))

  def means(self, count: int | None = None) -> dict[str, Array]:
    """Each summed stat over the count and each maximum, by field name (NaN when the count is
    0). ``count``: a static count to divide by instead of the accumulated one (an agent whose
    every iteration sums one update; a division by a constant compiles to fewer operations)."""
    nan = jnp.float32(jnp.nan)
    weighted = {k: jnp.where(v.count > 0, v.total / jnp.maximum(v.count, 1), nan)
                for k, v in self.sums._asdict().items() if isinstance(v, Weighted)}
    plain = {k: v for k, v in self.sums._asdict().items() if not isinstance(v, Weighted)}
    if count is not None:
      n = jnp.float32(count)
      return {**{k: v / n for k, v in plain.items()}, **weighted,
              **({} if not len(self.maxima) else self.maxima._asdict())}
    # one division per stat, written out (XLA fuses and rounds these exactly as before the
    # accumulator was typed: the metrics stay bitwise those of earlier versions)
    out = {k: jnp.where(self.count > 0, v / jnp.maximum(self.count, 1), nan)
           for k, v in plain.items()}
    out.update(weighted)
    if len(self.maxima):
      out.update({k: jnp.where(self.count > 0, v, nan) for k, v in self.maxima._asdict().items()})
    return out


def episodes_of(traj) -> EpisodeTally:
  """The :class:`EpisodeTally` of a :class:`~jaxrl.rollouts.Trajectory` or
  :class:`~jaxrl.rollouts.EnvStep`."""
  return EpisodeTally.zeros().add(traj.end_t, traj.episode_return_t, traj.episode_length_t)


class Intervals(NamedTuple):
  """The loop's shape. ``num_logs`` intervals of ``iterations_per_log`` iterations; an
  evaluation closes every ``logs_per_eval``-th interval; ``steps_per_log`` env steps each."""

  iterations_per_log: int
  num_logs: int
  logs_per_eval: int
  steps_per_log: int


def intervals(owner: str, *, total_steps: int, log_every: int, eval_every: int,
              steps_per_iteration: int, per_iteration: str) -> Intervals:
  """Checks that the logging and evaluation intervals fall on iteration boundaries.

  Every interval is a whole number of iterations (each ``steps_per_iteration`` env steps summed
  over the parallel environments), so interval triggers fire on schedule however many
  environments step at once.

  Raises:
    ValueError: ``"{owner}: log_every (X) must be a positive multiple of {per_iteration} (N)"``
      and the like for ``eval_every`` and ``total_steps``.
  """
  def bad(msg):
    raise ValueError(f"{owner}: {msg}")

  if log_every < 1 or log_every % steps_per_iteration:
    bad(f"log_every ({log_every}) must be a positive multiple of {per_iteration} "
        f"({steps_per_iteration}), so logging fires on schedule.")
  if eval_every < 1 or eval_every % log_every:
    bad(f"eval_every ({eval_every}) must be a positive multiple of log_every ({log_every}).")
  if total_steps < 1 or total_steps % log_every:
    bad(f"total_steps ({total_steps}) must be a positive multiple of log_every ({log_every}).")
  return Intervals(iterations_per_log=log_every // steps_per_iteration,
                   num_logs=total_steps // log_every, logs_per_eval=eval_every // log_every,
                   steps_per_log=log_every)


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
  """An agent's training run, callable as ``train(key, hyperparams=None) -> (state, metrics)``.

  Attributes:
    name: the algorithm (``"dqn"``, ``"a2c"``, ``"reinforce"``, ...).
    config: the (resolved) config the run was built from.
    init: ``(key, hyperparams) -> carry``.
    step: ``(carry, log_index, hyperparams) -> (carry, metrics)``; ``log_index`` counts from 0
      and decides when an evaluation fires.
    num_logs: logging intervals in the whole run.
    steps_per_log: environment steps per logging interval (summed over parallel environments).
    default_hyperparams: the config's hyperparameters (a NamedTuple of scalars).
    validate: eager check of concrete hyperparameters (ValueError), any batch shape.
    network: the flax module, to apply the final parameters.
  """

  name: str
  config: Any
  init: Callable[..., Any]
  step: Callable[..., tuple[Any, dict]]
  num_logs: int
  steps_per_log: int
  default_hyperparams: Any
  validate: Callable[[Any], None]
  network: Any = None

  @property
  def __name__(self) -> str:  # for jax's tracing messages
    return f"train_{self.name}"

  def hyperparams(self, hyperparams: Any = None) -> Any:
    """``hyperparams`` checked (when concrete), or the config's defaults when None."""
    hp = self.default_hyperparams if hyperparams is None else hyperparams
    self.validate(hp)
    return hp

  def batched(self) -> "Trainer":
    """The same trainer over a leading run axis: ``init(keys [R], hp [R])``, ``step`` vmapped
    over the carry and the hyperparameters (the log index is shared)."""
    return dataclasses.replace(self, init=jax.vmap(self.init),
                               step=jax.vmap(self.step, in_axes=(0, None, 0)))

  def run(self, carry: Any, start: Any, length: int, hyperparams: Any,
          on_log: Callable[[Any, dict], None] | None = None) -> tuple[Any, dict]:
    """``length`` logging intervals from log index ``start`` (a Python or traced int).

    ``on_log(log_index, metrics)`` is called (traced) after each interval; it is where
    :mod:`jaxrl.training` puts its progress callback. Returns ``(carry, metrics)`` with a
    leading ``[length]`` axis on every metric.
    """

    def body(c, i):
      c, metrics = self.step(c, i, hyperparams)
      if on_log is not None:
        on_log(i, metrics)
      return c, metrics

    return jax.lax.scan(body, carry, start + jnp.arange(length, dtype=jnp.int32))

  @staticmethod
  def state_of(carry: Any) -> Any:
    """The agent's state inside a carry."""
    return carry[0]

  def __call__(self, key: Any, hyperparams: Any = None) -> tuple[Any, dict]:
    """One independent run: ``key`` (consumed) -> ``(final_state, metrics)``; every metric has a
    leading ``[num_logs]`` axis."""
    hp = self.hyperparams(hyperparams)
    carry = self.init(key, hp)
    carry, metrics = self.run(carry, 0, self.num_logs, hp)
    return self.state_of(carry), metrics


def make_trainer(name: str, config: Any, *, state_type: type, init_state: Callable,
                 iteration: Callable, loop: Intervals, evaluate: Callable, sums: type,
                 maxima: type | None = None, report: Callable | None = None,
                 network: Any = None, one_update_per_iteration: bool = False,
                 indexed: bool = False) -> Trainer:
  """Builds an agent's :class:`Trainer` from its parts (see the module docstring).

  Args:
    name, config: the algorithm's name and its config (an
      :class:`~jaxrl.agents.config.AgentConfig`).
    state_type: the NamedTuple class of the agent's state (checked for ``STATE_FIELDS``).
    init_state: ``(key, hp) -> state``.
    iteration: ``(state, hp) -> (state, IterationStats)``.
    loop: the :class:`Intervals` of the run.
    evaluate: ``(key, params) -> mean greedy return``
      (:func:`jaxrl.rollouts.make_greedy_evaluation`).
    sums, maxima: the NamedTuple classes of the iteration's summed and maximised stats.
    report: ``(state, hp) -> {name: scalar}``, extra metrics read at each logging point.
    network: the flax module (kept on the trainer).
    one_update_per_iteration: every iteration sums exactly one update (``count`` 1), so the
      interval's means divide by the static ``iterations_per_log``.
    indexed: call ``iteration(state, hp, t)`` with ``t`` the run's iteration index (int32
      ``[]``, from 0). It derives from the logging index alone, so under ``vmap`` over runs it
      stays unbatched: a ``lax.cond`` on it (a warm-up, an update schedule) runs one branch
      instead of both, where a predicate read off the batched state would become a select.

  Raises:
    ValueError: the state lacks a field of ``STATE_FIELDS``.
  """
  hp0 = config.hyperparams()
  missing = [f for f in STATE_FIELDS if f not in getattr(state_type, "_fields", ())]
  if missing:
    raise ValueError(f"{name}: the agent's state must be a NamedTuple with fields "
                     f"{STATE_FIELDS}; {state_type.__name__} lacks {missing}.")
  zeros = Accumulator.zeros(sums, maxima)

  def step(carry, log_index, hp):
    state, finite_so_far = carry

    def body(c, i):
      s, acc = c
      if indexed:   # the run's iteration index: the same in every vmapped run (log_index is)
        s, stats = iteration(s, hp, log_index * loop.iterations_per_log + i)
      else:
        s, stats = iteration(s, hp)
      return (s, acc.add(stats)), None

    xs = jnp.arange(loop.iterations_per_log, dtype=jnp.int32) if indexed else None
    (state, acc), _ = jax.lax.scan(body, (state, zeros), xs, length=loop.iterations_per_log)
    key, k_eval = jax.random.split(state.key)
    state = state._replace(key=key)
    do_eval = (log_index + 1) % loop.logs_per_eval == 0
    eval_return = jax.lax.cond(do_eval, lambda: evaluate(k_eval, state.params),
                               lambda: jnp.float32(jnp.nan))
    finite = finite_so_far & acc.finite
    metrics = dict(env_steps=state.env_steps, updates=state.updates, **acc.episodes.means(),
                   eval_return=eval_return,
                   **acc.means(loop.iterations_per_log if one_update_per_iteration else None),
                   loss_finite=finite)
    if report is not None:
      metrics.update(report(state, hp))
    return (state, finite), metrics

  return Trainer(
      name=name, config=config, init=lambda key, hp: (init_state(key, hp), jnp.bool_(True)),
      step=step, num_logs=loop.num_logs, steps_per_log=loop.steps_per_log,
      default_hyperparams=hp0, validate=type(config).validate_hyperparams, network=network)

