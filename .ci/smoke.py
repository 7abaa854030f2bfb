"""Smoke test of an installed jaxrl against whatever dependency versions the venv holds.

Run by ``.ci/lowest.sh`` inside the venv built from ``constraints-lowest.txt`` (the lowest versions
``pyproject.toml`` declares), so a lower bound that stops working fails CI, not a user. It checks,
each step raising (non-zero exit) on failure:

1. every ``jaxrl`` module imports;
2. ``jaxrl --help`` and ``jaxrl solve gridworld`` (the tabular solver, its run directory and plot);
3. ``jaxrl train dqn`` on Probe1-v0, 2 seeds, through the CLI (tyro, orbax checkpoints, plots);
4. DQN and PPO through the Python API: a run stopped after one checkpointed chunk and resumed
   equals the straight-through run bitwise (orbax save/restore, shard_map, flax, optax);
5. the traced checks (``validation.checked``: jax.experimental.checkify) name a bad MDP's row;
6. ``training.count_compilations`` (jax.monitoring listeners) counts one compile, not two.

Usage: ``python .ci/smoke.py`` (prints the versions it ran with, then one line per step).
"""

import importlib
import pathlib
import pkgutil
import subprocess
import sys
import tempfile

import numpy as np

__all__ = ("main",)

CORE = ("jax", "jaxlib", "numpy", "chex", "flax", "optax", "orbax-checkpoint", "gymnax", "six",
        "matplotlib", "tyro")


def _cli(*args: str) -> str:
  """Runs ``python -m jaxrl ARGS``; raises with its output when it fails."""
  done = subprocess.run([sys.executable, "-m", "jaxrl", *args], capture_output=True, text=True)
  if done.returncode != 0:
    raise RuntimeError(f"jaxrl {' '.join(args)} exited {done.returncode}:\n"
                       f"{done.stdout}\n{done.stderr}")
  return done.stdout


def _import_everything() -> int:
  import jaxrl
  names = [m.name for m in pkgutil.walk_packages(jaxrl.__path__, "jaxrl.")]
  for name in names:
    importlib.import_module(name)
  return len(names)


def _same(a: dict, b: dict) -> bool:
  return sorted(a) == sorted(b) and all(
      np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True) for k in a)


def _resume_equals_straight(algorithm: str, config, tmp: pathlib.Path) -> None:
  from jaxrl import training
  spec = training.RunSpec(algorithm, config, env="Probe1-v0", num_seeds=2, seed=3,
                          checkpoint_every=config.total_steps // 2)
  straight = training.run(spec, tmp / f"{algorithm}-straight", progress=False, log=None)
  try:
    training.run(spec, tmp / f"{algorithm}-resumed", progress=False, log=None,
                 stop_after_chunks=1)
    raise RuntimeError(f"{algorithm}: stop_after_chunks=1 did not stop the run")
  except training.Interrupted:
    pass
  resumed = training.resume(tmp / f"{algorithm}-resumed", progress=False, log=None)
  if not _same(resumed.metrics, straight.metrics):
    raise RuntimeError(f"{algorithm}: the resumed run's metrics differ from straight-through")
  if not np.all(np.isfinite(np.asarray(straight.metrics["loss"]))):
    raise RuntimeError(f"{algorithm}: non-finite loss")


def main() -> None:
  from importlib import metadata
  print("versions:", ", ".join(f"{p}=={metadata.version(p)}" for p in CORE), flush=True)
  print(f"imported {_import_everything()} jaxrl modules", flush=True)
  if "solve" not in _cli("--help"):
    raise RuntimeError("jaxrl --help does not list the solve command")
  with tempfile.TemporaryDirectory() as tmp_name:
    tmp = pathlib.Path(tmp_name)
    _cli("solve", "gridworld", "--out", str(tmp / "solve"))
    if not (tmp / "solve" / "policy.png").is_file():
      raise RuntimeError("jaxrl solve gridworld wrote no policy.png")
    print("cli: --help, solve gridworld ok", flush=True)
    _cli("train", "dqn", "--env", "Probe1-v0", "--num-seeds", "2", "--out", str(tmp / "cli"),
         "--total-steps", "400", "--num-envs", "4", "--log-every", "100", "--eval-every", "200",
         "--learning-starts", "50", "--buffer-size", "200", "--batch-size", "16",
         "--hidden-sizes", "8", "--checkpoint-every", "200", "--progress-interval", "0")
    if not (tmp / "cli" / "metrics.csv").is_file():
      raise RuntimeError("jaxrl train dqn wrote no metrics.csv")
    print("cli: train dqn ok", flush=True)
    from jaxrl.agents import DQNConfig, PPOConfig
    _resume_equals_straight("dqn", DQNConfig(
        total_steps=400, num_envs=4, log_every=100, eval_every=200, learning_starts=50,
        buffer_size=200, batch_size=16, hidden_sizes=(8,), updates_per_step=1.0,
        epsilon_decay_steps=200), tmp)
    _resume_equals_straight("ppo", PPOConfig(
        total_steps=1_024, num_envs=4, num_steps=16, num_epochs=2, num_minibatches=2,
        hidden_sizes=(8,), log_every=256, eval_every=512, eval_episodes=2), tmp)
    print("api: dqn and ppo stopped, resumed, equal to straight-through ok", flush=True)
  _traced_check()
  _count_compilations()
  print("smoke: all ok", flush=True)


def _count_compilations() -> None:
  import jax
  import jax.numpy as jnp
  from jaxrl import training
  f = jax.jit(lambda x: x * 2 + 1)
  a, b = jnp.zeros(3), jnp.ones(3)   # made outside: they compile programs of their own
  with training.count_compilations() as compiles:
    f(a)
    f(b)
  if compiles.count != 1:
    raise RuntimeError(f"count_compilations counted {compiles.count} compiles of one program")
  print("count_compilations ok", flush=True)


def _traced_check() -> None:
  """checkify: a row summing to 2, built past the eager check, is named by checked(...)."""
  import jax.numpy as jnp
  from jaxrl import mdp, validation
  p = np.full((2, 2, 2), 0.5, np.float32)
  p[0, 1] = [1.0, 1.0]
  leaves = [jnp.asarray(p), jnp.ones((2, 2), jnp.float32), jnp.float32(0.9)]
  bad = mdp.TabularMDP.tree_unflatten(None, leaves)
  try:
    validation.checked(mdp.value_iteration)(bad)
  except ValueError as err:
    if "rows must sum to 1" not in str(err):
      raise
  else:
    raise RuntimeError("checked(value_iteration) passed an MDP whose row sums to 2")
  print("traced checks (checkify) ok", flush=True)

if __name__ == "__main__":
  main()
