"""Analytic costs of one layer from its shapes: parameters, MACs, FLOPs, activations, bytes, intensity.

Conventions (the papers' ones; :func:`dsconv.cost.profile` uses the same):

- ``macs`` counts the multiply-adds of convolution and fully-connected layers only (MobileNet's
  "Mult-Adds"); padded taps count (as in ``torch.utils.flop_counter``); biases add no MACs.
- ``flops = 2 x macs``. The operations of other layers (batch norm, pooling, activations, the scaling in
  squeeze-excitation) are ``other_flops``, reported separately.
- ``bytes_read`` = (weights + input) elements x itemsize, ``bytes_written`` = output elements x itemsize:
  each tensor moved once (the minimum traffic; caches decide whether the real traffic is higher).
- ``intensity = (flops + other_flops) / (bytes_read + bytes_written)``, FLOPs per byte.

Output sizes come from :func:`dsconv.functional.shapes.conv_geometry` (shape arithmetic lives there only).
``input_size`` is the spatial size ``(n_1, ..., n_d)``; 1D/2D/3D follow from its length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from dsconv._validation import check_choice, check_int, check_positive, to_tuple
from dsconv.functional.shapes import PaddingArg, conv_geometry

__all__ = [
    "LayerCost",
    "DTYPE_BYTES",
    "conv_cost",
    "depthwise_cost",
    "pointwise_cost",
    "separable_cost",
    "linear_cost",
    "batch_norm_cost",
    "pool_cost",
    "squeeze_excitation_cost",
    "classify_conv",
]

DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "uint8": 1}


@dataclass(frozen=True)
class LayerCost:
    """The cost of one layer (or a sum of layers) for one forward pass.

    Attributes:
        kind: ``"dense"``, ``"grouped"``, ``"depthwise"``, ``"pointwise"``, ``"separable"``, ``"fc"``,
            ``"batch_norm"``, ``"pool"``, ``"squeeze_excitation"`` or ``"sum"``.
        params: parameter count (weights and, if present, biases).
        macs: multiply-adds of conv / fully-connected products.
        other_flops: operations that are not conv / FC products (see the module docstring).
        input_shape, output_shape: ``(C, *spatial)`` without the batch.
        input_elements, output_elements: activation sizes including the batch.
        itemsize: bytes per element.
        parts: the layers a composite cost was summed from (e.g. depthwise and pointwise).
    """

    kind: str
    params: int
    macs: int
    other_flops: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_elements: int
    output_elements: int
    itemsize: int = 4
    parts: tuple[LayerCost, ...] = field(default=(), repr=False)

    @property
    def flops(self) -> int:
        """``2 x macs`` (a multiply-add is two floating-point operations)."""
        return 2 * self.macs

    @property
    def bytes_read(self) -> int:
        """Weights and input, each read once."""
        if self.parts:
            return sum(p.bytes_read for p in self.parts)
        return (self.params + self.input_elements) * self.itemsize

    @property
    def bytes_written(self) -> int:
        """Output, written once."""
        if self.parts:
            return sum(p.bytes_written for p in self.parts)
        return self.output_elements * self.itemsize

    @property
    def bytes_total(self) -> int:
        """``bytes_read + bytes_written``."""
        return self.bytes_read + self.bytes_written

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: ``(flops + other_flops) / bytes_total`` (FLOPs per byte)."""
        return (self.flops + self.other_flops) / self.bytes_total

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary of every figure."""
        return {
            "kind": self.kind, "params": self.params, "macs": self.macs, "flops": self.flops,
            "other_flops": self.other_flops, "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape), "input_elements": self.input_elements,
            "output_elements": self.output_elements, "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written, "intensity": self.intensity,
        }

    def __add__(self, other: LayerCost) -> LayerCost:
        """Sequential composition: ``self`` then ``other`` (the intermediate is written and read once)."""
        if not isinstance(other, LayerCost):
            return NotImplemented
        return LayerCost(
            kind="sum", params=self.params + other.params, macs=self.macs + other.macs,
            other_flops=self.other_flops + other.other_flops, input_shape=self.input_shape,
            output_shape=other.output_shape, input_elements=self.input_elements,
            output_elements=other.output_elements, itemsize=self.itemsize,
            parts=(*(self.parts or (self,)), *(other.parts or (other,))),
        )


def classify_conv(in_channels: int, out_channels: int, kernel_size: Sequence[int], groups: int) -> str:
    """The kind of a convolution: ``"depthwise"`` (one input channel per group, several groups),
    ``"pointwise"`` (all kernel sizes 1), ``"grouped"`` or ``"dense"``."""
    if groups > 1 and groups == in_channels:
        return "depthwise"
    if all(k == 1 for k in kernel_size):
        return "pointwise"
    return "grouped" if groups > 1 else "dense"


def conv_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    input_size: Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: PaddingArg = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    bias: bool = True,
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of a standard, grouped, depthwise or pointwise convolution (1D/2D/3D by ``len(input_size)``).

    Args:
        in_channels, out_channels: channel counts, both divisible by ``groups``.
        kernel_size, stride, dilation, padding: as in :func:`dsconv.functional.shapes.conv_geometry`.
        input_size: spatial input size ``(n_1, ..., n_d)``.
        groups: channel groups (``groups == in_channels`` is depthwise).
        bias: whether the layer has a bias (``out_channels`` parameters, no MACs).
        batch_size: images per forward pass (scales MACs and activations, not parameters).
        dtype: element type for the byte counts, one of ``DTYPE_BYTES``.

    Shape:
        output ``(out_channels, *out)`` with ``out_i = floor((n_i + pad_i - d_i (k_i - 1) - 1) / s_i) + 1``.

    Returns:
        A :class:`LayerCost` with ``params = out_channels x in_channels / groups x prod(k) (+ out_channels)``
        and ``macs = batch x prod(out) x out_channels x in_channels / groups x prod(k)``.

    Example:
        >>> conv_cost(192, 384, 3, (56, 56), padding=1, bias=False).macs == 56 * 56 * 9 * 192 * 384
        True
    """
    c_in = check_positive(in_channels, "in_channels")
    c_out = check_positive(out_channels, "out_channels")
    g = _check_groups(groups, c_in, c_out)
    size = _spatial(input_size)
    ks = to_tuple(kernel_size, len(size), "kernel_size")
    _, out = conv_geometry(size, ks, stride, padding, dilation)
    batch = check_positive(batch_size, "batch_size")
    weights = c_out * (c_in // g) * math.prod(ks)
    out_elements = batch * c_out * math.prod(out)
    return LayerCost(
        kind=classify_conv(c_in, c_out, ks, g),
        params=weights + (c_out if bias else 0),
        macs=out_elements * (c_in // g) * math.prod(ks),
        other_flops=0,
        input_shape=(c_in, *size),
        output_shape=(c_out, *out),
        input_elements=batch * c_in * math.prod(size),
        output_elements=out_elements,
        itemsize=_itemsize(dtype),
    )


def depthwise_cost(
    in_channels: int,
    kernel_size: int | Sequence[int],
    input_size: Sequence[int],
    *,
    depth_multiplier: int = 1,
    stride: int | Sequence[int] = 1,
    padding: PaddingArg = 0,
    dilation: int | Sequence[int] = 1,
    bias: bool = True,
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of a depthwise convolution: ``groups = in_channels``, ``out_channels = in_channels x depth_multiplier``.

    Returns:
        A :class:`LayerCost` of kind ``"depthwise"``: ``params = C M prod(k) (+ C M)``,
        ``macs = batch x prod(out) x C M x prod(k)``.
    """
    c_in = check_positive(in_channels, "in_channels")
    m = check_positive(depth_multiplier, "depth_multiplier")
    cost = conv_cost(c_in, c_in * m, kernel_size, input_size, stride=stride, padding=padding,
                     dilation=dilation, groups=c_in, bias=bias, batch_size=batch_size, dtype=dtype)
    return replace(cost, kind="depthwise")


def pointwise_cost(
    in_channels: int,
    out_channels: int,
    input_size: Sequence[int],
    *,
    bias: bool = True,
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of a pointwise (1 x ... x 1) convolution: ``macs = batch x prod(n) x C_in x C_out``."""
    return conv_cost(in_channels, out_channels, 1, input_size, bias=bias, batch_size=batch_size, dtype=dtype)


def separable_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    input_size: Sequence[int],
    *,
    depth_multiplier: int = 1,
    stride: int | Sequence[int] = 1,
    padding: PaddingArg = 0,
    dilation: int | Sequence[int] = 1,
    bias: bool = True,
    inner_bias: bool = False,
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of a depthwise separable convolution: depthwise (with its stride) then pointwise.

    As in ``dsconv.nn.SeparableConv*d`` (and Keras' ``SeparableConv2D``), ``bias`` is the output
    (pointwise) bias and ``inner_bias`` the depthwise one. The intermediate ``C M x out`` map is written
    by the depthwise stage and read by the pointwise one (unfused traffic); ``parts`` holds the two stages.
    """
    dw = depthwise_cost(in_channels, kernel_size, input_size, depth_multiplier=depth_multiplier,
                        stride=stride, padding=padding, dilation=dilation, bias=inner_bias,
                        batch_size=batch_size, dtype=dtype)
    pw = pointwise_cost(dw.output_shape[0], out_channels, dw.output_shape[1:], bias=bias,
                        batch_size=batch_size, dtype=dtype)
    return replace(dw + pw, kind="separable")


def linear_cost(
    in_features: int,
    out_features: int,
    *,
    bias: bool = True,
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of a fully-connected layer on ``batch_size`` vectors: ``macs = batch x in x out``."""
    f_in = check_positive(in_features, "in_features")
    f_out = check_positive(out_features, "out_features")
    batch = check_positive(batch_size, "batch_size")
    return LayerCost(
        kind="fc", params=f_in * f_out + (f_out if bias else 0), macs=batch * f_in * f_out, other_flops=0,
        input_shape=(f_in,), output_shape=(f_out,), input_elements=batch * f_in,
        output_elements=batch * f_out, itemsize=_itemsize(dtype),
    )


def batch_norm_cost(
    num_features: int,
    input_size: Sequence[int],
    *,
    affine: bool = True,
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of an inference-mode batch norm: ``y = x * scale + shift``, 2 ``other_flops`` per element.

    ``params`` counts the learnable ``weight`` and ``bias`` (``2 C`` when ``affine``); the running mean and
    variance are buffers, not parameters (at inference they fold into the ``2 C`` scale and shift).
    """
    c = check_positive(num_features, "num_features")
    size = _spatial(input_size, allow_empty=True)
    batch = check_positive(batch_size, "batch_size")
    elements = batch * c * math.prod(size)
    return LayerCost(
        kind="batch_norm", params=2 * c if affine else 0, macs=0, other_flops=2 * elements,
        input_shape=(c, *size), output_shape=(c, *size), input_elements=elements,
        output_elements=elements, itemsize=_itemsize(dtype),
    )


def pool_cost(
    channels: int,
    input_size: Sequence[int],
    kernel_size: int | Sequence[int] | None = None,
    *,
    stride: int | Sequence[int] | None = None,
    padding: PaddingArg = 0,
    dilation: int | Sequence[int] = 1,
    mode: str = "max",
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of max or average pooling; ``kernel_size=None`` is global pooling.

    Args:
        stride: defaults to ``kernel_size`` (PyTorch's convention).
        mode: ``"max"`` (``window - 1`` comparisons per output) or ``"avg"`` (``window - 1`` additions and
            one division per output, ``window`` in all).

    Returns:
        A :class:`LayerCost` of kind ``"pool"`` with no parameters and no MACs.
    """
    c = check_positive(channels, "channels")
    mode = check_choice(mode, ("max", "avg"), "mode")
    size = _spatial(input_size)
    ks = size if kernel_size is None else to_tuple(kernel_size, len(size), "kernel_size")
    _, out = conv_geometry(size, ks, ks if stride is None else stride, padding, dilation)
    batch = check_positive(batch_size, "batch_size")
    out_elements = batch * c * math.prod(out)
    window = math.prod(ks)
    per_output = window - 1 if mode == "max" else window
    return LayerCost(
        kind="pool", params=0, macs=0, other_flops=out_elements * per_output, input_shape=(c, *size),
        output_shape=(c, *out), input_elements=batch * c * math.prod(size), output_elements=out_elements,
        itemsize=_itemsize(dtype),
    )


def squeeze_excitation_cost(
    channels: int,
    reduced_channels: int,
    input_size: Sequence[int],
    *,
    bias: bool = True,
    batch_size: int = 1,
    dtype: str = "float32",
) -> LayerCost:
    """Cost of a squeeze-excitation block: global average pool, FC ``C -> R``, FC ``R -> C``, scale.

    ``macs`` are the two FC layers' ``2 C R`` per image; ``other_flops`` are the pooling (``C n``), the
    gate nonlinearities (``R + C``) and the channel scaling (``C n``), with ``n = prod(input_size)``.
    """
    c = check_positive(channels, "channels")
    r = check_positive(reduced_channels, "reduced_channels")
    size = _spatial(input_size)
    batch = check_positive(batch_size, "batch_size")
    squeeze = pool_cost(c, size, None, mode="avg", batch_size=batch, dtype=dtype)
    fc1 = linear_cost(c, r, bias=bias, batch_size=batch, dtype=dtype)
    fc2 = linear_cost(r, c, bias=bias, batch_size=batch, dtype=dtype)
    elements = batch * c * math.prod(size)
    scale = LayerCost(
        kind="scale", params=0, macs=0, other_flops=elements + batch * (r + c), input_shape=(c, *size),
        output_shape=(c, *size), input_elements=elements + batch * c, output_elements=elements,
        itemsize=_itemsize(dtype),
    )
    total = squeeze + fc1 + fc2 + scale
    return replace(total, kind="squeeze_excitation", input_shape=(c, *size), output_shape=(c, *size),
                   input_elements=elements, output_elements=elements)


def _spatial(input_size: Sequence[int], *, allow_empty: bool = False) -> tuple[int, ...]:
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence):
        raise TypeError(f"`input_size` must be a tuple of spatial sizes. Received input_size={input_size!r}")
    size = tuple(check_int(v, "input_size") for v in input_size)
    if not size and not allow_empty:
        raise ValueError(f"`input_size` must have at least one spatial dimension. Received input_size={size}")
    if any(v < 1 for v in size):
        raise ValueError(f"`input_size` entries must be positive (>= 1). Received input_size={size}")
    return size


def _check_groups(groups: int, in_channels: int, out_channels: int) -> int:
    g = check_positive(groups, "groups")
    if in_channels % g or out_channels % g:
        raise ValueError(
            f"`groups` must divide both in_channels ({in_channels}) and out_channels ({out_channels}). "
            f"Received groups={g}"
        )
    return g


def _itemsize(dtype: str) -> int:
    return DTYPE_BYTES[check_choice(dtype, tuple(DTYPE_BYTES), "dtype")]
