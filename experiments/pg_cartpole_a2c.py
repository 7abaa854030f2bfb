"""A2C on CartPole-v1 (and Acrobot-v1, Catch-bsuite): median greedy evaluation return of 8 seeds
in ONE vmapped call. Usage: python experiments/pg_cartpole_a2c.py [ENV] [STEPS] [SEEDS]"""

import dataclasses
import json
import sys
import time

import jax
import numpy as np

from jaxrl import envs
from jaxrl.agents import a2c

SETTINGS = {
    "CartPole-v1": a2c.A2CConfig(total_steps=500_000, anneal_lr=True),
    "Acrobot-v1": a2c.A2CConfig(total_steps=500_000),
    # rollouts at least one 9-step episode long, raw advantages: see experiments/pg_catch.py
    "Catch-bsuite": a2c.A2CConfig(total_steps=200_000, num_steps=10, normalize_advantages=False,
                                  log_every=4_000, eval_every=4_000, eval_episodes=16,
                                  eval_max_steps=10),
}


def main():
  name = sys.argv[1] if len(sys.argv) > 1 else "CartPole-v1"
  config = SETTINGS[name]
  if len(sys.argv) > 2:
    config = dataclasses.replace(config, total_steps=int(sys.argv[2]))
  seeds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
  env, params = envs.make(name)
  train = jax.jit(jax.vmap(a2c.make_train(config, env, params)))
  t0 = time.perf_counter()
  _, metrics = jax.block_until_ready(train(jax.random.split(jax.random.PRNGKey(0), seeds)))
  wall = time.perf_counter() - t0
  ev = np.asarray(metrics["eval_return"])            # [seeds, num_logs]
  steps = np.asarray(metrics["env_steps"][0])
  final = ev[:, -1]
  best_median = np.nanmax(np.nanmedian(ev, axis=0))
  out = dict(env=name, steps=int(steps[-1]), seeds=seeds, wall_s=round(wall, 1),
             final_eval_per_seed=final.round(1).tolist(), final_eval_median=float(np.median(final)),
             last5_eval_median=float(np.median(np.nanmean(ev[:, -5:], axis=1))),
             best_median_over_time=float(best_median),
             loss_finite=bool(np.all(np.asarray(metrics["loss_finite"]))),
             config=dataclasses.asdict(config))
  print(json.dumps(out, indent=1))
  with open(f"experiments/out/pg_a2c_{name}.json", "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()
