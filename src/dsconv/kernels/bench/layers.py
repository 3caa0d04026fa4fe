"""Per-layer benchmark: every MobileNetV1/V2 depthwise 3x3 shape and separable block (V1's depthwise +
pointwise pairs, V2's depthwise + projection pairs) for dsconv, PyTorch NCHW, PyTorch ``channels_last`` and
ONNX Runtime, interleaved in one run.

Each row reports the median time per implementation, dsconv's GB/s and GFLOP/s, the roofline time
``max(bytes / bandwidth, flops / peak)`` (cache bandwidth when input + output fit in ``cache_bytes``, DRAM
otherwise) as a percentage reached by each implementation, and dsconv's speed-up over each other one. It also
reports the *stream roof*, ``max(stream, flops / peak)``, where ``stream`` is the median of a parallel call
that reads the row's input arrays and writes an array the size of its output, timed in the same rounds
(:func:`dsconv.kernels.bench.machine.stream`): the bytes moved from wherever they are at that point (the
two-level roof misses the last-level cache, and an empty parallel call's cost), and dsconv's share of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from dsconv.kernels import _memory
from dsconv.kernels.bench.machine import stream
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
# (in_channels, out_channels, input size, stride) of the V2 depthwise + projection pairs (expanded channels ->
# the block's output channels; the first block has no expansion).
V2_SEPARABLE = ((32, 16, 112, 1), (96, 24, 112, 2), (144, 24, 56, 1), (144, 32, 56, 2), (192, 32, 28, 1),
                (192, 64, 28, 2), (384, 64, 14, 1), (384, 96, 14, 1), (576, 96, 14, 1), (576, 160, 14, 2),
                (960, 160, 7, 1), (960, 320, 7, 1))
# the activations after the depthwise and the pointwise stage, per family
SEPARABLE_ACTS = {"mobilenet_v1": ("relu", "relu"), "mobilenet_v2": ("relu6", "none")}
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
    stream_roof_s: float | None = None  # max(median of the same-traffic stream, flops / peak)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pct_of_roof"] = {k: 100.0 * self.roof_s / t for k, t in self.times_s.items()}
        if self.stream_roof_s is not None:
            d["pct_of_stream_roof"] = {k: 100.0 * self.stream_roof_s / t for k, t in self.times_s.items()}
        d["speedup"] = {k: t / self.times_s["dsconv"] for k, t in self.times_s.items() if k != "dsconv"}
        d["speedup_best"] = {k: t / self.best_s["dsconv"] for k, t in self.best_s.items() if k != "dsconv"}
        return d


def _roof(flops: int, nbytes: int, machine, cache_bytes: int) -> float:
    bandwidth = machine.cache_gbs if machine.cache_gbs and nbytes <= cache_bytes else machine.dram_gbs
    return max(nbytes / (bandwidth * 1e9), flops / (machine.peak_gflops * 1e9))


def _timed(fns: dict, traffic, flops: int, machine, repeats: int) -> tuple[dict, dict, float]:
    """``(medians, minima, stream roof)``: ``fns`` and the same-traffic stream ``traffic`` timed in the same
    interleaved rounds; the stream's median (or the FLOP time at the machine's peak, if longer) is the roof."""
    times, best = median_and_best({**fns, "stream": traffic}, repeats=repeats)
    best.pop("stream")
    return times, best, max(times.pop("stream"), flops / (machine.peak_gflops * 1e9))


def _ort_session(nodes: list, initializers: dict[str, np.ndarray], x: np.ndarray, out_shape: tuple[int, ...],
                 threads: int):
    """A ``run()`` closure for an ONNX Runtime session of ``nodes`` (input ``"x"``, output ``"y"``), with IO
    binding to a reused output buffer."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))],
        initializer=[numpy_helper.from_array(a, name) for name, a in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what every onnxruntime since 1.12 reads
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # ORT's idle workers spin by default and would steal the 2 cores from the implementations timed next.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    y = _memory.empty(out_shape, np.float32)
    binding = sess.io_binding()
    binding.bind_cpu_input("x", x)
    binding.bind_output("y", "cpu", 0, np.float32, list(y.shape), y.ctypes.data)
    del onnx
    buffers = (x, y)  # the binding holds raw pointers: keep both arrays alive as long as the closure

    def run():
        sess.run_with_iobinding(binding)
        return buffers

    return run


def _ort_act(name: str, src: str, dst: str) -> tuple[list, dict[str, np.ndarray]]:
    """ONNX nodes (and initializers) applying activation ``name`` (``"relu"``, ``"relu6"``, ``"none"``)."""
    from onnx import helper

    if name == "relu":
        return [helper.make_node("Relu", [src], [dst])], {}
    if name == "relu6":
        lo, hi = f"{dst}_min", f"{dst}_max"
        return [helper.make_node("Clip", [src, lo, hi], [dst])], {lo: np.float32(0.0), hi: np.float32(6.0)}
    return [helper.make_node("Identity", [src], [dst])], {}


def _ort_depthwise(x: np.ndarray, w: np.ndarray, stride: int, threads: int):
    """An ONNX Runtime session of one grouped Conv node."""
    from onnx import helper

    c = x.shape[1]
    out_hw = (x.shape[2] + 2 - 3) // stride + 1
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=c, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride])
    return _ort_session([node], {"w": w}, x, (x.shape[0], c, out_hw, out_hw), threads)


def _ort_separable(x: np.ndarray, dw: np.ndarray, b1: np.ndarray, pw: np.ndarray, b2: np.ndarray, stride: int,
                   act_dw: str, act_pw: str, threads: int):
    """An ONNX Runtime session of the separable block: grouped Conv + bias -> act -> 1x1 Conv + bias -> act
    (ONNX Runtime fuses each convolution with its activation and runs them in its blocked layout)."""
    from onnx import helper

    c, c_out = x.shape[1], pw.shape[0]
    out_hw = (x.shape[2] + 2 - 3) // stride + 1
    act1, init1 = _ort_act(act_dw, "d", "a")
    act2, init2 = _ort_act(act_pw, "p", "y")
    nodes = [helper.make_node("Conv", ["x", "dw", "b1"], ["d"], group=c, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              strides=[stride, stride]), *act1,
             helper.make_node("Conv", ["a", "pw", "b2"], ["p"], kernel_shape=[1, 1]), *act2]
    return _ort_session(nodes, {"dw": dw, "b1": b1, "pw": pw, "b2": b2, **init1, **init2}, x,
                        (x.shape[0], c_out, out_hw, out_hw), threads)


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
        times, best, stream_roof = _timed(fns, stream(x_cl, w_cl, out), flops, machine, repeats)
    return Row("depthwise", family, batch, c, size, stride, c, flops, nbytes, _roof(flops, nbytes, machine, cache_bytes),
               times, best, stream_roof)


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
    flops = 2 * 2 * 9 * batch * ho * ho * c
    nbytes = 4 * (2 * x.size + g.size + 2 * w.size)
    # reads x and g, writes an input gradient (the weights and their gradient are a few KiB)
    times, best, stream_roof = _timed(fns, stream(x_cl, g_cl, _memory.empty(x_cl.shape, np.float32)), flops,
                                      machine, repeats)
    return Row("depthwise_backward", family, batch, c, size, stride, c, flops, nbytes,
               _roof(flops, nbytes, machine, cache_bytes), times, best, stream_roof)


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
                  cache_bytes: int, family: str = "mobilenet_v1", threads: int = 2, onnx: bool = True) -> Row:
    """Time the fused block (dw+bias+act -> pw+bias+act, the module ``dsconv.optimize`` puts in a model) with
    every pointwise product (``dsconv`` is the default, ``dsconv_<matmul>`` the others) vs the unfused PyTorch
    sequence in both layouts and ONNX Runtime's graph of the same block. The activations are the family's:
    ReLU after both stages in MobileNetV1, ReLU6 after the depthwise stage and none after the projection in
    MobileNetV2."""
    import torch
    import torch.nn.functional as F

    from dsconv.kernels.modules import MATMULS, FusedSeparable2d, resolve_matmul

    act_dw, act_pw = SEPARABLE_ACTS[family]
    ho = (size + 2 - 3) // stride + 1
    rng = np.random.default_rng(0)
    x = _memory.copy(rng.standard_normal((batch, c, size, size), dtype=np.float32))
    dw = _memory.copy(rng.standard_normal((c, 1, 3, 3), dtype=np.float32))
    pw = _memory.copy(rng.standard_normal((c_out, c, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c)))
    b1, b2 = _memory.copy(rng.standard_normal(c, dtype=np.float32)), _memory.copy(rng.standard_normal(c_out, dtype=np.float32))
    tx, tdw, tpw, tb1, tb2 = (torch.from_numpy(a) for a in (x, dw, pw, b1, b2))
    x_nhwc = _memory.copy(x.transpose(0, 2, 3, 1))
    tx_cl = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)  # channels_last, aligned
    acts = {"relu": F.relu, "relu6": F.relu6, "none": lambda t: t}
    f_dw, f_pw = acts[act_dw], acts[act_pw]

    def unfused(xx):
        return lambda: f_pw(F.conv2d(f_dw(F.conv2d(xx, tdw, tb1, stride, 1, 1, c)), tpw, tb2))

    fns = {}
    for name, m in matmul_variants(MATMULS, resolve_matmul):
        block = FusedSeparable2d(tdw, tb1, tpw, tb2, stride, 1, 1, act_dw, act_pw, matmul=m)
        fns[name] = lambda block=block: block(tx_cl)
    fns.update(torch_nchw=unfused(tx), torch_cl=unfused(tx_cl))
    if onnx:
        fns["onnxruntime"] = _ort_separable(x, dw, b1, pw, b2, stride, act_dw, act_pw, threads)
    flops = 2 * batch * ho * ho * c * (9 + c_out)
    nbytes = 4 * (x.size + batch * ho * ho * c_out + dw.size + pw.size)
    traffic = stream(x_nhwc, pw, _memory.empty((batch, ho, ho, c_out), np.float32))  # dw's weights: a few KiB
    with torch.inference_mode():
        times, best, stream_roof = _timed(fns, traffic, flops, machine, repeats)
    return Row("separable", family, batch, c, size, stride, c_out, flops, nbytes,
               _roof(flops, nbytes, machine, cache_bytes), times, best, stream_roof)
