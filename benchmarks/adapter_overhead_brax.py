"""What jaxrl's Brax adapter costs: env steps/s through ``envs.make("brax:...")`` vs raw Brax.

Same run, same environment, random actions in [-1, 1], ``num_envs`` environments for ``steps``
steps in one jitted ``lax.scan`` (compile excluded; median of ``repeats`` calls, the variants
interleaved call by call so that load on a shared machine falls on all of them alike). Two pairs,
each the adapter against the raw suite with the same auto-reset:

* **cached reset**: raw ``brax.envs.training.wrap(env, episode_length)`` (``VmapWrapper`` +
  ``EpisodeWrapper`` + ``AutoResetWrapper``), as Brax's trainers run it: a finished episode
  returns to the first state cached at ``reset``; against the adapter with ``reset="cached"``;
* **full reset**: the same with a fresh ``env.reset(key)`` at every episode end, by a wrapper in
  this script that selects between the stepped state and a reset one, as Playground's
  ``BraxAutoResetWrapper(full_reset=True)`` does; against the adapter's default
  ``reset="fresh"``.

The adapter runs as ``jax.vmap(env.step)`` (a key per environment per step, split inside the
scan; termination vs truncation, ``final_observation``). Overhead % = ``raw steps/s / adapter
steps/s - 1``. Measured (2026-12-06, 2-core CPU shared with other jobs, so absolute figures are
low and noisy), ``inverted_pendulum``, ``mjx``, 64 envs x 1000 steps, median of 5:

| suite | env                              | envs | raw steps/s | adapter steps/s | overhead |
|-------|----------------------------------|------|-------------|-----------------|----------|
|  brax |   inverted_pendulum (full reset) |   64 |       30543 |           29325 |    +4.2% |
|  brax | inverted_pendulum (cached reset) |   64 |       38177 |           34840 |    +9.6% |

(load average ~12 during the run.) Each pair does the same work; ``reset="cached"`` removes the
fresh ``env.reset`` (``pipeline_init``) that ``reset="fresh"`` runs at every step under ``vmap``,
which made the adapter 17% slower than Brax's own wrapper before the option existed. On this
loaded machine the rows move by several percent from run to run (the full-reset pair read -2.2%
in an earlier run), so the cached pair's +9.6%, above the 5% aimed at, is not yet settled. Run:

    .venv/bin/python benchmarks/adapter_overhead_brax.py [--env inverted_pendulum] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import common  # noqa: E402
from jaxrl import envs  # noqa: E402


class FullReset:
  """Auto-reset by a fresh ``env.reset`` (the inner env is batched: Vmap + Episode wrappers)."""

  def __init__(self, env, num_envs: int):
    self.env, self.num_envs = env, num_envs

  def reset(self, key):
    key, sub = jax.random.split(key)
    state = self.env.reset(jax.random.split(sub, self.num_envs))
    state.info["full_reset_key"] = jax.random.split(key, self.num_envs)
    return state

  def step(self, state, action):
    keys = jax.vmap(jax.random.split)(state.info["full_reset_key"])
    if "steps" in state.info:
      state.info["steps"] = jnp.where(state.done, 0, state.info["steps"])
    state = self.env.step(state.replace(done=jnp.zeros_like(state.done)), action)
    fresh = self.env.reset(keys[:, 1])

    def where(x, y):
      return jnp.where(state.done.reshape(state.done.shape + (1,) * (x.ndim - 1)) > 0, x, y)

    field = "data" if hasattr(state, "data") else "pipeline_state"
    state = state.replace(**{field: jax.tree.map(where, getattr(fresh, field),
                                                 getattr(state, field))},
                          obs=jax.tree.map(where, fresh.obs, state.obs))
    state.info["full_reset_key"] = keys[:, 0]
    return state


def raw_run(env, num_envs: int, action_size: int, steps: int, full_reset: bool = False):
  """``run(key)``: a jitted scan of a batched Brax-style env (reset takes [N] keys, or one key
  with :class:`FullReset`)."""
  if full_reset:
    env = FullReset(env, num_envs)

  def run(key):
    key, sub = jax.random.split(key)
    state = env.reset(sub if full_reset else jax.random.split(sub, num_envs))

    def body(carry, k):
      state, total = carry
      action = jax.random.uniform(k, (num_envs, action_size), minval=-1.0, maxval=1.0)
      state = env.step(state, action)
      return (state, total + jnp.sum(state.reward)), None

    return jax.lax.scan(body, (state, jnp.zeros(())), jax.random.split(key, steps))[0]

  return jax.jit(run)


def adapter_run(env, params, num_envs: int, steps: int):
  """``run(key)``: a jitted scan of ``jax.vmap(env.step)`` through the jaxrl adapter."""
  size = env.action_space(params).shape[0]

  def run(key):
    key, sub = jax.random.split(key)
    _, state = jax.vmap(env.reset, (0, None))(jax.random.split(sub, num_envs), params)

    def body(carry, k):
      state, total = carry
      k_act, k_step = jax.random.split(k)
      action = jax.random.uniform(k_act, (num_envs, size), minval=-1.0, maxval=1.0)
      obs, state, reward, _, _, _ = jax.vmap(env.step, (0, 0, 0, None))(
          jax.random.split(k_step, num_envs), state, action, params)
      return (state, total + jnp.sum(reward)), None

    return jax.lax.scan(body, (state, jnp.zeros(())), jax.random.split(key, steps))[0]

  return jax.jit(run)


def measure(variants: dict[str, Callable[[Any], Any]], repeats: int) -> dict[str, float]:
  """Median seconds per call of each ``run(key)`` (compiled first; calls interleaved)."""
  times: dict[str, list[float]] = {name: [] for name in variants}
  for name, run in variants.items():
    t0 = time.perf_counter()
    common.block(run(jax.random.PRNGKey(0)))
    print(f"#   compiled {name} in {time.perf_counter() - t0:.1f} s", flush=True)
  for r in range(repeats):
    for name, run in variants.items():
      t0 = time.perf_counter()
      common.block(run(jax.random.PRNGKey(r + 1)))
      times[name].append(time.perf_counter() - t0)
  return {name: statistics.median(ts) for name, ts in times.items()}


#: The pairs :func:`report` compares: (reset, raw variant, adapter variant).
PAIRS = (("full reset", "raw, full reset", "adapter, fresh"),
         ("cached reset", "raw, cached reset", "adapter, cached"))


def report(suite: str, env_name: str, num_envs: int, steps: int, seconds: dict[str, float]):
  """The markdown table: one row per pair of :data:`PAIRS`, the adapter against the raw suite
  with the same auto-reset."""
  sps = {name: num_envs * steps / s for name, s in seconds.items()}
  rows = []
  for reset, raw, ours in PAIRS:
    overhead = 100.0 * (sps[raw] / sps[ours] - 1.0)
    rows.append((suite, f"{env_name} ({reset})", num_envs, round(sps[raw]), round(sps[ours]),
                 f"{overhead:+.1f}%"))
  common.table(("suite", "env", "envs", "raw steps/s", "adapter steps/s", "overhead"), rows)


def parse(default_env: str, extra: Callable[[argparse.ArgumentParser], None] | None = None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--env", default=default_env)
  parser.add_argument("--num-envs", type=int, default=64)
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--episode-length", type=int, default=1000)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--quick", action="store_true", help="8 envs x 50 steps, 2 repeats")
  if extra is not None:
    extra(parser)
  args = parser.parse_args()
  if args.quick:
    args.num_envs, args.steps, args.repeats = 8, 50, 2
  return args


def main():
  args = parse("inverted_pendulum", lambda p: p.add_argument("--backend", default=None))
  from brax.envs import training
  common.print_machine(f"Brax adapter overhead: brax:{args.env}, {args.num_envs} envs x "
                       f"{args.steps} steps, episode_length {args.episode_length}")
  kwargs = {"episode_length": args.episode_length}
  if args.backend is not None:
    kwargs["backend"] = args.backend
  env, params = envs.make(f"brax:{args.env}", **kwargs)
  cached, _ = envs.make(f"brax:{args.env}", reset="cached", **kwargs)
  print(f"#   backend {env.options.get('backend')}")
  raw = env.env
  size = env.action_space(params).shape[0]
  variants = {
      "raw, cached reset": raw_run(training.wrap(raw, episode_length=args.episode_length),
                                   args.num_envs, size, args.steps),
      "raw, full reset": raw_run(training.EpisodeWrapper(training.VmapWrapper(raw),
                                                         args.episode_length, 1),
                                 args.num_envs, size, args.steps, full_reset=True),
      "adapter, fresh": adapter_run(env, params, args.num_envs, args.steps),
      "adapter, cached": adapter_run(cached, params, args.num_envs, args.steps),
  }
  report("brax", args.env, args.num_envs, args.steps, measure(variants, args.repeats))


if __name__ == "__main__":
  main()
