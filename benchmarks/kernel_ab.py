"""A/B of the depthwise forward (or, with ``--weight-grad``, weight-gradient; with ``--backward``, both gradients)
kernel against an earlier revision, interleaved in one process.

The module ``src/dsconv/kernels/_cl.py`` of ``--rev`` (``git show``) is loaded beside the working tree's, and
both run the MobileNetV1 3x3 shapes call by call in alternating order (their outputs are compared first), so
machine noise hits both alike. Prints each shape's medians and the geometric-mean speed-up per batch.
``--backward`` times the revision's two separate gradient kernels (the input gradient as ``input_gradient_cl``
runs it: the forward kernel with the flipped weights at stride 1, ``backward_input`` otherwise; then
``backward_weight``) against the working tree's ``backward_both`` (``--rev`` must predate it). ``--bf16``
times ``forward_act_bf16`` (bfloat16 input and output), with the revision's ``_bf16.py`` loaded beside
``_cl.py`` so that both helpers come from the revision.

    DSCONV_NUMBA_NOCACHE=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/kernel_ab.py --rev HEAD~1
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from dsconv.kernels import _bf16, _cl, _memory
from dsconv.kernels.bench.layers import V1_DEPTHWISE


def _load(rev: str, name: str, edit=lambda source: source):
    """Module ``src/dsconv/kernels/<name>.py`` as it was at git revision ``rev``, as ``<name>_rev``."""
    source = subprocess.run(["git", "show", f"{rev}:src/dsconv/kernels/{name}.py"], check=True, capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parent).stdout
    path = Path(tempfile.mkdtemp()) / f"{name}_rev.py"
    path.write_text(edit(source))
    spec = importlib.util.spec_from_file_location(f"{name}_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"{name}_rev"] = module
    spec.loader.exec_module(module)
    return module


def load_revision(rev: str, bf16: bool = False):
    """The ``_cl`` module as it was at git revision ``rev`` (with ``bf16``, importing that revision's ``_bf16``)."""
    if not bf16:
        return _load(rev, "_cl")
    _load(rev, "_bf16")
    return _load(rev, "_cl", lambda source: source.replace("from dsconv.kernels._bf16 import", "from _bf16_rev import"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD~1", help="git revision to compare with (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weight-grad", action="store_true", help="time backward_weight instead of forward_act")
    parser.add_argument("--backward", action="store_true",
                        help="time both gradients: the revision's two kernels against backward_both")
    parser.add_argument("--bf16", action="store_true", help="time forward_act_bf16 (bfloat16 in and out)")
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    old = load_revision(args.rev, args.bf16)
    rng = np.random.default_rng(0)
    for n in (1, 8):
        ratios = []
        for c, h, s in V1_DEPTHWISE:
            ho = (h + 2 - 3) // s + 1
            x = _memory.copy(rng.standard_normal((n, 1, h, h * c), dtype=np.float32))
            w = _memory.copy(rng.standard_normal((1, 3, 3 * c), dtype=np.float32))
            b = _memory.zeros(c, np.float32)
            if args.backward:
                g = _memory.copy(rng.standard_normal((n, 1, ho, ho * c), dtype=np.float32))
                flipped = _memory.contiguous(w.reshape(1, 3, 3, c)[:, ::-1, ::-1], np.float32).reshape(1, 3, 3 * c)
                slots = _cl.partial_slots(n * ho)
                outs = {k: (_memory.empty(x.shape, np.float32), _memory.empty((slots, 1, 3, 3 * c), np.float32))
                        for k in ("old", "new")}

                def separate(gx=outs["old"][0], part=outs["old"][1]):
                    if s == 1:
                        old.forward_act(g, flipped, b, gx, (1, 1, 1), (0, 1, 1), (1, 1, 1), 0)
                    else:
                        old.backward_input(g, w, gx, c, (1, s, s), (0, 1, 1), (1, 1, 1))
                    old.backward_weight(g, x, part, c, (1, s, s), (0, 1, 1), (1, 1, 1))

                calls = {"old": separate,
                         "new": lambda gx=outs["new"][0], part=outs["new"][1]: _cl.backward_both(
                             g, x, w, flipped, b, gx, part, c, (1, s, s), (0, 1, 1), (1, 1, 1), (0, 1, 1))}
                for call in calls.values():
                    call()
                for a_old, a_new in zip(outs["old"], outs["new"]):
                    np.testing.assert_array_equal(a_new, a_old)
                outs = {k: v[1] for k, v in outs.items()}
            elif args.weight_grad:
                g = _memory.copy(rng.standard_normal((n, 1, ho, ho * c), dtype=np.float32))
                shape = (_cl.partial_slots(n * ho), 1, 3, 3 * c)
                outs = {"old": _memory.empty(shape, np.float32), "new": _memory.empty(shape, np.float32)}
                calls = {k: (lambda k=k, m=m: m.backward_weight(g, x, outs[k], c, (1, s, s), (0, 1, 1), (1, 1, 1)))
                         for k, m in (("old", old), ("new", _cl))}
            elif args.bf16:
                xb = _bf16.to_bits(x)
                outs = {k: _memory.empty((n, 1, ho, ho * c), np.uint16) for k in ("old", "new")}
                calls = {k: (lambda k=k, m=m: m.forward_act_bf16(xb, w, b, outs[k], (1, s, s), (0, 1, 1), (1, 1, 1), 1))
                         for k, m in (("old", old), ("new", _cl))}
                for call in calls.values():
                    call()
                np.testing.assert_array_equal(outs["new"], outs["old"])
            else:
                outs = {"old": _memory.empty((n, 1, ho, ho * c), np.float32), "new": _memory.empty((n, 1, ho, ho * c), np.float32)}
                calls = {k: (lambda k=k, m=m: m.forward_act(x, w, b, outs[k], (1, s, s), (0, 1, 1), (1, 1, 1), 1))
                         for k, m in (("old", old), ("new", _cl))}
            for call in calls.values():
                call()
            if not args.bf16:
                np.testing.assert_allclose(outs["new"].sum(0), outs["old"].sum(0), rtol=1e-4, atol=1e-3)
            times: dict[str, list[float]] = {"old": [], "new": []}
            for r in range(args.rounds):
                for k in ("old", "new") if r % 2 else ("new", "old"):
                    t0 = time.perf_counter()
                    calls[k]()
                    times[k].append(time.perf_counter() - t0)
            t_old, t_new = statistics.median(times["old"]), statistics.median(times["new"])
            ratios.append(t_old / t_new)
            print(f"N={n} {h}x{h}x{c} s{s}: {args.rev} {t_old * 1e6:.1f} us, working tree {t_new * 1e6:.1f} us, "
                  f"{t_old / t_new:.2f}x", flush=True)
        print(f"batch {n}: geometric-mean speed-up of the working tree {np.exp(np.mean(np.log(ratios))):.3f}x")


if __name__ == "__main__":
    main()
