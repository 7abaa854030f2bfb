"""The notes' variance argument, with numbers, and the learning curves of each estimator.

Part 1 (fixed policy). Train A2C briefly on CartPole-v1 to get a mid-level policy and its critic,
then FREEZE them and draw many independent batches: 8 environments reset at the start, 500 steps
each (= the time limit). For each batch compute the policy-gradient estimate exactly as REINFORCE
does (jaxrl.agents.reinforce.batch_weights and the masked policy-gradient loss):

    g = (1 / (E T)) sum_e sum_{t in M_e} grad log pi(a_t | s_t) * w_t

with M_e the FIRST episode of environment e's window (it always ends inside it: the window is the
time limit), divided by the fixed E T, and w_t = the total episode return (the notes' REINFORCE),
the reward-to-go, or the reward-to-go minus the learned V(s_t); and A2C's GAE(0.95) advantage over
EVERY step of the window (A2C bootstraps where the window cuts an episode). The three Monte Carlo
weights use the notes' gamma = 1, so all three are unbiased estimates of the same vector,
grad J / T; A2C's uses its gamma = 0.99 and is biased by the critic. (The critic was trained with
gamma = 0.99, so V is a valid but not a matched baseline for gamma = 1 returns.)

Reported per estimator: the total variance tr Cov[g] = sum_i Var[g_i] over batches, the squared
norm of the mean gradient, its debiased version and the standard error of the mean
(sqrt(tr Cov / B)). And, for pairs of estimators on the same batches, whether their means agree:
d_b = g_b - g'_b, the ratio ||mean d||^2 / (tr Cov[d] / B) (its expectation is 1 when E[d] = 0
and it grows with B when not; the weights are heavy-tailed, so it is noisy, mostly below 1) and a
sign-flip p-value for E[d] = 0.
The same pairs are also computed with the earlier, biased rule (every episode that FINISHED inside
the window, averaged over the counted steps; its scale differs, so compare it only with itself).

Part 2. Learning curves (greedy evaluation return, mean and spread over 8 seeds) of REINFORCE with
each weighting and of A2C, in one figure: experiments/out/pg_variance.png.

Usage: python experiments/pg_variance.py [--batches 2000] [--curves]   (about a minute on a CPU)
"""

import argparse
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs
from jaxrl import losses
from jaxrl import rollouts
from jaxrl import policies
from jaxrl import returns as R
from jaxrl.agents import a2c
from jaxrl.agents import reinforce
from jaxrl.envs import wrappers

ESTIMATORS = ("total", "reward_to_go", "rtg_minus_value", "a2c_gae")
MC = {"total": ("total", "none"), "reward_to_go": ("reward_to_go", "none"),
      "rtg_minus_value": ("reward_to_go", "value")}
PAIRS = (("total", "reward_to_go"), ("reward_to_go", "rtg_minus_value"),
         ("total", "rtg_minus_value"))


def fixed_policy(env, params, steps):
  config = a2c.A2CConfig(total_steps=steps, log_every=steps, eval_every=steps, eval_episodes=32)
  train = a2c.make_train(config, env, params)
  state, metrics = jax.jit(train)(jax.random.PRNGKey(0))
  return train.network, state.params, float(metrics["eval_return"][-1])


def make_estimates(network, env, env_params, num_envs=8, length=500, gamma=0.99, lam=0.95,
                   old_rule=False):
  env = wrappers.EpisodeStatistics(env)
  configs = {k: reinforce.resolve(reinforce.ReinforceConfig(
      num_envs=num_envs, rollout_length=length, returns=ret, baseline=base, discount=1.0),
      env_params) for k, (ret, base) in MC.items()}

  def rollout(key, params):
    k_reset, k_roll = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs),
                                                        env_params)

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
    end = traj["term"] | traj["trunc"]
    col = lambda f, *a: jax.vmap(f, in_axes=1, out_axes=1)(*a)  # noqa: E731
    # the notes' gamma = 1 for the Monte Carlo estimators
    zeros = jnp.zeros_like(traj["reward"])
    mc = rollouts.Trajectory(obs_t=traj["obs"], a_t=traj["action"], extras_t=(),
                             r_t=traj["reward"], terminated_t=traj["term"],
                             truncated_t=traj["trunc"], obs_tp1=traj["final"],
                             episode_return_t=zeros, episode_length_t=zeros.astype(jnp.int32))
    weights, masks = {}, {}
    for k, config in configs.items():
      w, mask, _ = reinforce.batch_weights(config, mc, v, v_final, jnp.float32(0), 1.0)
      weights[k], masks[k] = w, mask
    weights["a2c_gae"] = col(lambda *a: R.gae(*a, lam), traj["reward"], gamma * live, end, v,
                             v_final)
    masks["a2c_gae"] = jnp.ones_like(end)       # A2C uses every step (bootstrapping at cuts)

    def flat_grad(loss):
      g = jax.grad(loss)(params)
      # the actor's parameters only (the critic's get no gradient from these surrogates)
      return jnp.concatenate([x.ravel() for x in jax.tree.leaves(g)])

    def logits_of(p):
      return network.apply(p, traj["obs"])[0]

    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    out = {k: -flat_grad(lambda p, k=k: losses.policy_gradient_loss(
        flat(logits_of(p)), flat(traj["action"]), flat(weights[k] * masks[k])))
           for k in ESTIMATORS}
    out["counted_fraction"] = jnp.mean(masks["total"].astype(jnp.float32))
    if old_rule:   # the earlier rule: every finished episode, mean over the counted steps
      fin = col(R.finished_episode_mask, end).astype(jnp.float32)
      for k in MC:        # batch_weights' weights are defined at every step; only the mask differs

        def surrogate(p, w=weights[k]):
          logp = policies.categorical_log_prob(logits_of(p), traj["action"])
          return jnp.sum(logp * w * fin) / jnp.maximum(jnp.sum(fin), 1)

        out[f"old_{k}"] = flat_grad(surrogate)
    return out

  return estimates


def _stats(g):
  var = float(np.sum(np.var(g, axis=0, ddof=1)))
  mean_sq = float(np.sum(np.mean(g, axis=0) ** 2))
  # |mean|^2 over-estimates |E g|^2 by tr Cov / B; subtract it
  signal = max(mean_sq - var / g.shape[0], 0.0)
  return dict(total_variance=var, mean_grad_sq_norm=mean_sq, signal_sq_norm_debiased=signal,
              mean_standard_error=float(np.sqrt(var / g.shape[0])))


def _agreement(a, b, flips=2000, seed=0):
  """Do E[a] and E[b] agree? a, b: [B, P] estimates from the same batches."""
  d = a - b
  n = d.shape[0]
  mean_sq = float(np.sum(np.mean(d, axis=0) ** 2))
  expected = float(np.sum(np.var(d, axis=0, ddof=1))) / n     # E||mean d||^2 when E[d] = 0
  signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(flips, n))
  null = np.sum((signs @ d / n) ** 2, axis=1)
  return dict(mean_diff_sq_norm=mean_sq, expected_if_equal=expected,
              ratio=mean_sq / expected, sign_flip_p_value=float(np.mean(null >= mean_sq)))


def variance_table(batches, old_rule=True, chunk=10):
  env, env_params = envs.make("CartPole-v1")
  network, params, eval_return = fixed_policy(env, env_params, 40_000)
  est = make_estimates(network, env, env_params, old_rule=old_rule)
  run = jax.jit(lambda keys: jax.lax.map(lambda k: est(k, params), keys, batch_size=chunk))
  grads = run(jax.random.split(jax.random.PRNGKey(1), batches))
  grads = {k: np.asarray(v, np.float64) for k, v in grads.items()}
  table = {k: _stats(grads[k]) for k in ESTIMATORS}
  agree = {f"{a} vs {b}": _agreement(grads[a], grads[b]) for a, b in PAIRS}
  out = dict(policy_greedy_eval_return=eval_return, batches=batches, envs_per_batch=8,
             steps_per_env=500, counted_fraction=float(np.mean(grads["counted_fraction"])),
             estimators=table, agreement=agree)
  if old_rule:
    out["old_rule_estimators"] = {k: _stats(grads[f"old_{k}"]) for k in MC}
    out["old_rule_agreement"] = {f"{a} vs {b}": _agreement(grads[f"old_{a}"], grads[f"old_{b}"])
                                 for a, b in PAIRS}
  return out


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
  parser.add_argument("--batches", type=int, default=2000)
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
