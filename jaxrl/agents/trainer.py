"""The one shape every agent's training run has: ``init`` once, then ``step`` per logging interval.

Every agent (:mod:`~jaxrl.agents.dqn`, :mod:`~jaxrl.agents.a2c`, :mod:`~jaxrl.agents.reinforce`)
builds a :class:`Trainer` from two pure functions:

    init(key, hyperparams)             -> carry          # the whole training state
    step(carry, log_index, hyperparams) -> (carry, metrics)   # log_every env steps + one log row

and ``Trainer.__call__(key, hyperparams=None) -> (final_state, metrics)`` is the agent's
``train``: ``init`` followed by a ``lax.scan`` of ``step`` over ``num_logs`` indices. The pieces
are public so that :mod:`jaxrl.training` can run the same scan in chunks (checkpoints between
chunks, progress from inside the compiled loop, sharded seeds) without knowing the agent.

``carry`` is ``(agent_state, finite_so_far)``: the agent's state NamedTuple (parameters,
optimizer state, replay buffer, environment states, key, counters) and the flag behind the
``loss_finite`` metric. It is a plain pytree of arrays, so it can be saved and restored exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
  """An agent's training run, callable as ``train(key, hyperparams=None) -> (state, metrics)``.

  Attributes:
    name: the algorithm (``"dqn"``, ``"a2c"``, ``"reinforce"``).
    config: the (resolved) config the run was built from.
    init: ``(key, hyperparams) -> carry``.
    step: ``(carry, log_index, hyperparams) -> (carry, metrics)``; ``log_index`` counts from 0
      and decides when an evaluation fires (every ``eval_every // log_every`` logs).
    num_logs: logging intervals in the whole run (``total_steps // log_every``).
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


# Pieces every agent's ``step`` shares: counting finished episodes and closing a logging interval.


def episode_tally() -> dict:
  """Zero counters of the episodes that finish in a logging interval."""
  return dict(ret=jnp.float32(0), length=jnp.int32(0), episodes=jnp.int32(0))


def tally_episodes(acc: dict, done, episode_return, episode_length) -> dict:
  """``acc`` plus the episodes flagged by ``done`` (any shape; from
  :class:`~jaxrl.envs.EpisodeStatistics`' ``info``): only finished episodes count."""
  return dict(acc,
              ret=acc["ret"] + jnp.sum(jnp.where(done, episode_return, 0.0)),
              length=acc["length"] + jnp.sum(jnp.where(done, episode_length, 0)),
              episodes=acc["episodes"] + jnp.sum(done))


def close_interval(state: Any, acc: dict, log_index, logs_per_eval: int,
                   evaluate: Callable[[Any, Any], Any]) -> tuple[Any, dict]:
  """Ends a logging interval: a scheduled greedy evaluation and the episode metrics.

  ``state`` needs ``key`` and ``params`` fields (a key is split off for the evaluation, which
  runs on every ``logs_per_eval``-th interval; NaN otherwise). Returns the state with its new
  key and ``{"episode_return", "episode_length", "episodes", "eval_return"}``: means over the
  episodes that finished in the interval (NaN when none did).
  """
  key, k_eval = jax.random.split(state.key)
  state = state._replace(key=key)
  do_eval = (log_index + 1) % logs_per_eval == 0
  eval_return = jax.lax.cond(do_eval, lambda: evaluate(k_eval, state.params),
                             lambda: jnp.float32(jnp.nan))
  nan = jnp.float32(jnp.nan)
  episodes = acc["episodes"]
  return state, dict(
      episode_return=jnp.where(episodes > 0, acc["ret"] / jnp.maximum(episodes, 1), nan),
      episode_length=jnp.where(episodes > 0, acc["length"] / jnp.maximum(episodes, 1), nan),
      episodes=episodes,
      eval_return=eval_return)
