"""Fixed-seed, small-config runs of every agent whose full metrics are pinned bitwise.

``record_fixtures.py`` ran these on the code before the agent layer was rebuilt from shared parts
and stored the metrics (and final network parameters) in ``fixtures/agent_metrics.npz``;
``test_fixtures.py`` runs them again and asserts bitwise equality on the machine that recorded
them. The cases only use config field names, so they describe the same runs before and after.
"""

from __future__ import annotations

import hashlib
import os
import platform

import jax
import numpy as np

from jaxrl import envs
from tests import codegen

# (name, algorithm, env name, env kwargs, config kwargs, seeds)
CASES = (
    ("dqn_probe5_hard_linear_eps", "dqn", "Probe5-v0", dict(discount=0.9), dict(
        total_steps=1_600, num_envs=4, hidden_sizes=(16,), buffer_size=800, batch_size=16,
        learning_starts=100, updates_per_step=1.0, target_update="hard", target_update_period=25,
        epsilon_schedule="linear", epsilon_end=0.2, epsilon_decay_steps=800, learning_rate=3e-3,
        discount=0.9, log_every=400, eval_every=800, eval_episodes=3), 2),
    ("dqn_gridworld_polyak_exp_huber_linear", "dqn", "GridWorld-v0", dict(discount=0.9), dict(
        total_steps=1_200, num_envs=3, network="linear", buffer_size=600, batch_size=8,
        learning_starts=60, updates_per_step=0.5, target_update="polyak", polyak_step=0.05,
        double_dqn=False, loss="huber", epsilon_schedule="exponential", epsilon_decay_steps=300,
        learning_rate=1e-2, discount=0.9, log_every=300, eval_every=600, eval_episodes=2), 2),
    ("dqn_cartpole_constant_eps_noclip", "dqn", "CartPole-v1", {}, dict(
        total_steps=1_000, num_envs=5, hidden_sizes=(16, 16), buffer_size=500, batch_size=20,
        learning_starts=100, updates_per_step=2.0, epsilon_schedule="constant",
        epsilon_start=0.3, max_grad_norm=float("inf"), log_every=250, eval_every=500,
        eval_episodes=2, eval_max_steps=60), 2),
    ("a2c_cartpole_v_gae", "a2c", "CartPole-v1", {}, dict(
        total_steps=2_000, num_envs=4, num_steps=5, hidden_sizes=(16, 16), log_every=500,
        eval_every=1_000, eval_episodes=2, eval_max_steps=80), 2),
    ("a2c_probe6_v_nstep_shared_anneal", "a2c", "Probe6-v0", dict(discount=0.9), dict(
        total_steps=1_200, num_envs=3, num_steps=4, hidden_sizes=(8,), shared_torso=True,
        advantage="n_step", n_step=2, anneal_lr=True, normalize_advantages=False,
        max_grad_norm=float("inf"), discount=0.9, log_every=300, eval_every=600,
        eval_episodes=2), 2),
    ("a2c_gridworld_q_expected_sarsa_dueling", "a2c", "GridWorld-v0", dict(discount=0.9), dict(
        total_steps=1_200, num_envs=3, num_steps=4, hidden_sizes=(16,), critic="q",
        q_target="expected_sarsa", q_dueling=True, actor_lr_scale=0.1, discount=0.9,
        log_every=300, eval_every=600, eval_episodes=2), 2),
    ("a2c_cartpole_q_sarsa_nstep_nobaseline", "a2c", "CartPole-v1", {}, dict(
        total_steps=1_200, num_envs=3, num_steps=4, hidden_sizes=(16,), critic="q",
        q_target="sarsa", advantage="n_step", n_step=3, q_baseline=False, log_every=300,
        eval_every=600, eval_episodes=2, eval_max_steps=50), 2),
    ("a2c_breakout_cnn_actor_scale", "a2c", "Breakout-MinAtar", {}, dict(
        total_steps=480, num_envs=4, num_steps=4, network="cnn", actor_lr_scale=0.5,
        log_every=240, eval_every=480, eval_episodes=2, eval_max_steps=30), 1),
    ("reinforce_cartpole_rtg_value", "reinforce", "CartPole-v1", {}, dict(
        total_steps=4_000, num_envs=2, hidden_sizes=(16,), eval_episodes=2, eval_max_steps=60),
     2),
    ("reinforce_probe3_total_mean_norm", "reinforce", "Probe3-v0", dict(discount=0.9), dict(
        total_steps=960, num_envs=4, episode_limit=10, rollout_length=20, hidden_sizes=(8,),
        returns="total", baseline="mean", normalize_advantages=True, discount=0.9,
        log_every=240, eval_every=480, eval_episodes=2), 2),
    ("reinforce_gridworld_bootstrap", "reinforce", "GridWorld-v0", dict(discount=0.9), dict(
        total_steps=2_400, num_envs=3, hidden_sizes=(16,), truncation="bootstrap",
        entropy_coef=0.01, discount=0.9, log_every=600, eval_every=1_200, eval_episodes=2),
     2),
)

#: The driver (settings x seeds, chunked, checkpoint-free): a second path to the same agents.
RUNNER_CASES = (
    ("runner_dqn_two_settings", "dqn", "Probe4-v0", dict(
        total_steps=800, num_envs=4, hidden_sizes=(16,), buffer_size=400, batch_size=16,
        learning_starts=100, log_every=200, eval_every=400, eval_episodes=2),
     ({"learning_rate": 1e-3}, {"learning_rate": 3e-3, "discount": 0.9}), 2, 400),
)

FQI_CASE = ("fqi_gridworld", "GridWorld-v0", dict(discount=0.9),
            dict(iterations=6, steps_per_iteration=20, batch_size=64, learning_rate=0.05), 400)


#: The CPU features XLA:CPU's code generation can depend on (vector widths, fused multiply-add);
#: the rest of /proc/cpuinfo's flags (virtualisation, mitigations, ...) do not change a result.
ISA_FLAG_PREFIXES = ("sse", "ssse", "avx", "fma", "f16c", "bmi", "amx", "vnni", "vaes", "vpclmul",
                     "gfni", "adx", "popcnt", "lzcnt", "abm", "movbe", "asimd", "sve")


def machine_signature() -> str:
  """What bitwise reproducibility of XLA:CPU results depends on: architecture, the instruction
  set extensions, versions and backend."""
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      lines = f.read().splitlines()
    flags = next((l.split(":", 1)[1].strip() for l in lines
                  if l.startswith(("flags", "Features"))), "")
  except OSError:
    flags = ""
  isa = sorted(f for f in flags.split() if f.startswith(ISA_FLAG_PREFIXES))
  isa_hash = hashlib.sha256(" ".join(isa).encode()).hexdigest()[:12]
  import jaxlib  # pylint: disable=import-outside-toplevel
  return (f"{platform.machine()} | isa {isa_hash} | jax {jax.__version__} | "
          f"jaxlib {jaxlib.__version__} | {jax.default_backend()}")


def run_case(case):
  """Metrics and final parameters of one agent case: ``{name: array}`` (flat, numpy)."""
  from jaxrl.training import algorithms  # pylint: disable=import-outside-toplevel
  name, algorithm, env_name, env_kwargs, config_kwargs, seeds = case
  algo = algorithms.get(algorithm)
  env, env_params = envs.make(env_name, **env_kwargs)
  train = algo.make_train(algo.config_cls(**config_kwargs), env, env_params)
  keys = jax.random.split(jax.random.PRNGKey(sum(map(ord, name))), seeds)
  state, metrics = jax.jit(jax.vmap(train))(keys)
  return _flatten(metrics, state.params)


def run_runner_case(case):
  """Metrics of a :func:`jaxrl.training.run` call (settings x seeds, two chunks)."""
  from jaxrl import training  # pylint: disable=import-outside-toplevel
  from jaxrl.training import algorithms  # pylint: disable=import-outside-toplevel
  name, algorithm, env_name, config_kwargs, settings, seeds, checkpoint_every = case
  spec = training.RunSpec(algorithm, algorithms.get(algorithm).config_cls(**config_kwargs),
                          env=env_name, num_seeds=seeds, seed=sum(map(ord, name)),
                          settings=settings, checkpoint_every=checkpoint_every)
  result = training.run(spec, None, progress=False, log=None, num_devices=1)
  return _flatten(result.metrics, result.final_state.params)


def run_fqi_case(case=FQI_CASE):
  from jaxrl.agents import fqi  # pylint: disable=import-outside-toplevel
  name, env_name, env_kwargs, config_kwargs, num_steps = case
  env, env_params = envs.make(env_name, **env_kwargs)
  key = jax.random.PRNGKey(sum(map(ord, name)))
  k_data, k_fit = jax.random.split(key)
  data = fqi.collect_random_transitions(k_data, env, env_params, num_steps=num_steps, num_envs=4,
                                        discount=0.9)
  params, metrics = jax.jit(fqi.make_fqi(fqi.FQIConfig(**config_kwargs), env, env_params))(
      k_fit, data)
  return _flatten(metrics, params)


def digest(x) -> str:
  """sha256 of an array's dtype, shape and bytes (equal digests: bitwise equal arrays)."""
  x = np.ascontiguousarray(np.asarray(x))
  return hashlib.sha256(f"{x.dtype}{x.shape}".encode() + x.tobytes()).hexdigest()[:24]


def _flatten(metrics, params) -> tuple[dict[str, np.ndarray], dict[str, str]]:
  """``({metric: array}, {parameter path: digest})`` (numpy; parameters by digest, small)."""
  arrays = {k: np.asarray(v) for k, v in metrics.items()}
  digests = {jax.tree_util.keystr(path): digest(leaf)
             for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]}
  return arrays, digests


#: The two recordings: ``"default"`` (XLA's default code generation, the code users run; the
#: original recording, ``agent_metrics.npz``) and ``"fast"`` (the test session's cheap code
#: generation, ``tests/conftest.py``; ``agent_metrics_fast.npz``, recorded from the same code once
#: the default recording was reproduced bitwise on it).
CODEGENS = ("default", "fast")


def session_codegen() -> str:
  """The code generation this process compiles with: ``"fast"`` when ``XLA_FLAGS`` holds the
  test session's cheap flags (``tests/conftest.py``), else ``"default"``."""
  from tests import conftest  # pylint: disable=import-outside-toplevel
  return "fast" if conftest.FAST_COMPILE in os.environ.get("XLA_FLAGS", "") else "default"


def all_runs(codegen_name: str = "default"):
  """``{case name: run function}`` for every pinned case. ``"default"``: each compiled with XLA's
  default code generation (``tests/codegen.py``, whatever the session's flags); ``"fast"``: with
  the session's flags, which must be the cheap ones (the last bits of the numbers depend on it)."""
  if codegen_name not in CODEGENS:
    raise ValueError(f"codegen_name must be one of {CODEGENS}, got {codegen_name!r}")
  if codegen_name == "fast" and session_codegen() != "fast":
    raise RuntimeError("the 'fast' recording needs the test session's cheap XLA_FLAGS "
                       "(tests/conftest.FAST_COMPILE), set before JAX compiles anything")
  runs = {c[0]: (lambda c=c: run_case(c)) for c in CASES}
  runs.update({c[0]: (lambda c=c: run_runner_case(c)) for c in RUNNER_CASES})
  runs[FQI_CASE[0]] = run_fqi_case
  if codegen_name == "fast":
    return runs
  return {name: _with_default_codegen(fn) for name, fn in runs.items()}


def _with_default_codegen(fn):
  def run():
    with codegen.default():
      return fn()
  return run
