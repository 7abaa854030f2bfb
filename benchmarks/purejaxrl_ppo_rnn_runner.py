"""PureJaxRL's recurrent PPO (``purejaxrl/ppo_rnn.py``), run from its own source and timed.

Not part of jaxrl and never imported by it: it runs under ``benchmarks/.venv-purejaxrl/bin/python``
(jax 0.4.13, flax 0.6.11, gymnax 0.0.6, ...; ``peers/purejaxrl/requirements-pinned.txt``) or
``benchmarks/.venv-purejaxrl-modern/bin/python`` (jax 0.10.2, flax 0.12.8, gymnax 0.0.9;
``requirements-modern.txt``), both created by ``ppo_rnn_throughput.ensure_purejaxrl_venv``. It
imports nothing from jaxrl.

PureJaxRL's code is ``benchmarks/peers/purejaxrl/{ppo_rnn.py, wrappers.py}``, byte-for-byte
copies of luchris429/purejaxrl at the commit in ``peers/purejaxrl/SOURCE.md``; this file checks
their git blob hashes before importing them and runs them unchanged. What it does around them:

- the config is the dict in ppo_rnn.py's ``if __name__ == "__main__":`` block, read from the
  file with ``ast`` (nothing retyped), with three keys overridden: ``TOTAL_TIMESTEPS`` and
  ``ENV_NAME`` when asked for (``--total-timesteps``, ``--env``), and ``DEBUG = False`` (the
  __main__ block's ``DEBUG = True`` prints every finished episode from inside the compiled
  loop through ``jax.debug.callback``; no timed peer prints);
- ``wrappers.py`` imports brax and navix at its top for wrappers ppo_rnn.py does not use
  (``BraxGymnaxWrapper``, ``NavixGymnaxWrapper``); where those packages are not installed
  (they are in neither venv), empty stand-in modules are registered under their names so that
  the import succeeds. Nothing that ppo_rnn.py calls touches them;
- in the modern venv only (``versions()["compat"]`` lists what was applied): flax's GRUCell
  gets the flax-0.6 call signature ppo_rnn.py uses (``_legacy_gru_api``), and flax's orthogonal
  initializer is made vmap-safe on jaxlib 0.10's CPU (``_sequential_orthogonal``); same
  equations, bitwise the same initial parameters;
- ``jax.jit(jax.vmap(make_train(config)))(keys)``, lowered and compiled ahead of time
  (``compile_s``), then timed call by call (``run_s``), each call on fresh keys.

env steps per seed are read from the run itself (LogWrapper's per-env ``timestep`` at the last
step x NUM_ENVS), i.e. NUM_UPDATES x NUM_STEPS x NUM_ENVS with
NUM_UPDATES = TOTAL_TIMESTEPS // NUM_STEPS // NUM_ENVS.

One shot (prints one JSON object)::

    benchmarks/.venv-purejaxrl/bin/python benchmarks/purejaxrl_ppo_rnn_runner.py \
        --seeds 32 [--total-timesteps 50000] [--env CartPole-v1] [--repeats 3]

``serve``: prints a JSON line (versions, config), then answers one JSON command per line of
stdin (``prepare``, ``run``, ``free``, ``quit``) with one JSON line, for a benchmark that
interleaves this peer's calls with jaxrl's.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import statistics
import sys
import time
import types
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_DIR = os.path.join(HERE, "peers", "purejaxrl")
PPO_RNN = os.path.join(PEER_DIR, "ppo_rnn.py")

PUREJAXRL_COMMIT = "31756b197773a52db763fdbe6d635e4b46522a73"
# git blob hashes (``git rev-parse <commit>:<path>``) of the upstream files copied verbatim.
BLOBS = {
    "ppo_rnn.py": "816dd43e829c584c1019c4741748b9eda3e91eb9",   # purejaxrl/ppo_rnn.py
    "wrappers.py": "09c520b1c876fbd675c1d798316d3901e1baedf9",  # purejaxrl/wrappers.py
}


def git_blob_hash(path: str) -> str:
  data = open(path, "rb").read()
  return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check_verbatim() -> None:
  for name, blob in BLOBS.items():
    got = git_blob_hash(os.path.join(PEER_DIR, name))
    if got != blob:
      raise RuntimeError(f"peers/purejaxrl/{name} is not PureJaxRL's file at "
                         f"{PUREJAXRL_COMMIT[:7]} "
                         f"(git blob {got}, expected {blob}); restore it, do not edit it")


def default_config() -> dict:
  """The config dict of ppo_rnn.py's ``if __name__ == "__main__":`` block, read from the file."""
  tree = ast.parse(open(PPO_RNN).read())
  for node in tree.body:
    if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
      for stmt in node.body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and getattr(stmt.targets[0], "id", None) == "config"):
          return ast.literal_eval(stmt.value)
  raise RuntimeError("no `config = {...}` in ppo_rnn.py's __main__ block")


def _stub_unused_imports() -> list[str]:
  """Registers empty modules for wrappers.py's brax/navix imports when they are not installed."""
  stubbed = []
  try:
    import brax.envs.wrappers.training  # noqa: F401
  except ImportError:
    for name in ("brax", "brax.envs", "brax.envs.wrappers", "brax.envs.wrappers.training"):
      sys.modules[name] = types.ModuleType(name)
    sys.modules["brax"].envs = sys.modules["brax.envs"]
    sys.modules["brax.envs"].wrappers = sys.modules["brax.envs.wrappers"]
    sys.modules["brax.envs.wrappers"].training = sys.modules["brax.envs.wrappers.training"]
    training = sys.modules["brax.envs.wrappers.training"]
    training.EpisodeWrapper = training.AutoResetWrapper = None
    stubbed.append("brax")
  try:
    import navix  # noqa: F401
  except ImportError:
    sys.modules["navix"] = types.ModuleType("navix")
    stubbed.append("navix")
  return stubbed


def _legacy_gru_api() -> list[str]:
  """Under flax >= 0.7 only (the ``--modern`` venv): gives ``flax.linen.GRUCell`` the API that
  ppo_rnn.py was written against (flax <= 0.6.11: ``GRUCell()`` takes its size from the carry,
  ``GRUCell.initialize_carry(rng, batch_dims, size)`` is static and returns zeros), as a thin
  module around flax's own GRUCell, whose equations and initializers are unchanged (the
  recurrent kernels' orthogonal() passed explicitly so that ``_sequential_orthogonal``'s
  vmap-safe version is used; six Dense:
  ir/iz/in with bias, hr/hz without, hn with bias; lecun_normal input kernels, orthogonal
  recurrent kernels, zero biases). ppo_rnn.py itself is not touched. Under the pinned flax 0.6.11
  this does nothing."""
  import flax.linen as nn
  new_cell = nn.GRUCell
  if "features" not in getattr(new_cell, "__dataclass_fields__", {}):
    return []

  class GRUCell(nn.Module):
    @nn.compact
    def __call__(self, carry, inputs):
      return new_cell(features=carry.shape[-1], name="cell",
                      recurrent_kernel_init=nn.initializers.orthogonal())(carry, inputs)

    @staticmethod
    def initialize_carry(rng, batch_dims, size, init_fn=nn.initializers.zeros_init()):
      return init_fn(rng, tuple(batch_dims) + (size,))

  nn.GRUCell = GRUCell
  return ["flax.linen.GRUCell: flax<=0.6.11 API over flax>=0.7's GRUCell"]


def _sequential_orthogonal() -> list[str]:
  """Under jaxlib >= 0.5 only (the ``--modern`` venv): makes flax's ``orthogonal`` initializer
  safe to ``vmap`` over seeds on CPU. jaxlib 0.10.x runs the batched QR that a vmapped orthogonal
  init becomes on XLA:CPU's intra-op pool while blocking a pool thread; on a 2-core machine two
  in flight deadlock it (the 32-seed ``jit(vmap(train))`` of ppo_rnn.py hung with the CPU idle,
  as jaxrl's A2C did; see ``jaxrl.networks.orthogonal``). The same fix as jaxrl's:
  ``jax.custom_batching.sequential_vmap`` around the initializer, bitwise the same parameters.
  Patched before ppo_rnn.py is imported (it does ``from flax.linen.initializers import
  orthogonal``); the GRU's recurrent kernel gets it through ``_legacy_gru_api``."""
  import jax
  import jaxlib
  if tuple(int(x) for x in jaxlib.__version__.split(".")[:2]) < (0, 5):
    return []
  import flax.linen as nn
  from flax.linen import initializers
  base_factory = initializers.orthogonal

  def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    base = base_factory(scale, column_axis=column_axis, dtype=dtype)

    def init(key, shape, dtype=None):
      one = (lambda k: base(k, shape)) if dtype is None else (lambda k: base(k, shape, dtype))
      return jax.custom_batching.sequential_vmap(one)(key)

    return init

  initializers.orthogonal = orthogonal
  nn.initializers.orthogonal = orthogonal
  return ["flax orthogonal init under jax.custom_batching.sequential_vmap (jaxlib 0.10 "
          "batched-QR deadlock on CPU; same values)"]


check_verbatim()
STUBBED = _stub_unused_imports()
COMPAT = _sequential_orthogonal()
COMPAT += _legacy_gru_api()
sys.path.insert(0, PEER_DIR)
_t_import = time.perf_counter()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import ppo_rnn  # noqa: E402  (PureJaxRL's file, unchanged)
IMPORT_S = time.perf_counter() - _t_import


def versions() -> dict:
  out = {}
  for name in ("jax", "jaxlib", "flax", "optax", "distrax", "tensorflow-probability", "gymnax",
               "chex", "numpy", "scipy", "ml_dtypes"):
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      out[name] = "not installed"
  out["python"] = sys.version.split()[0]
  out["backend"] = jax.default_backend()
  out["purejaxrl_commit"] = PUREJAXRL_COMMIT
  out["stubbed_unused_imports"] = STUBBED
  out["compat"] = COMPAT
  return out


def make_config(total_timesteps=None, env_name=None) -> dict:
  config = default_config()
  config["DEBUG"] = False
  if total_timesteps is not None:
    config["TOTAL_TIMESTEPS"] = total_timesteps
  if env_name is not None:
    config["ENV_NAME"] = env_name
  return config


def seed_keys(seeds: int, start: int):
  return jax.vmap(jax.random.PRNGKey)(jnp.arange(start, start + seeds))


class Server:
  def __init__(self):
    self.prepared = {}

  def prepare(self, seeds: int, total_timesteps=None, env_name=None) -> dict:
    config = make_config(total_timesteps, env_name)
    train = jax.jit(jax.vmap(ppo_rnn.make_train(config)))   # make_train adds NUM_UPDATES etc.
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(keys)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    self.prepared[(seeds, total_timesteps, env_name)] = (compiled, config)
    return dict(trace_lower_s=t1 - t0, compile_s=t2 - t1,
                config={k: v for k, v in config.items()})

  def run(self, seeds: int, rep: int, total_timesteps=None, env_name=None) -> dict:
    compiled, config = self.prepared[(seeds, total_timesteps, env_name)]
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    wall = time.perf_counter() - t0
    m = out["metric"]                                   # leaves [seeds, updates, steps, envs]
    steps = int(np.asarray(m["timestep"])[0, -1, -1, 0]) * config["NUM_ENVS"]
    done = np.asarray(m["returned_episode"])[:, -1]     # the last update's rollout
    ret = np.asarray(m["returned_episode_returns"])[:, -1]
    last = float(ret[done].mean()) if done.any() else float("nan")
    return dict(wall_s=wall, env_steps_per_seed=steps,
                last_update_episode_return_mean=last)

  def free(self, seeds: int, total_timesteps=None, env_name=None) -> dict:
    self.prepared.pop((seeds, total_timesteps, env_name), None)
    return {}

  def handle(self, cmd: dict) -> dict:
    name = cmd.pop("cmd")
    return getattr(self, name)(**cmd)


def serve() -> None:
  server = Server()
  print(json.dumps(dict(ready=True, versions=versions(), import_s=IMPORT_S,
                        default_config=default_config())), flush=True)
  for line in sys.stdin:
    line = line.strip()
    if not line:
      continue
    cmd = json.loads(line)
    if cmd.get("cmd") == "quit":
      break
    try:
      reply = dict(ok=True, **server.handle(cmd))
    except Exception as e:  # noqa: BLE001
      reply = dict(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps(reply), flush=True)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--seeds", type=int, default=1)
  ap.add_argument("--total-timesteps", type=int, default=None,
                  help="overrides TOTAL_TIMESTEPS (default: ppo_rnn.py's own, 5e5)")
  ap.add_argument("--env", default=None, help="overrides ENV_NAME (default: CartPole-v1)")
  ap.add_argument("--repeats", type=int, default=3)
  args = ap.parse_args()
  s = Server()
  prep = s.prepare(args.seeds, args.total_timesteps, args.env)
  runs = [s.run(args.seeds, rep, args.total_timesteps, args.env) for rep in range(args.repeats)]
  run_s = [r["wall_s"] for r in runs]
  env_steps = args.seeds * runs[-1]["env_steps_per_seed"]
  print(json.dumps(dict(
      seeds=args.seeds, env_steps=env_steps, env_steps_per_seed=runs[-1]["env_steps_per_seed"],
      compile_s=prep["compile_s"], trace_lower_s=prep["trace_lower_s"], run_s=run_s,
      steps_per_s=env_steps / statistics.median(run_s),
      last_update_episode_return_mean=[r["last_update_episode_return_mean"] for r in runs],
      config=prep["config"], versions=versions())))


if __name__ == "__main__":
  if len(sys.argv) >= 2 and sys.argv[1] == "serve":
    serve()
  else:
    main()
