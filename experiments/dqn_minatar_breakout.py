"""DQN with a convolutional Q-network on MinAtar Breakout (course notes, "Deep Q-Learning").

The notes' Atari agent reads the screen with a CNN whose input is the last four frames and whose
output is one Q-value per action. MinAtar (Young & Tian, 2019) is a 10x10 miniature of five Atari
games; gymnax's ``Breakout-MinAtar`` gives observations ``[10, 10, 4]`` (paddle, ball, ball trail,
bricks) and 3 actions (stay, left, right), reward +1 per brick, episodes of at most 1000 steps.
The trail channel already shows where the ball came from, which is what the notes' frame stack is
for, so by default no frames are stacked; ``--frame-stack 4`` wraps the environment in
``jaxrl.envs.FrameStack`` (observations ``[10, 10, 16]``) to follow the notes literally; on
this 2-core CPU that makes each update about 3x slower (16 input channels instead of 4).

Network ``"cnn"``: MinAtar's (conv 16 3x3 -> relu -> dense 128 -> relu -> dense 3). DQN with a
hard target copy every 500 updates, double DQN, Huber loss, Adam 1e-3, batch 64, 100k replay,
16 environments with one update per 16 environment steps (this budget is compute-bound on CPU:
more updates per step learn more per step but fewer steps fit), epsilon 1 -> 0.05 over the first
quarter of the run. All seeds run in one ``jax.jit(jax.vmap(train))`` call; a uniformly random
policy is evaluated as the baseline.

Usage: python experiments/dqn_minatar_breakout.py [--out experiments/out] [--steps 256000]
       [--seeds 2] [--frame-stack 1] [--full]   (--full: 1.6M steps, 2 seeds)
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dqn_common import band, banner, fmt_seeds, last_mean, load_note, run, seed_keys  # noqa: E402
from jaxrl.agents.dqn import DQNConfig, make_train  # noqa: E402
from jaxrl.envs import FrameStack, make  # noqa: E402

NUM_ENVS = 16
NUM_LOGS = 20


def random_policy_return(env, params, key, episodes=64, max_steps=1000):
  """Mean return of uniformly random actions over ``episodes`` episodes (first episode each)."""
  k_reset, k_run = jax.random.split(key)
  obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, episodes), params)

  def step(carry, k):
    state, total, done = carry
    k_act, k_env = jax.random.split(k)
    actions = jax.random.randint(k_act, (episodes,), 0, env.num_actions)
    _, state, reward, term, trunc, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
        jax.random.split(k_env, episodes), state, actions, params)
    return (state, total + jnp.where(done, 0.0, reward), done | term | trunc), None

  (_, total, _), _ = jax.lax.scan(step, (state, jnp.zeros(episodes), jnp.zeros(episodes, bool)),
                                  jax.random.split(k_run, max_steps))
  return float(jnp.mean(total)), float(jnp.std(total))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
  parser.add_argument("--steps", type=int, default=256_000)
  parser.add_argument("--seeds", type=int, default=2)
  parser.add_argument("--frame-stack", type=int, default=1)
  parser.add_argument("--full", action="store_true", help="1.6M steps")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  if args.full:
    args.steps = 1_600_000
  os.makedirs(args.out, exist_ok=True)
  t_start = time.perf_counter()
  problems = []

  env, params = make("Breakout-MinAtar")
  if args.frame_stack > 1:
    env = FrameStack(env, args.frame_stack)
  log_every = args.steps // NUM_LOGS
  log_every -= log_every % NUM_ENVS
  steps = log_every * NUM_LOGS
  config = DQNConfig(
      total_steps=steps, num_envs=NUM_ENVS, network="cnn", buffer_size=100_000, batch_size=64,
      learning_starts=5_000, updates_per_step=1.0, target_update="hard",
      target_update_period=500, double_dqn=True, loss="huber", max_grad_norm=10.0,
      learning_rate=1e-3, discount=0.99, epsilon_schedule="linear", epsilon_start=1.0,
      epsilon_end=0.05, epsilon_decay_steps=steps // 4, log_every=log_every,
      eval_every=log_every, eval_episodes=8, eval_max_steps=1000)
  obs_shape = tuple(env.observation_space(params).shape)
  print(f"Breakout-MinAtar, observations {obs_shape} (frame stack {args.frame_stack}), "
        f"{env.num_actions} actions; {steps:,} env steps x {args.seeds} seeds, {NUM_ENVS} envs, "
        f"1 update of {config.batch_size} per {NUM_ENVS} env steps "
        f"({steps // NUM_ENVS:,} updates per seed), lr {config.learning_rate:g}")

  rand_mean, rand_std = random_policy_return(env, params, jax.random.key(args.seed + 100))
  print(f"uniformly random policy: return {rand_mean:.2f} +- {rand_std:.2f} (64 episodes)")

  _, m, t_c, t_r = run(make_train(config, env, params), seed_keys(args.seed, args.seeds))
  total_sps = args.seeds * steps / t_r
  print(f"compile {t_c:.1f} s, run {t_r:.1f} s: {total_sps:,.0f} env steps/s over the {args.seeds} "
        f"seeds together ({total_sps / args.seeds:,.0f} per seed), "
        f"{args.seeds * int(m['updates'][0, -1]) / t_r:,.0f} updates/s ({jax.devices()[0].platform})")

  x = m["env_steps"][0]
  print(f"\n{'env steps':>10} {'epsilon':>8} {'greedy eval return':>19} {'train return':>13} "
        f"{'q_mean':>7}")
  for j in range(0, len(x), 2):
    print(f"{x[j]:>10,} {m['epsilon'][0, j]:>8.3f} {np.nanmean(m['eval_return'][:, j]):>19.2f} "
          f"{np.nanmean(m['episode_return'][:, j]):>13.2f} {np.nanmean(m['q_mean'][:, j]):>7.2f}")
  final_eval = last_mean(m["eval_return"], 0.15)
  best_eval = np.nanmax(m["eval_return"], axis=1)
  final_train = last_mean(m["episode_return"], 0.15)
  print(f"\nReturn reached (mean of the last 3 evaluations, 8 greedy episodes each): per seed "
        f"{fmt_seeds(final_eval, '{:.1f}')}, best single evaluation {fmt_seeds(best_eval, '{:.1f}')}; "
        f"epsilon-greedy training episodes at the end {fmt_seeds(final_train, '{:.1f}')}; random "
        f"policy {rand_mean:.2f}.")
  per_seed_sps = total_sps / args.seeds
  print(f"A longer run: MinAtar's reference DQN runs are 5M steps (Young & Tian, 2019); at "
        f"{per_seed_sps:,.0f} steps/s per seed that is {5e6 / per_seed_sps / 60:.0f} min per seed "
        f"on this CPU (--full runs 1.6M steps), or a GPU.")
  if not np.all(m["loss_finite"][:, -1]):
    problems.append("a loss became non-finite")
  if not np.mean(final_eval) > 2 * max(rand_mean, 0.5):
    problems.append(f"DQN did NOT clearly beat the random policy ({np.mean(final_eval):.2f} vs "
                    f"{rand_mean:.2f})")

  fig, axes = plt.subplots(1, 3, figsize=(17, 4.6), layout="constrained")
  band(axes[0], x / 1e3, m["eval_return"], "greedy evaluation (8 episodes)", "tab:blue")
  band(axes[0], x / 1e3, m["episode_return"], "epsilon-greedy training episodes", "tab:orange")
  axes[0].axhline(rand_mean, color="k", ls=":", lw=1, label=f"random policy ({rand_mean:.2f})")
  axes[0].set_ylabel("return (bricks broken)")
  axes[0].legend(fontsize=8, loc="upper left")
  axes[0].set_title("Learning curve", fontsize=10)
  band(axes[1], x / 1e3, m["q_mean"], "mean Q of sampled minibatches", "tab:green")
  ax2 = axes[1].twinx()
  ax2.plot(x / 1e3, m["epsilon"][0], color="0.5", ls="--", lw=1, label="epsilon (right axis)")
  ax2.set_ylim(0, 1.05)
  axes[1].legend(fontsize=8, loc="upper left")
  ax2.legend(fontsize=8, loc="center right")
  axes[1].set_title("Q-values and exploration", fontsize=10)
  band(axes[2], x / 1e3, m["loss"], "TD loss (Huber)", "tab:red")
  axes[2].set_yscale("log")
  axes[2].set_title("TD loss (log)", fontsize=10)
  for ax in axes:
    ax.set_xlabel("env steps (thousands)")
    ax.grid(alpha=0.3)
  fig.suptitle(f"DQN, MinAtar CNN, Breakout-MinAtar: {steps:,} steps, {args.seeds} seeds "
               f"(line: mean, band: min-max); {total_sps / args.seeds:,.0f} steps/s per seed on "
               f"{jax.devices()[0].platform}", fontsize=11)
  suffix = "" if args.frame_stack == 1 else f"_stack{args.frame_stack}"
  path = os.path.join(args.out, f"dqn_minatar_breakout{suffix}.png")
  fig.savefig(path, dpi=110)
  plt.close(fig)
  print(f"\nwrote {path}\ntotal {time.perf_counter() - t_start:.1f} s ({load_note()})")
  banner(problems)


if __name__ == "__main__":
  main()
