"""Policy-gradient training throughput on CartPole-v1: jaxrl A2C and REINFORCE vs rejax PPO.

One run, seeds vmapped: env steps/s of ``jax.jit(jax.vmap(train))(keys)`` at 1, 8, 32 and 128
seeds for

* jaxrl A2C (``jaxrl.agents.a2c``): num_envs 5, num_steps 100 (rejax PPO's numbers), GAE(0.95),
  MLP 64x64, otherwise A2CConfig defaults; ONE gradient step per 500-step rollout;
* jaxrl REINFORCE (``jaxrl.agents.reinforce``): reward-to-go, learned-value baseline, num_envs 5,
  rollout_length = the episode limit (500, its default: REINFORCE needs whole episodes, so not
  100); one gradient step per 2,500-step iteration;
* rejax 0.1.3 PPO (``rejax.get_algo("ppo")``, rejax's cartpole config: num_envs 5, num_steps 100,
  num_epochs 5, num_minibatches 5, lr 7.5e-4, max_grad_norm 0.5, gamma 0.99, gae_lambda 0.95,
  clip_eps 0.2, ent_coef 0.01, vf_coef 0.5, tanh 64x64), run in ``benchmarks/.venv-rejax``
  (created by ``dqn_throughput.ensure_rejax_venv`` if missing) through ``rejax_ppo_runner.py``;
  5 x 5 = 25 minibatch gradient steps per 500-step rollout;
* bare gymnax CartPole-v1 with the same 5 envs, random actions, in a ``lax.scan`` (jaxrl's gymnax
  1.x and rejax's 0.0.9).

All three train for the same total steps per point; evaluation is one greedy episode at the end
in all three. The libraries' runs are interleaved rep by rep and the median of ``--repeats`` is
reported. Compile time = AOT ``lower().compile()`` of each measured point (trace/lower excluded).

    .venv/bin/python benchmarks/pg_throughput.py [--points 1:100000,8:50000,32:25000,128:10000]
        [--call-timeout 600]

Hang guard. jaxlib 0.10.2's batched CPU LAPACK kernels can deadlock XLA:CPU's thread pool; the
vmapped orthogonal init of the actor-critic hit it until ``jaxrl.networks.orthogonal`` made it
sequential (see its docstring). Every
compile and measured call also runs under a watchdog (``--call-timeout`` s): past it the script
reports the stuck step, dumps the Python stacks, writes the partial results to ``--out-json``,
stops the rejax runner and exits with status 3, instead of waiting forever.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from dqn_throughput import REJAX_PY, bare_env_rate, ensure_rejax_venv, jaxrl_versions  # noqa: E402
from jaxrl.agents import a2c, reinforce  # noqa: E402
from jaxrl.envs import make  # noqa: E402

NUM_ENVS, NUM_STEPS = 5, 100
PPO_UPDATES_PER_ROLLOUT = 5 * 5


def log(*a):
  print(*a, file=sys.stderr, flush=True)


class Watchdog:
  """Aborts the whole benchmark when one guarded step (a compile or a timed call) hangs.

  A hung XLA:CPU computation cannot be cancelled from Python, so on expiry the watchdog names the
  step, dumps every thread's Python stack, runs ``on_abort`` (partial results, rejax runner) and
  ends the process with status 3. ``faulthandler`` is armed 60 s later as a backstop in case the
  timer thread cannot get the GIL.
  """

  EXIT_STATUS = 3

  def __init__(self, limit_s: float, on_abort=None):
    self.limit_s = limit_s
    self.on_abort = on_abort

  @contextlib.contextmanager
  def guard(self, what: str, limit_s: float | None = None):
    limit = self.limit_s if limit_s is None else limit_s
    timer = threading.Timer(limit, self._fire, args=(what, limit))
    timer.daemon = True
    timer.start()
    faulthandler.dump_traceback_later(limit + 60, exit=True)
    try:
      yield
    finally:
      timer.cancel()
      faulthandler.cancel_dump_traceback_later()

  def _fire(self, what: str, limit: float):
    log(f"WATCHDOG: '{what}' still running after {limit:.0f} s; aborting the benchmark "
        "(a hung XLA:CPU call cannot be cancelled). Python stacks:")
    try:
      faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
      if self.on_abort is not None:
        self.on_abort(what)
    except BaseException as e:  # noqa: BLE001 - we are exiting anyway
      log(f"WATCHDOG: on_abort failed: {e!r}")
    finally:
      sys.stderr.flush()
      os._exit(self.EXIT_STATUS)


class RejaxPPO:
  def __init__(self):
    self.proc = subprocess.Popen(
        [REJAX_PY, "-W", "ignore", os.path.join(HERE, "rejax_ppo_runner.py"), "serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, bufsize=1,
        cwd=HERE)
    self.hello = self._read()

  def _read(self):
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError("the rejax runner exited")
    return json.loads(line)

  def __call__(self, cmd, **kw):
    self.proc.stdin.write(json.dumps(dict(cmd=cmd, **kw)) + "\n")
    self.proc.stdin.flush()
    r = self._read()
    if not r.pop("ok"):
      raise RuntimeError(r["error"])
    return r

  def close(self):
    self.proc.stdin.write(json.dumps(dict(cmd="quit")) + "\n")
    self.proc.stdin.flush()
    self.proc.wait(timeout=30)

  def kill(self):
    if self.proc.poll() is None:
      self.proc.kill()


def seed_keys(seeds, start):
  return jax.vmap(jax.random.PRNGKey)(jnp.arange(start, start + seeds))


def jaxrl_config(algo: str, total: int):
  if algo == "a2c":
    return a2c.A2CConfig(total_steps=total, num_envs=NUM_ENVS, num_steps=NUM_STEPS,
                         hidden_sizes=(64, 64), log_every=total, eval_every=total,
                         eval_episodes=1)
  return reinforce.ReinforceConfig(total_steps=total, num_envs=NUM_ENVS, returns="reward_to_go",
                                   baseline="value", log_every=total, eval_every=total,
                                   eval_episodes=1)


class Jaxrl:
  def __init__(self, algo):
    self.algo = algo
    self.mod = a2c if algo == "a2c" else reinforce
    self.env, self.params = make("CartPole-v1")
    self.prepared = {}

  def prepare(self, seeds, total):
    train = jax.jit(jax.vmap(self.mod.make_train(jaxrl_config(self.algo, total), self.env,
                                                  self.params)))
    keys = seed_keys(seeds, 0)
    t0 = time.perf_counter()
    lowered = train.lower(keys)
    t1 = time.perf_counter()
    self.prepared[(seeds, total)] = lowered.compile()
    return dict(trace_lower_s=t1 - t0, compile_s=time.perf_counter() - t1)

  def run(self, seeds, total, rep):
    keys = seed_keys(seeds, 1000 * (rep + 1))
    t0 = time.perf_counter()
    state, metrics = jax.block_until_ready(self.prepared[(seeds, total)](keys))
    wall = time.perf_counter() - t0
    return dict(wall_s=wall, env_steps_per_seed=int(np.asarray(state.env_steps).reshape(-1)[0]),
                updates_per_seed=int(np.asarray(state.updates).reshape(-1)[0]),
                final_eval_return_mean=float(np.nanmean(np.asarray(metrics["eval_return"])[:, -1])))

  def free(self, seeds, total):
    self.prepared.pop((seeds, total), None)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--points", default="1:100000,8:50000,32:25000,128:10000")
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--call-timeout", type=float, default=600.0,
                  help="seconds one compile or timed call may take before the watchdog aborts "
                       "the benchmark (exit status 3)")
  ap.add_argument("--out-md")
  ap.add_argument("--out-json")
  args = ap.parse_args()
  t_start = time.perf_counter()
  points = [tuple(int(x) for x in p.split(":")) for p in args.points.split(",")]
  workarounds = []
  machine = common.machine_info()
  load_before = machine["load average"]
  ensure_rejax_venv()
  state = dict(res=None, rejax=None)

  def on_abort(what):
    res = state["res"]
    if res is not None:
      res["aborted"] = f"watchdog: {what} exceeded {args.call_timeout:.0f} s"
      res["wall_s"] = time.perf_counter() - t_start
      done = [(q["seeds"], q["total_steps"], q.get("steps_per_s")) for q in res["points"]]
      log(f"WATCHDOG: completed points (seeds, steps, steps/s): {done}")
      if args.out_json:
        json.dump(res, open(args.out_json, "w"), indent=1, default=str)
        log(f"WATCHDOG: partial results written to {args.out_json}")
    if state["rejax"] is not None:
      state["rejax"].kill()

  dog = Watchdog(args.call_timeout, on_abort)
  with dog.guard("starting the rejax runner"):
    rejax = state["rejax"] = RejaxPPO()
  sides = {"a2c": Jaxrl("a2c"), "reinforce": Jaxrl("reinforce")}
  res = state["res"] = dict(
      command="python " + " ".join(sys.argv), machine=machine, repeats=args.repeats,
      jaxrl_versions=jaxrl_versions(), rejax_versions=rejax.hello["versions"],
      call_timeout_s=args.call_timeout, workarounds=workarounds, points=[])

  bare_steps = 200_000 // NUM_ENVS
  with dog.guard("bare env (jaxrl)"):
    bare_jaxrl = bare_env_rate(NUM_ENVS, bare_steps)
  with dog.guard("bare env (rejax)"):
    bare_rejax = rejax("bare_env", num_envs=NUM_ENVS, steps=bare_steps)
  res["bare_env"] = dict(jaxrl=bare_jaxrl, rejax=bare_rejax)
  log("bare env:", {k: round(v["steps_per_s"]) for k, v in res["bare_env"].items()})

  for seeds, total in points:
    p = dict(seeds=seeds, total_steps=total, compile={}, runs={"ppo": [], "a2c": [], "reinforce": []})
    where = f"seeds={seeds} T={total}"
    with dog.guard(f"{where}: compile ppo"):
      p["compile"]["ppo"] = rejax("prepare", seeds=seeds, total_timesteps=total)
    for name, side in sides.items():
      with dog.guard(f"{where}: compile {name}"):
        p["compile"][name] = side.prepare(seeds, total)
    order = ["ppo", "a2c", "reinforce"]
    for rep in range(args.repeats):
      for name in (order if rep % 2 == 0 else order[::-1]):
        with dog.guard(f"{where}: run {name} rep {rep}"):
          if name == "ppo":
            r = rejax("run", seeds=seeds, total_timesteps=total, rep=rep)
          else:
            r = sides[name].run(seeds, total, rep)
        p["runs"][name].append(r)
    p["steps_per_s"] = {}
    for name, runs in p["runs"].items():
      med = statistics.median(r["wall_s"] for r in runs)
      p["steps_per_s"][name] = seeds * runs[-1]["env_steps_per_seed"] / med
    with dog.guard(f"{where}: free"):
      rejax("free", seeds=seeds, total_timesteps=total)
    for side in sides.values():
      side.free(seeds, total)
    log(f"{where}: " + ", ".join(f"{k} {v:,.0f}" for k, v in p["steps_per_s"].items()))
    res["points"].append(p)
  with dog.guard("closing the rejax runner", 60):
    rejax.close()
  res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  res["load_before"] = load_before
  res["wall_s"] = time.perf_counter() - t_start
  report = build_report(res)
  print(report, flush=True)
  if args.out_md:
    open(args.out_md, "w").write(report + "\n")
  if args.out_json:
    json.dump(res, open(args.out_json, "w"), indent=1, default=str)


def k(x):
  return f"{x / 1e3:,.0f}k"


def build_report(res):
  L = []
  mi, jv, rv = res["machine"], res["jaxrl_versions"], res["rejax_versions"]
  L.append("## Policy-gradient training throughput: jaxrl A2C / REINFORCE vs rejax PPO (CartPole-v1)\n")
  L.append(f"Command: `{res['command']}`  \nDate: {mi['date']}; machine: {mi['cpu']}, "
           f"{mi['cores']} cores, {mi['memory']}, JAX backend {mi['jax backend']}; load average "
           f"{res['load_before']} before, {res['load_after']} after; whole benchmark "
           f"{res['wall_s'] / 60:.1f} min.  \n"
           f"jaxrl venv: python {jv['python']}, jax {jv['jax']}, jaxlib {jv['jaxlib']}, flax "
           f"{jv['flax']}, optax {jv['optax']}, gymnax {jv['gymnax']}. rejax venv: rejax "
           f"{rv['rejax']}, jax {rv['jax']}, jaxlib {rv['jaxlib']}, flax {rv['flax']}, optax "
           f"{rv['optax']}, gymnax {rv['gymnax']}.\n")
  b = res["bare_env"]
  L.append(f"Bare gymnax CartPole-v1, {NUM_ENVS} envs, random actions, `lax.scan`: "
           f"{k(b['jaxrl']['steps_per_s'])} steps/s (gymnax {jv['gymnax']}), "
           f"{k(b['rejax']['steps_per_s'])} steps/s (gymnax {rv['gymnax']}).\n")
  if res.get("workarounds"):
    L.append("Workarounds applied (jaxrl side only): " + "; ".join(res["workarounds"]) + ".\n")
  L.append(f"Steps/s = seeds x env steps per seed / wall time of one `jit(vmap(train))(keys)` call, "
           f"median of {res['repeats']} interleaved runs; same total steps per seed for all three. "
           f"Compile = AOT `lower().compile()` (s).\n")
  L.append("| seeds | steps/seed | rejax PPO steps/s | A2C steps/s | REINFORCE steps/s | A2C / PPO "
           "| REINFORCE / PPO | compile PPO / A2C / REINFORCE (s) |")
  L.append("|---:|---:|---:|---:|---:|---:|---:|---|")
  for p in res["points"]:
    s = p["steps_per_s"]
    c = p["compile"]
    L.append(f"| {p['seeds']} | {p['total_steps']:,} | {k(s['ppo'])} | {k(s['a2c'])} | "
             f"{k(s['reinforce'])} | {s['a2c'] / s['ppo']:.2f}x | {s['reinforce'] / s['ppo']:.2f}x | "
             f"{c['ppo']['compile_s']:.1f} / {c['a2c']['compile_s']:.1f} / "
             f"{c['reinforce']['compile_s']:.1f} |")
  L.append("")
  p0 = res["points"][0]
  ru = p0["runs"]
  T = p0["total_steps"]
  upd = {"ppo": ru["ppo"][-1]["actor_updates_per_seed"], "a2c": ru["a2c"][-1]["updates_per_seed"],
         "reinforce": ru["reinforce"][-1]["updates_per_seed"]}
  L.append(f"Gradient steps per env step (at {T:,} steps/seed): rejax PPO "
           f"{upd['ppo'] / T:.4f} ({upd['ppo']} minibatch steps of 100 transitions, actor and "
           f"critic each), A2C {upd['a2c'] / T:.4f} ({upd['a2c']} steps of 500 transitions), "
           f"REINFORCE {upd['reinforce'] / T:.4f} ({upd['reinforce']} steps of 2,500 transitions). "
           f"PPO does {PPO_UPDATES_PER_ROLLOUT}x A2C's gradient steps per rollout, each on 1/5 the "
           f"batch, i.e. 5x the per-sample gradient work; the ratios are NOT a like-for-like "
           f"algorithm comparison.\n")
  by = {p["seeds"]: p for p in res["points"]}
  L.append("Targets (A2C >= 1.5x rejax PPO's steps/s):\n")
  for s in (1, 32):
    if s in by:
      r = by[s]["steps_per_s"]["a2c"] / by[s]["steps_per_s"]["ppo"]
      L.append(f"- {s} seed{'s' if s > 1 else ''}: {r:.2f}x -> **{'met' if r >= 1.5 else 'missed'}**")
  L.append("")
  return "\n".join(L)


if __name__ == "__main__":
  main()
