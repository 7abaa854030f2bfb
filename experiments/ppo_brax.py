"""jaxrl PPO on two Brax tasks beside Brax's own PPO, same budget and settings, one script.

For each task, jaxrl trains ``--seeds`` seeds in ONE compiled call
(``jax.jit(jax.vmap(train))``) and Brax's ``brax.training.agents.ppo.train`` trains the same
number of seeds one call after another (its parallel axis is devices, not seeds), both with the
settings of ``benchmarks/brax_ppo_peer.py`` (observation normalisation, reward scaling,
tanh-squashed Gaussian, 64x64 tanh networks; the translation is in that module's docstring).
The figure is the median over seeds of the final deterministic evaluation return
(``eval_episodes`` full episodes with the mean action).

Tasks (Brax's ``mjx`` backend, the adapter's default, unless ``--backend``):
* ``inverted_pendulum`` (131k steps per seed): +1 per step upright, episode 1000; Brax's recipe
  for it (reward scaling 10, discount 0.97, lr 3e-4, entropy 1e-2, clip 0.3, 4 epochs) at CPU
  size: 32 envs, 1,024 env steps per update round.
* ``inverted_double_pendulum`` (262k steps per seed): the same recipe.

With ``--brax-own-networks`` Brax also runs with its own default networks (policy 4x32, value
5x256, swish): the peer as it ships, beside the peer with jaxrl's networks.

    .venv/bin/python experiments/ppo_brax.py [--seeds 4] [--tasks inverted_pendulum,...]
        [--steps inverted_pendulum=131072,...] [--quick]
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

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

import jax  # noqa: E402

import brax_ppo_peer as peer  # noqa: E402

STEPS = {"inverted_pendulum": 131_072, "inverted_double_pendulum": 262_144}
OUT = HERE / "out"


def run_task(task: str, steps: int, seeds: int, backend: str | None, quick: bool,
             own_networks: bool = False) -> dict:
  s = peer.Setting(env=task, num_timesteps=steps)
  if backend:
    s = dataclasses.replace(s, backend=backend)
  if quick:
    s = dataclasses.replace(s, num_envs=8, unroll_length=4, batch_size=8, num_minibatches=2,
                            num_updates_per_batch=1, eval_episodes=2, episode_length=50,
                            num_timesteps=3 * 64)
  evals = 8
  every = max(s.steps_per_update, s.total_steps // evals // s.steps_per_update
              * s.steps_per_update)
  train, _, _ = peer.jaxrl_train(s, eval_every=every)
  keys = jax.random.split(jax.random.key(0), seeds)
  t0 = time.perf_counter()
  _, metrics = jax.block_until_ready(jax.jit(jax.vmap(train))(keys))
  jaxrl_wall = time.perf_counter() - t0
  jaxrl_final = peer.final_greedy_returns(metrics)
  t0 = time.perf_counter()
  brax_runs = peer.brax_train(s, list(range(seeds)), num_evals=evals + 1)
  brax_wall = time.perf_counter() - t0
  brax_final = np.array([r["final_return"] for r in brax_runs])
  own = (peer.brax_train(s, list(range(seeds)), num_evals=evals + 1, brax_networks=True)
         if own_networks else [{"final_return": float("nan"), "evals": []}])
  own_final = np.array([r["final_return"] for r in own])
  return {"task": task, "backend": s.backend, "steps_per_seed": s.total_steps, "seeds": seeds,
          "jaxrl_final": jaxrl_final.tolist(), "brax_final": brax_final.tolist(),
          "jaxrl_median": float(np.median(jaxrl_final)),
          "brax_median": float(np.median(brax_final)),
          "brax_own_networks_final": own_final.tolist(),
          "brax_own_networks_median": float(np.median(own_final)),
          "brax_own_networks_curves": [r["evals"] for r in own],
          "jaxrl_wall_s": jaxrl_wall, "brax_wall_s": brax_wall,
          "jaxrl_curve": np.asarray(metrics["eval_return"]).reshape(seeds, -1).tolist(),
          "brax_curves": [r["evals"] for r in brax_runs], "setting": dataclasses.asdict(s)}


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=4)
  parser.add_argument("--tasks", default="inverted_pendulum,inverted_double_pendulum")
  parser.add_argument("--steps", default="", help="TASK=STEPS,... overrides")
  parser.add_argument("--backend", default=None)
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--brax-own-networks", action="store_true",
                      help="also run Brax's PPO with its default networks")
  args = parser.parse_args()
  steps = dict(STEPS)
  for item in filter(None, args.steps.split(",")):
    name, _, value = item.partition("=")
    steps[name] = int(value)
  results = []
  OUT.mkdir(exist_ok=True)
  path = OUT / ("ppo_brax_quick.json" if args.quick else "ppo_brax.json")
  for task in args.tasks.split(","):
    r = run_task(task, steps.get(task, 262_144), args.seeds, args.backend, args.quick,
                 args.brax_own_networks)
    results.append(r)
    print(f"{task} ({r['backend']}, {r['steps_per_seed']:,} steps/seed, {r['seeds']} seeds): "
          f"jaxrl PPO median final return {r['jaxrl_median']:.1f} "
          f"{np.round(r['jaxrl_final'], 1).tolist()} in {r['jaxrl_wall_s']:.0f} s (one call, "
          f"compile included); Brax PPO {r['brax_median']:.1f} "
          f"{np.round(r['brax_final'], 1).tolist()} in {r['brax_wall_s']:.0f} s "
          f"({r['seeds']} calls); Brax PPO with its own default networks (4x32 policy, 5x256 "
          f"value, swish) {r['brax_own_networks_median']:.1f} "
          f"{np.round(r['brax_own_networks_final'], 1).tolist()}", flush=True)
    path.write_text(json.dumps(results, indent=1))       # after every task: nothing is lost
  print(f"wrote {os.path.relpath(path)}")


if __name__ == "__main__":
  main()
