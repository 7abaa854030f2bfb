"""Comparing agents across seeds the way reviewers now ask (Agarwal et al., 2021, "Deep RL at the
Edge of the Statistical Precipice"; the ``rliable`` library), in numpy on the host.

Scores are ``{agent: [runs, tasks]}``: one score per run (a seed) on each task (an environment).
Each aggregate comes with a *stratified* bootstrap interval: a resample draws ``runs`` runs with
replacement *within each task*, so every task keeps its weight.

* interquartile mean (IQM): the mean of the middle 50% of all ``runs * tasks`` scores, dropping
  ``floor(0.25 n)`` from each end (``scipy.stats.trim_mean(x, 0.25, axis=None)``);
* median: the median over tasks of the per-task mean over runs; mean: the mean of those;
* performance profile: ``P(tau)`` = the fraction of runs scoring above ``tau``, averaged over
  tasks, with a bootstrap band at every ``tau``.

    fig = comparison_figure({"dqn": dqn_scores, "ppo": ppo_scores})

``jaxrl plot --compare RUN_DIR ... --out fig.png`` draws it from finished run (or sweep)
directories, scoring each seed by its final evaluation return.
"""

from __future__ import annotations

import os
import pathlib
from typing import Callable, Mapping, Sequence

import numpy as np

from jaxrl import validation
from jaxrl.training import figures
from jaxrl.training import rundir

__all__ = (
    "STATISTICS",
    "aggregate",
    "comparison_figure",
    "iqm",
    "load_scores",
    "min_max_normalize",
    "performance_profile",
    "plot_comparison",
    "stratified_bootstrap",
)


def _iqm_batched(x: np.ndarray) -> np.ndarray:
  """``[..., runs, tasks]`` -> ``[...]``: interquartile mean of the last two axes together."""
  flat = np.sort(x.reshape(x.shape[:-2] + (-1,)), axis=-1)
  cut = int(0.25 * flat.shape[-1])
  return flat[..., cut:flat.shape[-1] - cut].mean(axis=-1)


def _median_batched(x: np.ndarray) -> np.ndarray:
  return np.median(x.mean(axis=-2), axis=-1)


def _mean_batched(x: np.ndarray) -> np.ndarray:
  return x.mean(axis=(-2, -1))


#: The aggregates :func:`aggregate` reports, each ``[..., runs, tasks] -> [...]``.
STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "median": _median_batched, "iqm": _iqm_batched, "mean": _mean_batched}


def iqm(scores) -> float:
  """Interquartile mean of all entries of ``scores``: sort the ``n`` scores, drop
  ``floor(n / 4)`` from each end, average the rest (of ``1..8``: the mean of ``3..6``, 4.5)."""
  x = np.asarray(scores, np.float64).reshape(-1, 1)
  if x.size == 0:
    raise ValueError("iqm of no scores: give at least one score.")
  return float(_iqm_batched(x))


def _check_scores(scores: Mapping[str, object]) -> dict[str, np.ndarray]:
  """``{agent: float [runs, tasks]}``; ValueError naming the agent whose scores are not a
  finite 2-D array, or whose number of tasks differs from the first agent's."""
  if not isinstance(scores, Mapping) or not scores:
    raise ValueError("give the scores as a non-empty dict {agent: [runs, tasks] array}.")
  out = {}
  for agent, s in scores.items():
    a = np.asarray(s, np.float64)
    if a.ndim != 2 or 0 in a.shape:
      raise ValueError(f"agent {agent!r}: scores must be [runs, tasks] with at least one of "
                       f"each, got shape {a.shape} (one task: reshape to [runs, 1]).")
    if not np.isfinite(a).all():
      raise ValueError(f"agent {agent!r} has {int((~np.isfinite(a)).sum())} non-finite "
                       "score(s) (a diverged run, or one never evaluated); every run needs a "
                       "score: drop those runs from every agent, or give them a score.")
    out[str(agent)] = a
  tasks = {a.shape[1] for a in out.values()}
  if len(tasks) > 1:
    counts = {k: v.shape[1] for k, v in out.items()}
    raise ValueError(f"agents have different numbers of tasks {counts}; every agent needs a "
                     "score on every task.")
  return out


def stratified_bootstrap(scores, statistic: Callable[[np.ndarray], np.ndarray], *,
                         reps: int = 2000, level: float = 0.95,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Percentile interval of ``statistic`` under a bootstrap that resamples runs within tasks.

  Args:
    scores: ``[runs, tasks]``.
    statistic: ``[reps, runs, tasks] -> [reps, ...]`` (e.g. an entry of :data:`STATISTICS`).
    reps: bootstrap resamples; level: the interval's coverage; seed: numpy seed (reproducible).
  Returns:
    ``(low, high)``: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles over resamples.
  """
  reps = validation.check_int("bootstrap reps", reps, minimum=1)
  level = validation.check_number("interval level", level, low=0, high=1, low_open=True,
                                  high_open=True)
  x = np.asarray(scores, np.float64)
  runs, tasks = x.shape
  rng = np.random.default_rng(seed)
  idx = rng.integers(0, runs, size=(reps, runs, tasks))
  values = statistic(x[idx, np.arange(tasks)])
  lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
  return lo, hi


def aggregate(scores: Mapping[str, object], *, reps: int = 2000, level: float = 0.95,
              seed: int = 0) -> dict[str, dict[str, tuple[float, float, float]]]:
  """``{agent: {"median" | "iqm" | "mean": (point, low, high)}}`` with stratified bootstrap
  intervals; ``scores`` is ``{agent: [runs, tasks]}`` (finite; every agent the same tasks)."""
  checked = _check_scores(scores)
  out = {}
  for agent, x in checked.items():
    out[agent] = {}
    for name, fn in STATISTICS.items():
      lo, hi = stratified_bootstrap(x, fn, reps=reps, level=level, seed=seed)
      out[agent][name] = (float(fn(x)), float(lo), float(hi))
  return out


def _profile_batched(taus: np.ndarray):
  def profile(x: np.ndarray) -> np.ndarray:   # [..., runs, tasks] -> [..., taus]
    above = x[..., None] > taus                # [..., runs, tasks, taus]
    return above.mean(axis=-3).mean(axis=-2)
  return profile


def performance_profile(scores, taus, *, reps: int = 2000, level: float = 0.95,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``P(tau)`` for each ``tau``: the fraction of runs scoring above ``tau``, averaged over
  tasks, and its stratified bootstrap band. ``scores`` ``[runs, tasks]``, ``taus`` ``[K]``;
  returns ``(profile, low, high)``, each ``[K]``."""
  x = _check_scores({"scores": scores})["scores"]
  taus = np.asarray(taus, np.float64).reshape(-1)
  fn = _profile_batched(taus)
  lo, hi = stratified_bootstrap(x, fn, reps=reps, level=level, seed=seed)
  return fn(x), lo, hi


def min_max_normalize(scores: Mapping[str, object]) -> dict[str, np.ndarray]:
  """Each task's scores mapped to ``[0, 1]`` by the lowest and highest score any agent's run
  got on it (a task where all scores are equal maps to 0), so tasks can be pooled."""
  checked = _check_scores(scores)
  pooled = np.concatenate(list(checked.values()), axis=0)
  low, span = pooled.min(axis=0), np.ptp(pooled, axis=0)
  span = np.where(span > 0, span, 1.0)
  return {agent: (x - low) / span for agent, x in checked.items()}


_TITLES = {"median": "Median", "iqm": "IQM", "mean": "Mean"}


def comparison_figure(scores: Mapping[str, object], *, taus=None, reps: int = 2000,
                      level: float = 0.95, seed: int = 0, score_label: str = "score",
                      title: str | None = None):
  """The rliable-style figure: median, IQM and mean of each agent with stratified bootstrap
  intervals (top row; bar = interval, black tick = point estimate), and the performance profiles
  with their bootstrap bands (bottom). ``taus`` default: 101 points spanning every score.
  Returns the matplotlib figure."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  checked = _check_scores(scores)
  agg = aggregate(checked, reps=reps, level=level, seed=seed)
  if taus is None:
    pooled = np.concatenate([x.reshape(-1) for x in checked.values()])
    pad = 0.02 * max(np.ptp(pooled), 1e-9)
    taus = np.linspace(pooled.min() - pad, pooled.max() + pad, 101)
  agents = list(checked)
  colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(agents))]
  fig = plt.figure(figsize=(10, 3.2 + 0.35 * len(agents) + 3.2))
  grid = fig.add_gridspec(2, 3, height_ratios=[0.6 + 0.25 * len(agents), 3.2], hspace=0.45)
  for col, name in enumerate(STATISTICS):
    ax = fig.add_subplot(grid[0, col])
    for y, agent in enumerate(agents):
      point, lo, hi = agg[agent][name]
      ax.barh(y, hi - lo, left=lo, height=0.6, color=colours[y], alpha=0.75)
      ax.vlines(point, y - 0.3, y + 0.3, color="black", linewidth=2)
    ax.set_yticks(range(len(agents)), agents if col == 0 else [""] * len(agents))
    ax.set_ylim(-0.6, len(agents) - 0.4)
    ax.invert_yaxis()
    ax.set_title(_TITLES[name])
    ax.set_xlabel(score_label, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
  ax = fig.add_subplot(grid[1, :])
  for agent, colour in zip(agents, colours):
    prof, lo, hi = performance_profile(checked[agent], taus, reps=reps, level=level, seed=seed)
    n_runs, n_tasks = checked[agent].shape
    ax.plot(taus, prof, color=colour, label=f"{agent} ({n_runs} runs x {n_tasks} tasks)")
    ax.fill_between(taus, lo, hi, color=colour, alpha=0.2, linewidth=0)
  ax.set_xlabel(f"{score_label} (\u03c4)")
  ax.set_ylabel("fraction of runs with score > \u03c4")
  ax.set_ylim(-0.02, 1.02)
  ax.set_title("Performance profile")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.suptitle(title or f"{int(round(100 * level))}% stratified bootstrap intervals "
               f"({reps} resamples) over runs", fontsize=10)
  return fig


def plot_comparison(scores: Mapping[str, object], path: str | os.PathLike, **kwargs) -> dict:
  """Writes :func:`comparison_figure` to the PNG ``path``; returns :func:`aggregate`'s dict
  (the same ``reps``, ``level`` and ``seed``)."""
  keep = {k: kwargs[k] for k in ("reps", "level", "seed") if k in kwargs}
  fig = comparison_figure(scores, **kwargs)
  figures.save_figure(fig, path)
  return aggregate(scores, **keep)


def _entries(d: pathlib.Path) -> list[tuple[str, str, dict, list]]:
  """``(algorithm, env, setting, final eval return per seed)`` of each setting of the finished
  run directory or sweep directory ``d``; ``setting`` is the run's whole agent config (from its
  ``config.json``) with the setting's overrides on top, so runs that differ in a static option
  (``n_step``, ``head``, ``network``, ...) are told apart as well as by a swept number."""
  if (d / "sweep.json").is_file():
    sw = rundir.read_json(d / "sweep.json")
    if sw.get("status") != "finished":
      raise ValueError(f"sweep {d} has not finished; run its `jaxrl sweep ... --resume` first.")
    out = []
    for g, members in enumerate(sw["groups"]):
      group = d / f"group-{g:03d}"
      rows, base = _summary(group)["settings"], _config(group)
      out += [(sw["algorithm"], sw["env"], {**base, **sw["settings"][i]["overrides"]},
               rows[j]["final_eval_return_per_seed"]) for j, i in enumerate(members)]
    return out
  summary, base = _summary(d), _config(d)
  return [(summary["algorithm"], summary["env"], {**base, **row.get("overrides", {})},
           row["final_eval_return_per_seed"]) for row in summary["settings"]]


def _config(d: pathlib.Path) -> dict:
  """The agent config a run directory saved (``{}`` if it saved none)."""
  path = d / rundir.CONFIG
  return dict(rundir.read_json(path).get("config", {})) if path.is_file() else {}


def _summary(d: pathlib.Path) -> dict:
  if not (d / rundir.SUMMARY).is_file():
    raise ValueError(f"{d} has no {rundir.SUMMARY}: not a finished jaxrl run (or sweep) "
                     f"directory; finish it (`jaxrl resume {d}`) or leave it out.")
  return rundir.read_json(d / rundir.SUMMARY)


def load_scores(dirs: Sequence[str | os.PathLike]) -> tuple[dict[str, np.ndarray], list[str]]:
  """``({agent: [seeds, tasks]}, tasks)`` from finished run or sweep directories.

  An agent is an algorithm, named also by the config values that tell its settings apart, swept
  numbers and static options alike (``"dqn learning_rate=3e-4"``, ``"dqn head=c51, n_step=3"``);
  a task is an environment; a run's score is its final
  evaluation return. The same agent on the same environment in two directories pools its seeds.
  ValueError when a directory is given twice, an agent lacks an environment another agent has,
  or an agent's environments hold different numbers of seeds.
  """
  paths = [pathlib.Path(d) for d in dirs]
  if not paths:
    raise ValueError("give at least one run directory to compare.")
  seen = [p.resolve() for p in paths]
  if len(set(seen)) != len(seen):
    raise ValueError("a directory is given twice; its seeds would count twice.")
  entries = [e for p in paths for e in _entries(p)]
  names = _agent_names(entries)
  runs: dict[str, dict[str, list]] = {}
  for name, (_, env, _, per_seed) in zip(names, entries):
    runs.setdefault(name, {}).setdefault(env, []).extend(per_seed)
  tasks = sorted({env for per_env in runs.values() for env in per_env})
  out = {}
  for agent, per_env in runs.items():
    missing = [t for t in tasks if t not in per_env]
    if missing:
      raise ValueError(f"agent {agent!r} has no runs on {missing}; every agent needs runs on "
                       f"every environment ({tasks}).")
    counts = {t: len(per_env[t]) for t in tasks}
    if len(set(counts.values())) > 1:
      raise ValueError(f"agent {agent!r} has different numbers of seeds per environment "
                       f"{counts}; give each environment the same number of seeds.")
    out[agent] = np.asarray([per_env[t] for t in tasks], np.float64).T
  return out, tasks


def _agent_names(entries) -> list[str]:
  """Each entry's agent: its algorithm, then the values that vary among that algorithm's
  settings."""
  names = [algorithm for algorithm, *_ in entries]
  for algorithm in sorted(set(names)):
    idx = [i for i, e in enumerate(entries) if e[0] == algorithm]
    labels = figures.setting_labels([entries[i][2] for i in idx])
    for i, label in zip(idx, labels):
      names[i] = f"{algorithm} {label}" if label else algorithm
  return names
