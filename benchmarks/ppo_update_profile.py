"""Where a jaxrl PPO minibatch update spends its time, against the floor's bare passes.

PPO's setting of ``ppo_throughput.py`` (CartPole-v1, two 64x64 tanh MLPs, 100-row minibatches).
Each variant is ``K`` dependent minibatch updates (a ``lax.scan``) on fixed random minibatches,
``jit(vmap(...))`` over ``S`` seeds (each its own parameters and data), interleaved medians. The
parameters and the minibatches are made by a separate program and passed in, so that the timed
program is the updates alone (until 2026-12-06 they were drawn inside it: threefry's normals for
50 minibatches cost as much as several updates at 32 seeds, which hid the loss's cost):

  ``update``          PPO's loss (``ppo._make_loss``), ``value_and_grad``, the global-norm clip
                      and Adam (``ppo._optimizer``, flattened): what ``ppo.py`` runs;
  ``loss_sgd``        the loss and its gradient, a plain SGD step (no clip, no Adam);
  ``passes_sgd``      the bare forward+backward of both heads (``sum(pi) + sum(v)``), an SGD step;
  ``passes_const``    the same passes on parameters that never change (how
                      ``ppo_throughput.network_floor`` times its update part);
  ``adam_unflat``     ``update`` with the optimizer per parameter leaf (``flatten=False``);
  ``optax_adam``      ``update`` with plain ``optax.adam`` (no clip).

Then (unless ``--no-in-situ``) where a whole run's time goes: PPO as ``ppo_throughput.py`` runs
it (5 epochs, one device) against the same run with 1 epoch; the difference is 4 epochs of
minibatch updates with their shuffles, so ``updates = 5/4 x difference`` and the rest (rollout,
GAE, bookkeeping, evaluation) is ``full - updates``. Each is set beside the floor's parts
(``ppo_throughput.network_floor``: its update passes, and actor + critic + bare environment).

Run (~10 min)::

    .venv/bin/python benchmarks/ppo_update_profile.py [--seeds 1,32,128]
        [--no-in-situ | --in-situ-only]
 Prints microseconds per update (all seeds together) and each variant over
``passes_const``; then the in-situ split in seconds per run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ppo_throughput as pt  # noqa: E402  (splits the CPU first)
import common  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.agents import actors, optimizers, ppo  # noqa: E402

K, ROWS = 250, 100


def variants():
  config = pt.jaxrl_config(100_000)
  env, env_params = envs.make("CartPole-v1")
  actor = actors.make_on_policy_parts("PPOConfig", config, env, env_params,
                                      length=config.num_steps, record=True).actor
  net, hp = actor.network, config.hyperparams()
  loss_fn = ppo._make_loss(config, actor)  # pylint: disable=protected-access
  sgd = lambda p, g: jax.tree.map(lambda a, b: a - 1e-3 * b, p, g)  # noqa: E731

  def passes(p, obs):
    pi, v = net.apply(p, obs)
    return jnp.sum(pi) + jnp.sum(v)

  def with_optimizer(opt):
    def body(carry, mb):
      p, o = carry
      (loss, _), g = jax.value_and_grad(loss_fn, has_aux=True)(p, mb, hp, p)
      u, o = opt.update(g, o, p)
      return (optax.apply_updates(p, u), o), loss
    return body, opt

  def loss_sgd(carry, mb):
    (loss, _), g = jax.value_and_grad(loss_fn, has_aux=True)(carry[0], mb, hp, carry[0])
    return (sgd(carry[0], g), carry[1]), loss

  def passes_sgd(carry, mb):
    return (sgd(carry[0], jax.grad(passes)(carry[0], mb.obs_t)), carry[1]), 0.0

  def passes_const(carry, mb):
    return carry, jax.tree.map(jnp.sum, jax.grad(passes)(carry[0], mb.obs_t))

  none = optax.identity()
  ppo_optimizer = ppo._optimizer(config, 10_000, hp)  # pylint: disable=protected-access
  return net, {
      "update": with_optimizer(ppo_optimizer),
      "loss_sgd": (loss_sgd, none), "passes_sgd": (passes_sgd, none),
      "passes_const": (passes_const, none),
      "adam_unflat": with_optimizer(optimizers.adam(hp.learning_rate, max_grad_norm=0.5,
                                                    eps=1e-5, flatten=False)),
      "optax_adam": with_optimizer(optax.adam(hp.learning_rate, eps=1e-5)),
  }


def minibatches(key):
  k1, k2, k3 = jax.random.split(key, 3)
  f = jax.random.normal(k3, (K, ROWS))
  return ppo.PPOBatch(obs_t=jax.random.normal(k1, (K, ROWS, 4)),
                      a_t=jax.random.randint(k2, (K, ROWS), 0, 2), log_prob_t=-jnp.abs(f) - 0.1,
                      value_t=f, advantage_t=0.5 * f, target_t=f)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--seeds", default="1,32,128")
  ap.add_argument("--repeats", type=int, default=7)
  ap.add_argument("--no-in-situ", dest="in_situ", action="store_false")
  ap.add_argument("--in-situ-only", action="store_true")
  args = ap.parse_args(argv)
  net, parts = variants()
  print(f"jax {jax.__version__}, {jax.devices()[0].device_kind}; {K} updates per call", flush=True)
  for seeds in [] if args.in_situ_only else map(int, args.seeds.split(",")):
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    inputs = jax.block_until_ready(jax.jit(jax.vmap(
        lambda k: (net.init(k, jnp.zeros(4)), minibatches(k))))(keys))
    programs = {}
    for name, (body, opt) in parts.items():
      def one(p, mbs, body=body, opt=opt):
        (p, _), out = jax.lax.scan(body, (p, opt.init(p)), mbs)
        return jax.tree.map(jnp.sum, p), out
      programs[name] = jax.jit(jax.vmap(one)).lower(*inputs).compile()
      jax.block_until_ready(programs[name](*inputs))
    walls = common.interleaved_walls(programs, *inputs, repeats=args.repeats)
    us = {name: 1e6 * statistics.median(w) / K for name, w in walls.items()}
    for name, t in us.items():
      print(f"seeds {seeds:4d}  {name:13s} {t:10.1f} us/update  {t / us['passes_const']:5.2f}x "
            "passes_const", flush=True)
  if args.in_situ:
    for seeds in map(int, args.seeds.split(",")):
      in_situ(seeds, IN_SITU_STEPS[seeds] if seeds in IN_SITU_STEPS else 10_000, args.repeats)


#: ppo_throughput.py's steps per seed at its points.
IN_SITU_STEPS = {1: 100_000, 32: 25_000, 128: 10_000}


def in_situ(seeds: int, total: int, repeats: int) -> None:
  """PPO's run with 5 epochs against 1 (one device), and the floor's parts, at ``seeds``."""
  env, env_params = envs.make("CartPole-v1")
  keys = jax.random.split(jax.random.PRNGKey(0), seeds)
  runs = {}
  for epochs in (pt.EPOCHS, 1):
    config = dataclasses.replace(pt.jaxrl_config(total), num_epochs=epochs)
    runs[epochs] = jax.jit(jax.vmap(ppo.make_train(config, env, env_params))).lower(
        keys).compile()
    jax.block_until_ready(runs[epochs](keys))
  walls = common.interleaved_walls(runs, keys, repeats=repeats)
  full, one = (statistics.median(walls[e]) for e in (pt.EPOCHS, 1))
  updates = (full - one) * pt.EPOCHS / (pt.EPOCHS - 1)
  floor = pt.network_floor(seeds, total, None, repeats)["seconds"]
  rest_floor = floor["actor_per_step"] + floor["critic_per_rollout"] + floor["bare_env"]
  print(f"seeds {seeds:4d}  in situ, {total:,} steps per seed, one device: full run {full:.3f} s "
        f"(1 epoch: {one:.3f} s); updates {updates:.3f} s against the floor's update passes "
        f"{floor['update_passes']:.3f} s ({updates / floor['update_passes']:.2f}x); the rest "
        f"{full - updates:.3f} s against the floor's actor + critic + environment "
        f"{rest_floor:.3f} s ({(full - updates) / rest_floor:.2f}x); run / floor "
        f"{sum(floor.values()) / full:.0%}; floor parts (s): "
        + ", ".join(f"{k} {v:.3f}" for k, v in floor.items()), flush=True)


if __name__ == "__main__":
  main()
