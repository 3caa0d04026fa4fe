"""Fast CPU kernels (Numba): depthwise convolution forward and backward, the fused separable block,
the PyTorch autograd bridge and :func:`optimize`.

NumPy-level ops take the reference's signatures (:mod:`dsconv.functional`), so one parametrized test covers
both. Torch is imported only by the bridge (:mod:`dsconv.kernels.autograd`), the fused module and
:mod:`dsconv.kernels.optimize`, on first use.
"""

from __future__ import annotations

from dsconv._lazy import lazy_getattr
from dsconv.kernels.depthwise import (
    depthwise_conv1d,
    depthwise_conv1d_backward,
    depthwise_conv2d,
    depthwise_conv2d_backward,
    depthwise_conv3d,
    depthwise_conv3d_backward,
)
from dsconv.kernels.fused import FusedSeparableParams, fused_separable_conv2d

_LAZY = {
    "depthwise_conv_torch": "dsconv.kernels.autograd",
    "supports": "dsconv.kernels.autograd",
    "DepthwiseConvFunction": "dsconv.kernels.autograd",
}

__all__ = [
    "DepthwiseConvFunction",
    "FusedSeparableParams",
    "depthwise_conv1d",
    "depthwise_conv1d_backward",
    "depthwise_conv2d",
    "depthwise_conv2d_backward",
    "depthwise_conv3d",
    "depthwise_conv3d_backward",
    "depthwise_conv_torch",
    "fused_separable_conv2d",
    "supports",
]


__getattr__ = lazy_getattr(__name__, _LAZY)
