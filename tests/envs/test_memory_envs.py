"""Partially observed tasks: MaskObservation, MaskedCartPole-v1, the memory probe and
MemoryChain-bsuite through make."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.envs import EpisodeStatistics
from jaxrl.envs import MaskObservation
from jaxrl.envs import MemoryProbe
from jaxrl.envs import TimeLimit
from jaxrl.envs import memory_probe

KEEP = [0, 2]   # CartPole's positions: cart position, pole angle


def _rollout(env, params, actions, key=jax.random.key(0)):
  """Jitted scan of a fixed action sequence from reset: (obs0, stacked step outputs)."""

  def run():
    obs0, state0 = env.reset(key, params)

    def body(state, xs):
      k, a = xs
      obs, state, reward, terminated, truncated, info = env.step(k, state, a, params)
      return state, (obs, reward, terminated, truncated, info["final_observation"])

    keys = jax.random.split(jax.random.key(1), len(actions))
    _, out = jax.lax.scan(body, state0, (keys, jnp.asarray(actions, jnp.int32)))
    return obs0, out

  return jax.jit(run)()


# ---------------------------------------------------------------------------------------------
# MaskObservation and MaskedCartPole-v1
# ---------------------------------------------------------------------------------------------
ACTIONS = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0]


@pytest.mark.parametrize("limit", ["params", "TimeLimit"])
def test_masked_cartpole_is_cartpole_without_the_velocities(limit):
  """Step by step with the same keys: every observation, final observation included, is the
  unmasked one without entries 1 and 3; truncations (gymnax's own limit, or an outer TimeLimit
  under the mask) bootstrap from the masked final observation."""
  inner, params = envs.make("CartPole-v1")
  if limit == "params":
    params = params.replace(max_steps_in_episode=5)
    masked, masked_params = envs.make("MaskedCartPole-v1", max_steps_in_episode=5)
    assert masked_params == params
  else:
    inner = TimeLimit(inner, 5)
    masked = MaskObservation(inner, (3, 1))  # any order
  raw0, (raw, r_raw, term_raw, trunc_raw, final_raw) = _rollout(inner, params, ACTIONS)
  obs0, (obs, reward, terminated, truncated, final) = _rollout(masked, params, ACTIONS)
  # two compiled programs: equal up to the last bits XLA's fusion may round differently
  close = dict(rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(obs0, np.asarray(raw0)[KEEP], **close)
  np.testing.assert_allclose(obs, np.asarray(raw)[:, KEEP], **close)
  np.testing.assert_allclose(final, np.asarray(final_raw)[:, KEEP], **close)
  np.testing.assert_array_equal(reward, r_raw)
  np.testing.assert_array_equal(terminated, term_raw)
  np.testing.assert_array_equal(truncated, trunc_raw)
  assert np.sum(truncated) >= 2
  t = int(np.argmax(truncated))      # the first truncation: final != the reset observation
  assert not np.allclose(final[t], obs[t])
  assert obs.shape == (len(ACTIONS), 2) and final.shape == (len(ACTIONS), 2)


def test_mask_observation_space_name_and_hashing():
  env, params = envs.make("MaskedCartPole-v1")
  inner, _ = envs.make("CartPole-v1")
  space, full = env.observation_space(params), inner.observation_space(params)
  assert space.shape == (2,) and space.dtype == full.dtype
  np.testing.assert_array_equal(space.low, np.asarray(full.low)[KEEP])
  np.testing.assert_array_equal(space.high, np.asarray(full.high)[KEEP])
  assert env.name == "MaskedCartPole-v1" and env.num_actions == 2
  assert env.hide == (1, 3) and env.keep == (0, 2)
  # equal by value (gymnax's CartPole itself compares by identity)
  assert env == MaskObservation(env.unwrapped, [1, 3], name="MaskedCartPole-v1")
  assert env != MaskObservation(inner, [1, 2])
  assert hash(MaskObservation(inner, (3, 1))) == hash(MaskObservation(inner, (1, 3)))
  assert MaskObservation(inner, ()).keep == (0, 1, 2, 3)  # hiding nothing is allowed
  assert envs.episode_limit(env, params) == 500
  assert envs.action_spec(env, params).num_actions == 2


@pytest.mark.parametrize("hide, message", [
    ((1, 4), "hide entries must be ints in 0..3 (observations of shape (4,)), got 4 in "
             "hide=[1, 4]"),
    ((-1,), "hide entries must be ints in 0..3 (observations of shape (4,)), got -1"),
    ((1.5,), "hide entries must be ints in 0..3 (observations of shape (4,)), got 1.5 in "
             "hide=[1.5]"),
    ((True,), "hide entries must be ints in 0..3 (observations of shape (4,)), got True"),
    ((1, 3, 1), "hide names entries more than once: [1] (hide=[1, 3, 1])"),
    ((0, 1, 2, 3), "hide names all 4 entries of observations of shape (4,): at least one must "
                   "stay"),
    (3, "hide must be a sequence of entry indices, got 3"),
])
def test_mask_observation_refusals(hide, message):
  inner, _ = envs.make("CartPole-v1")
  with pytest.raises(ValueError, match=re.escape("MaskObservation " + message)):
    MaskObservation(inner, hide)


def test_mask_observation_refuses_observations_that_are_not_flat():
  env, _ = envs.make("Breakout-MinAtar")
  with pytest.raises(ValueError, match=re.escape(
      "MaskObservation needs flat observations [D] (rank 1) to hide entries of, and "
      "Breakout-MinAtar has observation shape (10, 10, 4).")):
    MaskObservation(env, (0,))


# ---------------------------------------------------------------------------------------------
# The memory probe
# ---------------------------------------------------------------------------------------------
NUM_EPISODES = 2000


def _episodes(env, params, policy, num_episodes, key):
  """Vmapped episodes from reset (the caller jits); ``policy(obs, memory) -> (action, memory)`` with
  ``memory`` the cue seen so far (a memoryless policy ignores it). Returns each episode's
  observations ``[N, T+1, 3]`` (reset, then after each step), rewards, terminated, truncated
  ``[N, T]``, final observations ``[N, T, 3]`` and the cues ``[N]``."""
  length = env.episode_length + 1   # one step past the end: the auto-reset

  def episode(k):
    k_reset, k_steps = jax.random.split(k)
    obs0, state0 = env.reset(k_reset, params)

    def body(carry, k_step):
      obs, state, memory = carry
      action, memory = policy(obs, memory)
      obs, state, reward, terminated, truncated, info = env.step(k_step, state, action, params)
      return (obs, state, memory), (obs, reward, terminated, truncated, info["final_observation"])

    carry = (obs0, state0, jnp.zeros((), jnp.int32))
    _, (obs, reward, terminated, truncated, final) = jax.lax.scan(
        body, carry, jax.random.split(k_steps, length))
    return jnp.concatenate([obs0[None], obs]), reward, terminated, truncated, final, state0.c

  return jax.vmap(episode)(jax.random.split(key, num_episodes))


def _remember(obs, memory):
  """The optimal policy: store the cue when it shows, answer it at the query."""
  memory = jnp.where(obs[0] + obs[1] > 0, jnp.argmax(obs[:2]).astype(jnp.int32), memory)
  return memory, memory


_W = jnp.asarray([[0.3, -1.2], [2.0, 0.1], [-0.4, 0.7]])   # a fixed linear map, [3, A]
#: Memoryless policies: each a fixed map from the observation to an action.
MEMORYLESS = {
    "always 0": lambda obs: jnp.int32(0),
    "always 1": lambda obs: jnp.int32(1),
    "argmax linear": lambda obs: jnp.argmax(obs @ _W).astype(jnp.int32),
    "copy the cue entry": lambda obs: obs[1].astype(jnp.int32),
}


@pytest.mark.parametrize("delay", [0, 3])
def test_memory_probe_episodes_are_as_documented(delay):
  env, params = memory_probe(delay)
  length = delay + 2
  obs, reward, terminated, truncated, final, cue = jax.jit(
      lambda k: _episodes(env, params, _remember, 256, k))(jax.random.key(delay))
  obs, cue = np.asarray(obs), np.asarray(cue)
  assert obs.shape == (256, length + 2, 3)
  assert 0.35 < cue.mean() < 0.65                                 # both cues appear
  # the cue only at step 0; the query flag only at the last step of the episode
  np.testing.assert_array_equal(obs[:, 0, :2], np.eye(2)[cue])
  np.testing.assert_array_equal(obs[:, 1:length, :2], 0.0)
  np.testing.assert_array_equal(obs[:, :length, 2], np.eye(length)[length - 1][None].repeat(256, 0))
  # terminates after delay + 2 steps, never truncates; then the next episode starts
  np.testing.assert_array_equal(terminated, np.eye(length + 1)[length - 1][None].repeat(256, 0))
  assert not np.any(truncated)
  np.testing.assert_array_equal(final[:, length - 1], 0.0)      # the terminal observation
  np.testing.assert_array_equal(obs[:, length, 2], 0.0)         # the reset: a fresh cue shows
  np.testing.assert_array_equal(obs[:, length, :2].sum(-1), 1.0)
  # the remembering policy earns exactly +1, at the query only
  np.testing.assert_array_equal(reward[:, :length - 1], 0.0)
  np.testing.assert_array_equal(reward[:, length - 1], 1.0)


def test_memory_probe_rewards_plus_one_for_the_cue_minus_one_otherwise():
  env, params = memory_probe(1)
  obs, state = env.reset(jax.random.key(0), params)
  for c in (0, 1):
    for a in (0, 1):
      s = state.replace(c=jnp.int32(c), time=jnp.int32(env.delay + 1))   # at the query
      _, _, reward, terminated, _, _ = env.step(jax.random.key(1), s, a, params)
      assert float(reward) == (1.0 if a == c else -1.0) and bool(terminated)
      s = state.replace(c=jnp.int32(c))                                  # before the query
      _, _, reward, terminated, _, _ = env.step(jax.random.key(1), s, a, params)
      assert float(reward) == 0.0 and not bool(terminated)
  assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32


def test_memoryless_policies_average_zero():
  """Exactly: a deterministic memoryless policy earns +1 on one cue and -1 on the other; and
  over 2000 episodes with random cues the mean return is near 0 (its standard error is 0.022).
  One compilation for every policy: the policy's index is a vmapped argument."""
  env, params = memory_probe(2)
  policies = list(MEMORYLESS.values())

  def run(i):
    policy = lambda obs, memory: (jax.lax.switch(i, policies, obs), memory)
    _, reward, *_, cue = _episodes(env, params, policy, NUM_EPISODES, jax.random.key(7))
    return reward, cue

  rewards, cues = jax.jit(jax.vmap(run))(jnp.arange(len(policies)))
  for name, reward, cue in zip(MEMORYLESS, np.asarray(rewards), np.asarray(cues)):
    returns = reward[:, :env.episode_length].sum(-1)
    assert set(np.unique(returns)) <= {-1.0, 1.0}, name
    by_cue = [np.unique(returns[cue == c]) for c in (0, 1)]
    assert all(len(r) == 1 for r in by_cue) and by_cue[0][0] + by_cue[1][0] == 0.0, name
    assert abs(returns.mean()) < 0.1, name


def test_memory_probe_spaces_limits_statistics_and_refusals():
  env, params = memory_probe()
  assert env.delay == 2 and env.episode_length == 4 and env.name == "MemoryProbe-v0"
  assert envs.episode_limit(env, params) == 4
  assert envs.action_spec(env, params).num_actions == 2 == env.num_actions
  assert env.observation_space(params).shape == (3,)
  assert env == MemoryProbe(2) and env != MemoryProbe(3) and hash(env) == hash(MemoryProbe(2))
  stats = EpisodeStatistics(env)
  _, state = stats.reset(jax.random.key(0), params)
  for _ in range(4):
    _, state, _, _, _, info = stats.step(jax.random.key(1), state, 0, params)
  assert bool(info["episode_done"]) and int(info["episode_length"]) == 4
  assert float(info["episode_return"]) in (-1.0, 1.0)
  for bad in (-1, 1.5, True):
    with pytest.raises(ValueError, match="MemoryProbe delay"):
      memory_probe(bad)


# ---------------------------------------------------------------------------------------------
# The registry and --env-kwargs
# ---------------------------------------------------------------------------------------------
def test_registered_names_and_options():
  names = envs.env_names()
  assert {"MaskedCartPole-v1", "MemoryProbe-v0", "MemoryChain-bsuite"} <= set(names)
  assert list(envs.env_options("MemoryProbe-v0")) == ["delay"]
  env, params = envs.make_configured("MemoryProbe-v0", {"delay": 5})
  assert env.delay == 5 and params.max_steps_in_episode == 7
  with pytest.raises(ValueError, match=re.escape("MemoryProbe-v0 option delay must be >= 0, "
                                                 "got -1")):
    envs.make_configured("MemoryProbe-v0", {"delay": -1})
  env, params = envs.make_configured("MaskedCartPole-v1", {"max_steps_in_episode": 50})
  assert params.max_steps_in_episode == 50 and env.observation_space(params).shape == (2,)
  assert "gravity" in envs.env_options("MaskedCartPole-v1")
  from jaxrl import cli  # pylint: disable=import-outside-toplevel
  parse = cli._parse_env_kwargs  # pylint: disable=protected-access
  assert parse("MemoryProbe-v0", ["delay=5"]) == {"delay": 5}       # --env-kwargs delay=5


def test_memory_chain_bsuite_through_make():
  """gymnax's MemoryChain: episodes of memory_length + 1 steps, +-1 at the last step only."""
  env, params = envs.make_configured("MemoryChain-bsuite", {"memory_length": 3})
  assert params.memory_length == 3 and env.num_actions == 2
  assert env.observation_space(params).shape == (3,)
  obs, state = env.reset(jax.random.key(0), params)
  rewards, ends = [], []
  for t in range(4):
    obs, state, reward, terminated, truncated, _ = env.step(jax.random.key(t), state, 0, params)
    rewards.append(float(reward))
    ends.append(bool(terminated) or bool(truncated))
  assert ends == [False, False, False, True] and rewards[:3] == [0.0, 0.0, 0.0]
  assert rewards[3] in (-1.0, 1.0)
