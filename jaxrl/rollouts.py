"""Rollouts shared by the agents: greedy evaluation, and exact references on tabular problems."""

from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp
import numpy as np

Array = chex.Array


def make_greedy_evaluation(env, env_params, apply_fn: Callable, num_episodes: int,
                           max_steps: int | None = None) -> Callable[[Array, object], Array]:
  """Builds ``evaluate(key, params) -> mean return`` of the greedy policy ``argmax_a Q(s, a)``.

  Runs ``num_episodes`` fresh environments side by side for ``max_steps`` steps and sums each
  one's rewards until its *first* episode ends (terminated or truncated); later episodes after
  auto-reset are ignored. ``apply_fn(params, obs) -> [..., A]`` values or logits (the argmax is
  taken either way).

  Args:
    env, env_params: a gymnax-style environment.
    apply_fn: the network's apply function.
    num_episodes: parallel evaluation episodes.
    max_steps: step cap; defaults to ``env_params.max_steps_in_episode``, so every episode ends.

  Raises:
    ValueError: no cap given and the environment's params carry none.
  """
  if max_steps is None:
    max_steps = getattr(env_params, "max_steps_in_episode", None)
    if max_steps is None:
      raise ValueError("greedy evaluation needs max_steps: the environment's params have no "
                       "max_steps_in_episode.")
  max_steps = int(max_steps)
  if num_episodes < 1 or max_steps < 1:
    raise ValueError(f"num_episodes and max_steps must be >= 1, got {num_episodes}, {max_steps}.")

  def evaluate(key, params):
    k_reset, k_steps = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_episodes),
                                                         env_params)

    def step(carry, k):
      obs, state, total, done = carry
      action = jnp.argmax(apply_fn(params, obs), axis=-1)
      obs, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
          jax.random.split(k, num_episodes), state, action, env_params)
      total = total + jnp.where(done, 0.0, reward)
      done = done | terminated | truncated
      return (obs, state, total, done), None

    init = (obs, state, jnp.zeros(num_episodes), jnp.zeros(num_episodes, bool))
    (_, _, total, _), _ = jax.lax.scan(step, init, jax.random.split(k_steps, max_steps))
    return jnp.mean(total)

  return evaluate


def _unwrap(env):
  while True:
    inner = getattr(env, "_env", None) or getattr(env, "env", None)
    if inner is None or inner is env:
      return env
    env = inner


def tabular_reference(env, env_params):
  """For a tabular environment, ``compare(apply_fn, params) -> {"q_error", "policy_match"}``
  against the exact ``Q*`` of its MDP (``jaxrl.mdp.q_iteration``); None for other environments.

  ``q_error``: max over non-terminal states and all actions of ``|Q_theta(s, a) - Q*(s, a)|``.
  ``policy_match``: fraction of non-terminal states whose greedy action is optimal (an action
  within 1e-6 of the best counts, so ties do not count as mistakes).
  """
  from jaxrl.envs import tabular  # pylint: disable=import-outside-toplevel
  from jaxrl.mdp import q_iteration, terminal_states  # pylint: disable=import-outside-toplevel

  if not isinstance(_unwrap(env), tabular.TabularEnv):
    return None
  mdp = env_params.mdp
  solution = q_iteration(mdp)
  if not bool(solution.converged):
    raise ValueError("the tabular environment's MDP has no finite optimal Q (q_iteration did not "
                     "converge); cannot report the distance to Q*.")
  q_star = jnp.asarray(solution.q_values)
  live = ~np.asarray(terminal_states(mdp))
  num_states = mdp.num_states
  obs = jnp.eye(num_states, dtype=jnp.float32)[live]
  q_star_live = q_star[live]

  def compare(apply_fn, params):
    q = apply_fn(params, obs)
    greedy = jnp.argmax(q, axis=-1)
    optimal = jnp.take_along_axis(q_star_live, greedy[:, None], -1)[:, 0] >= jnp.max(
        q_star_live, -1) - 1e-6
    return dict(q_error=jnp.max(jnp.abs(q - q_star_live)), policy_match=jnp.mean(optimal))

  return compare
