"""PPO training throughput on CartPole-v1: jaxrl PPO vs rejax PPO, same settings, one run.

Both run rejax's CartPole PPO setting (``configs/gymnax/cartpole.yaml``): 5 envs x 100 steps,
5 epochs of 5 minibatches (25 minibatch updates of 100 transitions per 500-step rollout),
Adam 7.5e-4 (constant), global-norm clip 0.5, gamma 0.99, GAE 0.95, clip 0.2 (value clipped
too), entropy 0.01, value 0.5, separate 64x64 tanh actor and critic, advantages standardised per
minibatch. jaxrl's PPO also evaluates ``V(final observation)`` once per rollout so that a time
limit bootstraps (rejax treats it as a termination); both evaluate one greedy episode at the end.

env steps/s = seeds x env steps per seed / wall time of one call, median of ``--repeats``
interleaved runs. jaxrl is timed twice: ``jit(vmap(train))(keys)`` on one CPU device (what rejax
runs), and as ``jaxrl train`` runs it, the seeds split over one CPU device per core
(``jaxrl.cpu_devices.use_all_cores`` + ``devices.shard_runs``; one seed cannot be split). Points
at 1, 32 and 128 seeds (same steps per seed for both sides at each point); plus gymnax CartPole
alone with 5 envs (both gymnax versions), and at each point the floor (``network_floor``: the
network passes the setting requires for all the seeds, timed alone, plus the bare environment
stepped for seeds x 5 envs; how fast any implementation could go here), on one device and split
over the devices as the all-cores run is, so that each jaxrl rate is reported as a share of the
floor on the same devices. rejax 0.1.3 runs in ``benchmarks/.venv-rejax`` (created by
``dqn_throughput.ensure_rejax_venv``) through ``rejax_ppo_runner.py``. Every compile and timed
call runs under ``pg_throughput``'s watchdog.

    .venv/bin/python benchmarks/ppo_throughput.py [--points 1:100000,32:25000,128:10000]
        [--repeats 3] [--out-md F] [--out-json F]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxrl import cpu_devices  # noqa: E402

cpu_devices.use_all_cores()    # before any JAX computation: one CPU device per core

import common  # noqa: E402
from dqn_throughput import (bare_env_program, bare_env_rate, ensure_rejax_venv,  # noqa: E402
                            jaxrl_versions)
from pg_throughput import RejaxPPO, Watchdog, log, seed_keys  # noqa: E402
from jaxrl import networks  # noqa: E402
from jaxrl.agents import ppo  # noqa: E402
from jaxrl.envs import make  # noqa: E402
from jaxrl.training import devices  # noqa: E402

NUM_ENVS, NUM_STEPS, EPOCHS, MINIBATCHES = 5, 100, 5, 5


def jaxrl_config(total: int) -> ppo.PPOConfig:
  return ppo.PPOConfig(
      total_steps=total, num_envs=NUM_ENVS, num_steps=NUM_STEPS, num_epochs=EPOCHS,
      num_minibatches=MINIBATCHES, hidden_sizes=(64, 64), learning_rate=7.5e-4,
      max_grad_norm=0.5, discount=0.99, gae_lambda=0.95, clip_eps=0.2, entropy_coef=0.01,
      value_coef=0.5, clip_value=True, anneal_lr=False, normalize_advantages=True,
      log_every=total, eval_every=total, eval_episodes=1)


def scan_last(body):
  """One seed's pass over a stack of inputs: ``body(p, x)`` for each slice ``x`` of ``xs`` in a
  ``lax.scan``, the last result kept (a floor part runs the same pass many times, as training
  does, without the bookkeeping around it)."""
  return lambda p, xs: jax.lax.scan(lambda c, x: (body(p, x), None), body(p, xs[0]), xs)[0]


def time_floor_parts(parts: dict, mesh=None, repeats: int = 3) -> dict:
  """Seconds of each floor part (``name: (one seed's program, its inputs with the seed axis
  first)``), median of ``repeats`` after a warm-up call, the seeds batched with ``vmap`` as
  ``jit(vmap(train))`` batches an agent's seeds. ``mesh=None``: jitted on one device; a mesh:
  split over its devices with ``devices.shard_runs`` (inputs placed there before timing), as the
  all-cores run is split. Shared by every agent's floor so that they are timed alike."""
  out = {}
  for name, (one_seed, args) in parts.items():
    if mesh is None:
      program = jax.jit(jax.vmap(one_seed))
    else:
      program = devices.shard_runs(jax.vmap(one_seed), mesh)
      args = devices.put(jax.device_get(args), mesh)   # on the devices before timing
    out[name] = common.time_call(functools.partial(program, *args), repeats=repeats)[0]
  return out


def network_floor(seeds: int, total: int, mesh=None, repeats: int = 3) -> dict:
  """Seconds that ``seeds`` independent runs of ``total`` steps each spend in the work any PPO
  with this setting must do, each part timed alone as one program over all the seeds (median of
  ``repeats``): per minibatch update the forward and backward passes of the two 64x64 tanh MLPs
  on 100 rows (the gradients kept, nothing else: no loss terms, no optimizer); per rollout step
  the actor's forward on 5 observations; per rollout the critic's forward on its 500
  observations; and the bare environment, ``seeds`` x 5 envs stepped with random actions. Their
  sum is a floor that no implementation on this machine goes below (sampling, GAE, shuffling,
  losses and the optimizer all come on top).

  Each part is ``vmap`` over the seeds of a one-seed ``lax.scan`` (each seed its own parameters
  and inputs), as ``jit(vmap(train))`` batches PPO's seeds. ``mesh=None``: jitted on one device;
  a mesh: the seeds split over its devices with ``devices.shard_runs``, as the all-cores PPO run
  is split, so the floor of N seeds on D devices is N/D seeds' floor on each device in parallel.
  """
  env, env_params = make("CartPole-v1")
  obs_dim = env.observation_space(env_params).shape[0]
  net = networks.make_actor_critic("mlp", 2, (obs_dim,), hidden_sizes=(64, 64))
  params = jax.vmap(lambda k: net.init(k, jnp.zeros((obs_dim,))))(seed_keys(seeds, 0))
  iterations = total // (NUM_ENVS * NUM_STEPS)
  updates = iterations * EPOCHS * MINIBATCHES
  rows = NUM_ENVS * NUM_STEPS // MINIBATCHES
  env_steps = total // NUM_ENVS
  data = lambda *shape: jax.random.normal(jax.random.PRNGKey(1), (seeds,) + shape)  # noqa: E731

  def passes(p, obs):
    pi, v = net.apply(p, obs)
    return jnp.sum(pi) + jnp.sum(v)

  parts = dict(   # name: (one seed's program, its inputs with the seed axis first)
      update_passes=(scan_last(jax.grad(passes)), (params, data(updates, rows, obs_dim))),
      actor_per_step=(scan_last(lambda p, o: net.apply(p, o)[0]),
                      (params, data(iterations * NUM_STEPS, NUM_ENVS, obs_dim))),
      critic_per_rollout=(scan_last(lambda p, o: net.apply(p, o)[1]),
                          (params, data(iterations, NUM_ENVS * NUM_STEPS, obs_dim))),
      bare_env=(bare_env_program(NUM_ENVS, env_steps), (seed_keys(seeds, 1),)))
  out = time_floor_parts(parts, mesh, repeats)
  return dict(seconds=out, total_s=sum(out.values()), seeds=seeds, updates=updates, rows=rows,
              total_steps=total, devices=1 if mesh is None else int(mesh.devices.size))


class JaxrlPPO:
  """``cores=False``: ``jit(vmap(train))`` on one device; True: seeds split over every core."""

  def __init__(self, cores: bool = False):
    self.env, self.params = make("CartPole-v1")
    self.prepared = {}
    self.cores = cores
    self.devices_used = {}

  def prepare(self, seeds, total):
    batched = jax.vmap(ppo.make_train(jaxrl_config(total), self.env, self.params))
    if self.cores:
      mesh = devices.make_mesh(seeds)
      self.devices_used[seeds] = int(mesh.devices.size)
      train = devices.shard_runs(batched, mesh)
    else:
      self.devices_used[seeds] = 1
      train = jax.jit(batched)
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(keys)
    t1 = time.perf_counter()
    self.prepared[(seeds, total)] = lowered.compile()
    return dict(trace_lower_s=t1 - t0, compile_s=time.perf_counter() - t1)

  def run(self, seeds, total, rep):
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    state, metrics = jax.block_until_ready(self.prepared[(seeds, total)](keys))
    wall = time.perf_counter() - t0
    return dict(wall_s=wall, env_steps_per_seed=int(np.asarray(state.env_steps).reshape(-1)[0]),
                updates_per_seed=int(np.asarray(state.updates).reshape(-1)[0]),
                final_eval_return_mean=float(np.nanmean(np.asarray(metrics["eval_return"])[:, -1])))

  def free(self, seeds, total):
    self.prepared.pop((seeds, total), None)


def main():
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--points", default="1:100000,32:25000,128:10000")
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--call-timeout", type=float, default=900.0)
  ap.add_argument("--out-md")
  ap.add_argument("--out-json")
  args = ap.parse_args()
  t_start = time.perf_counter()
  points = [tuple(int(x) for x in p.split(":")) for p in args.points.split(",")]
  machine = common.machine_info()
  ensure_rejax_venv()
  state = dict(rejax=None)

  def on_abort(what):
    del what
    if state["rejax"] is not None:
      state["rejax"].kill()

  dog = Watchdog(args.call_timeout, on_abort)
  with dog.guard("starting the rejax runner"):
    rejax = state["rejax"] = RejaxPPO()
  mine = {"jaxrl": JaxrlPPO(), "jaxrl_cores": JaxrlPPO(cores=True)}
  res = dict(command="python " + " ".join(sys.argv), machine=machine, repeats=args.repeats,
             jaxrl_versions=jaxrl_versions(), rejax_versions=rejax.hello["versions"], points=[])
  bare_steps = 200_000 // NUM_ENVS
  with dog.guard("bare env"):
    res["bare_env"] = dict(jaxrl=bare_env_rate(NUM_ENVS, bare_steps),
                           rejax=rejax("bare_env", num_envs=NUM_ENVS, steps=bare_steps))
  for seeds, total in points:
    where = f"seeds={seeds} T={total}"
    p = dict(seeds=seeds, total_steps=total, compile={},
             runs={"rejax": [], "jaxrl": [], "jaxrl_cores": []})
    with dog.guard(f"{where}: compile rejax"):
      p["compile"]["rejax"] = rejax("prepare", seeds=seeds, total_timesteps=total)
    for name, agent in mine.items():
      with dog.guard(f"{where}: compile {name}"):
        p["compile"][name] = agent.prepare(seeds, total)
    p["devices_used"] = mine["jaxrl_cores"].devices_used[seeds]
    order = ("rejax", "jaxrl", "jaxrl_cores")
    for rep in range(args.repeats):
      for name in (order if rep % 2 == 0 else order[::-1]):
        with dog.guard(f"{where}: run {name} rep {rep}"):
          r = (rejax("run", seeds=seeds, total_timesteps=total, rep=rep) if name == "rejax"
               else mine[name].run(seeds, total, rep))
        p["runs"][name].append(r)
    p["steps_per_s"] = {name: seeds * runs[-1]["env_steps_per_seed"] /
                        statistics.median(r["wall_s"] for r in runs)
                        for name, runs in p["runs"].items()}
    with dog.guard(f"{where}: floor, 1 device"):
      p["floor"] = network_floor(seeds, total, repeats=args.repeats)
    with dog.guard(f"{where}: floor, split"):
      p["floor_split"] = network_floor(seeds, total, devices.make_mesh(seeds), args.repeats)
    for key in ("floor", "floor_split"):
      p["steps_per_s"][key] = seeds * total / p[key]["total_s"]
    rejax("free", seeds=seeds, total_timesteps=total)
    for agent in mine.values():
      agent.free(seeds, total)
    log(f"{where}: " + ", ".join(f"{k} {v:,.0f}" for k, v in p["steps_per_s"].items()))
    res["points"].append(p)
  with dog.guard("closing the rejax runner", 60):
    rejax.close()
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["wall_s"] = time.perf_counter() - t_start
  report = build_report(res)
  print(report, flush=True)
  if args.out_md:
    open(args.out_md, "w").write(report + "\n")
  if args.out_json:
    json.dump(res, open(args.out_json, "w"), indent=1, default=str)


def build_report(res):
  mi, jv, rv = res["machine"], res["jaxrl_versions"], res["rejax_versions"]
  k = lambda x: f"{x / 1e3:,.0f}k"  # noqa: E731
  b = res["bare_env"]
  L = ["## PPO training throughput: jaxrl PPO vs rejax PPO (CartPole-v1, rejax's settings)\n",
       f"Command: `{res['command']}`  \nDate: {mi['date']}; machine: {mi['cpu']}, {mi['cores']} "
       f"cores, {mi['memory']}, JAX backend {mi['jax backend']}; load average "
       f"{mi['load average']} before, {res['load_after']} after; whole benchmark "
       f"{res['wall_s'] / 60:.1f} min.  \njaxrl venv: jax {jv['jax']}, jaxlib {jv['jaxlib']}, "
       f"flax {jv['flax']}, optax {jv['optax']}, gymnax {jv['gymnax']}. rejax venv: rejax "
       f"{rv['rejax']}, jax {rv['jax']}, jaxlib {rv['jaxlib']}, flax {rv['flax']}, gymnax "
       f"{rv['gymnax']}.\n",
       f"Bare gymnax CartPole-v1, {NUM_ENVS} envs, random actions: {k(b['jaxrl']['steps_per_s'])} "
       f"steps/s (gymnax {jv['gymnax']}), {k(b['rejax']['steps_per_s'])} (gymnax {rv['gymnax']}).\n",
       f"Steps/s: median of {res['repeats']} interleaved runs of one call; rejax and jaxrl "
       "(1 device): `jit(vmap(train))(keys)`; jaxrl (all cores): the seeds split over one CPU "
       "device per core, as `jaxrl train` runs them (`devices.shard_runs`); compile = AOT "
       "`lower().compile()` (s).\n",
       "| seeds | steps/seed | rejax PPO steps/s | jaxrl PPO, 1 device | jaxrl / rejax | "
       "jaxrl PPO, all cores (devices) | all cores / rejax | compile rejax / jaxrl (s) | "
       "final eval rejax / jaxrl |",
       "|---:|---:|---:|---:|---:|---:|---:|---|---|"]
  for p in res["points"]:
    s, c, ru = p["steps_per_s"], p["compile"], p["runs"]
    L.append(f"| {p['seeds']} | {p['total_steps']:,} | {k(s['rejax'])} | {k(s['jaxrl'])} | "
             f"{s['jaxrl'] / s['rejax']:.2f}x | {k(s['jaxrl_cores'])} ({p['devices_used']}) | "
             f"{s['jaxrl_cores'] / s['rejax']:.2f}x | {c['rejax']['compile_s']:.1f} / "
             f"{c['jaxrl']['compile_s']:.1f} | {ru['rejax'][-1]['final_eval_return_mean']:.0f} / "
             f"{ru['jaxrl'][-1]['final_eval_return_mean']:.0f} |")
  p0 = res["points"][0]["runs"]
  L.append(f"\nMinibatch updates per seed (first point): rejax "
           f"{p0['rejax'][-1]['actor_updates_per_seed']} (actor; critic the same), jaxrl "
           f"{p0['jaxrl'][-1]['updates_per_seed']} (one joint step on actor and critic).\n")
  by = {p["seeds"]: p["steps_per_s"] for p in res["points"]}
  one = next((p for p in res["points"] if p["seeds"] == 1), None)
  if one is not None:
    f, total, sec = one["floor"], one["total_steps"], one["floor"]["seconds"]
    floor_s = f["total_s"]
    wall = {name: total / by[1][name] for name in ("rejax", "jaxrl")}
    L.append(f"One seed's floor on this machine, measured in this run (`network_floor`): of "
             f"{total:,} steps, {f['updates']:,} minibatch updates' forward+backward passes of "
             f"both networks on {f['rows']} rows {sec['update_passes']:.3f} s, the actor on "
             f"{NUM_ENVS} observations per step {sec['actor_per_step']:.3f} s, the critic on "
             f"each rollout's {NUM_ENVS * NUM_STEPS} {sec['critic_per_rollout']:.3f} s, the bare "
             f"environment {sec['bare_env']:.3f} s: **{floor_s:.3f} s**. rejax takes "
             f"{wall['rejax']:.3f} s ({floor_s / wall['rejax']:.0%} of its time is the floor), "
             f"jaxrl {wall['jaxrl']:.3f} s ({floor_s / wall['jaxrl']:.0%}); an implementation "
             f"with nothing but the floor would run at {wall['rejax'] / floor_s:.2f}x rejax.\n")
  L.append("The floor at every point (`network_floor(seeds, ...)`, measured in this run next to "
           "its point): the same parts for all the seeds at once, each a `vmap` over the seeds, "
           "on one device (`jit`) and split over the devices as the all-cores run is "
           "(`devices.shard_runs`: N/D seeds on each of D devices in parallel); steps/s = seeds "
           "x steps/seed / the parts' summed time. jaxrl's rate as a share of the floor's rate "
           "on the same devices (100% = nothing but the floor):\n")
  L.append("| seeds | steps/seed | rejax PPO steps/s | jaxrl PPO, 1 device | jaxrl PPO, all "
           "cores (devices) | floor, 1 device | floor, split | jaxrl / floor, 1 device | "
           "jaxrl / floor, split | floor parts, 1 device: updates / actor / critic / env (s) |")
  L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
  for p in res["points"]:
    s, sec = p["steps_per_s"], p["floor"]["seconds"]
    parts = " / ".join(f"{sec[n]:.3f}" for n in
                       ("update_passes", "actor_per_step", "critic_per_rollout", "bare_env"))
    L.append(f"| {p['seeds']} | {p['total_steps']:,} | {k(s['rejax'])} | {k(s['jaxrl'])} | "
             f"{k(s['jaxrl_cores'])} ({p['devices_used']}) | {k(s['floor'])} | "
             f"{k(s['floor_split'])} ({p['floor_split']['devices']}) | "
             f"{s['jaxrl'] / s['floor']:.0%} | {s['jaxrl_cores'] / s['floor_split']:.0%} | "
             f"{parts} |")
  L.append("")
  L.append("Target (jaxrl PPO >= 1.5x rejax PPO's steps/s), as `jaxrl train` runs it (all "
           "cores) and on one device:\n")
  for s in (1, 32, 128):
    if s in by:
      r, r1 = by[s]["jaxrl_cores"] / by[s]["rejax"], by[s]["jaxrl"] / by[s]["rejax"]
      L.append(f"- {s} seed{'s' if s > 1 else ''}: all cores {r:.2f}x -> "
               f"**{'met' if r >= 1.5 else 'missed'}**; one device {r1:.2f}x")
  L.append("")
  return "\n".join(L)


if __name__ == "__main__":
  main()
