"""Standard against depthwise separable convolution for one layer (what ``dsconv cost`` prints)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dsconv._validation import to_tuple
from dsconv.cost.formulas import cost_ratio, savings
from dsconv.cost.layers import LayerCost, conv_cost, separable_cost
from dsconv.functional.shapes import PaddingArg

__all__ = ["Comparison", "compare_separable"]


@dataclass(frozen=True)
class Comparison:
    """The two costs and their ratios (separable / standard)."""

    standard: LayerCost
    separable: LayerCost
    kernel_size: tuple[int, ...]

    @property
    def params_ratio(self) -> float:
        """``separable.params / standard.params``."""
        return self.separable.params / self.standard.params

    @property
    def macs_ratio(self) -> float:
        """``separable.macs / standard.macs`` (equals ``1/C_out + 1/k^2`` when ``depth_multiplier`` is 1)."""
        return self.separable.macs / self.standard.macs

    @property
    def formula_ratio(self) -> float | None:
        """The seed's ``1/C_out + 1/k^2`` (square kernels only, else ``None``)."""
        k = self.kernel_size
        if len(set(k)) != 1 or len(k) != 2:
            return None
        return cost_ratio(self.standard.output_shape[0], k[0])

    @property
    def formula_savings(self) -> float | None:
        """The seed's ``rho = 1 - (1/C_out + 1/k^2)`` (square 2D kernels only, else ``None``)."""
        k = self.kernel_size
        if len(set(k)) != 1 or len(k) != 2:
            return None
        return savings(self.standard.output_shape[0], k[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "standard": self.standard.as_dict(), "separable": self.separable.as_dict(),
            "params_ratio": self.params_ratio, "macs_ratio": self.macs_ratio,
            "formula_ratio": self.formula_ratio, "formula_savings": self.formula_savings,
        }


def compare_separable(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    input_size: Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: PaddingArg = "same",
    dilation: int | Sequence[int] = 1,
    depth_multiplier: int = 1,
    bias: bool = False,
    batch_size: int = 1,
    dtype: str = "float32",
) -> Comparison:
    """Costs of a standard ``k x k`` conv and of its depthwise separable replacement on one input.

    Defaults follow the seed's formulas: ``"same"`` padding (``H x W`` output at stride 1) and no bias.

    Example:
        >>> c = compare_separable(192, 384, 3, (56, 56))
        >>> round(c.macs_ratio, 4), round(c.formula_ratio, 4)
        (0.1137, 0.1137)
    """
    geometry = dict(stride=stride, padding=padding, dilation=dilation, bias=bias, batch_size=batch_size,
                    dtype=dtype)
    standard = conv_cost(in_channels, out_channels, kernel_size, input_size, **geometry)
    separable = separable_cost(in_channels, out_channels, kernel_size, input_size,
                               depth_multiplier=depth_multiplier, **geometry)
    return Comparison(standard, separable, to_tuple(kernel_size, len(tuple(input_size)), "kernel_size"))
