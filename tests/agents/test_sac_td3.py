"""SAC, TD3 and DDPG: the components by hand and against distrax, the update schedule, the
probes' known answers, vmapped seeds and hyperparameters, DDPG as TD3's setting, refusals, and
the driver's resume (issue 21). Every agent program is compiled once per module and shared."""

import dataclasses

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl import cli
from jaxrl import distributions
from jaxrl import envs
from jaxrl import losses
from jaxrl import networks
from jaxrl import policies
from jaxrl import training
from jaxrl.agents import off_policy
from jaxrl.agents import sac
from jaxrl.agents import td3

from tests.agents import driver_checks

# ------------------------------------------------------------------------------- components


def test_clipped_double_q_and_soft_targets_by_hand():
  r, d = jnp.float32(1.0), jnp.float32(0.9)
  q = jnp.array([3.0, 2.0])
  assert float(losses.clipped_double_q_target(r, d, q)) == pytest.approx(1.0 + 0.9 * 2.0)
  assert float(losses.clipped_double_q_target(r, jnp.float32(0.0), q)) == 1.0   # terminated
  y = losses.soft_clipped_double_q_target(r, d, q, jnp.float32(-1.5), jnp.float32(0.2))
  assert float(y) == pytest.approx(1.0 + 0.9 * (2.0 + 0.2 * 1.5))
  with pytest.raises(AssertionError):   # rank checked: one transition, N critics
    losses.clipped_double_q_target(r, d, jnp.float32(1.0))


def test_ensemble_loss_policy_loss_and_temperature_loss_by_hand_and_their_gradients():
  q, y = jnp.array([1.0, 3.0]), jnp.float32(2.0)
  assert float(losses.ensemble_q_loss(q, y)) == pytest.approx(0.5 + 0.5)
  g_q, g_y = jax.grad(losses.ensemble_q_loss, argnums=(0, 1))(q, y)
  np.testing.assert_allclose(g_q, [-1.0, 1.0])
  assert float(g_y) == 0.0                                      # the target's gradient stopped
  # policy: alpha log pi - min Q, alpha's gradient stopped, Q's and log pi's flow
  args = (jnp.array([4.0, 2.0]), jnp.float32(-1.0), jnp.float32(0.5))
  assert float(losses.sac_policy_loss(*args)) == pytest.approx(-0.5 - 2.0)
  g_q, g_logp, g_alpha = jax.grad(losses.sac_policy_loss, argnums=(0, 1, 2))(*args)
  np.testing.assert_allclose(g_q, [0.0, -1.0])
  assert float(g_logp) == 0.5 and float(g_alpha) == 0.0
  # temperature: -alpha (log pi + H); entropy -log pi = 0.5 below the target 1: alpha must grow
  loss = lambda log_alpha, logp: losses.temperature_loss(jnp.exp(log_alpha), logp,  # noqa: E731
                                                         jnp.float32(1.0))
  assert float(loss(jnp.float32(0.0), jnp.float32(-0.5))) == pytest.approx(-0.5)
  g_la, g_logp = jax.grad(loss, argnums=(0, 1))(jnp.float32(0.0), jnp.float32(-0.5))
  assert float(g_la) < 0 and float(g_logp) == 0.0               # descent raises log alpha
  assert float(jax.grad(loss)(jnp.float32(0.0), jnp.float32(-2.0))) > 0   # entropy above: falls


def test_squashed_gaussian_log_prob_matches_distrax_in_the_action_bounds():
  low, high = jnp.array([-2.0, 0.0]), jnp.array([2.0, 1.0])
  dist = distributions.tanh_gaussian(low, high)
  mean, log_std = jnp.array([[0.3, -1.0], [1.5, 0.2]]), jnp.array([[-0.5, 0.4], [0.1, -2.0]])
  u = dist.sample(jax.random.PRNGKey(0), (mean, log_std))
  to_env = distributions.rescale_to(low, high)
  a = to_env(jnp.tanh(u))
  np.testing.assert_allclose(a, distributions.squash_to(low, high)(u), rtol=1e-6)
  half, center = (high - low) / 2, (high + low) / 2
  reference = distrax.Transformed(
      distrax.MultivariateNormalDiag(mean, jnp.exp(log_std)),
      distrax.Chain([distrax.Block(distrax.ScalarAffine(shift=center, scale=half), 1),
                     distrax.Block(distrax.Tanh(), 1)]))
  np.testing.assert_allclose(dist.log_prob((mean, log_std), u), reference.log_prob(a),
                             rtol=1e-4, atol=1e-4)
  # the entropy estimate against a Monte Carlo average of -log pi over distrax's samples
  samples = reference.sample(seed=jax.random.PRNGKey(1), sample_shape=(100_000,))
  mc = -np.mean(np.asarray(reference.log_prob(samples)), axis=0)
  np.testing.assert_allclose(dist.entropy((mean, log_std)), mc, atol=0.02)


def test_target_smoothing_noise_is_clipped_and_exploration_stays_in_the_box():
  a = jnp.linspace(-0.9, 0.9, 4000).reshape(2000, 2)
  smoothed = policies.smoothed_target_action(jax.random.PRNGKey(0), a, 5.0, 0.25)
  moved = np.abs(np.asarray(smoothed - a))
  assert moved.max() <= 0.25 + 1e-6 and moved.max() > 0.24     # noise large, clipped to c
  assert np.all(np.abs(np.asarray(smoothed)) <= 1.0)
  np.testing.assert_array_equal(policies.smoothed_target_action(jax.random.PRNGKey(0), a, 0.0,
                                                                0.5), a)   # DDPG: none
  explored = policies.gaussian_exploration(jax.random.PRNGKey(1), a, 0.3)
  assert np.all(np.abs(np.asarray(explored)) <= 1.0)
  np.testing.assert_allclose(np.std(np.asarray(explored - a)), 0.3, rtol=0.1)


def test_critic_ensemble_has_independent_members_and_policies_stay_in_bounds():
  critic = networks.ContinuousQNetwork(2, (8,), "relu")
  params = critic.init(jax.random.PRNGKey(0), jnp.zeros(3), jnp.zeros(1))
  q = critic.apply(params, jnp.ones((5, 3)), jnp.ones((5, 1)))
  assert q.shape == (2, 5) and not np.allclose(q[0], q[1])
  actor = networks.SquashedGaussianPolicy(2, (8,), log_std_min=-3.0, log_std_max=1.0)
  p = actor.init(jax.random.PRNGKey(0), jnp.zeros(3))
  _, log_std = actor.apply(p, 100.0 * jax.random.normal(jax.random.PRNGKey(1), (64, 3)))
  assert np.all((np.asarray(log_std) >= -3.0) & (np.asarray(log_std) <= 1.0))
  det = networks.DeterministicPolicy(2, (8,))
  out = det.apply(det.init(jax.random.PRNGKey(0), jnp.zeros(3)), 1e3 * jnp.ones((4, 3)))
  assert np.all(np.abs(np.asarray(out)) <= 1.0)
  with pytest.raises(ValueError, match="activation must be one of"):
    networks.DeterministicPolicy(2, (8,), activation="gelu")
  with pytest.raises(ValueError, match="num_critics must be an int >= 1"):
    networks.ContinuousQNetwork(0)


@pytest.mark.parametrize("num_envs, per_step, starts, batch", [
    (1, 1.0, 100, 32), (3, 2.0, 10, 16), (4, 0.25, 0, 8), (5, 1.0, 12, 30)])
def test_update_schedule_matches_a_python_loop(num_envs, per_step, starts, batch):
  schedule = off_policy.update_schedule("T", updates_per_step=per_step, num_envs=num_envs,
                                        learning_starts=starts, batch_size=batch)
  made, every = 0, int(round(1 / per_step)) if per_step < 1 else 1
  for t in range(60):
    stored = (t + 1) * num_envs
    due = stored >= max(starts, batch) and (t + 1) % every == 0
    assert bool(schedule.due(jnp.int32(t))) == due, t
    assert int(schedule.updates_before(jnp.int32(t))) == made, t
    if due:
      n = int(per_step) if per_step >= 1 else 1
      np.testing.assert_array_equal(schedule.update_index(jnp.int32(t)),
                                    np.arange(made + 1, made + n + 1))
      made += n


# ------------------------------------------------------------------------------- agents

PROBE = dict(total_steps=2_000, hidden_sizes=(32, 32), learning_starts=200, batch_size=64,
             buffer_size=2_000, log_every=400, eval_every=2_000, eval_episodes=8,
             learning_rate=3e-3, actor_learning_rate=3e-3)
AGENTS = {
    "sac": lambda **kw: (sac, sac.SACConfig(**{**PROBE, "alpha_learning_rate": 3e-3, **kw})),
    # the deterministic policy steps every second update: a faster actor reaches the optimum
    # within the same 1,800 updates
    "td3": lambda **kw: (td3, td3.TD3Config(**{**PROBE, "actor_learning_rate": 1e-2, **kw})),
}


@pytest.fixture(scope="module", params=sorted(AGENTS))
def probe_run(request):
  """Two seeds of each agent on the continuous probe (best action -0.5 / +0.5 by context), and
  each seed again alone with its own learning rate: vmapped seeds and hyperparameters."""
  module, config = AGENTS[request.param]()
  env, params = envs.continuous_probe()
  trainer = module.make_train(config, env, params)
  keys = jax.random.split(jax.random.PRNGKey(4), 2)
  hp = config.hyperparams()
  rates = jnp.array([3e-3, 2e-3])
  stacked = jax.tree.map(lambda x: jnp.stack([x, x]), hp)._replace(learning_rate=rates)
  state, metrics = jax.jit(jax.vmap(trainer))(keys, stacked)
  alone = jax.jit(trainer)(keys[1], hp._replace(learning_rate=rates[1]))
  return request.param, trainer, env, params, state, metrics, alone


def test_probe_optimum_is_learned(probe_run):
  name, trainer, env, params, state, metrics, _ = probe_run
  out = jax.vmap(trainer.network.apply, in_axes=(0, None))(state.params.actor, jnp.eye(2))
  mean = out[0] if name == "sac" else out
  spec = envs.spaces.action_spec(env, params)
  action = distributions.rescale_to(spec.low, spec.high)(jnp.tanh(mean) if name == "sac" else mean)
  np.testing.assert_allclose(np.asarray(action)[..., 0], [[-0.5, 0.5]] * 2, atol=0.1)
  assert np.all(np.asarray(metrics["eval_return"][:, -1]) > -0.02)
  assert np.all(np.asarray(metrics["loss_finite"]))
  if name == "sac":                                  # the temperature fell as the policy sharpened
    alpha = np.asarray(metrics["alpha"])
    assert np.all(alpha[:, -1] < alpha[:, 0]) and np.all(alpha[:, 0] < 1.0)


def test_each_seed_with_its_hyperparameters_equals_its_run_alone(probe_run):
  *_, state, metrics, alone = probe_run
  state_alone, metrics_alone = alone
  # the same run to rounding: tight over the first interval (200 updates), then the float
  # differences of batched arithmetic grow through 1,800 updates of a learning system
  for k, v in metrics.items():
    np.testing.assert_allclose(np.asarray(v)[1, 0], np.asarray(metrics_alone[k])[0], rtol=1e-4,
                               atol=1e-5, err_msg=k)
    np.testing.assert_allclose(np.asarray(v)[1], np.asarray(metrics_alone[k]), rtol=5e-2,
                               atol=5e-3, err_msg=k)
  assert not np.allclose(np.asarray(metrics["critic_loss"])[0],
                         np.asarray(metrics["critic_loss"])[1])   # the two runs differ


def test_updates_start_after_learning_starts_and_count_every_update(probe_run):
  _, _, _, _, state, metrics, _ = probe_run
  # 1 env, 1 update per step: the first update once 200 transitions are stored
  np.testing.assert_array_equal(np.asarray(metrics["updates"]),
                                [[201, 601, 1_001, 1_401, 1_801]] * 2)
  np.testing.assert_array_equal(np.asarray(state.env_steps), [2_000, 2_000])


@pytest.fixture(scope="module")
def delayed():
  """TD3 on Pendulum (truncated at 200 steps, never terminated) with 3 environments, 2 critic
  updates per iteration and a policy delay of 3."""
  env, params = envs.make("Pendulum-v1")
  config = td3.TD3Config(total_steps=1_200, num_envs=3, hidden_sizes=(8,), buffer_size=1_200,
                         batch_size=16, learning_starts=30, updates_per_step=2.0,
                         policy_delay=3, log_every=600, eval_every=1_200, eval_episodes=1,
                         eval_max_steps=20, discount=0.97)
  trainer = td3.make_train(config, env, params)
  state, metrics = jax.jit(trainer)(jax.random.PRNGKey(0))
  return config, state, metrics


def _adam_count(opt_state):
  """The number of steps an optimizer state has taken (its Adam state's count)."""
  is_adam = lambda x: isinstance(x, optax.ScaleByAdamState)  # noqa: E731
  return int(next(s.count for s in jax.tree.leaves(opt_state, is_leaf=is_adam) if is_adam(s)))


def test_delayed_policy_updates_fire_on_schedule_with_several_environments(delayed):
  config, state, metrics = delayed
  iterations = config.total_steps // config.num_envs              # 400
  first = 30 // 3 - 1                                             # 30 stored after iteration 9
  updates = 2 * (iterations - first)
  assert int(state.updates) == updates == 782
  assert _adam_count(state.opt_state.critic) == updates
  assert _adam_count(state.opt_state.actor) == updates // 3       # every 3rd update, 260
  assert int(state.env_steps) == config.total_steps
  np.testing.assert_array_equal(np.asarray(metrics["env_steps"]), [600, 1_200])


def test_truncation_bootstraps_from_the_final_observation(delayed):
  # Pendulum is cut at 200 steps and never terminates: every stored discount is gamma, and the
  # next_obs stored at an episode's last step is its final observation, not the next episode's
  # first (which the buffer stores as the following transition's obs)
  config, state, _ = delayed
  buf = state.buffer.storage
  np.testing.assert_allclose(np.asarray(buf.discount), 0.97)
  obs, next_obs = np.asarray(buf.obs), np.asarray(buf.next_obs)
  # with 3 environments, slot 3 t + e is environment e's step t; step 199 ends episode 1
  for e in range(3):
    last, first_of_next = 3 * 199 + e, 3 * 200 + e
    assert not np.allclose(next_obs[last], obs[first_of_next])
    np.testing.assert_allclose(next_obs[3 * 198 + e], obs[3 * 199 + e])   # inside: continuous


def test_ddpg_is_td3_without_twin_critics_smoothing_or_delay():
  ddpg = td3.DDPGConfig()
  assert (ddpg.twin_critics, ddpg.target_noise, ddpg.policy_delay) == (False, 0.0, 1)
  as_td3 = td3.TD3Config(twin_critics=False, target_noise=0.0, policy_delay=1)
  assert dataclasses.asdict(ddpg) == dataclasses.asdict(as_td3)
  env, params = envs.make("Pendulum-v1")
  small = dict(total_steps=300, hidden_sizes=(8,), buffer_size=300, batch_size=8,
               learning_starts=20, log_every=300, eval_every=300, eval_episodes=1,
               eval_max_steps=5)
  run = lambda c: jax.jit(td3.make_train(c, env, params))(jax.random.PRNGKey(2))  # noqa: E731
  state, metrics = run(td3.DDPGConfig(**small))
  state_td3, metrics_td3 = run(td3.TD3Config(twin_critics=False, target_noise=0.0,
                                             policy_delay=1, **small))
  for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(state_td3.params), strict=True):
    np.testing.assert_array_equal(a, b)
  # one critic, and the policy and targets step with every critic update
  assert jax.tree.leaves(state.params.critic)[0].shape[0] == 1
  assert _adam_count(state.opt_state.actor) == _adam_count(state.opt_state.critic) == 281
  assert not np.array_equal(jax.tree.leaves(state.target_params.actor)[0],
                            jax.tree.leaves(state.params.actor)[0])
  assert td3.make_train(td3.DDPGConfig(**small), env, params).name == "ddpg"


@pytest.mark.parametrize("module, config", [(sac, sac.SACConfig()), (td3, td3.TD3Config()),
                                            (td3, td3.DDPGConfig())])
def test_continuous_agents_refuse_discrete_actions_before_compiling(module, config):
  env, params = envs.make("CartPole-v1")
  with pytest.raises(ValueError, match=r"needs a continuous action space \(a Box of shape "
                                       r"\[D\]\), and CartPole-v1 has Discrete\(2\); use dqn"):
    module.make_train(config, env, params)


@pytest.mark.parametrize("change, message", [
    (dict(updates_per_step=1.5), "updates_per_step above 1 must be an integer"),
    (dict(updates_per_step=0.3), "updates_per_step below 1 must be 1/k"),
    (dict(batch_size=500, buffer_size=100), "batch_size 500 is larger than buffer_size 100"),
    (dict(activation="gelu"), "activation must be one of"),
    (dict(tau=0.0), r"tau must lie in \(0, 1\]"),
    (dict(log_every=7, num_envs=2), "log_every .7. must be a positive multiple of num_envs"),
])
def test_bad_configs_are_refused_with_the_field_named(change, message):
  env, params = envs.make("Pendulum-v1")
  for module, cls in ((sac, sac.SACConfig), (td3, td3.TD3Config)):
    with pytest.raises(ValueError, match=message):
      module.make_train(cls(**change), env, params)
  with pytest.raises(ValueError, match=r"SACConfig.alpha must be positive"):
    sac.make_train(sac.SACConfig(alpha=0.0), env, params)
  with pytest.raises(ValueError, match=r"TD3Config.policy_delay must be at least 1"):
    td3.make_train(td3.TD3Config(policy_delay=0), env, params)


def test_the_command_line_defaults_to_pendulum_and_refuses_discrete(tmp_path, capsys):
  out = tmp_path / "never"
  assert cli.main(["train", "sac", "--env", "CartPole-v1", "--out", str(out)]) == 2
  err = capsys.readouterr().err
  assert err.startswith("jaxrl: error: SAC needs a continuous action space"), err
  assert not out.exists()
  assert cli.TRAIN_COMMANDS["td3"]().env == "Pendulum-v1"
  assert cli.TRAIN_COMMANDS["dqn"]().env == "CartPole-v1"


@pytest.mark.parametrize("algorithm", ["sac", "td3"])
def test_driver_runs_resumes_bitwise_and_sweeps_in_one_call(algorithm, tmp_path):
  # a killed run resumes bitwise (the replay buffer, the targets and the temperature are in the
  # state and the checkpoint), and two settings vary inside one compiled call
  algo = training.ALGORITHMS[algorithm]
  config = algo.config_cls(total_steps=480, hidden_sizes=(8,), buffer_size=480, batch_size=16,
                           learning_starts=40, num_envs=2, log_every=120, eval_every=240,
                           eval_episodes=1, eval_max_steps=10)
  spec = training.RunSpec(algorithm, config, env="ContinuousProbe-v0", num_seeds=2, seed=1,
                          settings=({"learning_rate": 1e-3, "tau": 0.01},
                                    {"learning_rate": 3e-3, "tau": 0.05}),
                          checkpoint_every=240)
  straight = driver_checks.assert_resumes_bitwise(spec, tmp_path)
  assert straight.summary["compiled_programs"] == 2
  assert [r["diverged_seeds"] for r in straight.summary["settings"]] == [0, 0]
  critic = np.asarray(straight.metrics["critic_loss"])
  assert critic.shape == (2, 2, 4) and not np.array_equal(critic[0], critic[1])
