"""Xception (Chollet 2017, "Xception: Deep Learning with Depthwise Separable Convolutions", arXiv:1610.02357).

Figure 5 of the paper: an entry flow (two 3 x 3 convolutions, then three residual blocks of separable
convolutions ending in a 3 x 3 max-pool of stride 2, with 1 x 1 stride-2 shortcuts), a middle flow of
eight residual blocks of three 728-channel separable convolutions, and an exit flow (one residual block,
two separable convolutions to 1536 and 2048 channels), then pooling and the classifier. The separable
convolutions have no batch norm or activation between depthwise and pointwise ("no intermediate
non-linearity", Section 4.7) and the ReLUs come before them (pre-activation), as in the paper's figure
and the Keras reference; the default input is 299 x 299 with unpadded stem convolutions.

``width`` scales every channel count (``make_divisible(., 8)``); ``dense=True`` replaces each
separable convolution by a standard 3 x 3 convolution.

Example:
    >>> import torch
    >>> xception(width=0.125, num_classes=10)(torch.randn(2, 3, 71, 71)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from dsconv.models._common import ClassifierHead, ZooModel, check_common
from dsconv.models._registry import register_model
from dsconv.nn.blocks import ConvNormAct, DepthwiseSeparable, make_divisible

# Two unpadded 3 x 3 convolutions (stride 2 then 1, 3 pixels lost) and four stride-2 stages: the smallest
# input keeping one pixel after the exit flow is 71 x 71 (the Keras reference's minimum too).
_MIN_SIZE = 71


def _sep(in_channels: int, out_channels: int, relu_first: bool, dense: bool) -> nn.Sequential:
    """(ReLU) -> separable 3 x 3 -> BN, the Xception unit."""
    conv = DepthwiseSeparable(in_channels, out_channels, 3, act_layer=None, act_dw=False, norm_dw=False, dense=dense)
    return nn.Sequential(nn.ReLU() if relu_first else nn.Identity(), conv)


class XceptionBlock(nn.Module):
    """Residual block of ``len(channels)`` separable convolutions, optionally ending in a stride-2 max-pool.

    Args:
        in_channels: input channels.
        channels: output channels of each separable convolution.
        stride: 2 adds the max-pool and a 1 x 1 stride-2 convolution with BN on the shortcut.
        relu_first: a ReLU before the first separable convolution (all blocks but the first).
        dense: standard convolutions instead of separable ones.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, channels[-1], ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: tuple[int, ...],
        stride: int = 1,
        *,
        relu_first: bool = True,
        dense: bool = False,
    ) -> None:
        super().__init__()
        units, c_in = [], in_channels
        for i, c_out in enumerate(channels):
            units.append(_sep(c_in, c_out, relu_first or i > 0, dense))
            c_in = c_out
        self.convs = nn.Sequential(*units)
        self.pool = nn.MaxPool2d(3, 2, padding=1) if stride == 2 else nn.Identity()
        if stride == 1 and in_channels == c_in:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = ConvNormAct(in_channels, c_in, 1, stride, act_layer=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convs(x)) + self.shortcut(x)  # (N, C_out, H / s, W / s)


class Xception(ZooModel):
    """Xception classifier.

    Args:
        num_classes: classifier outputs.
        in_channels: input image channels.
        width: channel multiplier.
        resolution: input size the cost figures are for (299 in the paper).
        dense: standard 3 x 3 convolutions instead of separable ones.
        dropout: dropout before the classifier.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``, ``H, W >= 71``.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 299,
        dense: bool = False, dropout: float = 0.0,
    ) -> None:
        num_classes, in_channels, width, resolution = check_common(
            "xception", num_classes=num_classes, in_channels=in_channels, width=width,
            resolution=resolution, min_resolution=_MIN_SIZE,
        )
        super().__init__("xception", (in_channels, resolution, resolution), (_MIN_SIZE, _MIN_SIZE))

        def ch(c: int) -> int:
            return make_divisible(c * width)

        self.stem = nn.Sequential(  # unpadded ("valid") as in the paper
            ConvNormAct(in_channels, ch(32), 3, 2, padding=0), ConvNormAct(ch(32), ch(64), 3, padding=0)
        )
        entry = [XceptionBlock(ch(64), (ch(128),) * 2, 2, relu_first=False, dense=dense)]
        entry += [XceptionBlock(ch(c_in), (ch(c),) * 2, 2, dense=dense) for c_in, c in ((128, 256), (256, 728))]
        self.entry_flow = nn.Sequential(*entry)
        self.middle_flow = nn.Sequential(*(XceptionBlock(ch(728), (ch(728),) * 3, dense=dense) for _ in range(8)))
        self.exit_flow = nn.Sequential(
            XceptionBlock(ch(728), (ch(728), ch(1024)), 2, dense=dense),
            _sep(ch(1024), ch(1536), False, dense), nn.ReLU(),
            _sep(ch(1536), ch(2048), False, dense), nn.ReLU(),
        )
        self.num_features = ch(2048)
        self.head = ClassifierHead(ch(2048), num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)  # (N, 64, H/2 - 3, ...)
        x = self.entry_flow(x)  # (N, 728, ~H/16, ~W/16)
        x = self.middle_flow(x)  # (N, 728, ~H/16, ~W/16)
        x = self.exit_flow(x)  # (N, 2048, ~H/32, ~W/32)
        return self.head(x)  # (N, num_classes)


@register_model
def xception(
    *, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 299,
    dense: bool = False, dropout: float = 0.0,
) -> Xception:
    """Xception at 299 x 299 (paper Figure 5)."""
    return Xception(num_classes, in_channels, width, resolution, dense, dropout)
