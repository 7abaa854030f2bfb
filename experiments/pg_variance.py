"""The notes' variance argument, with numbers, and the learning curves of each estimator.

Part 1 (fixed policy). Train A2C briefly on CartPole-v1 to get a mid-level policy and its critic,
then FREEZE them and draw many independent batches (8 environments x 500 steps, reset at the start,
steps of unfinished episodes masked out). For each batch compute the policy-gradient estimate

    g = (1 / |M|) sum_{t in M} grad log pi(a_t | s_t) * w_t

with w_t = the total episode return (the notes' REINFORCE), the reward-to-go, the reward-to-go minus
the learned V(s_t), and A2C's GAE(0.95) advantage. Reported: the total variance
tr Cov[g] = sum_i Var[g_i] over batches, the squared norm of the mean gradient, and their ratio.
(The three Monte Carlo weights use the notes' gamma = 1, so all three are unbiased estimates of the
same gradient; A2C's advantage uses its gamma = 0.99 and is biased by the critic. The critic was
trained with gamma = 0.99, so V is a valid but not a matched baseline for gamma = 1 returns.)

Part 2. Learning curves (greedy evaluation return, mean and spread over 8 seeds) of REINFORCE with
each weighting and of A2C, in one figure: experiments/out/pg_variance.png.

Usage: python experiments/pg_variance.py [--batches 200] [--curves]
"""

import argparse
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs
from jaxrl import policies
from jaxrl import returns as R
from jaxrl.agents import a2c
from jaxrl.agents import reinforce
from jaxrl.envs import wrappers

ESTIMATORS = ("total", "reward_to_go", "rtg_minus_value", "a2c_gae")


def fixed_policy(env, params, steps):
  config = a2c.A2CConfig(total_steps=steps, log_every=steps, eval_every=steps, eval_episodes=32)
  train = a2c.make_train(config, env, params)
  state, metrics = jax.jit(train)(jax.random.PRNGKey(0))
  return train.network, state.params, float(metrics["eval_return"][-1])


def make_estimates(network, env, env_params, num_envs=8, length=500, gamma=0.99, lam=0.95):
  env = wrappers.EpisodeStatistics(env)

  def rollout(key, params):
    k_reset, k_roll = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs), env_params)

    def step(carry, k):
      obs, state = carry
      k_a, k_s = jax.random.split(k)
      logits, _ = network.apply(params, obs)
      a = policies.categorical_sample(k_a, logits)
      nobs, state, r, term, trunc, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
          jax.random.split(k_s, num_envs), state, a, env_params)
      return (nobs, state), dict(obs=obs, action=a, reward=r.astype(jnp.float32), term=term,
                                 trunc=trunc & ~term, final=info["final_observation"])

    _, traj = jax.lax.scan(step, (obs, state), jax.random.split(k_roll, length))
    return traj

  def estimates(key, params):
    traj = rollout(key, params)
    _, v = network.apply(params, traj["obs"])
    _, v_final = network.apply(params, traj["final"])
    live = 1.0 - traj["term"].astype(jnp.float32)
    d, d1 = gamma * live, live     # A2C's discount; the notes' gamma = 1 for the MC estimators
    end = traj["term"] | traj["trunc"]
    col = lambda f, *a: jax.vmap(f, in_axes=1, out_axes=1)(*a)  # noqa: E731
    mask = col(R.finished_episode_mask, end).astype(jnp.float32)
    rtg = col(R.discounted_returns, traj["reward"], d1, end)
    weights = dict(
        total=col(R.episode_total_returns, traj["reward"], d1, end),
        reward_to_go=rtg,
        rtg_minus_value=rtg - v,
        a2c_gae=col(lambda *a: R.gae(*a, lam), traj["reward"], d, end, v, v_final))

    def grad_for(w):
      def surrogate(p):
        logits, _ = network.apply(p, traj["obs"])
        logp = policies.categorical_log_prob(logits, traj["action"])
        return jnp.sum(logp * jax.lax.stop_gradient(w) * mask) / jnp.maximum(jnp.sum(mask), 1)
      g = jax.grad(surrogate)(params)
      # the actor's parameters only (the critic's get no gradient from this surrogate)
      return jnp.concatenate([x.ravel() for x in jax.tree.leaves(g)])

    return {k: grad_for(w) for k, w in weights.items()}

  return estimates


def variance_table(batches):
  env, env_params = envs.make("CartPole-v1")
  network, params, eval_return = fixed_policy(env, env_params, 40_000)
  est = jax.jit(jax.vmap(make_estimates(network, env, env_params), in_axes=(0, None)))
  grads = est(jax.random.split(jax.random.PRNGKey(1), batches), params)
  table = {}
  for k in ESTIMATORS:
    g = np.asarray(grads[k], np.float64)
    var = float(np.sum(np.var(g, axis=0, ddof=1)))
    mean_sq = float(np.sum(np.mean(g, axis=0) ** 2))
    # |mean|^2 over-estimates |E g|^2 by tr Cov / B; subtract it
    signal = max(mean_sq - var / g.shape[0], 0.0)
    table[k] = dict(total_variance=var, mean_grad_sq_norm=mean_sq, signal_sq_norm_debiased=signal)
  return dict(policy_greedy_eval_return=eval_return, batches=batches, envs_per_batch=8,
              steps_per_env=500, estimators=table)


def curves(seeds=8):
  env, env_params = envs.make("CartPole-v1")
  out = {}
  base = reinforce.ReinforceConfig(total_steps=1_000_000, num_envs=8, log_every=20_000,
                                   eval_every=20_000)
  runs = {
      "REINFORCE total return": (reinforce, dataclasses.replace(base, returns="total", baseline="none")),
      "REINFORCE reward-to-go": (reinforce, dataclasses.replace(base, baseline="none")),
      "REINFORCE rtg - running mean": (reinforce, dataclasses.replace(base, baseline="mean")),
      "REINFORCE rtg - V(s)": (reinforce, dataclasses.replace(base, baseline="value")),
      "A2C (GAE 0.95)": (a2c, a2c.A2CConfig(total_steps=1_000_000, anneal_lr=True, log_every=20_000,
                                            eval_every=20_000)),
  }
  for name, (mod, config) in runs.items():
    train = jax.jit(jax.vmap(mod.make_train(config, env, env_params)))
    _, m = train(jax.random.split(jax.random.PRNGKey(0), seeds))
    out[name] = dict(env_steps=np.asarray(m["env_steps"][0]).tolist(),
                     eval_return=np.asarray(m["eval_return"]).tolist())
    print(name, "final median", float(np.median(np.asarray(m["eval_return"])[:, -1])), flush=True)
  return out


def plot(curve_data, table, path):
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
  for name, d in curve_data.items():
    x = np.asarray(d["env_steps"])
    y = np.asarray(d["eval_return"])
    mean = y.mean(0)
    axes[0].plot(x, mean, label=name)
    axes[0].fill_between(x, np.percentile(y, 25, 0), np.percentile(y, 75, 0), alpha=0.2)
  axes[0].set(xlabel="environment steps", ylabel="greedy evaluation return (mean, IQR band)",
              title="CartPole-v1, 8 seeds")
  axes[0].legend(fontsize=8)
  if table is not None:
    names = list(table["estimators"])
    vals = [table["estimators"][k]["total_variance"] for k in names]
    axes[1].bar(names, vals)
    axes[1].set_yscale("log")
    axes[1].set(ylabel="tr Cov[gradient estimate]",
                title=f"variance at a fixed policy ({table['batches']} batches)")
    axes[1].tick_params(axis="x", rotation=15)
  fig.tight_layout()
  fig.savefig(path, dpi=120)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batches", type=int, default=200)
  parser.add_argument("--curves", action="store_true")
  args = parser.parse_args()
  table = variance_table(args.batches)
  print(json.dumps(table, indent=1), flush=True)
  with open("experiments/out/pg_variance.json", "w") as f:
    json.dump(table, f, indent=1)
  if args.curves:
    data = curves()
    with open("experiments/out/pg_curves.json", "w") as f:
      json.dump(data, f)
    plot(data, table, "experiments/out/pg_variance.png")


if __name__ == "__main__":
  main()
