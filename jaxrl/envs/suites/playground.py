"""MuJoCo Playground's DM Control Suite behind jaxrl's interface:
``envs.make("playground:CheetahRun")``.

Only the DM Control Suite tasks are offered (``CartpoleBalance``, ``CheetahRun``, ``WalkerWalk``,
... : ``mujoco_playground._src.dm_control_suite.ALL_ENVS``): their models ship in Playground's
wheel. The locomotion and manipulation tasks load MuJoCo Menagerie, which Playground clones from
GitHub the first time one is built; that cannot work offline or in a locked-down cluster, so
:func:`names` leaves them out and :func:`refusal` (which ``jaxrl.envs.make`` asks first) and
:func:`make` refuse them with a message saying why.

The adapter (:class:`~jaxrl.envs.suites._pipeline.PipelineAdapter`) owns three translations:

- **Spaces.** Observations: ``Box(-inf, inf, [obs_dim])`` float32; a dict observation is
  flattened (keys sorted, each raveled, concatenated). Actions: ``Box(low, high, [nu])`` from the
  model's actuator control ranges (``[-1, 1]`` for an actuator without limits, the range
  Playground's own training assumes).
- **The episode boundary.** Playground's ``done`` is termination (for these tasks: a NaN in the
  physics state; nothing else ends a DM Control episode). The time limit lives in the config
  (``episode_length``), which Playground's environments do not read themselves: its training
  wrapper (``wrapper.wrap_for_brax_training``, Brax's ``EpisodeWrapper``) counts it and reports it
  in ``state.info["truncation"]``. The adapter counts it in params (``max_steps_in_episode =
  ceil(episode_length / action_repeat)``) and reports ``truncated=True, terminated=False``, with
  the stepped observation in ``info["final_observation"]``. The ``reset`` option chooses what
  follows:

  * ``reset="fresh"`` (the default): a true ``env.reset(key)`` with the step's key, so every
    episode starts from a new random initial state (as ``wrap_for_brax_training(...,
    full_reset=True)`` does). Under ``vmap`` this reset runs at every step, which for a cheap
    task such as Cartpole costs more than the step itself.
  * ``reset="cached"``: exactly Playground's ``wrap_for_brax_training`` without ``full_reset``
    (its ``BraxAutoResetWrapper``), the reset Playground's own training uses. ``reset(key)``
    keeps that environment's first ``data`` (the MJX physics state) and observation in the
    adapter's state, and every episode end restores them instead of calling ``env.reset`` (the
    task's ``info`` carries on, as under that wrapper): every episode of one environment starts
    from the same initial state, that environment's first; different vmapped environments
    (reset with different keys) still differ from each other. No reset is computed per step.
- **Options**, checked by type and range before anything is built: ``episode_length`` and
  ``action_repeat`` (ints >= 1; defaults from the task's config, 1000 and 1), ``ctrl_dt`` and
  ``sim_dt`` (positive seconds; the control step must hold at least one physics step),
  ``impl``, MJX's implementation: ``"jax"`` (the default here: it runs on any device) or
  ``"warp"`` (Playground's default, which needs an NVIDIA GPU), and ``reset`` (``"fresh"`` or
  ``"cached"``, default ``"fresh"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from mujoco_playground import registry
from mujoco_playground._src import dm_control_suite

from jaxrl import validation
from jaxrl.envs.options import EnvOption
from jaxrl.envs.suites._pipeline import RESETS
from jaxrl.envs.suites._pipeline import PipelineAdapter
from jaxrl.envs.suites._pipeline import PipelineParams

__all__ = ("IMPLS", "PlaygroundEnv", "PipelineParams", "make", "names", "options", "refusal")

#: MJX implementations (``config.impl``); the first is the default here.
IMPLS = ("jax", "warp")

_INT = EnvOption(int, validation.AT_LEAST_ONE)


class PlaygroundEnv(PipelineAdapter):
  """A MuJoCo Playground environment with gymnax 1.x's interface (see the module docstring)."""


def names() -> tuple[str, ...]:
  """The DM Control Suite tasks (the ones whose models ship with Playground)."""
  return tuple(dm_control_suite.ALL_ENVS)


def refusal(name: str) -> str | None:
  """Why ``name`` cannot be built here, for a Playground task jaxrl leaves out on purpose (a
  locomotion or manipulation task: it downloads MuJoCo Menagerie at run time); None otherwise,
  also for a name Playground does not have."""
  if name in names() or name not in registry.ALL_ENVS:
    return None
  return (f"playground:{name} is a locomotion or manipulation task, which downloads MuJoCo "
          "Menagerie from GitHub at run time; that cannot work offline, as here. Only "
          "Playground's DM Control Suite tasks, whose models ship with it, are available: "
          f"{', '.join(names())}.")


def _check_name(name: str) -> None:
  if name in names():
    return
  why = refusal(name)
  if why is not None:
    raise ValueError(why)
  raise ValueError(f"playground has no environment {name!r}; its environments: "
                   f"{', '.join(names())}.")


def options(name: str) -> dict[str, EnvOption]:
  """The options :func:`make` takes for ``name`` (defaults from the task's config)."""
  _check_name(name)
  config = dm_control_suite.get_default_config(name)
  return {
      "episode_length": _INT._replace(
          doc=f"suite steps per episode before truncation (default {config.episode_length})"),
      "action_repeat": _INT._replace(
          doc=f"suite steps per adapter step, rewards summed (default {config.action_repeat})"),
      "ctrl_dt": EnvOption(float, validation.POSITIVE,
                           doc=f"seconds per control step (default {config.ctrl_dt})"),
      "sim_dt": EnvOption(float, validation.POSITIVE,
                          doc=f"seconds per physics step (default {config.sim_dt})"),
      "impl": EnvOption(str, choices=IMPLS,
                        doc="MJX implementation: 'jax' (any device) or 'warp' (NVIDIA GPU)"),
      "reset": EnvOption(str, choices=RESETS,
                         doc="episode-end reset: 'fresh' (env.reset, the default) or 'cached' "
                             "(the env's first state, as Playground's training wrapper)"),
  }


def make(name: str, *, episode_length: int | None = None, action_repeat: int | None = None,
         ctrl_dt: float | None = None, sim_dt: float | None = None,
         impl: str = IMPLS[0],
         reset: str = RESETS[0]) -> tuple[PlaygroundEnv, PipelineParams]:
  """``(env, params)`` for Playground's DM Control Suite task ``name``.

  Args:
    name: a name from :func:`names` (``"CartpoleBalance"``).
    episode_length: suite steps per episode, >= 1 (None: the config's, 1000).
    action_repeat: suite steps per adapter step, >= 1 (None: the config's, 1).
    ctrl_dt, sim_dt: seconds per control and physics step, > 0 (None: the config's);
      ``round(ctrl_dt / sim_dt) >= 1``.
    impl: ``"jax"`` or ``"warp"``.
    reset: ``"fresh"`` (a true ``env.reset`` at each episode end) or ``"cached"`` (the first
      state, as ``wrap_for_brax_training`` without ``full_reset``); see the module docstring.

  Returns:
    The adapter and its params (``max_steps_in_episode = ceil(episode_length /
    action_repeat)``).

  Raises:
    ValueError: a locomotion or manipulation task (they need MuJoCo Menagerie), an unknown name,
      or a bad option.
  """
  _check_name(name)
  config = dm_control_suite.get_default_config(name)
  label = f"playground:{name} option"
  checked: dict[str, Any] = {
      "episode_length": validation.check_int(
          f"{label} episode_length",
          config.episode_length if episode_length is None else episode_length, 1),
      "action_repeat": validation.check_int(
          f"{label} action_repeat",
          config.action_repeat if action_repeat is None else action_repeat, 1),
      "ctrl_dt": float(validation.check_scalar(
          f"{label} ctrl_dt", config.ctrl_dt if ctrl_dt is None else ctrl_dt,
          validation.POSITIVE)),
      "sim_dt": float(validation.check_scalar(
          f"{label} sim_dt", config.sim_dt if sim_dt is None else sim_dt, validation.POSITIVE)),
      "impl": validation.check_choice(f"{label} impl", impl, IMPLS),
  }
  reset = validation.check_choice(f"{label} reset", reset, RESETS)
  if round(checked["ctrl_dt"] / checked["sim_dt"]) < 1:
    raise ValueError(f"{label} ctrl_dt ({checked['ctrl_dt']}) must be at least sim_dt "
                     f"({checked['sim_dt']}): a control step holds round(ctrl_dt / sim_dt) "
                     "physics steps.")
  raw = registry.load(name, config_overrides=dict(checked))
  checked["reset"] = reset
  model = raw.mj_model
  limited = np.asarray(model.actuator_ctrllimited, bool)
  ranges = np.asarray(model.actuator_ctrlrange, np.float32).reshape(-1, 2)
  low = np.where(limited, ranges[:, 0], -1.0)
  high = np.where(limited, ranges[:, 1], 1.0)
  env = PlaygroundEnv("playground", name, raw, checked,
                      episode_length=checked["episode_length"],
                      action_repeat=checked["action_repeat"], action_low=low, action_high=high,
                      reset=reset)
  return env, env.default_params
