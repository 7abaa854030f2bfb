"""jaxrl PPO and Brax's own PPO (``brax.training.agents.ppo``) with the same settings.

Shared by ``benchmarks/brax_ppo.py`` (throughput) and ``experiments/ppo_brax.py`` (returns).
One :class:`Setting` describes a run in Brax's terms; :func:`jaxrl_config` and :func:`brax_train`
translate it to each library:

    Brax                                   jaxrl PPOConfig
    num_envs                               num_envs
    batch_size * num_minibatches *         num_envs * num_steps   (env steps per update round)
      unroll_length
    num_minibatches                        num_minibatches
    num_updates_per_batch                  num_epochs
    learning_rate, discounting,            learning_rate, discount, gae_lambda, clip_eps,
      gae_lambda, clipping_epsilon,          entropy_coef, max_grad_norm
      entropy_cost, max_grad_norm
    normalize_observations,                normalize_observations, reward_scaling
      reward_scaling
    tanh_normal policy, MLP hidden sizes   action_squash="tanh", hidden_sizes (both networks)

Where the two differ by design (said in the reports): Brax cuts GAE at every ``unroll_length``
window and bootstraps there, jaxrl runs GAE over its ``num_steps`` window; Brax learns a scalar
noise std through a softplus, jaxrl a state-independent ``log_std``; Brax does not anneal the
learning rate unless told, jaxrl's ``anneal_lr`` is turned off here to match. Brax's
``bootstrap_on_timeout`` stays off (its default): Brax's inverted_pendulum sets
``info["time_out"] = done``, i.e. marks every FALL as a time-out, so with it on Brax's PPO adds
``gamma V(s)`` to the reward of each fall and learns to fall (a return of 2-3; measured before
this was found), and inverted_double_pendulum has no ``time_out`` at all (KeyError). Brax's GAE
still cuts at its EpisodeWrapper's ``truncation``; jaxrl bootstraps from the final observation. Both environments are Brax's own with the same backend and episode
length: jaxrl steps it through ``jaxrl.envs.make("brax:NAME")``, Brax through its training
wrappers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import Any

import jax
import numpy as np


@dataclasses.dataclass(frozen=True)
class Setting:
  """One PPO run in Brax's terms (see the module docstring for the translation)."""

  env: str = "inverted_pendulum"
  backend: str = "mjx"
  episode_length: int = 1000
  num_timesteps: int = 131_072
  num_envs: int = 32
  unroll_length: int = 8
  batch_size: int = 32
  num_minibatches: int = 4
  num_updates_per_batch: int = 4
  learning_rate: float = 3e-4
  discounting: float = 0.97
  gae_lambda: float = 0.95
  clipping_epsilon: float = 0.3
  entropy_cost: float = 1e-2
  max_grad_norm: float = 1.0
  reward_scaling: float = 10.0
  normalize_observations: bool = True
  hidden_sizes: tuple[int, ...] = (64, 64)
  eval_episodes: int = 16

  @property
  def steps_per_update(self) -> int:
    return self.batch_size * self.num_minibatches * self.unroll_length

  @property
  def num_steps(self) -> int:
    """jaxrl's steps per environment per rollout."""
    if self.steps_per_update % self.num_envs:
      raise ValueError(f"num_envs {self.num_envs} must divide batch_size * num_minibatches * "
                       f"unroll_length = {self.steps_per_update}.")
    return self.steps_per_update // self.num_envs

  @property
  def total_steps(self) -> int:
    """The budget rounded up to whole update rounds (both libraries run this many)."""
    rounds = -(-self.num_timesteps // self.steps_per_update)
    return rounds * self.steps_per_update


def env_kwargs(s: Setting) -> dict[str, Any]:
  return {"backend": s.backend, "episode_length": s.episode_length}


def jaxrl_config(s: Setting, *, eval_every: int | None = None):
  from jaxrl.agents import ppo  # pylint: disable=import-outside-toplevel
  total = s.total_steps
  every = eval_every or total
  return ppo.PPOConfig(
      total_steps=total, num_envs=s.num_envs, num_steps=s.num_steps,
      num_epochs=s.num_updates_per_batch, num_minibatches=s.num_minibatches,
      hidden_sizes=tuple(s.hidden_sizes), clip_value=False, normalize_advantages=True,
      max_grad_norm=s.max_grad_norm, anneal_lr=False, log_every=every, eval_every=every,
      eval_episodes=s.eval_episodes, eval_max_steps=s.episode_length,
      learning_rate=s.learning_rate, discount=s.discounting, gae_lambda=s.gae_lambda,
      clip_eps=s.clipping_epsilon, value_coef=0.5, entropy_coef=s.entropy_cost,
      normalize_observations=s.normalize_observations, reward_scaling=s.reward_scaling,
      action_squash="tanh")


def jaxrl_train(s: Setting, *, eval_every: int | None = None):
  """``(train, env, params)``: jaxrl's ``train(key)`` on ``brax:NAME``."""
  from jaxrl import envs  # pylint: disable=import-outside-toplevel
  from jaxrl.agents import ppo  # pylint: disable=import-outside-toplevel
  env, params = envs.make(f"brax:{s.env}", **env_kwargs(s))
  return ppo.make_train(jaxrl_config(s, eval_every=eval_every), env, params), env, params


BRAX_VENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv-brax")
BRAX_PY = os.path.join(BRAX_VENV, "bin", "python")
#: Brax's PPO in its own venv: brax 0.14.2's trainer calls ``jax.device_put_replicated``, which
#: jax 0.10 removed, so it cannot run in jaxrl's venv (jax 0.10.2); 0.9.2 is the newest jax it
#: runs on. Its environments (the adapter's side) run in jaxrl's venv, the same brax version.
BRAX_REQUIREMENTS = ["jax==0.9.2", "jaxlib==0.9.2", "brax==0.14.2"]


def ensure_brax_venv() -> None:
  """Creates ``benchmarks/.venv-brax`` with :data:`BRAX_REQUIREMENTS` if it is not there."""
  marker = os.path.join(BRAX_VENV, ".installed")
  if os.path.exists(marker):
    return
  print(f"# creating {BRAX_VENV} ({', '.join(BRAX_REQUIREMENTS)}) ...", flush=True)
  subprocess.run([sys.executable, "-m", "venv", BRAX_VENV], check=True)
  pip = [BRAX_PY, "-m", "pip", "install", "--quiet"]
  subprocess.run(pip + ["--upgrade", "pip"], check=True)
  subprocess.run(pip + BRAX_REQUIREMENTS, check=True)
  with open(marker, "w", encoding="utf-8") as f:
    f.write(" ".join(BRAX_REQUIREMENTS) + "\n")


def brax_train(s: Setting, seeds: list[int], *, num_evals: int = 3, run_evals: bool = True,
               brax_networks: bool = False) -> list[dict]:
  """Brax's own PPO on the same task and settings, one call per seed, in Brax's venv
  (``brax_ppo_runner.py`` under :data:`BRAX_PY`). Returns one dict per seed (see
  :func:`brax_train_here`)."""
  ensure_brax_venv()
  runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brax_ppo_runner.py")
  request = json.dumps({"setting": dataclasses.asdict(s), "seeds": list(seeds),
                        "num_evals": num_evals, "run_evals": run_evals,
                        "brax_networks": brax_networks})
  out = subprocess.run([BRAX_PY, "-W", "ignore", runner, request], capture_output=True,
                       text=True, check=False)
  if out.returncode:
    raise RuntimeError(f"Brax's PPO runner failed:\n{out.stderr[-4000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])


def brax_versions() -> dict:
  ensure_brax_venv()
  code = "import jax, brax, json; print(json.dumps({'jax': jax.__version__, 'brax': brax.__version__}))"
  out = subprocess.run([BRAX_PY, "-W", "ignore", "-c", code], capture_output=True, text=True,
                       check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


def brax_train_here(s: Setting, seed: int, *, num_evals: int = 3, run_evals: bool = True,
                    brax_networks: bool = False):
  """Brax's own PPO in THIS process (Brax's venv). Returns ``{"final_return", "sps",
  "wall_s", "evals": [(step, return)]}``; ``sps`` is Brax's ``training/sps`` of the LAST
  training epoch (compiled by then: the first epoch compiles, so ``num_evals >= 3``).
  ``brax_networks``: Brax's default networks (policy 4x32, value 5x256, swish) instead of the
  setting's (``hidden_sizes``, tanh, for both)."""
  import functools  # pylint: disable=import-outside-toplevel
  from brax import envs as brax_envs  # pylint: disable=import-outside-toplevel
  from brax.training.agents.ppo import networks as ppo_networks  # pylint: disable=import-outside-toplevel
  from brax.training.agents.ppo import train as ppo_train  # pylint: disable=import-outside-toplevel
  from flax import linen  # pylint: disable=import-outside-toplevel
  env = brax_envs.get_environment(s.env, backend=s.backend)
  factory = ppo_networks.make_ppo_networks if brax_networks else functools.partial(
      ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=tuple(s.hidden_sizes),
      value_hidden_layer_sizes=tuple(s.hidden_sizes), activation=linen.tanh)
  evals, sps = [], []

  def progress(step, metrics):
    if "eval/episode_reward" in metrics:
      evals.append((int(step), float(metrics["eval/episode_reward"])))
    if "training/sps" in metrics:
      sps.append(float(metrics["training/sps"]))

  t0 = time.perf_counter()
  ppo_train.train(
      environment=env, num_timesteps=s.total_steps, num_envs=s.num_envs,
      episode_length=s.episode_length, action_repeat=1, learning_rate=s.learning_rate,
      entropy_cost=s.entropy_cost, discounting=s.discounting, unroll_length=s.unroll_length,
      batch_size=s.batch_size, num_minibatches=s.num_minibatches,
      num_updates_per_batch=s.num_updates_per_batch,
      normalize_observations=s.normalize_observations, reward_scaling=s.reward_scaling,
      clipping_epsilon=s.clipping_epsilon, gae_lambda=s.gae_lambda,
      max_grad_norm=s.max_grad_norm, bootstrap_on_timeout=False, network_factory=factory,
      seed=seed, num_evals=num_evals, num_eval_envs=s.eval_episodes, deterministic_eval=True,
      run_evals=run_evals, progress_fn=progress, max_devices_per_host=1)
  wall = time.perf_counter() - t0
  return {"final_return": evals[-1][1] if evals else float("nan"),
          "sps": sps[-1] if sps else float("nan"), "wall_s": wall, "evals": evals}


def final_greedy_returns(metrics) -> np.ndarray:
  """``[seeds]``: each seed's last greedy evaluation return (jaxrl's metrics)."""
  ret = np.asarray(jax.device_get(metrics["eval_return"]))
  return ret.reshape(ret.shape[0], -1)[:, -1]
