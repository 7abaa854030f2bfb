"""PPO and PQN with the minibatch shuffle of ``epochs.permutation`` against
``jax.random.permutation`` (the shuffle before 57bd202), in one process, one device.

Both programs are compiled first (the old shuffle patched into ``jaxrl.agents.epochs`` while its
program is traced), then timed in interleaved repeats; prints steps/s and old wall / new wall.
Settings: PPO as ``ppo_throughput.py`` (CartPole-v1, rejax's), PQN ``PQNConfig()`` on CartPole-v1.

Run: ``.venv/bin/python benchmarks/shuffle_ab.py [--ppo 1:100000,32:25000,128:10000]
[--pqn 1:81920,32:20480] [--repeats 3]`` (~4 min with the defaults).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ppo_throughput as pt  # noqa: E402  (splits the CPU first)
import common  # noqa: E402
import jax  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.agents import epochs, ppo, pqn  # noqa: E402

NEW = epochs.permutation


def old_permutation(key, n):
  return jax.random.permutation(key, n).astype("int32")


def ab(name, make, points, repeats):
  for seeds, steps in points:
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    programs = {}
    for label, perm in (("old", old_permutation), ("new", NEW)):
      epochs.permutation = perm
      try:
        programs[label] = jax.jit(jax.vmap(make(steps))).lower(keys).compile()
      finally:
        epochs.permutation = NEW
    walls = common.interleaved_walls(programs, keys, repeats=repeats)
    med = {label: statistics.median(w) for label, w in walls.items()}
    print(f"{name} {seeds:4d} seeds x {steps:,} steps: jax.random.permutation "
          f"{seeds * steps / med['old'] / 1e3:.0f}k steps/s, epochs.permutation "
          f"{seeds * steps / med['new'] / 1e3:.0f}k steps/s: {med['old'] / med['new']:.3f}x",
          flush=True)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--ppo", default="1:100000,32:25000,128:10000")
  ap.add_argument("--pqn", default="1:81920,32:20480")
  ap.add_argument("--repeats", type=int, default=3)
  args = ap.parse_args(argv)
  points = lambda s: [tuple(map(int, p.split(":"))) for p in s.split(",") if p]  # noqa: E731
  env = envs.make("CartPole-v1")
  ab("PPO", lambda steps: ppo.make_train(pt.jaxrl_config(steps), *env), points(args.ppo),
     args.repeats)
  ab("PQN", lambda steps: pqn.make_train(pqn.PQNConfig(total_steps=steps, log_every=steps,
                                                        eval_every=steps), *env),
     points(args.pqn), args.repeats)


if __name__ == "__main__":
  main()
