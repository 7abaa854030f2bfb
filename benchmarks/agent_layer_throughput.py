"""Throughput of jaxrl's DQN, A2C and REINFORCE at two commits, measured side by side in one run.

The agent-layer rebuild (issue 9) had to keep every agent as fast as before. This script checks
out a reference commit (default ``dd6de21``, the last commit before the rebuild) as a git
worktree, and times the same configurations of both versions in separate processes, alternating
them, on CartPole-v1: one ``jit(vmap(train))(keys)`` call, compile excluded, on one CPU device
(the default JAX device; the comparison is of the code, not of the core split).

    .venv/bin/python benchmarks/agent_layer_throughput.py [--ref dd6de21] [--repeats 3]
        [--out-md F] [--out-json F]

Configurations (as in ``dqn_throughput.py`` / ``pg_throughput.py``): DQN defaults with
``learning_starts`` 5% and epsilon decay over half the run; A2C 5 envs x 100 steps; REINFORCE
(reward-to-go, value baseline) 5 envs; 64x64 networks; one greedy episode at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402

WORKER = r'''
import json, sys, time
import jax, numpy as np
import jaxrl
from jaxrl import envs
from jaxrl.agents import a2c, dqn, reinforce

def config(algo, total):
  if algo == "dqn":
    return dqn.DQNConfig(total_steps=total, learning_starts=int(0.05 * total),
                         epsilon_decay_steps=total / 2, log_every=min(2_500, total),
                         eval_every=total, eval_episodes=1)
  if algo == "a2c":
    return a2c.A2CConfig(total_steps=total, num_envs=5, num_steps=100, hidden_sizes=(64, 64),
                         log_every=total, eval_every=total, eval_episodes=1)
  return reinforce.ReinforceConfig(total_steps=total, num_envs=5, returns="reward_to_go",
                                   baseline="value", log_every=total, eval_every=total,
                                   eval_episodes=1)

algo, seeds, total, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
module = dict(dqn=dqn, a2c=a2c, reinforce=reinforce)[algo]
env, params = envs.make("CartPole-v1")
train = jax.jit(jax.vmap(module.make_train(config(algo, total), env, params)))
keys = jax.random.split(jax.random.PRNGKey(0), seeds)
t0 = time.perf_counter()
compiled = train.lower(keys).compile()
compile_s = time.perf_counter() - t0
walls = []
for rep in range(repeats):
  k = jax.random.split(jax.random.PRNGKey(1000 * (rep + 1)), seeds)
  t0 = time.perf_counter()
  state, metrics = jax.block_until_ready(compiled(k))
  walls.append(time.perf_counter() - t0)
steps = int(np.asarray(state.env_steps).reshape(-1)[0])
print("RESULT" + json.dumps(dict(jaxrl=jaxrl.__file__, walls=walls, compile_s=compile_s,
                                 env_steps_per_seed=steps)))
'''

POINTS = [("dqn", 1, 50_000), ("dqn", 32, 10_000), ("a2c", 1, 100_000), ("a2c", 32, 25_000),
          ("reinforce", 1, 100_000), ("reinforce", 32, 25_000)]


def worktree(ref: str) -> str:
  path = os.path.join("/tmp", f"jaxrl-{ref}")
  if not os.path.exists(os.path.join(path, "jaxrl", "__init__.py")):
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "-f", "--detach", path, ref],
                   check=True, capture_output=True)
  return path


def measure(src: str, algo: str, seeds: int, total: int, repeats: int) -> dict:
  env = dict(os.environ, PYTHONPATH=src, JAX_PLATFORMS="cpu")
  env.pop("XLA_FLAGS", None)
  proc = subprocess.run([sys.executable, "-W", "ignore", "-c", WORKER, algo, str(seeds),
                         str(total), str(repeats)], cwd="/tmp", env=env, capture_output=True,
                        text=True, timeout=1800, check=False)
  if proc.returncode:
    raise RuntimeError(proc.stderr[-3000:])
  out = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])
  assert out["jaxrl"].startswith(src), (out["jaxrl"], src)   # the intended version ran
  return out


def main():
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--ref", default="dd6de21")
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--out-md")
  ap.add_argument("--out-json")
  args = ap.parse_args()
  t_start = time.perf_counter()
  head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True, check=True).stdout.strip()
  sources = {args.ref: worktree(args.ref), f"HEAD ({head})": ROOT}
  res = dict(command="python " + " ".join(sys.argv), machine=common.machine_info(), points=[])
  for algo, seeds, total in POINTS:
    runs = {name: [] for name in sources}
    for rnd in range(2):       # two alternating rounds of `repeats` calls each
      for name in (list(sources) if rnd == 0 else list(sources)[::-1]):
        runs[name].append(measure(sources[name], algo, seeds, total, args.repeats))
    rate = {name: seeds * r[0]["env_steps_per_seed"] / statistics.median(
        w for x in r for w in x["walls"]) for name, r in runs.items()}
    ref_rate, head_rate = rate[args.ref], rate[f"HEAD ({head})"]
    res["points"].append(dict(algo=algo, seeds=seeds, total=total, steps_per_s=rate, runs=runs))
    print(f"{algo} seeds={seeds}: {args.ref} {ref_rate:,.0f}  HEAD {head_rate:,.0f}  "
          f"HEAD/{args.ref} {head_rate / ref_rate:.2f}", flush=True)
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["wall_s"] = time.perf_counter() - t_start
  mi = res["machine"]
  lines = [f"Command: `{res['command']}`  \nDate: {mi['date']}; machine: {mi['cpu']}, "
           f"{mi['cores']} cores, JAX backend {mi['jax backend']}; load average "
           f"{mi['load average']} before, {res['load_after']} after; "
           f"{res['wall_s'] / 60:.1f} min.\n",
           f"| agent | seeds | steps/seed | {args.ref} steps/s | HEAD ({head}) steps/s | "
           f"HEAD / {args.ref} |", "|---|---:|---:|---:|---:|---:|"]
  for p in res["points"]:
    a, b = p["steps_per_s"][args.ref], p["steps_per_s"][f"HEAD ({head})"]
    lines.append(f"| {p['algo']} | {p['seeds']} | {p['total']:,} | {a:,.0f} | {b:,.0f} | "
                 f"{b / a:.2f} |")
  report = "\n".join(lines) + "\n"
  print(report)
  if args.out_md:
    open(args.out_md, "w").write(report)
  if args.out_json:
    json.dump(res, open(args.out_json, "w"), indent=1, default=str)


if __name__ == "__main__":
  main()
