"""``dsconv._validation``: every helper's accepted values and its exact error wording."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dsconv import _validation as V


def raises(error, message):
    return pytest.raises(error, match=re.escape(message))


def test_check_int():
    assert V.check_int(3, "n") == 3
    assert V.check_int(np.int64(4), "n") == 4 and type(V.check_int(np.int64(4), "n")) is int
    with raises(TypeError, "`n` must be an integer. Received n=True"):
        V.check_int(True, "n")
    with raises(TypeError, "`n` must be an integer. Received n=2.0"):
        V.check_int(2.0, "n")
    with raises(TypeError, "`n` must be an integer. Received n='2'"):
        V.check_int("2", "n")


def test_check_positive_and_non_negative():
    assert V.check_positive(1, "k") == 1
    assert V.check_non_negative(0, "p") == 0
    with raises(ValueError, "`k` must be a positive integer (>= 1). Received k=0"):
        V.check_positive(0, "k")
    with raises(ValueError, "`p` must be a non-negative integer (>= 0). Received p=-1"):
        V.check_non_negative(-1, "p")
    with raises(TypeError, "`k` must be an integer. Received k=1.5"):
        V.check_positive(1.5, "k")


def test_check_positive_float():
    assert V.check_positive_float(2, "lr") == 2.0
    for bad in (0, -1.0, float("inf"), float("nan")):
        with raises(ValueError, "`lr` must be a finite number > 0. Received lr="):
            V.check_positive_float(bad, "lr")
    with raises(TypeError, "`lr` must be a real number. Received lr=False"):
        V.check_positive_float(False, "lr")
    with raises(TypeError, "`lr` must be a real number. Received lr='1'"):
        V.check_positive_float("1", "lr")


def test_check_fraction():
    assert V.check_fraction(1, "energy") == 1.0
    assert V.check_fraction(0.25, "energy") == 0.25
    for bad in (0.0, 1.5, -0.1, float("nan")):
        with raises(ValueError, "`energy` must be in (0, 1]. Received energy="):
            V.check_fraction(bad, "energy")
    with raises(TypeError, "`energy` must be a real number in (0, 1]. Received energy=None"):
        V.check_fraction(None, "energy")


def test_check_choice_and_data_format():
    assert V.check_choice("a", ("a", "b"), "mode") == "a"
    with raises(ValueError, "`mode` must be one of 'a', 'b'. Received mode='c'"):
        V.check_choice("c", ("a", "b"), "mode")
    with raises(ValueError, "`mode` must be one of 'a', 'b'. Received mode=1"):
        V.check_choice(1, ("a", "b"), "mode")
    assert V.check_data_format("channels_last") == "channels_last"
    with raises(ValueError, "`data_format` must be one of 'channels_first', 'channels_last'. Received data_format='NHWC'"):
        V.check_data_format("NHWC")


@pytest.mark.parametrize(("value", "n", "kwargs", "expected"), [
    (3, 2, {}, (3, 3)),
    ((1, 2, 3), 3, {}, (1, 2, 3)),
    ([2], 1, {}, (2,)),
    (np.int32(2), 2, {}, (2, 2)),
    (0, 2, {"allow_zero": True}, (0, 0)),
    ((0, 1), 2, {"allow_zero": True}, (0, 1)),
])
def test_to_tuple(value, n, kwargs, expected):
    result = V.to_tuple(value, n, "stride", **kwargs)
    assert result == expected and all(type(v) is int for v in result)


@pytest.mark.parametrize(("value", "kwargs", "error", "message"), [
    (True, {}, TypeError, "`stride` must be an int or a tuple of 2 ints. Received stride=True"),
    ("22", {}, TypeError, "`stride` must be an int or a tuple of 2 ints. Received stride='22'"),
    (2.0, {}, TypeError, "`stride` must be an int or a tuple of 2 ints. Received stride=2.0"),
    ((1, 2, 3), {}, ValueError, "`stride` must be an int or a tuple of 2 ints. Received stride=(1, 2, 3)"),
    ((1, True), {}, TypeError, "`stride` must contain only ints. Received stride=(1, True)"),
    ((1, 0), {}, ValueError, "`stride` entries must be positive (>= 1). Received stride=(1, 0)"),
    (0, {}, ValueError, "`stride` entries must be positive (>= 1). Received stride=0"),
    (-1, {"allow_zero": True}, ValueError, "`stride` entries must be non-negative (>= 0). Received stride=-1"),
])
def test_to_tuple_errors(value, kwargs, error, message):
    with raises(error, message):
        V.to_tuple(value, 2, "stride", **kwargs)


def test_check_float_array():
    x = np.zeros((2, 3), dtype=np.float32)
    assert V.check_float_array(x, "x") is x
    assert V.check_float_array(np.full(2, np.nan), "x", ndim=1).shape == (2,)  # NaN passes through
    assert V.check_float_array(np.zeros(1, np.float16), "x").dtype == np.float16
    with raises(TypeError, "`x` must be a NumPy array. Received x of type list"):
        V.check_float_array([1.0], "x")
    for dtype in (np.int64, np.bool_, np.complex64, object):
        with raises(TypeError, f"`x` must have a real floating dtype (float16/32/64). Received x.dtype={np.dtype(dtype)}"):
            V.check_float_array(np.zeros(2, dtype=dtype), "x")
    with raises(ValueError, "`x` must have 3 dimensions. Received x.shape=(2, 3)"):
        V.check_float_array(x, "x", ndim=3)
