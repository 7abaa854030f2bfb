"""Every agent reproduces its pinned metrics bitwise (``fixture_cases``; recorded before the
agent layer was rebuilt from shared parts, so the rebuild changed no number).

On a machine known to reproduce the fixture (``bitwise_on`` in the JSON: architecture,
instruction-set extensions, jax/jaxlib, backend; the recording machine and those checked since)
every metric and every final parameter must be bitwise equal. XLA:CPU compiles for the host CPU,
so another kind of CPU may round differently: there the test checks the structure (names,
shapes, dtypes, where the NaNs are) and the first logging point to 1e-3, and says so in a
warning. ``JAXRL_FIXTURES_BITWISE=1`` asks for bitwise equality on any machine (that is how a
machine is checked before its signature is added to ``bitwise_on``).
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
ARRAYS = np.load(FIXTURES / "agent_metrics.npz")
RUNS = fixture_cases.all_runs()


def _expected(name):
  prefix = f"{name}::"
  return {k[len(prefix):]: ARRAYS[k] for k in ARRAYS.files if k.startswith(prefix)}


def test_every_case_is_recorded():
  assert sorted(RUNS) == sorted(RECORD["params"])
  assert {k.split("::")[0] for k in ARRAYS.files} == set(RUNS)


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
    assert params == RECORD["params"][name], "final parameters changed"
  else:
    assert sorted(params) == sorted(RECORD["params"][name])
    warnings.warn(f"fixture recorded on {RECORD['machine']!r}, running on "
                  f"{fixture_cases.machine_signature()!r}: checked structure and the first log "
                  "point only, not bitwise equality.")
