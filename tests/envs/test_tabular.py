"""TabularEnv: sampling matches P, reward layouts, termination vs truncation, jit/vmap, from_mdp."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxrl.training import count_compilations
from jaxrl.envs import TabularEnvParams
from jaxrl.envs import TabularEnvState
from jaxrl.envs import chain_env
from jaxrl.envs import compare_q_values
from jaxrl.envs import exact_q_values
from jaxrl.envs import from_mdp
from jaxrl.envs import gridworld_env
from jaxrl.envs import is_terminal_state
from jaxrl.mdp import SparseTransitions
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import chain
from jaxrl.mdp import gridworld
from jaxrl.mdp import q_iteration
from jaxrl.mdp import terminal_states
from jaxrl.mdp import to_dense

LEFT, RIGHT = 0, 1
NUM_SAMPLES = 4000


def _sample_all_pairs(env, params, key):
  """Steps every (s, a) NUM_SAMPLES times from time 0. Returns s' [S, A, N] and rewards."""
  num_states, num_actions = env.num_states, env.num_actions
  s, a = np.meshgrid(np.arange(num_states), np.arange(num_actions), indexing="ij")
  s, a = jnp.asarray(s.ravel(), jnp.int32), jnp.asarray(a.ravel(), jnp.int32)
  keys = jax.random.split(key, (s.shape[0], NUM_SAMPLES))

  def one(k, si, ai):
    state = TabularEnvState(time=jnp.zeros((), jnp.int32), s=si)
    obs, _, reward, _, _, info = env.step(k, state, ai, params)
    return jnp.argmax(info["final_observation"]), reward, obs

  per_pair = jax.vmap(one, in_axes=(0, None, None))
  nxt, rew, _ = jax.jit(jax.vmap(per_pair))(keys, s, a)
  shape = (num_states, num_actions, NUM_SAMPLES)
  return np.asarray(nxt).reshape(shape), np.asarray(rew).reshape(shape)


def _random_mdp(seed, num_states, num_actions, discount):
  """A dense random MDP built in numpy (cheaper than jaxrl.mdp.random_mdp's compiled sampling)."""
  rng = np.random.RandomState(seed)
  p = rng.dirichlet(np.ones(num_states), (num_states, num_actions)).astype(np.float32)
  r = rng.uniform(-1, 1, (num_states, num_actions)).astype(np.float32)
  return TabularMDP(p, r, np.float32(discount))


def _chi_square_ok(counts, probs, alpha=1e-4):
  """Pooled chi-square test of observed counts [M, S] against probabilities [M, S]."""
  expected = probs * counts.sum(-1, keepdims=True)
  support = expected > 0
  assert np.all(counts[~support] == 0), "a successor with probability 0 was sampled"
  stat = np.sum((counts[support] - expected[support]) ** 2 / expected[support])
  df = int(np.sum(support.sum(-1) - 1))
  return stat <= scipy.stats.chi2.ppf(1 - alpha, max(df, 1)), (stat, df)


def _counts(nxt, num_states):
  return np.stack([np.bincount(row, minlength=num_states) for row in nxt.reshape(-1, nxt.shape[-1])])


# ---------------------------------------------------------------------------------------------
# Sampling and rewards
# ---------------------------------------------------------------------------------------------
def test_dense_transition_frequencies_match_P_and_state_action_rewards():
  mdp = _random_mdp(0, 4, 2, 0.9)
  env, params = from_mdp(mdp)
  nxt, rew = _sample_all_pairs(env, params, jax.random.key(1))
  ok, info = _chi_square_ok(_counts(nxt, 4), np.asarray(mdp.transitions).reshape(-1, 4))
  assert ok, info
  # rewards [S, A]: r(s, a) whatever the successor
  np.testing.assert_allclose(rew, np.broadcast_to(np.asarray(mdp.rewards)[..., None], rew.shape))


def test_sparse_transition_frequencies_and_per_transition_rewards():
  # K = 3 successors with a repeated index; the reward identifies which k was drawn.
  indices = np.array([[[0, 1, 1], [2, 2, 0]],
                      [[1, 2, 0], [0, 0, 0]],
                      [[2, 1, 2], [1, 0, 2]]], np.int32)
  probs = np.array([[[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]],
                    [[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]],
                    [[0.1, 0.1, 0.8], [0.4, 0.4, 0.2]]], np.float32)
  rewards = np.arange(18, dtype=np.float32).reshape(3, 2, 3) + 1.0  # distinct per (s, a, k)
  mdp = TabularMDP(SparseTransitions(indices, probs), rewards, 0.9)
  env, params = from_mdp(mdp)
  nxt, rew = _sample_all_pairs(env, params, jax.random.key(2))
  dense = np.asarray(to_dense(mdp).transitions).reshape(-1, 3)
  ok, info = _chi_square_ok(_counts(nxt, 3), dense)
  assert ok, info
  # reward = rewards[s, a, k] with indices[s, a, k] = s'; and k is drawn with probs[s, a, k]
  k = (rew - 1.0).astype(int) % 3
  s_idx, a_idx = np.meshgrid(np.arange(3), np.arange(2), indexing="ij")
  np.testing.assert_array_equal(rew, rewards[s_idx[..., None], a_idx[..., None], k])
  np.testing.assert_array_equal(nxt, indices[s_idx[..., None], a_idx[..., None], k])
  k_counts = np.stack([np.bincount(row, minlength=3) for row in k.reshape(6, -1)])
  ok, info = _chi_square_ok(k_counts, probs.reshape(6, 3))
  assert ok, info


def test_dense_per_transition_rewards_are_r_s_a_next():
  mdp = _random_mdp(3, 3, 2, 0.5)
  per_transition = np.arange(18, dtype=np.float32).reshape(3, 2, 3)
  mdp = TabularMDP(np.asarray(mdp.transitions), per_transition, 0.5)
  env, params = from_mdp(mdp)
  nxt, rew = _sample_all_pairs(env, params, jax.random.key(4))
  s_idx, a_idx = np.meshgrid(np.arange(3), np.arange(2), indexing="ij")
  np.testing.assert_array_equal(rew, per_transition[s_idx[..., None], a_idx[..., None], nxt])


def test_observation_is_one_hot_float32_and_spaces():
  env, params = gridworld_env()
  obs, state = env.reset(jax.random.key(0), params)
  assert obs.shape == (11,) and obs.dtype == jnp.float32
  np.testing.assert_array_equal(obs, jax.nn.one_hot(7, 11))
  assert int(state.s) == 7 and int(state.time) == 0
  obs, state, reward, terminated, truncated, _ = env.step(jax.random.key(1), state, 0, params)
  assert float(obs.sum()) == 1.0 and int(jnp.argmax(obs)) == int(state.s)
  assert reward.dtype == jnp.float32 and terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
  assert env.num_states == 11 and env.num_actions == 4
  assert env.observation_space(params).shape == (11,)
  assert env.action_space(params).n == 4
  assert env.name == "GridWorld-v0"


def test_is_terminal_state_equals_terminal_states():
  mdps = [gridworld().mdp, gridworld(sparse=True, living_reward=0.0).mdp, chain(6, noise=0.1)]
  per_state = jax.jit(lambda m: jax.vmap(lambda s: is_terminal_state(m, s))(
      jnp.arange(m.num_states)))
  for mdp in mdps:
    np.testing.assert_array_equal(per_state(mdp), terminal_states(mdp))


# ---------------------------------------------------------------------------------------------
# Termination vs truncation
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chain5():
  """5 cells, start in 3 (next to the near exit 4), no noise, time limit 3."""
  return chain_env(5, max_steps_in_episode=3, discount=0.9)


def _run(env, params, actions, key=jax.random.key(0)):
  """Scans a fixed action sequence from reset; returns the reset state and stacked outputs."""
  obs0, state0 = env.reset(key, params)

  def body(state, xs):
    k, a = xs
    obs, state, reward, terminated, truncated, info = env.step(k, state, a, params)
    return state, (obs, state, reward, terminated, truncated, info["final_observation"])

  keys = jax.random.split(key, len(actions))
  _, out = jax.lax.scan(body, state0, (keys, jnp.asarray(actions, jnp.int32)))
  return obs0, out


def test_termination_on_exit(chain5):
  env, params = chain5
  _, (obs, state, reward, terminated, truncated, final) = jax.jit(
      lambda: _run(env, params, [RIGHT]))()
  assert bool(terminated[0]) and not bool(truncated[0])
  assert float(reward[0]) == 1.0
  np.testing.assert_array_equal(final[0], jax.nn.one_hot(4, 5))  # the exit, pre-reset
  np.testing.assert_array_equal(obs[0], jax.nn.one_hot(3, 5))  # auto-reset to the start
  assert int(state.time[0]) == 0 and int(state.s[0]) == 3


def test_truncation_at_time_limit_with_final_observation(chain5):
  env, params = chain5
  # 3 -> 2 -> 3 -> 2: the third step hits the limit of 3 in cell 2; then a fresh episode.
  _, (obs, state, reward, terminated, truncated, final) = jax.jit(
      lambda: _run(env, params, [LEFT, RIGHT, LEFT, LEFT]))()
  np.testing.assert_array_equal(truncated, [False, False, True, False])
  np.testing.assert_array_equal(terminated, [False, False, False, False])
  np.testing.assert_array_equal(final[2], jax.nn.one_hot(2, 5))  # bootstrap from here
  np.testing.assert_array_equal(obs[2], jax.nn.one_hot(3, 5))  # reset
  np.testing.assert_array_equal(state.time, [1, 2, 0, 1])
  np.testing.assert_array_equal(state.s, [2, 3, 3, 2])
  # before the limit, final_observation is the observation itself
  np.testing.assert_array_equal(final[:2], obs[:2])


def test_termination_on_the_last_allowed_step_is_not_truncation():
  env, params = chain_env(5, start=2, max_steps_in_episode=2)
  _, (_, _, reward, terminated, truncated, final) = jax.jit(
      lambda: _run(env, params, [RIGHT, RIGHT]))()
  np.testing.assert_array_equal(terminated, [False, True])
  np.testing.assert_array_equal(truncated, [False, False])
  np.testing.assert_array_equal(final[1], jax.nn.one_hot(4, 5))
  np.testing.assert_array_equal(reward, [0.0, 1.0])


# ---------------------------------------------------------------------------------------------
# jit, vmap, keys, params
# ---------------------------------------------------------------------------------------------
def test_vmap_over_keys_equals_single_runs_and_keys_matter():
  env, params = gridworld_env(max_steps_in_episode=20)
  actions = jnp.asarray(np.random.RandomState(0).randint(0, 4, 30))

  def run(key):
    _, (obs, state, reward, terminated, truncated, _) = _run(env, params, actions, key)
    return state.s, reward, terminated, truncated

  keys = jax.random.split(jax.random.key(7), 8)
  batched = jax.jit(jax.vmap(run))(keys)
  single = jax.jit(run)
  for i in (0, 5):
    for b, s in zip(batched, single(keys[i])):
      np.testing.assert_array_equal(b[i], s)
  assert len({tuple(np.asarray(row)) for row in batched[0]}) > 1  # noise makes keys matter


def test_default_params_and_vmap_over_params():
  env, params = chain_env(5, discount=0.9)
  obs, state = env.reset(jax.random.key(0))  # params=None -> env.default_params
  assert env.default_params is params
  obs2, _, reward, *_ = env.step(jax.random.key(1), state, RIGHT)
  np.testing.assert_array_equal(obs2, jax.nn.one_hot(3, 5))  # 4 is the exit: auto-reset to 3
  assert float(reward) == 1.0
  # A batch of MDPs that differ only in numbers: stack params and vmap.
  batch = jax.tree.map(lambda *x: jnp.stack(x), params,
                       params.replace(mdp=params.mdp.replace(discount=jnp.float32(0.1))))
  q = jax.vmap(exact_q_values)(batch)
  np.testing.assert_allclose(q[:, 3], [[10 * 0.9 ** 2, 1.0], [10 * 0.1 ** 2, 1.0]], rtol=1e-5)
  step = jax.vmap(env.step, in_axes=(None, 0, None, 0))
  states = jax.tree.map(lambda x: jnp.stack([x, x]), state)
  _, _, rewards, terminated, _, _ = step(jax.random.key(2), states, RIGHT, batch)
  np.testing.assert_array_equal(rewards, [1.0, 1.0])
  assert bool(terminated.all())


def test_equal_mdps_give_equal_envs_sharing_compiled_code():
  env1, params1 = chain_env(5, discount=0.9)
  env2, params2 = chain_env(5, discount=0.9)
  env3, _ = chain_env(5, discount=0.5)
  assert env1 == env2 and hash(env1) == hash(env2) and env1 is not env2
  assert env1 != env3
  env1.step(jax.random.key(0), env1.reset(jax.random.key(0), params1)[1], 0, params1)
  key, state = jax.random.key(1), env2.reset(jax.random.key(1), params2)[1]
  with count_compilations() as compiled:
    env2.step(key, state, 1, params2)
  assert compiled.count == 0
  with count_compilations() as compiled:       # and the counter does see a new program
    env3.step(key, env3.reset(key, env3.default_params)[1], 1, env3.default_params)
  assert compiled.count > 0


# ---------------------------------------------------------------------------------------------
# Factories and exact answers
# ---------------------------------------------------------------------------------------------
def test_gridworld_env_starts():
  env, params = gridworld_env()
  np.testing.assert_array_equal(params.initial_distribution, jax.nn.one_hot(7, 11))
  assert int(params.max_steps_in_episode) == 100
  layout = (". . +1", ". # -1", ". . .")  # no start cell: uniform over non-exit cells
  env, params = gridworld_env(layout=layout, discount=0.9, max_steps_in_episode=7)
  world = gridworld(layout)
  expected = (~world.is_exit) / (~world.is_exit).sum()
  np.testing.assert_allclose(params.initial_distribution, expected)
  assert float(params.mdp.discount) == pytest.approx(0.9)
  assert int(params.max_steps_in_episode) == 7
  env, params = gridworld_env(gridworld(noise=0.0))
  assert float(params.mdp.transitions.max()) == 1.0
  with pytest.raises(ValueError, match="world and builder arguments"):
    gridworld_env(gridworld(), noise=0.1)


def test_chain_env_start():
  env, params = chain_env(6)
  np.testing.assert_array_equal(params.initial_distribution, jax.nn.one_hot(4, 6))
  assert env.name == "Chain-v0" and env.num_actions == 2
  _, params = chain_env(6, start=1)
  np.testing.assert_array_equal(params.initial_distribution, jax.nn.one_hot(1, 6))
  with pytest.raises(ValueError, match="initial_state 5 is terminal"):
    chain_env(6, start=5)


def test_exact_q_values_and_compare():
  env, params = gridworld_env(discount=0.9)
  q_star = exact_q_values(params)
  np.testing.assert_allclose(q_star, q_iteration(params.mdp).q_values)
  report = jax.jit(compare_q_values)(params, q_star)
  assert float(report.max_abs_error) == 0.0 and float(report.optimal_action_fraction) == 1.0
  # wrong values on terminal states do not count; a flipped greedy action in one state does
  terminal = np.asarray(terminal_states(params.mdp))
  q = np.array(q_star)
  q[terminal] = 123.0
  s = 0
  q[s] = -q[s]
  report = compare_q_values(params, jnp.asarray(q), exact=q_star)
  assert float(report.max_abs_error) == pytest.approx(2 * np.abs(q_star[s]).max(), rel=1e-5)
  live = int((~terminal).sum())
  assert float(report.optimal_action_fraction) == pytest.approx((live - 1) / live)


# ---------------------------------------------------------------------------------------------
# from_mdp refuses bad input
# ---------------------------------------------------------------------------------------------
def _chain():
  return chain(5, discount=0.9)


@pytest.mark.parametrize("kwargs, message", [
    (dict(initial_state=5), r"initial_state 5 is out of range \[0, 5\)"),
    (dict(initial_state=-1), r"initial_state -1 is out of range"),
    (dict(initial_state=0), r"initial_state 0 is terminal"),
    (dict(initial_state=4), r"initial_state 4 is terminal"),
    (dict(initial_state=1.0), r"initial_state must be an int"),
    (dict(initial_state=True), r"initial_state must be an int"),
    (dict(initial_distribution=[0.0, 0.5, 0.4, 0.0, 0.0]), r"sums to 0.9, not 1"),
    (dict(initial_distribution=[0.0, 0.5, 0.5, 0.0]), r"shape \[S\] = \(5,\)"),
    (dict(initial_distribution=[0.0, 1.5, -0.5, 0.0, 0.0]), r"negative probability at state 2"),
    (dict(initial_distribution=[0.0, np.nan, 1.0, 0.0, 0.0]), r"NaN or infinity at state 1"),
    (dict(initial_distribution=[0.5, 0.5, 0.0, 0.0, 0.0]), r"on state 0, which is terminal"),
    (dict(initial_state=1, initial_distribution=[0.0, 1.0, 0.0, 0.0, 0.0]), r"not both"),
    (dict(max_steps_in_episode=0), r"max_steps_in_episode must be an int >= 1, got 0"),
    (dict(max_steps_in_episode=-3), r"max_steps_in_episode must be an int"),
    (dict(max_steps_in_episode=10.0), r"max_steps_in_episode must be an int"),
])
def test_from_mdp_refuses(kwargs, message):
  with pytest.raises(ValueError, match=message):
    from_mdp(_chain(), **kwargs)


def test_from_mdp_refuses_batched_traced_all_terminal_and_non_mdp():
  mdp = _chain()
  batched = jax.tree.map(lambda x: jnp.stack([x, x]), mdp)
  with pytest.raises(ValueError, match=r"single MDP; this one has batch shape \(2,\)"):
    from_mdp(batched)
  with pytest.raises(ValueError, match="concrete arrays"):
    jax.jit(lambda m: from_mdp(m)[1])(mdp)
  absorbing = TabularMDP(np.ones((1, 1, 1), np.float32), np.zeros((1, 1), np.float32), 0.9)
  with pytest.raises(ValueError, match="every state of the MDP is terminal"):
    from_mdp(absorbing)
  with pytest.raises(TypeError, match="TabularMDP"):
    from_mdp(np.ones((2, 1, 2)))


def test_from_mdp_default_start_is_uniform_over_non_terminal_states():
  env, params = from_mdp(_chain())
  np.testing.assert_allclose(params.initial_distribution, [0, 1 / 3, 1 / 3, 1 / 3, 0])
  assert isinstance(params, TabularEnvParams) and params.initial_distribution.dtype == jnp.float32
