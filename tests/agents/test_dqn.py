"""DQN: bad configs refused before compiling, probes learned, schedules, seeds, sweeps, NaNs."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.agents import dqn

# A small, fast configuration for probe environments (answers known exactly).
PROBE = dqn.DQNConfig(
    total_steps=4_000, num_envs=4, network="mlp", hidden_sizes=(32,), buffer_size=2_000,
    batch_size=32, learning_starts=200, updates_per_step=1.0, target_update="hard",
    target_update_period=50, double_dqn=True, epsilon_schedule="linear", epsilon_start=1.0,
    epsilon_end=0.2, epsilon_decay_steps=2_000, learning_rate=3e-3, discount=0.9,
    log_every=400, eval_every=800, eval_episodes=4)


@functools.cache
def _probe_run(n, config=PROBE, seeds=2):
  """``(state, metrics)`` of ``seeds`` vmapped runs (keys ``split(PRNGKey(n), seeds)``); one
  compiled program and run per (probe, config, seeds), shared by the tests that read it."""
  env, params = envs.probe(n, discount=config.discount)
  train = jax.jit(jax.vmap(dqn.make_train(config, env, params)))
  return train(jax.random.split(jax.random.PRNGKey(n), seeds))


@pytest.mark.parametrize("n", [3, 5, 6])
def test_probe_environments_are_learned(n):
  # 3: two steps, reward at the end (tests the discount); 5: action x observation reward;
  # 6: a chain whose best first action depends on the discount. Q* comes from q_iteration.
  _, metrics = _probe_run(n)
  q_error = np.asarray(metrics["q_error"][:, -1])
  match = np.asarray(metrics["policy_match"][:, -1])
  assert np.all(q_error < 0.15), q_error
  assert np.all(match == 1.0), match
  assert np.all(np.asarray(metrics["loss_finite"]))


def test_vmapped_seed_equals_the_same_key_alone():
  # the batched run is test_probe_environments_are_learned's on probe 5
  env, params = envs.probe(5, discount=0.9)
  train = dqn.make_train(PROBE, env, params)
  keys = jax.random.split(jax.random.PRNGKey(5), 2)
  _, batched = _probe_run(5)
  _, alone = jax.jit(train)(keys[1])
  for name, value in alone.items():
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), rtol=1e-5,
                               atol=1e-6, err_msg=name)
  # and different keys give different runs
  assert not np.allclose(np.asarray(batched["q_mean"][0]), np.asarray(batched["q_mean"][1]))


def test_intervals_fire_on_schedule_with_several_envs():
  env, params = envs.probe(4, discount=0.9)
  config = dataclasses.replace(PROBE, num_envs=8, total_steps=800, log_every=80, eval_every=240,
                               learning_starts=0, target_update_period=7)
  train = jax.jit(dqn.make_train(config, env, params))
  state, metrics = train(jax.random.PRNGKey(0))
  env_steps = np.asarray(metrics["env_steps"])
  np.testing.assert_array_equal(env_steps, np.arange(1, 11) * 80)
  evaluated = ~np.isnan(np.asarray(metrics["eval_return"]))
  np.testing.assert_array_equal(evaluated, [(i + 1) % 3 == 0 for i in range(10)])
  # one update per iteration (8 env steps) from the 4th iteration, when 32 transitions are in
  updates = np.asarray(metrics["updates"])
  np.testing.assert_array_equal(updates, 10 * np.arange(1, 11) - 3)
  # hard target sync every 7 updates: 97 updates, so the target is 6 updates old
  assert int(state.updates) == 97
  differs = jax.tree.leaves(jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params,
                                         state.target_params))
  assert all(differs)


def test_target_equals_online_right_after_a_sync():
  env, params = envs.probe(4, discount=0.9)
  # 400 iterations of 1 update with learning from the first step: 400 updates; period 8 divides.
  config = dataclasses.replace(PROBE, num_envs=1, total_steps=400, log_every=400, eval_every=400,
                               learning_starts=0, batch_size=1, target_update_period=8)
  state, _ = jax.jit(dqn.make_train(config, env, params))(jax.random.PRNGKey(1))
  assert int(state.updates) == 400
  chex.assert_trees_all_equal(state.params, state.target_params)


@pytest.fixture(scope="module")
def lr_sweep():
  # one key, three learning rates in one vmapped call; the third (1e38, gradients unclipped)
  # makes the loss NaN (test_nan_loss_is_reported)
  env, params = envs.probe(4, discount=0.9)
  config = dataclasses.replace(PROBE, total_steps=800, log_every=400, eval_every=400,
                               max_grad_norm=float("inf"))
  train = dqn.make_train(config, env, params)
  hp = config.hyperparams()
  lrs = jnp.array([1e-3, 1e-2, 1e38])
  sweep = jax.tree.map(lambda x: jnp.stack([x, x, x]), hp)._replace(learning_rate=lrs)
  key = jax.random.PRNGKey(3)
  _, swept = jax.jit(jax.vmap(train, in_axes=(None, 0)))(key, sweep)
  _, single = jax.jit(train)(key, hp._replace(learning_rate=lrs[1]))
  return swept, single


def test_hyperparameter_sweep_is_a_vmap_and_matches_single_runs(lr_sweep):
  swept, single = lr_sweep
  np.testing.assert_allclose(np.asarray(swept["loss"][1]), np.asarray(single["loss"]), rtol=1e-5)
  assert not np.allclose(np.asarray(swept["loss"][0]), np.asarray(swept["loss"][1]))


def test_second_call_does_not_recompile():
  env, params = envs.probe(1, discount=0.9)
  config = dataclasses.replace(PROBE, total_steps=400, log_every=400, eval_every=400)
  trainer = dqn.make_train(config, env, params)
  # traced once: a second call with a new key reuses the compiled program (else AssertionError)
  train = jax.jit(chex.assert_max_traces(lambda key: trainer(key), n=1))
  jax.block_until_ready(train(jax.random.PRNGKey(0)))
  jax.block_until_ready(train(jax.random.PRNGKey(1)))


def test_nan_loss_is_reported(lr_sweep):
  # learning rate 1e38 without gradient clipping (the sweep's third entry)
  swept, _ = lr_sweep
  assert not bool(swept["loss_finite"][2, -1])
  assert bool(swept["loss_finite"][1, -1])


@pytest.mark.parametrize("changes, message", [
    (dict(batch_size=5_000), "batch_size 5000 is larger than buffer_size"),
    (dict(learning_rate=-1e-3), "learning_rate must be positive"),
    (dict(epsilon_start=1.5), "epsilon_start must lie in"),
    (dict(epsilon_end=-0.1), "epsilon_end must lie in"),
    (dict(target_update_period=0), "target_update_period must be at least 1"),
    (dict(discount=1.2), "discount must lie in"),
    (dict(log_every=401), "must be a positive multiple of num_envs"),
    (dict(eval_every=600), "must be a positive multiple of log_every"),
    (dict(target_update="sometimes"), "target_update must be one of"),
    (dict(loss="l1"), "loss must be one of"),
    (dict(updates_per_step=0.3), "updates_per_step below 1 must be 1/k"),
    (dict(num_envs=0), "num_envs must be at least 1"),
])
def test_nonsense_configs_are_refused_before_compiling(changes, message):
  env, params = envs.probe(4)
  with pytest.raises(ValueError, match=message):
    dqn.make_train(dataclasses.replace(PROBE, **changes), env, params)


def test_network_that_cannot_take_the_observation_is_refused():
  env, params = envs.make("CartPole-v1")
  with pytest.raises(ValueError, match="cnn"):
    dqn.make_train(dataclasses.replace(PROBE, network="cnn"), env, params)


def test_unknown_environment_is_refused():
  with pytest.raises(ValueError, match="CartPole-v1"):
    envs.make("CartPole-v7")


def test_bad_swept_hyperparameters_are_refused():
  env, params = envs.probe(4)
  train = dqn.make_train(PROBE, env, params)
  hp = PROBE.hyperparams()._replace(learning_rate=jnp.array([1e-3, -1.0]))
  with pytest.raises(ValueError, match="learning_rate must be positive"):
    train(jax.random.PRNGKey(0), hp)


def test_gridworld_greedy_policy_equals_value_iteration():
  # The textbook grid world as an environment (discount 0.9, the agent's discount matched):
  # a linear Q-network on one-hot states is tabular, so DQN can reach Q* exactly.
  env, params = envs.make("GridWorld-v0", discount=0.9)
  config = dqn.DQNConfig(
      total_steps=40_000, num_envs=10, network="linear", buffer_size=100_000, batch_size=256,
      learning_starts=500, updates_per_step=2.0, target_update="hard", target_update_period=100,
      double_dqn=False, loss="mse", epsilon_schedule="constant", epsilon_start=0.5,
      learning_rate=5e-4, discount=0.9, log_every=10_000, eval_every=10_000, eval_episodes=10)
  train = jax.jit(jax.vmap(dqn.make_train(config, env, params)))
  _, metrics = train(jax.random.split(jax.random.PRNGKey(0), 3))
  # policy_match: fraction of non-exit cells whose greedy action is optimal under q_iteration.
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["q_error"][:, -1]) < 0.06)  # 64 seeds: max 0.041
  assert np.all(np.asarray(metrics["policy_match"][:, 0]) < 1.0)  # it had to learn it


def test_q_abs_max_bounds_the_learned_values():
  # Probe 4: rewards +-1 and one step, so |Q*| <= 1; a learned run stays close to that bound.
  _, metrics = _probe_run(4, seeds=1)
  q_abs = np.asarray(metrics["q_abs_max"][0])
  assert np.isnan(q_abs[0]) or q_abs[0] >= 0
  assert 0.8 < q_abs[-1] < 1.3
