"""Convert trained standard convolutions into depthwise-separable layers (``dsconv convert``).

``to_separable(model, rank=..., energy=..., max_macs=...)`` factors every ``nn.Conv{1,2,3}d`` with
:func:`dsconv.structure.decompose` (the best separable kernel in the Frobenius norm, slice by slice) and
reports, per layer, the rank, energy kept, kernel and output errors and the MACs/params saved.
"""

from dsconv.convert._core import to_separable
from dsconv.convert._files import load_model, save_model
from dsconv.convert._modules import GroupedSeparableConv, folded_kernel
from dsconv.convert._report import ConversionReport, LayerReport

__all__ = ["ConversionReport", "GroupedSeparableConv", "LayerReport", "folded_kernel", "load_model", "save_model", "to_separable"]
