"""What jaxrl's MuJoCo Playground adapter costs: env steps/s through
``envs.make("playground:...")`` vs raw Playground.

The measurement of ``adapter_overhead_brax.py`` (same scan, random actions in [-1, 1], compile
excluded, median of interleaved repeats; two pairs, each the adapter against the raw suite with
the same auto-reset) with Playground's own training wrapper on the raw side:

* **cached reset**: ``mujoco_playground.wrapper.wrap_for_brax_training(env, episode_length)``,
  as Playground's training runs it: a finished episode returns to the state cached at
  ``reset``; against the adapter with ``reset="cached"``;
* **full reset**: the same with ``full_reset=True``: a fresh ``env.reset`` at every episode end;
  against the adapter's default ``reset="fresh"``.

The environment is built with MJX's ``impl="jax"`` (the adapter's default; Playground's default
``"warp"`` needs an NVIDIA GPU). Measured (2026-12-06, 2-core CPU shared with other jobs, so
absolute figures are low and noisy), 64 envs x 1000 steps, median of 5:

| suite      | env                            | envs | raw steps/s | adapter steps/s | overhead |
|------------|--------------------------------|------|-------------|-----------------|----------|
| playground |   CartpoleBalance (full reset) |   64 |       86873 |           84544 |    +2.8% |
| playground | CartpoleBalance (cached reset) |   64 |      220353 |          195848 |   +12.5% |

(load average ~12.) Cartpole's step is so cheap that a fresh reset (``make_data`` +
``mjx.forward``, run at every step under ``vmap``) costs more than the step itself:
``reset="fresh"`` runs at under half the speed of Playground's default cached wrapper (+117%
before the option existed); ``reset="cached"`` closes most of that gap, but the +12.5% left is
still above the 5% the adapter aims at (not yet explained: possibly noise on this loaded machine,
possibly the adapter's own per-step bookkeeping, which matters on so cheap a step). Run:

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
  cached, _ = envs.make(f"playground:{args.env}", episode_length=args.episode_length,
                        reset="cached")
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
      "adapter, fresh": shared.adapter_run(env, params, args.num_envs, args.steps),
      "adapter, cached": shared.adapter_run(cached, params, args.num_envs, args.steps),
  }
  shared.report("playground", args.env, args.num_envs, args.steps,
                shared.measure(variants, args.repeats))


if __name__ == "__main__":
  main()
