"""The DQN family (issue 23): DQN, + prioritized replay, + 3-step targets, C51, QR-DQN and their
combination, on CartPole-v1 and Breakout-MinAtar, 8 seeds each in one call per variant.

Every variant is one :class:`~jaxrl.agents.dqn.DQNConfig` run by the library's driver
(``jaxrl.training.run``: the seeds vmapped in one compiled program, split over the CPU cores), so
each writes a run directory (``config.json``, ``metrics.csv``, ``summary.json``, ``curve.png``)
under ``OUT/dqn_family/<task>/<variant>``. The variants share every setting of their task and
differ only in the options named (one honest configuration each, nothing tuned per variant):

=================  =====================================================================
``dqn``            the task's DQN setting (double DQN, as both settings below have it)
``per``            ``replay="prioritized"`` (alpha 0.6, beta 0.4 -> 1, DQNConfig's defaults)
``nstep3``         ``n_step=3``
``c51``            ``head="c51"``, 51 atoms on ``[v_min, v_max]`` (below)
``qr``             ``head="qr"``, 51 quantiles
``combined``       ``replay="prioritized", n_step=3, dueling=True, head="c51"`` (Rainbow
                   without noisy nets; double DQN as in every variant)
=================  =====================================================================

Tasks (settings reused from the existing experiments):

* **CartPole-v1**: ``experiments/dqn_cartpole.py``'s setting, DQNConfig's defaults (rejax's
  CartPole DQN: 10 envs, 64x64 MLP, batch 100, 5 updates per 10 env steps, Polyak 0.02,
  discount 0.99, MSE loss), 100k env steps per seed, an evaluation of 10 greedy episodes every
  5k. Threshold **475** (the issue's bar). C51 support **[0, 100]**: every reward is +1, so a
  return discounted at 0.99 lies in [0, 1/(1 - 0.99)] = [0, 100] (99.3 at the 500-step limit,
  more only by bootstrapping through truncation). QR-DQN's quantile loss takes ``kappa = 0``
  here (the setting's ``loss="mse"``).
* **Breakout-MinAtar**: ``experiments/dqn_minatar_breakout.py``'s setting (16 envs, batch 64,
  one update per 16 env steps, 100k replay, hard target copy every 500 updates, Huber loss,
  Adam 1e-3, epsilon 1 -> 0.05 over the first quarter, evaluation of 8 greedy episodes of at
  most 1,000 steps at 20 points) with the **64x64 MLP** on the flattened 10x10x4 screen instead
  of the MinAtar CNN, and **400k env steps per seed**. Why: the whole MinAtar part must fit in
  20 minutes on a 2-core CPU. Measured here (8 seeds, load ~3-4): the CNN trains at ~1.35k env
  steps/s over all 8 seeds (~34k steps per seed in 200 s per variant, too few for any of them to
  learn), the MLP at ~33-40k (~500k steps per seed in ~110 s). Threshold **5** (return, i.e.
  bricks; a uniformly random policy scores ~0.5). C51 support **[0, 10]**: rewards are 0 or 1
  per step and a brick takes at least several steps to reach, so the discounted value (0.99)
  stays far below 1/(1 - 0.99) = 100 (one brick every 10 steps is sum_k 0.99^(10k) ~ 10.5);
  the report prints the scalar DQN's largest ``|Q|`` to check the support against. C51 ignores
  ``loss`` (its loss is the cross-entropy to the projected target) and DQNConfig requires it
  left ``"mse"``, so the C51 variants set that; QR-DQN takes ``kappa = 1`` (Huber) here.

Outputs (``OUT`` = ``--out``): ``dqn_family_<task>.png`` (median greedy evaluation return over
seeds with the 25-75% band, and the same for the epsilon-greedy training episodes),
``dqn_family_<task>_compare.png`` (the library's comparison figure: final median, IQM and mean
with 95% stratified bootstrap intervals, and performance profiles; ``jaxrl.training.compare``
with the variants named), ``dqn_family_<task>.json`` and ``dqn_family.md`` (the table of every
task run so far). The table: the final median over seeds of the last greedy evaluation, its IQM
with a 95% stratified-bootstrap interval, the env steps per seed at which the median over seeds
first reaches the threshold, seeds at or above it at the end, and seconds (execution, and wall
including compilation).

Note: ``jaxrl plot --compare OUT/dqn_family/<task>/*`` names an agent by its algorithm and the
*hyperparameters* that vary, so these six run directories (all ``dqn``, differing in static
options) are pooled into one agent ``dqn`` of 48 runs; this script therefore calls
``jaxrl.training.compare`` itself with one name per variant.

    .venv/bin/python experiments/dqn_family.py [--tasks cartpole,minatar] [--seeds 8]
        [--cartpole-steps 100000] [--minatar-steps 400000] [--variants dqn,per,...]
        [--out experiments/out] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

import numpy as np

import agent_runs  # noqa: F401  (one JAX device per core, before anything runs)
from dqn_common import load_note
from jaxrl import training
from jaxrl.agents.dqn import DQNConfig
from jaxrl.training import compare

#: (directory name, label, options) of each variant.
VARIANTS = (
    ("dqn", "DQN", {}),
    ("per", "DQN + prioritized", dict(replay="prioritized")),
    ("nstep3", "DQN + 3-step", dict(n_step=3)),
    ("c51", "C51", dict(head="c51")),
    ("qr", "QR-DQN", dict(head="qr")),
    ("combined", "PER + 3-step + dueling + C51",
     dict(replay="prioritized", n_step=3, dueling=True, head="c51")),
)


@dataclasses.dataclass(frozen=True)
class Task:
  name: str            # short name (files)
  env: str             # jaxrl.envs.make name
  threshold: float
  v_min: float
  v_max: float
  unit: str


TASKS = {
    "cartpole": Task("cartpole", "CartPole-v1", 475.0, 0.0, 100.0, "return"),
    "minatar": Task("minatar", "Breakout-MinAtar", 5.0, 0.0, 10.0, "return (bricks)"),
}


def base_config(task: str, steps: int, quick: bool) -> DQNConfig:
  """The shared setting of ``task`` (every variant's, before its options)."""
  if task == "cartpole":
    log_every = 2_000 if quick else 5_000
    steps = -(-steps // log_every) * log_every
    return DQNConfig(total_steps=steps, log_every=log_every, eval_every=log_every,
                     eval_episodes=10, learning_starts=1_000 if quick else 5_000,
                     epsilon_decay_steps=50_000 if not quick else steps / 2)
  num_envs, num_logs = 16, 4 if quick else 20
  log_every = steps // num_logs
  log_every -= log_every % num_envs
  steps = log_every * num_logs
  return DQNConfig(
      total_steps=steps, num_envs=num_envs, network="mlp", hidden_sizes=(64, 64),
      buffer_size=100_000, batch_size=64, learning_starts=1_000 if quick else 5_000,
      updates_per_step=1.0, target_update="hard", target_update_period=500, double_dqn=True,
      loss="huber", max_grad_norm=10.0, learning_rate=1e-3, discount=0.99,
      epsilon_schedule="linear", epsilon_start=1.0, epsilon_end=0.05,
      epsilon_decay_steps=steps // 4, log_every=log_every, eval_every=log_every,
      eval_episodes=8, eval_max_steps=1000)


def variant_config(base: DQNConfig, task: Task, options: dict) -> DQNConfig:
  opts = dict(options)
  if opts.get("head") == "c51":
    opts.update(v_min=task.v_min, v_max=task.v_max, loss="mse")   # C51 has its own loss
  return dataclasses.replace(base, **opts)


def run_task(task: Task, base: DQNConfig, variants, args) -> dict:
  root = pathlib.Path(args.out) / "dqn_family" / task.name
  print(f"\n=== {task.env}: {args.seeds} seeds x {base.total_steps:,} env steps per variant, "
        f"network {base.network}, threshold {task.threshold:g} ===", flush=True)
  results = {}
  for name, label, options in variants:
    config = variant_config(base, task, options)
    spec = training.RunSpec("dqn", config, task.env, args.seeds, seed=args.seed)
    t0 = time.perf_counter()
    r = training.run(spec, root / name, overwrite=(root / name / "config.json").exists(),
                     save_checkpoints=False, progress=not args.quick, progress_interval_s=30.0,
                     log=None)
    wall = time.perf_counter() - t0
    s = r.summary
    evals = r.metrics["eval_return"][0]               # [seeds, logs]
    steps = r.metrics["env_steps"][0, 0]
    med = agent_runs.median_over_seeds(evals)
    hit = agent_runs.first_reaching(med, task.threshold)
    final = np.asarray(s["settings"][0]["final_eval_return_per_seed"], float)
    results[name] = dict(
        label=label, options=options, run_dir=str(root / name), steps=steps.tolist(),
        eval_return=evals.tolist(), episode_return=r.metrics["episode_return"][0].tolist(),
        final_per_seed=final.tolist(), final_median=float(np.median(final)),
        steps_to_threshold=None if hit is None else int(steps[hit]),
        seeds_at_threshold=int(np.sum(final >= task.threshold)),
        q_abs_max=float(np.nanmax(r.metrics["q_abs_max"][0])),
        losses_finite=bool(np.all(r.metrics["loss_finite"][0])),
        execute_s=float(s["execute_time_s"]), compile_s=float(s["compile_time_s"]),
        wall_s=wall, env_steps_per_s=float(s["env_steps_per_s"]))
    x = results[name]
    print(f"{label:<30} final median {x['final_median']:7.2f}  per seed "
          f"{' '.join(f'{v:.1f}' for v in final)}  to {task.threshold:g}: "
          f"{x['steps_to_threshold'] if hit is not None else 'never'}  execute "
          f"{x['execute_s']:.1f} s, compile {x['compile_s']:.1f} s, wall {wall:.1f} s "
          f"({x['env_steps_per_s']:,.0f} env steps/s)", flush=True)
  scores = {results[n]["label"]: np.asarray(results[n]["final_per_seed"])[:, None]
            for n in results}
  out = pathlib.Path(args.out)
  agg = compare.plot_comparison(
      scores, out / f"dqn_family_{task.name}_compare.png", reps=args.reps,
      score_label=f"final eval {task.unit}",
      title=f"DQN family on {task.env}, {args.seeds} seeds each: final greedy eval return, 95% "
            f"stratified bootstrap intervals ({args.reps} resamples)")
  for n in results:
    results[n]["aggregate"] = agg[results[n]["label"]]
  return dict(task=task.name, env=task.env, threshold=task.threshold, seeds=args.seeds,
              total_steps=base.total_steps, network=base.network, v_min=task.v_min,
              v_max=task.v_max, variants=results, load=load_note(),
              machine=agent_runs.machine(), quick=args.quick)


def plot_curves(res: dict, path: pathlib.Path) -> None:
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
  for i, x in enumerate(res["variants"].values()):
    steps = np.asarray(x["steps"]) / 1e3
    agent_runs.plot_median_band(axes[0], steps, x["eval_return"], x["label"], f"C{i}")
    agent_runs.plot_median_band(axes[1], steps, x["episode_return"], x["label"], f"C{i}")
  for ax, title in zip(axes, ("greedy evaluation", "epsilon-greedy training episodes")):
    ax.axhline(res["threshold"], color="gray", ls="--", lw=1)
    ax.set_xlabel("env steps per seed (thousands)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
  axes[0].set_ylabel("return: median over seeds, 25-75% band")
  axes[0].legend(fontsize=8)
  fig.suptitle(f"DQN family on {res['env']} ({res['network']}), {res['seeds']} seeds per variant "
               f"in one call; dashed: threshold {res['threshold']:g}", fontsize=11)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def table(res: dict) -> str:
  lines = [f"### {res['env']}: {res['seeds']} seeds x {res['total_steps']:,} env steps, "
           f"{res['network']} (threshold {res['threshold']:g})\n",
           "| variant | final median | IQM [95% CI] | mean [95% CI] | env steps to median >= "
           f"{res['threshold']:g} | seeds >= {res['threshold']:g} at end | execute s | wall s "
           "(with compile) | env steps/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for x in res["variants"].values():
    iqm, mean = x["aggregate"]["iqm"], x["aggregate"]["mean"]
    reach = "never" if x["steps_to_threshold"] is None else f"{x['steps_to_threshold']:,}"
    lines.append(f"| {x['label']} | {x['final_median']:.1f} | {iqm[0]:.1f} [{iqm[1]:.1f}, "
                 f"{iqm[2]:.1f}] | {mean[0]:.1f} [{mean[1]:.1f}, {mean[2]:.1f}] | {reach} | "
                 f"{x['seeds_at_threshold']}/{res['seeds']} | {x['execute_s']:.0f} | "
                 f"{x['wall_s']:.0f} | {x['env_steps_per_s']:,.0f} |")
  finite = [x["label"] for x in res["variants"].values() if not x["losses_finite"]]
  lines.append(f"\nLosses finite in every variant: {'yes' if not finite else 'NO: ' + str(finite)}."
               f" Largest |Q| in the scalar DQN's minibatches: "
               f"{res['variants'].get('dqn', {}).get('q_abs_max', float('nan')):.1f} (C51 support "
               f"[{res['v_min']:g}, {res['v_max']:g}]). {res['load']}.")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tasks", default="cartpole,minatar")
  parser.add_argument("--variants", default=",".join(v[0] for v in VARIANTS))
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--cartpole-steps", type=int, default=100_000)
  parser.add_argument("--minatar-steps", type=int, default=400_000)
  parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  parser.add_argument("--quick", action="store_true",
                      help="a smoke run: 2 seeds, 8k (CartPole) / 8k (MinAtar) steps")
  args = parser.parse_args()
  if args.quick:
    args.seeds, args.cartpole_steps, args.minatar_steps, args.reps = 2, 8_000, 8_000, 200
  wanted = args.variants.split(",")
  unknown = sorted(set(wanted) - {v[0] for v in VARIANTS})
  if unknown:
    parser.error(f"unknown variants {unknown}")
  variants = [v for v in VARIANTS if v[0] in wanted]
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  t_start = time.perf_counter()
  for name in args.tasks.split(","):
    task = TASKS[name]
    steps = args.cartpole_steps if name == "cartpole" else args.minatar_steps
    t0 = time.perf_counter()
    res = run_task(task, base_config(name, steps, args.quick), variants, args)
    res["task_wall_s"] = time.perf_counter() - t0
    res["command"] = "python experiments/dqn_family.py " + " ".join(
        a for a in sys.argv[1:])
    plot_curves(res, out / f"dqn_family_{name}.png")
    (out / f"dqn_family_{name}.json").write_text(json.dumps(res, indent=1))
    print("\n" + table(res) + f"\n\n{task.env}: {res['task_wall_s']:.0f} s in all; wrote "
          f"{out / f'dqn_family_{name}.png'}, {out / f'dqn_family_{name}_compare.png'}",
          flush=True)
  parts = []
  for name in TASKS:
    path = out / f"dqn_family_{name}.json"
    if path.exists():
      res = json.loads(path.read_text())
      parts.append(table(res) + f"\n\nCommand: `{res['command']}`; {res['task_wall_s']:.0f} s "
                   f"for the task{' (--quick)' if res['quick'] else ''}.")
  (out / "dqn_family.md").write_text("## DQN family (issue 23)\n\n" + "\n\n".join(parts) + "\n")
  print(f"\nwrote {out / 'dqn_family.md'}; total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
  main()
