"""The timing harness of ``replay_throughput.py``, and its flashbax side.

Imports only jax, numpy and ``common`` at the top, so the same harness times jaxrl's buffers (in
``.venv``, imported by ``replay_throughput.py``) and flashbax's prioritised flat buffer (run as
``benchmarks/.venv-flashbax/bin/python benchmarks/replay_runner.py flashbax '{json config}'``,
which prints one JSON line of results on stdout).

Every operation runs ``steps`` times inside one jitted ``lax.scan`` (so dispatch does not
dominate), on a buffer first filled to capacity; the carried state is donated, so XLA updates it
in place. Seconds per op = median over ``repeats`` timed calls (after a compiling warm-up) /
``steps``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any, Callable, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

OBS_DIM = 4     # CartPole-v1


class CartPoleTransition(NamedTuple):
  """The shapes and dtypes of ``jaxrl.buffers.Transition`` for CartPole (flashbax's venv has no
  jaxrl)."""
  obs: Any
  action: Any
  reward: Any
  discount: Any
  next_obs: Any


def make_items(t, n: int, cls=CartPoleTransition):
  """``n`` distinct CartPole-sized transitions derived from the step number ``t``."""
  x = t.astype(jnp.float32) + jnp.arange(n, dtype=jnp.float32)
  obs = x[:, None] + jnp.arange(OBS_DIM, dtype=jnp.float32)
  return cls(obs=obs, action=(t + jnp.arange(n)).astype(jnp.int32) % 2,
             reward=jnp.ones(n, jnp.float32), discount=jnp.full(n, 0.99, jnp.float32),
             next_obs=obs + 1)


def _median_seconds(fn: Callable[[Any], Any], arg: Any, repeats: int) -> tuple[float, Any]:
  """``fn`` called ``1 + repeats`` times, each on the previous output (so a donated state is
  never reused); median wall time of the timed calls, and the last output."""
  arg = jax.block_until_ready(fn(arg))     # compile + warm-up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    arg = jax.block_until_ready(fn(arg))
    times.append(time.perf_counter() - start)
  return statistics.median(times), arg


def measure(state: Any, add: Callable, sample: Callable, update: Callable | None, *,
            capacity: int, num_items: int, steps: int, repeats: int,
            item_cls=CartPoleTransition) -> dict:
  """Microseconds per ``add`` of ``num_items`` items, per ``sample``, and per ``sample`` followed
  by ``update(state, indices, priorities)`` (None: not measured).

  ``sample(state, key) -> (items, indices)``; the items are summed into the loop's carry so that
  nothing is dead code; the priorities given to ``update`` are computed from the sampled items
  (``0.1 + |sin(obs[:, 0])|``, positive)."""
  items = lambda t: make_items(t, num_items, item_cls)  # noqa: E731

  def adds(carry, count):
    state, t0 = carry
    state = jax.lax.scan(lambda s, t: (add(s, items(t)), None), state,
                         t0 + jnp.arange(count))[0]
    return state, t0 + count

  fill = jax.jit(lambda c: adds(c, -(-capacity // num_items)), donate_argnums=0)
  carry = jax.block_until_ready(fill((state, jnp.int32(0))))
  add_s, carry = _median_seconds(jax.jit(lambda c: adds(c, steps), donate_argnums=0), carry,
                                 repeats)
  state = carry[0]

  def samples(carry):
    state, key, acc = carry

    def body(acc, k):
      batch, _ = sample(state, k)
      return acc + jnp.sum(batch.obs) + jnp.sum(batch.action), None

    key, sub = jax.random.split(key)
    acc = jax.lax.scan(body, acc, jax.random.split(sub, steps))[0]
    return state, key, acc

  carry = (state, jax.random.key(0), jnp.float32(0))
  sample_s, carry = _median_seconds(jax.jit(samples), carry, repeats)
  out = dict(add_us=add_s / steps * 1e6, sample_us=sample_s / steps * 1e6,
             sample_update_us=None, steps=steps, repeats=repeats)
  if update is None:
    return out

  def sample_updates(carry):
    state, key, acc = carry

    def body(carry, k):
      state, acc = carry
      batch, indices = sample(state, k)
      priorities = 0.1 + jnp.abs(jnp.sin(batch.obs[:, 0]))
      return (update(state, indices, priorities), acc + jnp.sum(batch.obs)), None

    key, sub = jax.random.split(key)
    state, acc = jax.lax.scan(body, (state, acc), jax.random.split(sub, steps))[0]
    return state, key, acc

  update_s, _ = _median_seconds(jax.jit(sample_updates, donate_argnums=0), carry, repeats)
  out["sample_update_us"] = update_s / steps * 1e6
  return out


def versions(names) -> dict:
  from importlib import metadata
  out = {}
  for name in names:
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      out[name] = "not installed"
  out["python"] = sys.version.split()[0]
  return out


def run_flashbax(cfg: dict) -> dict:
  """flashbax's prioritised flat buffer, ``priority_exponent=1`` (the priorities are given
  already exponentiated, as to jaxrl's), ``device="cpu"`` (its CPU sum-tree functions)."""
  import flashbax
  capacity, num_items = cfg["capacity"], cfg["num_items"]
  buffer = flashbax.make_prioritised_flat_buffer(
      max_length=capacity, min_length=cfg["batch_size"], sample_batch_size=cfg["batch_size"],
      add_batch_size=num_items, priority_exponent=1.0, device="cpu")
  example = jax.tree.map(lambda x: x[0], make_items(jnp.int32(0), 1))
  state = buffer.init(example)

  def sample(state, key):
    batch = buffer.sample(state, key)
    return batch.experience.first, batch.indices      # (s_t, s_{t+1}) pairs: take the first

  out = measure(state, buffer.add, sample, buffer.set_priorities, capacity=capacity,
                num_items=num_items, steps=cfg["steps"], repeats=cfg["repeats"])
  out["versions"] = versions(["flashbax", "jax", "jaxlib", "chex", "flax", "numpy"])
  return out


if __name__ == "__main__":
  if len(sys.argv) != 3 or sys.argv[1] != "flashbax":
    sys.exit("usage: replay_runner.py flashbax '{\"capacity\": ..., \"batch_size\": ..., "
             "\"num_items\": ..., \"steps\": ..., \"repeats\": ...}'")
  print(json.dumps(run_flashbax(json.loads(sys.argv[2]))), flush=True)
