"""EfficientNet-B0..B7 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling", arXiv:1905.11946).

The B0 baseline (Table 1) is a 3 x 3 stem, seven stages of MBConv blocks (inverted residuals with
squeeze-excitation of ratio 0.25 of the block's input channels, SiLU/swish), a 1 x 1 convolution to
1280 channels, pooling and the classifier. Compound scaling multiplies channels by ``width`` (rounded
with ``make_divisible(., 8)``), repeats by ``depth`` (rounded up) and sets the input ``resolution``;
stochastic depth drops residual branches with a probability that grows linearly to
``drop_path`` (0.2) over the blocks. ``dense=True`` builds the Fused-MBConv twin.

Example:
    >>> import torch
    >>> efficientnet_b0(width=0.25, num_classes=10)(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from dsconv._validation import check_positive_float
from dsconv.models._common import ClassifierHead, ZooModel, check_common, check_dropout
from dsconv.models._registry import register_model
from dsconv.nn.blocks import ConvNormAct, InvertedResidual, make_divisible

# (expansion, kernel, first stride, channels, repeats): paper Table 1.
_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
           (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
_STEM = 32
_HEAD = 1280
_TOTAL_STRIDE = 32
# (width, depth, resolution, dropout) of B0..B7: the reference code's compound-scaling table.
SCALING = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5),
}


def _blocks(channels: int, width: float, depth: float, drop_path: float, dense: bool) -> tuple[nn.Sequential, int]:
    repeats = [math.ceil(n * depth) for *_, n in _STAGES]
    total, index, blocks = sum(repeats), 0, []
    for (expand, kernel, stride, out, _), n in zip(_STAGES, repeats):
        out = make_divisible(out * width)
        for i in range(n):
            blocks.append(
                InvertedResidual(
                    channels, out, kernel, stride if i == 0 else 1, expand_ratio=expand,
                    se_channels=max(1, int(channels * 0.25)), act_layer=nn.SiLU, se_act_layer=nn.SiLU,
                    drop_path=drop_path * index / total, dense=dense,
                )
            )
            channels, index = out, index + 1
    return nn.Sequential(*blocks), channels


class EfficientNet(ZooModel):
    """EfficientNet classifier.

    Args:
        num_classes: classifier outputs.
        in_channels: input image channels.
        width: channel multiplier (compound-scaling width coefficient).
        depth: repeat multiplier (compound-scaling depth coefficient).
        resolution: input size the cost figures are for.
        dense: Fused-MBConv twin.
        dropout: dropout before the classifier.
        drop_path: stochastic-depth probability of the last block.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``, ``H, W >= 32``.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, depth: float = 1.0,
        resolution: int = 224, dense: bool = False, dropout: float = 0.2, drop_path: float = 0.2,
    ) -> None:
        num_classes, in_channels, width, resolution = check_common(
            "efficientnet", num_classes=num_classes, in_channels=in_channels, width=width,
            resolution=resolution, min_resolution=_TOTAL_STRIDE,
        )
        depth = check_positive_float(depth, "depth")
        super().__init__("efficientnet", (in_channels, resolution, resolution), (_TOTAL_STRIDE, _TOTAL_STRIDE))
        stem = make_divisible(_STEM * width)
        self.stem = ConvNormAct(in_channels, stem, 3, 2, act_layer=nn.SiLU)
        self.blocks, channels = _blocks(stem, width, depth, check_dropout(drop_path, "drop_path"), dense)
        head = make_divisible(_HEAD * width)
        self.conv_head = ConvNormAct(channels, head, 1, act_layer=nn.SiLU)
        self.num_features = head
        self.head = ClassifierHead(head, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)  # (N, 32w, H/2, W/2)
        x = self.blocks(x)  # (N, 320w, H/32, W/32)
        x = self.conv_head(x)  # (N, 1280w, H/32, W/32)
        return self.head(x)  # (N, num_classes)


def _factory(variant: str) -> Callable[..., EfficientNet]:
    """Build and register the factory of one variant (its defaults are the variant's scaling)."""

    width_default, depth_default, res_default, dropout_default = SCALING[variant]

    def factory(
        *, num_classes: int = 1000, in_channels: int = 3, width: float = width_default,
        depth: float = depth_default, resolution: int = res_default, dense: bool = False,
        dropout: float = dropout_default, drop_path: float = 0.2,
    ) -> EfficientNet:
        return EfficientNet(num_classes, in_channels, width, depth, resolution, dense, dropout, drop_path)

    factory.__name__ = factory.__qualname__ = f"efficientnet_{variant}"
    factory.__doc__ = (
        f"EfficientNet-{variant.upper()}: width {width_default}, depth {depth_default}, "
        f"resolution {res_default}, dropout {dropout_default}."
    )
    return register_model(factory)


efficientnet_b0 = _factory("b0")
efficientnet_b1 = _factory("b1")
efficientnet_b2 = _factory("b2")
efficientnet_b3 = _factory("b3")
efficientnet_b4 = _factory("b4")
efficientnet_b5 = _factory("b5")
efficientnet_b6 = _factory("b6")
efficientnet_b7 = _factory("b7")
