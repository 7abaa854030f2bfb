"""The researcher's workflow: runs on disk, progress, checkpoints, sweeps, many devices.

One mechanism for every agent (DQN, A2C, REINFORCE): :func:`run` trains a :class:`RunSpec`
(seeds x hyperparameter settings in one compiled call, sharded over devices, checkpointed in
chunks, progress from inside the compiled loop) and writes a run directory; :func:`resume`
continues one; :func:`sweep` searches hyperparameters; :func:`write_plots` overlays runs.
The ``jaxrl`` command line (:mod:`jaxrl.cli`) is a thin layer over these.
"""

from jaxrl.training.algorithms import ALGORITHMS
from jaxrl.training.compiles import count_compilations
from jaxrl.training.progress import Progress
from jaxrl.training.runner import Interrupted
from jaxrl.training.runner import RunResult
from jaxrl.training.runner import RunSpec
from jaxrl.training.runner import check
from jaxrl.training.runner import load_spec
from jaxrl.training.runner import resume
from jaxrl.training.runner import run
from jaxrl.training.runner import write_plots
from jaxrl.training.sweeps import Range
from jaxrl.training.sweeps import SweepResult
from jaxrl.training.sweeps import grid
from jaxrl.training.sweeps import random_search
from jaxrl.training.sweeps import sweep

__all__ = (
    "ALGORITHMS",
    "Interrupted",
    "Progress",
    "RunResult",
    "Range",
    "RunSpec",
    "SweepResult",
    "check",
    "count_compilations",
    "grid",
    "random_search",
    "sweep",
    "load_spec",
    "resume",
    "run",
    "write_plots",
)
