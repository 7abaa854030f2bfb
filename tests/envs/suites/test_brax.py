"""The Brax adapter against Brax itself: trajectories, the episode boundary, vmap, spaces, options.

One jitted, vmapped rollout through the adapter and one through the raw Brax environment are
compiled once (module fixture) and every test reads them; so is one jitted function holding both
the ``reset="cached"`` adapter and Brax's own ``training.wrap`` (its ``AutoResetWrapper``), with a
short episode so that boundaries come quickly.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax")

from brax.envs import training  # noqa: E402
from gymnax.environments import spaces  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.envs.suites import brax as brax_suite  # noqa: E402

NAME = "inverted_pendulum"
T = 20
LIMIT = 5
# Rows of the batch: 0 and 3 hold still (no limit within T), 1 holds still under a 5-step limit,
# 2 pushes with a constant +1 until the pole falls (a true termination).
ROWS = 4
ZERO, LIMITED, PUSH, OTHER = range(ROWS)
# reset="cached": every row truncates after CACHED_EP steps (PUSH may terminate before).
CACHED_EP = 5


@pytest.fixture(scope="module")
def run():
  env, params = envs.make(f"brax:{NAME}")
  raw = env.env
  keys = jax.random.split(jax.random.PRNGKey(0), ROWS)
  step_keys = jax.random.split(jax.random.PRNGKey(1), (ROWS, T))
  actions = jnp.zeros((ROWS, T, 1)).at[PUSH].set(1.0)
  limits = jnp.full((ROWS,), params.max_steps_in_episode).at[LIMITED].set(LIMIT)
  batch_params = params.replace(max_steps_in_episode=limits)

  def rollout(env):
    def adapter(key, step_keys, actions, params):
      obs0, state = env.reset(key, params)

      def body(state, x):
        k, a = x
        obs, state, reward, term, trunc, info = env.step(k, state, a, params)
        return state, (obs, reward, term, trunc, info["final_observation"])

      last, outs = jax.lax.scan(body, state, (step_keys, actions))
      return obs0, outs, (state, last)

    return adapter

  adapter = lambda *args: rollout(env)(*args)[:2]  # noqa: E731
  cached, cached_params = envs.make(f"brax:{NAME}", reset="cached", episode_length=CACHED_EP)
  wrapped = training.wrap(raw, episode_length=CACHED_EP)

  def cached_vs_wrapped(keys, step_keys, actions):
    batch = jax.tree.map(lambda x: jnp.full((ROWS,), x), cached_params)
    ours = jax.vmap(rollout(cached))(keys, step_keys, actions, batch)

    def body(state, a):
      state = wrapped.step(state, a)
      return state, (state.obs, state.reward, state.done, state.info["truncation"])

    theirs = jax.lax.scan(body, wrapped.reset(keys), jnp.swapaxes(actions, 0, 1))[1]
    return ours, jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), theirs)

  def suite(key, actions):
    state = raw.reset(key)

    def body(state, a):
      state = raw.step(state, a)
      return state, (state.obs, jnp.asarray(state.reward, jnp.float32), state.done)

    return state.obs, jax.lax.scan(body, state, actions)[1]

  out = jax.jit(jax.vmap(adapter))(keys, step_keys, actions, batch_params)
  suite_run = jax.jit(suite)
  raws = [suite_run(keys[i], actions[i]) for i in range(ROWS)]
  ours, theirs = jax.jit(cached_vs_wrapped)(keys, step_keys, actions)
  return dict(env=env, params=params, keys=keys, step_keys=step_keys, out=out, raws=raws,
              cached=ours, wrapped=theirs)


def test_same_key_same_trajectory_as_brax(run):
  obs0, (obs, reward, term, trunc, final) = run["out"]
  raw_obs0, (raw_obs, raw_reward, raw_done) = run["raws"][ZERO]
  assert not np.any(raw_done)
  np.testing.assert_allclose(obs0[ZERO], raw_obs0, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(obs[ZERO], raw_obs, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(final[ZERO], raw_obs, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(reward[ZERO], raw_reward)
  assert not np.any(term[ZERO]) and not np.any(trunc[ZERO])
  assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32
  assert term.dtype == jnp.bool_ and trunc.dtype == jnp.bool_ and reward.shape == (ROWS, T)


def test_time_limit_is_truncation_with_true_final_observation(run):
  env, params = run["env"], run["params"]
  _, (obs, _, term, trunc, final) = run["out"]
  _, (raw_obs, _, _) = run["raws"][LIMITED]
  ends = np.flatnonzero(trunc[LIMITED])
  np.testing.assert_array_equal(ends, [4, 9, 14, 19])
  assert not np.any(term[LIMITED])
  t = LIMIT - 1
  # The first episode is the suite's own trajectory up to its last step...
  np.testing.assert_allclose(final[LIMITED, t], raw_obs[t], rtol=1e-5, atol=1e-6)
  # ...and the returned observation is a fresh reset with the step's key.
  reset_obs, _ = env.reset(run["step_keys"][LIMITED, t], params)
  np.testing.assert_allclose(obs[LIMITED, t], reset_obs, rtol=1e-6, atol=1e-7)
  assert not np.allclose(obs[LIMITED, t], final[LIMITED, t])


def test_falling_over_is_termination(run):
  _, (obs, _, term, trunc, final) = run["out"]
  _, (raw_obs, _, raw_done) = run["raws"][PUSH]
  assert np.any(term[PUSH]), "the pole should fall within T steps under a constant push"
  t = int(np.flatnonzero(term[PUSH])[0])
  assert not np.any(trunc[PUSH])
  assert raw_done[t] == 1.0 and not np.any(raw_done[:t])
  np.testing.assert_allclose(final[PUSH, : t + 1], raw_obs[: t + 1], rtol=1e-5, atol=1e-6)
  assert abs(float(final[PUSH, t, 1])) > 0.2  # the angle that ended it
  assert abs(float(obs[PUSH, t, 1])) <= 0.01  # a reset observation


def test_vmapped_environments_are_independent(run):
  _, (obs, reward, _, _, _) = run["out"]
  assert not np.allclose(obs[ZERO], obs[OTHER])
  for i in (ZERO, OTHER):
    _, (raw_obs, raw_reward, _) = run["raws"][i]
    np.testing.assert_allclose(obs[i], raw_obs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reward[i], raw_reward)


def test_cached_reset_is_brax_auto_reset_wrapper(run):
  obs0, (obs, reward, term, trunc, final), (first, last) = run["cached"]
  w_obs, w_reward, w_done, w_trunc = run["wrapped"]
  # The same trajectory as Brax's training.wrap, across episode boundaries.
  np.testing.assert_allclose(obs, w_obs, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(reward, w_reward, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(trunc, w_trunc > 0)
  np.testing.assert_array_equal(term, (w_done > 0) & ~(w_trunc > 0))
  np.testing.assert_array_equal(np.flatnonzero(trunc[ZERO]), [4, 9, 14, 19])
  assert not np.any(term[ZERO]) and not np.any(term[OTHER])
  # final_observation is the true last observation: the suite's own, before the restore...
  _, (raw_obs, _, _) = run["raws"][ZERO]
  t = CACHED_EP - 1
  np.testing.assert_allclose(final[ZERO, t], raw_obs[t], rtol=1e-5, atol=1e-6)
  ends = term | trunc
  np.testing.assert_array_equal(final[~ends], obs[~ends])
  # ...and every episode starts again from the environment's own first observation.
  for i in range(ROWS):
    for t in np.flatnonzero(ends[i]):
      np.testing.assert_array_equal(obs[i, t], obs0[i])
  np.testing.assert_allclose(obs[ZERO, 5:10], obs[ZERO, :5], rtol=1e-6, atol=1e-7)
  assert not np.allclose(obs0[ZERO], obs0[OTHER])  # different rows, different first states
  # The restored state (after the boundary at the last step) is the first state.
  for i in (ZERO, OTHER):
    for a, b in zip(jax.tree.leaves(last.env_state.pipeline_state),
                    jax.tree.leaves(first.env_state.pipeline_state)):
      np.testing.assert_array_equal(a[i], b[i])
    assert int(last.time[i]) == 0
  for a, b in zip(jax.tree.leaves(last.first), jax.tree.leaves(first.first)):
    np.testing.assert_array_equal(a, b)


def test_spaces():
  env, params = envs.make(f"brax:{NAME}")
  obs_space, act_space = env.observation_space(params), env.action_space(params)
  assert isinstance(obs_space, spaces.Box) and obs_space.shape == (4,)
  assert obs_space.dtype == jnp.float32
  assert isinstance(act_space, spaces.Box) and act_space.shape == (1,)
  np.testing.assert_array_equal(act_space.low, [-1.0])
  np.testing.assert_array_equal(act_space.high, [1.0])
  assert env.name == f"brax:{NAME}" and env.num_actions == 1
  assert params.max_steps_in_episode == 1000


def test_equal_options_equal_envs_and_params_from_options():
  a, _ = envs.make(f"brax:{NAME}", episode_length=7, action_repeat=2)
  b, params = envs.make(f"brax:{NAME}", action_repeat=2, episode_length=7)
  c, _ = envs.make(f"brax:{NAME}", episode_length=8, action_repeat=2)
  assert a == b and hash(a) == hash(b) and a != c
  assert params.max_steps_in_episode == 4  # ceil(7 / 2) adapter steps: 7 suite steps
  assert a.options["backend"] == brax_suite.DEFAULT_BACKEND
  d, _ = envs.make(f"brax:{NAME}", episode_length=7, action_repeat=2, reset="cached")
  assert a.options["reset"] == "fresh" and d.options["reset"] == "cached"
  assert d != a and hash(d) != hash(a) and d == envs.make(f"brax:{NAME}", episode_length=7,
                                                          action_repeat=2, reset="cached")[0]


def test_options_listing():
  opts = envs.env_options(f"brax:{NAME}")
  assert set(opts) == {"backend", "episode_length", "action_repeat", "reset"}
  assert opts["reset"].choices == ("fresh", "cached")
  with pytest.raises(ValueError, match=r"reset must be one of \('fresh', 'cached'\), got "
                                       r"'again'"):
    envs.make(f"brax:{NAME}", reset="again")
  assert set(opts["backend"].choices) == {"generalized", "positional", "spring", "mjx"}
  assert envs.env_options("brax:swimmer")["backend"].choices == ("generalized",)
  assert "backend" not in envs.env_options("brax:fast")


@pytest.mark.parametrize("kwargs, words", [
    (dict(episode_length=0), ["episode_length", "at least 1", "0"]),
    (dict(action_repeat=-2), ["action_repeat", "at least 1", "-2"]),
    (dict(episode_length=2.5), ["episode_length", "int"]),
    (dict(backend="nope"), ["backend", "generalized", "'nope'"]),
    (dict(frames=3), ["frames", "episode_length"]),
])
def test_bad_options_refused_before_building(kwargs, words):
  with pytest.raises(ValueError) as err:
    envs.make("brax:ant", **kwargs)
  for word in words:
    assert word in str(err.value), (word, str(err.value))


def test_unknown_name_gives_close_matches():
  with pytest.raises(ValueError, match="brax:ant'"):
    envs.make("brax:antt")
  assert f"brax:{NAME}" in envs.suite_names("brax")


def test_importing_jaxrl_does_not_import_brax():
  code = "import sys, jaxrl, jaxrl.envs; assert 'brax' not in sys.modules, 'brax imported'"
  subprocess.run([sys.executable, "-c", code], check=True)
