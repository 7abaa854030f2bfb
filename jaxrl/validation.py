"""Eager argument checks shared by every module: Python, before anything is traced.

jaxrl validates at the edge (STYLE.md, principle 2): factories, configs and solvers check the
concrete values they are given and raise ``ValueError`` naming the argument, the rule and the
value. Inside ``jit``/``vmap`` the values are tracers, nothing can be read, and the checks pass
them through (:func:`is_traced`); shapes are still checked with ``chex`` asserts.

Numbers are taken by value whatever their container: a Python ``int``, ``np.int64(3)``,
``jnp.int32(3)`` or a 0-d array are all the integer 3; ``2.5`` or ``True`` are not integers.

    check_int("DQNConfig.num_envs", 8, minimum=1)       -> 8
    check_number("tol", np.float32(1e-6), low=0, low_open=True)
    check_choice("DQNConfig.loss", "huber", ("mse", "huber"))

:class:`Rule` is a range as data (``POSITIVE``, ``UNIT_INTERVAL``, ...): the agents' configs attach
one to each hyperparameter field, and :func:`check_rule` applies it to an array of any shape (a
swept batch), naming the first offending entry.

Traced values (opt-in). Under ``jit``/``vmap`` a value cannot be read in Python, so the eager checks
pass it. The traced twins state the same rules as data and as ``checkify`` checks:

* ``Rule.holds`` works on tracers too (a ``jnp`` bool array), so a per-member flag can be
  computed inside a compiled function and read after it returns (:func:`raise_failures` turns a
  dict of such flags into the ValueError naming each failing batch member);
* :func:`check_rule_traced` / :func:`traced_check` emit a ``checkify.debug_check``: compiled away
  (no cost) in a plain ``jit``, and a ValueError naming the rule, the entry and its value when the
  call runs under :func:`checked` (or ``jax.experimental.checkify.checkify``). The MDP solvers
  and the agents' trainers emit them whenever their inputs are traced.

    train_checked = checked(train, in_axes=(0, 0))   # vmap inside: the error names the member
    state, metrics = train_checked(keys, stacked_hp)
    # ValueError: batch member 2: DQNConfig.learning_rate must be positive, got -0.001.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import operator
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

__all__ = (
    "AT_LEAST_ONE",
    "HALF_OPEN_UNIT",
    "NON_NEGATIVE",
    "POSITIVE",
    "Rule",
    "UNIT_INTERVAL",
    "any_traced",
    "check_bool",
    "check_choice",
    "check_int",
    "check_number",
    "check_rule",
    "check_rule_traced",
    "check_scalar",
    "checked",
    "failures",
    "is_traced",
    "plain_scalar",
    "raise_failures",
    "traced_check",
)


def is_traced(x: Any) -> bool:
  """True when ``x`` is a tracer (inside ``jit``/``vmap``/``grad``: its value cannot be read)."""
  return isinstance(x, jax.core.Tracer)


def any_traced(tree: Any) -> bool:
  """True when any leaf of the pytree ``tree`` is a tracer."""
  return any(is_traced(x) for x in jax.tree_util.tree_leaves(tree))


def plain_scalar(value: Any) -> Any:
  """A concrete numpy or 0-d jax number (``np.int64(3)``, ``jnp.float32(0.5)``, ``np.bool_``) as
  the Python ``int``/``float``/``bool`` of the same value; anything else is returned unchanged
  (tracers, arrays with a shape, strings: the field's check judges them).

  Dataclasses that store settings (agent configs, run specs) normalise with it, so that a value
  taken from numpy or jax is the same setting as the Python number (one JSON file, one hash).
  """
  if is_traced(value):
    return value
  if isinstance(value, (np.generic, np.ndarray, jax.Array)) and np.ndim(value) == 0:
    arr = np.asarray(value)
    if arr.dtype.kind in "biuf":
      return arr.item()
  return value


def _scalar(name: str, value: Any) -> Any:
  """``value`` as a Python number, or ValueError when it is not a single number."""
  if isinstance(value, (bool, np.bool_)):
    raise ValueError(f"{name} must be a number, got the bool {value!r}.")
  if isinstance(value, numbers.Number):
    return value
  if isinstance(value, (np.ndarray, np.generic, jax.Array)):
    if np.ndim(value) != 0:
      raise ValueError(f"{name} must be a single number, got an array of shape "
                       f"{np.shape(value)}.")
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
      raise ValueError(f"{name} must be a number, got the bool {arr.item()!r}.")
    if arr.dtype.kind not in "iuf":
      raise ValueError(f"{name} must be a real number, got dtype {arr.dtype}.")
    return arr.item()
  raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")


def check_int(name: str, value: Any, minimum: int | None = None,
              maximum: int | None = None) -> int:
  """``value`` as a Python ``int`` (numpy/jax integer scalars accepted by value).

  Raises:
    ValueError: ``"{name} must be an int, got ..."`` for bools, non-integral numbers (``2.5``,
      also ``3.0``), strings and arrays; ``"{name} must be an int >= {minimum}, got ..."`` and
      ``"{name} must be an int <= {maximum}, got ..."`` out of range. A traced value is refused too: a
      count that shapes a computation must be static.
  """
  if is_traced(value):
    raise ValueError(f"{name} must be a static int, got a traced value (pass a Python int, not "
                     "an array, into jit/vmap).")
  if isinstance(value, (bool, np.bool_)):
    raise ValueError(f"{name} must be an int, got the bool {value!r}.")
  try:
    as_int = operator.index(value)
  except TypeError:
    raise ValueError(f"{name} must be an int, got {value!r} ({type(value).__name__}).") from None
  if minimum is not None and as_int < minimum:
    raise ValueError(f"{name} must be an int >= {minimum}, got {as_int}.")
  if maximum is not None and as_int > maximum:
    raise ValueError(f"{name} must be an int <= {maximum}, got {as_int}.")
  return int(as_int)


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False,
                 finite: bool = True) -> Any:
  """Checks a real number (Python, numpy or 0-d jax) against ``[low, high]``; returns it as a
  Python number. A traced value is returned unchanged (nothing to read).

  ``low_open``/``high_open`` exclude the bound; ``finite=False`` admits ``inf`` (e.g. "no
  clipping"), never NaN.

  Raises:
    ValueError: naming ``name``, the interval and the value.
  """
  if is_traced(value):
    return value
  v = _scalar(name, value)
  if isinstance(v, complex):
    raise ValueError(f"{name} must be a real number, got {v!r}.")
  if math.isnan(v) or (finite and math.isinf(v)):
    raise ValueError(f"{name} must be a finite number, got {v}.")
  too_low = low is not None and (v <= low if low_open else v < low)
  too_high = high is not None and (v >= high if high_open else v > high)
  if too_low or too_high:
    raise ValueError(f"{name} must lie in {_interval(low, high, low_open, high_open)}, got {v}.")
  return v


def _interval(low, high, low_open, high_open) -> str:
  left = "(" if low_open or low is None else "["
  right = ")" if high_open or high is None else "]"
  lo = "-inf" if low is None else f"{low:g}"
  hi = "inf" if high is None else f"{high:g}"
  return f"{left}{lo}, {hi}{right}"


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
  """``value`` if it is one of ``choices`` (ValueError listing them otherwise)."""
  if value not in tuple(choices):
    raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}.")
  return value


def check_bool(name: str, value: Any) -> bool:
  """``value`` if it is a bool (``np.bool_`` accepted); 0/1 and strings are refused."""
  if not isinstance(value, (bool, np.bool_)):
    raise ValueError(f"{name} must be a bool, got {value!r}.")
  return bool(value)


@dataclasses.dataclass(frozen=True)
class Rule:
  """A valid range for a number, as data: ``low <= x <= high`` (``<`` where open).

  Attributes:
    low, high: the bounds (None: unbounded on that side).
    low_open, high_open: exclude the bound.
    finite: refuse infinities (NaN is always refused).
    words: how the rule reads in an error message ("must be positive").
  """

  low: float | None = None
  high: float | None = None
  low_open: bool = False
  high_open: bool = False
  finite: bool = True
  words: str = ""

  def holds(self, value: Any) -> Any:
    """Elementwise: inside the range, and finite (not NaN in any case). A numpy bool array for
    concrete values; a ``jnp`` bool array for traced ones (a per-member flag under ``vmap``)."""
    xp = jnp if is_traced(value) else np
    v = jnp.asarray(value, dtype=jnp.result_type(float)) if xp is jnp else np.asarray(
        value, dtype=np.float64)
    ok = xp.isfinite(v) if self.finite else ~xp.isnan(v)
    if self.low is not None:
      ok &= (v > self.low) if self.low_open else (v >= self.low)
    if self.high is not None:
      ok &= (v < self.high) if self.high_open else (v <= self.high)
    return ok

  def describe(self) -> str:
    return self.words or (
        f"must lie in {_interval(self.low, self.high, self.low_open, self.high_open)}")


POSITIVE = Rule(low=0.0, low_open=True, words="must be positive")
NON_NEGATIVE = Rule(low=0.0, words="must be >= 0")
UNIT_INTERVAL = Rule(low=0.0, high=1.0, words="must lie in [0, 1]")
HALF_OPEN_UNIT = Rule(low=0.0, high=1.0, low_open=True, words="must lie in (0, 1]")
AT_LEAST_ONE = Rule(low=1.0, words="must be at least 1")


def check_scalar(name: str, value: Any, rule: Rule) -> Any:
  """One number (Python, numpy or 0-d jax; not a bool, not an array) that obeys ``rule``;
  returned as a Python number. A traced value passes unchanged.

  Raises:
    ValueError: ``"{name} must be a number ..."`` or ``"{name} {rule words}, got {value}."``
  """
  if is_traced(value):
    return value
  v = _scalar(name, value)
  check_rule(name, v, rule)
  return v


def check_rule(name: str, value: Any, rule: Rule) -> None:
  """Raises ``ValueError("{name} {rule words}, got {bad}.")`` when any entry of a concrete
  ``value`` (a number or an array of any shape, e.g. a batch of swept settings) breaks ``rule``
  or is not finite. Traced values pass (:func:`check_rule_traced` checks them, opt-in)."""
  if is_traced(value):
    return
  arr = np.asarray(value)
  if arr.dtype.kind == "b":
    raise ValueError(f"{name} must be a number, got a bool.")
  if arr.dtype.kind not in "iuf":
    raise ValueError(f"{name} must be a number, got {value!r}.")
  good = rule.holds(arr)
  if not np.all(good):
    flat = arr.reshape(-1)
    where = int(np.argmin(good.reshape(-1)))
    index = tuple(int(i) for i in np.unravel_index(where, arr.shape))
    at = f" (entry {index} of a batch {arr.shape})" if arr.ndim else ""
    raise ValueError(f"{name} {rule.describe()}, got {flat[where]}{at}.")


# ---------------------------------------------------------------------------------------------
# Traced checks (opt-in): flags as data, and checkify checks
# ---------------------------------------------------------------------------------------------
def _escape(text: str) -> str:
  """``text`` as a literal inside a ``str.format`` template (checkify formats its messages)."""
  return text.replace("{", "{{").replace("}", "}}")


def traced_check(pred: Any, message: str, **values: Any) -> None:
  """Checks a traced predicate when the call runs under :func:`checked` (or ``checkify``).

  ``checkify.debug_check``: a no-op that XLA removes (with the computation of ``pred`` and
  ``values``) in a plain ``jit``, so library code may emit it unconditionally. ``message`` is a
  ``str.format`` template filled with ``values`` (arrays) when the check fails.
  """
  checkify.debug_check(jnp.asarray(pred, bool), message, **values)


def check_rule_traced(name: str, value: Any, rule: Rule) -> None:
  """The traced twin of :func:`check_rule`: under :func:`checked`, a ValueError
  ``"{name} {rule words}, got {bad}."`` (plus ``" (entry (i,) of a batch (B,))"`` for an array)
  when an entry of ``value`` breaks ``rule``; free otherwise (see :func:`traced_check`)."""
  value = jnp.asarray(value)
  ok = rule.holds(value)
  head = _escape(f"{name} {rule.describe()}, got ")
  if value.ndim == 0:
    traced_check(ok, head + "{value:.6g}.", value=value)
    return
  where = jnp.argmin(ok.reshape(-1))
  index = jnp.unravel_index(where, value.shape)
  fields = {f"i{k}": i for k, i in enumerate(index)}
  entry = ", ".join(f"{{i{k}}}" for k in range(value.ndim)) + ("," if value.ndim == 1 else "")
  traced_check(jnp.all(ok), head + "{value:.6g} (entry (" + entry + ") of a batch "
               + _escape(str(tuple(value.shape))) + ").", value=value.reshape(-1)[where], **fields)


def failures(flags: dict[str, Any]) -> list[str]:
  """The rules that fail in concrete per-member ``flags`` (``{rule: bool array [*B]}``, True
  where the rule holds, as the traced validity functions return them), each with the batch
  members that break it: ``"{rule}: batch member 3"``, ``"{rule}: batch members 1, 3 (of 5)"``,
  or ``"{rule}"`` for an unbatched flag."""
  out = []
  for rule, ok in flags.items():
    ok = np.asarray(ok)
    if ok.all():
      continue
    if ok.ndim == 0:
      out.append(rule)
      continue
    bad = [tuple(int(i) for i in b) for b in np.argwhere(~ok)]
    names = [str(b[0]) if len(b) == 1 else str(b) for b in bad]
    word = "member" if len(names) == 1 else "members"
    out.append(f"{rule}: batch {word} {', '.join(names)} (of a batch {ok.shape})")
  return out


def raise_failures(flags: dict[str, Any]) -> None:
  """Raises ValueError listing :func:`failures` of concrete ``flags``, one rule a line, e.g.
  after ``flags = jax.jit(jaxrl.mdp.validity)(batch)``; returns when every rule holds."""
  bad = failures(flags)
  if bad:
    raise ValueError("; ".join(bad) + ".")


#: How jax 0.10.2 refuses checkify of a vmapped while_loop: checkify-of-vmap raises the first;
#: vmap-of-checkify hits a batching bug of ``dce_sink`` that raises the second.
_BATCHED_WHILE = ("Checkify does not support batched while-loops",
                  "foreach() argument 2 is longer than argument 1")


def checked(fn, *, in_axes: Any = None, sequential: bool = False):
  """``fn`` compiled with its traced checks on: a call raises ValueError when one fails.

  ``jax.jit(checkify.checkify(fn, errors=checkify.user_checks))``, then the error is thrown in
  Python: the message names the rule, the offending entry and its value (jaxrl's solvers and
  trainers check their traced inputs; see :func:`traced_check`). With ``in_axes``, ``fn`` is
  mapped over a batch inside the checkify wrapper, so each failing member is named:
  ``"batch member 3: TabularMDP.transitions rows must sum to 1 ..."``. (``checked(jax.vmap(fn))``
  raises too, but checkify then reports one failing member's message without its index.)
  Without checks asked for, the same code compiles as if they were not there.

  The batch is mapped with ``jax.vmap`` (``jax.vmap(checkify(fn), in_axes)``), or one member
  after another with ``sequential=True`` (``lax.map``). jax 0.10's checkify cannot transform a
  ``while_loop`` under ``vmap``, so the MDP solvers need ``sequential=True`` (the vmapped form
  raises a ValueError that says so); the agents' trainers (``lax.scan`` loops) vmap. A batch of
  MDPs can also be checked in parallel with the flags of :func:`jaxrl.mdp.validity` and
  :func:`raise_failures`.

  Args:
    fn: a function of positional array arguments (close over static ones, e.g. with
      ``functools.partial``).
    in_axes: ``jax.vmap``'s ``in_axes`` to map ``fn`` over a batch; None: no mapping. With
      ``sequential=True``: 0 or None, or one of them per argument.
    sequential: map with ``lax.map`` instead of ``vmap`` (needs ``in_axes``).

  Returns:
    A function with ``fn``'s arguments and outputs (with a leading batch axis when mapped).

  Raises:
    ValueError: ``sequential`` without ``in_axes``, or ``in_axes`` other than 0/None with it;
      when called: a check failed (one line per failing member), or ``fn`` vmaps a while_loop.
  """
  inner = checkify.checkify(fn, errors=checkify.user_checks)
  if sequential:
    inner = _map_sequentially(inner, in_axes)
  elif in_axes is not None:
    inner = jax.vmap(inner, in_axes=in_axes)
  inner = jax.jit(inner)

  @functools.wraps(fn, assigned=("__name__", "__qualname__", "__doc__"), updated=())
  def run(*args):
    try:
      err, out = inner(*args)
    except ValueError as e:
      if not any(text in str(e) for text in _BATCHED_WHILE):
        raise
      raise ValueError(
          "checked: jax's checkify cannot transform a vmapped while_loop (jax 0.10; the MDP "
          "solvers loop): use checked(fn, in_axes=..., sequential=True), or read "
          "jaxrl.mdp.validity(batch) next to jax.vmap(solver)(batch) and pass it to "
          "jaxrl.validation.raise_failures.") from e
    message = err.get()
    if message is not None:
      lines = [line.replace("at mapped index", "batch member").replace(" (`check` failed)", "")
               for line in message.splitlines()]
      raise ValueError("\n".join(lines))
    return out

  return run


def _map_sequentially(fn, in_axes):
  """``fn`` mapped with ``lax.map`` over axis 0 of the arguments whose ``in_axes`` is 0."""
  if in_axes is None:
    raise ValueError("checked(sequential=True) maps over a batch: give in_axes (0, or 0/None "
                     "per argument).")
  if not isinstance(in_axes, (tuple, list)) and in_axes not in (0, None):
    raise ValueError(f"checked(sequential=True) maps axis 0; in_axes must be 0 or None (one per "
                     f"argument), got {in_axes!r}.")
  if isinstance(in_axes, (tuple, list)) and any(a not in (0, None) for a in in_axes):
    raise ValueError(f"checked(sequential=True) maps axis 0; in_axes must be 0 or None (one per "
                     f"argument), got {in_axes!r}.")

  def mapped(*args):
    axes = tuple(in_axes) if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    if len(axes) != len(args):
      raise ValueError(f"checked: in_axes {in_axes!r} has {len(axes)} entries for {len(args)} "
                       "arguments.")

    def one(batched):
      it = iter(batched)
      return fn(*[next(it) if ax == 0 else a for a, ax in zip(args, axes)])

    return jax.lax.map(one, [a for a, ax in zip(args, axes) if ax == 0])

  return mapped
