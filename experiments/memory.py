"""Memory (issue 22): feed-forward PPO, recurrent PPO and recurrent PQN on two partially observed
tasks, 8 seeds of each agent in one compiled program.

Tasks (both through ``jaxrl.envs.make``):
  * ``MaskedCartPole-v1``: CartPole-v1 without its two velocities. A memoryless policy sees only
    the cart position and the pole angle; the issue's bar is a median greedy return >= 475.
  * ``MemoryProbe-v0`` with ``delay`` blank steps (default 4): a cue at step 0, a query after
    the delay; +1 for answering with the cue, -1 otherwise. Optimum +1; every memoryless
    policy scores 0 in expectation. Greedy evaluation uses 64 episodes per point.

Agents, ONE configuration each, the same on both tasks (no per-task tuning):
  * ``ppo_mlp``: ``PPOConfig()`` (PureJaxRL's CartPole PPO, 64x64 MLP), feed-forward.
  * ``ppo_gru``: PureJaxRL's ``ppo_rnn`` CartPole settings (4 epochs x 4 minibatches, each a
    whole environment's sequences, embedding 128, GRU 128, gamma .99, lambda .95, clip .2,
    entropy .01, value .5, max grad norm .5, lr annealed) with 16 envs x 128 steps instead of 4
    and lr 1e-3 instead of 2.5e-4: PureJaxRL's own numbers (written for unmasked CartPole and
    5e5 steps) reached a masked CartPole median of only 48 at this script's 262k steps
    (BENCHMARKS.md, "Memory (issue 22)", first run); this is the one change made after it.
  * ``pqn_gru``: purejaxql's ``pqn_rnn_cartpole.yaml`` (32 envs x 64 steps, 4 epochs x 16
    minibatches, LayerNorm, RAdam, max grad norm 10, lr annealed, reward scale 0.1, gamma .99,
    lambda .95, epsilon 1 -> 0.2 over the first 20% of the steps), with the network cut from
    2x256 embedding + GRU 256 to 1x128 + GRU 128 (PPO's size, for a CPU) and the learning rate
    raised from 1e-4 to 1e-3 (purejaxql's memory-chain value) to go with the shorter CPU run.

Every run reports its greedy-evaluation curve (median over seeds, 25-75% band), the final median
(IQR), on the probe the fraction of seeds at the optimum, on masked CartPole the env steps at
which the median first reaches 475, and the wall seconds (compile and execution).

Budget: the whole script is sized to ~25 minutes on a loaded 2-core CPU. A short measured run
(8 seeds, load ~5) cost ~40 s per 16,384 env steps per seed for recurrent PPO (its update
unrolls 16 x 128 GRU steps sequentially per rollout of 512) and ~22 s for recurrent PQN, so the
runs are cut from PureJaxRL's 5e5 steps to 262,144 steps per seed on masked CartPole and 65,536
on the probe (``--cartpole-steps``, ``--probe-steps`` restore longer runs on faster hardware).

    .venv/bin/python experiments/memory.py            # the reported run (~25 min, 2 loaded cores)
    .venv/bin/python experiments/memory.py --quick    # smoke run: 4,096 steps, compile dominates

Writes ``experiments/out/memory.md``, ``memory.png`` and ``memory.json``.
"""

from __future__ import annotations

import argparse
import time

import agent_runs
import jax
import numpy as np

from jaxrl import envs
from jaxrl.agents import ppo, pqn

OUT = agent_runs.OUT
LOG_EVERY = 16_384          # masked CartPole (the probe: half); a multiple of both rollouts


def agent_configs(total_steps: int, log_every: int, eval_episodes: int) -> dict:
  common = dict(total_steps=total_steps, log_every=log_every, eval_every=log_every,
                eval_episodes=eval_episodes)
  return {
      "ppo_mlp": (ppo, ppo.PPOConfig(network="mlp", **common)),
      # PureJaxRL's ppo_rnn settings with 16 environments instead of 4 and lr 1e-3 instead of
      # 2.5e-4 (with 4 and 2.5e-4 the masked CartPole median was 48 at 262k steps; see
      # BENCHMARKS.md "Memory (issue 22)")
      "ppo_gru": (ppo, ppo.PPOConfig(
          network="gru", hidden_sizes=(128,), memory_size=128, num_envs=16, num_steps=128,
          num_epochs=4, num_minibatches=4, learning_rate=1e-3, discount=0.99, gae_lambda=0.95,
          clip_eps=0.2, entropy_coef=0.01, value_coef=0.5, max_grad_norm=0.5, anneal_lr=True,
          **common)),
      "pqn_gru": (pqn, pqn.PQNConfig(
          network="gru", hidden_sizes=(128,), memory_size=128, num_envs=32, num_steps=64,
          num_epochs=4, num_minibatches=16, layer_norm=True, optimizer="radam",
          max_grad_norm=10.0, anneal_lr=True, learning_rate=1e-3, reward_scale=0.1,
          discount=0.99, q_lambda=0.95, epsilon_start=1.0, epsilon_end=0.2,
          epsilon_decay_steps=0.2 * total_steps, **common)),
  }


def run_one(task: dict, agent: str, module, config, seeds: int, seed: int) -> dict:
  env, params = envs.make(task["env"], **task["kwargs"])
  t0 = time.perf_counter()
  trainer = module.make_train(config, env, params)
  keys = jax.random.split(jax.random.PRNGKey(seed), seeds)
  res = agent_runs.timed_run(trainer, keys)
  wall = time.perf_counter() - t0
  m = res["metrics"]
  steps = m["env_steps"][0].astype(int)
  evals = np.asarray(m["eval_return"], float)
  final = evals[:, -1]
  med = agent_runs.median_over_seeds(evals)
  out = dict(task=task["name"], env=task["env"], env_kwargs=task["kwargs"], agent=agent,
             seeds=seeds, root_seed=seed, env_steps=steps, seconds=res["seconds"],
             eval_return=evals, episode_return=np.asarray(m["episode_return"], float),
             median_eval=med, final_median=float(np.median(final)),
             final_q25=float(np.percentile(final, 25)), final_q75=float(np.percentile(final, 75)),
             final_per_seed=final, compile_s=res["compile_s"], run_s=float(res["seconds"][-1]),
             wall_s=wall, losses_finite=bool(np.all(m["loss_finite"])),
             config={f: getattr(config, f) for f in config.__dataclass_fields__})
  if task["name"] == "probe":
    out["at_optimum"] = int(np.sum(final >= 1.0 - 1e-6))
  else:
    hit = agent_runs.first_reaching(med, 475.0)
    out["steps_to_475"] = None if hit is None else int(steps[hit])
  print(f"  {agent:8s} {task['name']:14s} final median {out['final_median']:7.2f} "
        f"IQR [{out['final_q25']:.2f}, {out['final_q75']:.2f}]  per seed "
        + " ".join(f"{v:.2f}" for v in final)
        + f"  compile {res['compile_s']:.0f} s, run {out['run_s']:.0f} s", flush=True)
  return out


def table(results: list[dict], delay: int) -> str:
  lines = ["| task | agent | final median greedy return (IQR) | probe: seeds at optimum | "
           "masked CartPole: env steps to median >= 475 | env steps per seed | wall s "
           "(compile + run) |",
           "|---|---|---|---|---|---|---|"]
  for r in results:
    name = "MaskedCartPole-v1" if r["task"] == "cartpole" else f"MemoryProbe-v0 (delay {delay})"
    opt = f"{r['at_optimum']}/{r['seeds']}" if "at_optimum" in r else ""
    if "steps_to_475" in r:
      reach = "not reached" if r["steps_to_475"] is None else f"{r['steps_to_475']:,}"
    else:
      reach = ""
    lines.append(f"| {name} | {r['agent']} | {r['final_median']:.2f} ({r['final_q25']:.2f} to "
                 f"{r['final_q75']:.2f}) | {opt} | {reach} | {int(r['env_steps'][-1]):,} | "
                 f"{r['wall_s']:.0f} ({r['compile_s']:.0f} + {r['run_s']:.0f}) |")
  return "\n".join(lines)


def verdicts(results: list[dict]) -> list[str]:
  by = {(r["task"], r["agent"]): r for r in results}
  lines = []
  for agent in ("ppo_mlp", "ppo_gru", "pqn_gru"):
    recurrent = agent != "ppo_mlp"
    if ("probe", agent) in by:
      r = by[("probe", agent)]
      if recurrent:
        ok = r["final_median"] >= 1.0 - 1e-6
        want = "reaches the optimum (median +1)"
      else:
        ok = abs(r["final_median"]) <= 0.25
        want = "stays near chance (|median| <= 0.25)"
      lines.append(f"- probe, {agent}: target {want}: {'MET' if ok else 'NOT MET'} "
                   f"(median {r['final_median']:.2f}, {r['at_optimum']}/{r['seeds']} seeds at +1)")
    if ("cartpole", agent) in by:
      r = by[("cartpole", agent)]
      if recurrent:
        ok = r["final_median"] >= 475
        want = "final median >= 475"
      else:
        ok = r["final_median"] < 475
        want = "final median < 475"
      lines.append(f"- masked CartPole, {agent}: target {want}: {'MET' if ok else 'NOT MET'} "
                   f"(median {r['final_median']:.1f})")
  return lines


def plot(results: list[dict], delay: int, path):
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  tasks = [t for t in ("cartpole", "probe") if any(r["task"] == t for r in results)]
  fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
  colors = {"ppo_mlp": "tab:gray", "ppo_gru": "tab:blue", "pqn_gru": "tab:orange"}
  for ax, task in zip(axes[0], tasks):
    for r in (r for r in results if r["task"] == task):
      agent_runs.plot_median_band(ax, r["env_steps"], r["eval_return"], r["agent"],
                                  color=colors.get(r["agent"]))
    if task == "cartpole":
      ax.axhline(475, color="k", ls="--", lw=1)
      ax.set_title("MaskedCartPole-v1 (no velocities)")
    else:
      ax.axhline(1, color="k", ls="--", lw=1)
      ax.axhline(0, color="k", ls=":", lw=1)
      ax.set_title(f"MemoryProbe-v0, delay {delay} (optimum +1, memoryless 0)")
    ax.set_xlabel("environment steps per seed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  axes[0][0].set_ylabel("greedy return (median over 8 seeds, 25-75%)")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="smoke run: 2 logs of 2,048 steps")
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--seed", type=int, default=0, help="root seed")
  parser.add_argument("--delay", type=int, default=4, help="MemoryProbe-v0's blank steps")
  parser.add_argument("--cartpole-steps", type=int, default=262_144)
  parser.add_argument("--probe-steps", type=int, default=65_536)
  parser.add_argument("--agents", default="ppo_mlp,ppo_gru,pqn_gru")
  parser.add_argument("--tasks", default="probe,cartpole")
  parser.add_argument("--name", default="memory", help="output file stem in experiments/out")
  args = parser.parse_args()

  tasks = {
      "probe": dict(name="probe", env="MemoryProbe-v0", kwargs=dict(delay=args.delay),
                    log_every=2_048 if args.quick else LOG_EVERY // 2,
                    total=4_096 if args.quick else args.probe_steps, eval_episodes=64),
      "cartpole": dict(name="cartpole", env="MaskedCartPole-v1", kwargs={},
                       log_every=2_048 if args.quick else LOG_EVERY,
                       total=4_096 if args.quick else args.cartpole_steps,
                       eval_episodes=8),
  }
  machine = agent_runs.machine()
  print(f"memory experiment: {args.seeds} seeds per call, root seed {args.seed}; {machine}")
  start = time.perf_counter()
  results = []
  for task_name in args.tasks.split(","):
    task = tasks[task_name]
    configs = agent_configs(task["total"], task["log_every"], task["eval_episodes"])
    for agent in args.agents.split(","):
      module, config = configs[agent]
      results.append(run_one(task, agent, module, config, args.seeds, args.seed))
  total_wall = time.perf_counter() - start

  tab = table(results, args.delay)
  ver = verdicts(results)
  print()
  print(tab)
  print()
  print("\n".join(ver))
  print(f"\nwhole script: {total_wall:.0f} s wall")
  OUT.mkdir(parents=True, exist_ok=True)
  plot(results, args.delay, OUT / f"{args.name}.png")
  md = [f"# Memory (issue 22): `experiments/memory.py{' --quick' if args.quick else ''}`", "",
        f"{args.seeds} seeds per agent and task in one compiled program each (root seed "
        f"{args.seed}); greedy evaluation: 64 episodes on the probe, 8 on masked CartPole. "
        f"Machine: {machine['cores']} cores ({machine['cpu']}), jax {machine['jax']} "
        f"({machine['backend']}), load {machine['load']:.1f} at the start. "
        f"Whole script {total_wall:.0f} s.", "", tab, "", *ver, "",
        f"![curves]({args.name}.png)", ""]
  (OUT / f"{args.name}.md").write_text("\n".join(md))
  agent_runs.save_json(f"{args.name}.json", dict(machine=machine, delay=args.delay,
                                                  total_wall_s=total_wall, runs=results))
  print(f"wrote {OUT / (args.name + '.md')}, {args.name}.png, {args.name}.json")


if __name__ == "__main__":
  main()
