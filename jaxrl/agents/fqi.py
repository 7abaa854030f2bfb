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


@dataclasses.dataclass(frozen=True)
class FQIConfig:
  """Fitted Q-iteration's settings.

  Attributes:
    network: ``"linear"``, ``"mlp"`` or ``"cnn"``.
    hidden_sizes: MLP widths.
    iterations: outer iterations (target refreshes).
    steps_per_iteration: gradient steps fitting each set of frozen targets.
    batch_size: minibatch size (None: the whole data set each step).
    learning_rate: Adam step size.
    discount: the discount the data's ``discount`` field was built with is used as is; this one
      only labels the run (it must match the data).
  """

  network: str = "linear"
  hidden_sizes: tuple[int, ...] = (64, 64)
  iterations: int = 60
  steps_per_iteration: int = 100
  batch_size: int | None = None
  learning_rate: float = 0.05


def collect_random_transitions(key, env, env_params, *, num_steps: int, num_envs: int = 16,
                               discount: float = 1.0) -> buffers_lib.Transition:
  """Gathers ``num_steps * num_envs`` transitions with the uniformly random policy.

  ``discount`` is stored as ``discount * (1 - terminated)``; ``next_obs`` is the final
  observation of the step (before any auto-reset). Returns a :class:`Transition` with a leading
  ``[num_steps * num_envs]`` axis.
  """
  if num_steps < 1 or num_envs < 1:
    raise ValueError(f"num_steps and num_envs must be >= 1, got {num_steps}, {num_envs}.")
  num_actions = int(env.num_actions)
  k_reset, k_run = jax.random.split(key)
  obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs), env_params)

  def step(carry, k):
    obs, state = carry
    k_act, k_env = jax.random.split(k)
    action = jax.random.randint(k_act, (num_envs,), 0, num_actions)
    next_obs, state, reward, terminated, _, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
        jax.random.split(k_env, num_envs), state, action, env_params)
    transition = buffers_lib.Transition(
        obs=obs, action=action.astype(jnp.int32), reward=reward.astype(jnp.float32),
        discount=discount * (1.0 - terminated.astype(jnp.float32)),
        next_obs=info["final_observation"])
    return (next_obs, state), transition

  _, data = jax.lax.scan(step, (obs, state), jax.random.split(k_run, num_steps))
  return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), data)


def make_fqi(config: FQIConfig, env, env_params) -> Callable:
  """Builds ``fit(key, data) -> (params, metrics)``, pure and jit-able.

  Metrics, stacked over ``iterations``: ``loss`` (regression loss at the end of each
  iteration) and, on tabular environments, ``q_error`` and ``policy_match`` against ``Q*``.
  """
  if config.iterations < 1 or config.steps_per_iteration < 1:
    raise ValueError("FQIConfig: iterations and steps_per_iteration must be >= 1, got "
                     f"{config.iterations}, {config.steps_per_iteration}.")
  if config.batch_size is not None and config.batch_size < 1:
    raise ValueError(f"FQIConfig: batch_size must be >= 1 or None, got {config.batch_size}.")
  if not config.learning_rate > 0:
    raise ValueError(f"FQIConfig: learning_rate must be positive, got {config.learning_rate}.")
  obs_shape = tuple(env.observation_space(env_params).shape)
  network = networks_lib.make_q_network(config.network, int(env.num_actions), obs_shape,
                                        hidden_sizes=config.hidden_sizes)
  optimizer = optax.adam(config.learning_rate)
  reference = rollouts.tabular_reference(env, env_params)

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
