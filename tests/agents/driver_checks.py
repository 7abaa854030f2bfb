"""The driver's resume guarantee, checked the same way for every agent that tests it."""

import jax
import numpy as np
import pytest

from jaxrl import training


def assert_resumes_bitwise(spec: training.RunSpec, tmp_path):
  """Runs ``spec`` straight through, and again stopped after its first chunk and resumed from
  the checkpoint; asserts the metrics and every leaf of the final state (replay buffers, target
  networks, carries, ...) are bitwise equal. Returns the straight run's result."""
  straight = training.run(spec, tmp_path / "straight", progress=False, log=None)
  with pytest.raises(training.Interrupted):
    training.run(spec, tmp_path / "resumed", progress=False, log=None, stop_after_chunks=1)
  resumed = training.resume(tmp_path / "resumed", progress=False, log=None)
  for k in straight.metrics:
    np.testing.assert_array_equal(resumed.metrics[k], straight.metrics[k], err_msg=k)
  for a, b in zip(jax.tree.leaves(resumed.final_state), jax.tree.leaves(straight.final_state),
                  strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  return straight
