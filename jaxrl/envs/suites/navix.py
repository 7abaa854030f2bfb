"""Navix's grid worlds behind jaxrl's environment interface (``"navix:Navix-Empty-8x8-v0"``).

A thin, stateless adapter over ``navix.make(name, ...)``; it forks nothing of navix. It owns three
translations:

Spaces.
  Actions are ``Discrete(n)``, ``n`` the size of the environment's navix action set (7 for
  MiniGrid's). Observations are navix's observation function's output, shape kept and cast to
  float32, in a ``Box`` whose bounds are the values the function can give (navix's own declared
  spaces are narrower than its outputs: its ``symbolic`` space says ``Discrete(9)`` but the player's
  tag is 10, and its ``categorical`` space says 0..8 but walls are -1 and tags reach 10):

  - ``"symbolic"`` (navix's default): the whole grid as MiniGrid triples (tag, colour, state),
    ``[H, W, 3]`` in [0, 255];
  - ``"symbolic_first_person"``: the agent's egocentric 7x7 view of those triples, ``[7, 7, 3]`` in
    [0, 255];
  - ``"categorical"``: the whole grid as entity tags, ``[H, W]`` in [-1, 10];
  - ``"rgb"``: the whole grid as an image, ``[8 H, 8 W, 3]`` in [0, 255] (not rescaled).

Episode boundary.
  navix's ``Environment.step`` resets lazily: the step that ends an episode returns the last
  timestep (its ``step_type`` 1 on truncation, 2 on termination, termination winning a tie) and the
  NEXT call resets, ignoring its action. gymnax resets in the same step, so the adapter calls the
  pieces navix's ``step`` composes instead of ``step`` itself: ``env._step(timestep, action)`` (the
  non-resetting transition) and ``env.reset(key, cache)``, and takes the reset where the
  transition ended the episode (a ``lax.cond``, a select under ``vmap``), as navix's own
  ``step`` does one call later. ``terminated`` is
  ``step_type == 2``, ``truncated`` ``step_type == 1``; ``info["final_observation"]`` is the
  transition's observation before the reset. The reset takes the key navix carries in its state,
  as navix's own ``step`` does (each reset draws the next one, so episodes differ): the key passed
  to ``step`` is unused and the caller's per-step split compiles away (with it the adapter ran
  at 0.74x navix's rate on a quiet 2-core CPU, 256 envs; as Jumanji's and XLand-MiniGrid's
  adapters do); the rendering cache is carried over as navix does. The adapter's state is
  navix's ``Timestep`` (its ``t`` counts the episode's steps).

Options.
  ``max_steps`` (int >= 1, default 100 as ``navix.make``): navix's time limit, also given as the
  params' ``max_steps_in_episode`` (read-only there: changing the params does not change navix's
  limit; make a new environment). ``observation`` (one of :data:`OBSERVATIONS`, default
  ``"symbolic"``). Both are checked by :func:`jaxrl.envs.make` before anything is built.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import navix
from gymnax.environments import environment as gymnax_env
from gymnax.environments import spaces

from jaxrl import validation
from jaxrl.envs.options import EnvOption
from jaxrl.envs.suites import SuiteIdentity

__all__ = ("OBSERVATIONS", "NavixEnv", "make", "names", "options")

#: navix's observation functions the adapter offers, by option value.
OBSERVATIONS = {
    "symbolic": navix.observations.symbolic,
    "symbolic_first_person": navix.observations.symbolic_first_person,
    "categorical": navix.observations.categorical,
    "rgb": navix.observations.rgb,
}
#: The smallest and largest value of each observation (see the module docstring).
_BOUNDS = {"symbolic": (0.0, 255.0), "symbolic_first_person": (0.0, 255.0),
           "categorical": (-1.0, float(navix.entities.EntityIds.PLAYER)), "rgb": (0.0, 255.0)}
_DEFAULT_MAX_STEPS = 100
_OPTIONS = {
    "max_steps": EnvOption(int, validation.AT_LEAST_ONE,
                           doc="time limit: steps before an episode is truncated (navix's)"),
    "observation": EnvOption(str, choices=tuple(OBSERVATIONS),
                             doc="navix's observation function, cast to float32"),
}


def names() -> tuple[str, ...]:
  """navix's registered environment names (``navix.registry()``), sorted."""
  return tuple(sorted(navix.registry()))


def options(name: str) -> dict[str, EnvOption]:
  """``max_steps`` and ``observation``, the same for every navix environment."""
  del name
  return dict(_OPTIONS)


def make(name: str, max_steps: int = _DEFAULT_MAX_STEPS,
         observation: str = "symbolic") -> tuple[NavixEnv, gymnax_env.EnvParams]:
  """The adapter of ``navix.make(name, max_steps=..., observation_fn=...)`` and its params."""
  env = NavixEnv(name, max_steps=max_steps, observation=observation)
  return env, env.default_params


def _cast_like(tree: Any, like: Any) -> Any:
  """``tree`` with the dtypes of ``like`` (same structure)."""
  return jax.tree.map(lambda x, y: jnp.asarray(x, y.dtype), tree, like)


def _strong(tree: Any) -> Any:
  """Every leaf as a jax array of its own dtype, not weakly typed (a stable scan carry)."""
  return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), tree)


class NavixEnv(SuiteIdentity, gymnax_env.Environment):
  """One navix environment with gymnax 1.x's interface; equal (and hashing) by name and options
  (:class:`~jaxrl.envs.suites.SuiteIdentity`).

  The state is navix's ``Timestep``; ``env.navix_env`` (also ``env.unwrapped``) is the navix
  environment itself.
  """

  PREFIX = "navix"

  def __init__(self, name: str, max_steps: int = _DEFAULT_MAX_STEPS,
               observation: str = "symbolic"):
    self._suite_name = name
    self.max_steps = int(max_steps)
    self.observation = observation
    self._options = (("max_steps", self.max_steps), ("observation", self.observation))
    self.navix_env = self._env = navix.make(name, max_steps=self.max_steps,
                                            observation_fn=OBSERVATIONS[observation])

  @property
  def options(self) -> tuple[tuple[str, Any], ...]:
    return self._options

  @property
  def default_params(self) -> gymnax_env.EnvParams:
    return gymnax_env.EnvParams(max_steps_in_episode=self.max_steps)

  @property
  def num_actions(self) -> int:
    return len(self.navix_env.action_set)

  def action_space(self, params: Any = None) -> spaces.Discrete:
    del params
    return spaces.Discrete(self.num_actions)

  def observation_space(self, params: Any = None) -> spaces.Box:
    del params
    shape = jax.eval_shape(self.navix_env.reset, jax.random.PRNGKey(0)).observation.shape
    low, high = _BOUNDS[self.observation]
    return spaces.Box(low, high, tuple(shape), jnp.float32)

  @partial(jax.jit, static_argnames=("self",))
  def reset(self, key: jax.Array, params: Any = None) -> tuple[jax.Array, Any]:
    del params
    timestep = _strong(self.navix_env.reset(key))
    return timestep.observation.astype(jnp.float32), timestep

  @partial(jax.jit, static_argnames=("self",))
  def step(self, key: jax.Array, state: Any, action: Any, params: Any = None):
    del params
    env = self.navix_env
    after = env._step(state, jnp.asarray(action, jnp.int32))  # navix's transition, no reset
    del key                 # navix's randomness is in its state: its own reset key, as navix
    cache = state.state.cache
    # a cond, not jnp.where over the two timesteps: the same values (a select under vmap), but
    # XLA:CPU ran the where's program at 0.73x navix's own step on 2 threads, the cond's at
    # 1.4-2.2x (benchmarks/adapter_overhead_navix.py)
    new = jax.lax.cond(after.step_type > 0,
                       lambda t: _cast_like(env.reset(t.state.key, cache), state),
                       lambda t: _cast_like(t, state), after)
    info = {"final_observation": after.observation.astype(jnp.float32)}
    terminated = after.step_type == navix.StepType.TERMINATION
    truncated = after.step_type == navix.StepType.TRUNCATION
    return (new.observation.astype(jnp.float32), new, after.reward.astype(jnp.float32),
            terminated, truncated, info)

  def reset_env(self, key, params):
    return self.reset(key, params)

  def step_env(self, key, state, action, params):
    raise NotImplementedError("NavixEnv.step is complete; it does not compose step_env.")
