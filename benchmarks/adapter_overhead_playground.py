"""What jaxrl's MuJoCo Playground adapter costs: env steps/s through
``envs.make("playground:...")`` vs raw Playground.

The measurement of ``adapter_overhead_brax.py`` (same scan, random actions in [-1, 1], compile
excluded, median of interleaved repeats) with Playground's own training wrapper on the raw side:

* **raw, cached reset**: ``mujoco_playground.wrapper.wrap_for_brax_training(env,
  episode_length)``: a finished episode returns to the state cached at ``reset``;
* **raw, full reset**: the same with ``full_reset=True``: a fresh ``env.reset`` at every episode
  end (what the adapter does);
* **adapter**: ``jax.vmap(env.step)`` of the jaxrl adapter.

The environment is built with MJX's ``impl="jax"`` (the adapter's default; Playground's default
``"warp"`` needs an NVIDIA GPU). Measured (2026-12-06, 2-core CPU shared with other jobs, load
average ~9, so absolute figures are low and noisy), 64 envs x 1000 steps, median of 5:

| raw auto-reset | raw steps/s | adapter steps/s | overhead % |
|----------------|-------------|-----------------|------------|
| cached reset | 278,821 | 128,657 | +116.7 |
| full reset | 119,081 | 128,657 | -7.4 |

Cartpole's step is so cheap that the fresh reset (``make_data`` + ``mjx.forward``, run at every
step under ``vmap``) costs more than the step itself: the adapter is half as fast as Playground's
default cached-first-state wrapper, and faster than its ``full_reset=True``. Run:

    .venv/bin/python benchmarks/adapter_overhead_playground.py [--env CartpoleBalance] [--quick]
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import adapter_overhead_brax as shared  # noqa: E402
import common  # noqa: E402
from jaxrl import envs  # noqa: E402


def main():
  args = shared.parse("CartpoleBalance")
  from mujoco_playground import wrapper
  common.print_machine(f"Playground adapter overhead: playground:{args.env}, {args.num_envs} envs "
                       f"x {args.steps} steps, episode_length {args.episode_length}")
  env, params = envs.make(f"playground:{args.env}", episode_length=args.episode_length)
  raw = env.env
  size = env.action_space(params).shape[0]
  variants = {
      "raw, cached reset": shared.raw_run(
          wrapper.wrap_for_brax_training(raw, episode_length=args.episode_length),
          args.num_envs, size, args.steps),
      "raw, full reset": shared.raw_run(
          wrapper.wrap_for_brax_training(raw, episode_length=args.episode_length,
                                         full_reset=True),
          args.num_envs, size, args.steps),
      "adapter": shared.adapter_run(env, params, args.num_envs, args.steps),
  }
  shared.report("playground", args.env, args.num_envs, args.steps,
                shared.measure(variants, args.repeats))


if __name__ == "__main__":
  main()
