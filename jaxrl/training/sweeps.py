"""Hyperparameter sweeps: grid or random search, one vmapped call where shapes allow.

A setting is a dict of config overrides. Settings that differ only in the algorithm's
*hyperparameters* (the fields of e.g. :class:`~jaxrl.agents.DQNHyperparams`: learning rate,
discount, ...) run together in ONE compiled call (``settings x seeds`` runs, vmapped and sharded);
settings that change anything else (network sizes, ``num_envs``, ...) change shapes, so each
distinct combination of those is its own call, run one after another (a *group*). The sweep's
summary ranks every setting by its final evaluation return with a bootstrap 95% interval over
seeds.

    SWEEP_DIR/
      sweep.json         the plan (settings, seeds, base config), the groups and the ranking
      ranking.md         the ranking as a markdown table: the values that vary, final eval return
                         mean, median, std, bootstrap 95% interval, seeds, diverged seeds
      ranking.csv        the same, one row per setting, every override its own column
      curves.png         every setting's learning curve, named by its values
      group-000/ ...     one run directory per group (see jaxrl.training.rundir); its settings
                         are the sweep settings that sweep.json's "groups"[0] lists, in order
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
import os
import pathlib
import shutil
import typing
from typing import Any, Sequence

import numpy as np

from jaxrl import validation
from jaxrl.training import algorithms
from jaxrl.training import figures
from jaxrl.training import rundir
from jaxrl.training import runner
from jaxrl.training import stats

__all__ = (
    "Range",
    "SweepResult",
    "grid",
    "random_search",
    "ranking_csv",
    "ranking_markdown",
    "ranking_table",
    "sweep",
    "typed_value",
)



def grid(values: dict[str, Sequence[Any]]) -> list[dict]:
  """Every combination of ``values`` (``{"learning_rate": [1e-3, 3e-4], ...}``), in order."""
  if not values:
    raise ValueError("a grid needs at least one field with values.")
  for name, vs in values.items():
    if len(vs) == 0:
      raise ValueError(f"grid field {name!r} has no values.")
  names = list(values)
  return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))]


@dataclasses.dataclass(frozen=True)
class Range:
  """A search range: uniform in ``[low, high]``, or log-uniform with ``log=True``; the draws
  of integer fields are rounded when :func:`random_search` is given the config."""

  low: float
  high: float
  log: bool = False

  def __post_init__(self):
    object.__setattr__(self, "low", validation.check_number("Range low", self.low))
    object.__setattr__(self, "high", validation.check_number("Range high", self.high))
    validation.check_bool("Range log", self.log)
    if not self.low <= self.high:
      raise ValueError(f"a range needs low <= high, got [{self.low}, {self.high}].")
    if self.log and not self.low > 0:
      raise ValueError(f"a log range needs low > 0, got {self.low}.")


def random_search(space: dict[str, Range], num: int, seed: int = 0, *,
                  config: Any = None) -> list[dict]:
  """``num`` settings drawn independently from ``space`` (numpy, seeded: reproducible).

  With ``config`` (the sweep's base config), the draws of its ``int`` fields are rounded to the
  nearest integer inside ``[ceil(low), floor(high)]`` (a range holding no integer is refused), and
  a name that is not one of its fields is refused.
  """
  num = validation.check_int("random search num (how many settings to draw)", num, minimum=1)
  seed = validation.check_int("random search seed", seed, minimum=0)
  if not space:
    raise ValueError("random search needs at least one field with a range.")
  ints = {} if config is None else _int_bounds(config, space)
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(num):
    s = {}
    for name, r in space.items():
      if r.log:
        s[name] = float(math.exp(rng.uniform(math.log(r.low), math.log(r.high))))
      else:
        s[name] = float(rng.uniform(r.low, r.high))
      if name in ints:
        s[name] = min(max(int(round(s[name])), ints[name][0]), ints[name][1])
    out.append(s)
  return out


def _int_bounds(config: Any, space: dict[str, Range]) -> dict[str, tuple[int, int]]:
  """``{int field: (ceil(low), floor(high))}`` for the fields of ``space``."""
  hints = _field_hints(config)
  out = {}
  for name, r in space.items():
    if name not in hints:
      raise ValueError(f"{type(config).__name__} has no field {name!r}; fields: {sorted(hints)}.")
    if _is_int(hints[name]):
      lo, hi = math.ceil(r.low), math.floor(r.high)
      if lo > hi:
        raise ValueError(f"{type(config).__name__}.{name} is an int, and the range "
                         f"[{r.low:g}, {r.high:g}] holds no integer.")
      out[name] = (lo, hi)
  return out


def _field_hints(config: Any) -> dict[str, Any]:
  return {f.name: typing.get_type_hints(type(config))[f.name] for f in dataclasses.fields(config)}


def _is_int(hint) -> bool:
  return hint is int or hint == (int | None)


_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def typed_value(config: Any, name: str, value: Any) -> Any:
  """``value`` (a number, a bool or the text of one) as config field ``name``'s type.

  An int field takes an integer, or a float or text that is exactly one (``1e5``, ``"1.5e3"``);
  a float field a real number or its text; a bool field a bool or true/false/yes/no/1/0.
  Raises ValueError naming the field, its type and the value (``2.5`` for an int, ``"fast"``
  for a number, ``"maybe"`` for a bool); other fields take the value as it is.
  """
  hints = _field_hints(config)
  if name not in hints:
    raise ValueError(f"{type(config).__name__} has no field {name!r}; fields: {sorted(hints)}.")
  hint, field = hints[name], f"{type(config).__name__}.{name}"
  value = validation.plain_scalar(value)
  if value is None and hint in (int | None, float | None):
    return None
  if hint is bool:
    word = value.strip().lower() if isinstance(value, str) else None
    if isinstance(value, bool) or word in _BOOL_WORDS:
      return value if isinstance(value, bool) else _BOOL_WORDS[word]
    raise ValueError(f"{field} is a bool (true or false), got {value!r}.")
  if _is_int(hint) or hint in (float, float | None):
    number = _number(field, value, "an int" if _is_int(hint) else "a number")
    if not _is_int(hint):
      return float(number)
    if not (math.isfinite(number) and number == int(number)):
      raise ValueError(f"{field} is an int, got {value!r}.")
    return int(number)
  return value


def _number(field: str, value: Any, kind: str) -> float | int:
  if isinstance(value, bool) or not isinstance(value, (int, float, str)):
    raise ValueError(f"{field} takes {kind}, got {value!r}.")
  if isinstance(value, str):
    try:
      return int(value)
    except ValueError:
      pass
    try:
      return float(value)
    except ValueError:
      raise ValueError(f"{field} takes {kind}, got {value!r}.") from None
  return value


def _typed(config: Any, setting: dict) -> dict:
  """Casts each override to its config field's type (:func:`typed_value`)."""
  return {name: typed_value(config, name, value) for name, value in setting.items()}


@dataclasses.dataclass
class SweepResult:
  """What :func:`sweep` returns: the settings, one :class:`RunResult` per group, the ranking
  (``sweep.json``'s dict)."""

  settings: list[dict]
  groups: list[runner.RunResult]
  summary: dict


def sweep(algorithm: str, config: Any, settings: Sequence[dict], *, env: str = "CartPole-v1",
          num_seeds: int = 4, seed: int = 0, out: str | os.PathLike | None = None,
          checkpoint_every: int | None = None, resume: bool = False, overwrite: bool = False,
          **run_kwargs) -> SweepResult:
  """Runs every setting for ``num_seeds`` seeds; returns the ranking.

  Args:
    algorithm: ``"dqn"``, ``"a2c"`` or ``"reinforce"``.
    config: the base config; each setting overrides some of its fields.
    settings: from :func:`grid`, :func:`random_search`, or by hand.
    out: the sweep directory (None: nothing written). Same rules as a run directory: refused
      if it exists unless ``resume`` (finished groups are kept, unfinished ones resumed) or
      ``overwrite``.
    run_kwargs: passed to :func:`jaxrl.training.run` (``num_devices``, ``progress``, ...).
  """
  if out is not None:   # a file or an unwritable place is refused before anything is built
    rundir.check_out_dir(out, what="sweep directory", hint="choose another out")
  algo = algorithms.get(algorithm)
  if type(config) is not algo.config_cls:  # pylint: disable=unidiomatic-typecheck
    raise ValueError(f"algorithm {algorithm!r} takes a {algo.config_cls.__name__}, got "
                     f"{type(config).__name__}.")
  if not settings:
    raise ValueError("a sweep needs at least one setting.")
  typed = [_typed(config, s) for s in settings]
  groups, specs = _group(algorithm, config, typed, env=env, num_seeds=num_seeds, seed=seed,
                         checkpoint_every=checkpoint_every)
  for spec in specs:          # every group's config checked before the first compile
    runner.check(spec, run_kwargs.get("num_devices"))
  plan = dict(algorithm=algorithm, env=env, num_seeds=num_seeds, seed=seed,
              settings=[_encoded(s) for s in typed],
              groups=[list(m) for m in groups.values()],
              config=algorithms.config_to_dict(config))
  out_dir = None if out is None else _open_sweep_dir(pathlib.Path(out), plan, resume, overwrite)
  results = []
  for g, spec in enumerate(specs):
    run_dir = None if out_dir is None else out_dir / f"group-{g:03d}"
    again = run_dir is not None and resume and (run_dir / rundir.CONFIG).exists()
    if again and (run_dir / rundir.SUMMARY).exists():
      results.append(_load_finished(spec, run_dir))
      continue
    results.append(runner.run(spec, run_dir, resume=again, **run_kwargs))
  summary = dict(algorithm=algorithm, env=env, num_seeds=num_seeds, seed=seed,
                 **_rank(groups, results, typed), groups=[list(m) for m in groups.values()],
                 calls=len(specs), status="finished")
  if out_dir is not None:
    _write_sweep_files(out_dir, summary, groups, results, typed,
                       plot=run_kwargs.get("write_plot", True))
    rundir.write_json(out_dir / "sweep.json", dict(summary, plan=plan))
  return SweepResult(settings=typed, groups=results, summary=summary)


def _write_sweep_files(out_dir: pathlib.Path, summary: dict, groups: dict, results: list,
                       typed: list[dict], plot: bool) -> None:
  """ranking.md, ranking.csv and (with ``plot``) curves.png of a finished sweep."""
  rundir.write_text_atomic(out_dir / "ranking.md", ranking_markdown(summary))
  rundir.write_text_atomic(out_dir / "ranking.csv", ranking_csv(summary))
  if plot:
    runs = [("", res.metrics, [typed[i] for i in members])
            for members, res in zip(groups.values(), results)]
    figures.plot_curves(runs, out_dir / "curves.png",
                        title=f"{summary['algorithm']} {summary['env']}: {len(typed)} settings, "
                              f"mean over {summary['num_seeds']} seeds, 95% bootstrap interval")


def _group(algorithm: str, config: Any, typed: list[dict], **spec_fields):
  """Settings grouped by their non-hyperparameter fields (one compiled call each): the groups
  ``{static fields: [setting indices]}`` and one :class:`RunSpec` per group."""
  hp_names = set(algorithms.hyperparam_names(algorithms.get(algorithm)))
  groups: dict[tuple, list[int]] = {}
  for i, s in enumerate(typed):
    static = tuple(sorted((k, v if not isinstance(v, list) else tuple(v)) for k, v in s.items()
                          if k not in hp_names))
    groups.setdefault(static, []).append(i)
  specs = []
  for static, members in groups.items():
    hp_settings = tuple({k: v for k, v in typed[i].items() if k in hp_names} for i in members)
    specs.append(runner.RunSpec(algorithm=algorithm,
                                config=dataclasses.replace(config, **dict(static)),
                                settings=hp_settings, **spec_fields))
  return groups, specs


def _open_sweep_dir(out_dir: pathlib.Path, plan: dict, resume: bool,
                    overwrite: bool) -> pathlib.Path:
  """Creates (or, with ``resume``, reopens; with ``overwrite``, replaces) the sweep directory."""
  if resume and overwrite:
    raise ValueError("resume and overwrite exclude each other.")
  exists = out_dir.exists() and any(out_dir.iterdir())
  if exists and not (resume or overwrite):
    raise ValueError(f"sweep directory {out_dir} already exists; pass resume=True to continue "
                     "it, overwrite=True to replace it, or choose another directory.")
  if exists and overwrite:
    if not (out_dir / "sweep.json").exists():
      raise ValueError(f"refusing to overwrite {out_dir}: it is not a jaxrl sweep directory.")
    shutil.rmtree(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  if resume and (out_dir / "sweep.json").exists():
    saved = rundir.read_json(out_dir / "sweep.json")
    if saved.get("plan") != _json_roundtrip(plan):
      raise ValueError(f"cannot resume {out_dir}: it holds a different sweep (its sweep.json "
                       "plan differs from this one's settings, seeds or config).")
  rundir.write_json(out_dir / "sweep.json", dict(status="running", plan=plan))
  return out_dir


def _rank(groups: dict, results: list, typed: list[dict]) -> dict:
  """``{"settings": rows in setting order, "ranking": indices by final eval return}``."""
  rows = []
  for members, res in zip(groups.values(), results):
    for j, i in enumerate(members):
      r = res.summary["settings"][j]
      rows.append(dict(setting=i, overrides=_encoded(typed[i]),
                       final_eval_return=r["final_eval_return"],
                       diverged_seeds=r["diverged_seeds"], divergence=r.get("divergence", [])))
  rows.sort(key=lambda r: r["setting"])
  return rundir.strict_json(dict(settings=rows, ranking=stats.rank(rows)))


def _encoded(setting: dict) -> dict:
  """A setting's values as its config writes them (``inf`` as ``"inf"``, tuples as lists), so
  sweep.json keeps them exactly."""
  return {k: algorithms.value_to_json(v) for k, v in setting.items()}


def _json_roundtrip(obj):
  """``obj`` as it reads back from :func:`rundir.write_json` (tuples become lists, non-finite
  floats null)."""
  import json  # pylint: disable=import-outside-toplevel
  return json.loads(json.dumps(rundir.strict_json(obj), allow_nan=False))


def _load_finished(spec: runner.RunSpec, run_dir: pathlib.Path) -> runner.RunResult:
  saved = runner.load_spec(run_dir)
  if saved.to_dict() != spec.to_dict():
    raise ValueError(f"cannot resume: {run_dir} was run with a different config.")
  summary = rundir.read_json(run_dir / rundir.SUMMARY)
  metrics = rundir.read_metrics(run_dir / rundir.METRICS)
  return runner.RunResult(spec=spec, metrics=metrics, summary=summary, final_state=None,
                          run_dir=run_dir)


def _num(x, fmt: str) -> str:
  """``x`` formatted, or ``-`` where it has no value (None/NaN: one seed, no evaluation)."""
  return "-" if x is None or not np.isfinite(x) else format(x, fmt)


def _diverged(row: dict) -> Any:
  """A row's diverged seeds (a count; a list counts its entries); None when not recorded."""
  d = row.get("diverged_seeds")
  return len(d) if isinstance(d, (list, tuple)) else d


def ranking_table(summary: dict) -> str:
  """The ranking as aligned text (what ``jaxrl sweep`` prints). Settings with diverged seeds
  rank after those without (:func:`jaxrl.training.stats.rank`) and say ``DIVERGED k/n``; ``-``
  marks a number that does not exist (no interval from one seed, no finished evaluation)."""
  lines = [f"{'rank':>4}  {'setting':>7}  {'final eval return':>18}  {'95% interval':>22}  overrides"]
  for rank, i in enumerate(summary["ranking"], 1):
    r = summary["settings"][i]
    f = r["final_eval_return"]
    div = (f"  DIVERGED {r['diverged_seeds']}/{summary['num_seeds']} seeds"
           if r["diverged_seeds"] else "")
    lines.append(f"{rank:>4}  {r['setting']:>7}  {_num(f['mean'], '>10.4g'):>10} +- "
                 f"{_num(f['std'], '<5.3g'):<5}  [{_num(f['ci95_low'], '>9.4g'):>9}, "
                 f"{_num(f['ci95_high'], '>9.4g'):>9}]  {r['overrides']}{div}")
  return "\n".join(lines)


_STAT_COLUMNS = ("mean", "median", "std", "ci95_low", "ci95_high", "n")


def ranking_markdown(summary: dict) -> str:
  """The ranking as a markdown table, best first: rank, setting, one column per field that
  varies between the settings (the fields they share are listed above the table), the final
  evaluation return's mean, median, std and bootstrap 95% interval over seeds, the number of
  seeds, and the diverged seeds where the summary records them."""
  rows = summary["settings"]
  overrides = [r.get("overrides", {}) for r in rows]
  varying = figures.varying_fields(overrides)
  shared = {k: v for k, v in (overrides[0] if overrides else {}).items() if k not in varying}
  diverged = any(_diverged(r) is not None for r in rows)
  head = ["rank", "setting", *varying, "final eval return (mean)", "median", "std",
          "95% interval", "seeds"] + (["diverged seeds"] if diverged else [])
  lines = [f"# {summary.get('algorithm', '')} {summary.get('env', '')}: ranking by final "
           "evaluation return", ""]
  if shared:
    lines += ["Shared by every setting: " + ", ".join(
        f"`{k}={figures.format_value(v)}`" for k, v in shared.items()), ""]
  lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
  for rank, i in enumerate(summary["ranking"], 1):
    r, f = rows[i], rows[i]["final_eval_return"]
    cells = [str(rank), str(r["setting"])]
    cells += [figures.format_value(r["overrides"][k]) if k in r["overrides"] else "default"
              for k in varying]
    cells += [_num(f["mean"], ".4g"), _num(f["median"], ".4g"), _num(f["std"], ".3g"),
              f"[{_num(f['ci95_low'], '.4g')}, {_num(f['ci95_high'], '.4g')}]", str(f["n"])]
    if diverged:
      cells.append("" if _diverged(r) is None else str(_diverged(r)))
    lines.append("| " + " | ".join(cells) + " |")
  lines += ["", "Final evaluation return: each seed's last evaluation; the interval is a "
            "percentile bootstrap 95% interval of the mean over seeds."]
  return "\n".join(lines) + "\n"


def ranking_csv(summary: dict) -> str:
  """The ranking as CSV, best first: ``rank, setting``, every override field (its value as
  Python writes it; empty where a setting leaves the field at its default), then
  ``final_eval_return_`` mean, median, std, ci95_low, ci95_high, n, and ``diverged_seeds``
  where the summary records them. Floats are written so that they read back exactly."""
  rows = summary["settings"]
  fields: list[str] = []
  for r in rows:
    fields += [k for k in r.get("overrides", {}) if k not in fields]
  diverged = any(_diverged(r) is not None for r in rows)
  buf = io.StringIO()
  w = csv.writer(buf, lineterminator="\n")
  w.writerow(["rank", "setting", *fields, *(f"final_eval_return_{c}" for c in _STAT_COLUMNS)]
             + (["diverged_seeds"] if diverged else []))
  for rank, i in enumerate(summary["ranking"], 1):
    r, f = rows[i], rows[i]["final_eval_return"]
    over = r.get("overrides", {})
    cells = [rank, r["setting"], *(_csv_value(over[k]) if k in over else "" for k in fields)]
    cells += [int(f[c]) if c == "n" else ("" if f[c] is None else repr(float(f[c])))
              for c in _STAT_COLUMNS]
    if diverged:
      cells.append("" if _diverged(r) is None else _diverged(r))
    w.writerow(cells)
  return buf.getvalue()


def _csv_value(v: Any) -> str:
  if isinstance(v, float):
    return repr(v)
  if isinstance(v, (list, tuple)):
    return figures.format_value(v)
  return str(v)
