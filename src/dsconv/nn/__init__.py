"""PyTorch layers for depthwise, pointwise and depthwise-separable convolutions.

- ``DepthwiseConv{1,2,3}d``, ``PointwiseConv{1,2,3}d``, ``SeparableConv{1,2,3}d``: thin layers whose
  ``forward`` is one call into the torch ops of ``dsconv.nn.functional``;
- ``dsconv.nn.functional``: the ops, with the NumPy reference's argument names;
- ``dsconv.nn.init``: initialisation with grouped-aware fans;
- ``dsconv.nn.backend``: ``get_backend``, ``set_backend``, ``use_backend`` ("torch" or "dsconv").

Blocks built from these layers (MobileNet, EfficientNet) live in ``dsconv.nn.blocks``.
"""

from dsconv.nn import backend, functional, init
from dsconv.nn.backend import get_backend, set_backend, use_backend
from dsconv.nn.depthwise import DepthwiseConv1d, DepthwiseConv2d, DepthwiseConv3d
from dsconv.nn.pointwise import PointwiseConv1d, PointwiseConv2d, PointwiseConv3d
from dsconv.nn.separable import SeparableConv1d, SeparableConv2d, SeparableConv3d

__all__ = [
    "DepthwiseConv1d",
    "DepthwiseConv2d",
    "DepthwiseConv3d",
    "PointwiseConv1d",
    "PointwiseConv2d",
    "PointwiseConv3d",
    "SeparableConv1d",
    "SeparableConv2d",
    "SeparableConv3d",
    "backend",
    "functional",
    "get_backend",
    "init",
    "set_backend",
    "use_backend",
]
