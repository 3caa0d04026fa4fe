"""The rank-1 view of depthwise-separable convolutions (NumPy only, never imports torch).

A separable layer is a standard convolution whose kernel is ``W[o,i,x] = P[o,i] D[i,x]`` (seed 001):
every input-channel slice has rank 1, the kernel is a Khatri-Rao product, and each channel carries a
scaling ambiguity. This package composes and decomposes such kernels (1D, 2D, 3D; both block orders;
any depth multiplier; grouped convolutions), measures how separable a kernel is, and builds the
shift-task kernel that no single separable layer represents.
"""

from dsconv.structure.canonical import canonicalize
from dsconv.structure.compose import compose, flatten_kernel, khatri_rao
from dsconv.structure.decompose import Factorization, decompose, decompose_pw_dw, degrees_of_freedom
from dsconv.structure.examples import (
    output_mse_floor,
    rank1_residual,
    separable_residual,
    shift_task_kernel,
)
from dsconv.structure.spectra import is_separable, slice_ranks, slice_spectra

__all__ = [
    "Factorization",
    "canonicalize",
    "compose",
    "decompose",
    "decompose_pw_dw",
    "degrees_of_freedom",
    "flatten_kernel",
    "is_separable",
    "khatri_rao",
    "output_mse_floor",
    "rank1_residual",
    "separable_residual",
    "shift_task_kernel",
    "slice_ranks",
    "slice_spectra",
]
