"""Code-generation requests for the Numba kernels' helpers, as intrinsics that cost nothing at run time.

- :func:`_wide_vectors`: let LLVM use 512-bit vectors in the calling function, and keep it out of line;
- :func:`_restrict`: mark the calling function's float data pointers ``noalias``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def _wide_vectors(typingctx):
    """Mark the calling function ``"prefer-vector-width"="512"`` and ``noinline`` (a no-op at run time).

    LLVM's x86 back end reads the attribute per function. Measured single-threaded on a 3x3 row loop in cache
    (``benchmarks/vector_width.py``, best of 3): 40-55 GFLOP/s with 512-bit vectors against 29-37 with 256-bit.
    llvmlite's attribute set has no API for key-value attributes, so the text is added to the set directly;
    should that ever fail, the function is compiled as before.
    """

    def codegen(context, builder, signature, args):
        attrs = builder.function.attributes
        try:
            set.add(attrs, '"prefer-vector-width"="512"')
            if "alwaysinline" not in attrs:
                attrs.add("noinline")
        except (TypeError, ValueError):  # pragma: no cover - a future llvmlite with a different attribute set
            pass
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def _restrict(typingctx):
    """Mark the calling function's float and double data pointers ``noalias`` (a no-op at run time).

    Numba cannot tell LLVM that a helper's output array and input arrays are distinct, so LLVM guards each
    vectorised loop with run-time overlap checks, and gives up vectorising a loop with many streams: the
    two-row pass of ``_cl._rows_3x3_pair`` ran scalar at 5-13 GFLOP/s without it and at 29-136 with it
    (``benchmarks/row_blocking.py``). Every helper that calls this is only ever given an output that no other
    argument reads (the kernels write into buffers they allocate); read-only arguments may still share
    memory, which ``noalias`` allows.
    """

    def codegen(context, builder, signature, args):
        for arg in builder.function.args:
            pointee = getattr(arg.type, "pointee", None)
            if isinstance(pointee, (ir.FloatType, ir.DoubleType)):
                arg.add_attribute("noalias")
        return context.get_dummy_value()

    return types.none(), codegen
