"""Learning-curve figures that explain themselves (matplotlib, imported lazily).

* each curve is named by the hyperparameter values that set it apart (``learning_rate=3e-4,
  hidden_sizes=(64, 64)``: only the fields that vary between the curves drawn), not by an index;
* more than :data:`MAX_LEGEND` curves are coloured by a sequential colour map with a colour bar,
  keyed by the value of the one numeric field that varies, or else by rank of the final value;
  the legend then names the best three;
* a curve with a single logging point is drawn as a marker with its interval as an error bar (a
  line or a shaded band of one point would be invisible).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, Sequence

import numpy as np

from jaxrl.training import stats

__all__ = (
    "MAX_LEGEND",
    "Curve",
    "curves_figure",
    "format_value",
    "plot_curves",
    "save_figure",
    "setting_labels",
    "varying_fields",
)


#: More curves than this get a sequential colour map and a colour bar instead of a full legend.
MAX_LEGEND = 10


def format_value(v: Any) -> str:
  """A hyperparameter value, short: ``3e-4`` (not ``0.0003``), ``0.99``, ``(64, 64)``, ``True``."""
  if isinstance(v, (bool, np.bool_)) or v is None or isinstance(v, str):
    return str(v)
  if isinstance(v, (int, np.integer)):
    return str(int(v))
  if isinstance(v, (float, np.floating)):
    v = float(v)
    if v != 0 and np.isfinite(v) and (abs(v) < 1e-3 or abs(v) >= 1e5):
      mantissa, exp = f"{v:.2e}".split("e")
      mantissa = mantissa.rstrip("0").rstrip(".")
      return f"{mantissa}e{int(exp)}"
    return f"{v:.4g}"
  if isinstance(v, (list, tuple)):
    inner = ", ".join(format_value(x) for x in v)
    return f"({inner},)" if len(v) == 1 else f"({inner})"
  return str(v)


def varying_fields(settings: Sequence[dict]) -> list[str]:
  """The override names whose values differ between ``settings`` (a name some setting lacks
  counts as differing), in order of first appearance."""
  names: list[str] = []
  for s in settings:
    names += [k for k in s if k not in names]
  def key(v):
    return repr(tuple(v)) if isinstance(v, (list, tuple)) else repr(v)
  return [n for n in names
          if len({key(s[n]) if n in s else "<default>" for s in settings}) > 1]


def setting_labels(settings: Sequence[dict]) -> list[str]:
  """One label per setting: ``name=value`` for each field that varies between ``settings``,
  joined by ``", "``; ``""`` for all when nothing varies (one setting, or identical ones).

  >>> setting_labels([{"learning_rate": 3e-4, "discount": 0.99},
  ...                 {"learning_rate": 1e-2, "discount": 0.99}])
  ['learning_rate=3e-4', 'learning_rate=0.01']
  """
  names = varying_fields(settings)
  return [", ".join(f"{n}={format_value(s[n]) if n in s else 'default'}" for n in names)
          for s in settings]


@dataclasses.dataclass
class Curve:
  """One setting's curve: ``x`` env steps, ``mean`` over seeds and its 95% interval
  ``[lo, hi]`` (each ``[points]``), ``n`` seeds; ``value``: the setting's value of the one field
  that varies, if only one does (what colours it when there are many curves)."""

  label: str
  x: np.ndarray
  mean: np.ndarray
  lo: np.ndarray
  hi: np.ndarray
  n: int
  value: Any = None

  @property
  def final(self) -> float:
    return float(self.mean[-1])


def _curves(runs, metric: str) -> tuple[list[Curve], list[str]]:
  """Every setting of every run as a :class:`Curve` (settings without a finite point left out),
  and the names of the fields that vary between them."""
  all_settings = [s for r in runs for s in _settings_of(r)]
  labels = iter(setting_labels(all_settings))
  varying = varying_fields(all_settings)
  out = []
  for run in runs:
    label, m = run[0], run[1]
    if metric not in m:
      raise ValueError(f"run {label!r} has no metric {metric!r}; it has {sorted(m)}.")
    y_all, x_all = np.asarray(m[metric], np.float64), np.asarray(m["env_steps"], np.float64)
    for s, setting in enumerate(_settings_of(run)):
      name = next(labels)
      if label and (len(runs) > 1 or not name):   # an empty run label adds nothing
        name = f"{label}: {name}" if name else label
      name = name or "all seeds"
      y, x = y_all[s], np.nanmean(x_all[s], axis=0)
      keep = np.isfinite(y).any(axis=0)
      if not keep.any():
        continue
      lo, hi = stats.interval(y[:, keep], axis=0)
      value = setting.get(varying[0]) if len(varying) == 1 else None
      out.append(Curve(name, x[keep], np.nanmean(y[:, keep], axis=0), lo, hi, y.shape[0], value))
  return out, varying


def _settings_of(run) -> list[dict]:
  """A run's settings: its third element, else one empty setting per setting in its metrics."""
  m = run[1]
  count = np.asarray(next(iter(m.values()))).shape[0]
  settings = list(run[2]) if len(run) > 2 and run[2] else [{}] * count
  if len(settings) != count:
    raise ValueError(f"run {run[0]!r} has {count} settings in its metrics but {len(settings)} "
                     "settings given; give one override dict per setting.")
  return [dict(s) for s in settings]


def _colour_key(curves: list[Curve], varying: list[str]):
  """``(keys, norm, label)`` for a sequential colour map: the one numeric field that varies
  (log scale when positive and spanning a factor of 10 or more), else the rank of the final
  value (1 = best)."""
  import matplotlib.colors as mcolors  # pylint: disable=import-outside-toplevel
  values = [c.value for c in curves]
  numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                for v in values)
  if len(varying) == 1 and numeric and len({float(v) for v in values}) > 1:
    keys, field = np.asarray(values, np.float64), varying[0]
    if keys.min() > 0 and keys.max() / keys.min() >= 10:
      return keys, mcolors.LogNorm(keys.min(), keys.max()), field
    return keys, mcolors.Normalize(keys.min(), keys.max()), field
  order = sorted(range(len(curves)), key=lambda i: -np.nan_to_num(curves[i].final, nan=-np.inf))
  keys = np.empty(len(curves))
  keys[order] = np.arange(1, len(curves) + 1)
  return keys, mcolors.Normalize(1, len(curves)), "rank by final value (1 = best)"


def _draw(ax, c: Curve, colour, label, alpha: float = 0.2):
  """One curve: a line with its shaded interval, or a marker with an error bar for one point."""
  if c.x.size == 1:
    yerr = np.array([[c.mean[0] - c.lo[0]], [c.hi[0] - c.mean[0]]])
    yerr = None if not np.isfinite(yerr).all() else yerr
    ax.errorbar(c.x, c.mean, yerr=yerr, marker="o", linestyle="none", capsize=4, color=colour,
                label=label)
    return
  line, = ax.plot(c.x, c.mean, color=colour, label=label)
  if c.n > 1:
    ax.fill_between(c.x, c.lo, c.hi, color=line.get_color(), alpha=alpha, linewidth=0)


def curves_figure(runs: Sequence[tuple], *, metric: str | None = None,
                  title: str | None = None):
  """The learning-curve figure (see the module docstring for the rules); returns
  ``(figure, metric)``. Arguments as :func:`plot_curves`."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  if metric is None:
    has_eval = any(np.isfinite(r[1].get("eval_return", np.nan)).any() for r in runs)
    metric = "eval_return" if has_eval else "episode_return"
  curves, varying = _curves(runs, metric)
  fig, ax = plt.subplots(figsize=(7.5, 4.4))
  if len(curves) <= MAX_LEGEND:
    for c in curves:
      _draw(ax, c, None, f"{c.label} (n={c.n})")
    legend_title = None
  else:
    keys, norm, key_label = _colour_key(curves, varying)
    cmap = plt.get_cmap("viridis")
    best = sorted(range(len(curves)),
                  key=lambda i: -np.nan_to_num(curves[i].final, nan=-np.inf))[:3]
    for i in [i for i in range(len(curves)) if i not in best] + best[::-1]:  # best on top
      c = curves[i]
      _draw(ax, c, cmap(norm(keys[i])), f"{c.label} (n={c.n})" if i in best else None,
            alpha=0.07)
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    bar.set_label(key_label)
    legend_title = f"best {len(best)} of {len(curves)} settings"
  ax.set_xlabel("environment steps per run")
  ax.set_ylabel(metric.replace("_", " "))
  ax.set_title(title or f"{metric.replace('_', ' ')}: mean over seeds, 95% bootstrap interval")
  ax.grid(alpha=0.3)
  if curves:
    handles, labels = ax.get_legend_handles_labels()
    if legend_title:        # many curves: the named best three, best first
      handles, labels = handles[::-1], labels[::-1]
    ax.legend(handles, labels, fontsize=7, title=legend_title, title_fontsize=7)
  return fig, metric


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> None:
  """Writes ``fig`` to ``path`` atomically (a temporary file renamed into place) and closes it."""
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
  try:
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
  finally:
    plt.close(fig)
  os.replace(tmp, path)


def plot_curves(runs: Sequence[tuple], path: str | os.PathLike, *, metric: str | None = None,
                title: str | None = None) -> str:
  """Learning curves of one or more runs (mean over seeds, 95% bootstrap interval shaded).

  Args:
    runs: ``(label, metrics)`` or ``(label, metrics, settings)``: metrics as
      :func:`jaxrl.training.rundir.read_metrics` returns (``{name: [settings, seeds, logs]}``),
      settings one override dict per setting (what names the curves). Every setting of a run is
      its own curve, named ``"label: name=value, ..."`` (``label`` alone when no field varies;
      no ``label:`` prefix when only one run is drawn or ``label`` is empty).
    path: the PNG to write.
    metric: what to plot (default ``eval_return`` where any run has evaluations, else
      ``episode_return``).
    title: the axes title.
  Returns:
    The metric plotted.
  """
  fig, metric = curves_figure(runs, metric=metric, title=title)
  save_figure(fig, path)
  return metric
