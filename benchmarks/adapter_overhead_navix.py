"""What jaxrl's navix adapter costs over navix itself: environment steps per second, same run.

Both sides step ``E`` vmapped copies of one navix environment ``T`` times in one jitted
``lax.scan`` with uniformly random actions, drawn the same way on both sides:

* raw: navix's ``reset`` and ``step`` (navix's own lazy auto-reset: a ``lax.cond``, a select under
  ``vmap``);
* adapter: ``envs.make("navix:...")``'s ``reset`` and ``step`` (navix's non-resetting ``_step``,
  then a ``lax.cond`` to navix's reset from the key navix keeps in its state; float32
  observations, ``info["final_observation"]``), with the per-environment step keys split in the
  loop as any gymnax caller does.

Compilation is excluded (one warm-up call each); the two are timed alternately, rep by rep, and
the medians reported as a markdown row (suite, environment, envs, raw and adapter steps/s,
overhead in percent of the raw rate).

What was the overhead (+0.8% to +64.5% before 2026-12-06): the adapter selected the reset with
``jnp.where`` over the two timesteps. The values are those of a ``lax.cond`` (under ``vmap`` both
are a select), but XLA:CPU ran the where's program at about 0.73x navix's rate when its two
threads were free to take it, and at navix's rate when pinned to one core (``taskset -c 0``:
+3.6%), so the figure swung with what else the machine ran. With the cond the adapter ran at
1.4-2.2x navix's own ``step`` in five runs on a quiet 2-core CPU (one run at 0.87x), and at 1.2x
pinned to one core (BENCHMARKS.md). ``navix_step_variants.py`` times the compositions side by side.

    .venv/bin/python benchmarks/adapter_overhead_navix.py [--env Navix-Empty-8x8-v0]
        [--num-envs 256] [--steps 5000] [--repeats 7] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import navix  # noqa: E402

import common  # noqa: E402
from jaxrl import envs  # noqa: E402


def raw_program(name: str, num_envs: int, steps: int):
  raw = navix.make(name)
  n = len(raw.action_set)

  @jax.jit
  def run(key):
    key, k0 = jax.random.split(key)
    ts = jax.vmap(raw.reset)(jax.random.split(k0, num_envs))

    def body(carry, _):
      ts, key, total = carry
      key, ka = jax.random.split(key)
      actions = jax.random.randint(ka, (num_envs,), 0, n)
      ts = jax.vmap(raw.step)(ts, actions)
      return (ts, key, total + ts.reward.sum()), None

    (ts, _, total), _ = jax.lax.scan(body, (ts, key, jnp.float32(0)), None, length=steps)
    return ts.observation, total

  return run


def adapter_program(name: str, num_envs: int, steps: int):
  env, params = envs.make(f"navix:{name}")
  n = env.num_actions

  @jax.jit
  def run(key):
    key, k0 = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k0, num_envs), params)
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def body(carry, _):
      state, key, total = carry
      key, ka, ks = jax.random.split(key, 3)
      actions = jax.random.randint(ka, (num_envs,), 0, n)
      obs, state, reward, _, _, info = step(jax.random.split(ks, num_envs), state, actions,
                                            params)
      return (state, key, total + reward.sum()), None

    (state, _, total), _ = jax.lax.scan(body, (state, key, jnp.float32(0)), None, length=steps)
    return state.observation, total

  return run


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--env", default="Navix-Empty-8x8-v0")
  parser.add_argument("--num-envs", type=int, default=256)
  # 5,000 steps: a navix step is ~0.2 us per env, so 1,000 steps (0.1 s a rep) left the
  # figure to timer and scheduler noise (+0.8% to +34% in runs an hour apart)
  parser.add_argument("--steps", type=int, default=5000)
  parser.add_argument("--repeats", type=int, default=7)
  parser.add_argument("--quick", action="store_true", help="64 envs x 200 steps, 3 repeats")
  args = parser.parse_args()
  if args.quick:
    args.num_envs, args.steps, args.repeats = 64, 200, 3
  common.print_machine("navix adapter overhead")
  programs = {"raw": raw_program(args.env, args.num_envs, args.steps),
              "adapter": adapter_program(args.env, args.num_envs, args.steps)}
  key = jax.random.PRNGKey(0)
  for label, fn in programs.items():
    seconds, _ = common.time_once(lambda: fn(key))
    print(f"{label}: compile + first run {seconds:.1f} s")
  times = {label: [] for label in programs}
  for rep in range(args.repeats):
    order = list(programs) if rep % 2 == 0 else list(programs)[::-1]
    for label in order:
      t = time.perf_counter()
      common.block(programs[label](jax.random.PRNGKey(rep + 1)))
      times[label].append(time.perf_counter() - t)
  total = args.num_envs * args.steps
  rate = {label: total / statistics.median(ts) for label, ts in times.items()}
  overhead = 100.0 * (rate["raw"] / rate["adapter"] - 1.0)
  print("seconds per rep: " + "; ".join(
      f"{label} {', '.join(f'{t:.3f}' for t in ts)}" for label, ts in times.items()))
  print()
  print("| suite | env | envs | raw steps/s | adapter steps/s | overhead |")
  print("|---|---|---|---|---|---|")
  print(f"| navix | {args.env} | {args.num_envs} | {rate['raw']:,.0f} | {rate['adapter']:,.0f} | "
        f"{overhead:+.1f}% |")


if __name__ == "__main__":
  main()
