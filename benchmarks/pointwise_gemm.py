"""The pointwise products of MobileNetV1 (batch 1) on every matrix-product routine at hand, timed in blocks.

Rows are the nine distinct ``(pixels, C_in, C_out)`` products; the summed line counts the 512->512 layer five
times, as the model runs it. Routines: NumPy's BLAS (``np.dot``, OpenBLAS) with 2 threads and with 1;
PyTorch's ``torch.mm`` (MKL); oneDNN's linear with a fused ReLU on a pre-reordered weight
(``torch.ops.mkldnn._linear_pointwise``); MKL's packed-weight product (``torch.ops.mkl._mkl_linear``);
ONNX Runtime's ``MatMul`` + ``Add`` + ``Relu`` (its MLAS matrix product) and its ``Conv`` 1x1 + ``Relu`` on the
``(1, C_in, H, W)`` tensor (its blocked NCHWc convolution, with the layout reorders it inserts around a lone
node counted in). The oneDNN and MKL operators are private PyTorch operators, tried here as candidates for the
fused block's product.

    OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 .venv/bin/python benchmarks/pointwise_gemm.py
"""

from __future__ import annotations


import numpy as np
import torch
from threadpoolctl import threadpool_limits

from dsconv.kernels.bench.layers import _ort_act, _ort_session
from dsconv.kernels.bench.timing import consecutive_median

# (pixels, C_in, C_out, times the model runs it)
SHAPES = ((12544, 32, 64, 1), (3136, 64, 128, 1), (3136, 128, 128, 1), (784, 128, 256, 1), (784, 256, 256, 1),
          (196, 256, 512, 1), (196, 512, 512, 5), (49, 512, 1024, 1), (49, 1024, 1024, 1))


def _us(f, calls: int = 40) -> float:
    return consecutive_median(f, calls=calls, warmup=5) * 1e6


def _ort_products(a: np.ndarray, b: np.ndarray) -> dict:
    """``run()`` closures of ONNX Runtime for ``relu(a @ b)``: as ``MatMul`` and as a 1x1 ``Conv`` on NCHW."""
    from onnx import helper

    m, k = a.shape
    n = b.shape[1]
    zero = {"bias": np.zeros(n, np.float32)}
    act, init = _ort_act("relu", "q", "y")
    matmul = _ort_session([helper.make_node("MatMul", ["x", "w"], ["p"]), helper.make_node("Add", ["p", "bias"], ["q"]),
                           *act], {"w": b, **zero, **init}, a, (m, n), threads=2)
    side = int(round(m ** 0.5))
    x = np.ascontiguousarray(a.T.reshape(1, k, side, side))
    conv = _ort_session([helper.make_node("Conv", ["x", "w", "bias"], ["q"], kernel_shape=[1, 1]), *act],
                        {"w": np.ascontiguousarray(b.T.reshape(n, k, 1, 1)), **zero, **init}, x, (1, n, side, side),
                        threads=2)
    return {"ORT MatMul+relu": matmul, "ORT Conv1x1+relu": conv}


def main() -> None:
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    total: dict[str, float] = {}
    with torch.inference_mode():
        for m, k, n, times in SHAPES:
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            o = np.empty((m, n), np.float32)
            ta, w, bias = torch.from_numpy(a), torch.from_numpy(np.ascontiguousarray(b.T)), torch.zeros(n)
            w_dnnl = torch.ops.mkldnn._reorder_linear_weight(w, m)
            w_mkl = torch.ops.mkl._mkl_reorder_linear_weight(w, m)
            ref = np.maximum(a @ b, 0)
            got = torch.ops.mkldnn._linear_pointwise(ta, w_dnnl, bias, "relu", [], "").numpy()
            assert np.allclose(got, ref, rtol=1e-3, atol=1e-3), "oneDNN linear disagrees with NumPy"
            assert np.allclose(np.maximum(torch.ops.mkl._mkl_linear(ta, w_mkl, w, bias, m).numpy(), 0), ref,
                               rtol=1e-3, atol=1e-3), "MKL packed linear disagrees with NumPy"
            row = {"np.dot": _us(lambda: np.dot(a, b, out=o))}
            with threadpool_limits(1, user_api="blas"):
                row["np.dot 1 thread"] = _us(lambda: np.dot(a, b, out=o))
            row["torch.mm"] = _us(lambda: torch.mm(ta, torch.from_numpy(b)))
            row["oneDNN linear+relu"] = _us(lambda: torch.ops.mkldnn._linear_pointwise(ta, w_dnnl, bias, "relu", [], ""))
            row["MKL packed"] = _us(lambda: torch.ops.mkl._mkl_linear(ta, w_mkl, w, bias, m))
            ort = _ort_products(a, b)
            got = ort["ORT MatMul+relu"]()[1]
            assert np.allclose(got, ref, rtol=1e-3, atol=1e-3), "ONNX Runtime MatMul disagrees with NumPy"
            got = ort["ORT Conv1x1+relu"]()[1].reshape(n, m).T
            assert np.allclose(got, ref, rtol=1e-3, atol=1e-3), "ONNX Runtime Conv disagrees with NumPy"
            for name, run in ort.items():
                row[name] = _us(run)
            gflop = 2 * m * k * n / 1e3
            print(f"({m:5d}, {k:4d}, {n:4d}): " + "  ".join(f"{name} {us:6.0f} us {gflop / us:4.0f} GFLOP/s"
                                                         for name, us in row.items()))
            for name, us in row.items():
                total[name] = total.get(name, 0.0) + us * times
    print("summed over the model's 13 pointwise layers (ms): " + ", ".join(f"{k} {v / 1e3:.2f}" for k, v in total.items()))


if __name__ == "__main__":
    main()
