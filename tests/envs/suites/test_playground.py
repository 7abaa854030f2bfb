"""The MuJoCo Playground adapter against Playground itself: trajectories, the episode boundary,
vmap, spaces, options.

One jitted, vmapped rollout through the adapter (CartpoleBalance, MJX's jax implementation) and
one through the raw Playground environment are compiled once (module fixture) and every test
reads them; so is one jitted function holding both the ``reset="cached"`` adapter and
Playground's own ``wrap_for_brax_training`` (cached first state), with a short episode. DM Control
tasks end only on a NaN in the physics state, so the termination row starts from a state with NaN
velocities.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("mujoco_playground")

from gymnax.environments import spaces  # noqa: E402
from mujoco_playground import wrapper  # noqa: E402

from jaxrl import envs  # noqa: E402

NAME = "CartpoleBalance"
T = 12
LIMIT = 5
# Rows of the batch: 0 and 3 hold still (no limit within T), 1 holds still under a 5-step limit,
# 2 starts from NaN velocities (a true termination at its first step).
ROWS = 4
ZERO, LIMITED, POISONED, OTHER = range(ROWS)
TOL = dict(rtol=1e-5, atol=1e-6)
# reset="cached": episodes of CACHED_EP steps (the poisoned row terminates at its first step).
CACHED_EP = 4


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

  def rollout(env):
    def adapter(key, step_keys, actions, params, poison):
      obs0, state = env.reset(key, params)
      start = state
      data = state.env_state.data
      data = data.replace(qvel=jnp.where(poison, jnp.nan, data.qvel))
      state = state.replace(env_state=state.env_state.replace(data=data))

      def body(state, x):
        k, a = x
        obs, state, reward, term, trunc, info = env.step(k, state, a, params)
        return state, (obs, reward, term, trunc, info["final_observation"])

      last, outs = jax.lax.scan(body, state, (step_keys, actions))
      return obs0, outs, (start, last)

    return adapter

  adapter = lambda *args: rollout(env)(*args)[:2]  # noqa: E731
  cached, cached_params = envs.make(f"playground:{NAME}", reset="cached",
                                    episode_length=CACHED_EP)
  wrapped = wrapper.wrap_for_brax_training(raw, episode_length=CACHED_EP)

  def cached_vs_wrapped(keys, step_keys, actions, poison):
    # The key Playground's wrapper resets each environment with: its `rng_key[..., 1]` of
    # vmap(split)(keys), [ROWS, 2, 2], takes the second word of both halves.
    reset_keys = jax.vmap(jax.random.split)(keys)[..., 1]
    batch = jax.tree.map(lambda x: jnp.full((ROWS,), x), cached_params)
    ours = jax.vmap(rollout(cached))(reset_keys, step_keys, actions, batch, poison)
    state = wrapped.reset(keys)
    qvel = jnp.where(poison[:, None], jnp.nan, state.data.qvel)
    state = state.replace(data=state.data.replace(qvel=qvel))

    def body(state, a):
      state = wrapped.step(state, a)
      return state, (state.obs, state.reward, state.done, state.info["truncation"])

    theirs = jax.lax.scan(body, state, jnp.swapaxes(actions, 0, 1))[1]
    return ours, jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), theirs)

  def suite(key, actions):
    state = raw.reset(key)

    def body(state, a):
      state = raw.step(state, a)
      return state, (state.obs, state.reward, state.done)

    return state.obs, jax.lax.scan(body, state, actions)[1]

  out = jax.jit(jax.vmap(adapter))(keys, step_keys, actions, batch_params, poison)
  suite_run = jax.jit(suite)
  raws = {i: suite_run(keys[i], actions[i]) for i in (ZERO, LIMITED, OTHER)}
  ours, theirs = jax.jit(cached_vs_wrapped)(keys, step_keys, actions, poison)
  return dict(env=env, params=params, step_keys=step_keys, out=out, raws=raws, cached=ours,
              wrapped=theirs)


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


def test_cached_reset_is_playground_training_wrapper(run):
  obs0, (obs, reward, term, trunc, final), (first, last) = run["cached"]
  w_obs, w_reward, w_done, w_trunc = run["wrapped"]
  # The same trajectory as wrap_for_brax_training, across boundaries (the NaN row's too).
  np.testing.assert_allclose(obs, w_obs, **TOL)
  np.testing.assert_allclose(reward, w_reward, **TOL)
  np.testing.assert_array_equal(trunc, w_trunc > 0)
  np.testing.assert_array_equal(term, (w_done > 0) & ~(w_trunc > 0))
  for i in (ZERO, LIMITED, OTHER):
    np.testing.assert_array_equal(np.flatnonzero(trunc[i]), [3, 7, 11])
  np.testing.assert_array_equal(np.flatnonzero(term[POISONED]), [0])
  np.testing.assert_array_equal(np.flatnonzero(trunc[POISONED]), [4, 8])
  # final_observation is the true last observation (NaN where the physics blew up)...
  assert np.isnan(final[POISONED, 0]).any() and np.isfinite(obs[POISONED]).all()
  ends = term | trunc
  np.testing.assert_array_equal(final[~ends], obs[~ends])
  # ...and each episode starts again from the environment's first observation.
  for i in range(ROWS):
    for t in np.flatnonzero(ends[i]):
      np.testing.assert_array_equal(obs[i, t], obs0[i])
  assert not np.allclose(obs0[ZERO], obs0[OTHER])  # different rows, different first states
  # The state restored at the last step's boundary is the first one.
  for i in (ZERO, LIMITED, OTHER):
    for a, b in zip(jax.tree.leaves(last.env_state.data), jax.tree.leaves(first.env_state.data)):
      np.testing.assert_array_equal(a[i], b[i])
    assert int(last.time[i]) == 0


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
      "episode_length", "action_repeat", "ctrl_dt", "sim_dt", "impl", "reset"}
  assert env.options["reset"] == "fresh"
  cached, _ = envs.make(f"playground:{NAME}", episode_length=9, action_repeat=2, reset="cached")
  assert cached != env and hash(cached) != hash(env)


@pytest.mark.parametrize("kwargs, words", [
    (dict(episode_length=0), ["episode_length", "at least 1", "0"]),
    (dict(ctrl_dt=-0.1), ["ctrl_dt", "-0.1"]),
    (dict(impl="cuda"), ["impl", "'jax'", "'cuda'"]),
    (dict(reset="again"), ["reset", "('fresh', 'cached')", "'again'"]),
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


def test_menagerie_tasks_are_refused_by_name_with_the_reason():
  for call in (envs.make, envs.env_options):
    with pytest.raises(ValueError) as err:
      call("playground:Go1JoystickFlatTerrain")
    message = str(err.value)
    for word in ("playground:Go1JoystickFlatTerrain", "Menagerie", "offline",
                 "DM Control Suite", "CartpoleBalance"):
      assert word in message, (word, message)
    assert "has no environment" not in message
