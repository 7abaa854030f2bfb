"""Diagnostic for the navix adapter overhead (BENCHMARKS.md, "Adapter overhead"): navix's own
step, the adapter's composition of navix's pieces (where / cond / pre-transition key), and the
adapter's env.step with and without the per-env key split, in one process with typed keys.
The where composition is the one the adapter used until 2026-12-06: on two free threads XLA:CPU
ran it at about 0.73x navix's rate in adapter_overhead_navix.py's loop (and faster here, with
the action keys pre-split); the cond composition, the adapter's now, ran at 1.4-2.2x there.

    .venv/bin/python benchmarks/navix_step_variants.py
"""
import time, statistics, jax, jax.numpy as jnp, navix
from navix import StepType
name, N, T = "Navix-Empty-8x8-v0", 256, 1000
raw = navix.make(name, max_steps=100)
nA = len(raw.action_set)

def prog(step_fn):
  @jax.jit
  def run(key):
    ts = jax.vmap(raw.reset)(jax.random.split(key, N))
    def body(c, k):
      ts, tot = c
      a = jax.random.randint(k, (N,), 0, nA)
      ts, r = jax.vmap(step_fn)(ts, a)
      return (ts, tot + r.sum()), None
    (ts, tot), _ = jax.lax.scan(body, (ts, jnp.float32(0)), jax.random.split(key, T))
    return ts.observation, tot
  return run

def raw_step(ts, a):
  ts = raw.step(ts, a); return ts, ts.reward
def adapter_where(ts, a):
  after = raw._step(ts, a)
  fresh = raw.reset(after.state.key, ts.state.cache)
  done = after.step_type > 0
  new = jax.tree.map(lambda x, y: jnp.where(done, x, y), fresh, after)
  return new, after.reward
def adapter_cond(ts, a):
  after = raw._step(ts, a)
  done = after.step_type > 0
  new = jax.lax.cond(done, lambda t: raw.reset(t.state.key, ts.state.cache), lambda t: t, after)
  return new, after.reward
def adapter_where_prekey(ts, a):
  after = raw._step(ts, a)
  fresh = raw.reset(ts.state.key, ts.state.cache)
  done = after.step_type > 0
  new = jax.tree.map(lambda x, y: jnp.where(done, x, y), fresh, after)
  return new, after.reward
progs = {k: prog(f) for k, f in [("raw", raw_step), ("where", adapter_where), ("cond", adapter_cond), ("where_prekey", adapter_where_prekey)]}
key = jax.random.key(0)
for p in progs.values(): jax.block_until_ready(p(key))
times = {k: [] for k in progs}
for _ in range(5):
  for k, p in progs.items():
    t = time.perf_counter(); jax.block_until_ready(p(key)); times[k].append(time.perf_counter() - t)
for k, v in times.items(): print(k, f"{N*T/statistics.median(v):,.0f}")
from jaxrl import envs
env, params = envs.make(f"navix:{name}")
def prog2(split):
  @jax.jit
  def run(key):
    obs, st = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, N), params)
    def body(c, k):
      st, tot = c
      a = jax.random.randint(k, (N,), 0, nA)
      ks = jax.random.split(k, N) if split else jnp.broadcast_to(k, (N,) + k.shape)
      obs, st, r, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(ks, st, a, params)
      return (st, tot + r.sum()), None
    (st, tot), _ = jax.lax.scan(body, (st, jnp.float32(0)), jax.random.split(key, T))
    return st.observation, tot
  return run
p2 = {"adapter_split": prog2(True), "adapter_nosplit": prog2(False), "raw": progs["raw"]}
for p in p2.values(): jax.block_until_ready(p(key))
times = {k: [] for k in p2}
for _ in range(5):
  for k, p in p2.items():
    t = time.perf_counter(); jax.block_until_ready(p(key)); times[k].append(time.perf_counter() - t)
for k, v in times.items(): print(k, f"{N*T/statistics.median(v):,.0f}")
