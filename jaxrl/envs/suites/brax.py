"""Brax's environments behind jaxrl's interface: ``envs.make("brax:ant", backend="mjx")``.

The names are Brax's registry (``brax.envs._envs``, read at call time, so environments added with
``brax.envs.register_environment`` appear): ``ant``, ``halfcheetah``, ``hopper``, ``humanoid``,
``inverted_pendulum``, ... The adapter (:class:`~jaxrl.envs.suites._pipeline.PipelineAdapter`)
owns three translations:

- **Spaces.** Observations: ``Box(-inf, inf, [obs_dim])`` float32 (a dict observation, e.g.
  ``fast`` with a dict ``obs_mode``, is flattened). Actions: ``Box(-1, 1, [action_size])``, the
  range every Brax environment takes (each scales it to its actuators' limits).
- **The episode boundary.** Brax's own ``done`` is termination (``terminated=True``); the time
  limit is the adapter's, counted in params (``params.max_steps_in_episode = ceil(episode_length
  / action_repeat)``) and reported as ``truncated=True, terminated=False``, as Brax's
  ``EpisodeWrapper`` reports it in ``state.info["truncation"]``. ``info["final_observation"]``
  is the stepped observation before the reset. The ``reset`` option chooses what follows:

  * ``reset="fresh"`` (the default): a true ``env.reset(key)`` with the step's key, so every
    episode starts from a new random initial state (as gymnax does). Under ``vmap`` this reset
    runs at every step (both branches of the select), which costs what one ``env.reset`` costs.
  * ``reset="cached"``: exactly Brax's ``AutoResetWrapper``, the reset Brax's own training
    (``brax.envs.training.wrap``) uses. ``reset(key)`` keeps that environment's first
    ``pipeline_state`` and observation in the adapter's state, and every episode end restores
    them instead of calling ``env.reset``: every episode of one environment starts from the same
    initial state, that environment's first; different vmapped environments (reset with
    different keys) still differ from each other. No reset is computed per step; the trajectory
    is the one ``training.wrap`` gives for the same reset key.
- **Options**, checked by type and range before anything is built: ``backend`` (the physics
  pipelines the environment accepts: ``generalized``, ``positional``, ``spring``, ``mjx``;
  ``swimmer`` only ``generalized``; ``fast`` has none), ``episode_length`` (int >= 1, default
  1000, as Brax's training uses), ``action_repeat`` (int >= 1, default 1) and ``reset``
  (``"fresh"`` or ``"cached"``, default ``"fresh"``).

The default backend is ``mjx`` where the environment accepts it. On this project's 2-core CPU
(shared, so under load), ``inverted_pendulum`` x 64 environments x 1000 steps under Brax's own
``training.wrap`` ran at 45.0k steps/s with ``mjx`` (compile 19 s), 44.7k ``generalized`` (25 s),
38.1k ``positional`` (25 s) and 69.5k ``spring`` (55 s); ``ant`` was reported at 7.9k ``mjx``
against 2.8k ``positional``. ``spring`` wins only on the contact-free pendulum, with a cruder
physics and the slowest compile, so ``mjx`` (also ``PipelineEnv``'s own default, and the pipeline
still maintained) is the default; ``swimmer`` takes only ``generalized``.
"""

from __future__ import annotations

from typing import Any

import brax.envs

from jaxrl import validation
from jaxrl.envs.options import EnvOption
from jaxrl.envs.suites._pipeline import RESETS
from jaxrl.envs.suites._pipeline import PipelineAdapter
from jaxrl.envs.suites._pipeline import PipelineParams

__all__ = ("BACKENDS", "BraxEnv", "DEFAULT_BACKEND", "PipelineParams", "make", "names",
           "options")

#: The physics pipelines of ``brax.envs.base.PipelineEnv``.
BACKENDS = ("generalized", "positional", "spring", "mjx")
#: The backend :func:`make` uses unless told (see the module docstring).
DEFAULT_BACKEND = "mjx"
#: Environments that accept fewer backends than :data:`BACKENDS` (``()``: no backend argument).
_ONLY = {"swimmer": ("generalized",), "fast": ()}

_EPISODE_LENGTH = EnvOption(int, validation.AT_LEAST_ONE,
                            doc="suite steps per episode before truncation (Brax's training: 1000)")
_ACTION_REPEAT = EnvOption(int, validation.AT_LEAST_ONE,
                           doc="suite steps per adapter step, rewards summed")
_RESET = EnvOption(str, choices=RESETS,
                   doc="episode-end reset: 'fresh' (env.reset, the default) or 'cached' (the "
                       "env's first state, as Brax's AutoResetWrapper)")


class BraxEnv(PipelineAdapter):
  """A Brax environment with gymnax 1.x's interface (see the module docstring)."""


def names() -> tuple[str, ...]:
  """Brax's environment names (``brax.envs._envs``)."""
  return tuple(brax.envs._envs)  # pylint: disable=protected-access


def _backends(name: str) -> tuple[str, ...]:
  return _ONLY.get(name, BACKENDS)


def options(name: str) -> dict[str, EnvOption]:
  """The options :func:`make` takes for ``name``: ``backend`` (where it has a choice),
  ``episode_length``, ``action_repeat``, ``reset``."""
  out = {}
  backends = _backends(name)
  if backends:
    out["backend"] = EnvOption(str, choices=backends,
                               doc=f"physics pipeline (default {_default_backend(name)!r})")
  out["episode_length"] = _EPISODE_LENGTH
  out["action_repeat"] = _ACTION_REPEAT
  out["reset"] = _RESET
  return out


def _default_backend(name: str) -> str | None:
  backends = _backends(name)
  if not backends:
    return None
  return DEFAULT_BACKEND if DEFAULT_BACKEND in backends else backends[0]


def make(name: str, *, backend: str | None = None, episode_length: int = 1000,
         action_repeat: int = 1, reset: str = RESETS[0]) -> tuple[BraxEnv, PipelineParams]:
  """``(env, params)`` for Brax's environment ``name``.

  Args:
    name: a name from :func:`names` (``"inverted_pendulum"``).
    backend: a physics pipeline from ``options(name)["backend"].choices`` (None: the default).
    episode_length: suite steps per episode, >= 1.
    action_repeat: suite steps per adapter step, >= 1.
    reset: ``"fresh"`` (a true ``env.reset`` at each episode end) or ``"cached"`` (the first
      state, as Brax's ``AutoResetWrapper``); see the module docstring.

  Returns:
    The adapter and its params (``max_steps_in_episode = ceil(episode_length /
    action_repeat)``).

  Raises:
    ValueError: an unknown name or an option out of range (:func:`jaxrl.envs.make` checks these
      first, with close matches).
  """
  if name not in brax.envs._envs:  # pylint: disable=protected-access
    raise ValueError(f"brax has no environment {name!r}; its environments: "
                     f"{', '.join(names())}.")
  checked: dict[str, Any] = {
      "episode_length": validation.check_int("brax option episode_length", episode_length, 1),
      "action_repeat": validation.check_int("brax option action_repeat", action_repeat, 1),
      "reset": validation.check_choice("brax option reset", reset, RESETS),
  }
  kwargs = {}
  if _backends(name):
    backend = _default_backend(name) if backend is None else backend
    validation.check_choice("brax option backend", backend, _backends(name))
    kwargs["backend"] = checked["backend"] = backend
  elif backend is not None:
    raise ValueError(f"brax:{name} takes no backend option, got {backend!r}.")
  raw = brax.envs.get_environment(name, **kwargs)
  size = int(raw.action_size)
  env = BraxEnv("brax", name, raw, checked, episode_length=checked["episode_length"],
                action_repeat=checked["action_repeat"], action_low=[-1.0] * size,
                action_high=[1.0] * size, reset=checked["reset"])
  return env, env.default_params
