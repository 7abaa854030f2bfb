"""What jaxrl's xminigrid adapter costs: env steps/s through
``envs.make("xminigrid:MiniGrid-Empty-8x8")`` vs xminigrid itself, in the same run.

The raw side is xminigrid as its users run it: ``jax.vmap`` over ``GymAutoResetWrapper(env).step(
params, timestep, action)`` from ``xminigrid.make(name)``. The adapter side is ``jax.vmap`` over
``env.step(key, state, action, params)`` (gymnax 1.x: one key per env and step, unused by the
adapter, whose randomness is in the suite's state, so the caller's split compiles away; the float32
flattened observation, terminated/truncated). Both draw uniform random actions and run
``--steps`` steps of ``--num-envs`` envs in one jitted ``lax.scan``, consuming the observation and
reward (a checksum, so neither side's observation is dead code); compile excluded, the two timed
alternately, median of ``--repeats``.

    .venv/bin/python benchmarks/adapter_overhead_xminigrid.py [--env MiniGrid-Empty-8x8]
        [--num-envs 256] [--steps 1000] [--repeats 5] [--quick]

Prints a markdown table row: suite, env, num envs, raw steps/s, adapter steps/s, overhead %.
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import xminigrid  # noqa: E402
from xminigrid.wrappers import GymAutoResetWrapper  # noqa: E402

import common  # noqa: E402
from jaxrl import envs  # noqa: E402


def raw_runner(name: str, num_envs: int, steps: int):
  env, params = xminigrid.make(name)
  env = GymAutoResetWrapper(env)
  num_actions = int(env.num_actions(params))

  @jax.jit
  def run(key):
    key, reset_key = jax.random.split(key)
    timestep = jax.vmap(env.reset, in_axes=(None, 0))(params, jax.random.split(reset_key,
                                                                                 num_envs))

    def body(carry, _):
      timestep, key, total = carry
      key, action_key = jax.random.split(key)
      action = jax.random.randint(action_key, (num_envs,), 0, num_actions)
      timestep = jax.vmap(env.step, in_axes=(None, 0, 0))(params, timestep, action)
      checksum = (jnp.sum(timestep.observation.astype(jnp.float32)) + jnp.sum(timestep.reward)
                  + jnp.sum(timestep.last()))
      return (timestep, key, total + checksum), None

    return jax.lax.scan(body, (timestep, key, jnp.float32(0)), None, length=steps)[0][2]

  return run


def adapter_runner(name: str, num_envs: int, steps: int):
  env, params = envs.make(f"xminigrid:{name}")
  num_actions = env.num_actions

  @jax.jit
  def run(key):
    key, reset_key = jax.random.split(key)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, num_envs),
                                                      params)

    def body(carry, _):
      state, key, total = carry
      key, action_key, step_key = jax.random.split(key, 3)
      action = jax.random.randint(action_key, (num_envs,), 0, num_actions)
      obs, state, reward, terminated, truncated, info = jax.vmap(
          env.step, in_axes=(0, 0, 0, None))(jax.random.split(step_key, num_envs), state, action,
                                             params)
      checksum = (jnp.sum(obs) + jnp.sum(reward) + jnp.sum(terminated | truncated))
      return (state, key, total + checksum), None

    return jax.lax.scan(body, (state, key, jnp.float32(0)), None, length=steps)[0][2]

  return run


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--env", default="MiniGrid-Empty-8x8")
  parser.add_argument("--num-envs", type=int, default=256)
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--quick", action="store_true", help="64 envs x 200 steps, 3 repeats")
  args = parser.parse_args()
  if args.quick:
    args.num_envs, args.steps, args.repeats = 64, 200, 3
  print(f"# {common.cpu_model()}, jax {jax.__version__}, xminigrid {xminigrid.__version__}; "
        f"{args.num_envs} envs x {args.steps} steps, median of {args.repeats}")
  print("| suite | env | num envs | raw steps/s | adapter steps/s | overhead |")
  print("|---|---|---|---|---|---|")
  runners = {"raw": raw_runner(args.env, args.num_envs, args.steps),
             "adapter": adapter_runner(args.env, args.num_envs, args.steps)}
  common.adapter_overhead_row("xminigrid", args.env, runners, args.num_envs, args.steps, args.repeats)


if __name__ == "__main__":
  main()
