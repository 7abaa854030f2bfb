"""End to end: tabular Q-learning on a TabularEnv reaches exact_q_values only when it bootstraps
from info["final_observation"] on truncation and zeroes the bootstrap only on termination."""

import jax
import jax.numpy as jnp

from jaxrl.envs import compare_q_values
from jaxrl.envs import exact_q_values
from jaxrl.envs import from_mdp
from jaxrl.mdp import chain

NUM_ENVS, NUM_STEPS, LR = 32, 300, 0.5


def _q_learning(env, params, key, bootstrap_on_truncation):
  """Uniform random behaviour, batched tabular Q-learning with the agent's discount = MDP's.

  ``bootstrap_on_truncation`` is a bool array, so both variants share one compilation."""
  discount = params.mdp.discount
  step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
  k_reset, k_run = jax.random.split(key)
  obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, NUM_ENVS), params)
  q = jnp.zeros((env.num_states, env.num_actions))

  def body(carry, k):
    q, obs, state = carry
    k_act, k_step = jax.random.split(k)
    action = jax.random.randint(k_act, (NUM_ENVS,), 0, env.num_actions)
    next_obs, state, reward, terminated, truncated, info = step(
        jax.random.split(k_step, NUM_ENVS), state, action, params)
    s = jnp.argmax(obs, -1)
    s_next = jnp.argmax(info["final_observation"], -1)  # the successor, before any reset
    # correct: zero the bootstrap only on termination; the classic bug also zeroes it on truncation
    done = jnp.where(bootstrap_on_truncation, terminated, terminated | truncated)
    keep = 1.0 - done.astype(jnp.float32)
    target = reward + discount * keep * jnp.max(q[s_next], -1)
    td = target - q[s, action]
    total = jnp.zeros_like(q).at[s, action].add(td)
    count = jnp.zeros_like(q).at[s, action].add(1.0)
    q = q + LR * total / jnp.maximum(count, 1.0)
    return (q, next_obs, state), None

  (q, _, _), _ = jax.lax.scan(body, (q, obs, state), jax.random.split(k_run, NUM_STEPS))
  return q


def test_bootstrapping_from_final_observation_learns_exact_q():
  # 5 cells, start uniform over 1-3, time limit 2: many episodes are cut off by truncation.
  env, params = from_mdp(chain(5, discount=0.9), max_steps_in_episode=2)
  run = jax.jit(jax.vmap(_q_learning, in_axes=(None, None, None, 0)), static_argnums=(0,))
  q_good, q_bad = run(env, params, jax.random.key(0), jnp.array([True, False]))
  q_star = exact_q_values(params)
  good = compare_q_values(params, q_good, exact=q_star)
  bad = compare_q_values(params, q_bad, exact=q_star)
  assert float(good.max_abs_error) < 1e-3, good
  assert float(good.optimal_action_fraction) == 1.0
  assert float(bad.max_abs_error) > 1.0, bad  # truncation treated as termination is biased
