"""Would fusing PPO's actor and critic passes make its update cheaper? (issue 25, one device)

PPO's actor and critic here are two tanh MLPs of the same widths on the same observations
(``ppo_throughput.py``'s setting: 4 -> 64 -> 64 -> 2 and -> 1). Their passes can be written
three ways; this times the update passes of each (forward and backward of ``sum(pi) + sum(v)``
on 100 rows, then an SGD step so the parameters change, 250 dependent steps per call, the seeds
batched with ``vmap``), interleaved, medians of ``--repeats`` calls:

* ``separate``: two MLPs, six dots (how ``jaxrl.networks.make_actor_critic`` builds them);
* ``first_layer``: both first layers as one ``[4, 128]`` dot, the hidden state sliced in two;
* ``stacked``: the first layers as one dot and the second layers as one batched dot over a
  ``[2, 64, 64]`` stack;
* ``jaxrl``: ``jaxrl.networks.make_actor_critic("mlp", ...)`` itself, as a check that
  ``separate`` is what jaxrl runs.

Each variant holds its parameters in its own layout (no stacking per call). Prints microseconds
per update and each variant's ratio to ``separate``.

    .venv/bin/python benchmarks/actor_critic_fusion.py [--seeds 1,32,128] [--repeats 7]
"""

from __future__ import annotations

import argparse
import functools
import statistics

import jax
import jax.numpy as jnp

import common
from jaxrl import networks

STEPS, ROWS, OBS, H = 250, 100, 4, 64


def init(key):
  ks = jax.random.split(key, 6)
  n = lambda k, shape: jax.random.normal(k, shape) * 0.1  # noqa: E731
  z = lambda *shape: jnp.zeros(shape)  # noqa: E731
  return dict(a1=n(ks[0], (OBS, H)), a2=n(ks[1], (H, H)), ah=n(ks[2], (H, 2)),
              c1=n(ks[3], (OBS, H)), c2=n(ks[4], (H, H)), ch=n(ks[5], (H, 1)),
              ab1=z(H), ab2=z(H), ahb=z(2), cb1=z(H), cb2=z(H), chb=z(1))


def separate(p, x):
  a = jnp.tanh(jnp.tanh(x @ p["a1"] + p["ab1"]) @ p["a2"] + p["ab2"])
  c = jnp.tanh(jnp.tanh(x @ p["c1"] + p["cb1"]) @ p["c2"] + p["cb2"])
  return a @ p["ah"] + p["ahb"], (c @ p["ch"] + p["chb"])[:, 0]


def first_layer_layout(p):
  q = {k: v for k, v in p.items() if k not in ("a1", "c1", "ab1", "cb1")}
  return dict(q, w1=jnp.concatenate([p["a1"], p["c1"]], 1),
              b1=jnp.concatenate([p["ab1"], p["cb1"]]))


def first_layer(p, x):
  h = jnp.tanh(x @ p["w1"] + p["b1"])
  a = jnp.tanh(h[:, :H] @ p["a2"] + p["ab2"])
  c = jnp.tanh(h[:, H:] @ p["c2"] + p["cb2"])
  return a @ p["ah"] + p["ahb"], (c @ p["ch"] + p["chb"])[:, 0]


def stacked_layout(p):
  return dict(first_layer_layout(p), w2=jnp.stack([p["a2"], p["c2"]]),
              b2=jnp.stack([p["ab2"], p["cb2"]]))


def stacked(p, x):
  h = jnp.tanh(x @ p["w1"] + p["b1"]).reshape(x.shape[0], 2, H).transpose(1, 0, 2)
  h = jnp.tanh(jnp.einsum("gnh,ghk->gnk", h, p["w2"]) + p["b2"][:, None])
  return h[0] @ p["ah"] + p["ahb"], (h[1] @ p["ch"] + p["chb"])[:, 0]


def update_program(apply):
  def one_seed(p, xs):
    def body(p, x):
      def passes(q):
        pi, v = apply(q, x)
        return jnp.sum(pi) + jnp.sum(v)
      g = jax.grad(passes)(p)
      return jax.tree.map(lambda w, d: w - 1e-3 * d, p, g), None
    return jax.lax.scan(body, p, xs)[0]
  return jax.jit(jax.vmap(one_seed))


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--seeds", default="1,32,128")
  ap.add_argument("--repeats", type=int, default=7)
  args = ap.parse_args()
  common.print_machine("actor and critic passes: separate vs fused (one device)")
  net = networks.make_actor_critic("mlp", 2, (OBS,), hidden_sizes=(H, H))
  for seeds in (int(s) for s in args.seeds.split(",")):
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    params = jax.vmap(init)(keys)
    xs = jax.random.normal(jax.random.PRNGKey(1), (seeds, STEPS, ROWS, OBS))
    variants = dict(
        separate=(update_program(separate), params),
        first_layer=(update_program(first_layer), jax.vmap(first_layer_layout)(params)),
        stacked=(update_program(stacked), jax.vmap(stacked_layout)(params)),
        jaxrl=(update_program(net.apply), jax.vmap(lambda k: net.init(k, jnp.zeros(OBS)))(keys)))
    programs = {name: functools.partial(program, p) for name, (program, p) in variants.items()}
    for program in programs.values():
      common.block(program(xs))                                 # compile and warm up
    walls = common.interleaved_walls(programs, xs, repeats=args.repeats)
    us = {name: statistics.median(w) / STEPS * 1e6 for name, w in walls.items()}
    print(f"{seeds:>4} seeds: " + ", ".join(
        f"{name} {t:,.0f} us ({t / us['separate']:.2f}x)" for name, t in us.items()), flush=True)


if __name__ == "__main__":
  main()
