"""Where a jaxrl DQN update spends its time: the update loop taken apart, seeds vmapped.

A companion of ``dqn_throughput.py`` (whose diagnostic shows that gradient updates are 90-99% of
a DQN run on CartPole-v1). Here the update of ``jaxrl.agents.dqn`` is rebuilt from jaxrl's public
parts (``make_q_network``, ``make_replay_buffer``, ``double_q_learning_loss``, the same optax
chain and ``optax.incremental_update``), and run as a ``lax.scan`` of ``K`` updates under
``jax.vmap`` over ``S`` seeds, on a replay buffer of 50,000 random CartPole-sized transitions,
peeling one part off at a time:

  ``update``       sample 100 transitions + double-DQN loss and gradient + clip by global norm
                   + Adam + Polyak step (what ``dqn.py`` does per update);
  ``update_presampled``  ``update`` with the minibatch indices of all updates drawn by one
                   ``randint`` before the loop (in ``dqn.py`` that would be one draw per
                   iteration for its 5 updates) instead of one ``buffer.sample`` per update;
  ``update_flat``  ``update`` with the optimizer wrapped in ``optax.flatten`` (one parameter
                   vector instead of six leaves, so fewer, larger elementwise kernels);
  ``no_sample``    ``update`` on one fixed minibatch (no RNG, no gather from the buffer);
  ``grad_sgd``     fixed minibatch, loss and gradient, plain SGD step (no clip, Adam, Polyak);
  ``matmuls``      the dots alone: the forward/backward dots of the online net and the two
                   next-state forwards, with the same shapes, in a dependent chain.

It also reports, for the whole compiled ``train`` of ``dqn.py`` (1 and S seeds), the number of
kernels (HLO fusions and other non-trivial instructions) in the body of the update loop, which is
what a CPU pays per update in dispatch overhead whatever the FLOPs.

Every figure is microseconds per update (of all seeds together) and GFLOP/s on the 4.43 MFLOP per
update per seed that ``dqn_throughput.py`` counts. Run: ``.venv/bin/python
benchmarks/dqn_update_profile.py`` (about 1 minute).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import common  # noqa: E402
from jaxrl import buffers, losses, networks  # noqa: E402
from jaxrl.agents.dqn import DQNConfig, make_train  # noqa: E402
from jaxrl.envs import make  # noqa: E402

BATCH, CAPACITY = 100, 50_000
FWD_MACS = 4 * 64 + 64 * 64 + 64 * 2
UPDATE_FLOPS = 2 * BATCH * (FWD_MACS + (FWD_MACS + 64 * 64 + 64 * 2) + 2 * FWD_MACS)


def make_parts():
  net = networks.make_q_network("mlp", 2, (4,), hidden_sizes=(64, 64))
  buf = buffers.make_replay_buffer(CAPACITY, BATCH)
  opt = optax.chain(optax.clip_by_global_norm(10.0), optax.adam(1e-3))

  def loss(params, target, batch):
    q_tm1 = net.apply(params, batch.obs)
    q_t = net.apply(target, batch.next_obs)
    q_sel = net.apply(params, batch.next_obs)
    per = jax.vmap(losses.double_q_learning_loss)(q_tm1, batch.action, batch.reward,
                                                 batch.discount, q_t, q_sel)
    return jnp.mean(per)

  def init(key):
    k_net, k_buf = jax.random.split(key)
    params = net.init(k_net, jnp.zeros((4,)))
    ks = jax.random.split(k_buf, 3)
    items = buffers.Transition(
        obs=jax.random.normal(ks[0], (CAPACITY, 4)),
        action=jax.random.randint(ks[1], (CAPACITY,), 0, 2, dtype=jnp.int32),
        reward=jnp.ones((CAPACITY,)), discount=jnp.full((CAPACITY,), 0.99),
        next_obs=jax.random.normal(ks[2], (CAPACITY, 4)))
    example = jax.tree.map(lambda x: x[0], items)
    state = buf.add(buf.init(example), items)
    return params, params, opt.init(params), state

  flat_opt = optax.flatten(opt)

  def variant(name, steps):
    o = flat_opt if name == "update_flat" else opt

    def run(key):
      params, target, opt_state, state = init(key)
      opt_state = o.init(params)
      fixed = buf.sample(state, key)
      # all the minibatch indices of the call in one RNG draw (one per iteration in a DQN loop)
      indices = jax.random.randint(key, (steps, BATCH), 0, CAPACITY, dtype=jnp.int32)

      def body(carry, xs):
        k, idx = xs
        params, target, opt_state = carry
        if name in ("update", "update_flat"):
          batch = buf.sample(state, k)
        elif name == "update_presampled":
          batch = jax.tree.map(lambda s: s[idx], state.storage)
        else:
          batch = fixed
        grads = jax.grad(loss)(params, target, batch)
        if name == "grad_sgd":
          params = jax.tree.map(lambda p, g: p - 1e-3 * g, params, grads)
          return (params, target, opt_state), None
        updates, opt_state = o.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        target = optax.incremental_update(params, target, 0.02)
        return (params, target, opt_state), None

      (params, _, _), _ = jax.lax.scan(body, (params, target, opt_state),
                                       (jax.random.split(key, steps), indices))
      return params
    return run

  return variant


def matmul_chain(steps):
  """The update's dots, same shapes, dependent chain (forward 3 layers on obs, next_obs twice;
  backward dW for 3 layers and dx for layers 2-3)."""
  def run(key):
    ks = jax.random.split(key, 4)
    w1 = jax.random.normal(ks[0], (4, 64)) * 0.1
    w2 = jax.random.normal(ks[1], (64, 64)) * 0.1
    w3 = jax.random.normal(ks[2], (64, 2)) * 0.1
    x = jax.random.normal(ks[3], (BATCH, 4))

    def fwd(w1, w2, w3, x):
      h1 = x @ w1
      h2 = h1 @ w2
      return h1, h2, h2 @ w3

    def body(carry, _):
      w1, w2, w3 = carry
      h1, h2, q = fwd(w1, w2, w3, x)
      _, _, qt = fwd(w1 * 0.999, w2, w3, x)
      _, _, qs = fwd(w1, w2 * 0.999, w3, x)
      dq = q - qt - qs
      dw3 = h2.T @ dq
      dh2 = dq @ w3.T
      dw2 = h1.T @ dh2
      dh1 = dh2 @ w2.T
      dw1 = x.T @ dh1
      return (w1 - 1e-6 * dw1, w2 - 1e-6 * dw2, w3 - 1e-6 * dw3), None

    (w1, w2, w3), _ = jax.lax.scan(body, (w1, w2, w3), None, length=steps)
    return w1.sum() + w2.sum() + w3.sum()
  return run


def time_fn(fn, keys, repeats):
  jax.block_until_ready(fn(keys))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(keys))
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def update_loop_kernels(seeds: int) -> dict:
  """Counts the kernels (instructions other than parameter, tuple, get-tuple-element, constant and
  bitcast; a fusion counts once) in the body of the update loop of dqn.py's compiled ``train``:
  the computation with the most instructions tagged ``cond/branch_1_fun/while/body`` (the
  ``lax.scan`` over updates inside the ``lax.cond`` on ``learn``)."""
  from collections import Counter
  env, params = make("CartPole-v1")
  cfg = DQNConfig(total_steps=5_000, learning_starts=250, eval_every=5_000, eval_episodes=1)
  train = jax.jit(jax.vmap(make_train(cfg, env, params)))
  txt = train.lower(jax.random.split(jax.random.PRNGKey(0), seeds)).compile().as_text()
  noop = ("parameter", "get-tuple-element", "tuple", "constant", "bitcast")
  best = None
  for block in re.findall(r"\n(%?[\w.\-]+ \([^\n]*\{\n.*?\n\})", txt, flags=re.S):
    lines = block.split("\n")
    tagged = sum(1 for line in lines if "branch_1_fun/while/body" in line)
    ops = []
    for line in lines[1:]:
      m = re.match(r"\s*(ROOT )?%\S+ = .*? (\w[\w\-]*)\(", line)
      if m and m.group(2) not in noop:
        ops.append(m.group(2))
    if best is None or tagged > best[0]:
      best = (tagged, ops)
  if best is None:
    return {}
  counts = Counter(best[1])
  return dict(kernels=len(best[1]), **{k: counts.get(k, 0) for k in ("fusion", "while", "copy", "dot")})


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--seeds", type=int, nargs="+", default=[1, 32])
  parser.add_argument("--updates", type=int, default=2_000, help="updates per seed per call")
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  common.print_machine("jaxrl DQN update, taken apart")
  variant = make_parts()
  rows = []
  for s in args.seeds:
    keys = jax.random.split(jax.random.PRNGKey(0), s)
    steps = max(50, args.updates // max(1, s // 8))
    row = [s, steps]
    for name in ("update", "update_presampled", "update_flat", "no_sample", "grad_sgd"):
      fn = jax.jit(jax.vmap(variant(name, steps)))
      t = time_fn(fn, keys, args.repeats)
      row += [f"{t / steps * 1e6:.0f} us ({s * steps * UPDATE_FLOPS / t / 1e9:.0f})"]
    t = time_fn(jax.jit(jax.vmap(matmul_chain(steps))), keys, args.repeats)
    row += [f"{t / steps * 1e6:.0f} us ({s * steps * UPDATE_FLOPS / t / 1e9:.0f})"]
    k = update_loop_kernels(s)
    row += [f"{k.get('kernels', '?')} ({k.get('fusion', '?')} fusions, {k.get('while', '?')} "
            f"RNG while loops, {k.get('copy', '?')} small copies)"]
    rows.append(row)
  common.table(["seeds", "updates per call", "update (GFLOP/s)", "update_presampled", "update_flat",
                "no_sample", "grad_sgd",
                "matmuls only", "kernels in dqn.py's update-loop body"], rows,
               title="Microseconds per update of all seeds (GFLOP/s in parentheses)")


if __name__ == "__main__":
  main()
