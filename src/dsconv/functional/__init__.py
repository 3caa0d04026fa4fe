"""The NumPy reference ops: the specification every fast path and layer is tested against.

Imports NumPy only (never torch). Weights use PyTorch's grouped layout: depthwise ``(C * M, 1, *k)``,
pointwise ``(C_out, C_in, *ones)``, dense/grouped ``(C_out, C_in / groups, *k)``; every op takes
``data_format="channels_first" | "channels_last"``.
"""

from dsconv.functional.conv import conv1d, conv2d, conv3d
from dsconv.functional.depthwise import (
    depthwise_conv1d,
    depthwise_conv1d_backward,
    depthwise_conv2d,
    depthwise_conv2d_backward,
    depthwise_conv3d,
    depthwise_conv3d_backward,
)
from dsconv.functional.layout import (
    keras_to_torch_depthwise,
    keras_to_torch_pointwise,
    torch_to_keras_depthwise,
    torch_to_keras_pointwise,
)
from dsconv.functional.pointwise import (
    pointwise_conv1d,
    pointwise_conv1d_backward,
    pointwise_conv2d,
    pointwise_conv2d_backward,
    pointwise_conv3d,
    pointwise_conv3d_backward,
)
from dsconv.functional.separable import (
    separable_conv1d,
    separable_conv1d_backward,
    separable_conv2d,
    separable_conv2d_backward,
    separable_conv3d,
    separable_conv3d_backward,
)
from dsconv.functional.shapes import (
    conv_geometry,
    conv_output_size,
    effective_kernel_size,
    normalize_padding,
    resolve_padding,
    same_padding,
)

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_geometry",
    "conv_output_size",
    "depthwise_conv1d",
    "depthwise_conv1d_backward",
    "depthwise_conv2d",
    "depthwise_conv2d_backward",
    "depthwise_conv3d",
    "depthwise_conv3d_backward",
    "effective_kernel_size",
    "keras_to_torch_depthwise",
    "keras_to_torch_pointwise",
    "normalize_padding",
    "pointwise_conv1d",
    "pointwise_conv1d_backward",
    "pointwise_conv2d",
    "pointwise_conv2d_backward",
    "pointwise_conv3d",
    "pointwise_conv3d_backward",
    "resolve_padding",
    "same_padding",
    "separable_conv1d",
    "separable_conv1d_backward",
    "separable_conv2d",
    "separable_conv2d_backward",
    "separable_conv3d",
    "separable_conv3d_backward",
    "torch_to_keras_depthwise",
    "torch_to_keras_pointwise",
]
