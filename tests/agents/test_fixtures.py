"""Every agent reproduces its pinned metrics bitwise (``fixture_cases``; recorded before the
agent layer was rebuilt from shared parts, so the rebuild changed no number).

On a machine known to reproduce the fixture (``bitwise_on`` in the JSON: architecture,
instruction-set extensions, jax/jaxlib, backend; the recording machine and those checked since)
every metric and every final parameter must be bitwise equal. XLA:CPU compiles for the host CPU,
so another kind of CPU may round differently: there the test checks the structure (names,
shapes, dtypes, where the NaNs are) and the first logging point to 1e-3, and says so in a
warning. ``JAXRL_FIXTURES_BITWISE=1`` asks for bitwise equality on any machine (that is how a
machine is checked before its signature is added to ``bitwise_on``).

Two recordings of the same runs (``fixture_cases.CODEGENS``): ``agent_metrics.npz``, with XLA's
default code generation (the original, recorded before the rebuild), and
``agent_metrics_fast.npz``, with the test session's cheap code generation (``tests/conftest.py``),
recorded from code that reproduced the original bitwise. The suite checks the one its session
compiles with: in CI the fast one (36 CPU-seconds for the 13 cases instead of 142 at the default
level); ``JAXRL_TEST_XLA_DEFAULT=1`` checks the original. The two agree to rounding at every
logged point (checked below without compiling anything), so the fast one pins the same runs.
"""

import json
import os
import pathlib
import warnings

import numpy as np
import pytest

from tests.agents import fixture_cases

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
RECORD = json.loads((FIXTURES / "agent_metrics.json").read_text())
CODEGEN = fixture_cases.session_codegen()
RECORDINGS = {"default": np.load(FIXTURES / "agent_metrics.npz"),
              "fast": np.load(FIXTURES / "agent_metrics_fast.npz")}
PARAMS = {"default": RECORD["params"], "fast": RECORD["params_fast"]}
ARRAYS = RECORDINGS[CODEGEN]
RUNS = fixture_cases.all_runs(CODEGEN)


def _expected(name):
  prefix = f"{name}::"
  return {k[len(prefix):]: ARRAYS[k] for k in ARRAYS.files if k.startswith(prefix)}


def test_every_case_is_recorded():
  for codegen in fixture_cases.CODEGENS:
    assert sorted(RUNS) == sorted(PARAMS[codegen]), codegen
    assert {k.split("::")[0] for k in RECORDINGS[codegen].files} == set(RUNS), codegen


def test_the_two_recordings_are_the_same_runs_to_rounding():
  default, fast = RECORDINGS["default"], RECORDINGS["fast"]
  assert sorted(default.files) == sorted(fast.files)
  for k in default.files:
    assert default[k].dtype == fast[k].dtype and default[k].shape == fast[k].shape, k
    np.testing.assert_allclose(fast[k].astype(float), default[k].astype(float), rtol=1e-3,
                               atol=1e-5, equal_nan=True, err_msg=k)
  assert sorted(PARAMS["fast"]) == sorted(PARAMS["default"])
  for name, params in PARAMS["fast"].items():
    assert sorted(params) == sorted(PARAMS["default"][name]), name


@pytest.mark.parametrize("name", sorted(RUNS))
def test_metrics_are_bitwise_unchanged(name):
  metrics, params = RUNS[name]()
  expected = _expected(name)
  assert sorted(metrics) == sorted(expected), "metric names changed"
  same_machine = (fixture_cases.machine_signature() in RECORD["bitwise_on"]
                  or os.environ.get("JAXRL_FIXTURES_BITWISE") == "1")
  for k, want in expected.items():
    got = metrics[k]
    assert got.dtype == want.dtype and got.shape == want.shape, (k, got.dtype, got.shape)
    if same_machine:
      np.testing.assert_array_equal(got, want, err_msg=f"{name}: {k}")
    else:
      np.testing.assert_array_equal(np.isnan(got.astype(float)), np.isnan(want.astype(float)),
                                    err_msg=k)
      first = (slice(None), 0) if got.ndim > 1 else 0      # [seeds, logs] or FQI's [iterations]
      np.testing.assert_allclose(got[first], want[first], rtol=1e-3, atol=1e-5, err_msg=k)
  if same_machine:
    assert params == PARAMS[CODEGEN][name], "final parameters changed"
  else:
    assert sorted(params) == sorted(PARAMS[CODEGEN][name])
    warnings.warn(f"fixture recorded on {RECORD['machine']!r}, running on "
                  f"{fixture_cases.machine_signature()!r}: checked structure and the first log "
                  "point only, not bitwise equality.")
