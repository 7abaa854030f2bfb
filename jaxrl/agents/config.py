"""Agent configs declared once: each field says what it is, its range, and whether it is swept.

An agent's config is a frozen dataclass deriving from :class:`AgentConfig`. Its fields are
declared with :func:`option` (static structure: shapes, loop lengths, choices; changing one
recompiles) or :func:`hyperparameter` (a number that becomes a leaf of the vmappable
hyperparameter pytree; a sweep varies it inside one compiled call)::

    @dataclasses.dataclass(frozen=True)
    class MyConfig(AgentConfig):
      num_envs: int = option(8, AT_LEAST_ONE)
      loss: str = option("mse", choices=("mse", "huber"))
      learning_rate: float = hyperparameter(1e-3, POSITIVE)

From that one declaration come

* ``MyConfig.hyperparams_type()``: a NamedTuple class with one field per hyperparameter, in
  declaration order (float fields are float32 leaves, int fields int32), for
  ``jax.vmap(train, in_axes=(0, 0))(keys, stacked_hyperparams)``;
* ``config.hyperparams()``: this config's values as that pytree of scalars;
* ``MyConfig.validate_hyperparams(hp)``: the eager range check of concrete hyperparameters of any
  batch shape (a swept batch names its first bad entry), and for traced ones the opt-in
  ``checkify`` check that :func:`jaxrl.validation.checked` raises;
* ``MyConfig.hyperparams_validity(hp)``: the same rules as per-member flags, traceable;
* ``config.check()``: the range / choice / type check of every declared field (ValueError naming
  the field, before anything compiles); the agent adds only its cross-field rules;
* the driver's and the command line's list of what a sweep may vary in one call
  (:func:`hyperparameter_names`).

Adding a swept hyperparameter is one line: the field. The agent then reads ``hp.<name>``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from jaxrl import validation
from jaxrl.validation import Rule

__all__ = (
    "AgentConfig",
    "POSITIVE_OR_INF",
    "hyperparameter",
    "hyperparameter_names",
    "option",
)

_KEY = "jaxrl"

#: ``> 0``, ``inf`` allowed (e.g. ``max_grad_norm``: inf disables clipping).
POSITIVE_OR_INF = Rule(low=0.0, low_open=True, finite=False,
                       words="must be positive (inf disables it)")


class _Hyperparameter(NamedTuple):
  rule: Rule


class _Option(NamedTuple):
  rule: Rule | None
  choices: tuple | None
  optional: bool


def hyperparameter(default: float | int, rule: Rule) -> Any:
  """A config field that a sweep may vary in one compiled call (a leaf of the hyperparameters).

  Args:
    default: the value (its field annotation, ``float`` or ``int``, sets the leaf's dtype:
      float32 or int32).
    rule: the valid range (:mod:`jaxrl.validation`'s ``POSITIVE``, ``UNIT_INTERVAL``, ...).
  """
  return dataclasses.field(default=default, metadata={_KEY: _Hyperparameter(rule)})


def option(default: Any, rule: Rule | None = None, *, choices: Sequence[Any] | None = None,
           optional: bool = False) -> Any:
  """A static config field (shapes, loop lengths, choices), checked by :meth:`AgentConfig.check`.

  Args:
    default: the value.
    rule: a range for a number (an ``int`` field must also hold an integer).
    choices: the allowed values (strings of a choice).
    optional: None is allowed too (and skips the other checks).
  """
  spec = _Option(rule, None if choices is None else tuple(choices), optional)
  return dataclasses.field(default=default, metadata={_KEY: spec})


_TYPES: dict[type, type] = {}


class AgentConfig:
  """Base of the agents' frozen config dataclasses (see the module docstring)."""

  def __post_init__(self):
    """Takes numpy and 0-d jax numbers by value: ``total_steps=np.int64(5000)`` stores the
    Python ``5000`` (one config, one JSON file, one fingerprint); :meth:`check` judges the
    values (``2.5`` for an int field, ``True`` for a number are refused there)."""
    for f in dataclasses.fields(self):
      value = getattr(self, f.name)
      if isinstance(value, tuple):
        plain = tuple(validation.plain_scalar(v) for v in value)
      else:
        plain = validation.plain_scalar(value)
      if plain is not value:
        object.__setattr__(self, f.name, plain)

  @classmethod
  def _declared(cls) -> list[tuple[dataclasses.Field, Any, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, f.metadata.get(_KEY), hints[f.name]) for f in dataclasses.fields(cls)]

  @classmethod
  def hyperparams_type(cls) -> type:
    """The NamedTuple class of this config's hyperparameters (one field each, in order)."""
    if cls not in _TYPES:
      fields = [f.name for f, spec, _ in cls._declared() if isinstance(spec, _Hyperparameter)]
      name = cls.__name__.removesuffix("Config") + "Hyperparams"
      hp_cls = NamedTuple(name, [(n, jax.Array) for n in fields])
      hp_cls.__module__ = cls.__module__
      hp_cls.__doc__ = (
          f"{cls.__name__}'s hyperparameters, generated from its fields: {', '.join(fields)}. "
          "Every field is a scalar (float32 or int32); add a leading axis to every field and "
          "``jax.vmap`` to sweep them. Made by ``config.hyperparams()``.")
      _TYPES[cls] = hp_cls
    return _TYPES[cls]

  def hyperparams(self) -> Any:
    """This config's hyperparameters as a pytree of scalars (``hyperparams_type()``)."""
    values = {}
    for f, spec, hint in self._declared():
      if isinstance(spec, _Hyperparameter):
        dtype = jnp.int32 if hint is int else jnp.float32
        values[f.name] = jnp.asarray(getattr(self, f.name), dtype)
    return self.hyperparams_type()(**values)

  @classmethod
  def validate_hyperparams(cls, hp: Any) -> None:
    """Raises ValueError for concrete hyperparameters (any batch shape) outside their ranges.

    A traced field (inside ``jit``/``vmap``: nothing to read) gets the traced twin of the check
    instead (:func:`jaxrl.validation.check_rule_traced`): free in a plain ``jit``, a ValueError
    naming the field, the value (and under ``checked(train, in_axes=...)`` the batch member)
    when the call runs under :func:`jaxrl.validation.checked`. The trainers call this on entry.
    """
    for f, spec, _ in cls._declared():
      if isinstance(spec, _Hyperparameter):
        name, value = f"{cls.__name__}.{f.name}", getattr(hp, f.name)
        if validation.is_traced(value):
          validation.check_rule_traced(name, value, spec.rule)
        else:
          validation.check_rule(name, value, spec.rule)

  @classmethod
  def hyperparams_validity(cls, hp: Any) -> dict[str, Any]:
    """The hyperparameters' range rules as flags, one per field and batch member; traceable.

    For a stacked ``hp`` (leading axes ``[*B]``) inside a compiled function, e.g. next to
    ``jax.vmap(train)(keys, hp)``; read the flags after the call and
    :func:`jaxrl.validation.raise_failures` names each failing field and member.

    Returns:
      ``{"{Config}.{field} {rule words}": bool [*B]}``, True where the member's value obeys the
      field's rule.
    """
    return {f"{cls.__name__}.{f.name} {spec.rule.describe()}":
            jnp.asarray(spec.rule.holds(jnp.asarray(getattr(hp, f.name))))
            for f, spec, _ in cls._declared() if isinstance(spec, _Hyperparameter)}

  def check(self) -> None:
    """Checks every declared field's type, range or choice (ValueError naming the field)."""
    owner = type(self).__name__
    for f, spec, hint in self._declared():
      value = getattr(self, f.name)
      name = f"{owner}.{f.name}"
      if isinstance(spec, _Hyperparameter):
        if hint is int:
          validation.check_int(name, value)
        continue
      if spec is None or (spec.optional and value is None):
        continue
      if spec.choices is not None:
        validation.check_choice(name, value, spec.choices)
      if hint is bool:
        validation.check_bool(name, value)
      if spec.rule is not None:
        if _is_int_hint(hint):
          validation.check_int(name, value)
        else:
          validation.check_number(name, value, finite=spec.rule.finite)
        validation.check_rule(name, value, spec.rule)
    type(self).validate_hyperparams(self.hyperparams())


def _is_int_hint(hint) -> bool:
  """``int`` or ``int | None``."""
  if hint is int:
    return True
  return typing.get_origin(hint) in (typing.Union, types.UnionType) and int in typing.get_args(hint)


def hyperparameter_names(config_cls: type) -> tuple[str, ...]:
  """The fields of ``config_cls`` that a sweep can vary inside one compiled call."""
  return tuple(config_cls.hyperparams_type()._fields)
