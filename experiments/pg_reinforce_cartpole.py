"""REINFORCE on CartPole-v1: the three weightings (total return, reward-to-go, reward-to-go minus
a baseline), 8 seeds each in ONE vmapped call. Usage: python experiments/pg_reinforce_cartpole.py
[VARIANT ...] [--steps N] [--env NAME]"""

import argparse
import dataclasses
import json
import time

import jax
import numpy as np

from jaxrl import envs
from jaxrl.agents import reinforce

BASE = reinforce.ReinforceConfig(total_steps=1_000_000, num_envs=8, log_every=20_000,
                                 eval_every=20_000)
VARIANTS = {
    "total": dataclasses.replace(BASE, returns="total", baseline="none"),
    "reward_to_go": dataclasses.replace(BASE, returns="reward_to_go", baseline="none"),
    "rtg_mean_baseline": dataclasses.replace(BASE, returns="reward_to_go", baseline="mean"),
    "rtg_value_baseline": dataclasses.replace(BASE, returns="reward_to_go", baseline="value"),
}


def run(name, config, env_name, seeds):
  env, params = envs.make(env_name)
  train = jax.jit(jax.vmap(reinforce.make_train(config, env, params)))
  t0 = time.perf_counter()
  _, metrics = jax.block_until_ready(train(jax.random.split(jax.random.PRNGKey(0), seeds)))
  ev = np.asarray(metrics["eval_return"])
  out = dict(variant=name, env=env_name, steps=int(metrics["env_steps"][0, -1]), seeds=seeds,
             wall_s=round(time.perf_counter() - t0, 1),
             final_eval_per_seed=ev[:, -1].round(1).tolist(),
             final_eval_median=float(np.median(ev[:, -1])),
             env_steps=np.asarray(metrics["env_steps"][0]).tolist(),
             eval_return=ev.round(2).tolist(),
             loss_finite=bool(np.all(np.asarray(metrics["loss_finite"]))))
  print(json.dumps({k: v for k, v in out.items() if k not in ("env_steps", "eval_return")}))
  return out


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("variants", nargs="*", default=list(VARIANTS))
  parser.add_argument("--steps", type=int, default=1_000_000)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--env", default="CartPole-v1")
  args = parser.parse_args()
  results = {}
  for name in args.variants:
    config = dataclasses.replace(VARIANTS[name], total_steps=args.steps)
    results[name] = run(name, config, args.env, args.seeds)
  with open(f"experiments/out/pg_reinforce_{args.env}_{'_'.join(args.variants)}.json", "w") as f:
    json.dump(results, f)


if __name__ == "__main__":
  main()
