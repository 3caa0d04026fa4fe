"""The NumPy reference ops: the specification every fast path and layer is tested against."""

from dsconv.functional.shapes import (
    conv_geometry,
    conv_output_size,
    effective_kernel_size,
    normalize_padding,
    resolve_padding,
    same_padding,
)

__all__ = [
    "conv_geometry",
    "conv_output_size",
    "effective_kernel_size",
    "normalize_padding",
    "resolve_padding",
    "same_padding",
]
