"""What jaxrl's jumanji adapter costs: env steps/s through ``envs.make("jumanji:Snake-v1")`` vs
jumanji itself, in the same run.

The raw side is jumanji as its users run it: ``jax.vmap`` over ``AutoResetWrapper(jumanji.make(
name)).step(state, action)``. The adapter side is ``jax.vmap`` over ``env.step(key, state, action,
params)`` (gymnax 1.x: one key per env and step, unused by the adapter, whose
randomness is in the suite's state, so the caller's split compiles away; flattened float32
observation, the action mask, terminated/truncated). Both draw uniform random actions and run
``--steps`` steps of ``--num-envs`` envs in one jitted ``lax.scan``, consuming the observation and
reward (a checksum, so neither side's observation is dead code); compile excluded, the two timed
alternately, median of ``--repeats``.

    .venv/bin/python benchmarks/adapter_overhead_jumanji.py [--env Snake-v1] [--num-envs 256]
        [--steps 1000] [--repeats 5] [--quick]

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
import jumanji  # noqa: E402
from jumanji.wrappers import AutoResetWrapper  # noqa: E402

import common  # noqa: E402
from jaxrl import envs  # noqa: E402


def raw_runner(name: str, num_envs: int, steps: int):
  env = AutoResetWrapper(jumanji.make(name))
  num_actions = int(env.action_spec.num_values)

  @jax.jit
  def run(key):
    key, reset_key = jax.random.split(key)
    state, _ = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))

    def body(carry, _):
      state, key, total = carry
      key, action_key = jax.random.split(key)
      action = jax.random.randint(action_key, (num_envs,), 0, num_actions)
      state, timestep = jax.vmap(env.step)(state, action)
      obs_sum = sum(jnp.sum(x.astype(jnp.float32)) for x in jax.tree.leaves(timestep.observation))
      return (state, key, total + obs_sum + jnp.sum(timestep.reward)), None

    return jax.lax.scan(body, (state, key, jnp.float32(0)), None, length=steps)[0][2]

  return run


def adapter_runner(name: str, num_envs: int, steps: int):
  env, params = envs.make(f"jumanji:{name}")
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
      checksum = (jnp.sum(obs) + jnp.sum(reward) + jnp.sum(info["action_mask"])
                  + jnp.sum(terminated | truncated))
      return (state, key, total + checksum), None

    return jax.lax.scan(body, (state, key, jnp.float32(0)), None, length=steps)[0][2]

  return run


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--env", default="Snake-v1")
  parser.add_argument("--num-envs", type=int, default=256)
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--quick", action="store_true", help="64 envs x 200 steps, 3 repeats")
  args = parser.parse_args()
  if args.quick:
    args.num_envs, args.steps, args.repeats = 64, 200, 3
  print(f"# {common.cpu_model()}, jax {jax.__version__}, jumanji {jumanji.__version__}; "
        f"{args.num_envs} envs x {args.steps} steps, median of {args.repeats}")
  print("| suite | env | num envs | raw steps/s | adapter steps/s | overhead |")
  print("|---|---|---|---|---|---|")
  runners = {"raw": raw_runner(args.env, args.num_envs, args.steps),
             "adapter": adapter_runner(args.env, args.num_envs, args.steps)}
  common.adapter_overhead_row("jumanji", args.env, runners, args.num_envs, args.steps, args.repeats)


if __name__ == "__main__":
  main()
