"""``count_compilations`` counts a program loaded from jax's persistent cache as well as one XLA
built: either way the program had to be obtained again, which is what a user with
``JAX_COMPILATION_CACHE_DIR`` set needs the counter to say."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from jaxrl.training import count_compilations

    def f(x):
      return jnp.sin(x) * 3.0 + jnp.cumsum(x)

    x = jnp.arange(7.0)
    with count_compilations() as first:
      jax.jit(f)(x).block_until_ready()
    with count_compilations() as reused:
      jax.jit(f)(x).block_until_ready()          # the same function object: in-memory cache
    jax.clear_caches()
    with count_compilations() as loaded:
      jax.jit(f)(x).block_until_ready()          # a re-trace: the disk cache supplies it
    print(first.count, reused.count, loaded.count)
""")


def _run(env):
  out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True,
                       timeout=300, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  return [int(n) for n in out.stdout.split()[-3:]]


def test_a_program_from_the_persistent_cache_counts(tmp_path):
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "cache"), JAX_PLATFORMS="cpu")
  first, reused, loaded = _run(env)
  assert first >= 1 and reused == 0 and loaded >= 1
  assert any((tmp_path / "cache").iterdir())     # the disk cache was written and read
  without = dict(env)
  del without["JAX_COMPILATION_CACHE_DIR"]
  assert _run(without)[1:] == [0, loaded]        # the same counts when XLA builds it again
