"""Errors at the boundary of the reference ops: the message names the argument, the requirement and the value."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dsconv import functional as D

X = np.ones((1, 3, 5, 5))
W = np.ones((6, 1, 3, 3))  # depth multiplier 2
PW = np.ones((4, 6, 1, 1))


def raises(error, *parts):
    """``pytest.raises`` matching every part of the message (escaped, in order)."""
    return pytest.raises(error, match=".*".join(re.escape(p) for p in parts))


@pytest.mark.parametrize(("call", "error", "parts"), [
    (lambda: D.depthwise_conv2d(np.ones((3, 5, 5)), W), ValueError,
     ("`x` must be a 4D array (N, C, H, W)", "Received x.shape=(3, 5, 5)")),
    (lambda: D.depthwise_conv2d(np.ones((3, 5, 5)), W, data_format="channels_last"), ValueError,
     ("`x` must be a 4D array (N, H, W, C)", "data_format='channels_last'", "Received x.shape=(3, 5, 5)")),
    (lambda: D.depthwise_conv1d(np.ones((1, 3, 5, 5)), W), ValueError,
     ("`x` must be a 3D array (N, C, L)", "Received x.shape=(1, 3, 5, 5)")),
    (lambda: D.depthwise_conv3d(X, W), ValueError, ("`x` must be a 5D array (N, C, D, H, W)",)),
    (lambda: D.depthwise_conv2d(np.ones((1, 0, 5, 5)), W), ValueError,
     ("`x` must have at least one channel", "Received x.shape=(1, 0, 5, 5)")),
    (lambda: D.depthwise_conv2d(X, np.ones((6, 3, 3))), ValueError,
     ("`weight` must be a non-empty 4D array", "Received weight.shape=(6, 3, 3)")),
], ids=["rank", "rank-channels-last", "rank-1d", "rank-3d", "no-channels", "weight-rank"])
def test_wrong_rank(call, error, parts):
    with raises(error, *parts):
        call()


@pytest.mark.parametrize("weight_shape", [(4, 1, 3, 3), (6, 2, 3, 3), (3, 3, 3, 3)])
def test_depthwise_weight_must_match_channels_and_multiplier(weight_shape):
    with raises(ValueError, "`weight` must have shape (C * depth_multiplier, 1, *kernel_size) for C=3",
                f"Received weight.shape={weight_shape}"):
        D.depthwise_conv2d(X, np.ones(weight_shape))


def test_channels_last_reads_channels_from_the_last_axis():
    with raises(ValueError, "for C=5 input channels", "Received weight.shape=(6, 1, 3, 3)"):
        D.depthwise_conv2d(X, W, data_format="channels_last")


@pytest.mark.parametrize(("name", "value", "error", "message"), [
    ("stride", 0, ValueError, "`stride` entries must be positive (>= 1). Received stride=0"),
    ("stride", -2, ValueError, "`stride` entries must be positive (>= 1). Received stride=-2"),
    ("stride", 1.5, TypeError, "`stride` must be an int or a tuple of 2 ints. Received stride=1.5"),
    ("stride", (1, 2, 3), ValueError, "`stride` must be an int or a tuple of 2 ints. Received stride=(1, 2, 3)"),
    ("stride", (1, 2.0), TypeError, "`stride` must contain only ints. Received stride=(1, 2.0)"),
    ("dilation", (1, 0), ValueError, "`dilation` entries must be positive (>= 1). Received dilation=(1, 0)"),
    ("dilation", True, TypeError, "`dilation` must be an int or a tuple of 2 ints. Received dilation=True"),
    ("dilation", "2", TypeError, "`dilation` must be an int or a tuple of 2 ints. Received dilation='2'"),
])
def test_stride_and_dilation(name, value, error, message):
    with raises(error, message):
        D.depthwise_conv2d(X, W, **{name: value})
    with raises(error, message):
        D.depthwise_conv2d_backward(np.ones((1, 6, 3, 3)), X, W, **{name: value})


@pytest.mark.parametrize(("weight", "dilation", "span"), [(np.ones((3, 1, 7, 3)), 1, 7), (W, 3, 7)])
def test_kernel_larger_than_padded_input(weight, dilation, span):
    with raises(ValueError, f"`kernel_size` (dilated span {span}", "must not exceed the padded input size 5",
                "input size=(5, 5)"):
        D.depthwise_conv2d(X, weight, dilation=dilation)
    # Padding can make it fit.
    assert D.depthwise_conv2d(X, weight, dilation=dilation, padding=3).shape[0] == 1


@pytest.mark.parametrize(("padding", "error", "message"), [
    ("full", ValueError, "`padding` must be an int, a tuple, or one of 'valid', 'same', 'causal'. Received padding='full'"),
    ("SAME", ValueError, "Received padding='SAME'"),
    ("causal", ValueError, "`padding`='causal' is only defined for 1D convolutions. Received padding='causal' for 2D"),
    (-1, ValueError, "`padding` entries must be non-negative (>= 0). Received padding=-1"),
    (((0, 1), (1, -1)), ValueError, "`padding` entries must be non-negative (>= 0)"),
    (((0, 1, 2), (1, 1)), ValueError, "`padding` pairs must be (before, after)"),
    (1.0, TypeError, "`padding` must be an int, a tuple of 2 ints, a tuple of 2 (before, after) pairs"),
])
def test_bad_padding(padding, error, message):
    with raises(error, message):
        D.depthwise_conv2d(X, W, padding=padding)


@pytest.mark.parametrize(("x", "weight", "name", "dtype"), [
    (X.astype(np.int64), W, "x", "int64"),
    (X, W.astype(bool), "weight", "bool"),
    (X.astype(np.complex128), W, "x", "complex128"),
    (X, W.astype(np.int32), "weight", "int32"),
])
def test_non_float_dtypes_are_type_errors(x, weight, name, dtype):
    with raises(TypeError, f"`{name}` must have a real floating dtype", f"Received {name}.dtype={dtype}"):
        D.depthwise_conv2d(x, weight)
    with raises(TypeError, f"`{name}` must have a real floating dtype"):
        D.conv2d(x, weight, groups=3)


def test_non_arrays_are_type_errors():
    with raises(TypeError, "`x` must be a NumPy array. Received x of type list"):
        D.depthwise_conv2d(X.tolist(), W)
    with raises(TypeError, "`weight` must be a NumPy array. Received weight of type tuple"):
        D.pointwise_conv2d(X, (1.0,))


def test_bias_shape_and_dtype():
    with raises(ValueError, "`bias` must have shape (out_channels,) = (6,). Received bias.shape=(3,)"):
        D.depthwise_conv2d(X, W, np.ones(3))
    with raises(TypeError, "`bias` must have a real floating dtype", "Received bias.dtype=int64"):
        D.depthwise_conv2d(X, W, np.ones(6, dtype=np.int64))


def test_data_format():
    with raises(ValueError, "`data_format` must be one of 'channels_first', 'channels_last'. Received data_format='NHWC'"):
        D.depthwise_conv2d(X, W, data_format="NHWC")
    with raises(ValueError, "Received data_format='NCHW'"):
        D.pointwise_conv2d(X, np.ones((2, 3, 1, 1)), data_format="NCHW")


def test_grad_out_shape():
    with raises(ValueError, "`grad_out` must have the forward output's shape (1, 6, 3, 3)",
                "Received grad_out.shape=(1, 6, 4, 4)"):
        D.depthwise_conv2d_backward(np.ones((1, 6, 4, 4)), X, W)
    with raises(ValueError, "`grad_out` must have the forward output's shape (1, 3, 3, 6)"):
        D.depthwise_conv2d_backward(np.ones((1, 6, 3, 3)), np.ones((1, 5, 5, 3)), W, data_format="channels_last")
    with raises(ValueError, "`grad_out` must have the forward output's shape (1, 2, 5, 5)"):
        D.pointwise_conv2d_backward(np.ones((1, 3, 5, 5)), X, np.ones((2, 3, 1, 1)))


def test_pointwise_weight():
    with raises(ValueError, "`weight` must have shape (C_out, C_in, 1, 1) with C_in=3", "Received weight.shape=(4, 2, 1, 1)"):
        D.pointwise_conv2d(X, np.ones((4, 2, 1, 1)))
    with raises(ValueError, "`weight` must have shape (C_out, C_in, 1) with C_in=3", "Received weight.shape=(4, 3, 3)"):
        D.pointwise_conv1d(np.ones((1, 3, 5)), np.ones((4, 3, 3)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dw_weight": np.ones((4, 1, 3, 3))}, "`dw_weight` must have shape (C * depth_multiplier, 1, *kernel_size) for C=3"),
    ({"pw_weight": np.ones((4, 3, 1, 1))}, "`pw_weight` must have shape (C_out, C_in, 1, 1) with C_in=6"),
    ({"dw_bias": np.ones(2)}, "`dw_bias` must have shape (out_channels,) = (6,). Received dw_bias.shape=(2,)"),
    ({"pw_bias": np.ones(2)}, "`pw_bias` must have shape (out_channels,) = (4,). Received pw_bias.shape=(2,)"),
    ({"dw_weight": W.astype(np.int64)}, "`dw_weight` must have a real floating dtype"),
])
def test_separable_errors_name_the_separable_arguments(kwargs, message):
    arguments = {"x": X, "dw_weight": W, "pw_weight": PW, **kwargs}
    error = TypeError if "dtype" in message else ValueError
    with raises(error, message):
        D.separable_conv2d(**arguments)
    if "pw_bias" not in kwargs:
        with raises(error, message):
            D.separable_conv2d_backward(np.ones((1, 4, 3, 3)), **arguments)


@pytest.mark.parametrize(("groups", "weight_shape", "error", "message"), [
    (2, (4, 1, 3, 3), ValueError, "`groups` must divide both the input channels (3) and the output channels"),
    (0, (3, 1, 3, 3), ValueError, "`groups` must be a positive integer (>= 1). Received groups=0"),
    (1.0, (3, 3, 3, 3), TypeError, "`groups` must be an integer. Received groups=1.0"),
    (3, (6, 3, 3, 3), ValueError, "`weight` must have shape (C_out, C_in / groups, *kernel_size) with C_in / groups = 3 / 3 = 1"),
])
def test_grouped_conv_errors(groups, weight_shape, error, message):
    with raises(error, message):
        D.conv2d(X, np.ones(weight_shape), groups=groups)


def test_layout_errors():
    with raises(ValueError, "`kernel` must be a non-empty 3D to 5D array (*kernel_size, C, M). Received kernel.shape=(3, 3)"):
        D.keras_to_torch_depthwise(np.ones((3, 3)))
    with raises(ValueError, "divisible by depth_multiplier=4. Received weight.shape=(6, 1, 3, 3)"):
        D.torch_to_keras_depthwise(W, 4)
    with raises(ValueError, "`depth_multiplier` must be a positive integer (>= 1). Received depth_multiplier=0"):
        D.torch_to_keras_depthwise(W, 0)
    with raises(ValueError, "`kernel` must have spatial size 1 (a pointwise kernel). Received kernel.shape=(3, 3, 2, 2)"):
        D.keras_to_torch_pointwise(np.ones((3, 3, 2, 2)))
    with raises(ValueError, "`weight` must have spatial size 1 (a pointwise weight). Received weight.shape=(2, 2, 3)"):
        D.torch_to_keras_pointwise(np.ones((2, 2, 3)))
    with raises(TypeError, "`kernel` must be a NumPy array. Received kernel of type list"):
        D.keras_to_torch_pointwise([[[1.0]]])
    with raises(TypeError, "`kernel` must have a real numeric dtype. Received kernel.dtype=complex128"):
        D.keras_to_torch_depthwise(np.ones((3, 3, 2, 1), dtype=complex))
