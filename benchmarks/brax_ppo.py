"""PPO throughput on a Brax task: jaxrl PPO vs Brax's own PPO, same task and settings, one run.

Both train ``brax_ppo_peer.Setting`` (Brax's inverted_pendulum recipe scaled to a CPU: 32 envs,
unroll 8 x batch 32 x 4 minibatches = 1,024 env steps per update round, 4 epochs, observation
normalisation, reward scaling 10, tanh-squashed Gaussian, 64x64 tanh networks; the translation
is in ``brax_ppo_peer``'s docstring) on the same Brax environment, backend and episode length.

env steps/s:
* jaxrl: ``jax.jit(jax.vmap(train))(keys)`` at 1 and 16 seeds, compiled first (AOT), median of
  ``--repeats`` calls; one greedy evaluation of ``eval_episodes`` episodes at the end is inside
  the timed call.
* Brax: ``brax.training.agents.ppo.train`` reports ``training/sps`` per training epoch; with
  ``num_evals=3`` the run has two epochs and the second is compiled already: its rate is the
  one reported (evaluation excluded, which favours Brax). Brax's ``train`` runs one seed per call
  (its parallel axis is devices, not seeds), so 16 seeds are 16 calls one after another: its
  16-seed rate is its 1-seed rate, measured once per repeat.
* where jaxrl's time goes: the bare environment (``jaxrl.envs.make("brax:NAME")``, random
  actions, the same envs x steps in one ``lax.scan``) timed alone, and the rest (networks,
  updates, normalisation) as the learner's share.

Both on one CPU device (no ``use_all_cores`` split). Brax's PPO runs in its own venv
(``benchmarks/.venv-brax``: brax 0.14.2 on jax 0.9.2, created on first use; brax's trainer does
not run on jax 0.10), the environment through jaxrl's adapter in jaxrl's venv (same brax).

    .venv/bin/python benchmarks/brax_ppo.py [--seeds 1,16] [--steps 131072] [--steps16 32768]
        [--repeats 3] [--quick] [--out-json F]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import brax_ppo_peer as peer  # noqa: E402
import common  # noqa: E402


def jaxrl_rate(s: peer.Setting, seeds: int, repeats: int) -> dict:
  train, _, _ = peer.jaxrl_train(s)
  keys = jax.random.split(jax.random.key(0), seeds)
  t0 = time.perf_counter()
  fn = jax.jit(jax.vmap(train)).lower(keys).compile()
  compile_s = time.perf_counter() - t0
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn(keys))
    times.append(time.perf_counter() - t)
  wall = statistics.median(times)
  return {"seeds": seeds, "steps_per_seed": s.total_steps, "wall_s": wall,
          "compile_s": compile_s, "rate": seeds * s.total_steps / wall}


def bare_env_rate(s: peer.Setting, seeds: int, repeats: int) -> dict:
  """The environment alone: ``seeds x num_envs`` envs, random actions in [-1, 1], as many steps
  per seed as training takes, through the adapter (with its auto-reset)."""
  from jaxrl import envs  # pylint: disable=import-outside-toplevel
  env, params = envs.make(f"brax:{s.env}", **peer.env_kwargs(s))
  shape = env.action_space(params).shape
  n = seeds * s.num_envs
  steps = s.total_steps // s.num_envs

  def run(key):
    keys = jax.random.split(key, n)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

    def body(carry, key):
      state, total = carry
      k_act, k_step = jax.random.split(key)
      act = jax.random.uniform(k_act, (n, *shape), minval=-1.0, maxval=1.0)
      obs, state, reward, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
          jax.random.split(k_step, n), state, act, params)
      # consume the observation: inverted_pendulum's reward is a constant 1, so a sum of rewards
      # alone lets XLA drop the physics
      return (state, total + reward.sum() + obs.sum()), None

    (_, total), _ = jax.lax.scan(body, (state, jnp.float32(0)), jax.random.split(key, steps))
    return total

  fn = jax.jit(run).lower(jax.random.key(1)).compile()
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn(jax.random.key(1)))
    times.append(time.perf_counter() - t)
  wall = statistics.median(times)
  return {"seeds": seeds, "wall_s": wall, "rate": n * steps / wall}


def brax_rate(s: peer.Setting, repeats: int) -> dict:
  runs = peer.brax_train(s, list(range(repeats)), num_evals=3, run_evals=False)
  return {"rate": statistics.median(r["sps"] for r in runs),
          "wall_with_compile_s": statistics.median(r["wall_s"] for r in runs)}


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", default="1,16")
  parser.add_argument("--steps", type=int, default=131_072, help="env steps per seed at 1 seed")
  parser.add_argument("--steps16", type=int, default=32_768,
                      help="env steps per seed at more than one seed")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--env", default="inverted_pendulum")
  parser.add_argument("--backend", default=None, help="Brax backend (default: the adapter's)")
  parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
  parser.add_argument("--out-json", default=None)
  args = parser.parse_args()
  base = peer.Setting(env=args.env)
  if args.backend:
    base = dataclasses.replace(base, backend=args.backend)
  if args.quick:
    base = dataclasses.replace(base, num_envs=8, unroll_length=4, batch_size=8,
                               num_minibatches=2, num_updates_per_batch=1, eval_episodes=1,
                               episode_length=50)
    args.steps = args.steps16 = 3 * base.steps_per_update
    args.repeats = 1
    args.seeds = "1,2"
  common.print_machine("jaxrl PPO vs Brax PPO on brax:" + base.env)
  seeds_list = [int(x) for x in args.seeds.split(",")]
  rows, results = [], []
  brax = None
  for seeds in seeds_list:
    s = dataclasses.replace(base, num_timesteps=args.steps if seeds == 1 else args.steps16)
    if brax is None:
      brax = brax_rate(dataclasses.replace(s, num_timesteps=max(s.total_steps,
                                                                3 * s.steps_per_update)),
                       args.repeats)
    j = jaxrl_rate(s, seeds, args.repeats)
    e = bare_env_rate(s, seeds, args.repeats)
    env_share = (seeds * s.total_steps / e["rate"]) / j["wall_s"]   # bare env time / run time
    results.append({"seeds": seeds, "jaxrl": j, "bare_env": e, "brax": brax})
    rows.append([seeds, s.total_steps, f"{j['rate']:,.0f}", f"{brax['rate']:,.0f}",
                 f"{j['rate'] / brax['rate']:.2f}x", f"{e['rate']:,.0f}",
                 f"{100 * env_share:.0f}%", f"{j['compile_s']:.1f}"])
  common.table(["seeds", "steps/seed", "jaxrl steps/s", "Brax PPO steps/s", "jaxrl / Brax",
                "bare env steps/s", "env share of jaxrl time", "jaxrl compile s"], rows,
               title=f"PPO on brax:{base.env} ({base.backend}), one CPU device")
  if args.out_json:
    with open(args.out_json, "w", encoding="utf-8") as f:
      json.dump({"setting": dataclasses.asdict(base), "machine": common.machine_info(),
                 "results": results}, f, indent=1)


if __name__ == "__main__":
  main()
