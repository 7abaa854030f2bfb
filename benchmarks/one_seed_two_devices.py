"""Can one PPO seed use both CPU cores by putting its actor and its critic on different devices?

The passes of rejax's PPO setting for one seed (``ppo_throughput.network_floor``) run on one core.
This script times 5,000 forward+backward passes of a 64x64 tanh MLP on 100 rows, twice:
(a) one network per CPU device under ``shard_map`` over a two-device ``net`` axis, without and
with the one ``psum`` per update that a global-norm gradient clip over both networks needs;
(b) both networks on one device (``vmap`` over the stacked parameters). Best of 3, seconds.

    .venv/bin/python benchmarks/one_seed_two_devices.py
"""

from __future__ import annotations

import functools
import time

from jaxrl import cpu_devices

cpu_devices.use_all_cores()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, PartitionSpec as P  # noqa: E402

N, B = 5000, 100


def init(key):
  ks = jax.random.split(key, 3)
  return [jax.random.normal(ks[0], (4, 64)) * 0.5, jax.random.normal(ks[1], (64, 64)) / 8,
          jax.random.normal(ks[2], (64, 2)) / 8]


def net(ps, x):
  h = jnp.tanh(x @ ps[0])
  h = jnp.tanh(h @ ps[1])
  return jnp.sum(h @ ps[2])


def step(ps, x, collective):
  g = jax.grad(net)(ps, x)
  if collective:            # the global norm over both networks: one scalar across devices
    n = jax.lax.psum(sum(jnp.sum(a * a) for a in jax.tree.leaves(g)), "net")
    g = jax.tree.map(lambda a: a * jax.lax.rsqrt(n + 1.0), g)
  return jax.tree.map(lambda p, a: p - 1e-4 * a, ps, g)


def local(ps, xs, collective):
  ps = jax.tree.map(lambda a: a[0], ps)
  out = jax.lax.scan(lambda c, x: (step(c, x, collective), None), ps, xs)[0]
  return jax.tree.map(lambda a: a[None], out)


def best_of(fn, *args, repeats=3):
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return min(times)


def main():
  if len(jax.devices()) < 2:
    raise SystemExit("needs two CPU devices (a machine with at least two cores)")
  mesh = Mesh(np.array(jax.devices()[:2]), ("net",))
  params = jax.tree.map(lambda *a: jnp.stack(a), init(jax.random.key(0)), init(jax.random.key(1)))
  xs = jax.random.normal(jax.random.key(2), (N, B, 4))
  for collective in (False, True):
    split = jax.jit(jax.shard_map(functools.partial(local, collective=collective), mesh=mesh,
                                  in_specs=(P("net"), P()), out_specs=P("net")))
    print(f"two devices, one network each, psum per update {collective!s:5}: "
          f"{best_of(split, params, xs):.3f} s", flush=True)
  one = jax.jit(lambda ps, xs: jax.lax.scan(
      lambda c, x: (jax.vmap(lambda p: step(p, x, False))(c), None), ps, xs)[0])
  print(f"one device, both networks:                        {best_of(one, params, xs):.3f} s")


if __name__ == "__main__":
  main()
