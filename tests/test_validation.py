"""jaxrl.validation: numbers taken by value whatever their container, wrong kinds refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import validation
from jaxrl.validation import POSITIVE, UNIT_INTERVAL, Rule


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), jnp.int32(3), np.array(3)])
def test_check_int_takes_integers_by_value(value):
  out = validation.check_int("n", value, minimum=1)
  assert out == 3 and type(out) is int


@pytest.mark.parametrize("value, match", [
    (2.5, "n must be an int, got 2.5"), (3.0, "n must be an int"), (True, "got the bool"),
    (np.bool_(True), "got the bool"), ("3", "n must be an int"), (np.zeros(2, int), "n must be"),
    (np.int64(0), r"n must be an int >= 1, got 0"), (-3, r"n must be an int >= 1, got -3"),
    (9, r"n must be an int <= 5, got 9")])
def test_check_int_refuses(value, match):
  with pytest.raises(ValueError, match=match):
    validation.check_int("n", value, minimum=1, maximum=5)


def test_check_int_refuses_a_traced_count():
  with pytest.raises(ValueError, match="must be a static int"):
    jax.jit(lambda n: validation.check_int("n", n))(3)


@pytest.mark.parametrize("value", [1e-3, np.float32(1e-3), jnp.float32(1e-3), np.array(1e-3), 1])
def test_check_scalar_takes_numbers_by_value(value):
  assert validation.check_scalar("tol", value, POSITIVE) == pytest.approx(1e-3 if value != 1 else 1)


@pytest.mark.parametrize("value, match", [
    (0.0, "tol must be positive, got 0.0"), (np.float32(0), "tol must be positive"),
    (jnp.asarray(0.0), "tol must be positive"), (-1, "tol must be positive"),
    (float("nan"), "tol must be positive"), (float("inf"), "tol must be positive"),
    (np.ones(2), "tol must be a single number"), (True, "got the bool"), ("1e-3", "a number")])
def test_check_scalar_refuses(value, match):
  with pytest.raises(ValueError, match=match):
    validation.check_scalar("tol", value, POSITIVE)


def test_traced_values_pass_the_value_checks():
  f = jax.jit(lambda x: (validation.check_scalar("x", x, POSITIVE),
                         validation.check_rule("x", x, POSITIVE),
                         validation.check_number("x", x, low=0.0))[0] * 2)
  assert float(f(-1.0)) == -2.0          # nothing to read while tracing: not checked, not wrong
  assert validation.is_traced(jax.make_jaxpr(lambda x: x)(1.0).jaxpr.invars[0]) is False
  assert validation.any_traced({"a": 1.0}) is False


def test_check_rule_names_the_bad_entry_of_a_batch():
  with pytest.raises(ValueError, match=r"lr must be positive, got -1.0 \(entry \(1,\) of a batch"):
    validation.check_rule("lr", np.array([1e-3, -1.0, 1e-2]), POSITIVE)
  validation.check_rule("lr", np.array([[1e-3, 1.0]]), POSITIVE)
  with pytest.raises(ValueError, match="must lie in"):
    validation.check_rule("p", 1.5, UNIT_INTERVAL)
  inf_ok = Rule(low=0.0, low_open=True, finite=False, words="must be positive")
  validation.check_rule("max_grad_norm", float("inf"), inf_ok)
  with pytest.raises(ValueError, match="must be positive"):
    validation.check_rule("max_grad_norm", float("nan"), inf_ok)


def test_check_number_intervals_read_as_intervals():
  with pytest.raises(ValueError, match=r"x must lie in \(0, 1\), got 1"):
    validation.check_number("x", 1, low=0, high=1, low_open=True, high_open=True)
  with pytest.raises(ValueError, match=r"x must lie in \[2, inf\), got 1"):
    validation.check_number("x", 1, low=2)
  assert validation.check_number("x", float("inf"), low=0, finite=False) == float("inf")


def test_check_choice_and_bool():
  assert validation.check_choice("loss", "mse", ("mse", "huber")) == "mse"
  with pytest.raises(ValueError, match=r"loss must be one of \('mse', 'huber'\), got 'l1'"):
    validation.check_choice("loss", "l1", ("mse", "huber"))
  assert validation.check_bool("flag", np.bool_(True)) is True
  with pytest.raises(ValueError, match="flag must be a bool, got 1"):
    validation.check_bool("flag", 1)
