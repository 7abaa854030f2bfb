"""``python -m jaxrl`` and the ``jaxrl`` command: one CPU device per core, then the CLI.

Before anything runs a JAX computation, the CPU is split into one device per core
(:func:`jaxrl.cpu_devices.use_all_cores`), so the runs of a ``train`` or ``sweep`` command spread
over every core; ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` or
``JAX_NUM_CPU_DEVICES=N`` choose otherwise. ``python -m jaxrl.cli`` runs the same commands
on JAX's default single CPU device.
"""

from __future__ import annotations

import sys

__all__ = ("main",)


def main(argv: list[str] | None = None) -> int:
  """Entry point of the ``jaxrl`` command."""
  from jaxrl import cpu_devices  # pylint: disable=import-outside-toplevel
  cpu_devices.use_all_cores()
  from jaxrl import cli  # pylint: disable=import-outside-toplevel
  return cli.main(argv)


if __name__ == "__main__":
  sys.exit(main())
