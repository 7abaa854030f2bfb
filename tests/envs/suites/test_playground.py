"""The MuJoCo Playground adapter against Playground itself: trajectories, the episode boundary,
vmap, spaces, options.

One jitted, vmapped rollout through the adapter (CartpoleBalance, MJX's jax implementation) and
one through the raw Playground environment are compiled once (module fixture) and every test
reads them. DM Control tasks end only on a NaN in the physics state, so the termination row
starts from a state with NaN velocities.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("mujoco_playground")

from gymnax.environments import spaces  # noqa: E402

from jaxrl import envs  # noqa: E402

NAME = "CartpoleBalance"
T = 12
LIMIT = 5
# Rows of the batch: 0 and 3 hold still (no limit within T), 1 holds still under a 5-step limit,
# 2 starts from NaN velocities (a true termination at its first step).
ROWS = 4
ZERO, LIMITED, POISONED, OTHER = range(ROWS)
TOL = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def run():
  env, params = envs.make(f"playground:{NAME}")
  raw = env.env
  keys = jax.random.split(jax.random.PRNGKey(0), ROWS)
  step_keys = jax.random.split(jax.random.PRNGKey(1), (ROWS, T))
  actions = jnp.zeros((ROWS, T, 1)).at[OTHER].set(0.5)
  limits = jnp.full((ROWS,), params.max_steps_in_episode).at[LIMITED].set(LIMIT)
  batch_params = params.replace(max_steps_in_episode=limits)
  poison = jnp.arange(ROWS) == POISONED

  def adapter(key, step_keys, actions, params, poison):
    obs0, state = env.reset(key, params)
    data = state.env_state.data
    data = data.replace(qvel=jnp.where(poison, jnp.nan, data.qvel))
    state = state.replace(env_state=state.env_state.replace(data=data))

    def body(state, x):
      k, a = x
      obs, state, reward, term, trunc, info = env.step(k, state, a, params)
      return state, (obs, reward, term, trunc, info["final_observation"])

    return obs0, jax.lax.scan(body, state, (step_keys, actions))[1]

  def suite(key, actions):
    state = raw.reset(key)

    def body(state, a):
      state = raw.step(state, a)
      return state, (state.obs, state.reward, state.done)

    return state.obs, jax.lax.scan(body, state, actions)[1]

  out = jax.jit(jax.vmap(adapter))(keys, step_keys, actions, batch_params, poison)
  suite_run = jax.jit(suite)
  raws = {i: suite_run(keys[i], actions[i]) for i in (ZERO, LIMITED, OTHER)}
  return dict(env=env, params=params, step_keys=step_keys, out=out, raws=raws)


def test_same_key_same_trajectory_as_playground(run):
  obs0, (obs, reward, term, trunc, final) = run["out"]
  raw_obs0, (raw_obs, raw_reward, raw_done) = run["raws"][ZERO]
  assert not np.any(raw_done)
  np.testing.assert_allclose(obs0[ZERO], raw_obs0, **TOL)
  np.testing.assert_allclose(obs[ZERO], raw_obs, **TOL)
  np.testing.assert_allclose(final[ZERO], raw_obs, **TOL)
  np.testing.assert_allclose(reward[ZERO], raw_reward, **TOL)
  assert not np.any(term[ZERO]) and not np.any(trunc[ZERO])
  assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32
  assert term.dtype == jnp.bool_ and trunc.dtype == jnp.bool_ and reward.shape == (ROWS, T)


def test_time_limit_is_truncation_with_true_final_observation(run):
  env, params = run["env"], run["params"]
  _, (obs, _, term, trunc, final) = run["out"]
  _, (raw_obs, _, _) = run["raws"][LIMITED]
  np.testing.assert_array_equal(np.flatnonzero(trunc[LIMITED]), [4, 9])
  assert not np.any(term[LIMITED])
  t = LIMIT - 1
  np.testing.assert_allclose(final[LIMITED, : t + 1], raw_obs[: t + 1], **TOL)
  reset_obs, _ = env.reset(run["step_keys"][LIMITED, t], params)
  np.testing.assert_allclose(obs[LIMITED, t], reset_obs, **TOL)
  assert not np.allclose(obs[LIMITED, t], final[LIMITED, t])


def test_nan_state_is_termination(run):
  _, (obs, _, term, trunc, final) = run["out"]
  assert term[POISONED, 0] and not trunc[POISONED, 0]
  assert np.isnan(final[POISONED, 0]).any()
  assert np.isfinite(obs[POISONED]).all()  # reset, then an ordinary episode
  assert not np.any(term[POISONED, 1:]) and not np.any(trunc[POISONED])


def test_vmapped_environments_are_independent(run):
  _, (obs, reward, _, _, _) = run["out"]
  assert not np.allclose(obs[ZERO], obs[OTHER])
  for i in (ZERO, OTHER):
    _, (raw_obs, raw_reward, _) = run["raws"][i]
    np.testing.assert_allclose(obs[i], raw_obs, **TOL)
    np.testing.assert_allclose(reward[i], raw_reward, **TOL)


def test_spaces_and_params():
  env, params = envs.make(f"playground:{NAME}", episode_length=9, action_repeat=2)
  obs_space, act_space = env.observation_space(params), env.action_space(params)
  assert isinstance(obs_space, spaces.Box) and obs_space.shape == (5,)
  assert isinstance(act_space, spaces.Box) and act_space.shape == (1,)
  np.testing.assert_array_equal(act_space.low, [-1.0])
  np.testing.assert_array_equal(act_space.high, [1.0])
  assert env.name == f"playground:{NAME}" and params.max_steps_in_episode == 5
  again, _ = envs.make(f"playground:{NAME}", action_repeat=2, episode_length=9)
  assert again == env and hash(again) == hash(env)
  assert env != envs.make(f"playground:{NAME}")[0]
  assert set(envs.env_options(f"playground:{NAME}")) == {
      "episode_length", "action_repeat", "ctrl_dt", "sim_dt", "impl"}


@pytest.mark.parametrize("kwargs, words", [
    (dict(episode_length=0), ["episode_length", "at least 1", "0"]),
    (dict(ctrl_dt=-0.1), ["ctrl_dt", "-0.1"]),
    (dict(impl="cuda"), ["impl", "'jax'", "'cuda'"]),
    (dict(ctrl_dt=0.001, sim_dt=0.01), ["ctrl_dt", "sim_dt"]),
    (dict(vision=True), ["vision", "episode_length"]),
])
def test_bad_options_refused_before_building(kwargs, words):
  with pytest.raises(ValueError) as err:
    envs.make(f"playground:{NAME}", **kwargs)
  for word in words:
    assert word in str(err.value), (word, str(err.value))


def test_names_are_the_dm_control_suite():
  names = envs.suite_names("playground")
  assert f"playground:{NAME}" in names and "playground:CheetahRun" in names
  assert not any("Go1" in n or "Panda" in n for n in names)
  with pytest.raises(ValueError, match="playground:CartpoleBalance'"):
    envs.make("playground:CartpoleBalanc")
  from jaxrl.envs.suites import playground
  with pytest.raises(ValueError, match="Menagerie"):
    playground.make("Go1JoystickFlatTerrain")
