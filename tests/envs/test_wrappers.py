"""Wrappers: EpisodeStatistics, TimeLimit, NormalizeObservation, FrameStack."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import environment
from gymnax.environments import spaces

from jaxrl.envs import EpisodeStatistics
from jaxrl.envs import FrameStack
from jaxrl.envs import NormalizeObservation
from jaxrl.envs import TimeLimit
from jaxrl.envs import chain_env
from tests import codegen

LEFT, RIGHT = 0, 1


def _rollout(env, params, actions, key=jax.random.key(0)):
  """Jitted scan of a fixed action sequence from reset; returns (obs0, state0, stacked outputs)."""

  def run():
    obs0, state0 = env.reset(key, params)

    def body(state, xs):
      k, a = xs
      obs, state, reward, terminated, truncated, info = env.step(k, state, a, params)
      return state, (obs, state, reward, terminated, truncated, info)

    keys = jax.random.split(jax.random.key(1), len(actions))
    _, out = jax.lax.scan(body, state0, (keys, jnp.asarray(actions, jnp.int32)))
    return obs0, state0, out

  return jax.jit(run)()


class Ticker(environment.Environment):
  """Test env: observation ``time`` (per episode) as a ``[2, 2, 1]`` image, or Gaussian noise.

  ``kind="image"``: obs = full([2, 2, 1], time); reward 1; terminates when time reaches 3.
  ``kind="gaussian"``: obs = 3 + 2 * normal(key, [2]) (mean 3, variance 4); never ends.
  """

  def __init__(self, kind: str):
    super().__init__()
    self.kind = kind

  @property
  def default_params(self):
    return environment.EnvParams(max_steps_in_episode=10_000)

  def _obs(self, key, time):
    if self.kind == "image":
      return jnp.full((2, 2, 1), time, jnp.float32)
    return 3.0 + 2.0 * jax.random.normal(key, (2,))

  def step_env(self, key, state, action, params):
    time = state.time + 1
    terminated = (time >= 3) if self.kind == "image" else jnp.zeros((), bool)
    return (self._obs(key, time), environment.EnvState(time=time), jnp.float32(1.0), terminated,
            {})

  def reset_env(self, key, params):
    time = jnp.zeros((), jnp.int32)
    return self._obs(key, time), environment.EnvState(time=time)

  @property
  def num_actions(self):
    return 1

  def action_space(self, params=None):
    return spaces.Discrete(1)

  def observation_space(self, params=None):
    shape = (2, 2, 1) if self.kind == "image" else (2,)
    return spaces.Box(0.0, 10.0, shape, jnp.float32)


# ---------------------------------------------------------------------------------------------
# EpisodeStatistics
# ---------------------------------------------------------------------------------------------
def test_episode_statistics_counts_only_finished_episodes():
  # Chain of 5: start in 2, living reward -0.25, exits 10 (cell 0) and 1 (cell 4), limit 4.
  env, params = chain_env(5, start=2, living_reward=-0.25, max_steps_in_episode=4)
  env = EpisodeStatistics(env)
  actions = [RIGHT, RIGHT,               # 2 -> 3 -> 4: terminated, return -0.25 + 0.75 = 0.5
             LEFT, LEFT,                 # 2 -> 1 -> 0: terminated, return -0.25 + 9.75 = 9.5
             RIGHT, LEFT, RIGHT, LEFT,   # truncated after 4 steps, return -1.0
             RIGHT]                      # unfinished: not counted
  _, state0, (_, state, reward, terminated, truncated, info) = _rollout(env, params, actions)
  assert float(state0.episode_return) == 0.0 and int(state0.episode_length) == 0
  np.testing.assert_array_equal(info["episode_done"], [0, 1, 0, 1, 0, 0, 0, 1, 0])
  np.testing.assert_allclose(info["episode_return"], [0, 0.5, 0, 9.5, 0, 0, 0, -1.0, 0])
  np.testing.assert_array_equal(info["episode_length"], [0, 2, 0, 2, 0, 0, 0, 4, 0])
  np.testing.assert_array_equal(terminated, [0, 1, 0, 1, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(truncated, [0, 0, 0, 0, 0, 0, 0, 1, 0])
  # the running episode is in the state, not in info
  assert float(state.episode_return[-1]) == -0.25 and int(state.episode_length[-1]) == 1
  mean = np.sum(info["episode_return"]) / np.sum(info["episode_done"])
  assert mean == pytest.approx((0.5 + 9.5 - 1.0) / 3)
  assert info["episode_return"].dtype == jnp.float32
  assert info["episode_length"].dtype == jnp.int32
  assert "final_observation" in info and env.num_actions == 2


# ---------------------------------------------------------------------------------------------
# TimeLimit
# ---------------------------------------------------------------------------------------------
def test_time_limit_truncates_with_final_observation():
  env, params = chain_env(5, start=2, max_steps_in_episode=100)
  env = TimeLimit(env, 3)
  actions = [LEFT, RIGHT, LEFT,    # 2 -> 1 -> 2 -> 1: truncated, final obs = cell 1
             RIGHT, RIGHT,         # 2 -> 3 -> 4: terminated inside the limit
             LEFT, RIGHT, RIGHT]   # the counter restarted: 2 -> 1 -> 2 -> 3 truncated
  obs0, _, (obs, state, _, terminated, truncated, info) = _rollout(env, params, actions)
  np.testing.assert_array_equal(truncated, [0, 0, 1, 0, 0, 0, 0, 1])
  np.testing.assert_array_equal(terminated, [0, 0, 0, 0, 1, 0, 0, 0])
  np.testing.assert_array_equal(info["truncated"], truncated)
  np.testing.assert_array_equal(state.time, [1, 2, 0, 1, 0, 1, 2, 0])
  final = np.argmax(info["final_observation"], -1)
  np.testing.assert_array_equal(final, [1, 2, 1, 3, 4, 1, 2, 3])
  np.testing.assert_array_equal(np.argmax(obs, -1), [1, 2, 2, 3, 2, 1, 2, 2])
  np.testing.assert_array_equal(state.env_state.time, [1, 2, 0, 1, 0, 1, 2, 0])


def test_time_limit_never_reports_truncated_with_terminated():
  env, params = chain_env(5, start=3, max_steps_in_episode=100)
  _, _, (_, _, _, terminated, truncated, _) = _rollout(TimeLimit(env, 1), params, [RIGHT, LEFT])
  np.testing.assert_array_equal(terminated, [1, 0])
  np.testing.assert_array_equal(truncated, [0, 1])


def test_time_limit_refuses_bad_limits_and_is_hashable_by_value():
  env, _ = chain_env(5)
  for bad in (0, -1, 2.5, True):
    with pytest.raises(ValueError, match="max_steps"):
      TimeLimit(env, bad)
  assert TimeLimit(env, 3) == TimeLimit(env, 3) and TimeLimit(env, 3) != TimeLimit(env, 4)
  assert hash(TimeLimit(env, 3)) == hash(TimeLimit(env, 3))
  assert TimeLimit(EpisodeStatistics(env), 3).unwrapped is env


# ---------------------------------------------------------------------------------------------
# NormalizeObservation
# ---------------------------------------------------------------------------------------------
NUM_STEPS = 2000


def test_normalize_observation_matches_welford_and_converges():
  inner = Ticker("gaussian")
  params = inner.default_params
  env = NormalizeObservation(inner)
  actions = [0] * NUM_STEPS
  obs0, _, (obs, state, _, _, _, info) = _rollout(env, params, actions)
  raw0, _, (raw, *_) = _rollout(inner, params, actions)  # same keys reach the inner env
  everything = np.concatenate([np.asarray(raw0)[None], np.asarray(raw)])
  np.testing.assert_allclose(state.count[-1], NUM_STEPS + 1)
  np.testing.assert_allclose(state.mean[-1], everything.mean(0), rtol=1e-4)
  np.testing.assert_allclose(state.variance[-1], everything.var(0), rtol=1e-3)
  np.testing.assert_allclose(state.mean[-1], [3.0, 3.0], atol=0.15)
  np.testing.assert_allclose(state.variance[-1], [4.0, 4.0], rtol=0.1)
  late = np.asarray(obs[NUM_STEPS // 2:])
  np.testing.assert_allclose(late.mean(0), 0.0, atol=0.1)
  np.testing.assert_allclose(late.var(0), 1.0, atol=0.1)
  # each step: obs normalised with the statistics that include it; final obs the same way
  t = 10
  expected = (raw[t] - state.mean[t]) / np.sqrt(state.variance[t] + 1e-8)
  np.testing.assert_allclose(obs[t], expected, rtol=1e-5)
  np.testing.assert_allclose(info["final_observation"][t], expected, rtol=1e-5)
  assert env.observation_space(params).shape == (2,)


def test_normalize_observation_vmap_own_or_pooled_statistics():
  inner = Ticker("gaussian")
  params = inner.default_params
  keys = jax.random.split(jax.random.key(3), 4)
  own = NormalizeObservation(inner)
  pooled = NormalizeObservation(inner, axis_name="envs")
  with codegen.default():   # exact with XLA's default code generation (tests/codegen.py)
    _, s_own = jax.vmap(own.reset, in_axes=(0, None))(keys, params)
    raw, _ = jax.vmap(inner.reset, in_axes=(0, None))(keys, params)
  np.testing.assert_allclose(s_own.mean, raw)  # one observation each
  _, s_pool = jax.vmap(pooled.reset, in_axes=(0, None), axis_name="envs")(keys, params)
  np.testing.assert_allclose(s_pool.mean, np.broadcast_to(raw.mean(0), raw.shape), rtol=1e-6)
  np.testing.assert_allclose(s_pool.variance, np.broadcast_to(raw.var(0), raw.shape), rtol=1e-5)
  np.testing.assert_array_equal(s_pool.count, [4, 4, 4, 4])
  step = jax.vmap(pooled.step, in_axes=(0, 0, None, None), axis_name="envs")
  raw2, *_ = jax.vmap(inner.step, in_axes=(0, 0, None, None))(keys, s_pool.env_state, 0, params)
  _, s_pool2, *_ = step(keys, s_pool, 0, params)
  both = np.concatenate([raw, raw2])
  np.testing.assert_allclose(s_pool2.mean[0], both.mean(0), rtol=1e-5)
  np.testing.assert_allclose(s_pool2.variance[0], both.var(0), rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# FrameStack
# ---------------------------------------------------------------------------------------------
def test_frame_stack_shapes_reset_and_auto_reset():
  inner = Ticker("image")
  params = inner.default_params
  env = FrameStack(inner, 3)
  assert env.observation_space(params).shape == (2, 2, 3)
  obs0, state0, (obs, _, _, terminated, _, info) = _rollout(env, params, [0] * 4)
  assert obs0.shape == (2, 2, 3) and obs.shape == (4, 2, 2, 3)
  frames = lambda x: np.asarray(x)[..., 0, 0, :]  # the 3 stacked values, oldest first
  np.testing.assert_array_equal(frames(obs0), [0, 0, 0])  # first frame repeated
  np.testing.assert_array_equal(terminated, [0, 0, 1, 0])
  np.testing.assert_array_equal(frames(obs), [[0, 0, 1], [0, 1, 2], [0, 0, 0], [0, 0, 1]])
  np.testing.assert_array_equal(frames(info["final_observation"]),
                                [[0, 0, 1], [0, 1, 2], [1, 2, 3], [0, 0, 1]])
  np.testing.assert_array_equal(frames(state0.frames), [0, 0, 0])


def test_frame_stack_with_time_limit_and_refusals():
  inner = Ticker("image")
  params = inner.default_params
  env = FrameStack(TimeLimit(inner, 2), 2)
  _, _, (obs, _, _, terminated, truncated, info) = _rollout(env, params, [0] * 3)
  frames = lambda x: np.asarray(x)[..., 0, 0, :]
  np.testing.assert_array_equal(truncated, [0, 1, 0])
  np.testing.assert_array_equal(frames(obs), [[0, 1], [0, 0], [0, 1]])
  np.testing.assert_array_equal(frames(info["final_observation"])[1], [1, 2])
  for bad in (0, 1.5):
    with pytest.raises(ValueError, match="num_frames"):
      FrameStack(inner, bad)
  with pytest.raises(ValueError, match="epsilon"):
    NormalizeObservation(inner, epsilon=0.0)
