"""REINFORCE: weights on a hand-made batch, probes learned, seeds, NaNs, bad configs."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.agents import reinforce

PROBE = reinforce.ReinforceConfig(
    total_steps=4_000, num_envs=4, rollout_length=10, hidden_sizes=(32,), learning_rate=1e-2,
    discount=0.9, log_every=1_000, eval_every=2_000, eval_episodes=4)

# One environment, T = 6, gamma = 0.5: episode A = steps 0-1 (terminated at 1), episode B = steps
# 2-3 (TRUNCATED at 3), episode C = steps 4-5, still running when the window closes.
TRAJ = dict(
    reward=jnp.array([1., 2., 3., 4., 5., 6.])[:, None],
    discount=jnp.array([.5, 0., .5, .5, .5, .5])[:, None],
    end=jnp.array([0, 1, 0, 1, 0, 0], bool)[:, None],
    truncated=jnp.array([0, 0, 0, 1, 0, 0], bool)[:, None])
V = jnp.full((6, 1), 1.0)
V_FINAL = jnp.full((6, 1), 40.0)


@pytest.mark.parametrize("returns, baseline, truncation, expected", [
    ("total", "none", "horizon", [2., 2., 5., 5., 0., 0.]),
    ("reward_to_go", "none", "horizon", [2., 2., 5., 4., 0., 0.]),
    ("reward_to_go", "mean", "horizon", [-1., -1., 2., 1., 0., 0.]),      # running mean 3
    ("reward_to_go", "value", "horizon", [1., 1., 4., 3., 0., 0.]),       # V = 1
    # truncation bootstraps from V(final obs) = 40: G_3 = 4 + .5 * 40 = 24, G_2 = 3 + .5 * 24
    ("reward_to_go", "value", "bootstrap", [1., 1., 14., 23., 0., 0.]),
])
def test_weights_by_hand(returns, baseline, truncation, expected):
  config = dataclasses.replace(PROBE, returns=returns, baseline=baseline, truncation=truncation)
  w, mask, _ = reinforce.make_weights(config, TRAJ, V, V_FINAL, jnp.float32(3.0),
                                      config.hyperparams())
  np.testing.assert_array_equal(np.asarray(mask[:, 0]), [1, 1, 1, 1, 0, 0])  # C is unfinished
  np.testing.assert_allclose(np.asarray(w[:, 0] * mask[:, 0]), expected)


@pytest.mark.parametrize("n, returns, baseline", [
    (5, "reward_to_go", "value"), (6, "total", "none"), (6, "reward_to_go", "mean")])
def test_probe_policies_are_learned(n, returns, baseline):
  config = dataclasses.replace(PROBE, returns=returns, baseline=baseline)
  env, params = envs.probe(n, discount=config.discount)
  train = jax.jit(jax.vmap(reinforce.make_train(config, env, params)))
  _, metrics = train(jax.random.split(jax.random.PRNGKey(n), 2))
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))


def test_vmapped_seed_equals_the_same_key_alone_and_nan_is_reported():
  env, params = envs.probe(5, discount=0.9)
  config = dataclasses.replace(PROBE, total_steps=80, log_every=40, eval_every=40)
  train = reinforce.make_train(config, env, params)
  keys = jax.random.split(jax.random.PRNGKey(7), 3)
  hp = config.hyperparams()
  sweep = jax.tree.map(lambda x: jnp.stack([x, x, x]), hp)._replace(
      learning_rate=jnp.array([1e-2, 1e-2, 1e38]))
  _, batched = jax.jit(jax.vmap(train))(keys, sweep)
  _, alone = jax.jit(train)(keys[1], hp)
  for name, value in alone.items():
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), rtol=1e-5,
                               atol=1e-6, err_msg=name)
  assert not np.allclose(np.asarray(batched["loss"][0]), np.asarray(batched["loss"][1]))
  assert not bool(batched["loss_finite"][2, -1])    # lr 1e38 diverges, and it is reported


def test_defaults_come_from_the_environment():
  env, params = envs.make("CartPole-v1")
  train = reinforce.make_train(reinforce.ReinforceConfig(num_envs=2, total_steps=10_000), env,
                               params)
  assert train.config.rollout_length == 500
  assert train.config.log_every == 1_000 and train.config.total_steps == 10_000


@pytest.mark.parametrize("changes, message", [
    (dict(num_envs=0), "num_envs must be at least 1"),
    (dict(rollout_length=0), "rollout_length must be at least 1"),
    (dict(log_every=1_001), "must be a positive multiple"),
    (dict(eval_every=1_500), "must be a multiple of log_every"),
    (dict(total_steps=10), "less than log_every"),
    (dict(returns="discounted"), "returns must be one of"),
    (dict(baseline="median"), "baseline must be one of"),
    (dict(truncation="bootstrap", baseline="mean"), "needs a learned value"),
    (dict(learning_rate=0.0), "learning_rate must be positive"),
    (dict(baseline_step=0.0), "baseline_step must lie in"),
    (dict(discount=-0.5), "discount must lie in"),
])
def test_nonsense_configs_are_refused_before_compiling(changes, message):
  env, params = envs.probe(4)
  with pytest.raises(ValueError, match=message):
    reinforce.make_train(dataclasses.replace(PROBE, **changes), env, params)
