"""sbx's (Stable-Baselines-Jax) SAC on gymnasium's Pendulum-v1, timed; run by
``sac_td3_throughput.py`` with its own interpreter (``benchmarks/.venv-sbx/bin/python``, created
by ``sac_td3_throughput.ensure_sbx_venv``: sbx-rl pulls stable-baselines3 and torch, whose pins
need not agree with jaxrl's). Not part of jaxrl and never imported by it.

sbx is the usual "JAX networks and updates, Python loop over a gymnasium environment" design:
every env step is a Python call into gymnasium's NumPy Pendulum plus one jitted policy call, and
every gradient step a jitted update. One seed, one env.

Settings: rejax's ``configs/gymnax/pendulum.yaml`` sac section, as the jaxrl and rejax SAC runs
of the benchmark use it: MLP 64x64 swish for actor and critics (2 critics), buffer 10,000,
learning_starts 256, batch 256, lr 0.01 (actor, critics and temperature), gamma 0.99, tau 0.02
(rejax's polyak 0.98), one gradient step per env step (``train_freq=1, gradient_steps=1``),
automatic temperature (sbx's ``ent_coef="auto"``, target entropy -1), no observation
normalisation. sbx's defaults that differ from rejax's and are left as they are: its actor's
``log_std_init``/mean clipping, and no evaluation at all (none is run here).

Timing: ``prepare`` runs a short warm-up model (``learning_starts`` + 50 steps) so that sbx's
jitted functions (class-level ``jax.jit``) are compiled; each ``run`` then times
``SAC(...).learn(total_timesteps)`` of a fresh model (construction excluded).

``serve``: prints a JSON line (versions), then answers one JSON command per line of stdin
(``prepare``, ``run``, ``quit``) with one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from importlib import metadata

SETTINGS = dict(buffer_size=10_000, learning_starts=256, batch_size=256, learning_rate=0.01,
                gamma=0.99, tau=0.02, train_freq=1, gradient_steps=1, ent_coef="auto")


def versions() -> dict:
  out = {}
  for name in ("sbx-rl", "stable_baselines3", "jax", "jaxlib", "flax", "optax", "gymnasium",
               "torch", "numpy"):
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      out[name] = "not installed"
  out["python"] = sys.version.split()[0]
  return out


def make_model(seed: int):
  import flax.linen as nn
  import gymnasium as gym
  from sbx import SAC

  env = gym.make("Pendulum-v1")
  return SAC("MlpPolicy", env, seed=seed, verbose=0,
             policy_kwargs=dict(net_arch=[64, 64], activation_fn=nn.swish), **SETTINGS)


class Server:
  def prepare(self, total_timesteps: int) -> dict:
    del total_timesteps
    t0 = time.perf_counter()
    make_model(seed=12345).learn(SETTINGS["learning_starts"] + 50)
    return dict(warmup_s=time.perf_counter() - t0)

  def run(self, total_timesteps: int, rep: int) -> dict:
    model = make_model(seed=1000 * (rep + 1))
    t0 = time.perf_counter()
    model.learn(total_timesteps)
    wall = time.perf_counter() - t0
    return dict(wall_s=wall, env_steps_per_seed=int(model.num_timesteps),
                updates_per_seed=int(model._n_updates))

  def handle(self, cmd: dict) -> dict:
    return getattr(self, cmd.pop("cmd"))(**cmd)


def serve() -> None:
  server = Server()
  print(json.dumps(dict(ready=True, versions=versions())), flush=True)
  for line in sys.stdin:
    line = line.strip()
    if not line:
      continue
    cmd = json.loads(line)
    if cmd.get("cmd") == "quit":
      break
    try:
      reply = dict(ok=True, **server.handle(cmd))
    except Exception as e:  # noqa: BLE001 - reported to the driver
      reply = dict(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps(reply), flush=True)


if __name__ == "__main__":
  if len(sys.argv) >= 2 and sys.argv[1] == "serve":
    serve()
  else:   # smoke test: python sbx_sac_runner.py [total_timesteps]
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    s = Server()
    print(versions())
    print(s.prepare(total))
    print(s.run(total, 0))
    print(s.run(total, 1))
