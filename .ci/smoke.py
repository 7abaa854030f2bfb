"""Smoke test of an installed jaxrl against whatever dependency versions the venv holds.

Run by ``make test-lowest`` inside the venv built from ``constraints-lowest.txt`` (the lowest
versions ``pyproject.toml`` declares), so a lower bound that stops working fails CI, not a user.
It checks, each step raising (non-zero exit) on failure:

1. every ``jaxrl`` module imports;
2. ``jaxrl --help`` and ``jaxrl solve gridworld`` (the tabular solver, its run directory and plot);
3. ``jaxrl train dqn`` on Probe1-v0, 2 seeds, through the CLI (tyro, orbax checkpoints, plots);
4. DQN and PPO through the Python API: a run stopped after one checkpointed chunk and resumed
   equals the straight-through run bitwise (orbax save/restore, shard_map, flax, optax);
5. the traced checks (``validation.checked``: jax.experimental.checkify) name a bad MDP's row;
6. ``training.count_compilations`` (jax.monitoring listeners) counts one compile, not two;
7. every environment suite (``jaxrl.envs.suites.SUITES``; the test set installs them all) is made
   through ``jaxrl.envs.make`` and stepped: 2 environments, 3 steps of random actions in one
   jitted ``vmap``-in-``scan``. A suite whose adapter module or package is missing fails the step,
   and so does a suite in ``SUITES`` without an environment below: none is skipped.

The three ``jaxrl`` commands and step 7 run as subprocesses beside the in-process steps (2
cores; the smoke runs after the test suite, on an otherwise idle machine), and everything
compiles with XLA's cheap code generation (the test suite's ``tests/conftest.py`` flags; a smoke
checks that the lowest versions work, not how fast their code runs): 92 -> ~40 s on the 2-core
CI machine. Resume still equals straight-through bitwise under them. A ``XLA_FLAGS`` you set
yourself is kept.

Usage: ``python .ci/smoke.py`` (prints the versions it ran with, then one line per step);
``python .ci/smoke.py --imports-only`` or ``--suites-only``: step 1 or step 7 alone.
"""

import importlib
import os
import pathlib
import pkgutil
import subprocess
import sys
import tempfile

import numpy as np

# Before JAX is imported (here and in the subprocesses, which inherit it); see the docstring.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false")

__all__ = ("main",)

CORE = ("jax", "jaxlib", "numpy", "chex", "flax", "optax", "orbax-checkpoint", "gymnax", "six",
        "matplotlib", "tyro")

# One cheap environment per suite, made with the adapter's defaults (Brax's default backend).
SUITE_ENVS = {
    "brax": "brax:inverted_pendulum",
    "playground": "playground:CartpoleBalance",
    "jumanji": "jumanji:Snake-v1",
    "xminigrid": "xminigrid:MiniGrid-Empty-5x5",
    "navix": "navix:Navix-Empty-5x5-v0",
}


def _start_cli(*args: str) -> tuple[subprocess.Popen, tuple[str, ...]]:
  """Starts ``python -m jaxrl ARGS`` in the background; :func:`_finish_cli` waits for it."""
  proc = subprocess.Popen([sys.executable, "-m", "jaxrl", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  return proc, args


def _finish_cli(started: tuple[subprocess.Popen, tuple[str, ...]]) -> str:
  """Waits for a started ``jaxrl`` command; raises with its output when it failed."""
  proc, args = started
  stdout, stderr = proc.communicate()
  if proc.returncode != 0:
    raise RuntimeError(f"jaxrl {' '.join(args)} exited {proc.returncode}:\n{stdout}\n{stderr}")
  return stdout


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
  with tempfile.TemporaryDirectory() as tmp_name:
    tmp = pathlib.Path(tmp_name)
    # In the background first: the suites (step 7), --help, solve and train, each a process.
    suites = subprocess.Popen([sys.executable, __file__, "--suites-only"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    helped = _start_cli("--help")
    solved = _start_cli("solve", "gridworld", "--out", str(tmp / "solve"))
    trained = _start_cli(
        "train", "dqn", "--env", "Probe1-v0", "--num-seeds", "2", "--out", str(tmp / "cli"),
        "--total-steps", "400", "--num-envs", "4", "--log-every", "100", "--eval-every", "200",
        "--learning-starts", "50", "--buffer-size", "200", "--batch-size", "16",
        "--hidden-sizes", "8", "--checkpoint-every", "200", "--progress-interval", "0")
    print(f"imported {_import_everything()} jaxrl modules", flush=True)
    from jaxrl.agents import DQNConfig, PPOConfig
    _resume_equals_straight("dqn", DQNConfig(
        total_steps=400, num_envs=4, log_every=100, eval_every=200, learning_starts=50,
        buffer_size=200, batch_size=16, hidden_sizes=(8,), updates_per_step=1.0,
        epsilon_decay_steps=200), tmp)
    _resume_equals_straight("ppo", PPOConfig(
        total_steps=1_024, num_envs=4, num_steps=16, num_epochs=2, num_minibatches=2,
        hidden_sizes=(8,), log_every=256, eval_every=512, eval_episodes=2), tmp)
    print("api: dqn and ppo stopped, resumed, equal to straight-through ok", flush=True)
    if "solve" not in _finish_cli(helped):
      raise RuntimeError("jaxrl --help does not list the solve command")
    _finish_cli(solved)
    if not (tmp / "solve" / "policy.png").is_file():
      raise RuntimeError("jaxrl solve gridworld wrote no policy.png")
    print("cli: --help, solve gridworld ok", flush=True)
    _finish_cli(trained)
    if not (tmp / "cli" / "metrics.csv").is_file():
      raise RuntimeError("jaxrl train dqn wrote no metrics.csv")
    print("cli: train dqn ok", flush=True)
  _traced_check()
  _count_compilations()
  output, _ = suites.communicate()
  print(output, end="", flush=True)
  if suites.returncode != 0:
    raise RuntimeError(f"the suites step exited {suites.returncode} (its output is above)")
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


def _suites(num_envs: int = 2, num_steps: int = 3) -> None:
  """Each suite: ``envs.make``, then random actions stepped in a jitted vmap-in-scan."""
  import importlib.util
  from importlib import metadata
  from jaxrl.envs import suites
  if sorted(SUITE_ENVS) != sorted(suites.SUITES):
    raise RuntimeError(f"SUITE_ENVS names {sorted(SUITE_ENVS)}, jaxrl.envs.suites.SUITES "
                       f"{sorted(suites.SUITES)}: give each suite one cheap environment")
  for prefix, suite in suites.SUITES.items():
    if importlib.util.find_spec(f"jaxrl.envs.suites.{prefix}") is None:
      raise RuntimeError(f"jaxrl/envs/suites/{prefix}.py is missing: suite {prefix!r} has no "
                         "adapter module")
    if importlib.util.find_spec(suite.package) is None:
      raise RuntimeError(f"suite {prefix!r}: package {suite.package!r} is not installed (the "
                         f"test set installs jaxrl[envs])")
    reward = _step_suite(SUITE_ENVS[prefix], num_envs, num_steps)
    print(f"suite {SUITE_ENVS[prefix]} ({suite.extra}=={metadata.version(suite.extra)}): "
          f"{num_envs} envs x {num_steps} steps ok, reward sum {reward:.3g}", flush=True)


def _step_suite(name: str, num_envs: int, num_steps: int) -> float:
  import jax
  import jax.numpy as jnp
  from jaxrl import envs
  env, params = envs.make(name)

  @jax.jit
  def rollout(key):
    reset_key, key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_envs), params)

    def one_step(state, key):
      action_key, step_key = jax.random.split(key)
      action = jax.vmap(env.action_space(params).sample)(jax.random.split(action_key, num_envs))
      obs, state, reward, terminated, truncated, _ = jax.vmap(
          env.step, in_axes=(0, 0, 0, None))(
              jax.random.split(step_key, num_envs), state, action, params)
      return state, (obs, reward, terminated, truncated)

    _, steps = jax.lax.scan(one_step, state, jax.random.split(key, num_steps))
    return obs, steps

  first, (obs, reward, terminated, truncated) = rollout(jax.random.key(0))
  for what, x in (("reset observation", first), ("observation", obs), ("reward", reward)):
    if not bool(jnp.all(jnp.isfinite(jnp.asarray(x, jnp.float32)))):
      raise RuntimeError(f"{name}: non-finite {what}")
  for what, x in (("reward", reward), ("terminated", terminated), ("truncated", truncated)):
    if x.shape != (num_steps, num_envs):
      raise RuntimeError(f"{name}: {what} has shape {x.shape}, not {(num_steps, num_envs)}")
  if obs.shape[:2] != (num_steps, num_envs) or obs.shape[2:] != first.shape[1:]:
    raise RuntimeError(f"{name}: observations of shape {obs.shape} after reset's {first.shape}")
  return float(reward.sum())


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
  if sys.argv[1:] == ["--imports-only"]:
    # `make` runs this when the venv is installed (in the background while the suite runs), so
    # the bytecode of everything the smoke imports is cached before its processes need it.
    print(f"imported {_import_everything()} jaxrl modules", flush=True)
  elif sys.argv[1:] == ["--suites-only"]:
    _suites()
  elif sys.argv[1:]:
    sys.exit(f"usage: {sys.argv[0]} [--imports-only | --suites-only]")
  else:
    main()
