"""PQN on CartPole-v1: wall-clock to a median greedy return of 475 against jaxrl DQN and rejax DQN,
and PQN's env steps/s against the bare environment, all measured in one run.

1. **Time to 475**, 8 seeds vmapped in one program per agent, default configs (jaxrl PQN:
   ``PQNConfig()``; jaxrl DQN: ``DQNConfig()``, rejax's CartPole setting; rejax 0.1.3 DQN:
   rejax's ``configs/gymnax/cartpole.yaml`` with a plain 64x64 relu QNetwork, in its own venv,
   ``rejax_dqn_runner.py`` ``"curve"`` mode: 10 greedy episodes every 5,000 steps, as jaxrl's DQN
   evaluates). jaxrl's runs go one logging interval per call, so each point's time is measured;
   rejax's run is one call (rejax cannot be stopped mid-run), so its time at evaluation ``k`` of
   ``K`` is ``k / K`` of its wall time (its cost per step is uniform: the estimate is marked).
   Compile time is excluded for all three and reported apart. jaxrl's seeds are split over one
   CPU device per core (``experiments/agent_runs.timed_run``, as ``jaxrl train`` runs them);
   rejax runs its ``jit(vmap)`` on one device.
2. **PQN throughput** at 1, 32 and 128 seeds (``--points``; PQNConfig: 32 envs x 64 steps,
   4 x 4 minibatch updates of 512 rows on a 64x64 LayerNorm MLP per rollout, no evaluation),
   ``jit(vmap(train))`` on one CPU device and the seeds split over one device per core
   (``devices.shard_runs``, as ``jaxrl train`` runs them), against (a) gymnax CartPole-v1 alone
   with the same number of environments (32 x seeds), random actions, in a ``lax.scan``: the
   fraction of the environment's ceiling the learner keeps; and (b) the floor
   (:func:`network_floor`: the Q-network passes the setting requires plus the bare environment,
   for all the seeds as one vmapped program, on one device and split as the all-cores run is,
   built and timed with ``ppo_throughput``'s helpers so that PPO's and PQN's floors are alike):
   PQN's rate as a share of the floor on the same devices. Median of ``--repeats`` runs.

    .venv/bin/python benchmarks/pqn_throughput.py [--seeds 8] [--repeats 3] [--out-md F]
        [--points 1:163840,32:40960,128:10240] [--throughput-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "experiments"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxrl import cpu_devices  # noqa: E402

cpu_devices.use_all_cores()    # before any JAX computation: one CPU device per core

import agent_runs  # noqa: E402
import common  # noqa: E402
from dqn_throughput import (RejaxServer, bare_env_program, bare_env_rate,  # noqa: E402
                            ensure_rejax_venv, jaxrl_versions)
from ppo_throughput import scan_last, seed_keys, time_floor_parts  # noqa: E402
from jaxrl import envs, networks  # noqa: E402
from jaxrl.agents import dqn, pqn  # noqa: E402
from jaxrl.training import devices  # noqa: E402

TARGET = 475.0


def log(*a):
  print(*a, file=sys.stderr, flush=True)


def time_to_target_jaxrl(name, module, config, seeds, seed):
  env, params = envs.make("CartPole-v1")
  keys = jax.random.split(jax.random.PRNGKey(seed), seeds)
  res = agent_runs.timed_run(module.make_train(config, env, params), keys)
  m, secs = res["metrics"], res["seconds"]
  med = agent_runs.median_over_seeds(m["eval_return"])
  hit = agent_runs.first_reaching(med, TARGET)
  out = dict(agent=name, compile_s=res["compile_s"], run_s=float(secs[-1]),
             steps=m["env_steps"][0].tolist(), seconds=secs.tolist(), median_eval=med.tolist(),
             seconds_to_target=None if hit is None else float(secs[hit]),
             env_steps_to_target=None if hit is None else int(m["env_steps"][0][hit]),
             final_median=float(np.median(m["eval_return"][:, -1])), estimated=False)
  log(f"{name}: to {TARGET:.0f}: {out['seconds_to_target']} s / {out['env_steps_to_target']} steps")
  return out


def time_to_target_rejax(seeds, total):
  ensure_rejax_venv()
  server = RejaxServer("curve")
  try:
    prep = server("prepare", seeds=seeds, total_timesteps=total)
    res = server("curve", seeds=seeds, total_timesteps=total)
  finally:
    server.close()
  med = np.asarray(res["median_eval"])
  k = len(med)
  steps = [(i + 1) * res["eval_every"] for i in range(k)]
  secs = [res["wall_s"] * (i + 1) / k for i in range(k)]
  hit = agent_runs.first_reaching(med, TARGET)
  out = dict(agent="rejax DQN", compile_s=prep["compile_s"], run_s=res["wall_s"], steps=steps,
             seconds=secs, median_eval=med.tolist(),
             seconds_to_target=None if hit is None else float(secs[hit]),
             env_steps_to_target=None if hit is None else int(steps[hit]),
             final_median=float(np.median(res["final_eval_per_seed"])), estimated=True,
             versions=server.hello["versions"])
  log(f"rejax DQN: to {TARGET:.0f}: {out['seconds_to_target']} s (estimated)")
  return out


def network_floor(seeds: int, total: int, mesh=None, repeats: int = 3) -> dict:
  """Seconds that ``seeds`` independent PQN runs of ``total`` steps each (``PQNConfig()``'s
  setting) spend in the work any PQN with this setting must do, each part timed alone as one
  program over all the seeds (``ppo_throughput.time_floor_parts``: ``vmap`` over the seeds, on
  one device or split over ``mesh``'s as the all-cores run is): per env step the Q-network's
  forward on the 32 observations (acting); per rollout its forward on the 2,048 next
  observations (the Q(lambda) targets' ``max_a Q(s_{t+1}, a)``); per minibatch update its
  forward and backward on 512 rows (the gradient kept; no loss, clip or RAdam); and the bare
  environment, ``seeds`` x 32 envs stepped with random actions. Their sum is a floor that no
  implementation on this machine goes below (epsilon-greedy sampling, the lambda-return scan,
  shuffling, the loss and the optimizer all come on top)."""
  c = pqn.PQNConfig()
  env, env_params = envs.make("CartPole-v1")
  obs_dim = env.observation_space(env_params).shape[0]
  net = networks.make_q_network("mlp", env.action_space(env_params).n, (obs_dim,),
                                hidden_sizes=c.hidden_sizes, layer_norm=c.layer_norm)
  params = jax.vmap(lambda k: net.init(k, jnp.zeros((obs_dim,))))(seed_keys(seeds, 0))
  batch = c.num_envs * c.num_steps
  iterations = total // batch
  updates = iterations * c.num_epochs * c.num_minibatches
  rows = batch // c.num_minibatches
  data = lambda *shape: jax.random.normal(jax.random.PRNGKey(1), (seeds,) + shape)  # noqa: E731
  parts = dict(   # name: (one seed's program, its inputs with the seed axis first)
      update_passes=(scan_last(jax.grad(lambda p, o: jnp.sum(net.apply(p, o)))),
                     (params, data(updates, rows, obs_dim))),
      act_per_step=(scan_last(net.apply), (params, data(iterations * c.num_steps, c.num_envs,
                                                        obs_dim))),
      target_per_rollout=(scan_last(net.apply), (params, data(iterations, batch, obs_dim))),
      bare_env=(bare_env_program(c.num_envs, total // c.num_envs), (seed_keys(seeds, 1),)))
  out = time_floor_parts(parts, mesh, repeats)
  return dict(seconds=out, total_s=sum(out.values()), seeds=seeds, updates=updates, rows=rows,
              total_steps=total, devices=1 if mesh is None else int(mesh.devices.size))


def pqn_throughput(seeds, steps_per_seed, repeats, cores=False):
  """PQN's env steps/s at ``seeds`` seeds: ``jit(vmap(train))`` on one device, or (``cores``)
  the seeds split over one CPU device per core, as ``jaxrl train`` runs them."""
  env, params = envs.make("CartPole-v1")
  config = pqn.PQNConfig(total_steps=steps_per_seed, log_every=steps_per_seed,
                         eval_every=steps_per_seed, eval_episodes=1)
  batched = jax.vmap(pqn.make_train(config, env, params))
  mesh = devices.make_mesh(seeds) if cores else None
  train = jax.jit(batched) if mesh is None else devices.shard_runs(batched, mesh)
  keys = jax.random.split(jax.random.PRNGKey(0), seeds)
  t0 = time.perf_counter()
  compiled = train.lower(keys).compile()
  compile_s = time.perf_counter() - t0
  times = []
  for r in range(repeats):
    k = jax.random.split(jax.random.PRNGKey(100 + r), seeds)
    t = time.perf_counter()
    jax.block_until_ready(compiled(k))
    times.append(time.perf_counter() - t)
  med = statistics.median(times)
  return dict(seeds=seeds, steps_per_seed=steps_per_seed, compile_s=compile_s, times_s=times,
              steps_per_s=seeds * steps_per_seed / med,
              devices=1 if mesh is None else int(mesh.devices.size))


def main():
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--seeds", type=int, default=8)
  ap.add_argument("--seed", type=int, default=3)
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--out-md")
  ap.add_argument("--points", default="1:163840,32:40960,128:10240",
                  help="seeds:steps per seed of the throughput points")
  ap.add_argument("--throughput-only", action="store_true",
                  help="skip part 1 (time to 475, which needs the rejax venv)")
  ap.add_argument("--out-json")
  args = ap.parse_args()
  t_start = time.perf_counter()
  machine = common.machine_info()
  res = dict(command="python " + " ".join(sys.argv), machine=machine,
             jaxrl_versions=jaxrl_versions(), seeds=args.seeds)
  pqn_cfg = pqn.PQNConfig(total_steps=163_840, log_every=8_192, eval_every=8_192,
                          eval_episodes=10)
  dqn_cfg = dqn.DQNConfig(total_steps=150_000, log_every=5_000, eval_every=5_000,
                          eval_episodes=10)
  res["time_to_target"] = [] if args.throughput_only else [
      time_to_target_jaxrl("jaxrl PQN", pqn, pqn_cfg, args.seeds, args.seed),
      time_to_target_jaxrl("jaxrl DQN", dqn, dqn_cfg, args.seeds, args.seed),
      time_to_target_rejax(args.seeds, 150_000),
  ]
  res["throughput"] = []
  for seeds, steps in (tuple(int(x) for x in p.split(":")) for p in args.points.split(",")):
    bare = bare_env_rate(32 * seeds, steps // 32)
    p = pqn_throughput(seeds, steps, args.repeats)
    p["cores"] = pqn_throughput(seeds, steps, args.repeats, cores=True)
    p["bare_env_steps_per_s"] = bare["steps_per_s"]
    p["floor"] = network_floor(seeds, steps, repeats=args.repeats)
    p["floor_split"] = network_floor(seeds, steps, devices.make_mesh(seeds), args.repeats)
    for key in ("floor", "floor_split"):
      p[key]["steps_per_s"] = seeds * steps / p[key]["total_s"]
    res["throughput"].append(p)
    log(f"PQN {seeds} seeds: {p['steps_per_s']:,.0f} steps/s (all cores "
        f"{p['cores']['steps_per_s']:,.0f}); bare env {bare['steps_per_s']:,.0f}; floor "
        f"{p['floor']['steps_per_s']:,.0f} (split {p['floor_split']['steps_per_s']:,.0f})")
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["wall_s"] = time.perf_counter() - t_start
  report = build_report(res)
  print(report)
  if args.out_md:
    open(args.out_md, "w").write(report + "\n")
  if args.out_json:
    json.dump(res, open(args.out_json, "w"), indent=1, default=str)


def build_report(res):
  mi, jv = res["machine"], res["jaxrl_versions"]
  L = ["## PQN on CartPole-v1: wall-clock to 475 vs DQN, and the share of the env's ceiling\n",
       f"Command: `{res['command']}`  \nDate: {mi['date']}; machine: {mi['cpu']}, {mi['cores']} "
       f"cores, {mi['memory']}, JAX backend {mi['jax backend']}; load average "
       f"{mi['load average']} before, {res['load_after']} after; whole benchmark "
       f"{res['wall_s'] / 60:.1f} min.  \njaxrl venv: jax {jv['jax']}, jaxlib {jv['jaxlib']}, "
       f"flax {jv['flax']}, optax {jv['optax']}, gymnax {jv['gymnax']}.\n"]
  if res["time_to_target"]:
    L += time_to_target_report(res)
  L += throughput_report(res)
  return "\n".join(L)


def time_to_target_report(res):
  L = [f"Time to a median (over {res['seeds']} seeds) greedy return >= {TARGET:.0f}, execution "
       "seconds (compile excluded):\n",
       "| agent | seconds to 475 | env steps per seed to 475 | compile (s) | final median |",
       "|---|---:|---:|---:|---:|"]
  for r in res["time_to_target"]:
    to = "never" if r["seconds_to_target"] is None else f"{r['seconds_to_target']:.1f}"
    if r["estimated"] and r["seconds_to_target"] is not None:
      to += " (est.)"
    st = "-" if r["env_steps_to_target"] is None else f"{r['env_steps_to_target']:,}"
    L.append(f"| {r['agent']} | {to} | {st} | {r['compile_s']:.1f} | {r['final_median']:.0f} |")
  by = {r["agent"]: r for r in res["time_to_target"]}
  pq = by["jaxrl PQN"]["seconds_to_target"]
  L.append("")
  for other in ("jaxrl DQN", "rejax DQN"):
    o = by[other]["seconds_to_target"]
    if pq and o:
      ratio = o / pq
      met = " -> target >= 5x: **" + ("met" if ratio >= 5 else "missed") + "**" \
          if other == "jaxrl DQN" else ""
      L.append(f"- PQN is {ratio:.2f}x faster to 475 than {other}{met}")
    else:
      L.append(f"- PQN vs {other}: not comparable (one of them never reached 475)")
  return L


def throughput_report(res):
  k = lambda x: f"{x / 1e3:,.0f}k"  # noqa: E731
  L = ["\nPQN training throughput (1 device) vs the bare environment (same number of "
       f"environments, median of {len(res['throughput'][0]['times_s'])}):\n"]
  L.append("| seeds | envs | PQN steps/s | bare env steps/s | PQN / env ceiling | compile (s) |")
  L.append("|---:|---:|---:|---:|---:|---:|")
  for p in res["throughput"]:
    L.append(f"| {p['seeds']} | {32 * p['seeds']} | {p['steps_per_s']:,.0f} | "
             f"{p['bare_env_steps_per_s']:,.0f} | "
             f"{100 * p['steps_per_s'] / p['bare_env_steps_per_s']:.1f}% | {p['compile_s']:.1f} |")
  L.append("\nThe floor at every point (`network_floor(seeds, ...)`, measured next to its point): "
           "the Q-network's forward on 32 observations per env step (acting), its forward on "
           "each rollout's 2,048 next observations (the Q(lambda) targets), its forward+backward "
           "on 512 rows per minibatch update, and the bare environment, for all the seeds at once "
           "(`vmap`), on one device (`jit`) and split as the all-cores run is "
           "(`devices.shard_runs`); steps/s = seeds x steps/seed / the parts' summed time. PQN's "
           "rate as a share of the floor's on the same devices (100% = nothing but the floor):\n")
  L.append("| seeds | steps/seed | PQN, 1 device | PQN, all cores (devices) | floor, 1 device | "
           "floor, split (devices) | PQN / floor, 1 device | PQN / floor, split | floor parts, 1 "
           "device: updates / act / targets / env (s) |")
  L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
  for p in res["throughput"]:
    f, fs, c = p["floor"], p["floor_split"], p["cores"]
    parts = " / ".join(f"{f['seconds'][n]:.3f}" for n in
                       ("update_passes", "act_per_step", "target_per_rollout", "bare_env"))
    L.append(f"| {p['seeds']} | {p['steps_per_seed']:,} | {k(p['steps_per_s'])} | "
             f"{k(c['steps_per_s'])} ({c['devices']}) | {k(f['steps_per_s'])} | "
             f"{k(fs['steps_per_s'])} ({fs['devices']}) | "
             f"{p['steps_per_s'] / f['steps_per_s']:.0%} | "
             f"{c['steps_per_s'] / fs['steps_per_s']:.0%} | {parts} |")
  L.append("")
  return L


if __name__ == "__main__":
  main()
