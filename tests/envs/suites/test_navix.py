"""The navix adapter against navix itself: trajectories, the episode boundary, spaces, options.

Everything that runs is one jitted program (the module fixture), so the file compiles once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("navix")

import navix  # noqa: E402
from gymnax.environments import spaces  # noqa: E402

from jaxrl import envs  # noqa: E402

ROTATE_CCW, ROTATE_CW, FORWARD = 0, 1, 2
#: Empty-8x8: east along row 1 to the wall, south down column 6 onto the goal at step 11 (every
#: action of the set after it, in the next episode).
ACTIONS_8X8 = [FORWARD] * 5 + [ROTATE_CW] + [FORWARD] * 5 + [0, 2, 2, 1, 3, 4, 5, 6, 2]
GOAL_STEP_8X8 = 11
#: Empty-5x5 with max_steps=5: five turns (truncated), then onto the goal at (3, 3) in five
#: steps, exactly at the limit (terminated: navix's termination wins the tie), then two more.
ACTIONS_5X5 = [ROTATE_CCW] * 5 + [FORWARD, FORWARD, ROTATE_CW, FORWARD, FORWARD] + [2, 2]
OBSERVATIONS = {"symbolic": ((8, 8, 3), 0, 255), "symbolic_first_person": ((7, 7, 3), 0, 255),
                "categorical": ((8, 8), -1, 10), "rgb": ((64, 64, 3), 0, 255)}
NUM_ENVS, VMAP_STEPS = 3, 8


def _adapter_rollout(env, params, key, actions):
  key_reset, key_steps = jax.random.split(key)
  obs0, state = env.reset(key_reset, params)

  def body(state, xs):
    k, a = xs
    obs, state, reward, term, trunc, info = env.step(k, state, a, params)
    return state, (obs, reward, term, trunc, info["final_observation"])

  keys = jax.random.split(key_steps, actions.shape[0])
  _, out = jax.lax.scan(body, state, (keys, actions))
  return obs0, out


def _raw_rollout(raw, key, actions):
  """navix's own reset and (lazily resetting) step."""
  ts = raw.reset(key)

  def body(ts, a):
    ts = raw.step(ts, a)
    return ts, (ts.observation, ts.reward, ts.is_termination(), ts.is_truncation())

  _, out = jax.lax.scan(body, ts, actions)
  return ts.observation, out


@pytest.fixture(scope="module")
def run():
  env8, p8 = envs.make("navix:Navix-Empty-8x8-v0")
  env5, p5 = envs.make("navix:Navix-Empty-5x5-v0", max_steps=5)
  envr, pr = envs.make("navix:Navix-Empty-Random-5x5-v0", max_steps=5)
  by_obs = {o: envs.make("navix:Navix-Empty-8x8-v0", observation=o)[0] for o in OBSERVATIONS}
  raw8 = navix.make("Navix-Empty-8x8-v0")
  raw5 = navix.make("Navix-Empty-5x5-v0", max_steps=5)
  a8 = jnp.asarray(ACTIONS_8X8, jnp.int32)
  a5 = jnp.asarray(ACTIONS_5X5, jnp.int32)

  @jax.jit
  def program(key):
    k8, k5, kv, ka = jax.random.split(key, 4)
    key_reset, _ = jax.random.split(k8)
    out = {"a8": _adapter_rollout(env8, p8, k8, a8), "r8": _raw_rollout(raw8, key_reset, a8),
           "a5": _adapter_rollout(env5, p5, k5, a5),
           "r5": _raw_rollout(raw5, jax.random.split(k5)[0], a5)}
    keys = jax.random.split(kv, NUM_ENVS)
    acts = jax.random.randint(ka, (NUM_ENVS, VMAP_STEPS), 0, envr.num_actions)
    one = lambda k, a: _adapter_rollout(envr, pr, k, a)  # noqa: E731
    out["batch"] = jax.vmap(one)(keys, acts)
    out["alone"] = jax.lax.map(lambda ka: one(*ka), (keys, acts))
    out["obs"] = {o: e.reset(key, e.default_params)[0] for o, e in by_obs.items()}
    return out

  out = jax.device_get(program(jax.random.PRNGKey(7)))
  return {"out": out, "env8": env8, "env5": env5, "by_obs": by_obs}


def test_same_trajectory_as_navix_and_termination(run):
  (obs0, (obs, reward, term, trunc, final)), (raw0, (robs, rreward, rterm, rtrunc)) = (
      run["out"]["a8"], run["out"]["r8"])
  n = GOAL_STEP_8X8
  np.testing.assert_array_equal(obs0, raw0.astype(np.float32))
  np.testing.assert_array_equal(final[:n], robs[:n].astype(np.float32))
  np.testing.assert_array_equal(obs[:n - 1], robs[:n - 1].astype(np.float32))
  np.testing.assert_array_equal(reward[:n], rreward[:n])
  np.testing.assert_array_equal(term[:n], rterm[:n])
  np.testing.assert_array_equal(trunc[:n], rtrunc[:n])
  assert term[n - 1] and not trunc[n - 1] and reward[n - 1] == rreward[n - 1] == 1.0
  assert not term[:n - 1].any() and not trunc.any()
  # the goal step returns a reset observation: navix's (fixed) start, as navix's next step gives
  np.testing.assert_array_equal(obs[n - 1], robs[n].astype(np.float32))
  np.testing.assert_array_equal(obs[n - 1], obs0)
  for x in (obs, reward, final):
    assert x.dtype == np.float32
  assert term.dtype == trunc.dtype == np.bool_ and reward.shape == (len(ACTIONS_8X8),)


def test_time_limit_truncates_with_the_final_observation(run):
  (obs0, (obs, reward, term, trunc, final)), (_, (robs, rreward, rterm, rtrunc)) = (
      run["out"]["a5"], run["out"]["r5"])
  assert trunc.tolist() == [False] * 4 + [True] + [False] * 7
  assert rtrunc[4] and not rterm[4]
  np.testing.assert_array_equal(final[4], robs[4].astype(np.float32))
  assert not np.array_equal(final[4], obs0)  # the agent has turned
  np.testing.assert_array_equal(obs[4], obs0)  # and the episode restarted
  # the next episode reaches the goal on its fifth step, the limit: terminated, not truncated
  assert term.tolist() == [False] * 9 + [True] + [False] * 2
  assert reward[9] == 1.0 and reward.sum() == 1.0


def test_vmapped_envs_are_independent(run):
  batch, alone = run["out"]["batch"], run["out"]["alone"]
  for b, a in zip(jax.tree.leaves(batch), jax.tree.leaves(alone)):
    np.testing.assert_array_equal(b, a)
  obs0 = batch[0]
  assert not all(np.array_equal(obs0[0], obs0[i]) for i in range(1, NUM_ENVS))
  term, trunc = batch[1][2], batch[1][3]
  assert (term | trunc).any(axis=1).all()  # max_steps=5 in 8 steps: each env crossed a reset


def test_spaces(run):
  env8 = run["env8"]
  params = env8.default_params
  assert params.max_steps_in_episode == 100
  assert isinstance(env8.action_space(params), spaces.Discrete)
  assert env8.action_space(params).n == env8.num_actions == 7
  assert env8.name == "navix:Navix-Empty-8x8-v0"
  for name, (shape, low, high) in OBSERVATIONS.items():
    space = run["by_obs"][name].observation_space(params)
    obs = run["out"]["obs"][name]
    assert isinstance(space, spaces.Box) and space.shape == shape == obs.shape, name
    assert (space.low, space.high, space.dtype) == (low, high, jnp.float32), name
    assert obs.dtype == np.float32 and low <= obs.min() and obs.max() <= high, name
  assert run["env5"].default_params.max_steps_in_episode == 5
  assert env8 == envs.make("navix:Navix-Empty-8x8-v0", max_steps=100)[0]
  assert hash(env8) == hash(envs.make("navix:Navix-Empty-8x8-v0")[0])
  assert env8 != run["by_obs"]["rgb"] and env8 != run["env5"]


@pytest.mark.parametrize("kwargs,words", [
    ({"max_steps": 0}, "option max_steps must be at least 1, got 0"),
    ({"max_steps": 2.5}, "option max_steps must be an int"),
    ({"observation": "pixels"}, "option observation must be one of ('symbolic', "),
    ({"frames": 4}, "has no environment option(s) ['frames']; its options: max_steps, observ"),
])
def test_bad_options_refused(kwargs, words):
  with pytest.raises(ValueError) as err:
    envs.make("navix:Navix-Empty-8x8-v0", **kwargs)
  assert words in str(err.value)


def test_unknown_name_lists_close_matches():
  with pytest.raises(ValueError, match=r"Did you mean 'navix:Navix-Empty-8x8-v0'"):
    envs.make("navix:Navix-Empty-8x8-v1")
