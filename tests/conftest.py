"""Settings for the whole test session (loaded before any test module imports JAX).

The suite's programs are tiny: nearly all of its time is XLA compiling them. Two settings cut that
without changing what any test checks:

* **Cheap code generation** (:data:`FAST_COMPILE` in ``XLA_FLAGS``): LLVM's lowest level
  (``--xla_backend_optimization_level=0``) and XLA:CPU's older elemental emitters instead of
  its MLIR fusion emitters (``--xla_cpu_use_fusion_emitters=false``). Most of a compile is
  generating and optimising machine code the tests then run for milliseconds; together they
  halve XLA's compile time (``tests/agents/test_a2c.py`` on this 2-core machine: 62 -> 32
  seconds of backend compile, 88 -> 56 s wall; level 0 alone: 92 -> 51 CPU-seconds on
  ``test_ppo.py``). What a program computes does not depend on them, only the last bits of its
  rounding (fused multiply-adds), so the tests whose claims are bitwise equalities between
  differently shaped programs compile with XLA's defaults (``tests/codegen.py``), and the
  pinned agent fixtures are checked against a recording made with these flags
  (``tests/agents/test_fixtures.py``; the default-level original is checked with
  ``JAXRL_TEST_XLA_DEFAULT=1``). Runs, benchmarks and experiments compile with
  XLA's defaults. ``JAXRL_TEST_XLA_DEFAULT=1`` runs the whole suite with them.
* **One persistent compilation cache per test session** (``JAX_COMPILATION_CACHE_DIR``, a fresh
  temporary folder removed at the end): a program compiled once is loaded, not compiled again,
  by the other xdist worker, by a subprocess (the kill, multi-host and CLI tests), and by a
  second ``training.run`` of the same spec (resume-equals-straight tests). Loaded programs are
  the compiled ones, bit for bit; ``count_compilations`` counts a load as a compilation, so the
  compile-count tests are unaffected. A folder you set in ``JAX_COMPILATION_CACHE_DIR`` yourself
  is used and kept (faster reruns); CI starts from an empty one.

Subprocess tests that set their own ``XLA_FLAGS`` build them with :func:`xla_flags`, so they keep
the first setting; they inherit the second from the environment.
"""
from __future__ import annotations

import os
import shutil
import tempfile

FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
_CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
_OWN_CACHE = "JAXRL_TEST_OWN_CACHE"      # set by the process that made the folder (removes it)


def xla_flags(*extra: str) -> str:
  """The session's ``XLA_FLAGS`` with ``extra`` flags added (for a subprocess's environment)."""
  return " ".join([os.environ.get("XLA_FLAGS", ""), *extra]).strip()


if os.environ.get("JAXRL_TEST_XLA_DEFAULT") != "1" and FAST_COMPILE not in os.environ.get(
    "XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = xla_flags(FAST_COMPILE)

# Read by JAX when it is imported (workers and subprocesses inherit them): cache every program,
# however quick its compile or small its executable.
if _CACHE_ENV not in os.environ:
  os.environ[_CACHE_ENV] = tempfile.mkdtemp(prefix="jaxrl-test-xla-cache-")
  os.environ[_OWN_CACHE] = str(os.getpid())
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


def pytest_unconfigure(config):
  del config
  if os.environ.get(_OWN_CACHE) == str(os.getpid()):
    shutil.rmtree(os.environ[_CACHE_ENV], ignore_errors=True)
