"""Counting XLA compilations with jax's public monitoring events (no private cache API).

    with count_compilations() as compiled:
      train(keys0); train(keys1)
    assert compiled.count == 1          # the second call reused the program

Every backend compilation jax performs records the event
``/jax/core/compile/backend_compile_duration`` (:mod:`jax.monitoring`); the counter listens to it
while the ``with`` block runs. jax records that event around its persistent-cache lookup too, so a
program loaded from ``JAX_COMPILATION_CACHE_DIR`` counts like one XLA built: either way it had to
be obtained again (``tests/training/test_compile_count.py`` pins this). Everything compiled in the
block counts, including small helper programs (e.g. ``jax.random.split`` on concrete keys):
prepare inputs before the block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import Iterator

import jax

__all__ = ("CompileCount", "count_compilations")

_EVENT = "/jax/core/compile/backend_compile_duration"


@dataclasses.dataclass
class CompileCount:
  """How many XLA programs were compiled inside :func:`count_compilations`'s block."""

  count: int = 0


@contextlib.contextmanager
def count_compilations() -> Iterator[CompileCount]:
  """Counts the XLA compilations of the ``with`` block (any thread)."""
  result = CompileCount()
  lock = threading.Lock()

  def listener(name, duration_secs, **kwargs):
    del duration_secs, kwargs
    if name == _EVENT:
      with lock:
        result.count += 1

  jax.monitoring.register_event_duration_secs_listener(listener)
  try:
    yield result
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)
