"""The shared skeleton: typed accumulation, finished-episode counting, intervals, batching."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.agents import dqn
from jaxrl.agents import trainer as trainer_lib


class Stats(NamedTuple):
  loss: jax.Array


class Peak(NamedTuple):
  peak: jax.Array


def test_accumulator_sums_maxima_and_nan_without_items():
  acc = trainer_lib.Accumulator.zeros(Stats, Peak)
  means = acc.means()
  assert np.isnan(means["loss"]) and np.isnan(means["peak"])
  tally = trainer_lib.EpisodeTally.zeros()
  for loss, count, peak, finite in [(3.0, 2.0, 1.0, True), (1.0, 1.0, 5.0, False)]:
    acc = acc.add(trainer_lib.IterationStats(sums=Stats(jnp.float32(loss)), count=jnp.float32(count),
                                             finite=jnp.bool_(finite), episodes=tally,
                                             maxima=Peak(jnp.float32(peak))))
  means = acc.means()
  np.testing.assert_allclose(means["loss"], 4.0 / 3.0)
  np.testing.assert_allclose(means["peak"], 5.0)
  assert not bool(acc.finite)
  np.testing.assert_allclose(acc.means(count=4)["loss"], 1.0)     # a static count


def test_only_finished_episodes_count():
  end = jnp.array([[False, True], [False, False], [True, True]])
  ret = jnp.array([[9.0, 2.0], [9.0, 9.0], [4.0, 6.0]])     # 9s: running episodes' partial sums
  length = jnp.array([[1, 2], [5, 5], [3, 1]])
  tally = trainer_lib.EpisodeTally.zeros().add(end, ret, length)
  out = tally.means()
  assert int(out["episodes"]) == 3
  np.testing.assert_allclose(out["episode_return"], 4.0)
  np.testing.assert_allclose(out["episode_length"], 2.0)
  assert np.isnan(trainer_lib.EpisodeTally.zeros().means()["episode_return"])


def test_intervals_must_fall_on_iteration_boundaries():
  loop = trainer_lib.intervals("X", total_steps=1200, log_every=240, eval_every=480,
                               steps_per_iteration=24, per_iteration="num_envs * num_steps")
  assert loop == trainer_lib.Intervals(10, 5, 2, 240)
  for kwargs, match in [(dict(log_every=250), r"log_every \(250\) must be a positive multiple of "
                         r"num_envs \* num_steps \(24\)"),
                        (dict(eval_every=500), r"eval_every \(500\) must be a positive multiple"),
                        (dict(total_steps=1000), r"total_steps \(1000\) must be a positive")]:
    args = dict(total_steps=1200, log_every=240, eval_every=480, steps_per_iteration=24,
                per_iteration="num_envs * num_steps")
    with pytest.raises(ValueError, match=match):
      trainer_lib.intervals("X", **{**args, **kwargs})


def test_the_state_must_name_what_the_skeleton_reads():
  class NoKey(NamedTuple):
    params: jax.Array
    env_steps: jax.Array
    updates: jax.Array

  loop = trainer_lib.Intervals(1, 1, 1, 1)
  with pytest.raises(ValueError, match=r"NoKey lacks \['key'\]"):
    trainer_lib.make_trainer("x", dqn.DQNConfig(), state_type=NoKey, init_state=None,
                             iteration=None, loop=loop, evaluate=None, sums=Stats)


def test_batched_trainer_is_the_vmap_of_the_trainer():
  env, params = envs.probe(3, discount=0.9)
  config = dqn.DQNConfig(total_steps=400, num_envs=4, hidden_sizes=(8,), buffer_size=200,
                         batch_size=8, learning_starts=40, log_every=200, eval_every=400,
                         eval_episodes=2)
  trainer = dqn.make_train(config, env, params)
  keys = jax.random.split(jax.random.PRNGKey(0), 2)
  hp = jax.tree.map(lambda x: jnp.stack([x, x]), trainer.default_hyperparams)
  batched = trainer.batched()
  carry, metrics = jax.jit(lambda k, h: batched.run(batched.init(k, h), 0, trainer.num_logs, h))(
      keys, hp)
  _, direct = jax.jit(jax.vmap(trainer))(keys)
  for name in direct:        # [logs, runs] from run, [runs, logs] from vmap(train)
    np.testing.assert_allclose(np.asarray(metrics[name]).T, np.asarray(direct[name]), rtol=1e-5,
                               err_msg=name)
