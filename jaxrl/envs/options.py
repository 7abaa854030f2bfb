"""Environment options as data: each option's type and valid range, checked before compiling.

Every environment :func:`jaxrl.envs.make_configured` builds (jaxrl's, gymnax's and every
suite's) describes its options as ``{name: EnvOption}``. ``jaxrl train --env-kwargs`` parses the
text by the option's kind, and :func:`check_option` refuses a value of the wrong type or outside
its range with a message that names the environment, the option, the range and the value, before
anything is traced.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from jaxrl import validation

__all__ = ("EnvOption", "check_option", "check_options")

_KIND_WORDS = {int: "an int", float: "a number", bool: "a bool", str: "a string"}


class EnvOption(NamedTuple):
  """One environment option.

  Attributes:
    kind: ``int``, ``float``, ``bool`` or ``str``.
    rule: the valid range of a number (:class:`jaxrl.validation.Rule`; None: any finite value).
    choices: the allowed values of a ``str`` option (None: any string).
    doc: what the option means, one line.
  """

  kind: type
  rule: validation.Rule | None = None
  choices: tuple[str, ...] | None = None
  doc: str = ""

  def describe(self) -> str:
    """How the option reads in a listing: ``int >= 1``, ``str in ('mjx', 'positional')``."""
    if self.kind is str:
      return f"str in {self.choices}" if self.choices else "str"
    words = f" ({self.rule.describe()})" if self.rule is not None else ""
    return f"{self.kind.__name__}{words}"

  @property
  def kind_words(self) -> str:
    return _KIND_WORDS[self.kind]


def check_option(label: str, option: EnvOption, value: Any) -> Any:
  """``value`` checked against ``option`` and returned as a plain Python value (an int for an
  int option, a float for a float one: ``1`` is ``1.0``).

  Raises:
    ValueError: ``"{label} must be an int, got 2.5 (float)."``, ``"{label} must be >= 1, got
      -5."``, ``"{label} must be one of (...), got 'x'."``.
  """
  if option.kind is bool:
    return validation.check_bool(label, value)
  if option.kind is str:
    if not isinstance(value, str):
      raise ValueError(f"{label} must be a string, got {value!r} ({type(value).__name__}).")
    if option.choices is not None:
      validation.check_choice(label, value, option.choices)
    return value
  if option.kind is int:
    out = validation.check_int(label, value)
  else:
    out = float(validation.check_number(label, value))
  if option.rule is not None:
    validation.check_rule(label, out, option.rule)
  return out


def check_options(name: str, options: dict[str, EnvOption], env_kwargs: dict | None) -> dict:
  """Every item of ``env_kwargs`` checked against ``options`` (see :func:`check_option`).

  Raises:
    ValueError: an option ``name`` does not take (the message lists those it does), or a bad
      value.
  """
  env_kwargs = dict(env_kwargs or {})
  unknown = sorted(set(env_kwargs) - set(options))
  if unknown:
    raise ValueError(f"{name} has no environment option(s) {unknown}; its options: "
                     f"{', '.join(sorted(options)) or 'none'}.")
  return {key: check_option(f"{name} option {key}", options[key], value)
          for key, value in env_kwargs.items()}
