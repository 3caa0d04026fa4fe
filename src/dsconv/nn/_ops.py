"""The resolved torch ops behind ``dsconv.nn.functional`` and the layers (TorchScript-compatible).

Arguments here are already normalised: ``stride`` and ``dilation`` are lists of ints, padding is
either ``"same"`` (resolved per call from the input size, because with a stride it depends on it)
or ``"explicit"`` with ``pads = [before_0, after_0, before_1, after_1, ...]`` in spatial order.
The public functional ops normalise arbitrary arguments and call these; the layers normalise once
in ``__init__`` and call these from ``forward``, which keeps ``torch.jit.script`` working.

"same" padding uses ``dsconv.functional.shapes.same_padding``, the one place the rule lives
(it is plain integer arithmetic, so TorchScript compiles it too).
"""

from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from dsconv.functional.shapes import same_padding
from dsconv.nn import backend as _backend


def check_input(x: Tensor, n: int, channels: int) -> None:
    """Raise ValueError unless ``x`` is ``(N, channels, *spatial)`` with ``n`` spatial dimensions."""
    if x.dim() != n + 2:
        raise ValueError(
            f"`input` must be a {n + 2}D tensor (N, C, *spatial) for a {n}D convolution. "
            f"Received input.shape={list(x.shape)}"
        )
    if x.shape[1] != channels:
        raise ValueError(
            f"`input` must have {channels} channels (dimension 1) for this layer. Received input.shape={list(x.shape)}"
        )


def resolve_pads(
    x: Tensor, kernel_size: List[int], stride: List[int], dilation: List[int], padding: str, pads: List[int]
) -> List[int]:
    """Flat ``[before_0, after_0, ...]`` pads for this input (``padding`` is "same" or "explicit")."""
    if padding != "same":
        return pads
    out: List[int] = []
    for i in range(len(kernel_size)):
        before, after = same_padding(x.shape[2 + i], kernel_size[i], stride[i], dilation[i])
        out.append(before)
        out.append(after)
    return out


def _torch_pad_order(pads: List[int]) -> List[int]:
    """Spatial-order pads -> ``F.pad`` order (last dimension first)."""
    out: List[int] = []
    for i in range(len(pads) // 2 - 1, -1, -1):
        out.append(pads[2 * i])
        out.append(pads[2 * i + 1])
    return out


def _conv(
    x: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: List[int],
    padding: List[int],
    dilation: List[int],
    groups: int,
) -> Tensor:
    n = len(stride)
    if n == 1:
        return F.conv1d(x, weight, bias, stride, padding, dilation, groups)
    if n == 2:
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    return F.conv3d(x, weight, bias, stride, padding, dilation, groups)


def pad_input(x: Tensor, pads: List[int], padding_mode: str) -> Tensor:
    """Pad ``x`` by flat spatial-order ``pads`` with ``padding_mode`` (zeros/reflect/replicate/circular)."""
    mode = "constant" if padding_mode == "zeros" else padding_mode
    return F.pad(x, _torch_pad_order(pads), mode=mode)


@torch.jit.unused
def _dsconv_or_none(
    x: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: List[int],
    pads: List[int],
    dilation: List[int],
    backend: Optional[str],
) -> Optional[Tensor]:
    pairs = [(pads[2 * i], pads[2 * i + 1]) for i in range(len(pads) // 2)]
    return _backend.dsconv_depthwise_or_none(x, weight, bias, stride, pairs, dilation, backend)


def depthwise_conv(
    x: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: List[int],
    padding: str,
    pads: List[int],
    dilation: List[int],
    padding_mode: str,
    backend: Optional[str],
    in_channels: int,
) -> Tensor:
    """Depthwise convolution: ``(N, C, *n) -> (N, C * M, *out)`` with weight ``(C * M, 1, *k)``."""
    check_input(x, len(stride), in_channels)
    kernel_size: List[int] = weight.shape[2:]
    full = resolve_pads(x, kernel_size, stride, dilation, padding, pads)
    if padding_mode != "zeros" and max(full) > 0:
        x = pad_input(x, full, padding_mode)
        full = [0] * len(full)
    if not torch.jit.is_scripting():
        out = _dsconv_or_none(x, weight, bias, stride, full, dilation, backend)
        if out is not None:
            return out
    symmetric: List[int] = []
    for i in range(len(full) // 2):
        if full[2 * i] != full[2 * i + 1]:
            # Asymmetric ("same" with an odd total, explicit pairs, "causal"): pad once, convolve unpadded.
            x = pad_input(x, full, "zeros")
            return _conv(x, weight, bias, stride, [0] * len(stride), dilation, x.shape[1])
        symmetric.append(full[2 * i])
    return _conv(x, weight, bias, stride, symmetric, dilation, x.shape[1])


def pointwise_conv(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """Pointwise (1x1) convolution: ``(N, C_in, *n) -> (N, C_out, *n)`` with weight ``(C_out, C_in, 1, ...)``."""
    n = weight.dim() - 2
    check_input(x, n, weight.shape[1])
    ones = [1] * n
    return _conv(x, weight, bias, ones, [0] * n, ones, 1)
