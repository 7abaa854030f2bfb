"""The DQN family (issue 23): n-step transitions from replay, dueling and distributional heads,
prioritized replay, as options of the one DQN agent; learned on probes with known Q*, swept in one
call, resumed bitwise. Each agent program is compiled once and shared by the tests that read it."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import buffers, envs, networks, returns, training
from jaxrl.agents import dqn, off_policy

from tests.agents import driver_checks
from tests.agents.test_dqn import PROBE

# "Rainbow without noisy nets" at probe scale; the chain probe 6's returns lie in [-1, 1].
RAINBOW = dataclasses.replace(PROBE, replay="prioritized", n_step=2, dueling=True, head="c51",
                              num_atoms=21, v_min=-2.0, v_max=2.0)


def test_n_step_push_equals_n_step_returns_on_a_stream_with_both_kinds_of_episode_end():
  # 3 environments, 40 steps, terminations and truncations at random; v(s) = s / 10 with s the
  # step's (unique) observation; next_obs on a truncation is a "final observation" -s.
  n, num_envs, steps = 4, 3, 40
  rng = np.random.default_rng(0)
  r = rng.normal(size=(steps, num_envs)).astype(np.float32)
  kind = rng.choice(3, size=(steps, num_envs), p=[0.8, 0.1, 0.1])   # 0 on, 1 term, 2 trunc
  terminated, truncated = kind == 1, kind == 2
  discount = (0.9 * (1 - terminated)).astype(np.float32)
  obs = np.arange(steps * num_envs, dtype=np.float32).reshape(steps, num_envs) + 1.0
  next_obs = np.where(truncated, -obs, obs + 0.5).astype(np.float32)
  v = lambda o: o / 10.0  # noqa: E731
  example = buffers.Transition(obs=jnp.zeros(1), action=jnp.int32(0), reward=jnp.float32(0),
                               discount=jnp.float32(0), next_obs=jnp.zeros(1))
  window = off_policy.n_step_window(example, n, num_envs)
  push = jax.jit(off_policy.n_step_push)
  got = []
  for t in range(steps):
    step = buffers.Transition(obs=jnp.asarray(obs[t])[:, None], action=jnp.full(num_envs, t),
                              reward=jnp.asarray(r[t]), discount=jnp.asarray(discount[t]),
                              next_obs=jnp.asarray(next_obs[t])[:, None])
    window, out = push(window, step, jnp.asarray(terminated[t] | truncated[t]))
    if t >= n - 1:
      np.testing.assert_array_equal(np.asarray(out.obs[:, 0]), obs[t - n + 1])
      np.testing.assert_array_equal(np.asarray(out.action), t - n + 1)
      got.append(np.asarray(out.reward + out.discount * v(out.next_obs[:, 0])))
  got = np.stack(got)
  end = terminated | truncated
  for e in range(num_envs):
    want = returns.n_step_returns(jnp.asarray(r[:, e]), jnp.asarray(discount[:, e]),
                                  jnp.asarray(end[:, e]), jnp.asarray(v(next_obs[:, e])), n)
    np.testing.assert_allclose(got[:, e], np.asarray(want)[:steps - n + 1], rtol=1e-6,
                               atol=1e-6)
  assert end[:, :].sum() > 5   # the stream did cut episodes both ways
  assert terminated.any() and truncated.any()


def test_dueling_and_distributional_heads_have_the_right_shapes_and_identity():
  obs = jax.random.normal(jax.random.PRNGKey(0), (5, 4))
  for kwargs, shape in [(dict(dueling=True), (5, 3)), (dict(num_atoms=7), (5, 3, 7)),
                        (dict(dueling=True, num_atoms=7), (5, 3, 7))]:
    net = networks.make_q_network("mlp", 3, (4,), hidden_sizes=(8,), **kwargs)
    params = net.init(jax.random.PRNGKey(1), obs[0])
    out = net.apply(params, obs)
    assert out.shape == shape, kwargs
    if kwargs.get("dueling"):
      p = params["params"]
      h = jax.nn.relu(obs @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
      value = h @ p["value_head"]["kernel"] + p["value_head"]["bias"]
      # the mean over actions is the value head: the advantages are centred
      np.testing.assert_allclose(np.asarray(out.mean(axis=1)),
                                 np.asarray(value if len(shape) == 3 else value[:, 0]),
                                 rtol=1e-5, atol=1e-6)
  # the plain head keeps the parameter names every existing checkpoint has
  plain = networks.make_q_network("mlp", 3, (4,), hidden_sizes=(8,))
  assert set(plain.init(jax.random.PRNGKey(1), obs[0])["params"]) == {"Dense_0", "Dense_1"}
  cnn = networks.make_q_network("cnn", 3, (10, 10, 4), dueling=True, num_atoms=5)
  assert cnn.apply(cnn.init(jax.random.PRNGKey(0), jnp.zeros((10, 10, 4))),
                   jnp.zeros((2, 10, 10, 4))).shape == (2, 3, 5)
  with pytest.raises(ValueError, match=r"MLPQNetwork.num_atoms must be an int >= 1, got 0"):
    networks.make_q_network("mlp", 3, (4,), num_atoms=0)


@functools.cache
def _sweep(config, probe):
  """Two settings (seeds and the swept numbers differ) in one compiled call on a probe."""
  env, params = envs.probe(probe, discount=config.discount)
  hp = config.hyperparams()
  hps = jax.tree.map(lambda a, b: jnp.stack([jnp.asarray(a), jnp.asarray(b)]), hp,
                     hp._replace(priority_exponent=0.9, importance_sampling_exponent=0.7,
                                 discount=0.9))
  train = dqn.make_train(config, env, params)
  keys = jax.random.split(jax.random.PRNGKey(probe), 2)
  state, metrics = jax.jit(jax.vmap(train))(keys, hps)
  return train, keys, hps, state, metrics


@pytest.mark.parametrize("config, probe", [
    pytest.param(RAINBOW, 6, id="rainbow-c51-chain"),
    pytest.param(dataclasses.replace(PROBE, head="qr", loss="huber", num_atoms=11,
                                     replay="prioritized"), 3, id="qr-prioritized-two-steps"),
])
def test_probe_q_star_is_learned_by_every_setting_of_a_sweep(config, probe):
  _, _, _, _, metrics = _sweep(config, probe)
  q_error = np.asarray(metrics["q_error"][:, -1])
  assert np.all(q_error < 0.15), q_error
  assert np.all(np.asarray(metrics["policy_match"][:, -1]) == 1.0)
  assert np.all(np.asarray(metrics["loss_finite"]))


def test_a_swept_setting_equals_its_run_alone():
  train, keys, hps, _, batched = _sweep(RAINBOW, 6)
  _, alone = jax.jit(train)(keys[1], jax.tree.map(lambda x: x[1], hps))
  for name, value in alone.items():
    np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(value), rtol=1e-5,
                               atol=1e-6, err_msg=name)
  assert not np.allclose(np.asarray(batched["q_mean"][0]), np.asarray(batched["q_mean"][1]))


def test_prioritized_replay_in_the_run_never_weights_unwritten_slots_and_stores_n_steps_late():
  _, _, _, state, _ = _sweep(RAINBOW, 6)
  buf = state.buffer
  capacity = RAINBOW.buffer_size
  iterations = RAINBOW.total_steps // RAINBOW.num_envs
  # n-step transitions are stored from the (n-1)-th iteration on
  stored = min(capacity, (iterations - (RAINBOW.n_step - 1)) * RAINBOW.num_envs)
  np.testing.assert_array_equal(np.asarray(buf.size), [stored, stored])
  p = 1 << (capacity - 1).bit_length()
  leaves = np.asarray(buf.tree)[:, p:p + capacity]
  written = np.arange(capacity) < stored
  assert np.all(leaves[:, written] > 0) and np.all(leaves[:, ~written] == 0)
  # the priorities were updated from the losses (not all equal), within the running maximum
  assert np.all(np.std(leaves[:, written], axis=1) > 0)
  assert np.all(leaves.max(axis=1) <= np.asarray(buf.max_priority) * (1 + 1e-6))
  np.testing.assert_allclose(np.asarray(buf.tree)[:, 1], leaves.sum(axis=1), rtol=1e-4)


@pytest.mark.parametrize("changes, message", [
    (dict(head="c51", num_atoms=1), r"head='c51' needs num_atoms >= 2"),
    (dict(head="c51", v_min=1.0, v_max=1.0), r"v_min < v_max"),
    (dict(head="c51", loss="huber"), r"head='c51' has its own loss"),
    (dict(head="iqn"), r"DQNConfig.head must be one of"),
    (dict(replay="rank"), r"DQNConfig.replay must be one of"),
    (dict(n_step=0), r"DQNConfig.n_step must be at least 1"),
    (dict(priority_exponent=-0.5), r"DQNConfig.priority_exponent must be >= 0"),
    (dict(importance_sampling_exponent=1.5), r"importance_sampling_exponent must lie in"),
])
def test_bad_family_options_are_refused_before_compiling(changes, message):
  env, params = envs.probe(3)
  with pytest.raises(ValueError, match=message):
    dqn.make_train(dataclasses.replace(PROBE, **changes), env, params)


def test_driver_runs_the_combination_resumes_bitwise_and_sweeps_its_numbers_in_one_call(
    tmp_path):
  # every option at once; the prioritized tree, the n-step window and the targets are in the
  # state and the checkpoint, and three swept numbers vary inside one compiled call
  config = dqn.DQNConfig(total_steps=480, num_envs=2, hidden_sizes=(8,), buffer_size=200,
                         batch_size=16, learning_starts=40, updates_per_step=1.0, log_every=120,
                         eval_every=240, eval_episodes=1, replay="prioritized", n_step=3,
                         dueling=True, head="qr", num_atoms=5)
  spec = training.RunSpec("dqn", config, env="Probe4-v0", num_seeds=2, seed=1,
                          settings=({"priority_exponent": 0.5, "discount": 0.99},
                                    {"priority_exponent": 1.0, "discount": 0.9,
                                     "importance_sampling_exponent": 0.8}),
                          checkpoint_every=240)
  straight = driver_checks.assert_resumes_bitwise(spec, tmp_path)
  assert straight.summary["compiled_programs"] == 2
  loss = np.asarray(straight.metrics["loss"])
  assert loss.shape == (2, 2, 4) and not np.array_equal(loss[0], loss[1])


def test_every_option_is_a_command_line_flag_and_its_numbers_are_sweepable(monkeypatch):
  from jaxrl import cli  # pylint: disable=import-outside-toplevel
  parsed = []
  monkeypatch.setattr(cli, "_dispatch", lambda command: parsed.append(command) or 0)
  flags = ["--replay", "prioritized", "--n-step", "3", "--dueling", "--head", "c51",
           "--num-atoms", "11", "--v-min", "-5", "--v-max", "5", "--priority-exponent", "0.5",
           "--importance-sampling-exponent", "0.6"]
  assert cli.main(["train", "dqn"] + flags) == 0
  assert cli.main(["sweep", "dqn"] + flags + ["--grid", "priority_exponent=0.4,0.8",
                                              "importance_sampling_exponent=0.4,1"]) == 0
  for command in parsed:
    config = command.config
    assert (config.replay, config.n_step, config.dueling, config.head, config.num_atoms,
            config.v_min, config.v_max, config.priority_exponent,
            config.importance_sampling_exponent) == ("prioritized", 3, True, "c51", 11, -5.0, 5.0,
                                                     0.5, 0.6)
  grid = cli._parse_grid(parsed[1].grid, parsed[1].config)  # pylint: disable=protected-access
  assert grid == {"priority_exponent": [0.4, 0.8], "importance_sampling_exponent": [0.4, 1.0]}
  assert {"priority_exponent", "importance_sampling_exponent", "discount"} <= set(
      dqn.DQNHyperparams._fields)


def test_every_combination_of_the_options_traces_with_the_same_metrics():
  # 24 combinations, traced (not compiled): shapes agree in every one, and the state carries
  # a window exactly when it stores n-step transitions, a sum tree exactly when it prioritizes
  import itertools  # pylint: disable=import-outside-toplevel
  env, params = envs.probe(3, discount=0.9)
  reference = None
  for replay, n_step, dueling, head in itertools.product(dqn.REPLAYS, (1, 3), (False, True),
                                                         dqn.HEADS):
    config = dataclasses.replace(PROBE, replay=replay, n_step=n_step, dueling=dueling,
                                 head=head, num_atoms=5, v_min=-1.0, v_max=1.0)
    state, metrics = jax.eval_shape(dqn.make_train(config, env, params), jax.random.PRNGKey(0))
    shapes = {k: (v.shape, v.dtype) for k, v in metrics.items()}
    reference = reference or shapes
    assert shapes == reference, (replay, n_step, dueling, head)
    assert (state.window is None) == (n_step == 1)
    assert hasattr(state.buffer, "tree") == (replay == "prioritized")
