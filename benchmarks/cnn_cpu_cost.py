"""How much slower the CNN agents are than the MLP ones on this machine (one seed, compile excluded).

DQN: the MinAtar CNN on Breakout-MinAtar against the default MLP on CartPole-v1 and on the same
Breakout observations; A2C: its CNN on Breakout-MinAtar against its MLP on CartPole-v1. One
compiled ``train(key)`` per case, timed on its second call (the first compiles), env steps per
second and the ratios printed. The README's sentence on the CNN agents on a CPU quotes this.

    .venv/bin/python benchmarks/cnn_cpu_cost.py [--dqn-steps 5000] [--a2c-steps 64000]
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402

import common  # noqa: E402
from jaxrl import envs  # noqa: E402
from jaxrl.agents import a2c, dqn  # noqa: E402


def rate(make_train, config, env_name: str) -> tuple[float, float]:
  """(env steps/s of the second call, seconds of the first call including compilation)."""
  env, params = envs.make(env_name)
  train = jax.jit(make_train(config, env, params))
  key = jax.random.PRNGKey(0)
  first, _ = common.time_once(lambda: train(key))
  best, _ = common.time_once(lambda: train(key))
  return config.total_steps / best, first


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--dqn-steps", type=int, default=5_000)
  parser.add_argument("--a2c-steps", type=int, default=64_000)
  args = parser.parse_args()
  common.print_machine("CNN agents against MLP agents on this machine (1 seed)")
  d = dict(total_steps=args.dqn_steps, learning_starts=1_000, log_every=args.dqn_steps // 2,
           eval_every=args.dqn_steps, eval_episodes=2)
  a = dict(total_steps=args.a2c_steps, log_every=args.a2c_steps // 10,
           eval_every=args.a2c_steps, eval_episodes=2)
  cases = [
      ("dqn", "mlp", "CartPole-v1", dqn.make_train, dqn.DQNConfig(**d)),
      ("dqn", "mlp", "Breakout-MinAtar", dqn.make_train, dqn.DQNConfig(**d)),
      ("dqn", "cnn", "Breakout-MinAtar", dqn.make_train, dqn.DQNConfig(network="cnn", **d)),
      ("a2c", "mlp", "CartPole-v1", a2c.make_train, a2c.A2CConfig(**a)),
      ("a2c", "cnn", "Breakout-MinAtar", a2c.make_train, a2c.A2CConfig(network="cnn", **a)),
  ]
  rates, rows = {}, []
  for agent, net, env_name, make_train, config in cases:
    r, first = rate(make_train, config, env_name)
    rates[agent, net, env_name] = r
    rows.append((agent, net, env_name, f"{r:,.0f}", f"{first:.1f}"))
    print(f"  {agent} {net} {env_name}: {r:,.0f} env steps/s", flush=True)
  print(common.table(("agent", "network", "env", "env steps/s", "first call s (compile)"), rows))
  cnn = rates["dqn", "cnn", "Breakout-MinAtar"]
  print(f"DQN CNN slower than DQN MLP on CartPole-v1: "
        f"{rates['dqn', 'mlp', 'CartPole-v1'] / cnn:.1f}x; "
        f"than the MLP on the same Breakout observations: "
        f"{rates['dqn', 'mlp', 'Breakout-MinAtar'] / cnn:.1f}x")
  print(f"A2C CNN slower than A2C MLP on CartPole-v1: "
        f"{rates['a2c', 'mlp', 'CartPole-v1'] / rates['a2c', 'cnn', 'Breakout-MinAtar']:.1f}x")


if __name__ == "__main__":
  main()
