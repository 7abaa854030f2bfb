"""Replay buffer throughput: jaxrl uniform vs jaxrl prioritized vs flashbax prioritised, one run.

Microseconds per operation on a buffer of capacity 100,000 holding CartPole-sized transitions
(``jaxrl.buffers.Transition``: obs and next_obs float32 ``[4]``, action int32, reward and
discount float32): ``add`` of N = 16 items (one per parallel environment), ``sample`` of B = 256,
and ``sample`` + ``update_priorities`` (the prioritized buffers; the step a prioritized DQN
takes per update). Each operation runs 1,000 times inside one jitted ``lax.scan`` on a buffer
first filled to capacity, the carried state donated (``replay_runner.measure``, the same harness
for all three); median of ``--repeats`` calls, then over ``--rounds`` interleaved rounds; ratios
to jaxrl's uniform buffer from the same run.

flashbax 0.1.3 (``make_prioritised_flat_buffer``, ``device="cpu"``, ``priority_exponent=1``) runs
in its own venv, ``benchmarks/.venv-flashbax``, created here on first use (or by hand:
``python3 -m venv benchmarks/.venv-flashbax && benchmarks/.venv-flashbax/bin/pip install
flashbax==0.1.3``; it pulls the jax it supports), through ``replay_runner.py`` as a subprocess
that prints its results as JSON. Its flat buffer samples ``(s_t, s_{t+1})`` pairs of items (a
trajectory buffer with sequence length 2); the timing gathers both.

    .venv/bin/python benchmarks/replay_throughput.py [--steps 1000] [--repeats 5]
        [--rounds 5] [--out-md benchmarks/replay_throughput.md]
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
sys.path.insert(0, HERE)

import jax  # noqa: E402

import common  # noqa: E402
import replay_runner  # noqa: E402
from jaxrl import buffers  # noqa: E402

FLASHBAX_VENV = os.path.join(HERE, ".venv-flashbax")
FLASHBAX_PY = os.path.join(FLASHBAX_VENV, "bin", "python")
FLASHBAX_REQUIREMENTS = ["flashbax==0.1.3"]
CAPACITY, BATCH_SIZE, NUM_ITEMS = 100_000, 256, 16


def log(msg: str) -> None:
  print(f"[replay_throughput] {msg}", file=sys.stderr, flush=True)


def ensure_flashbax_venv() -> None:
  """Creates benchmarks/.venv-flashbax with flashbax 0.1.3 (and the jax it pulls) if absent."""
  marker = os.path.join(FLASHBAX_VENV, ".installed")
  if os.path.exists(marker):
    return
  log(f"creating {FLASHBAX_VENV} ({', '.join(FLASHBAX_REQUIREMENTS)}) ...")
  subprocess.run([sys.executable, "-m", "venv", FLASHBAX_VENV], check=True)
  pip = [FLASHBAX_PY, "-m", "pip", "install", "--quiet"]
  subprocess.run(pip + ["--upgrade", "pip"], check=True)
  subprocess.run(pip + FLASHBAX_REQUIREMENTS, check=True)
  with open(marker, "w") as f:
    f.write(" ".join(FLASHBAX_REQUIREMENTS) + "\n")


def run_jaxrl(kind: str, steps: int, repeats: int) -> dict:
  example = jax.tree.map(lambda x: x[0], replay_runner.make_items(
      jax.numpy.int32(0), 1, buffers.Transition))
  common_args = dict(capacity=CAPACITY, num_items=NUM_ITEMS, steps=steps, repeats=repeats,
                     item_cls=buffers.Transition)
  if kind == "uniform":
    buffer = buffers.make_replay_buffer(CAPACITY, BATCH_SIZE)
    return replay_runner.measure(buffer.init(example), buffer.add,
                                 lambda s, k: (buffer.sample(s, k), None), None, **common_args)
  buffer = buffers.make_prioritized_replay_buffer(CAPACITY, BATCH_SIZE)

  def sample(state, key):
    batch = buffer.sample(state, key)
    return batch.items, batch.indices

  return replay_runner.measure(buffer.init(example), buffer.add, sample,
                               buffer.update_priorities, **common_args)


def run_flashbax(steps: int, repeats: int) -> dict:
  ensure_flashbax_venv()
  cfg = dict(capacity=CAPACITY, batch_size=BATCH_SIZE, num_items=NUM_ITEMS, steps=steps,
             repeats=repeats)
  proc = subprocess.run(
      [FLASHBAX_PY, "-W", "ignore", os.path.join(HERE, "replay_runner.py"), "flashbax",
       json.dumps(cfg)], stdout=subprocess.PIPE, stderr=sys.stderr, text=True, check=True)
  return json.loads(proc.stdout.strip().splitlines()[-1])


def report(results: dict, machine: dict, args, wall_s: float) -> str:
  base = results["jaxrl uniform"]
  rows = []
  for name, r in results.items():
    row = [name]
    for key in ("add_us", "sample_us", "sample_update_us"):
      if r[key] is None:
        row += ["-", "-"]
      else:
        row += [f"{r[key]:.1f}", f"{r[key] / base[key]:.2f}x" if base[key] else "-"]
    rows.append(row)
  # sample + update relative to the uniform buffer's sample (what a uniform DQN pays per update)
  for row, r in zip(rows, results.values()):
    if r["sample_update_us"] is not None:
      row[6] = f"{r['sample_update_us'] / base['sample_us']:.2f}x"
  headers = ["buffer", "add N=16 (us)", "vs uniform", "sample B=256 (us)", "vs uniform",
             "sample + update (us)", "vs uniform sample"]
  table = common.table(headers, rows)
  fbx = results["flashbax prioritised"]["versions"]
  lines = [
      "# Replay buffer throughput: jaxrl uniform, jaxrl prioritized, flashbax prioritised",
      "",
      f"Produced by `benchmarks/replay_throughput.py` ({wall_s:.0f} s, including compiles):",
      "",
      "    .venv/bin/python benchmarks/replay_throughput.py "
      f"--steps {args.steps} --repeats {args.repeats} --rounds {args.rounds}",
      "",
      f"Capacity {CAPACITY:,} CartPole-sized transitions (`jaxrl.buffers.Transition`: obs and "
      "next_obs float32 [4], action int32, reward and discount float32), buffers filled to "
      f"capacity first. Microseconds per operation: `add` of N = {NUM_ITEMS} items, `sample` of "
      f"B = {BATCH_SIZE}, and `sample` followed by `update_priorities` of the {BATCH_SIZE} "
      f"sampled slots. Each operation runs {args.steps:,} times inside one jitted `lax.scan` "
      "(state carried and donated), median of "
      f"{args.repeats} calls after a compiling warm-up, then the median over {args.rounds} "
      "rounds (each round runs the three in turn; flashbax in a fresh process every round). "
      "Ratios are to jaxrl's uniform buffer from this run; the "
      "last column compares a prioritized update step with a uniform buffer's sample, which is "
      "what prioritized replay adds to a DQN update.",
      "",
      table,
      "",
      "Notes:",
      "",
      "- jaxrl prioritized: `make_prioritized_replay_buffer` (sum tree of 2P = 262,144 float32, "
      "P = 131,072 leaves, 17 levels). `add` writes the items and recomputes the 17 ancestors of "
      "each new leaf level by level; `sample` is 256 stratified descents of 17 levels; "
      "`update_priorities` keeps the largest priority of a repeated index and recomputes the "
      "ancestors. Sums are recomputed from the children (never drift); both tree walks are "
      "`fori_loop`s over the 17 levels, each a gather and a scatter of N or B nodes.",
      "- flashbax 0.1.3: `make_prioritised_flat_buffer(max_length=100_000, "
      "add_batch_size=16, priority_exponent=1.0, device=\"cpu\")`; its flat buffer is a "
      "trajectory buffer that samples `(s_t, s_{t+1})` pairs, so each sample gathers two items; "
      "`set_priorities` is its `update_priorities`. It runs in `benchmarks/.venv-flashbax` "
      "(created by the script) through `benchmarks/replay_runner.py`. On CPU it updates the tree "
      "by propagating deltas (`sum_tree.set_batch_scan`: a scan over the items adding "
      "`new - old` to each ancestor), which is cheaper per add but lets float32 error "
      "accumulate in the inner sums over many updates; jaxrl pays for exact recomputation.",
      "- The machine was shared with another job (2 cores; load average at the start below): "
      "single rounds of the same figure varied by up to 2x, hence medians over interleaved "
      "rounds. Read the ratios, not the third digit.",
      "",
      "Machine and versions:",
      "",
  ]
  for k, v in machine.items():
    if k != "pymdptoolbox":
      lines.append(f"- {k}: {v}")
  lines.append(f"- flashbax venv: {', '.join(f'{k} {v}' for k, v in fbx.items())}")
  return "\n".join(lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--out-md", default=os.path.join(HERE, "replay_throughput.md"))
  args = parser.parse_args()
  machine = common.machine_info()
  start = time.perf_counter()
  rounds = []
  for r in range(args.rounds):      # the three interleaved, so that load drifts hit them alike
    one = {}
    for kind in ("uniform", "prioritized"):
      log(f"round {r + 1}/{args.rounds}: jaxrl {kind} ...")
      one[f"jaxrl {kind}"] = run_jaxrl(kind, args.steps, args.repeats)
    log(f"round {r + 1}/{args.rounds}: flashbax prioritised (subprocess) ...")
    one["flashbax prioritised"] = run_flashbax(args.steps, args.repeats)
    rounds.append(one)
  results = {}
  for name, first in rounds[0].items():      # per figure, the median over the rounds
    results[name] = dict(first)
    for key in ("add_us", "sample_us", "sample_update_us"):
      if first[key] is not None:
        results[name][key] = statistics.median(one[name][key] for one in rounds)
  text = report(results, machine, args, time.perf_counter() - start)
  if args.out_md:
    with open(args.out_md, "w") as f:
      f.write(text)
    log(f"wrote {args.out_md}")


if __name__ == "__main__":
  main()
