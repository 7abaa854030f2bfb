"""What each Rainbow option costs DQN: env steps/s of every DQN-family variant against plain DQN
measured in the same run (issue 23), CartPole-v1, MLP 64x64, one CPU device.

Variants (``DQNConfig`` options over DQN's CartPole setting, ``dqn_throughput.jaxrl_config``:
rejax's CartPole DQN, 10 envs, batch 100, 5 updates per 10 env steps after a warm-up of 5% of
the run, double DQN, Polyak 0.02, one greedy evaluation episode at the end):

    dqn        plain DQN (the reference of every ratio)
    per        replay="prioritized" (proportional, sum tree; importance weights, priority writes)
    nstep3     n_step=3
    dueling    dueling=True
    c51        head="c51", 51 atoms on [0, 100]
    qr         head="qr", 51 quantiles (kappa 0, the setting's MSE loss)
    combined   replay="prioritized", n_step=3, dueling=True, head="c51"

At each point (seeds:env steps per seed, default ``1:5000,32:500``) every variant is one
``jax.jit(jax.vmap(train))`` AOT-compiled before any timing (compile excluded, reported apart),
then the variants run interleaved rep by rep (the order reversed on odd reps, fresh keys per
rep; no untimed warm-up call), and steps/s = seeds x env steps per seed / the median wall time
of ``--repeats`` calls.
The ratio is the variant's steps/s over DQN's at the same point: below 1, the option costs.
The points are short because the distributional heads are slow here: their K x K terms (51 x 51
pairs per sample, C51's projection and QR-DQN's pairwise quantile loss) outweigh the 64x64 MLP's
updates several times over, and a 32-seed QR-DQN call of 500 steps per seed already takes tens
of seconds on this CPU; ``--points`` takes longer ones (env steps per seed below 2,500 or a
multiple of it: ``jaxrl_config`` logs every 2,500 and evaluates once, at the end).

    .venv/bin/python benchmarks/dqn_family_throughput.py [--points 1:5000,32:500]
        [--repeats 3] [--variants dqn,per,...] [--out-md benchmarks/dqn_family_throughput.md]
        [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
import dqn_throughput  # noqa: E402
from jaxrl.agents.dqn import make_train  # noqa: E402
from jaxrl.envs import make  # noqa: E402

C51 = dict(v_min=0.0, v_max=100.0)   # CartPole at discount 0.99: returns in [0, 100]
VARIANTS = {
    "dqn": {},
    "per": dict(replay="prioritized"),
    "nstep3": dict(n_step=3),
    "dueling": dict(dueling=True),
    "c51": dict(head="c51", **C51),
    "qr": dict(head="qr"),
    "combined": dict(replay="prioritized", n_step=3, dueling=True, head="c51", **C51),
}


def config(variant: str, total_steps: int):
  return dataclasses.replace(dqn_throughput.jaxrl_config(total_steps, "minimal"),
                             **VARIANTS[variant])


def measure(variants, points, repeats: int) -> list[dict]:
  env, env_params = make("CartPole-v1")
  out = []
  for seeds, total in points:
    compiled, compile_s = {}, {}
    for v in variants:
      fn = jax.jit(jax.vmap(make_train(config(v, total), env, env_params)))
      keys = dqn_throughput.seed_keys(seeds, 0)
      t0 = time.perf_counter()
      compiled[v] = fn.lower(keys).compile()
      compile_s[v] = time.perf_counter() - t0
    walls = {v: [] for v in variants}
    steps = {}
    for rep in range(repeats):
      for v in (variants if rep % 2 == 0 else variants[::-1]):
        keys = jax.block_until_ready(dqn_throughput.seed_keys(seeds, 1000 * (rep + 1)))
        t0 = time.perf_counter()
        state, _ = jax.block_until_ready(compiled[v](keys))
        walls[v].append(time.perf_counter() - t0)
        steps[v] = int(np.asarray(state.env_steps).reshape(-1)[0])
        print(f"  seeds {seeds} rep {rep} {v}: {walls[v][-1]:.2f} s", flush=True)
    rate = {v: seeds * steps[v] / statistics.median(walls[v]) for v in variants}
    out.append(dict(seeds=seeds, total_steps=total, walls=walls, compile_s=compile_s,
                    steps_per_s=rate, ratio={v: rate[v] / rate["dqn"] for v in variants}))
  return out


def report(results, variants, args, machine, load_before, load_after, wall_s) -> str:
  v = dqn_throughput.jaxrl_versions()
  lines = [
      "## DQN family throughput (`benchmarks/dqn_family_throughput.py`, issue 23)\n",
      f"Command: `{args.command}`  ",
      f"Machine: {machine['cpu']}, {machine['cores']} cores ({machine['caches']}), "
      f"{machine['memory']}, JAX backend {machine['jax backend']}; date {machine['date']}.  ",
      f"Versions: python {v['python']}, jax {v['jax']}, jaxlib {v['jaxlib']}, flax {v['flax']}, "
      f"optax {v['optax']}, gymnax {v['gymnax']}, numpy {v['numpy']}.  ",
      f"Load average (1, 5, 15 min) {load_before} before, {load_after} after; the machine was "
      f"shared with other sessions' work, so absolute rates scatter; the ratios share the load "
      f"(interleaved). Whole run {wall_s / 60:.1f} min.\n",
      f"Env steps/s = seeds x env steps per seed / median wall of {args.repeats} interleaved "
      "calls of one `jit(vmap(train))`, compile excluded; ratio = variant / DQN at the same "
      "point.\n",
  ]
  header = "| variant | " + " | ".join(
      f"{r['seeds']} seed{'s' if r['seeds'] > 1 else ''} x {r['total_steps']:,}: steps/s "
      f"(ratio)" for r in results) + " | compile s |"
  lines += [header, "|---|" + "---:|" * (len(results) + 1)]
  for name in variants:
    cells = [f"{r['steps_per_s'][name]:,.0f} ({r['ratio'][name]:.2f}x)" for r in results]
    comp = " / ".join(f"{r['compile_s'][name]:.1f}" for r in results)
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {comp} |")
  lines.append("\nWall times (s) per call, in run order: " + "; ".join(
      f"{r['seeds']} seeds {name} " + ", ".join(f"{w:.2f}" for w in r["walls"][name])
      for r in results for name in variants) + ".")
  return "\n".join(lines) + "\n"


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--points", default="1:5000,32:500")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--out-md", default=None)
  parser.add_argument("--quick", action="store_true", help="1:1000,4:200, one repeat")
  args = parser.parse_args()
  args.command = "python " + " ".join([os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:])
  if args.quick:
    args.points, args.repeats = "1:1000,4:200", 1
  variants = args.variants.split(",")
  if variants[0] != "dqn" or set(variants) - set(VARIANTS):
    parser.error(f"--variants: names from {list(VARIANTS)}, starting with dqn")
  points = [tuple(int(x) for x in p.split(":")) for p in args.points.split(",")]
  common.print_machine("DQN family throughput on CartPole-v1")
  machine = common.machine_info()
  load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
  t0 = time.perf_counter()
  results = measure(variants, points, args.repeats)
  wall_s = time.perf_counter() - t0
  load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
  text = report(results, variants, args, machine, load_before, load_after, wall_s)
  print("\n" + text)
  if args.out_md:
    with open(args.out_md, "w") as f:
      f.write(text)
    print(f"wrote {args.out_md}")


if __name__ == "__main__":
  main()
