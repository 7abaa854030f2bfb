"""The xminigrid adapter against xminigrid itself (its GymAutoResetWrapper): one jitted rollout
shared by every check."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("xminigrid")

from xminigrid.types import StepType  # noqa: E402
from xminigrid.wrappers import GymAutoResetWrapper  # noqa: E402

from jaxrl import envs  # noqa: E402

NAME = "MiniGrid-Empty-5x5"
MAX_STEPS, VIEW = 6, 3
STEPS = 20
# Env 0 walks to the goal in 5 steps (forward, forward, turn right, forward, forward: a
# termination before max_steps); env 1 only turns (a truncation every 6 steps); env 2 acts at
# random.
_GOAL = jnp.array([0, 0, 1, 0, 0])


def _actions():
  random = jax.random.randint(jax.random.key(7), (STEPS,), 0, 6)
  return jnp.stack([_GOAL[jnp.arange(STEPS) % 5], jnp.ones(STEPS, jnp.int32), random])


def _raw_rollout(raw, params, key0, actions):
  """xminigrid through its own GymAutoResetWrapper (``after``), and the same steps without the
  reset (``before``: the observation of the successor, which the wrapper does not keep)."""
  wrapped = GymAutoResetWrapper(raw)
  timestep = wrapped.reset(params, key0)

  def body(timestep, action):
    before = raw.step(params, timestep, action)
    after = wrapped.step(params, timestep, action)
    return after, (before, after)

  return timestep, jax.lax.scan(body, timestep, actions)[1]


def _rollout(env, params, key0, keys, actions):
  obs0, state = env.reset(key0, params)

  def body(state, xs):
    key, action = xs
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
    return state, (obs, state, reward, terminated, truncated, info["final_observation"])

  return obs0, jax.lax.scan(body, state, (keys, actions))[1]


@pytest.fixture(scope="module")
def run():
  env, params = envs.make(f"xminigrid:{NAME}", max_steps=MAX_STEPS, view_size=VIEW)
  keys = jax.random.split(jax.random.key(3), 3 * (STEPS + 1)).reshape(3, STEPS + 1)
  key0, step_keys = keys[:, 0], keys[:, 1:]
  actions = _actions()

  @jax.jit
  def both():
    batch = jax.vmap(lambda k, ks, a: _rollout(env, params, k, ks, a))(key0, step_keys, actions)
    alone = _rollout(env, params, key0[2], step_keys[2], actions[2])
    truth = jax.vmap(lambda k, a: _raw_rollout(env.unwrapped, params, k, a))(key0, actions)
    return jax.tree.map(_key_data, (batch, alone, truth))

  batch, alone, truth = jax.device_get(both())
  return env, params, batch, alone, truth


def _key_data(x):
  return jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def _flat(x):
  return np.asarray(x, np.float32).reshape(*x.shape[:2], -1)


def test_same_trajectory_as_xminigrid(run):
  _, _, (obs0, (obs, state, reward, *_)), _, (raw0, (before, after)) = run
  np.testing.assert_array_equal(obs0, np.asarray(raw0.observation, np.float32).reshape(3, -1))
  np.testing.assert_array_equal(obs, _flat(after.observation))
  np.testing.assert_array_equal(reward, before.reward)
  for ours, theirs in zip(jax.tree.leaves(state), jax.tree.leaves(after)):
    np.testing.assert_array_equal(ours, theirs)
  assert obs.dtype == np.float32 and reward.dtype == np.float32
  assert obs.shape == (3, STEPS, VIEW * VIEW * 2)


def test_episode_boundary(run):
  _, _, (_, (obs, _, reward, term, trunc, final)), _, (_, (before, after)) = run
  assert term.dtype == np.bool_ and trunc.dtype == np.bool_
  last = before.step_type == StepType.LAST
  np.testing.assert_array_equal(term, last & (before.discount == 0))
  np.testing.assert_array_equal(trunc, last & (before.discount == 1))
  # The walker reaches the goal on every fifth step; the turner runs out of time every sixth.
  np.testing.assert_array_equal(np.flatnonzero(term[0]) + 1, [5, 10, 15, 20])
  assert not trunc[0].any() and np.all(reward[0][term[0]] > 0)
  np.testing.assert_array_equal(np.flatnonzero(trunc[1]) + 1, [6, 12, 18])
  assert not term[1].any()
  # The successor before the reset; a reset observation returned.
  np.testing.assert_array_equal(final, _flat(before.observation))
  assert not np.array_equal(final[1][trunc[1]], obs[1][trunc[1]])
  np.testing.assert_array_equal(obs[last], _flat(after.observation)[last])
  np.testing.assert_array_equal(after.state.step_num[last], 0)


def test_vmapped_envs_independent(run):
  _, _, (obs0, rollout), (alone_obs0, alone), _ = run
  np.testing.assert_array_equal(obs0[2], alone_obs0)
  for batched, single in zip(jax.tree.leaves(rollout), jax.tree.leaves(alone)):
    np.testing.assert_array_equal(batched[2], single)


def test_spaces(run):
  env, params, *_ = run
  assert env.action_space(params).n == 6 and env.num_actions == 6
  space = env.observation_space(params)
  assert space.shape == (VIEW * VIEW * 2,) and space.dtype == jnp.float32
  assert space.low.min() == 0 and space.high.max() == 12
  image, image_params = envs.make(f"xminigrid:{NAME}", observation="image")
  assert image.observation_space(image_params).shape == (7, 7, 2)
  assert image_params.max_steps == 4 * 5 * 5 and params.max_steps == MAX_STEPS
  assert env.name == f"xminigrid:{NAME}" and env.default_params == params
  same, _ = envs.make(f"xminigrid:{NAME}", view_size=VIEW, max_steps=MAX_STEPS)
  assert same == env and hash(same) == hash(env) and image != env


def test_options_checked_before_building():
  assert set(envs.env_options(f"xminigrid:{NAME}")) == {"max_steps", "view_size", "observation"}
  with pytest.raises(ValueError, match=r"max_steps must be at least 1, got 0"):
    envs.make(f"xminigrid:{NAME}", max_steps=0)
  with pytest.raises(ValueError, match=r"view_size must be an odd int >= 3, got 4"):
    envs.make(f"xminigrid:{NAME}", view_size=4)
  with pytest.raises(ValueError, match=r"observation must be one of \('flat', 'image'\)"):
    envs.make(f"xminigrid:{NAME}", observation="rgb")
  with pytest.raises(ValueError, match=r"Did you mean 'xminigrid:MiniGrid-Empty-8x8'"):
    envs.make("xminigrid:MiniGrid-Empty-8x9")
  assert "xminigrid:XLand-MiniGrid-R1-9x9" in envs.suite_names("xminigrid")
  with pytest.raises(ValueError, match=r"load_benchmark"):
    envs.make("xminigrid:XLand-MiniGrid-R1-9x9")
