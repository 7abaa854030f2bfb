"""REINFORCE: weights on a hand-made batch, probes learned, seeds, NaNs, bad configs."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl import losses
from jaxrl import mdp as mdp_lib
from jaxrl import policies
from jaxrl import returns as returns_lib
from jaxrl import rollouts
from jaxrl.agents import reinforce

PROBE = reinforce.ReinforceConfig(
    total_steps=4_000, num_envs=4, rollout_length=10, hidden_sizes=(32,), learning_rate=1e-2,
    discount=0.9, log_every=1_000, eval_every=2_000, eval_episodes=4)

# One environment, T = 8, gamma = 0.5, episodes of at most 3 steps (episode_limit = 3), so an
# episode is counted when it starts at a step <= T - 3 = 5:
#   A = steps 0-1, TERMINATED at 1           (starts at 0: counted)
#   B = steps 2-4, TRUNCATED at 4 (3 steps)  (starts at 2: counted)
#   C = step 5, terminated                   (starts at 5: counted)
#   D = step 6, terminated                   (starts at 6: NOT counted, though it finished: the old
#                                             rule counted it, and so favoured short episodes)
#   E = step 7, still running at the window's end (not counted)
def _window(r_t, terminated_t, truncated_t, obs_t=None, a_t=None, obs_tp1=None):
  """A :class:`jaxrl.rollouts.Trajectory` ``[T, E]`` with the fields the weights read."""
  zeros = jnp.zeros_like(r_t)
  return rollouts.Trajectory(
      obs_t=zeros if obs_t is None else obs_t, a_t=zeros if a_t is None else a_t, extras_t=(),
      r_t=r_t, terminated_t=terminated_t, truncated_t=truncated_t,
      obs_tp1=zeros if obs_tp1 is None else obs_tp1, episode_return_t=zeros,
      episode_length_t=zeros.astype(jnp.int32))


TRAJ = _window(r_t=jnp.array([1., 2., 3., 4., 5., 6., 7., 8.])[:, None],
               terminated_t=jnp.array([0, 1, 0, 0, 0, 1, 1, 0], bool)[:, None],
               truncated_t=jnp.array([0, 0, 0, 0, 1, 0, 0, 0], bool)[:, None])
GAMMA = jnp.float32(0.5)     # discount_t = gamma (1 - terminated) = [.5, 0, .5, .5, .5, 0, 0, .5]
V = jnp.full((8, 1), 1.0)
V_FINAL = jnp.full((8, 1), 40.0)
HAND = dataclasses.replace(PROBE, episode_limit=3)


@pytest.mark.parametrize("returns, baseline, truncation, expected", [
    # B: G4 = 5, G3 = 4 + .5 * 5 = 6.5, G2 = 3 + .5 * 6.5 = 6.25 (the return stops at the limit)
    ("total", "none", "horizon", [2., 2., 6.25, 6.25, 6.25, 6., 0., 0.]),
    ("reward_to_go", "none", "horizon", [2., 2., 6.25, 6.5, 5., 6., 0., 0.]),
    ("reward_to_go", "mean", "horizon", [-1., -1., 3.25, 3.5, 2., 3., 0., 0.]),  # running mean 3
    ("reward_to_go", "value", "horizon", [1., 1., 5.25, 5.5, 4., 5., 0., 0.]),     # V = 1
    # truncation bootstraps from V(final obs) = 40: G4 = 5 + .5 * 40 = 25, G3 = 16.5, G2 = 11.25
    ("reward_to_go", "value", "bootstrap", [1., 1., 10.25, 15.5, 24., 5., 0., 0.]),
    ("total", "value", "bootstrap", [1., 1., 10.25, 10.25, 10.25, 5., 0., 0.]),
])
def test_weights_by_hand(returns, baseline, truncation, expected):
  config = dataclasses.replace(HAND, returns=returns, baseline=baseline, truncation=truncation)
  w, mask, _ = reinforce.batch_weights(config, TRAJ, V, V_FINAL, jnp.float32(3.0), GAMMA)
  np.testing.assert_array_equal(np.asarray(mask[:, 0]), [1, 1, 1, 1, 1, 1, 0, 0])
  np.testing.assert_allclose(np.asarray(w[:, 0] * mask[:, 0]), expected)


def test_default_window_counts_only_the_first_episode():
  config = dataclasses.replace(HAND, episode_limit=8)      # T = limit: last start = 0
  w, mask, _ = reinforce.batch_weights(config, TRAJ, V, V_FINAL, jnp.float32(0.0), GAMMA)
  np.testing.assert_array_equal(np.asarray(mask[:, 0]), [1, 1, 0, 0, 0, 0, 0, 0])
  np.testing.assert_allclose(np.asarray(w[:2, 0]), [1., 1.])   # G = 2, V = 1
  with pytest.raises(ValueError, match="shorter than episode_limit"):
    reinforce.batch_weights(dataclasses.replace(HAND, episode_limit=9), TRAJ, V, V_FINAL,
                            jnp.float32(0.0), GAMMA)
  with pytest.raises(ValueError, match="resolved config"):
    reinforce.batch_weights(PROBE, TRAJ, V, V_FINAL, jnp.float32(0.0), GAMMA)


def test_policy_loss_divides_by_the_batch_not_by_the_counted_steps():
  logits = jnp.zeros((4, 2, 2))                      # pi = 1/2: log pi = -log 2 everywhere
  actions = jnp.zeros((4, 2), jnp.int32)
  w = jnp.arange(8.0).reshape(4, 2)
  mask = jnp.array([[1, 1], [1, 0], [0, 0], [0, 0]], bool)
  # -(1 / 8) * sum_{counted} (-log 2) * w = log 2 * (0 + 1 + 2) / 8
  flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731  (as the agent does)
  loss = losses.policy_gradient_loss(flat(logits), flat(actions), flat(w * mask))
  np.testing.assert_allclose(float(loss),
                             np.log(2.0) * 3.0 / 8.0, rtol=1e-6)


@pytest.mark.parametrize("n, returns, baseline", [
    (5, "reward_to_go", "value"), (6, "total", "none"), (6, "reward_to_go", "mean")])
def test_probe_policies_are_learned(n, returns, baseline):
  config = dataclasses.replace(PROBE, returns=returns, baseline=baseline)
  env, params = envs.probe(n, discount=config.discount)
  train = jax.jit(jax.vmap(reinforce.make_train(config, env, params)))
  _, metrics = train(jax.random.split(jax.random.PRNGKey(n), 2))
  np.testing.assert_array_equal(np.asarray(metrics["policy_match"][:, -1]), 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))
  # rollout_length = the probe's time limit: exactly one (the first) episode per window counts
  np.testing.assert_allclose(np.asarray(metrics["counted_episodes"]), 1.0)


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
  assert train.config.rollout_length == 500 and train.config.episode_limit == 500
  assert train.config.log_every == 1_000 and train.config.total_steps == 10_000


@pytest.mark.parametrize("changes, message", [
    (dict(num_envs=0), "num_envs must be at least 1"),
    (dict(rollout_length=0), "rollout_length must be at least 1"),
    (dict(rollout_length=9), r"rollout_length \(9\) is less than the episode limit \(10\)"),
    (dict(episode_limit=5), "less than the environment's time limit"),
    (dict(episode_limit=20), r"rollout_length \(10\) is less than the episode limit \(20\)"),
    (dict(log_every=1_001), "must be a positive multiple"),
    (dict(eval_every=1_500), "must be a positive multiple of log_every"),
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


# ------------------------------------------------------------------------------------------------
# Unbiasedness: the Monte Carlo mean of the estimator against the exact policy gradient.
# ------------------------------------------------------------------------------------------------
# Three live states and a terminal one (3), two actions, time limit 4, gamma = 1. Episode lengths
# vary from 1 to 4 steps and depend on the actions (s2/a0 loops until the time limit truncates),
# and long episodes pay differently from short ones, so a rule that favours short episodes shows.
LIMIT = 4
_P = np.zeros((4, 2, 4), np.float32)
_R = np.zeros((4, 2), np.float32)
_P[0, 0, 3], _R[0, 0] = 1.0, 1.0                          # s0: a0 quits with +1
_P[0, 1, 1] = 1.0                                         #     a1 -> s1
_P[1, 0, 3], _R[1, 0] = 1.0, 3.0                          # s1: a0 quits with +3
_P[1, 1, 2], _P[1, 1, 0], _R[1, 1] = 0.5, 0.5, 1.0        #     a1 -> s2 or back to s0, +1
_P[2, 0, 2], _R[2, 0] = 1.0, 0.5                          # s2: a0 stays, +0.5 (until truncated)
_P[2, 1, 3], _R[2, 1] = 1.0, -1.0                         #     a1 quits with -1
_P[3, :, 3] = 1.0
THETA = jnp.array([[0.3, -0.2], [0.1, 0.4], [0.5, -0.3], [0.0, 0.0]])   # softmax logits [S, A]
V_TABLE = jnp.array([1.0, 2.0, 0.5, 0.0])                               # any state baseline


def _tabular_env():
  mdp = mdp_lib.TabularMDP(_P, _R, np.float32(1.0))
  return envs.from_mdp(mdp, initial_distribution=[0.5, 0.5, 0.0, 0.0],
                       max_steps_in_episode=LIMIT)


def _exact_objective(theta, init):
  """J = mu0 . V_H with the finite-horizon recursion V_h = r_pi + P_pi V_{h-1}, V_0 = 0, H = 4."""
  pi = jax.nn.softmax(theta, axis=-1)
  r_pi = jnp.sum(pi * _R, axis=-1)
  p_pi = jnp.einsum("sa,sat->st", pi, _P)
  v = jnp.zeros(4)
  for _ in range(LIMIT):
    v = r_pi + jnp.einsum("st,t->s", p_pi, v)
  return jnp.dot(init, v)


def _rollout(env, params, key, num_envs, length):
  """The agent's window: reset every environment, then ``length`` auto-resetting steps."""
  k_reset, k_roll = jax.random.split(key)
  obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs), params)

  def step(carry, k):
    obs, state = carry
    k_act, k_step = jax.random.split(k)
    action = policies.categorical_sample(k_act, obs @ THETA)
    next_obs, state, reward, terminated, truncated, info = jax.vmap(
        env.step, in_axes=(0, 0, 0, None))(jax.random.split(k_step, num_envs), state, action,
                                           params)
    return (next_obs, state), _window(
        obs_t=obs, a_t=action, r_t=reward.astype(jnp.float32), terminated_t=terminated,
        truncated_t=truncated & ~terminated, obs_tp1=info["final_observation"])

  _, traj = jax.lax.scan(step, (obs, state), jax.random.split(k_roll, length))
  return traj


def _estimates(config, env, params, key, num_envs, old_rule=False):
  """-grad of the agent's surrogate (batch_weights + the masked policy-gradient loss) w.r.t.
  tabular logits, times T,
  and N, the counted episodes per window (averaged over the environments)."""
  traj = _rollout(env, params, key, num_envs, config.rollout_length)
  w, mask, g = reinforce.batch_weights(config, traj, traj.obs_t @ V_TABLE,
                                       traj.obs_tp1 @ V_TABLE, jnp.float32(1.5), 1.0)  # gamma 1
  if old_rule:
    mask = jax.vmap(returns_lib.finished_episode_mask, in_axes=1, out_axes=1)(traj.end_t)
  flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
  grad = -jax.grad(lambda th: losses.policy_gradient_loss(
      flat(traj.obs_t @ th), flat(traj.a_t), flat(w * mask)))(THETA)
  is_start = jnp.concatenate([jnp.ones_like(mask[:1]), traj.end_t[:-1]], axis=0)
  n = jnp.sum(is_start & mask) / num_envs
  return grad * config.rollout_length, n, g[0]


def _z_scores(x):
  """Mean over batches / its standard error, for the components that vary."""
  x = np.asarray(x, np.float64).reshape(x.shape[0], -1)
  se = x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
  live = se > 0
  return x.mean(axis=0)[live] / se[live], x.mean(axis=0)[~live]


def test_estimators_are_unbiased_for_the_exact_policy_gradient():
  """With T = episode limit, E[T * estimate] = grad J exactly (N = 1) for every weighting."""
  env, params = _tabular_env()
  grad_j = jax.grad(_exact_objective)(THETA, params.initial_distribution)
  base = dataclasses.replace(PROBE, discount=1.0, rollout_length=LIMIT, episode_limit=LIMIT)
  configs = dict(
      total=dataclasses.replace(base, returns="total", baseline="none"),
      reward_to_go=dataclasses.replace(base, baseline="none"),
      rtg_minus_mean=dataclasses.replace(base, baseline="mean"),
      rtg_minus_value=dataclasses.replace(base, baseline="value"))
  batches, num_envs = 4000, 4

  @jax.jit
  def all_estimates(keys):
    return {name: jax.vmap(lambda k, c=c: _estimates(c, env, params, k, num_envs))(keys)
            for name, c in configs.items()}

  out = all_estimates(jax.random.split(jax.random.PRNGKey(5), batches))
  for name, (grad, n, first_return) in out.items():
    np.testing.assert_array_equal(np.asarray(n), 1.0, err_msg=name)
    z, const = _z_scores(grad - grad_j)
    assert np.max(np.abs(z)) < 4.0, (name, z)
    np.testing.assert_allclose(const, 0.0, atol=1e-6)   # the terminal state's logits: no gradient
    if name == "total":     # the counted episodes' returns average to J: the exact J is right
      z, _ = _z_scores(first_return.reshape(batches, -1).mean(axis=1, keepdims=True)
                       - _exact_objective(THETA, params.initial_distribution))
      assert abs(z[0]) < 4.0, z


def test_longer_windows_count_more_episodes_without_bias_and_the_old_rule_was_biased():
  """T = 3 L: every episode starting at a step <= 2 L counts; Wald's identity gives
  E[T * estimate - N grad J] = 0. Counting every FINISHED episode instead (the old rule) gives a
  mean that is not even parallel to grad J."""
  env, params = _tabular_env()
  grad_j = np.asarray(jax.grad(_exact_objective)(THETA, params.initial_distribution))
  config = dataclasses.replace(PROBE, discount=1.0, rollout_length=3 * LIMIT,
                               episode_limit=LIMIT, baseline="value")
  batches, num_envs = 3000, 4

  @jax.jit
  def both(keys):
    new = jax.vmap(lambda k: _estimates(config, env, params, k, num_envs))(keys)
    old = jax.vmap(lambda k: _estimates(config, env, params, k, num_envs, old_rule=True))(keys)
    return new, old

  (grad, n, _), (old, _, _) = both(jax.random.split(jax.random.PRNGKey(11), batches))
  assert float(np.mean(n)) > 3.0                  # several episodes per window are counted
  z, _ = _z_scores(grad - np.asarray(n)[:, None, None] * grad_j)
  assert np.max(np.abs(z)) < 4.0, z
  # the old rule: project its mean on grad J; the remainder is many standard errors from zero
  old = np.asarray(old, np.float64)
  scale = np.sum(old.mean(axis=0) * grad_j) / np.sum(grad_j ** 2)
  z_old, _ = _z_scores(old - scale * grad_j)
  assert np.max(np.abs(z_old)) > 6.0, z_old     # about 10 here
