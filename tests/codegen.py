"""XLA:CPU's default code generation, for the tests whose assertions are bitwise.

The test session compiles with cheaper code generation (``tests/conftest.py``: LLVM level 0 and
XLA:CPU's older elemental emitters), which halves the suite's compile time. What a program
computes is the same; its last bits are not always: the elemental emitters round some
operations differently (e.g. the mean of one observation in ``NormalizeObservation`` is off by
one ulp) and do not always round the same step the same way in programs of different shapes (a
chunk of 5 logging intervals against one of 10). jaxrl's bitwise guarantees (an extended or
resumed run equals a straight one, the progress callback changes no number) are properties of
the code XLA generates by default, the code users run, so the tests that pin them compile inside
:func:`default`. The pinned agent fixtures compare one program with its own recording, so they
have a recording for each code generation (``tests/agents/fixture_cases.CODEGENS``) and the
suite checks the cheap one.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import jax
from jax._src import compiler

#: XLA:CPU's defaults for what ``tests/conftest.py`` changes.
DEFAULT = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}


@contextlib.contextmanager
def default() -> Iterator[None]:
  """Inside: every compilation (``jit``, ``Lowered.compile``, eager operations) with XLA:CPU's
  default code generation (:data:`DEFAULT` as per-compilation overrides of ``XLA_FLAGS``).

  JAX's in-memory caches are cleared on entry and exit, so no program compiled one way is run
  the other; the persistent cache keys programs by their compile options, so it keeps both.
  """
  get = compiler.get_compile_options

  def get_with_defaults(*args, env_options_overrides=None, **kwargs):
    return get(*args, env_options_overrides={**DEFAULT, **(env_options_overrides or {})},
               **kwargs)

  jax.clear_caches()
  compiler.get_compile_options = get_with_defaults
  try:
    yield
  finally:
    compiler.get_compile_options = get
    jax.clear_caches()
