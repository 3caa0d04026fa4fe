"""What a depthwise stage pays for what ran just before it: the kernel of one MobileNetV1 block of
``dsconv.optimize`` (batch 1) timed right after different calls, in rotation, on fixed buffers.

The cases: repeated (the kernel after itself); after the previous block's oneDNN product, reading that
product's output (the model's data flow) or the fixed input; after an empty 2-thread Numba call; after a
2-thread Numba copy of 1.6 MB; after 300 us of Python busy-waiting on one thread; after ``time.sleep(0.0003)``.

    .venv/bin/python benchmarks/handoff.py [BLOCK ...]   (block indices, default 2 7 11 12)
"""

from __future__ import annotations

import statistics
import sys
import time

import numba
import numpy as np
import torch

import dsconv
from dsconv.kernels import _cl, _memory, modules
from dsconv.kernels.bench.models import calibrate_batch_norms
from dsconv.kernels.depthwise import cl_input


@numba.njit(parallel=True)
def _noop(a: np.ndarray) -> None:
    for i in numba.prange(2):
        a[i] += 1.0


@numba.njit(parallel=True)
def _copy(a: np.ndarray, b: np.ndarray) -> None:
    for i in numba.prange(a.shape[0]):
        b[i] = a[i]


def _spin(seconds: float = 300e-6) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pass


def main() -> None:
    which = [int(a) for a in sys.argv[1:]] or [2, 7, 11, 12]
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    torch.manual_seed(0)
    model = dsconv.create_model("mobilenet_v1")
    calibrate_batch_norms(model, 224)
    fast = dsconv.optimize(model.eval(), matmul="onednn")  # the two-stage block
    blocks = [m for m in fast.modules() if isinstance(m, modules.FusedSeparable2d)]
    inputs: dict[modules.FusedSeparable2d, torch.Tensor] = {}
    z, big = np.zeros(2), np.ones(400_000, np.float32)
    big2 = np.empty_like(big)
    with torch.inference_mode():
        hooks = [b.register_forward_pre_hook(lambda m, a: inputs.__setitem__(m, a[0])) for b in blocks]
        fast(torch.randn(1, 3, 224, 224))
        for h in hooks:
            h.remove()
        _noop(z)
        _copy(big, big2)
        for bi in which:
            b, prev = blocks[bi], blocks[bi - 1]
            params = b._params(tuple(inputs[b].shape), np.dtype(np.float32))
            p = params.problem
            prev_params = prev._params(tuple(inputs[prev].shape), np.dtype(np.float32))
            a_prev = torch.from_numpy(prev_params.depthwise(modules._nhwc(inputs[prev])))
            w_prev, b_prev, attr, scalars, _, _ = prev._product(prev_params, torch.float32, True)
            out = _memory.empty((p.batch, 1, p.out_size[1], p.out_size[2] * p.out_channels), np.float32)
            fixed = cl_input(modules._nhwc(inputs[b]).copy(), p, np.float32)

            def product() -> torch.Tensor:
                return torch.ops.mkldnn._linear_pointwise(a_prev, w_prev, b_prev, attr, scalars, "")

            def product_output() -> np.ndarray:
                y = product().reshape(p.batch, p.spatial[1], p.spatial[2], -1).numpy()
                return cl_input(y, p, np.float32)

            cases = {
                "repeated": lambda: fixed,
                "after the product, its output": product_output,
                "after the product, fixed input": lambda: (product(), fixed)[1],
                "after an empty Numba call": lambda: (_noop(z), fixed)[1],
                "after a Numba copy of 1.6 MB": lambda: (_copy(big, big2), fixed)[1],
                "after 300 us of Python": lambda: (_spin(), fixed)[1],
                "after sleep(0.0003)": lambda: (time.sleep(0.0003), fixed)[1],
            }
            times: dict[str, list[float]] = {k: [] for k in cases}
            for _ in range(150):
                for name, before in cases.items():
                    x = before()
                    t0 = time.perf_counter()
                    _cl.forward_act(x, params.w_cl, params.dw_bias, out, p.stride, p.pads, p.dilation, 1)
                    times[name].append(time.perf_counter() - t0)
            print(f"block {bi} {tuple(inputs[b].shape)[1:]}: "
                  + ", ".join(f"{k} {statistics.median(v) * 1e6:.0f} us" for k, v in times.items()), flush=True)


if __name__ == "__main__":
    main()
