"""A2C: bad configs refused before compiling, probes learned, seeds, sweeps, NaNs, truncation."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl import networks
from jaxrl.mdp import TabularMDP
from jaxrl.agents import a2c

PROBE = a2c.A2CConfig(
    total_steps=3_200, num_envs=4, num_steps=4, hidden_sizes=(32,), learning_rate=1e-2,
    discount=0.9, gae_lambda=0.9, entropy_coef=0.0, normalize_advantages=False, max_grad_norm=1.0,
    log_every=800, eval_every=1_600, eval_episodes=4)


@functools.cache
def _probe_run(n, config=PROBE, seeds=2):
  """``(state, metrics)`` of ``seeds`` vmapped runs (keys ``split(PRNGKey(n), seeds)``); one
  compiled program and run per (probe, config, seeds), shared by the tests that read it."""
  env, params = envs.probe(n, discount=config.discount)
  train = jax.jit(jax.vmap(a2c.make_train(config, env, params)))
  return train(jax.random.split(jax.random.PRNGKey(n), seeds))


@functools.cache
def _single(n, config):
  """``(trainer, jax.jit(trainer))`` on probe ``n``: one compiled single run per (probe, config),
  called with explicit hyperparameters by the tests that share it."""
  env, params = envs.probe(n, discount=config.discount)
  trainer = a2c.make_train(config, env, params)
  return trainer, jax.jit(trainer)


@pytest.mark.parametrize("n", [5, 6])
def test_probe_policies_are_learned(n):
  # 4: the better action; 5: the action that matches the observation; 6: the discount-dependent
  # best first action (left, worth 2 g = 1.8, over right, worth 1).
  _, metrics = _probe_run(n)
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))
  assert np.all(np.asarray(metrics["eval_return"][:, -1]) > 0.99 * (2.0 if n == 6 else 1.0))


@pytest.mark.parametrize("advantage", ["gae", "n_step"])
def test_probe3_critic_learns_the_discounted_values(advantage):
  # s0 -> s1 (reward 0) -> terminal (reward 1): V(s0) = g, V(s1) = 1; the termination must zero
  # the bootstrap (else V(s1) would grow past 1).
  config = dataclasses.replace(PROBE, advantage=advantage, n_step=2)
  env, params = envs.probe(3, discount=config.discount)
  train = a2c.make_train(config, env, params)
  state, _ = jax.jit(train)(jax.random.PRNGKey(0))
  _, v = train.network.apply(state.params, jnp.eye(3)[:2])
  np.testing.assert_allclose(np.asarray(v), [0.9, 1.0], atol=0.05)


def _truncated_chain(discount):
  """s0 -> s1 (reward 0) -> terminal (reward 1); start in s0 or s1; time limit ONE step.

  From s1 the episode terminates (V(s1) = 1). From s0 it is truncated on reaching s1, so the
  right value is V(s0) = g * V(s1) = g; zeroing the bootstrap on truncation would teach 0.
  """
  p = np.zeros((3, 1, 3), np.float32)
  p[0, 0, 1] = p[1, 0, 2] = p[2, 0, 2] = 1.0
  r = np.array([[0.0], [1.0], [0.0]], np.float32)
  mdp = TabularMDP(p, r, np.float32(discount))
  return envs.from_mdp(mdp, initial_distribution=[0.5, 0.5, 0.0], max_steps_in_episode=1)


def test_truncation_bootstraps_from_the_final_observation():
  env, params = _truncated_chain(PROBE.discount)
  train = a2c.make_train(PROBE, env, params)
  state, metrics = jax.jit(train)(jax.random.PRNGKey(0))
  _, v = train.network.apply(state.params, jnp.eye(3)[:2])
  np.testing.assert_allclose(float(v[1]), 1.0, atol=0.1)
  np.testing.assert_allclose(float(v[0]), 0.9 * float(v[1]), atol=0.05)   # not 0
  assert float(metrics["episode_length"][-1]) == 1.0


@pytest.fixture(scope="module")
def v_sweep():
  # one vmap over (key, hyperparameters): entry k equals train(key_k, hp_k) run alone; entry 3's
  # learning rate (1e38, gradients unclipped) makes the loss NaN (test_nan_loss_is_reported)
  env, params = envs.probe(5, discount=0.9)
  config = dataclasses.replace(PROBE, total_steps=800, log_every=400, eval_every=400,
                               max_grad_norm=float("inf"))
  train = a2c.make_train(config, env, params)
  hp = config.hyperparams()
  keys = jax.random.split(jax.random.PRNGKey(7), 4)
  sweep = jax.tree.map(lambda x: jnp.stack([x, x, x, x]), hp)._replace(
      learning_rate=jnp.array([1e-2, 1e-3, 1e-2, 1e38]))
  _, batched = jax.jit(jax.vmap(train))(keys, sweep)
  _, alone = jax.jit(train)(keys[1], hp._replace(learning_rate=jnp.float32(1e-3)))
  return batched, alone


def test_vmapped_seeds_and_sweep_equal_the_same_run_alone(v_sweep):
  batched, alone = v_sweep
  for name, value in alone.items():
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), rtol=1e-5,
                               atol=1e-6, err_msg=name)
  assert not np.allclose(np.asarray(batched["loss"][0]), np.asarray(batched["loss"][2]))


def test_metrics_are_on_schedule_and_a_second_call_does_not_recompile():
  env, params = envs.probe(4, discount=0.9)
  config = dataclasses.replace(PROBE, total_steps=960, log_every=160, eval_every=480)
  trainer = a2c.make_train(config, env, params)
  # traced once: a second call with a new key reuses the compiled program (else AssertionError)
  train = jax.jit(chex.assert_max_traces(lambda key: trainer(key), n=1))
  _, metrics = jax.block_until_ready(train(jax.random.PRNGKey(0)))
  jax.block_until_ready(train(jax.random.PRNGKey(1)))
  np.testing.assert_array_equal(np.asarray(metrics["env_steps"]), np.arange(1, 7) * 160)
  np.testing.assert_array_equal(np.asarray(metrics["updates"]), np.arange(1, 7) * 10)
  evaluated = ~np.isnan(np.asarray(metrics["eval_return"]))
  np.testing.assert_array_equal(evaluated, [False, False, True, False, False, True])
  for name in ("env_steps", "episode_return", "eval_return", "loss", "loss_finite", "episodes"):
    assert name in metrics


def test_nan_loss_is_reported(v_sweep):
  # learning rate 1e38 without gradient clipping (the sweep's entry 3)
  batched, _ = v_sweep
  assert not bool(batched["loss_finite"][3, -1])
  assert bool(batched["loss_finite"][1, -1])


def test_image_observations_with_the_cnn():
  env, params = envs.make("Breakout-MinAtar")
  config = dataclasses.replace(PROBE, network="cnn", total_steps=32, log_every=16, eval_every=32,
                               eval_max_steps=5, eval_episodes=1)
  _, metrics = jax.jit(a2c.make_train(config, env, params))(jax.random.PRNGKey(0))
  assert np.all(np.asarray(metrics["loss_finite"]))


@pytest.mark.parametrize("changes, message", [
    (dict(num_envs=0), "num_envs must be at least 1"),
    (dict(num_steps=0), "num_steps must be at least 1"),
    (dict(log_every=810), "must be a positive multiple of num_envs"),
    (dict(eval_every=1_000), "must be a positive multiple of log_every"),
    (dict(total_steps=3_000), "must be a positive multiple of log_every"),
    (dict(advantage="td7"), "advantage must be one of"),
    (dict(n_step=0), "n_step must be at least 1"),
    (dict(max_grad_norm=0.0), "max_grad_norm must be positive"),
    (dict(network="transformer"), "network must be one of"),
    (dict(learning_rate=-1.0), "learning_rate must be positive"),
    (dict(discount=1.5), "discount must lie in"),
    (dict(gae_lambda=-0.1), "gae_lambda must lie in"),
    (dict(entropy_coef=-0.01), "entropy_coef must be >= 0"),
    (dict(value_coef=float("nan")), "value_coef must be >= 0"),
])
def test_nonsense_configs_are_refused_before_compiling(changes, message):
  env, params = envs.probe(4)
  with pytest.raises(ValueError, match=message):
    a2c.make_train(dataclasses.replace(PROBE, **changes), env, params)


def test_cnn_on_vector_observations_is_refused():
  env, params = envs.make("CartPole-v1")
  with pytest.raises(ValueError, match="cnn"):
    a2c.make_train(dataclasses.replace(PROBE, network="cnn"), env, params)


def test_bad_swept_hyperparameters_are_refused():
  env, params = envs.probe(4)
  train = a2c.make_train(PROBE, env, params)
  hp = PROBE.hyperparams()._replace(learning_rate=jnp.array([1e-3, -1.0]))
  with pytest.raises(ValueError, match="learning_rate must be positive"):
    train(jax.random.PRNGKey(0), hp)


def test_make_actor_critic():
  net = networks.make_actor_critic("cnn", 3, (10, 10, 4))
  params = net.init(jax.random.PRNGKey(0), jnp.zeros((10, 10, 4)))
  logits, v = net.apply(params, jnp.zeros((7, 10, 10, 4)))
  assert logits.shape == (7, 3) and v.shape == (7,)
  with pytest.raises(ValueError, match="unknown actor-critic kind"):
    networks.make_actor_critic("rnn", 3, (4,))


# ---------------------------------------------------------------------------------------------
# Action-value critic (critic="q")
# ---------------------------------------------------------------------------------------------
Q_PROBE = dataclasses.replace(PROBE, critic="q")


def test_q_critic_network_has_one_value_per_action():
  env, params = envs.probe(5, discount=0.9)
  train = a2c.make_train(Q_PROBE, env, params)
  shapes = jax.eval_shape(train.network.init, jax.random.PRNGKey(0), jnp.zeros(3))["params"]
  assert shapes["q_head"]["kernel"].shape == (32, 2) and "value_head" not in shapes
  train = a2c.make_train(dataclasses.replace(Q_PROBE, q_dueling=True), env, params)
  shapes = jax.eval_shape(train.network.init, jax.random.PRNGKey(0), jnp.zeros(3))["params"]
  assert shapes["value_head"]["kernel"].shape == (32, 1)
  assert shapes["advantage_head"]["kernel"].shape == (32, 2) and "q_head" not in shapes


@pytest.mark.parametrize("q_target, n, dueling", [
    ("expected_sarsa", 4, False), ("expected_sarsa", 5, False), ("sarsa", 5, False),
    ("sarsa", 6, False), ("expected_sarsa", 5, True)])
def test_q_critic_probe_policies_are_learned(q_target, n, dueling):
  # 4: the better action (Q = [-1, 1]); 5: the action that matches the observation; 6: the
  # discount-dependent best first action (left, worth 2 g = 1.8, over right, worth 1)
  config = dataclasses.replace(Q_PROBE, q_target=q_target, q_dueling=dueling)
  _, metrics = _probe_run(n, config)
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))
  assert np.all(np.asarray(metrics["eval_return"][:, -1]) > 0.99 * (2.0 if n == 6 else 1.0))


@pytest.mark.parametrize("advantage", ["gae", "n_step"])
def test_q_critic_learns_the_action_values(advantage):
  # probe 3 (one action): Q(s0) = g, Q(s1) = 1 (termination zeroes the bootstrap); probe 4:
  # the action the policy takes, a = 1, is worth 1
  config = dataclasses.replace(Q_PROBE, advantage=advantage, n_step=2, anneal_lr=True)
  env, params = envs.probe(3, discount=config.discount)
  train = a2c.make_train(config, env, params)
  state, metrics = jax.jit(train)(jax.random.PRNGKey(0))
  _, q = train.network.apply(state.params, jnp.eye(3)[:2])
  np.testing.assert_allclose(np.asarray(q[:, 0]), [0.9, 1.0], atol=0.05)
  np.testing.assert_allclose(float(metrics["value_mean"][-1]), 0.95, atol=0.05)
  env, params = envs.probe(4, discount=config.discount)
  train = a2c.make_train(config, env, params)
  state, _ = jax.jit(train)(jax.random.PRNGKey(0))
  logits, q = train.network.apply(state.params, jnp.eye(2)[0])
  assert int(jnp.argmax(logits)) == 1
  np.testing.assert_allclose(float(q[1]), 1.0, atol=0.05)


@pytest.mark.parametrize("q_target", ["sarsa", "expected_sarsa"])
def test_q_critic_truncation_bootstraps_from_the_final_observation(q_target):
  # s1 terminates (Q(s1) = 1); s0 is truncated on reaching s1, so Q(s0) = g Q(s1), not 0. The
  # learning rate decays to zero so that the final values are not the last step's noise.
  env, params = _truncated_chain(PROBE.discount)
  config = dataclasses.replace(Q_PROBE, q_target=q_target, anneal_lr=True)
  train = a2c.make_train(config, env, params)
  state, metrics = jax.jit(train)(jax.random.PRNGKey(0))
  _, q = train.network.apply(state.params, jnp.eye(3)[:2])
  np.testing.assert_allclose(float(q[1, 0]), 1.0, atol=0.1)
  np.testing.assert_allclose(float(q[0, 0]), 0.9 * float(q[1, 0]), atol=0.05)   # not 0
  assert float(metrics["episode_length"][-1]) == 1.0


@pytest.mark.parametrize("q_target, q_baseline", [("sarsa", True), ("expected_sarsa", False)])
def test_q_critic_vmapped_seeds_equal_the_same_run_alone(q_target, q_baseline):
  # the batched run of sarsa is test_q_critic_probe_policies_are_learned's on probe 5; the single
  # run of expected_sarsa is test_actor_lr_scale_slows_only_the_actor's program
  config = dataclasses.replace(Q_PROBE, q_target=q_target, q_baseline=q_baseline)
  keys = jax.random.split(jax.random.PRNGKey(5), 2)
  _, batched = _probe_run(5, config)
  _, alone = _single(5, config)[1](keys[1], config.hyperparams())
  for name, value in alone.items():
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), rtol=1e-5,
                               atol=1e-6, err_msg=name)
  assert not np.allclose(np.asarray(batched["loss"][0]), np.asarray(batched["loss"][1]))


@pytest.mark.parametrize("changes, message", [
    (dict(critic="advantage"), r"critic must be one of \('v', 'q'\), got 'advantage'"),
    (dict(critic="q", q_target="q_learning"), "q_target must be one of"),
    (dict(critic="q", q_baseline="yes"), "q_baseline must be a bool"),
    (dict(q_baseline=False), "q_baseline=False needs critic='q'"),
    (dict(critic="q", q_dueling=1), "q_dueling must be a bool"),
    (dict(q_dueling=True), "q_dueling=True needs critic='q'"),
])
def test_bad_critic_options_are_refused_before_compiling(changes, message):
  env, params = envs.probe(4)
  with pytest.raises(ValueError, match=message):
    a2c.make_train(dataclasses.replace(PROBE, **changes), env, params)


def test_actor_lr_scale_slows_only_the_actor():
  # Q critic on probe 5, a short run: with actor_lr_scale tiny the policy's parameters barely
  # move while the critic's move as far as with scale 1; a bad scale is refused eagerly.
  env, params = envs.probe(5, discount=0.9)
  config = dataclasses.replace(Q_PROBE, q_baseline=False)
  trainer, train = _single(5, config)    # test_q_critic_vmapped_seeds_...'s compiled program
  key = jax.random.PRNGKey(3)
  hp = config.hyperparams()
  initial = trainer.init(key, hp)[0].params
  moved = {}
  for scale in (1.0, 1e-4):
    state, _ = train(key, hp._replace(actor_lr_scale=jnp.float32(scale)))
    labels = networks.param_labels(trainer.network, state.params)
    dist = jax.tree.map(lambda a, b: float(jnp.sum((a - b) ** 2)), state.params, initial)
    moved[scale] = {side: np.sqrt(sum(d for d, l in zip(jax.tree.leaves(dist),
                                                       jax.tree.leaves(labels)) if l == side))
                    for side in ("actor", "critic")}
  assert moved[1.0]["actor"] > 0 and moved[1.0]["critic"] > 0
  assert moved[1e-4]["actor"] < 1e-2 * moved[1.0]["actor"]
  assert moved[1e-4]["critic"] > 0.1 * moved[1.0]["critic"]
  assert set(jax.tree.leaves(networks.param_labels(trainer.network, state.params))) == {
      "actor", "critic"}
  for bad in (0.0, -0.1, float("inf")):
    with pytest.raises(ValueError, match="actor_lr_scale must be positive"):
      a2c.make_train(dataclasses.replace(config, actor_lr_scale=bad), env, params)
  with pytest.raises(ValueError, match="actor_lr_scale must be positive"):
    trainer(key, hp._replace(actor_lr_scale=jnp.array([0.1, float("nan")])))
