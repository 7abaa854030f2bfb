"""Fitted Q-iteration: learn Q from a fixed data set by repeated regression onto frozen targets.

The notes' remark made runnable (Ernst et al., 2005; Riedmiller, 2005): given transitions
``{(s, a, r, discount, s')}``, iterate

    y_k = r + discount * max_a' Q_{theta_k}(s', a')          (targets frozen)
    theta_{k+1} = argmin_theta mean (Q_theta(s, a) - y_k)^2  (approximately, by gradient steps)

``discount`` is zero only at true termination (the :class:`jaxrl.buffers.Transition` layout), so
data cut by a time limit still bootstraps. With a linear network on one-hot observations this is
Q-iteration on the empirical MDP; on a tabular environment the run reports its distance to the
exact ``Q*`` after every iteration.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax

from jaxrl import buffers as buffers_lib
from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import rollouts
from jaxrl import validation
from jaxrl.agents.config import AgentConfig, option
from jaxrl.envs import spaces as spaces_lib
from jaxrl.envs import wrappers as wrappers_lib
from jaxrl.validation import AT_LEAST_ONE, POSITIVE

__all__ = ("FQIConfig", "collect_random_transitions", "make_fqi")


@dataclasses.dataclass(frozen=True)
class FQIConfig(AgentConfig):
  """Fitted Q-iteration's settings (each field declares its valid range once).

  The discount is not a setting: it is in the data, whose ``discount`` field holds
  ``gamma * (1 - terminated)`` for every transition (:func:`collect_random_transitions`).

  Attributes:
    network: ``"linear"``, ``"mlp"``, ``"cnn"`` or ``"nature_cnn"``.
    hidden_sizes: MLP widths.
    iterations: outer iterations (target refreshes).
    steps_per_iteration: gradient steps fitting each set of frozen targets.
    batch_size: minibatch size (None: the whole data set each step).
    learning_rate: Adam step size.
  """

  network: str = option("linear", choices=networks_lib.Q_NETWORK_KINDS)
  hidden_sizes: tuple[int, ...] = (64, 64)
  iterations: int = option(60, AT_LEAST_ONE)
  steps_per_iteration: int = option(100, AT_LEAST_ONE)
  batch_size: int | None = option(None, AT_LEAST_ONE, optional=True)
  learning_rate: float = option(0.05, POSITIVE)


def collect_random_transitions(key, env, env_params, *, num_steps: int, num_envs: int = 16,
                               discount: float = 1.0) -> buffers_lib.Transition:
  """Gathers ``num_steps * num_envs`` transitions with the uniformly random policy.

  ``discount`` is stored as ``discount * (1 - terminated)``; ``next_obs`` is the final
  observation of the step (before any auto-reset). Returns a :class:`Transition` with a leading
  ``[num_steps * num_envs]`` axis.
  """
  num_steps = validation.check_int("num_steps", num_steps, minimum=1)
  num_envs = validation.check_int("num_envs", num_envs, minimum=1)
  num_actions = spaces_lib.require_discrete("FQI (collect_random_transitions)", env, env_params)
  env = wrappers_lib.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, env_params, num_envs)
  k_reset, k_run = jax.random.split(key)
  obs, state = rollouts.reset(env, env_params, k_reset, num_envs)

  def step(carry, k):
    obs, state = carry
    k_act, k_env = jax.random.split(k)
    action = jax.random.randint(k_act, (num_envs,), 0, num_actions)
    next_obs, state, out = env_step(k_env, state, action)
    transition = buffers_lib.Transition(
        obs=obs, action=action.astype(jnp.int32), reward=out.r_t,
        discount=discount * (1.0 - out.terminated_t.astype(jnp.float32)), next_obs=out.obs_tp1)
    return (next_obs, state), transition

  _, data = jax.lax.scan(step, (obs, state), jax.random.split(k_run, num_steps))
  return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), data)


def make_fqi(config: FQIConfig, env, env_params) -> Callable:
  """Builds ``fit(key, data) -> (params, metrics)``, pure and jit-able.

  Metrics, stacked over ``iterations``: ``loss`` (regression loss at the end of each
  iteration) and, on tabular environments, ``q_error`` and ``policy_match`` against ``Q*``.
  """
  config.check()
  num_actions = spaces_lib.require_discrete("FQI", env, env_params)
  obs_shape = tuple(env.observation_space(env_params).shape)
  network = networks_lib.make_q_network(config.network, num_actions, obs_shape,
                                        hidden_sizes=config.hidden_sizes)
  optimizer = optax.adam(config.learning_rate)
  reference = rollouts.tabular_reference(env_params)

  def fit(key, data: buffers_lib.Transition):
    n = data.reward.shape[0]
    k_init, k_fit = jax.random.split(key)
    params = network.init(k_init, data.obs[0])

    def regression_loss(p, batch, targets):
      q = network.apply(p, batch.obs)
      q_sa = jnp.take_along_axis(q, batch.action[:, None], -1)[:, 0]
      return 0.5 * jnp.mean((q_sa - targets) ** 2)

    def outer(carry, k):
      params, opt_state = carry
      frozen = jax.lax.stop_gradient(params)
      targets_all = jax.vmap(losses_lib.q_learning_target)(
          data.reward, data.discount, network.apply(frozen, data.next_obs))

      def inner(carry, k):
        params, opt_state = carry
        if config.batch_size is None:
          batch, targets = data, targets_all
        else:
          idx = jax.random.randint(k, (config.batch_size,), 0, n)
          batch, targets = jax.tree.map(lambda x: x[idx], data), targets_all[idx]
        loss, grads = jax.value_and_grad(regression_loss)(params, batch, targets)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

      (params, opt_state), losses = jax.lax.scan(
          inner, (params, opt_state), jax.random.split(k, config.steps_per_iteration))
      metrics = dict(loss=losses[-1])
      if reference is not None:
        metrics.update(reference(network.apply, params))
      return (params, opt_state), metrics

    (params, _), metrics = jax.lax.scan(outer, (params, optimizer.init(params)),
                                        jax.random.split(k_fit, config.iterations))
    return params, metrics

  fit.network = network
  return fit
