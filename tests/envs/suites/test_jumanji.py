"""The jumanji adapter against jumanji itself (its AutoResetWrapper): one jitted rollout shared
by every check."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("jumanji")

from jumanji.types import StepType  # noqa: E402
from jumanji.wrappers import AutoResetWrapper  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.envs.suites import jumanji as adapter  # noqa: E402

ROWS, COLS, LIMIT = 6, 6, 5
NUM_ENVS, STEPS = 6, 20
UP = 0


def _raw_rollout(raw, key0, actions):
  """Snake through jumanji's own AutoResetWrapper (the observation before the reset in extras):
  the flattened observations, rewards, step types, discounts, the pre-reset step counts and
  observations, and the action mask of the returned observation."""
  raw = AutoResetWrapper(raw, next_obs_in_extras=True)
  state, timestep = raw.reset(key0)

  def body(state, action):
    state, timestep = raw.step(state, action)
    before = timestep.extras["next_obs"]
    return state, (timestep.reward, timestep.step_type, timestep.discount, before.step_count,
                   adapter._flatten(before), adapter._flatten(timestep.observation),
                   timestep.observation.action_mask)

  return adapter._flatten(timestep.observation), jax.lax.scan(body, state, actions)[1]


def _rollout(env, params, key0, keys, actions):
  obs0, state = env.reset(key0, params)

  def body(state, xs):
    key, action = xs
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
    return state, (obs, reward, terminated, truncated, info["final_observation"],
                   info["action_mask"], env.action_mask(state))

  return obs0, jax.lax.scan(body, state, (keys, actions))[1]


@pytest.fixture(scope="module")
def run():
  env, params = envs.make("jumanji:Snake-v1", num_rows=ROWS, num_cols=COLS, time_limit=LIMIT)
  raw = env.unwrapped
  keys = jax.random.split(jax.random.key(3), NUM_ENVS * (STEPS + 1)).reshape(NUM_ENVS, STEPS + 1)
  key0, step_keys = keys[:, 0], keys[:, 1:]
  # Mostly UP, so snakes run into the top wall (termination) or outlive the time limit.
  actions = jnp.where(jnp.arange(STEPS) % 7 == 3, 1, UP)[None].repeat(NUM_ENVS, 0)

  @jax.jit
  def both():
    batch = jax.vmap(lambda k, ks, a: _rollout(env, params, k, ks, a))(key0, step_keys, actions)
    alone = _rollout(env, params, key0[1], step_keys[1], actions[1])
    truth = jax.vmap(lambda k, a: _raw_rollout(raw, k, a))(key0, actions)
    return batch, alone, truth

  batch, alone, truth = jax.device_get(both())
  return env, params, batch, alone, truth


def test_same_trajectory_as_jumanji(run):
  _, _, (obs0, (obs, reward, *_)), _, (raw_obs0, (raw_reward, *_, raw_obs, _)) = run
  np.testing.assert_array_equal(obs0, raw_obs0)
  np.testing.assert_array_equal(obs, raw_obs)
  np.testing.assert_array_equal(reward, raw_reward)
  assert obs.dtype == np.float32 and reward.dtype == np.float32
  assert obs.shape == (NUM_ENVS, STEPS, ROWS * COLS * 5 + 1)


def test_episode_boundary(run):
  _, _, (_, (obs, _, term, trunc, final, *_)), _, truth = run
  _, (_, step_type, discount, step_count, raw_final, raw_obs, _) = truth
  assert term.dtype == np.bool_ and trunc.dtype == np.bool_
  last = step_type == StepType.LAST
  timed_out = last & (step_count >= LIMIT)
  # Snake ends on its time limit with discount 0, like a termination: the step count tells.
  assert np.all(discount[timed_out] == 0)
  assert timed_out.any() and (last & ~timed_out).any()
  np.testing.assert_array_equal(trunc, timed_out)
  np.testing.assert_array_equal(term, last & ~timed_out)
  assert not np.any(term & trunc)
  # The successor before the reset, and a reset observation returned (step count 0).
  np.testing.assert_array_equal(final, raw_final)
  assert np.all(final[timed_out][:, -1] == LIMIT)
  assert np.all(obs[last][:, -1] == 0)


def test_vmapped_envs_independent(run):
  _, _, (obs0, rollout), (alone_obs0, alone), _ = run
  np.testing.assert_array_equal(obs0[1], alone_obs0)
  for batched, single in zip(rollout, alone):
    np.testing.assert_array_equal(batched[1], single)
  assert not np.array_equal(rollout[0][0], rollout[0][1])


def test_spaces_and_action_mask(run):
  env, params, (_, (*_, mask, state_mask)), _, (_, (*_, raw_mask)) = run
  assert env.action_space(params).n == 4 and env.num_actions == 4
  space = env.observation_space(params)
  assert space.shape == (ROWS * COLS * 5 + 1,) and space.dtype == jnp.float32
  assert np.all(space.low == 0) and np.all(space.high[:-1] == 1) and space.high[-1] == LIMIT - 1
  np.testing.assert_array_equal(mask, raw_mask)
  np.testing.assert_array_equal(state_mask, raw_mask)
  assert mask.dtype == np.bool_ and not mask.all()
  assert env.name == "jumanji:Snake-v1"
  same, _ = envs.make("jumanji:Snake-v1", num_rows=ROWS, num_cols=COLS, time_limit=LIMIT)
  assert same == env and hash(same) == hash(env)
  assert envs.make("jumanji:Snake-v1")[0] != env


def test_options_checked_before_building():
  options = envs.env_options("jumanji:Snake-v1")
  assert set(options) == {"num_rows", "num_cols", "time_limit"}
  with pytest.raises(ValueError, match=r"time_limit must be at least 1, got 0"):
    envs.make("jumanji:Snake-v1", time_limit=0)
  with pytest.raises(ValueError, match=r"num_rows must be an int"):
    envs.make("jumanji:Snake-v1", num_rows=2.5)
  with pytest.raises(ValueError, match=r"no environment option\(s\) \['viewer'\]"):
    envs.make("jumanji:Snake-v1", viewer=None)
  with pytest.raises(ValueError, match=r"Did you mean 'jumanji:Snake-v1'"):
    envs.make("jumanji:Snake-v2")
  assert "jumanji:Tetris-v0" in envs.suite_names("jumanji")
  with pytest.raises(ValueError, match=r"MultiDiscreteArray \[4, 6\]"):
    envs.make("jumanji:Tetris-v0", num_rows=6, num_cols=6)
