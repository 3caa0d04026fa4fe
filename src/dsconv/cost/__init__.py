"""Cost analysis: analytic per-layer costs, the seed's formulas, ``profile`` of any model, rooflines.

Conventions: ``macs`` are the multiply-adds of convolution and fully-connected layers (the papers'
"Mult-Adds"); ``flops = 2 x macs``; the operations of other layers are ``other_flops``.
Only :mod:`dsconv.cost.profile` and :mod:`dsconv.cost.roofline` users need torch, and it is imported
when ``profile`` runs, so ``import dsconv.cost`` stays NumPy-only.
"""

from dsconv.cost.compare import Comparison, compare_separable
from dsconv.cost.formulas import (
    cost_ratio,
    min_kernel_size,
    min_out_channels,
    reduction_factor,
    savings,
    separable_flops,
    separable_params,
    standard_flops,
    standard_params,
)
from dsconv.cost.layers import (
    DTYPE_BYTES,
    LayerCost,
    batch_norm_cost,
    classify_conv,
    conv_cost,
    depthwise_cost,
    linear_cost,
    pointwise_cost,
    pool_cost,
    separable_cost,
    squeeze_excitation_cost,
)
from dsconv.cost.profile import KINDS, KindTotals, Profile, ProfileRow, Unaccounted, profile
from dsconv.cost.roofline import PRESETS, Machine, Roofline, RooflineRow, layer_bound, roofline

__all__ = [
    "Comparison", "compare_separable",
    "cost_ratio", "min_kernel_size", "min_out_channels", "reduction_factor", "savings",
    "separable_flops", "separable_params", "standard_flops", "standard_params",
    "DTYPE_BYTES", "LayerCost", "batch_norm_cost", "classify_conv", "conv_cost", "depthwise_cost",
    "linear_cost", "pointwise_cost", "pool_cost", "separable_cost", "squeeze_excitation_cost",
    "KINDS", "KindTotals", "Profile", "ProfileRow", "Unaccounted", "profile",
    "PRESETS", "Machine", "Roofline", "RooflineRow", "layer_bound", "roofline",
]
