"""The policy-gradient agents' actor: network, action distribution and action map, in one place.

A2C, REINFORCE and PPO act the same way on any action space; :func:`make_actor` reads the
environment's :class:`~jaxrl.envs.ActionSpec` once and returns an :class:`Actor`:

* a finite set of actions: an actor-critic with categorical logits, actions ``argmax`` when
  greedy, the environment gets the sampled index;
* a box of real vectors: the same torso with a diagonal Gaussian head (state-independent
  ``log_std``), the environment gets the sample clipped to the bounds while the trajectory keeps
  the unclipped sample (its log-density is what the gradient uses), greedy acts with the clipped
  mean; or, with ``action_squash="tanh"``, the sample squashed into the bounds by ``tanh``
  (:func:`jaxrl.distributions.tanh_gaussian`, whose density includes the squash's Jacobian).

The loss terms :func:`pg_loss` and :func:`mean_entropy` take the policy's output for any
distribution; on categorical logits they are exactly :func:`jaxrl.losses.policy_gradient_loss`
and ``-entropy_loss``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl import distributions as distributions_lib
from jaxrl import losses as losses_lib
from jaxrl import networks as networks_lib
from jaxrl import rollouts
from jaxrl.envs import spaces as spaces_lib
from jaxrl.envs import wrappers as wrappers_lib

Array = chex.Array

__all__ = ("Actor", "OnPolicyParts", "make_actor", "make_on_policy_parts", "mean_entropy",
           "pg_loss")


class Actor(NamedTuple):
  """A policy network with its action distribution.

  Attributes:
    network: ``obs -> (policy output, critic)`` (:func:`jaxrl.networks.make_actor_critic`).
    dist: the :class:`~jaxrl.distributions.Distribution` of the policy output.
    to_env: the agent's action -> the environment's (identity, or a clip to the bounds).
    spec: the environment's actions.
  """

  network: Any
  dist: distributions_lib.Distribution
  to_env: Callable[[Array], Array]
  spec: spaces_lib.ActionSpec

  def pi(self, params, obs):
    """The policy's output (logits, or ``(mean, log_std)``)."""
    return self.network.apply(params, obs)[0]

  def act(self, key, params, obs):
    """``(action, ())``: a sample of the policy (for :func:`jaxrl.rollouts.make_rollout`)."""
    return self.dist.sample(key, self.pi(params, obs)), ()

  def act_and_record(self, key, params, obs):
    """``(action, (log pi(action | obs), V(obs)))``: a sample and what PPO keeps of it."""
    pi, v = self.network.apply(params, obs)
    action = self.dist.sample(key, pi)
    return action, (self.dist.log_prob(pi, action), v)

  @property
  def recurrent(self) -> bool:
    """The network has memory (:class:`~jaxrl.networks.RecurrentNetwork`)."""
    return isinstance(self.network, networks_lib.RecurrentNetwork)

  def initial_memory(self, num_envs: int) -> rollouts.Memory:
    """The memory of ``num_envs`` environments at their first observations."""
    return rollouts.Memory(self.network.initial_carry((num_envs,)), jnp.ones(num_envs, bool))

  def act_and_record_recurrent(self, key, params, obs, carry, start):
    """``(action, (log pi(action | obs), V(obs)), carry)`` of a recurrent actor (for
    :func:`jaxrl.rollouts.make_recurrent_rollout`)."""
    carry, (pi, v) = self.network.apply(params, carry, obs, start)
    action = self.dist.sample(key, pi)
    return action, (self.dist.log_prob(pi, action), v), carry

  def evaluation(self, env, env_params, num_episodes: int, max_steps: int | None = None):
    """``evaluate(key, params) -> mean return`` of the greedy policy (most probable action, or
    the clipped mean)."""
    if self.recurrent:
      def pi_step(params, carry, obs, start):
        carry, (pi, _) = self.network.apply(params, carry, obs, start)
        return carry, pi

      to_action = (lambda out: self.to_env(self.dist.mode(out))) if self.spec.continuous else None
      return rollouts.make_greedy_evaluation(
          env, env_params, pi_step, num_episodes, max_steps, to_action=to_action,
          initial_carry=self.network.initial_carry((num_episodes,)))
    if not self.spec.continuous:
      return rollouts.make_greedy_evaluation(env, env_params, self.pi, num_episodes, max_steps)
    return rollouts.make_greedy_evaluation(env, env_params, self.pi, num_episodes, max_steps,
                                           to_action=lambda out: self.to_env(self.dist.mode(out)))


def make_actor(owner: str, config: Any, env, env_params, *, critic: str = "v",
               dueling: bool = False) -> Actor:
  """The :class:`Actor` for ``env``'s action space, built from ``config``'s ``network``,
  ``hidden_sizes`` and (when present) ``shared_torso``, ``log_std_init``, ``action_squash``
  (:func:`jaxrl.distributions.for_action_spec`) and ``normalize_observations`` with
  ``observation_clip`` (the network is then a :class:`~jaxrl.networks.NormalizedInput`: its
  parameters carry the observation statistics, and the agent updates them).

  Raises:
    ValueError: continuous actions with a critic other than ``"v"`` or a network other than
      ``"mlp"`` (the message names the space), or a network that cannot take the observations.
  """
  try:
    spec = spaces_lib.action_spec(env, env_params)
  except ValueError as err:
    agent = owner.removesuffix("Config").upper()
    raise ValueError(f"{agent} cannot act in this environment: {err}") from None
  if spec.continuous and critic != "v":
    raise ValueError(f"{owner}: critic={critic!r} needs a discrete action space (one value per "
                     f"action); this environment has a {spec.describe()}. Use critic='v'.")
  if spec.continuous and config.network != "mlp":
    raise ValueError(f"{owner}: network={config.network!r} takes discrete actions; continuous "
                     f"actions ({spec.describe()}) need network='mlp'.")
  obs_shape = tuple(env.observation_space(env_params).shape)
  if config.network in networks_lib.RECURRENT_CELLS:
    if critic != "v":
      raise ValueError(f"{owner}: a recurrent network ({config.network!r}) has a state-value "
                       f"critic; critic={critic!r} needs network='mlp'.")
    if getattr(config, "normalize_observations", False):
      raise ValueError(f"{owner}: normalize_observations is not available with a recurrent "
                       f"network ({config.network!r}); turn it off or use network='mlp'.")
    network = networks_lib.make_recurrent_network(
        config.network, spec.size, obs_shape, memory_size=config.memory_size,
        hidden_sizes=config.hidden_sizes, continuous=spec.continuous,
        log_std_init=getattr(config, "log_std_init", 0.0))
  else:
    network = networks_lib.make_actor_critic(
        config.network, spec.size, obs_shape, hidden_sizes=config.hidden_sizes,
        shared=getattr(config, "shared_torso", False), critic=critic, dueling=dueling,
        continuous=spec.continuous, log_std_init=getattr(config, "log_std_init", 0.0))
  if getattr(config, "normalize_observations", False):
    network = networks_lib.NormalizedInput(network, clip=config.observation_clip)
  dist, to_env = distributions_lib.for_action_spec(
      spec, squash=getattr(config, "action_squash", "clip"))
  return Actor(network=network, dist=dist, to_env=to_env, spec=spec)


class OnPolicyParts(NamedTuple):
  """What a policy-gradient agent acts and learns with (:func:`make_on_policy_parts`).

  Attributes:
    actor: the :class:`Actor`.
    env: the environment wrapped in :class:`~jaxrl.envs.EpisodeStatistics` (reset this one).
    rollout: ``rollout(key, params, env_state, obs) -> ((env_state, obs, key), Trajectory)``
      (:func:`jaxrl.rollouts.make_rollout`) of ``num_envs`` environments for ``length`` steps;
      with a recurrent actor ``rollout(key, params, env_state, obs, memory) -> ((env_state,
      obs, key, memory), Trajectory)`` (:func:`jaxrl.rollouts.make_recurrent_rollout`).
    evaluate: ``evaluate(key, params) -> mean greedy return``.
    reference: on a tabular environment with discrete actions, the comparison with the exact
      ``Q*`` (:func:`jaxrl.rollouts.tabular_reference`); None otherwise.
  """

  actor: Actor
  env: Any
  rollout: Callable
  evaluate: Callable
  reference: Callable | None


def make_on_policy_parts(owner: str, config: Any, env, env_params, *, length: int,
                         record: bool = False, critic: str = "v",
                         dueling: bool = False) -> OnPolicyParts:
  """The actor (:func:`make_actor`), the rollout of ``config.num_envs`` environments for
  ``length`` steps acting with :meth:`Actor.act` (or :meth:`Actor.act_and_record` with
  ``record``, keeping ``(log pi(a | s), V(s))`` in ``extras_t``), the greedy evaluation
  (``config.eval_episodes``, ``config.eval_max_steps``) and the tabular reference."""
  actor = make_actor(owner, config, env, env_params, critic=critic, dueling=dueling)
  env = wrappers_lib.EpisodeStatistics(env)
  env_step = rollouts.make_env_step(env, env_params, config.num_envs, action_map=actor.to_env)
  if actor.recurrent:
    if not record:
      raise ValueError(f"{owner}: a recurrent network is supported by PPO only.")
    rollout = rollouts.make_recurrent_rollout(env_step, actor.act_and_record_recurrent, length)
  else:
    rollout = rollouts.make_rollout(env_step, actor.act_and_record if record else actor.act,
                                    length)
  # the tabular reference compares a memoryless policy's choice in each state
  tabular = not actor.spec.continuous and not actor.recurrent
  return OnPolicyParts(
      actor=actor, env=env, rollout=rollout,
      evaluate=actor.evaluation(env, env_params, config.eval_episodes, config.eval_max_steps),
      reference=rollouts.tabular_reference(env_params) if tabular else None)


def pg_loss(dist: distributions_lib.Distribution, pi_t, a_t: Array, weights_t: Array) -> Array:
  """``-(1 / B) sum_t log pi(a_t | s_t) stop_gradient(w_t)`` on a flat batch ``[B]``."""
  if not dist.continuous:
    return losses_lib.policy_gradient_loss(pi_t, a_t, weights_t)
  return -jnp.mean(dist.log_prob(pi_t, a_t) * jax.lax.stop_gradient(weights_t))


def mean_entropy(dist: distributions_lib.Distribution, pi_t) -> Array:
  """``(1 / B) sum_t H(pi(. | s_t))`` on a flat batch ``[B]``."""
  if not dist.continuous:
    return -losses_lib.entropy_loss(pi_t)
  return jnp.mean(dist.entropy(pi_t))
