"""Memory (issue 22): recurrent networks with an explicit carry reset at episode starts, the
recurrent rollout and its replay, recurrent PPO on tasks a memoryless policy cannot solve."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs, networks, rollouts, training
from jaxrl.agents import actors, ppo

from tests.agents import driver_checks


@pytest.mark.parametrize("cell", networks.RECURRENT_CELLS)
def test_unroll_equals_step_by_step_and_a_start_forgets_the_past(cell):
  net = networks.make_recurrent_network(cell, 2, (3,), memory_size=8, hidden_sizes=(8,))
  carry0 = jax.tree.map(lambda c: c + 0.5, net.initial_carry((4,)))    # not the initial carry
  params = net.init(jax.random.PRNGKey(0), carry0, jnp.zeros((4, 3)), jnp.zeros(4, bool))
  obs = jax.random.normal(jax.random.PRNGKey(1), (6, 4, 3))
  start = jnp.zeros((6, 4), bool).at[3, 1].set(True).at[0, 2].set(True)
  carry, (logits, value) = jax.jit(functools.partial(networks.unroll, net))(params, carry0, obs,
                                                                           start)
  c = carry0
  for t in range(6):
    c, (lt, vt) = net.apply(params, c, obs[t], start[t])
    np.testing.assert_allclose(np.asarray(logits[t]), np.asarray(lt), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(value[t]), np.asarray(vt), rtol=1e-5, atol=1e-6)
  for a, b in zip(jax.tree.leaves(carry), jax.tree.leaves(c)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
  # environment 1 restarts at t = 3: from there on it sees only obs[3:], as a fresh sequence
  _, (fresh, _) = networks.unroll(net, params, net.initial_carry((1,)), obs[3:, 1:2],
                                  jnp.zeros((3, 1), bool))
  np.testing.assert_allclose(np.asarray(logits[3:, 1]), np.asarray(fresh[:, 0]), rtol=1e-5,
                             atol=1e-6)
  assert not np.allclose(np.asarray(logits[3:, 0]), np.asarray(fresh[:, 0]))


def test_recurrent_rollout_resets_after_every_end_and_its_replay_gives_ratio_one():
  # CartPole with a 9-step time limit: truncations and terminations inside the rollout
  env, env_params = envs.make("CartPole-v1")
  env = envs.TimeLimit(env, 9)
  config = ppo.PPOConfig(network="gru", hidden_sizes=(16,), memory_size=16, num_envs=4,
                         num_steps=32)
  parts = actors.make_on_policy_parts("PPOConfig", config, env, env_params, length=32,
                                      record=True)
  actor = parts.actor
  obs, env_state = rollouts.reset(parts.env, env_params, jax.random.PRNGKey(0), 4)
  params = actor.network.init(jax.random.PRNGKey(1), actor.network.initial_carry(), obs[0],
                              jnp.bool_(True))
  memory = actor.initial_memory(4)
  (_, _, _, memory_after), traj = jax.jit(parts.rollout)(jax.random.PRNGKey(2), params,
                                                         env_state, obs, memory)
  start = np.asarray(traj.extras_t.start_t)
  end = np.asarray(traj.end_t)
  assert end.sum() >= 8 and np.asarray(traj.truncated_t).any()
  np.testing.assert_array_equal(start[0], True)             # the first observations
  np.testing.assert_array_equal(start[1:], end[:-1])        # and every step after an end
  np.testing.assert_array_equal(np.asarray(memory_after.start), end[-1])
  # replaying the whole sequences from the starting memory gives every stored log-prob
  _, (pi, value) = networks.unroll(actor.network, params, memory.carry, traj.obs_t,
                                   traj.extras_t.start_t)
  log_prob, stored_value = traj.extras_t.extras
  np.testing.assert_allclose(np.asarray(actor.dist.log_prob(pi, traj.a_t)),
                             np.asarray(log_prob), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(value), np.asarray(stored_value), rtol=1e-5, atol=1e-6)


@functools.cache
def _probe_runs(network: str, seeds: int = 2):
  env, env_params = envs.make("MemoryProbe-v0")
  config = ppo.PPOConfig(network=network, hidden_sizes=(16,), memory_size=16, num_envs=8,
                         num_steps=16, num_minibatches=2, total_steps=8 * 16 * 60,
                         log_every=8 * 16 * 20, eval_every=8 * 16 * 20, eval_episodes=16,
                         learning_rate=3e-3, entropy_coef=0.0)
  train = ppo.make_train(config, env, env_params)
  keys = jax.random.split(jax.random.PRNGKey(7), seeds)
  state, metrics = jax.jit(jax.vmap(train))(keys)
  return train, keys, state, metrics


def test_recurrent_ppo_solves_the_memory_probe_and_feed_forward_ppo_stays_at_chance():
  _, _, _, rnn = _probe_runs("gru")
  _, _, _, mlp = _probe_runs("mlp")
  # optimum +1 (the query answered with the cue), chance 0
  np.testing.assert_array_equal(np.asarray(rnn["eval_return"][:, -1]), 1.0)
  assert np.all(np.abs(np.asarray(mlp["eval_return"][:, -1])) <= 0.5)
  assert np.all(np.asarray(rnn["episode_return"][:, -1]) > 0.8)


def test_a_recurrent_seed_in_a_vmapped_batch_equals_its_run_alone():
  # the experience is the same (episodes, their returns, the evaluations); the losses agree
  # to the rounding of batched against unbatched GRU matrix products, which training compounds
  train, keys, _, batched = _probe_runs("gru")
  _, alone = jax.jit(train)(keys[1])
  experience = {"env_steps", "episodes", "episode_length", "episode_return", "eval_return",
                "loss_finite"}
  for name, value in alone.items():
    tol = dict(rtol=1e-6) if name in experience else dict(rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), err_msg=name,
                               **tol)
  assert not np.array_equal(np.asarray(batched["loss"][0]), np.asarray(batched["loss"][1]))


@pytest.mark.parametrize("changes, message", [
    (dict(network="gru", num_envs=4, num_minibatches=8, num_steps=128),
     r"minibatches take whole environments' sequences, so num_minibatches \(8\) must divide "
     r"num_envs \(4\)"),
    (dict(network="lstm", normalize_observations=True),
     r"normalize_observations is not available with a recurrent network"),
    (dict(network="rnn"), r"PPOConfig.network must be one of"),
])
def test_bad_recurrent_configs_are_refused_before_compiling(changes, message):
  env, env_params = envs.make("CartPole-v1")
  with pytest.raises(ValueError, match=message):
    ppo.make_train(dataclasses.replace(ppo.PPOConfig(), **changes), env, env_params)


def test_driver_checkpoints_the_carry_and_resumes_bitwise(tmp_path):
  config = ppo.PPOConfig(network="lstm", hidden_sizes=(8,), memory_size=8, num_envs=4,
                         num_steps=8, num_minibatches=2, num_epochs=1, total_steps=4 * 8 * 8,
                         log_every=4 * 8 * 2, eval_every=4 * 8 * 4, eval_episodes=2)
  spec = training.RunSpec("ppo", config, env="MemoryProbe-v0", num_seeds=2, seed=3,
                          settings=({"learning_rate": 1e-3}, {"learning_rate": 3e-3}),
                          checkpoint_every=4 * 8 * 4)
  straight = driver_checks.assert_resumes_bitwise(spec, tmp_path)
  memory = straight.final_state.memory
  assert isinstance(memory.carry, tuple) and memory.carry[0].shape[-2:] == (4, 8)


def test_recurrent_pqn_solves_the_memory_probe():
  from jaxrl.agents import pqn  # pylint: disable=import-outside-toplevel
  env, env_params = envs.make("MemoryProbe-v0")
  config = pqn.PQNConfig(network="gru", hidden_sizes=(16,), memory_size=16, num_envs=8,
                         num_steps=16, num_minibatches=2, total_steps=8 * 16 * 60,
                         log_every=8 * 16 * 20, eval_every=8 * 16 * 20, eval_episodes=16,
                         epsilon_decay_steps=4_000, reward_scale=1.0)
  _, metrics = jax.jit(jax.vmap(pqn.make_train(config, env, env_params)))(
      jax.random.split(jax.random.PRNGKey(3), 2))
  np.testing.assert_array_equal(np.asarray(metrics["eval_return"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))
  with pytest.raises(ValueError, match=r"PQNConfig: with network='lstm' minibatches take whole"):
    pqn.make_train(dataclasses.replace(config, network="lstm", num_minibatches=16), env,
                   env_params)


def test_the_gru_cell_computes_flax_gru_cells_equations():
  import flax.linen as nn  # pylint: disable=import-outside-toplevel
  ref = nn.GRUCell(features=5)
  x, h = jax.random.normal(jax.random.PRNGKey(0), (3, 4)), jax.random.normal(
      jax.random.PRNGKey(1), (3, 5))
  p = ref.init(jax.random.PRNGKey(2), h, x)["params"]
  cat = lambda *names, leaf="kernel": jnp.concatenate([p[n][leaf] for n in names], axis=-1)  # noqa
  ours = {"params": {"input": {"kernel": cat("ir", "iz", "in"),
                               "bias": cat("ir", "iz", "in", leaf="bias")},
                     "recurrent_kernel": cat("hr", "hz", "hn"), "recurrent_bias": p["hn"]["bias"]}}
  cell = networks.GRUCell(features=5)
  got = cell.apply(ours, h, cell.apply(ours, x, method="project"), method="recur")
  want, _ = ref.apply({"params": p}, h, x)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
  shapes = jax.tree.map(jnp.shape, cell.init(jax.random.PRNGKey(0), x, method="project"))
  assert shapes["params"]["input"]["kernel"] == (4, 15)


def test_the_command_line_takes_the_recurrent_networks(monkeypatch):
  from jaxrl import cli  # pylint: disable=import-outside-toplevel
  parsed = []
  monkeypatch.setattr(cli, "_dispatch", lambda command: parsed.append(command) or 0)
  assert cli.main(["train", "ppo", "--network", "gru", "--memory-size", "32", "--env",
                   "MaskedCartPole-v1"]) == 0
  assert cli.main(["sweep", "pqn", "--network", "lstm", "--env", "MemoryProbe-v0",
                   "--grid", "learning_rate=1e-3,3e-4"]) == 0
  assert (parsed[0].config.network, parsed[0].config.memory_size, parsed[0].env) == (
      "gru", 32, "MaskedCartPole-v1")
  assert (parsed[1].config.network, parsed[1].env) == ("lstm", "MemoryProbe-v0")
  from jaxrl.agents import a2c  # pylint: disable=import-outside-toplevel
  with pytest.raises(ValueError, match=r"A2CConfig.network must be one of"):
    a2c.A2CConfig(network="gru").check()   # the memory is PPO's and PQN's
