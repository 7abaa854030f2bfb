"""The figures peers publish, at GPU scale, in one run: one JSON and one markdown table.

Five figures, each a function of its sizes (the ``FULL`` sizes on a GPU, the ``DRY`` sizes with
``--dry-run``, which runs the same code in seconds on a CPU), each timed with compilation
excluded (compiled ahead of time, then ``--repeats`` timed calls, the median reported), as the
peers time theirs:

1. **ppo**: PPO on CartPole-v1, 2,048 seeds vmapped in one call, PureJaxRL's settings
   (``PPOConfig()``'s defaults: 4 envs x 128 steps, 4 epochs x 4 minibatches, 976 updates, i.e.
   PureJaxRL's 5e5 steps). PureJaxRL reports about 98 s for its 2,048-seed run on an A100.
2. **pqn**: PQN on Breakout-MinAtar, purejaxql's setting (``experiments/pqn_minatar.py``'s
   ``purejaxql_config``: 128 envs x 32 steps, MinAtar CNN with LayerNorm) for purejaxql's 1e7
   steps, one seed. purejaxql reports under a minute on an A40.
3. **dqn**: DQN on CartPole-v1, 128 seeds vmapped (``benchmarks/dqn_throughput.py``'s
   ``JaxrlSide``: rejax's CartPole setting), 50,000 env steps per seed.
4. **vi**: value iteration on the 1000 x 1000 sparse grid world, 10^6 states, float32
   (``benchmarks/sparse_gridworld.py``'s ``solve_jaxrl``).
5. **brax**: PPO on ``brax:inverted_pendulum`` (mjx) through ``jaxrl.envs.make``, Brax's own
   published recipe for the task (2,048 envs, batch 1,024 x 32 minibatches x unroll 5, 4 epochs,
   2M steps rounded up to 13 update rounds; ``benchmarks/brax_ppo.py``'s ``jaxrl_rate`` on a
   ``brax_ppo_peer.Setting``), one seed.

Each figure records env steps/s (seconds for ``vi``), the device (``device_kind``), versions, and
its ratio to the CPU figure recorded in BENCHMARKS.md (:data:`CPU_REFERENCE`, each with the
section it comes from): the factor by which this device is faster (> 1: faster). The CPU figures
ran at CPU sizes (fewer seeds, smaller batches), so a ratio is "this device at GPU scale against
the 2-core CPU at its own scale", not the same program on two devices. The peers' published
figures (other GPUs, their code) are shown beside ours, without a ratio.

``--dry-run`` also compiles with XLA's cheap code generation (the flags the tests use,
``tests/conftest.py``) unless ``XLA_FLAGS`` sets the optimisation level: it checks the script,
not the speed.

A figure that fails is recorded with its error and the others still run; the exit status is 1
then. The outputs are rewritten after every figure, so a run cut short keeps what it finished.

    benchmarks/gpu/run.sh [--dry-run] [--out DIR] [--figures ppo,pqn,dqn,vi,brax]
        [--repeats N] [--scale F]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(HERE, "out")
FIGURES = ("ppo", "pqn", "dqn", "vi", "brax")
DRY_RUN_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"

# ------------------------------------------------------------------------------------------------
# CPU reference figures, copied from BENCHMARKS.md (2-core KVM guests, no GPU). "value" is in
# "unit"; "section" is where BENCHMARKS.md states it. Ratios divide by these (rates) or into them
# (seconds), so a ratio above 1 means this device is faster.
# ------------------------------------------------------------------------------------------------
CPU_REFERENCE = {
    "ppo": dict(
        value=365_485.0, unit="env steps/s",
        section="PPO, PQN, A2C and DQN on CartPole by wall-clock time > Rerun, 2026-12-06 "
                "(experiments/cartpole_wallclock.py table, PPO row)",
        what="PPOConfig() (PureJaxRL's), 8 seeds split over 2 CPU devices, 2-core AMD EPYC"),
    "pqn": dict(
        value=12_000.0, unit="env steps/s",
        section="PPO, PQN, A2C and DQN on CartPole by wall-clock time > First run, 2026-12-02 "
                "(experiments/pqn_minatar.py paragraph)",
        what="purejaxql's MinAtar setting, 4 seeds, about 12k env steps/s on a quieter stretch "
             "of the run, 2-core Intel Xeon"),
    "dqn": dict(
        value=40_500.0, unit="env steps/s",
        section="DQN training throughput against rejax 0.1.3 > Results (reported run), 128-seed "
                "row",
        what="128 seeds x 1,000 steps, jit(vmap) on one CPU device, 2-core AMD EPYC"),
    "vi": dict(
        value=61.5, unit="s",
        section="3. Sparse grid worlds of 10^4, 10^5 and 10^6 states > final run, 1,000,000 f32 "
                "row",
        what="solve of 862 sweeps (71.3 ms each) at load 5.2; 13.9 s at load ~3"),
    "brax": dict(
        value=27_213.0, unit="env steps/s",
        section="PPO throughput on Brax: jaxrl vs Brax's PPO (benchmarks/brax_ppo.py), 1-seed row",
        what="1 seed, the CPU-sized Setting (32 envs), one CPU device, 2-core AMD EPYC"),
}

#: What the peers publish for the same workload (their code, their GPU), as the issue quotes them
#: (not rerun here); shown beside ours, not divided.
PEER = {
    "ppo": dict(seconds=98.0, text="PureJaxRL: 2,048 seeds in ~98 s on an A100"),
    "pqn": dict(seconds=60.0, text="purejaxql: 1e7 steps in under a minute on an A40"),
    "dqn": None,
    "vi": None,
    "brax": None,
}

# Sizes: the GPU run and the dry run (tiny, a CPU in seconds). Steps are per seed.
FULL = {
    "ppo": dict(seeds=2048, steps=976 * 512),
    "pqn": dict(seeds=1, steps=2441 * 128 * 32),
    "dqn": dict(seeds=128, steps=50_000),
    "vi": dict(side=1000),
    "brax": dict(seeds=1, steps=2_000_000, num_envs=2048, batch_size=1024, num_minibatches=32,
                 unroll_length=5, num_updates_per_batch=4),
}
DRY = {
    "ppo": dict(seeds=4, steps=2 * 512),
    "pqn": dict(seeds=2, steps=2 * 64, num_envs=8, num_steps=8, num_minibatches=2,
                eval_episodes=1, eval_max_steps=50),
    "dqn": dict(seeds=4, steps=500),
    "vi": dict(side=32),
    "brax": dict(seeds=1, steps=2 * 64, num_envs=8, batch_size=8, num_minibatches=2,
                 unroll_length=4, num_updates_per_batch=1, eval_episodes=1, episode_length=50),
}


class OneLineParser(argparse.ArgumentParser):
  """argparse that refuses bad arguments with one line on stderr (exit status 2)."""

  def error(self, message):
    self.exit(2, f"{os.path.basename(sys.argv[0])}: error: {message}\n")


def parse_args(argv=None):
  ap = OneLineParser(description=__doc__.split("\n\n")[0])
  ap.add_argument("--dry-run", action="store_true",
                  help="tiny sizes, to check the script on a CPU; its ratios mean nothing")
  ap.add_argument("--out", default=DEFAULT_OUT, help="folder for gpu_benchmarks.{json,md}")
  ap.add_argument("--figures", default=",".join(FIGURES),
                  help=f"comma-separated subset of {','.join(FIGURES)}")
  ap.add_argument("--repeats", default="1", help="timed calls per figure (median reported)")
  ap.add_argument("--scale", default="1",
                  help="multiply every figure's env steps per seed by this, in (0, 1] (to fit a "
                       "shorter device lease; vi is not scaled)")
  args = ap.parse_args(argv)
  figures = [f.strip() for f in args.figures.split(",") if f.strip()]
  bad = [f for f in figures if f not in FIGURES]
  if not figures or bad or len(set(figures)) != len(figures):
    ap.error(f"--figures must name some of {', '.join(FIGURES)}, each once; got "
             f"{args.figures!r}")
  try:
    repeats = int(args.repeats)
  except ValueError:
    repeats = 0
  if repeats < 1:
    ap.error(f"--repeats must be a positive integer, got {args.repeats!r}")
  try:
    scale = float(args.scale)
  except ValueError:
    scale = float("nan")
  if not 0 < scale <= 1:
    ap.error(f"--scale must be a number in (0, 1], got {args.scale!r}")
  if os.path.exists(args.out) and not os.path.isdir(args.out):
    ap.error(f"--out {args.out!r} exists and is not a folder")
  try:
    os.makedirs(args.out, exist_ok=True)
  except OSError as err:
    ap.error(f"--out {args.out!r} cannot be created: {err.strerror}")
  if not os.access(args.out, os.W_OK):
    ap.error(f"--out {args.out!r} is not writable")
  return argparse.Namespace(dry_run=args.dry_run, out=args.out, figures=figures,
                            repeats=repeats, scale=scale)


def scaled(steps: int, unit: int, scale: float) -> int:
  """``steps * scale`` rounded up to a whole number of ``unit``s (as ``brax_ppo_peer.Setting``
  rounds Brax's budget up to whole update rounds)."""
  return max(1, math.ceil(steps * scale / unit)) * unit


def timed_calls(fn, args_for_rep, repeats: int) -> dict:
  """Compiles ``jax.jit(fn)`` ahead of time on ``args_for_rep(0)``, then times ``repeats`` calls
  (rep r gets ``args_for_rep(r + 1)``); returns compile seconds, every wall and their median."""
  import jax  # pylint: disable=import-outside-toplevel
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(*args_for_rep(0)).compile()
  compile_s = time.perf_counter() - t0
  walls, out = [], None
  for rep in range(repeats):
    args = jax.block_until_ready(args_for_rep(rep + 1))
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    walls.append(time.perf_counter() - t0)
  return dict(compile_s=compile_s, walls_s=walls, wall_s=statistics.median(walls), out=out)


def seed_keys(seeds: int, rep: int):
  import jax  # pylint: disable=import-outside-toplevel
  return (jax.random.split(jax.random.PRNGKey(rep), seeds),)


def env_steps_of(state) -> int:
  """Env steps per seed that the run reports having taken (its state's counter)."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  return int(np.asarray(state.env_steps).reshape(-1)[0])


# ------------------------------------------------------------------------------------------------
# The figures: each takes its sizes and the repeats and returns a dict with "value" (in the
# reference's unit), "wall_s" (the median timed call) and "compile_s", plus what it measured.
# ------------------------------------------------------------------------------------------------
def figure_ppo(size: dict, repeats: int) -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  from jaxrl import envs  # pylint: disable=import-outside-toplevel
  from jaxrl.agents import ppo  # pylint: disable=import-outside-toplevel
  steps = size["steps"]
  config = dataclasses.replace(ppo.PPOConfig(), total_steps=steps, log_every=steps,
                               eval_every=steps, eval_episodes=1)
  train = jax.vmap(ppo.make_train(config, *envs.make("CartPole-v1")))
  r = timed_calls(train, lambda rep: seed_keys(size["seeds"], rep), repeats)
  per_seed = env_steps_of(r.pop("out")[0])
  return dict(r, value=size["seeds"] * per_seed / r["wall_s"], env_steps_per_seed=per_seed)


def figure_pqn(size: dict, repeats: int) -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  import pqn_minatar  # pylint: disable=import-outside-toplevel
  from jaxrl import envs  # pylint: disable=import-outside-toplevel
  from jaxrl.agents import pqn  # pylint: disable=import-outside-toplevel
  steps = size["steps"]
  config = pqn_minatar.purejaxql_config(steps, log_every=steps)
  tiny = {k: size[k] for k in ("num_envs", "num_steps", "num_minibatches", "eval_episodes",
                               "eval_max_steps") if k in size}
  config = dataclasses.replace(config, **tiny)
  train = jax.vmap(pqn.make_train(config, *envs.make("Breakout-MinAtar")))
  r = timed_calls(train, lambda rep: seed_keys(size["seeds"], rep), repeats)
  per_seed = env_steps_of(r.pop("out")[0])
  return dict(r, value=size["seeds"] * per_seed / r["wall_s"], env_steps_per_seed=per_seed)


def figure_dqn(size: dict, repeats: int) -> dict:
  import dqn_throughput  # pylint: disable=import-outside-toplevel
  side = dqn_throughput.JaxrlSide("minimal")
  seeds, steps = size["seeds"], size["steps"]
  prep = side.prepare(seeds, steps)
  runs = [side.run(seeds, steps, rep) for rep in range(repeats)]
  side.free(seeds, steps)
  wall = statistics.median(r["wall_s"] for r in runs)
  per_seed = runs[-1]["env_steps_per_seed"]
  return dict(compile_s=prep["trace_lower_s"] + prep["compile_s"],
              walls_s=[r["wall_s"] for r in runs], wall_s=wall,
              value=seeds * per_seed / wall, env_steps_per_seed=per_seed)


def figure_vi(size: dict, repeats: int) -> dict:
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import sparse_gridworld  # pylint: disable=import-outside-toplevel
  mdp, build_s, compile_s, solve_s, sol = sparse_gridworld.solve_jaxrl(
      size["side"], jnp.float32, repeats)
  sweeps = int(sol.iterations)
  return dict(compile_s=compile_s, build_s=build_s, wall_s=solve_s, value=solve_s,
              states=int(mdp.num_states), sweeps=sweeps, per_sweep_s=solve_s / sweeps,
              converged=bool(sol.converged), error_bound=float(sol.error_bound))


def figure_brax(size: dict, repeats: int) -> dict:
  import brax_ppo  # pylint: disable=import-outside-toplevel
  import brax_ppo_peer  # pylint: disable=import-outside-toplevel
  fields = {f.name for f in dataclasses.fields(brax_ppo_peer.Setting)}
  s = brax_ppo_peer.Setting(num_timesteps=size["steps"],
                            **{k: v for k, v in size.items() if k in fields})
  r = brax_ppo.jaxrl_rate(s, size["seeds"], repeats)
  return dict(compile_s=r["compile_s"], wall_s=r["wall_s"], value=r["rate"],
              env_steps_per_seed=s.total_steps, backend=s.backend,
              setting=dataclasses.asdict(s))


RUNNERS = {"ppo": figure_ppo, "pqn": figure_pqn, "dqn": figure_dqn, "vi": figure_vi,
           "brax": figure_brax}
TITLES = {
    "ppo": "PPO, CartPole-v1, PureJaxRL's settings",
    "pqn": "PQN, Breakout-MinAtar, purejaxql's settings",
    "dqn": "DQN, CartPole-v1, rejax's settings",
    "vi": "value iteration, sparse grid world, f32",
    "brax": "PPO, brax:inverted_pendulum (mjx), Brax's recipe",
}


def sizes_for(name: str, dry_run: bool, scale: float) -> dict:
  size = dict((DRY if dry_run else FULL)[name])
  unit = {"ppo": 512, "pqn": size.get("num_envs", 128) * size.get("num_steps", 32),
          "dqn": min(2_500, size.get("steps", 0)), "vi": None,   # DQN logs every 2,500 steps
          "brax": size.get("batch_size", 0) * size.get("num_minibatches", 0)
          * size.get("unroll_length", 0)}[name]
  if unit:
    size["steps"] = scaled(size["steps"], unit, scale)
  return size


def ratio_to_cpu(name: str, value: float) -> float:
  ref = CPU_REFERENCE[name]
  return ref["value"] / value if ref["unit"] == "s" else value / ref["value"]


# ------------------------------------------------------------------------------------------------
# Versions, device, report
# ------------------------------------------------------------------------------------------------
def versions() -> dict:
  from importlib import metadata  # pylint: disable=import-outside-toplevel
  out = {"python": sys.version.split()[0]}
  for name in ("jaxrl", "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt",
               "jax-cuda13-plugin", "jax-cuda13-pjrt", "numpy", "scipy", "flax", "optax", "chex",
               "gymnax", "brax", "mujoco", "mujoco-mjx"):
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      pass
  try:
    out["jaxrl commit"] = subprocess.run(
        ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
        check=True, timeout=10).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    out["jaxrl commit"] = "unknown (no git here)"
  return out


def device() -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  d = jax.devices()[0]
  return dict(backend=jax.default_backend(), device_kind=d.device_kind, count=len(jax.devices()),
              platform_version=str(getattr(getattr(d, "client", None), "platform_version", "?")))


def fmt(x: float) -> str:
  if not isinstance(x, (int, float)) or not math.isfinite(x):
    return "-"
  if abs(x) >= 1000:
    return f"{x:,.0f}"
  if abs(x) >= 10:
    return f"{x:.1f}"
  return f"{x:.3g}"


def size_words(name: str, size: dict) -> str:
  if name == "vi":
    return f"{size['side']}x{size['side']} grid"
  extra = ", ".join(f"{k} {v:,}" for k, v in size.items() if k not in ("seeds", "steps"))
  seeds = f"{size['seeds']:,} seed{'s' if size['seeds'] > 1 else ''}"
  return f"{seeds} x {size['steps']:,} steps" + (f" ({extra})" if extra else "")


def markdown(res: dict) -> str:
  dev, ver = res["device"], res["versions"]
  title = "GPU benchmarks" + (" (DRY RUN)" if res["dry_run"] else "")
  lines = [f"## {title}\n",
           f"Device: **{dev['device_kind']}** ({dev['backend']}, {dev['count']} device"
           f"{'s' if dev['count'] > 1 else ''}). Date: {res['date']}. Command: "
           f"`{res['command']}`.  ",
           "Versions: " + ", ".join(f"{k} {v}" for k, v in ver.items()) + ".\n"]
  if res["dry_run"]:
    lines.append("**This is a dry run**: tiny sizes on whatever device ran it, to check the "
                 "script; its figures and its ratios to the CPU figures are not meaningful.\n")
  if not res["complete"]:
    lines.append("**Incomplete**: the run had not finished when this was written.\n")
  lines += ["Compilation excluded (AOT), median of the timed calls. Ratio: this device's figure "
            "against the CPU figure recorded in BENCHMARKS.md (> 1: this device is faster; "
            "seconds are inverted); the CPU figures ran at CPU sizes.\n",
            "| figure | size | result | timed call (s) | compile (s) | CPU figure (BENCHMARKS.md) "
            "| ratio to CPU | peer's published figure |",
            "|---|---|---:|---:|---:|---|---:|---|"]
  for f in res["figures"]:
    ref, peer = CPU_REFERENCE[f["name"]], PEER[f["name"]]
    if "error" in f:
      result, ratio = f"failed: {f['error']}", "-"
    else:
      result = f"{fmt(f['value'])} {ref['unit']}"
      if f["name"] == "vi":
        result += f" ({f['sweeps']:,} sweeps, {1e3 * f['per_sweep_s']:.3g} ms each)"
      ratio = f"{f['ratio_to_cpu']:.3g}x" + (" (dry run)" if res["dry_run"] else "")
    lines.append(
        f"| {f['name']}: {TITLES[f['name']]} | {size_words(f['name'], f['size'])} | {result} | "
        f"{fmt(f.get('wall_s', float('nan')))} | {fmt(f.get('compile_s', float('nan')))} | "
        f"{fmt(ref['value'])} {ref['unit']} ({ref['section']}) | {ratio} | "
        f"{peer['text'] if peer else '-'} |")
  lines.append("")
  return "\n".join(lines)


def write(res: dict, out: str) -> None:
  with open(os.path.join(out, "gpu_benchmarks.json"), "w", encoding="utf-8") as fh:
    json.dump(res, fh, indent=1, default=str)
  with open(os.path.join(out, "gpu_benchmarks.md"), "w", encoding="utf-8") as fh:
    fh.write(markdown(res))


def main(argv=None) -> int:
  args = parse_args(argv)            # refuses bad arguments before anything is imported or run
  flags = os.environ.get("XLA_FLAGS", "")
  if args.dry_run and "xla_backend_optimization_level" not in flags:
    # a dry run checks the script, not the speed: XLA's cheap code generation (as the tests
    # compile, tests/conftest.py) halves its compile time; set before JAX is imported
    os.environ["XLA_FLAGS"] = f"{flags} {DRY_RUN_XLA_FLAGS}".strip()
  sys.path.insert(0, os.path.dirname(HERE))                      # benchmarks/
  sys.path.insert(0, os.path.join(ROOT, "experiments"))          # pqn_minatar
  t_start = time.perf_counter()
  # experiments/agent_runs (imported by pqn_minatar) splits the CPU into one device per core when
  # it is imported, which must come before JAX starts; on a GPU host that split touches only the
  # CPU backend, never the GPU's programs. A failed import fails the pqn figure alone.
  try:
    import pqn_minatar  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  except Exception:  # pylint: disable=broad-except
    pass
  import common  # pylint: disable=import-outside-toplevel
  res = dict(dry_run=args.dry_run, complete=False,
             note=("dry run: tiny sizes; figures and ratios are not meaningful" if args.dry_run
                   else "GPU-scale run"),
             command="benchmarks/gpu/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
             date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
             device=device(), versions=versions(), machine=common.machine_info(),
             xla_flags=os.environ.get("XLA_FLAGS", ""), repeats=args.repeats,
             scale=args.scale, cpu_reference=CPU_REFERENCE, peer=PEER,
             figures=[])
  write(res, args.out)
  failed = False
  for name in args.figures:
    size = sizes_for(name, args.dry_run, args.scale)
    print(f"[{name}] {TITLES[name]}: {size_words(name, size)} ...", file=sys.stderr, flush=True)
    fig = dict(name=name, title=TITLES[name], unit=CPU_REFERENCE[name]["unit"], size=size,
               device_kind=res["device"]["device_kind"])
    try:
      fig.update(RUNNERS[name](size, args.repeats))
      fig["ratio_to_cpu"] = ratio_to_cpu(name, fig["value"])
      print(f"[{name}] {fmt(fig['value'])} {fig['unit']}, timed call {fig['wall_s']:.2f} s, "
            f"compile {fig['compile_s']:.1f} s, {fig['ratio_to_cpu']:.3g}x the CPU figure",
            file=sys.stderr, flush=True)
    except Exception as err:  # pylint: disable=broad-except
      failed = True
      fig["error"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
      print(f"[{name}] FAILED: {fig['error']}", file=sys.stderr, flush=True)
    res["figures"].append(fig)
    write(res, args.out)
  res["complete"] = True
  res["wall_s"] = time.perf_counter() - t_start
  write(res, args.out)
  print(markdown(res))
  print(f"wrote {os.path.join(args.out, 'gpu_benchmarks.json')} and gpu_benchmarks.md "
        f"({res['wall_s']:.0f} s)", file=sys.stderr)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
