"""Actor-critic with a Q(s, a) critic against the V(s) critic (A2C) on CartPole-v1.

The course notes' two policy-gradient variants: "actor-critic", whose critic ``Q(s, a)`` learned
from data takes the place of the return, and "advantage actor-critic", weighted by
``A = Q - V``. Both run in :mod:`jaxrl.agents.a2c` with the same networks, optimiser and rollouts:

  * ``V critic (A2C)``: ``critic="v"``; weight = GAE(lambda) advantage from rewards and ``V``;
  * ``Q critic, expected SARSA``: ``critic="q"``; weight = ``Q(s, a) - sum_a' pi(a'|s) Q(s, a')``
    from the critic alone; ``Q`` regressed on expected-SARSA(lambda) targets;
  * ``Q critic, SARSA``: the same with SARSA(lambda) targets (bootstrap on the next action);
  * ``Q critic, plain Q weight``: weight = ``Q(s, a)`` with no baseline and no advantage
    normalisation (the notes' first variant as written);
  * ``Q critic, tuned``: the best Q setting a small search found (dueling head, raw weights,
    learning rate 7e-4, entropy 0.1). It was chosen on these same seeds, so it is optimistic;
  * ``Q critic, actor lr x0.1`` / ``x0.03``: the expected-SARSA Q critic with a slower actor
    (``actor_lr_scale``: the actor's Adam step is ``learning_rate * actor_lr_scale``, the
    critic's ``learning_rate``), the two-timescale remedy: the critic tracks the policy's ``Q``
    before the policy moves on.

What goes wrong with the Q critic (seen in the metrics): the policy's weight comes from the
critic alone, and the critic learns ``Q(s, a)`` only for the actions the policy takes. Under
CartPole's positive rewards the values grow during training, so the often-taken action's ``Q``
rises while a rarely taken action's ``Q`` stays stale and low; the weight ``Q(s, a) - V(s)`` then
favours the action already favoured, and the policy collapses onto it (entropy near 0 within
10k-30k steps in the collapsing seeds; greedy return 9-10 = always pushing one way). The V
critic's advantages come from observed rewards and correct themselves. Slower actor steps (raw
weights, smaller learning rate), a dueling head (``Q = V + D - mean D``: the value level is
shared by all actions) and more entropy reduce the collapse but do not remove it. A slower actor
than critic does (``actor_lr_scale``; one run, 8 seeds, 500k steps): x0.1 gave a final median
366 (4/8 seeds at 500, 3 still collapsed at 9-10), x0.03 gave 500 (8/8), against 9.4 (2/8) with
one learning rate.

Each variant is 8 seeds in ONE ``jax.jit(jax.vmap(train))`` call (compiled once, called once),
500k environment steps, greedy evaluation every 10k steps.

    .venv/bin/python experiments/pg_actor_critic_q.py [--seeds 8] [--total-steps 500000] [--out DIR]
        [--only LABEL_SUBSTRING]   (e.g. --only "actor lr": the slower-actor variants alone)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import time

import jax
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

from jaxrl import envs  # pylint: disable=wrong-import-position
from jaxrl.agents import a2c  # pylint: disable=wrong-import-position

BASE = a2c.A2CConfig(total_steps=500_000, anneal_lr=True)   # experiments/pg_cartpole_a2c.py's

VARIANTS = {
    "V critic (A2C, GAE)": BASE,
    "Q critic, expected SARSA": dataclasses.replace(BASE, critic="q", q_target="expected_sarsa"),
    "Q critic, SARSA": dataclasses.replace(BASE, critic="q", q_target="sarsa"),
    "Q critic, plain Q weight": dataclasses.replace(BASE, critic="q", q_baseline=False,
                                                    normalize_advantages=False),
    "Q critic, tuned": dataclasses.replace(BASE, critic="q", q_dueling=True,
                                           normalize_advantages=False, learning_rate=7e-4,
                                           entropy_coef=0.1),
    "Q critic, actor lr x0.1": dataclasses.replace(BASE, critic="q", actor_lr_scale=0.1),
    "Q critic, actor lr x0.03": dataclasses.replace(BASE, critic="q", actor_lr_scale=0.03),
}


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--total-steps", type=int, default=500_000)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--only", default=None, help="run the variants whose label contains this")
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  args = parser.parse_args()

  env, params = envs.make("CartPole-v1")
  keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
  results = {}
  for label, config in VARIANTS.items():
    if args.only and args.only not in label:
      continue
    config = dataclasses.replace(config, total_steps=args.total_steps)
    train = jax.jit(jax.vmap(a2c.make_train(config, env, params)))
    start = time.perf_counter()
    compiled = train.lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    _, metrics = jax.block_until_ready(compiled(keys))      # one call per compiled function
    run_s = time.perf_counter() - start
    metrics = jax.tree.map(np.asarray, metrics)
    steps = metrics["env_steps"][0]
    evals = metrics["eval_return"]                            # [seeds, num_logs], NaN between
    evaluated = ~np.isnan(evals[0])
    steps, evals = steps[evaluated], evals[:, evaluated]
    final = evals[:, -1]
    results[label] = dict(
        final_eval_median=float(np.median(final)),
        final_eval_per_seed=[round(float(x), 1) for x in final],
        seeds_at_475=int(np.sum(final >= 475)), best_median=float(np.max(np.median(evals, 0))),
        loss_finite=bool(metrics["loss_finite"].all()), env_steps=int(steps[-1]),
        compile_s=round(compile_s, 1), run_s=round(run_s, 1), steps=steps.tolist(),
        median_curve=np.median(evals, 0).round(1).tolist(),
        q25=np.percentile(evals, 25, 0).round(1).tolist(),
        q75=np.percentile(evals, 75, 0).round(1).tolist(),
        config={k: v for k, v in dataclasses.asdict(config).items()
                if k in ("critic", "q_target", "q_baseline", "q_dueling", "normalize_advantages",
                         "learning_rate", "entropy_coef", "actor_lr_scale")})
    r = results[label]
    print(f"{label}: final greedy eval return median {r['final_eval_median']:.1f} over "
          f"{args.seeds} seeds at {r['env_steps']:,} env steps; seeds >= 475: "
          f"{r['seeds_at_475']}/{args.seeds}; best median {r['best_median']:.1f}; per seed "
          f"{r['final_eval_per_seed']}; losses finite: {r['loss_finite']}; compile "
          f"{compile_s:.1f} s, run {run_s:.1f} s", flush=True)

  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  suffix = "" if args.only is None else "_" + "".join(c for c in args.only if c.isalnum())
  with open(out / f"pg_actor_critic_q{suffix}.json", "w") as f:
    json.dump(dict(env="CartPole-v1", seeds=args.seeds, total_steps=args.total_steps,
                   results=results), f, indent=1)
  fig, ax = plt.subplots(figsize=(7.5, 5.0))
  for i, (label, r) in enumerate(results.items()):
    steps = np.asarray(r["steps"])
    ax.plot(steps, r["median_curve"], color=f"C{i}",
            label=f"{label}: final median {r['final_eval_median']:.0f}")
    ax.fill_between(steps, r["q25"], r["q75"], color=f"C{i}", alpha=0.15)
  ax.axhline(475, color="gray", ls="--", lw=1)
  ax.set_xlabel("environment steps")
  ax.set_ylabel("greedy evaluation return (median, 25-75%)")
  ax.set_title(f"Q critic vs V critic on CartPole-v1, {args.seeds} seeds per curve in one call")
  ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
  fig.tight_layout()
  fig.savefig(out / f"pg_actor_critic_q{suffix}.png", dpi=120)
  print(f"saved {out / f'pg_actor_critic_q{suffix}.png'}")


if __name__ == "__main__":
  main()
