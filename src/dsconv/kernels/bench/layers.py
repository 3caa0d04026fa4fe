"""Per-layer benchmark: every MobileNetV1/V2 depthwise 3x3 shape (and the V1 separable blocks) for dsconv,
PyTorch NCHW, PyTorch ``channels_last`` and ONNX Runtime, interleaved in one run.

Each row reports the median time per implementation, dsconv's GB/s and GFLOP/s, the roofline time
``max(bytes / bandwidth, flops / peak)`` (cache bandwidth when input + output fit in ``cache_bytes``, DRAM
otherwise) as a percentage reached by each implementation, and dsconv's speed-up over each other one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from dsconv.kernels import _memory
from dsconv.kernels.bench.timing import median_and_best

# (channels, input size, stride) of the depthwise 3x3 layers, paper tables (V1: Howard et al. 2017, Table 1;
# V2: Sandler et al. 2018, Table 2, expanded channels); duplicates removed.
V1_DEPTHWISE = ((32, 112, 1), (64, 112, 2), (128, 56, 1), (128, 56, 2), (256, 28, 1), (256, 28, 2),
                (512, 14, 1), (512, 14, 2), (1024, 7, 1))
V2_DEPTHWISE = ((96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 2), (384, 14, 1),
                (576, 14, 1), (576, 14, 2), (960, 7, 1))
# (in_channels, out_channels, input size, stride) of the V1 separable blocks.
V1_SEPARABLE = ((32, 64, 112, 1), (64, 128, 112, 2), (128, 128, 56, 1), (128, 256, 56, 2), (256, 256, 28, 1),
                (256, 512, 28, 2), (512, 512, 14, 1), (512, 1024, 14, 2), (1024, 1024, 7, 1))
QUICK_DEPTHWISE = ((32, 14, 1), (64, 14, 2))
QUICK_SEPARABLE = ((32, 64, 14, 1), (64, 128, 14, 2))


@dataclass
class Row:
    """One benchmarked shape."""

    kind: str  # "depthwise", "depthwise_backward" or "separable"
    family: str
    batch: int
    channels: int
    size: int
    stride: int
    out_channels: int
    flops: int
    nbytes: int
    roof_s: float
    times_s: dict[str, float] = field(default_factory=dict)  # medians
    best_s: dict[str, float] = field(default_factory=dict)  # minima (least disturbed by other processes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pct_of_roof"] = {k: 100.0 * self.roof_s / t for k, t in self.times_s.items()}
        d["speedup"] = {k: t / self.times_s["dsconv"] for k, t in self.times_s.items() if k != "dsconv"}
        d["speedup_best"] = {k: t / self.best_s["dsconv"] for k, t in self.best_s.items() if k != "dsconv"}
        return d


def _roof(flops: int, nbytes: int, machine, cache_bytes: int) -> float:
    bandwidth = machine.cache_gbs if machine.cache_gbs and nbytes <= cache_bytes else machine.dram_gbs
    return max(nbytes / (bandwidth * 1e9), flops / (machine.peak_gflops * 1e9))


def _ort_depthwise(x: np.ndarray, w: np.ndarray, stride: int, threads: int):
    """An ONNX Runtime session of one grouped Conv node, with IO binding to a reused output buffer."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    c = x.shape[1]
    out_hw = (x.shape[2] + 2 - 3) // stride + 1
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=c, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride])
    graph = helper.make_graph(
        [node], "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [x.shape[0], c, out_hw, out_hw])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what every onnxruntime since 1.12 reads
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # ORT's idle workers spin by default and would steal the 2 cores from the implementations timed next.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    y = _memory.empty((x.shape[0], c, out_hw, out_hw), np.float32)
    binding = sess.io_binding()
    binding.bind_cpu_input("x", x)
    binding.bind_output("y", "cpu", 0, np.float32, list(y.shape), y.ctypes.data)
    del onnx
    buffers = (x, y)  # the binding holds raw pointers: keep both arrays alive as long as the closure

    def run():
        sess.run_with_iobinding(binding)
        return buffers

    return run


def depthwise_row(family: str, batch: int, c: int, size: int, stride: int, machine, *, repeats: int,
                  threads: int, cache_bytes: int, onnx: bool = True) -> Row:
    """Time one depthwise 3x3 forward shape for every implementation."""
    import torch
    import torch.nn.functional as F

    from dsconv.kernels import _cl
    from dsconv.kernels.depthwise import cl_weight, make_problem

    ho = (size + 2 - 3) // stride + 1
    rng = np.random.default_rng(0)
    x = _memory.copy(rng.standard_normal((batch, c, size, size), dtype=np.float32))
    w = _memory.copy(rng.standard_normal((c, 1, 3, 3), dtype=np.float32))
    p = make_problem(x.shape, (3, 3), 1, (stride, stride), ((1, 1), (1, 1)), (1, 1), (ho, ho))
    x_cl = _memory.copy(x.transpose(0, 2, 3, 1)).reshape(batch, 1, size, size * c)
    w_cl, b = cl_weight(w, p, np.float32), _memory.zeros(c, np.float32)
    out = _memory.empty((batch, 1, ho, ho * c), np.float32)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    xt_cl = xt.contiguous(memory_format=torch.channels_last)
    fns = {
        "dsconv": lambda: _cl.forward(x_cl, w_cl, b, out, p.stride, p.pads, p.dilation),
        "torch_nchw": lambda: F.conv2d(xt, wt, None, stride, 1, 1, c),
        "torch_cl": lambda: F.conv2d(xt_cl, wt, None, stride, 1, 1, c),
    }
    if onnx:
        fns["onnxruntime"] = _ort_depthwise(x, w, stride, threads)
    flops = 2 * 9 * batch * ho * ho * c
    nbytes = 4 * (x.size + out.size + w.size)
    with torch.inference_mode():
        times, best = median_and_best(fns, repeats=repeats)
    return Row("depthwise", family, batch, c, size, stride, c, flops, nbytes, _roof(flops, nbytes, machine, cache_bytes), times, best)


def backward_row(family: str, batch: int, c: int, size: int, stride: int, machine, *, repeats: int,
                 cache_bytes: int) -> Row:
    """Time the depthwise input + weight gradients: dsconv kernels vs PyTorch in both layouts."""
    import torch

    from dsconv.kernels.depthwise import cl_weight, gradients_cl, make_problem

    ho = (size + 2 - 3) // stride + 1
    rng = np.random.default_rng(0)
    x = _memory.copy(rng.standard_normal((batch, c, size, size), dtype=np.float32))
    w = _memory.copy(rng.standard_normal((c, 1, 3, 3), dtype=np.float32))
    g = _memory.copy(rng.standard_normal((batch, c, ho, ho), dtype=np.float32))
    p = make_problem(x.shape, (3, 3), 1, (stride, stride), ((1, 1), (1, 1)), (1, 1), (ho, ho))
    x_cl = _memory.copy(x.transpose(0, 2, 3, 1)).reshape(batch, 1, size, size * c)
    g_cl = _memory.copy(g.transpose(0, 2, 3, 1)).reshape(batch, 1, ho, ho * c)
    w_cl = cl_weight(w, p, np.float32)

    def ours():
        return gradients_cl(g_cl, x_cl, w_cl, p)

    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)
    xc, gc = xt.contiguous(memory_format=torch.channels_last), gt.contiguous(memory_format=torch.channels_last)

    def torch_grads(xx, gg):
        return lambda: torch.ops.aten.convolution_backward(
            gg, xx, wt, None, [stride, stride], [1, 1], [1, 1], False, [0, 0], c, [True, True, False])

    fns = {"dsconv": ours, "torch_nchw": torch_grads(xt, gt), "torch_cl": torch_grads(xc, gc)}
    times, best = median_and_best(fns, repeats=repeats)
    flops = 2 * 2 * 9 * batch * ho * ho * c
    nbytes = 4 * (2 * x.size + g.size + 2 * w.size)
    return Row("depthwise_backward", family, batch, c, size, stride, c, flops, nbytes,
               _roof(flops, nbytes, machine, cache_bytes), times, best)


def matmul_variants(matmuls, resolve) -> list[tuple[str, str]]:
    """``(column, matmul)`` for the default (``"dsconv"``) and every other available pointwise product
    (``"dsconv_<matmul>"``); ``resolve`` maps ``"auto"`` to the default and rejects unavailable choices."""
    default = resolve("auto")
    out = [("dsconv", default)]
    for m in matmuls:
        if m in ("auto", default):
            continue
        try:
            out.append((f"dsconv_{resolve(m)}", m))
        except ValueError:  # not in this PyTorch build
            continue
    return out


def separable_row(batch: int, c: int, c_out: int, size: int, stride: int, machine, *, repeats: int,
                  cache_bytes: int) -> Row:
    """Time the fused block (dw+bias+ReLU -> pw+bias+ReLU, the module ``dsconv.optimize`` puts in a model) with
    every pointwise product (``dsconv`` is the default, ``dsconv_<matmul>`` the others) vs the unfused PyTorch
    sequence in both layouts."""
    import torch
    import torch.nn.functional as F

    from dsconv.kernels.modules import MATMULS, FusedSeparable2d, resolve_matmul

    ho = (size + 2 - 3) // stride + 1
    rng = np.random.default_rng(0)
    x = _memory.copy(rng.standard_normal((batch, c, size, size), dtype=np.float32))
    dw = _memory.copy(rng.standard_normal((c, 1, 3, 3), dtype=np.float32))
    pw = _memory.copy(rng.standard_normal((c_out, c, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c)))
    b1, b2 = _memory.copy(rng.standard_normal(c, dtype=np.float32)), _memory.copy(rng.standard_normal(c_out, dtype=np.float32))
    tx, tdw, tpw, tb1, tb2 = (torch.from_numpy(a) for a in (x, dw, pw, b1, b2))
    tx_cl = torch.from_numpy(_memory.copy(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)  # channels_last, aligned

    def unfused(xx):
        return lambda: F.relu(F.conv2d(F.relu(F.conv2d(xx, tdw, tb1, stride, 1, 1, c)), tpw, tb2))

    fns = {}
    for name, m in matmul_variants(MATMULS, resolve_matmul):
        block = FusedSeparable2d(tdw, tb1, tpw, tb2, stride, 1, 1, "relu", "relu", matmul=m)
        fns[name] = lambda block=block: block(tx_cl)
    fns.update(torch_nchw=unfused(tx), torch_cl=unfused(tx_cl))
    with torch.inference_mode():
        times, best = median_and_best(fns, repeats=repeats)
    flops = 2 * batch * ho * ho * c * (9 + c_out)
    nbytes = 4 * (x.size + batch * ho * ho * c_out + dw.size + pw.size)
    return Row("separable", "mobilenet_v1", batch, c, size, stride, c_out, flops, nbytes,
               _roof(flops, nbytes, machine, cache_bytes), times, best)
