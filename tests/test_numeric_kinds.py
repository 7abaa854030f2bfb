"""Every count, size and tolerance jaxrl takes: numpy/jax scalars by value, wrong kinds refused.

One table of entry points (library factories, builders, wrappers, rollouts, configs, the run
spec, sweeps). Each takes ``np.int64(3)`` and a 0-d ``jnp`` array as the int 3, and refuses
``2.5``, ``-3.0``, ``True``, ``"3"`` and out-of-range values with a ValueError naming the
argument, before anything is traced.
"""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import buffers, envs, returns, rollouts
from jaxrl.agents import A2CConfig, DQNConfig, FQIConfig, PPOConfig, PQNConfig, ReinforceConfig
from jaxrl.envs import probes, tabular, wrappers
from jaxrl.mdp import bellman, builders, solvers
from jaxrl.training import devices, runner, sweeps

_KEY = jax.random.PRNGKey(0)
_ENV, _ENV_PARAMS = envs.make("Probe1-v0")
_Z = jnp.zeros(4)
_DQN = DQNConfig(total_steps=2_500, log_every=2_500, eval_every=2_500, learning_starts=100)


def _spec(**kw):
  return runner.check(runner.RunSpec("dqn", _DQN, env="Probe1-v0", **kw))


# (id, name the message must hold, f(value), the smallest valid value)
COUNTS = [
    ("replay capacity", "capacity", lambda v: buffers.make_replay_buffer(v, 1), 1),
    ("replay batch_size", "batch_size", lambda v: buffers.make_replay_buffer(10, v), 1),
    ("replay min_size", "min_size", lambda v: buffers.make_replay_buffer(10, 1, v), 0),
    ("chain num_cells", "num_cells", builders.chain, 3),
    ("gridworld_layout rows", "rows", lambda v: builders.gridworld_layout(v, 3), 1),
    ("gridworld_layout cols", "cols", lambda v: builders.gridworld_layout(3, v), 1),
    ("random_mdp num_states", "num_states", lambda v: builders.random_mdp(_KEY, v, 2), 1),
    ("random_mdp num_actions", "num_actions", lambda v: builders.random_mdp(_KEY, 3, v), 1),
    ("random_mdp num_successors", "num_successors",
     lambda v: builders.random_mdp(_KEY, 3, 2, num_successors=v), 1),
    ("chain_env max_steps", "max_steps_in_episode",
     lambda v: tabular.chain_env(5, max_steps_in_episode=v), 1),
    ("chain_env start", "start", lambda v: tabular.chain_env(5, start=v), 1),
    ("TimeLimit", "max_steps", lambda v: wrappers.TimeLimit(_ENV, v), 1),
    ("FrameStack", "num_frames", lambda v: wrappers.FrameStack(_ENV, v), 1),
    ("probe number", "probe number", probes.probe, 1),
    ("continuous_probe", "num_contexts", probes.continuous_probe, 1),
    ("make_env_step", "num_envs", lambda v: rollouts.make_env_step(_ENV, _ENV_PARAMS, v), 1),
    ("rollouts.reset", "num_envs", lambda v: rollouts.reset(_ENV, _ENV_PARAMS, _KEY, v), 1),
    ("make_rollout", "length", lambda v: rollouts.make_rollout(None, None, v), 1),
    ("greedy evaluation episodes", "num_episodes",
     lambda v: rollouts.make_greedy_evaluation(_ENV, _ENV_PARAMS, None, v, max_steps=5), 1),
    ("greedy evaluation max_steps", "max_steps",
     lambda v: rollouts.make_greedy_evaluation(_ENV, _ENV_PARAMS, None, 2, max_steps=v), 1),
    ("n_step_returns", "n", lambda v: returns.n_step_returns(_Z, _Z, _Z, _Z, v), 1),
    ("policy_probabilities", "num_actions",
     lambda v: bellman.policy_probabilities(jnp.zeros(3, jnp.int32), v), 1),
    ("value_iteration max_iterations", "max_iterations",
     lambda v: solvers.value_iteration(builders.chain(), max_iterations=v), 1),
    ("make_mesh num_runs", "num_runs", devices.make_mesh, 1),
    ("random_search num", "random search num",
     lambda v: sweeps.random_search({"learning_rate": sweeps.Range(1e-4, 1e-3)}, v), 1),
    ("random_search seed", "seed",
     lambda v: sweeps.random_search({"learning_rate": sweeps.Range(1e-4, 1e-3)}, 1, v), 0),
    ("RunSpec num_seeds", "num_seeds", lambda v: _spec(num_seeds=v), 1),
    ("RunSpec seed", "seed", lambda v: _spec(seed=v), 0),
    ("DQNConfig total_steps", "DQNConfig.total_steps",
     lambda v: DQNConfig(total_steps=v).check(), 1),
    ("DQNConfig target_update_period", "DQNConfig.target_update_period",
     lambda v: DQNConfig(target_update_period=v).check(), 1),
    ("DQNConfig eval_max_steps", "DQNConfig.eval_max_steps",
     lambda v: DQNConfig(eval_max_steps=v).check(), 1),
    ("PPOConfig num_epochs", "PPOConfig.num_epochs", lambda v: PPOConfig(num_epochs=v).check(), 1),
    ("PQNConfig num_minibatches", "PQNConfig.num_minibatches",
     lambda v: PQNConfig(num_minibatches=v).check(), 1),
    ("A2CConfig num_steps", "A2CConfig.num_steps", lambda v: A2CConfig(num_steps=v).check(), 1),
    ("ReinforceConfig num_envs", "ReinforceConfig.num_envs",
     lambda v: ReinforceConfig(num_envs=v).check(), 1),
    ("FQIConfig iterations", "FQIConfig.iterations", lambda v: FQIConfig(iterations=v).check(), 1),
]

_IDS = [c[0] for c in COUNTS]


@pytest.mark.parametrize("entry", COUNTS, ids=_IDS)
@pytest.mark.parametrize("bad", [2.5, -3.0, 3.0, True, "3"], ids=repr)
def test_a_count_of_the_wrong_kind_is_refused_naming_it(entry, bad):
  _, name, fn, _ = entry
  with pytest.raises(ValueError, match=name):
    fn(bad)


@pytest.mark.parametrize("entry", COUNTS, ids=_IDS)
def test_a_count_below_its_range_is_refused_naming_it(entry):
  _, name, fn, minimum = entry
  with pytest.raises(ValueError, match=name):
    fn(np.int64(minimum - 1))


@pytest.mark.parametrize("entry", COUNTS, ids=_IDS)
@pytest.mark.parametrize("kind", [np.int64, jnp.int32], ids=["np.int64", "jnp.int32"])
def test_a_count_from_numpy_or_jax_is_taken_by_value(entry, kind):
  _, _, fn, minimum = entry
  fn(kind(max(minimum, 3)))


TOLERANCES = [
    ("value_iteration tol", "tol", lambda v: solvers.value_iteration(builders.chain(), tol=v)),
    ("compare_q_values atol", "atol",
     lambda v: tabular.compare_q_values(tabular.chain_env()[1], jnp.zeros((5, 2)), atol=v)),
    ("TabularMDP atol", "atol", lambda v: builders.chain().__class__(
        jnp.full((1, 1, 1), 1.0), jnp.zeros((1, 1)), 0.9, atol=v)),
    ("random_mdp reward_scale", "reward_scale",
     lambda v: builders.random_mdp(_KEY, 3, 2, reward_scale=v)),
]


@pytest.mark.parametrize("entry", TOLERANCES, ids=[t[0] for t in TOLERANCES])
@pytest.mark.parametrize("bad", [-1.0, np.float32(-1), True, "1e-3", float("nan")], ids=repr)
def test_a_tolerance_of_the_wrong_kind_is_refused_naming_it(entry, bad):
  _, name, fn = entry
  with pytest.raises(ValueError, match=name):
    fn(bad)


@pytest.mark.parametrize("entry", TOLERANCES, ids=[t[0] for t in TOLERANCES])
@pytest.mark.parametrize("kind", [np.float32, jnp.float32], ids=["np.float32", "jnp.float32"])
def test_a_tolerance_from_numpy_or_jax_is_taken_by_value(entry, kind):
  entry[2](kind(1e-3))


def test_run_spec_checkpoint_every_and_num_devices_refuse_wrong_kinds():
  for bad in (2.5, True, "5000", np.int64(0)):
    with pytest.raises(ValueError, match="checkpoint_every"):
      _spec(checkpoint_every=bad)
  for bad in (1.5, True, "1"):
    with pytest.raises(ValueError, match="num_devices"):
      runner.check(runner.RunSpec("dqn", _DQN, env="Probe1-v0"), bad)


def test_configs_and_specs_store_numpy_and_jax_numbers_as_python_numbers():
  """``np.int64(2500)`` and ``2500`` are one setting: same stored type, same JSON, same hash."""
  config = dataclasses.replace(_DQN, total_steps=np.int64(2_500), learning_rate=jnp.float32(1e-3),
                               hidden_sizes=(np.int64(64), 64), double_dqn=np.bool_(True))
  assert type(config.total_steps) is int and type(config.learning_rate) is float
  assert type(config.hidden_sizes[0]) is int and type(config.double_dqn) is bool
  spec = runner.RunSpec("dqn", config, env="Probe1-v0", num_seeds=np.int64(2), seed=jnp.int32(3))
  assert type(spec.num_seeds) is int and type(spec.seed) is int
  json.dumps(spec.to_dict())  # a numpy or jax leaf would not serialise
  plain = runner.RunSpec("dqn", dataclasses.replace(
      _DQN, learning_rate=float(np.float32(1e-3)), double_dqn=True), env="Probe1-v0",
      num_seeds=2, seed=3)
  assert spec.fingerprint() == plain.fingerprint()
