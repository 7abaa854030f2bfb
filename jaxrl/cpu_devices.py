"""One JAX device per CPU core, so independent runs (seeds x settings) use every core.

XLA:CPU gives JAX one CPU device by default, and one compiled call of many vmapped seeds runs
its small matrix products on one core: on a 2-core machine PPO's 32 seeds ran as fast on one
core as on two. Runs never communicate, so :mod:`jaxrl.training` can instead split them over
several CPU devices (``shard_map`` over the run axis), each executing its share on its own
thread: PPO on CartPole goes from 154k to 319k env steps/s with 32 seeds on 2 cores
(BENCHMARKS.md). The ``jaxrl`` command does this by itself; from Python::

    import jaxrl
    jaxrl.cpu_devices.use_all_cores()      # before anything runs a JAX computation
    from jaxrl import training
    training.run(spec, "runs/x")           # the runs now split over the cores

After :func:`use_all_cores`, the driver picks the largest device count that divides the runs
(3 seeds on 2 cores: one device), instead of refusing, since on a CPU fewer devices cost only
speed. A single run gains nothing: it is not split.

Results on ``D`` devices equal one device's to float rounding, not bitwise (each device's batch
of runs is smaller, so XLA may vectorise differently); the same command on the same machine is
bitwise repeatable.
"""

from __future__ import annotations

import os

import jax

__all__ = ("available_cores", "configured", "use_all_cores")

_CONFIGURED: list[int] = []


def available_cores() -> int:
  """Cores this process may run on (its CPU affinity, so ``taskset`` is respected)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not on Linux
    return os.cpu_count() or 1


def use_all_cores(count: int | None = None) -> int:
  """Asks JAX for ``count`` CPU devices (default: one per available core); returns the count.

  Must run before the first JAX computation of the process (``import jax`` and ``import jaxrl``
  are fine). Leaves JAX as it is, and returns the CPU device count the user asked for, when the
  environment already chooses one (``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``
  or ``JAX_NUM_CPU_DEVICES``).

  Raises:
    ValueError: ``count`` is not a positive integer.
    RuntimeError: a JAX computation already ran in this process (JAX's backends are fixed then);
      the message says to call this first.
  """
  if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
    raise ValueError(f"use_all_cores: count must be a positive integer, got {count!r}.")
  flags = os.environ.get("XLA_FLAGS", "")
  if "xla_force_host_platform_device_count" in flags or "JAX_NUM_CPU_DEVICES" in os.environ:
    if "JAX_NUM_CPU_DEVICES" in os.environ:
      return int(os.environ["JAX_NUM_CPU_DEVICES"])
    return int(flags.split("xla_force_host_platform_device_count=")[1].split()[0])
  count = available_cores() if count is None else count
  try:
    jax.config.update("jax_num_cpu_devices", count)
  except RuntimeError as err:
    raise RuntimeError(
        "use_all_cores() must run before the first JAX computation of the process (JAX fixes its "
        "devices then); call it right after the imports.") from err
  _CONFIGURED[:] = [count]
  return count


def configured() -> bool:
  """Whether :func:`use_all_cores` split the CPU in this process (the driver then fits the
  device count to the number of runs instead of refusing an uneven split)."""
  return bool(_CONFIGURED)
