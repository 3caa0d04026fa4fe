"""Numba depthwise kernels for the ``channels_last`` layout (channels innermost, vectorised across channels).

Every kernel works on 3-D spatial data ``(N, D, H, W*C)`` (1-D and 2-D inputs are viewed with ``D = H = 1``
or ``D = 1``), so one compiled specialisation per dtype serves all dimensionalities. Output rows
``(n, od, oh)`` are the parallel tasks (pairs of neighbouring rows for a 3x3 window at stride 1, which share
two of their four input rows: ``_rows_3x3_pair``); each task reads the valid input rows of its kernel window,
so there is no padded copy of the input. Interior pixels (all taps inside the input) take branch-free
loops; the few border pixels take a checked loop. The 3x3 case sums its nine taps in one expression, so
each output vector is stored once.

Two rules keep the inner loops vectorised and the threads independent (see /work/shared/notes/kernels.md):
arrays are indexed flat with *unsigned* offsets (Numba wraps negative signed indices with a select that
blocks vectorisation), and no array views are created inside the parallel loop (each view updates the
array's shared reference count with an atomic, which costs more than a row of arithmetic and makes the two
threads fight over one cache line).

The row helpers (``_rows_3x3``, ``_rows_3x3_pair``, ``_edge_3x3``, ``_row_interior``, ``_clamp_row``,
``_bias_act_row``, ``_scatter_tap``, ``_accum_pair_quads``, ``_pair_edge``, ``_accum_quads_3``, ``_quad_edge_3``,
``_accum_weight_row``) start with
:func:`_wide_vectors`, which lets LLVM use 512-bit vectors in them (it defaults to 256 bits on the AVX-512
CPUs it knows) and keeps them out of line so the request holds; on CPUs without 512-bit vectors it changes
nothing. They also call :func:`_restrict`, which tells LLVM that their output does not overlap their inputs.

Weights are ``(kd, kh, kw*C)`` with tap ``j`` of row ``(i_d, i_h)`` at ``w[i_d, i_h, j*C + c]``.
A multiplier > 1 is handled by the caller (the input is repeated along channels).
"""

from __future__ import annotations

import os

import numba as nb
import numpy as np
from numba import njit, prange

from dsconv.kernels._bf16 import load, store_row
from dsconv.kernels._codegen import _restrict, _wide_vectors

U = nb.uint64
_ZERO = np.float32(0.0)  # a select's zero: a float32 literal keeps float32 arithmetic in float32
# DSCONV_NUMBA_NOCACHE=1 disables the on-disk cache (needed to inspect the generated assembly).
_OPTS = {"cache": os.environ.get("DSCONV_NUMBA_NOCACHE") is None, "fastmath": True, "nogil": True}


@njit(**_OPTS)
def interior_range(n_out: int, n_in: int, k: int, s: int, d: int, pad: int) -> tuple[int, int]:  # pragma: no cover
    """Output positions ``[lo, hi)`` whose whole window lies inside the input (possibly empty)."""
    lo = (pad + s - 1) // s if pad > 0 else 0
    last = n_in - 1 + pad - (k - 1) * d
    hi = last // s + 1 if last >= 0 else 0
    hi = min(max(hi, lo), n_out)
    return min(lo, hi), hi


@njit(**_OPTS)
def _pixel_border(of, ob, xf, xb, wf, wb, C, ow, W, kw, sw, dw, pw):  # pragma: no cover
    """Accumulate one kernel row into output pixel ``ow`` (flat offset ``ob``) with per-tap bounds checks."""
    uC = U(C)
    for j in range(kw):
        iw = ow * sw - pw + j * dw
        if iw < 0 or iw >= W:
            continue
        xo = xb + U(iw * C)
        wo = wb + U(j * C)
        for c in range(uC):
            of[ob + c] += wf[wo + c] * load(xf, xo + c)


@njit(**_OPTS)
def _row_interior(of, ob, xf, xb, wf, wb, C, lo, hi, kw, sw, dw, pw):  # pragma: no cover
    """Accumulate one kernel row into output pixels ``[lo, hi)`` (all taps valid) of the row at ``ob``."""
    _wide_vectors()
    _restrict()
    if hi <= lo:
        return
    uC = U(C)
    stride_c = U(sw) * uC
    step = U(dw) * uC
    o0 = ob + U(lo) * uC
    x0 = xb + U((lo * sw - pw) * C)
    if kw == 3:
        w1 = wb + uC
        w2 = w1 + uC
        for u in range(U(hi - lo)):
            o = o0 + u * uC
            p = x0 + u * stride_c
            q = p + step
            r = q + step
            for c in range(uC):
                of[o + c] += wf[wb + c] * load(xf, p + c) + wf[w1 + c] * load(xf, q + c) + wf[w2 + c] * load(xf, r + c)
        return
    for j in range(U(kw)):
        wo = wb + j * uC
        xj = x0 + j * step
        for u in range(U(hi - lo)):
            o = o0 + u * uC
            p = xj + u * stride_c
            for c in range(uC):
                of[o + c] += wf[wo + c] * load(xf, p + c)


@njit(**_OPTS)
def _rows_3x3(of, ob, xf, r0, r1, r2, wf, b, C, lo, hi, sw, dw, pw):  # pragma: no cover
    """Write output pixels ``[lo, hi)`` of a 3x3 window whose three input rows (at ``r0, r1, r2``) are valid."""
    _wide_vectors()
    _restrict()
    if hi <= lo:
        return
    uC = U(C)
    stride_c = U(sw) * uC
    step = U(dw) * uC
    off = U((lo * sw - pw) * C)
    a, bb, cc = r0 + off, r1 + off, r2 + off
    t0 = U(0)
    t1 = uC
    t2, t3, t4, t5 = t1 + uC, t1 + t1 + uC, t1 * U(4), t1 * U(5)
    t6, t7, t8 = t1 * U(6), t1 * U(7), t1 * U(8)
    o0 = ob + U(lo) * uC
    # stride 1: four neighbouring outputs share their input columns (fewer loads per FMA). At stride 2 a
    # four-output version was not vectorised by LLVM (scalar FMAs, 2-4x slower) and a two-output one was
    # vectorised but 4-10% slower at batch 8 (best of 8 interleaved rounds), so stride 2 keeps the plain loop.
    quads = U((hi - lo) // 4) if dw == 1 and sw == 1 else U(0)
    for q in range(quads):
        u = q * U(4)
        s = u * uC
        _quad_s1(of, o0 + u * uC, xf, a + s, bb + s, cc + s, wf, b, uC)
    for u in range(quads * U(4), U(hi - lo)):
        o = o0 + u * uC
        s = u * stride_c
        pa, pb, pc = a + s, bb + s, cc + s
        for c in range(uC):
            of[o + c] = (
                b[c]
                + wf[t0 + c] * load(xf, pa + c) + wf[t1 + c] * load(xf, pa + step + c)
                + wf[t2 + c] * load(xf, pa + step + step + c)
                + wf[t3 + c] * load(xf, pb + c) + wf[t4 + c] * load(xf, pb + step + c)
                + wf[t5 + c] * load(xf, pb + step + step + c)
                + wf[t6 + c] * load(xf, pc + c) + wf[t7 + c] * load(xf, pc + step + c)
                + wf[t8 + c] * load(xf, pc + step + step + c)
            )


@njit(**_OPTS)
def _edge_3x3(of, o, xf, r0, r1, r2, wf, b, C, ow, W, sw, dw, pw):  # pragma: no cover
    """Write border pixel ``ow`` (flat offset ``o``) of a 3x3 window whose three input rows are valid: bias plus,
    for each tap column inside the row, the three rows' products in one pass."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    first = True
    for j in range(3):
        iw = ow * sw - pw + j * dw
        if iw < 0 or iw >= W:
            continue
        p = U(iw * C)
        w0 = U(j * C)
        w1 = w0 + U(3 * C)
        w2 = w1 + U(3 * C)
        a, bb, cc = r0 + p, r1 + p, r2 + p
        if first:
            for c in range(uC):
                of[o + c] = (b[c] + wf[w0 + c] * load(xf, a + c) + wf[w1 + c] * load(xf, bb + c)
                             + wf[w2 + c] * load(xf, cc + c))
            first = False
        else:
            for c in range(uC):
                of[o + c] += (wf[w0 + c] * load(xf, a + c) + wf[w1 + c] * load(xf, bb + c)
                              + wf[w2 + c] * load(xf, cc + c))
    if first:  # no tap inside the row (padding wider than the kernel reach)
        for c in range(uC):
            of[o + c] = b[c]


@njit(**_OPTS)
def _quad_s1(of, o, xf, pa, pb, pc, wf, b, uC):  # pragma: no cover
    """Four neighbouring 3x3 outputs at stride 1 from six input columns of three rows (18 loads for 36 FMAs)."""
    k1, k2, k3, k4, k5 = uC, uC + uC, uC * U(3), uC * U(4), uC * U(5)
    k6, k7, k8 = uC * U(6), uC * U(7), uC * U(8)
    for c in range(uC):
        w0, w1, w2 = wf[c], wf[k1 + c], wf[k2 + c]
        w3, w4, w5 = wf[k3 + c], wf[k4 + c], wf[k5 + c]
        w6, w7, w8 = wf[k6 + c], wf[k7 + c], wf[k8 + c]
        a0, a1, a2 = load(xf, pa + c), load(xf, pa + k1 + c), load(xf, pa + k2 + c)
        a3, a4, a5 = load(xf, pa + k3 + c), load(xf, pa + k4 + c), load(xf, pa + k5 + c)
        b0, b1, b2 = load(xf, pb + c), load(xf, pb + k1 + c), load(xf, pb + k2 + c)
        b3, b4, b5 = load(xf, pb + k3 + c), load(xf, pb + k4 + c), load(xf, pb + k5 + c)
        c0, c1, c2 = load(xf, pc + c), load(xf, pc + k1 + c), load(xf, pc + k2 + c)
        c3, c4, c5 = load(xf, pc + k3 + c), load(xf, pc + k4 + c), load(xf, pc + k5 + c)
        bias = b[c]
        of[o + c] = bias + w0 * a0 + w1 * a1 + w2 * a2 + w3 * b0 + w4 * b1 + w5 * b2 + w6 * c0 + w7 * c1 + w8 * c2
        of[o + k1 + c] = bias + w0 * a1 + w1 * a2 + w2 * a3 + w3 * b1 + w4 * b2 + w5 * b3 + w6 * c1 + w7 * c2 + w8 * c3
        of[o + k2 + c] = bias + w0 * a2 + w1 * a3 + w2 * a4 + w3 * b2 + w4 * b3 + w5 * b4 + w6 * c2 + w7 * c3 + w8 * c4
        of[o + k3 + c] = bias + w0 * a3 + w1 * a4 + w2 * a5 + w3 * b3 + w4 * b4 + w5 * b5 + w6 * c3 + w7 * c4 + w8 * c5


@njit(**_OPTS)
def _rows_3x3_pair(of, ob, WoC, xf, r0, WC, wf, b, C, lo, hi, pw):  # pragma: no cover
    """Write output pixels ``[lo, hi)`` of two neighbouring output rows (at ``ob`` and ``ob + WoC``) of a 3x3,
    stride-1, dilation-1 window whose four input rows (from ``r0``, ``WC`` apart) are valid.

    Four pixels of both rows per pass: 24 input loads (six columns of four rows) for 72 FMAs, against 18 for 36
    in one row (``_quad_s1``), so the loads that miss L1 are shared by twice the work.
    """
    _wide_vectors()
    _restrict()
    if hi <= lo:
        return
    uC, uWC = U(C), U(WC)
    k1, k2, k3, k4, k5 = uC, uC + uC, uC * U(3), uC * U(4), uC * U(5)
    k6, k7, k8 = uC * U(6), uC * U(7), uC * U(8)
    pa = r0 + U((lo - pw) * C)
    pb, pc, pd = pa + uWC, pa + uWC + uWC, pa + uWC * U(3)
    o0 = ob + U(lo) * uC
    p0 = o0 + U(WoC)
    quads = U((hi - lo) // 4)
    for q in range(quads):
        s = q * k4
        a, bb, cc, dd, o, oo = pa + s, pb + s, pc + s, pd + s, o0 + s, p0 + s
        for c in range(uC):
            w0, w1, w2 = wf[c], wf[k1 + c], wf[k2 + c]
            w3, w4, w5 = wf[k3 + c], wf[k4 + c], wf[k5 + c]
            w6, w7, w8 = wf[k6 + c], wf[k7 + c], wf[k8 + c]
            bias = b[c]
            a0, a1, a2 = load(xf, a + c), load(xf, a + k1 + c), load(xf, a + k2 + c)
            a3, a4, a5 = load(xf, a + k3 + c), load(xf, a + k4 + c), load(xf, a + k5 + c)
            b0, b1, b2 = load(xf, bb + c), load(xf, bb + k1 + c), load(xf, bb + k2 + c)
            b3, b4, b5 = load(xf, bb + k3 + c), load(xf, bb + k4 + c), load(xf, bb + k5 + c)
            c0, c1, c2 = load(xf, cc + c), load(xf, cc + k1 + c), load(xf, cc + k2 + c)
            c3, c4, c5 = load(xf, cc + k3 + c), load(xf, cc + k4 + c), load(xf, cc + k5 + c)
            d0, d1, d2 = load(xf, dd + c), load(xf, dd + k1 + c), load(xf, dd + k2 + c)
            d3, d4, d5 = load(xf, dd + k3 + c), load(xf, dd + k4 + c), load(xf, dd + k5 + c)
            of[o + c] = bias + w0 * a0 + w1 * a1 + w2 * a2 + w3 * b0 + w4 * b1 + w5 * b2 + w6 * c0 + w7 * c1 + w8 * c2
            of[o + k1 + c] = (bias + w0 * a1 + w1 * a2 + w2 * a3 + w3 * b1 + w4 * b2 + w5 * b3
                              + w6 * c1 + w7 * c2 + w8 * c3)
            of[o + k2 + c] = (bias + w0 * a2 + w1 * a3 + w2 * a4 + w3 * b2 + w4 * b3 + w5 * b4
                              + w6 * c2 + w7 * c3 + w8 * c4)
            of[o + k3 + c] = (bias + w0 * a3 + w1 * a4 + w2 * a5 + w3 * b3 + w4 * b4 + w5 * b5
                              + w6 * c3 + w7 * c4 + w8 * c5)
            of[oo + c] = bias + w0 * b0 + w1 * b1 + w2 * b2 + w3 * c0 + w4 * c1 + w5 * c2 + w6 * d0 + w7 * d1 + w8 * d2
            of[oo + k1 + c] = (bias + w0 * b1 + w1 * b2 + w2 * b3 + w3 * c1 + w4 * c2 + w5 * c3
                               + w6 * d1 + w7 * d2 + w8 * d3)
            of[oo + k2 + c] = (bias + w0 * b2 + w1 * b3 + w2 * b4 + w3 * c2 + w4 * c3 + w5 * c4
                               + w6 * d2 + w7 * d3 + w8 * d4)
            of[oo + k3 + c] = (bias + w0 * b3 + w1 * b4 + w2 * b5 + w3 * c3 + w4 * c4 + w5 * c5
                               + w6 * d3 + w7 * d4 + w8 * d5)
    rest = lo + 4 * ((hi - lo) // 4)
    if rest < hi:
        _rows_3x3(of, ob, xf, r0, r0 + uWC, r0 + uWC + uWC, wf, b, C, rest, hi, 1, 1, pw)
        _rows_3x3(of, ob + U(WoC), xf, r0 + uWC, r0 + uWC + uWC, r0 + uWC * U(3), wf, b, C, rest, hi, 1, 1, pw)


@njit(**_OPTS)
def _fill_bias(of, ob, b, C, start, stop):  # pragma: no cover
    uC = U(C)
    for ow in range(U(start), U(stop)):
        o = ob + ow * uC
        for c in range(uC):
            of[o + c] = b[c]


ACT_CODES = {"none": 0, "relu": 1, "relu6": 2}


@njit(**_OPTS)
def _clamp_row(of, ob, n, act):  # pragma: no cover
    """Apply activation ``act`` (0 none, 1 ReLU, 2 ReLU6) to ``of[ob:ob + n]`` in place."""
    if act == 0:
        return
    _wide_vectors()
    _restrict()
    if act == 1:
        for e in range(U(n)):
            v = of[ob + e]
            of[ob + e] = v if v > 0.0 else 0.0
    elif act == 2:
        for e in range(U(n)):
            v = of[ob + e]
            v = v if v > 0.0 else 0.0
            of[ob + e] = v if v < 6.0 else 6.0


@njit(parallel=True, **_OPTS)
def bias_act(a, bias, act, add_bias):  # pragma: no cover
    """``a[r, :] = act(a[r, :] + bias)`` in place for a 2-D C-contiguous ``a`` ``(R, K)``, rows in parallel
    (``add_bias`` false skips the addition)."""
    R, K = a.shape
    af = a.reshape(-1)
    for r in prange(R):
        _bias_act_row(af, U(r) * U(K), bias, K, act, add_bias)


@njit(**_OPTS)
def _bias_act_row(af, ob, bias, K, act, add_bias):  # pragma: no cover
    """``af[ob:ob + K] = act(af[ob:ob + K] + bias)`` (the addition only if ``add_bias``)."""
    _wide_vectors()
    _restrict()
    if add_bias:
        for e in range(U(K)):
            af[ob + e] += bias[e]
    _clamp_row(af, ob, K, act)


def forward(x, w, b, out, stride, pads, dilation):
    """Depthwise forward. x ``(N, D, H, W*C)``, w ``(kd, kh, kw*C)``, b ``(C,)``, out ``(N, Do, Ho, Wo*C)``.

    ``stride``, ``dilation``: ``(sd, sh, sw)``; ``pads``: ``(pd, ph, pw)`` (the before-pads; the output size
    fixes the after-pads; negative values shift the window, which the fused block uses for row bands).
    ``x`` is float32, float64 or bfloat16 bits (``uint16``); ``out`` is float32/float64 (:func:`forward_act`)
    or bfloat16 bits (:func:`forward_act_bf16`).
    """
    if out.dtype.kind == "u":
        forward_act_bf16(x, w, b, out, stride, pads, dilation, 0)
    else:
        forward_act(x, w, b, out, stride, pads, dilation, 0)


@njit(**_OPTS)
def _geometry(x, w, b, out, stride, pads, dilation):  # pragma: no cover
    """Every size the forward tasks need, as one tuple of ints; the last two are the rows per task (2 for a 3x3
    window at stride 1, else 1) and the tasks per output depth slice."""
    N, D, H, WC = x.shape
    _, Do, Ho, WoC = out.shape
    kd, kh, kwC = w.shape
    C = b.shape[0]
    W, Wo, kw = WC // C, WoC // C, kwC // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    lo, hi = interior_range(Wo, W, kw, sw, dw, pw)
    fast = kd == 1 and kh == 3 and kw == 3
    # 3x3 at stride 1: a task is two neighbouring output rows (see _rows_3x3_pair), else one row
    step = 2 if fast and sh == 1 and sw == 1 and dh == 1 and dw == 1 else 1
    per = (Ho + step - 1) // step
    return (N, D, H, W, C, Do, Ho, Wo, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, lo, hi, step, per)


@njit(**_OPTS)
def _task_rows(task, g):  # pragma: no cover
    """``(first output row, row count)`` of a task, rows counted over ``(n, od, oh)``."""
    Ho, step, per = g[6], g[22], g[23]
    nd = task // per
    oh0 = (task % per) * step
    return nd * Ho + oh0, min(step, Ho - oh0)


@njit(**_OPTS)
def _forward_task(of, shift, xf, wf, b, task, g, act):  # pragma: no cover
    """Compute the output rows of ``task`` (bias, taps, activation) into ``of``, at their flat offsets in the
    output minus ``shift`` (0 to write the output itself; to write a row buffer, the task's first offset minus
    the buffer's position in ``of``)."""
    N, D, H, W, C, Do, Ho, Wo, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, lo, hi, step, per = g
    WC, WoC, kwC = W * C, Wo * C, kw * C
    fast = kd == 1 and kh == 3 and kw == 3
    nd = task // per  # n * Do + od
    n = nd // Do
    od = nd % Do
    oh0 = (task % per) * step
    id0 = od * sd - pd
    if step == 2 and oh0 + 1 < Ho and 0 <= id0 < D and oh0 - ph >= 0 and oh0 - ph + 3 < H:
        ob = U((nd * Ho + oh0) * WoC - shift)
        r0 = U(((n * D + id0) * H + oh0 - ph) * WC)
        r1, r2, r3 = r0 + U(WC), r0 + U(2 * WC), r0 + U(3 * WC)
        _rows_3x3_pair(of, ob, WoC, xf, r0, WC, wf, b, C, lo, hi, pw)
        for u in range(lo + Wo - hi):  # border pixels: those before lo, then from hi on
            ow = u if u < lo else u - lo + hi
            _edge_3x3(of, ob + U(ow * C), xf, r0, r1, r2, wf, b, C, ow, W, sw, dw, pw)
            _edge_3x3(of, ob + U(WoC + ow * C), xf, r1, r2, r3, wf, b, C, ow, W, sw, dw, pw)
        _clamp_row(of, ob, 2 * WoC, act)
        return
    for oh in range(oh0, min(oh0 + step, Ho)):
        ob = U((nd * Ho + oh) * WoC - shift)
        ih0 = oh * sh - ph
        if fast and 0 <= id0 < D and ih0 >= 0 and ih0 + 2 * dh < H:
            r0 = U(((n * D + id0) * H + ih0) * WC)
            r1 = r0 + U(dh * WC)
            r2 = r1 + U(dh * WC)
            _rows_3x3(of, ob, xf, r0, r1, r2, wf, b, C, lo, hi, sw, dw, pw)
            for ow in range(lo):  # border pixels: one pass per valid tap over the three rows
                _edge_3x3(of, ob + U(ow * C), xf, r0, r1, r2, wf, b, C, ow, W, sw, dw, pw)
            for ow in range(hi, Wo):
                _edge_3x3(of, ob + U(ow * C), xf, r0, r1, r2, wf, b, C, ow, W, sw, dw, pw)
        else:
            _fill_bias(of, ob, b, C, 0, Wo)
            for i_d in range(kd):
                idd = id0 + i_d * dd
                if idd < 0 or idd >= D:
                    continue
                for i_h in range(kh):
                    ih = ih0 + i_h * dh
                    if ih < 0 or ih >= H:
                        continue
                    xb = U(((n * D + idd) * H + ih) * WC)
                    wb = U((i_d * kh + i_h) * kwC)
                    for ow in range(lo):  # border pixels only: the interior is done by the row loop
                        _pixel_border(of, ob + U(ow * C), xf, xb, wf, wb, C, ow, W, kw, sw, dw, pw)
                    for ow in range(hi, Wo):
                        _pixel_border(of, ob + U(ow * C), xf, xb, wf, wb, C, ow, W, kw, sw, dw, pw)
                    _row_interior(of, ob, xf, xb, wf, wb, C, lo, hi, kw, sw, dw, pw)
        _clamp_row(of, ob, WoC, act)


@njit(parallel=True, **_OPTS)
def forward_act(x, w, b, out, stride, pads, dilation, act):  # pragma: no cover
    """:func:`forward` into a float32/float64 ``out``, followed by activation ``act`` (0 none, 1 ReLU,
    2 ReLU6), applied to each output row while it is still in the core's cache."""
    g = _geometry(x, w, b, out, stride, pads, dilation)
    xf, wf, of = x.reshape(-1), w.reshape(-1), out.reshape(-1)
    for task in prange(g[0] * g[5] * g[23]):
        _forward_task(of, 0, xf, wf, b, task, g, act)


@njit(parallel=True, **_OPTS)
def forward_act_bf16(x, w, b, out, stride, pads, dilation, act):  # pragma: no cover
    """:func:`forward_act` into bfloat16 bits (``uint16`` ``out``): the tasks run in 16 parallel chunks, each
    computing its rows in its own float32 row buffer and rounding them once (float32 weights, bias and
    accumulation). The buffers are allocated once per call: allocating inside the parallel loop, or asking
    for the thread's index (which stops Numba from caching the function), is avoided."""
    g = _geometry(x, w, b, out, stride, pads, dilation)
    xf, wf, of = x.reshape(-1), w.reshape(-1), out.reshape(-1)
    WoC, tasks = g[7] * g[4], g[0] * g[5] * g[23]
    span = g[22] * WoC  # elements of the largest task
    chunks = min(tasks, 16)
    rows = np.empty(chunks * span, np.float32)
    for k in prange(chunks):
        at = k * span
        for task in range(k * tasks // chunks, (k + 1) * tasks // chunks):
            first, count = _task_rows(task, g)
            _forward_task(rows, first * WoC - at, xf, wf, b, task, g, act)
            store_row(of, U(first * WoC), rows, U(at), U(count * WoC))


@njit(parallel=True, **_OPTS)
def backward_input(g, w, gx, C, stride, pads, dilation):  # pragma: no cover
    """Input gradient. g ``(N, Do, Ho, Wo*C)``, w ``(kd, kh, kw*C)``, gx ``(N, D, H, W*C)`` (overwritten).

    One task per input row (:func:`_input_grad_row`), so no two tasks write the same memory. (At stride 1 the
    caller uses the forward kernel with the flipped weights.)
    """
    N, D, H, WC = gx.shape
    gf, wf, gxf = g.reshape(-1), w.reshape(-1), gx.reshape(-1)
    for t in prange(N * D * H):
        _input_grad_row(gxf, gf, wf, t, gx.shape, g.shape, w.shape, C, stride, pads, dilation)


@njit(**_OPTS)
def _input_grad_row(gxf, gf, wf, t, x_shape, g_shape, w_shape, C, stride, pads, dilation):  # pragma: no cover
    """Input row ``t`` (counted over ``(n, d, h)``) of the input gradient: it scatters the contributions of the
    output rows that saw it, tap by tap over the range of output pixels whose tap lands inside the row (no
    per-pixel divisibility tests)."""
    N, D, H, WC = x_shape
    WoC = g_shape[3]
    kd, kh, kwC = w_shape
    W, Wo, kw = WC // C, WoC // C, kwC // C
    sw, pw, dw = stride[2], pads[2], dilation[2]
    n = t // (D * H)
    idd = (t // H) % D
    ih = t % H
    xb = U(t * WC)
    if kw == 3 and sw == 2 and dw == 1 and (pw == 0 or pw == 1):
        # gather: find the (at most two) output rows that saw this row, then write each pixel once
        found = 0
        ga = wa = gb2 = wb2 = U(0)
        for i_d in range(kd):
            for i_h in range(kh):
                seen, gr, wr = _source_row(n, idd, ih, i_d, i_h, g_shape, w_shape, stride, pads, dilation)
                if not seen:
                    continue
                if found == 0:
                    ga, wa = gr, wr
                elif found == 1:
                    gb2, wb2 = gr, wr
                found += 1
        if found <= 2:
            _gather_s2_w3(gxf, xb, gf, wf, ga, wa, gb2, wb2, found, C, W, Wo, pw)
            return
    for e in range(U(WC)):
        gxf[xb + e] = 0.0
    for i_d in range(kd):
        for i_h in range(kh):
            seen, gb, wb = _source_row(n, idd, ih, i_d, i_h, g_shape, w_shape, stride, pads, dilation)
            if not seen:
                continue
            for j in range(kw):
                # output pixels ow whose tap j reads input column ow*sw - pw + j*dw inside [0, W)
                shift = j * dw - pw
                ow_lo = max(0, (-shift + sw - 1) // sw) if shift < 0 else 0
                ow_hi = min(Wo, (W - 1 - shift) // sw + 1) if W - 1 - shift >= 0 else 0
                _scatter_tap(gxf, xb, gf, gb, wf, wb + U(j * C), C, ow_lo, ow_hi, sw, shift)


@njit(**_OPTS)
def _source_row(n, idd, ih, i_d, i_h, g_shape, w_shape, stride, pads, dilation):  # pragma: no cover
    """Whether kernel row ``(i_d, i_h)`` of an output row sees input row ``(n, idd, ih)``, and then the offsets
    of that output row in ``g`` and of the kernel row in ``w``: ``(seen, g offset, w offset)``."""
    _, Do, Ho, WoC = g_shape
    kd, kh, kwC = w_shape
    sd, sh = stride[0], stride[1]
    pd, ph = pads[0], pads[1]
    dd, dh = dilation[0], dilation[1]
    num_d = idd + pd - i_d * dd
    num_h = ih + ph - i_h * dh
    if (num_d < 0 or num_d % sd != 0 or num_d // sd >= Do or num_h < 0 or num_h % sh != 0
            or num_h // sh >= Ho):
        return False, U(0), U(0)
    return True, U(((n * Do + num_d // sd) * Ho + num_h // sh) * WoC), U((i_d * kh + i_h) * kwC)


@njit(**_OPTS)
def _gather_s2_w3(gxf, xb, gf, wf, ga, wa, gb, wb, rows, C, W, Wo, pw):  # pragma: no cover
    """One input row of a width-3, stride-2, dilation-1 input gradient (before-pad ``pw`` 0 or 1) from ``rows``
    (0, 1 or 2) output rows (offsets ``ga``, ``gb`` in ``gf``, their kernel rows' weights at ``wa``, ``wb``):
    each pixel is written once with its one or two taps per row (pixel ``ix`` is seen by output pixel
    ``(ix + pw - j) / 2`` through tap ``j`` where that is a whole number inside the row), summed row by row and
    tap by tap as the scatter does."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    for ix in range(W):
        xo = xb + U(ix * C)
        e = ix + pw
        # taps: (j, ow) for j = 0 and 2 when ix + pw is even, j = 1 when it is odd
        j0, j1 = (0, 2) if e % 2 == 0 else (1, -1)
        o0 = (e - j0) // 2
        o1 = (e - j1) // 2 if j1 >= 0 else -1
        ok0 = 0 <= o0 < Wo
        ok1 = j1 >= 0 and 0 <= o1 < Wo
        if not ok0 and ok1:
            j0, o0, ok0, ok1 = j1, o1, True, False
        if rows == 0 or not ok0:
            for c in range(uC):
                gxf[xo + c] = 0.0
            continue
        ga0, wa0 = ga + U(o0 * C), wa + U(j0 * C)
        gb0, wb0 = gb + U(o0 * C), wb + U(j0 * C)
        if ok1:
            ga1, wa1 = ga + U(o1 * C), wa + U(j1 * C)
            gb1, wb1 = gb + U(o1 * C), wb + U(j1 * C)
            if rows == 2:
                for c in range(uC):
                    gxf[xo + c] = (wf[wa0 + c] * load(gf, ga0 + c) + wf[wa1 + c] * load(gf, ga1 + c)
                                   + wf[wb0 + c] * load(gf, gb0 + c) + wf[wb1 + c] * load(gf, gb1 + c))
            else:
                for c in range(uC):
                    gxf[xo + c] = wf[wa0 + c] * load(gf, ga0 + c) + wf[wa1 + c] * load(gf, ga1 + c)
        elif rows == 2:
            for c in range(uC):
                gxf[xo + c] = wf[wa0 + c] * load(gf, ga0 + c) + wf[wb0 + c] * load(gf, gb0 + c)
        else:
            for c in range(uC):
                gxf[xo + c] = wf[wa0 + c] * load(gf, ga0 + c)


@njit(**_OPTS)
def _scatter_tap(gxf, xb, gf, gb, wf, wo, C, ow_lo, ow_hi, sw, shift):  # pragma: no cover
    """``gx[ow*sw + shift, c] += w[c] * g[ow, c]`` for output pixels ``[ow_lo, ow_hi)`` of one tap."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    for ow in range(ow_lo, ow_hi):
        xo = xb + U((ow * sw + shift) * C)
        go = gb + U(ow * C)
        for c in range(uC):
            gxf[xo + c] += wf[wo + c] * load(gf, go + c)


@njit(parallel=True, **_OPTS)
def backward_weight(g, x, partial, C, stride, pads, dilation):  # pragma: no cover
    """Weight gradient partial sums. g ``(N, Do, Ho, Wo*C)``, x ``(N, D, H, W*C)``,
    partial ``(T, kd, kh, kw*C)`` (overwritten; the caller sums over ``T``, one slot per chunk of rows).
    """
    T = partial.shape[0]
    slot = partial.size // T
    rows = g.shape[0] * g.shape[1] * g.shape[2]
    gf, xf, pf = g.reshape(-1), x.reshape(-1), partial.reshape(-1)
    for k in prange(T):
        ab = U(k * slot)
        for e in range(U(slot)):
            pf[ab + e] = 0.0
        t, end = k * rows // T, (k + 1) * rows // T
        while t < end:
            t += _weight_grad_step(pf, ab, gf, xf, t, end, x.shape, g.shape, partial.shape, C, stride, pads, dilation)


@njit(parallel=True, **_OPTS)
def backward_both(g, x, w, w_flipped, zero, gx, partial, C, stride, pads, dilation, flipped_pads):  # pragma: no cover
    """Input gradient into ``gx`` and weight-gradient partial sums into ``partial`` in one pass over ``g``.

    Arrays as in :func:`backward_input` and :func:`backward_weight`; at stride 1 the input gradient is the
    forward of ``g`` with ``w_flipped`` (``(kd, kh, kw*C)``, the kernel reversed), a zero bias ``zero`` ``(C,)``
    and before-pads ``flipped_pads``, as :func:`dsconv.kernels.depthwise.input_gradient_cl` runs it; ``w`` is
    used at other strides. Each of the ``T`` chunks (one per slot of ``partial``) computes its share of the
    input-gradient rows and, interleaved with them, its share of the weight-gradient rows, so each row of ``g``
    is read from memory once for both (twice in the separate kernels). Chunks, rows and the order of
    every sum are those of the two separate kernels: the results are bit-identical to theirs.
    """
    T = partial.shape[0]
    slot = partial.size // T
    N, D, H, WC = x.shape
    rows = g.shape[0] * g.shape[1] * g.shape[2]
    s1 = stride[0] == 1 and stride[1] == 1 and stride[2] == 1
    gi = _geometry(g, w_flipped, zero, gx, (1, 1, 1), flipped_pads, dilation)
    tasks = gi[0] * gi[5] * gi[23] if s1 else N * D * H
    gf, xf, pf, gxf = g.reshape(-1), x.reshape(-1), partial.reshape(-1), gx.reshape(-1)
    wf, ff = w.reshape(-1), w_flipped.reshape(-1)
    for k in prange(T):
        ab = U(k * slot)
        for e in range(U(slot)):
            pf[ab + e] = 0.0
        a0, a1 = k * tasks // T, (k + 1) * tasks // T
        b0, b1 = k * rows // T, (k + 1) * rows // T
        t = b0
        for i in range(a0, a1):
            if s1:
                _forward_task(gxf, 0, gf, ff, zero, i, gi, 0)
            else:
                _input_grad_row(gxf, gf, wf, i, x.shape, g.shape, w.shape, C, stride, pads, dilation)
            stop = b0 + (i + 1 - a0) * (b1 - b0) // (a1 - a0)  # keep pace: the rows of g just read
            while t < stop:
                t += _weight_grad_step(pf, ab, gf, xf, t, b1, x.shape, g.shape, partial.shape, C, stride, pads,
                                       dilation)
        while t < b1:
            t += _weight_grad_step(pf, ab, gf, xf, t, b1, x.shape, g.shape, partial.shape, C, stride, pads, dilation)


@njit(**_OPTS)
def _weight_grad_step(pf, ab, gf, xf, t, end, x_shape, g_shape, p_shape, C, stride, pads, dilation):  # pragma: no cover
    """Add the products of output row ``t``, and of row ``t + 1`` with it where both are in ``[t, end)``, in the
    same image and depth slice, of a 2-D 3x3 stride-1 window with all four input rows inside the image (then
    :func:`_accum_pair_quads` takes the pixels of both rows in one pass). Returns the rows done."""
    N, D, H, WC = x_shape
    _, Do, Ho, WoC = g_shape
    _, kd, kh, kwC = p_shape
    oh = t % Ho
    ih0 = oh - pads[1]
    idd = (t // Ho) % Do * stride[0] - pads[0]
    if (t + 1 < end and oh + 1 < Ho and kd == 1 and kh == 3 and kwC == 3 * C and stride[1] == 1
            and stride[2] == 1 and dilation[1] == 1 and dilation[2] == 1 and ih0 >= 0 and ih0 + 3 < H
            and 0 <= idd < D):
        W, Wo, pw = WC // C, WoC // C, pads[2]
        lo, hi, a, b = _quad_range(Wo, W, 1, pw)
        r0 = U(((t // (Do * Ho) * D + idd) * H + ih0) * WC)
        g0 = U(t * WoC)
        if b > a:
            p0, n_plain, left, right, last, skip = _passes(a, b, 1, pw, W)
            _accum_pair_quads(pf, ab, gf, g0, g0 + U(WoC), xf, r0, U(WC), C, p0, p0 + 4 * n_plain, pw)
            if left:
                _pair_edge(pf, ab, gf, g0, g0 + U(WoC), xf, r0, U(WC), C, a, 0, pw, W)
            if right:
                _pair_edge(pf, ab, gf, g0, g0 + U(WoC), xf, r0, U(WC), C, last, skip, pw, W)
        for r in range(2):
            for i_h in range(3):
                _accum_weight_row(pf, ab + U(i_h * kwC), gf, g0 + U(r * WoC), xf, r0 + U((r + i_h) * WC), C, Wo, W,
                                  3, 1, 1, pw, lo, hi, a, b)
        return 2
    _weight_grad_row(pf, ab, gf, xf, t, x_shape, g_shape, p_shape, C, stride, pads, dilation)
    return 1


@njit(**_OPTS)
def _quad_range(Wo, W, sw, pw):  # pragma: no cover
    """For a width-3 kernel row at stride ``sw`` (dilation 1): the interior ``[lo, hi)`` of
    :func:`interior_range` and the pixels ``[a, b)`` that the four-pixel passes take: those whose taps read
    columns -1 to ``W`` (one column of padding on each side at most, read as zeros), or an empty range when
    there are fewer than four of them or the stride is above 2."""
    lo, hi = interior_range(Wo, W, 3, sw, 1, pw)
    a, b = interior_range(Wo, W + 2, 3, sw, 1, pw - 1)  # the input with one more column on each side
    if b - a < 4 or sw > 2:
        return lo, hi, 0, 0
    return lo, hi, a, b


@njit(**_OPTS)
def _passes(a, b, sw, pw, W):  # pragma: no cover
    """Plan the four-pixel passes over the pixels ``[a, b)`` (``b - a >= 4``) of :func:`_quad_range`: returns
    ``(p0, n, left, right, last, skip)``, where ``n`` plain passes start at pixel ``p0`` (all their taps inside
    the row), ``left`` asks for an edge pass at ``a`` (a tap column at -1), and ``right`` for an edge pass at
    ``last = b - 4`` whose first ``skip`` pixels an earlier pass has done (or with a tap column at ``W``)."""
    nq = (b - a + 3) // 4
    last = b - 4
    skip = a + 4 * (nq - 1) - last
    left = a * sw - pw < 0
    right = skip > 0 or last * sw - pw + 3 * sw + 2 >= W
    if nq == 1 and left:
        right = False  # the one pass at a == last is the left edge pass, which checks both sides
    q0 = 1 if left else 0
    q1 = nq - 1 if right else nq
    return a + 4 * q0, max(q1 - q0, 0), left, right, last, skip


@njit(**_OPTS)
def _accum_pair_quads(pf, ab, gf, g0, g1, xf, r0, WC, C, lo, hi, pw):  # pragma: no cover
    """All nine taps of a 3x3 stride-1 window for two neighbouring output rows (gradients at ``g0`` and ``g1``,
    input rows ``r0`` to ``r0 + 3 * WC``) over the pixels ``[lo, hi)`` (whole passes, every tap inside the row),
    four pixels of both rows per pass: per channel vector 8 gradient and 24 input loads and 9 accumulator
    updates for 72 products, against 60 loads and 18 updates for the same products in six passes of
    :func:`_accum_quads_3`."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    a1, a2 = U(3 * C), U(6 * C)  # accumulator offsets of kernel rows 1 and 2 (3 taps of C channels each)
    k1, k2, k3, k4, k5 = uC, uC * U(2), uC * U(3), uC * U(4), uC * U(5)
    n_quads = (hi - lo) // 4
    for q in range(n_quads):
        ow = lo + 4 * q
        p0, p1 = g0 + U(ow * C), g1 + U(ow * C)
        x0 = r0 + U((ow - pw) * C)
        x1, x2, x3 = x0 + WC, x0 + WC + WC, x0 + WC + WC + WC
        for c in range(uC):
            ga, gb, gc, gd = load(gf, p0 + c), load(gf, p0 + k1 + c), load(gf, p0 + k2 + c), load(gf, p0 + k3 + c)
            ha, hb, hc, hd = load(gf, p1 + c), load(gf, p1 + k1 + c), load(gf, p1 + k2 + c), load(gf, p1 + k3 + c)
            u0, u1, u2 = load(xf, x0 + c), load(xf, x0 + k1 + c), load(xf, x0 + k2 + c)
            u3, u4, u5 = load(xf, x0 + k3 + c), load(xf, x0 + k4 + c), load(xf, x0 + k5 + c)
            v0, v1, v2 = load(xf, x1 + c), load(xf, x1 + k1 + c), load(xf, x1 + k2 + c)
            v3, v4, v5 = load(xf, x1 + k3 + c), load(xf, x1 + k4 + c), load(xf, x1 + k5 + c)
            w0, w1, w2 = load(xf, x2 + c), load(xf, x2 + k1 + c), load(xf, x2 + k2 + c)
            w3, w4, w5 = load(xf, x2 + k3 + c), load(xf, x2 + k4 + c), load(xf, x2 + k5 + c)
            z0, z1, z2 = load(xf, x3 + c), load(xf, x3 + k1 + c), load(xf, x3 + k2 + c)
            z3, z4, z5 = load(xf, x3 + k3 + c), load(xf, x3 + k4 + c), load(xf, x3 + k5 + c)
            # kernel row 0: row t reads input row 0, row t + 1 input row 1
            pf[ab + c] += ga * u0 + gb * u1 + gc * u2 + gd * u3 + ha * v0 + hb * v1 + hc * v2 + hd * v3
            pf[ab + k1 + c] += ga * u1 + gb * u2 + gc * u3 + gd * u4 + ha * v1 + hb * v2 + hc * v3 + hd * v4
            pf[ab + k2 + c] += ga * u2 + gb * u3 + gc * u4 + gd * u5 + ha * v2 + hb * v3 + hc * v4 + hd * v5
            # kernel row 1: input rows 1 and 2
            pf[ab + a1 + c] += ga * v0 + gb * v1 + gc * v2 + gd * v3 + ha * w0 + hb * w1 + hc * w2 + hd * w3
            pf[ab + a1 + k1 + c] += ga * v1 + gb * v2 + gc * v3 + gd * v4 + ha * w1 + hb * w2 + hc * w3 + hd * w4
            pf[ab + a1 + k2 + c] += ga * v2 + gb * v3 + gc * v4 + gd * v5 + ha * w2 + hb * w3 + hc * w4 + hd * w5
            # kernel row 2: input rows 2 and 3
            pf[ab + a2 + c] += ga * w0 + gb * w1 + gc * w2 + gd * w3 + ha * z0 + hb * z1 + hc * z2 + hd * z3
            pf[ab + a2 + k1 + c] += ga * w1 + gb * w2 + gc * w3 + gd * w4 + ha * z1 + hb * z2 + hc * z3 + hd * z4
            pf[ab + a2 + k2 + c] += ga * w2 + gb * w3 + gc * w4 + gd * w5 + ha * z2 + hb * z3 + hc * z4 + hd * z5


@njit(**_OPTS)
def _pair_edge(pf, ab, gf, g0, g1, xf, r0, WC, C, ow, skip, pw, W):  # pragma: no cover
    """One four-pixel pass of :func:`_accum_pair_quads` at pixel ``ow`` with the row's edges: a tap column
    outside the row (-1 or ``W``) reads as zero, the padding's value, and the gradients of the first ``skip``
    pixels (done by the pass before, when the row's length is not a multiple of four) are taken as zero. Those
    pixels' products are then ``0 * x``: zero where ``x`` is finite; where ``x`` is infinite, the accumulator
    already holds that pixel's own product with it, so the sum is not finite either way (an infinite sum may
    become NaN)."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    a1, a2 = U(3 * C), U(6 * C)  # accumulator offsets of kernel rows 1 and 2 (3 taps of C channels each)
    k1, k2, k3 = uC, uC * U(2), uC * U(3)
    W2 = WC + WC
    W3 = W2 + WC  # row offsets, unsigned (a signed factor would make every index signed, then wrapped)
    col = ow - pw  # first input column read: -1 to W - 5
    zl, zr = col < 0, col + 5 >= W
    c1 = r0 + U((col + 1) * C)  # column col + 1 of input row 0, always inside
    e0 = c1 if zl else c1 - uC  # columns col and col + 5, clamped into the row (their values replaced by zero)
    e5 = c1 + k3 if zr else c1 + k3 + uC
    p0, p1 = g0 + U(ow * C), g1 + U(ow * C)
    for c in range(uC):
        ga, gb, gc, gd = load(gf, p0 + c), load(gf, p0 + k1 + c), load(gf, p0 + k2 + c), load(gf, p0 + k3 + c)
        ha, hb, hc, hd = load(gf, p1 + c), load(gf, p1 + k1 + c), load(gf, p1 + k2 + c), load(gf, p1 + k3 + c)
        if skip > 0:
            ga, ha = _ZERO, _ZERO
        if skip > 1:
            gb, hb = _ZERO, _ZERO
        if skip > 2:
            gc, hc = _ZERO, _ZERO
        u0, u1, u2 = load(xf, e0 + c), load(xf, c1 + c), load(xf, c1 + k1 + c)
        u3, u4, u5 = load(xf, c1 + k2 + c), load(xf, c1 + k3 + c), load(xf, e5 + c)
        v0, v1, v2 = load(xf, e0 + WC + c), load(xf, c1 + WC + c), load(xf, c1 + WC + k1 + c)
        v3, v4, v5 = load(xf, c1 + WC + k2 + c), load(xf, c1 + WC + k3 + c), load(xf, e5 + WC + c)
        w0, w1, w2 = load(xf, e0 + W2 + c), load(xf, c1 + W2 + c), load(xf, c1 + W2 + k1 + c)
        w3, w4, w5 = load(xf, c1 + W2 + k2 + c), load(xf, c1 + W2 + k3 + c), load(xf, e5 + W2 + c)
        z0, z1, z2 = load(xf, e0 + W3 + c), load(xf, c1 + W3 + c), load(xf, c1 + W3 + k1 + c)
        z3, z4, z5 = load(xf, c1 + W3 + k2 + c), load(xf, c1 + W3 + k3 + c), load(xf, e5 + W3 + c)
        if zl:
            u0, v0, w0, z0 = _ZERO, _ZERO, _ZERO, _ZERO
        if zr:
            u5, v5, w5, z5 = _ZERO, _ZERO, _ZERO, _ZERO
        # kernel row 0: row t reads input row 0, row t + 1 input row 1
        pf[ab + c] += ga * u0 + gb * u1 + gc * u2 + gd * u3 + ha * v0 + hb * v1 + hc * v2 + hd * v3
        pf[ab + k1 + c] += ga * u1 + gb * u2 + gc * u3 + gd * u4 + ha * v1 + hb * v2 + hc * v3 + hd * v4
        pf[ab + k2 + c] += ga * u2 + gb * u3 + gc * u4 + gd * u5 + ha * v2 + hb * v3 + hc * v4 + hd * v5
        # kernel row 1: input rows 1 and 2
        pf[ab + a1 + c] += ga * v0 + gb * v1 + gc * v2 + gd * v3 + ha * w0 + hb * w1 + hc * w2 + hd * w3
        pf[ab + a1 + k1 + c] += ga * v1 + gb * v2 + gc * v3 + gd * v4 + ha * w1 + hb * w2 + hc * w3 + hd * w4
        pf[ab + a1 + k2 + c] += ga * v2 + gb * v3 + gc * v4 + gd * v5 + ha * w2 + hb * w3 + hc * w4 + hd * w5
        # kernel row 2: input rows 2 and 3
        pf[ab + a2 + c] += ga * w0 + gb * w1 + gc * w2 + gd * w3 + ha * z0 + hb * z1 + hc * z2 + hd * z3
        pf[ab + a2 + k1 + c] += ga * w1 + gb * w2 + gc * w3 + gd * w4 + ha * z1 + hb * z2 + hc * z3 + hd * z4
        pf[ab + a2 + k2 + c] += ga * w2 + gb * w3 + gc * w4 + gd * w5 + ha * z2 + hb * z3 + hc * z4 + hd * z5


@njit(**_OPTS)
def _weight_grad_row(pf, ab, gf, xf, t, x_shape, g_shape, p_shape, C, stride, pads, dilation):  # pragma: no cover
    """Add output row ``t``'s (counted over ``(n, od, oh)``) products to the accumulator slot at ``pf[ab:]``."""
    N, D, H, WC = x_shape
    _, Do, Ho, WoC = g_shape
    _, kd, kh, kwC = p_shape
    W, Wo, kw = WC // C, WoC // C, kwC // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    if kw == 3 and dw == 1:
        lo, hi, a, b = _quad_range(Wo, W, sw, pw)
    else:
        lo, hi = interior_range(Wo, W, kw, sw, dw, pw)
        a, b = 0, 0
    p0, n_plain, left, right, last, skip = _passes(a, b, sw, pw, W)  # used when b > a
    n = t // (Do * Ho)
    od = (t // Ho) % Do
    oh = t % Ho
    for i_d in range(kd):
        idd = od * sd - pd + i_d * dd
        if idd < 0 or idd >= D:
            continue
        for i_h in range(kh):
            ih = oh * sh - ph + i_h * dh
            if ih < 0 or ih >= H:
                continue
            acc = ab + U((i_d * kh + i_h) * kwC)
            xb = U(((n * D + idd) * H + ih) * WC)
            gb = U(t * WoC)
            if b > a:
                _accum_quads_3(pf, acc, gf, gb, xf, xb, C, p0, n_plain, sw, pw)
                if left:
                    _quad_edge_3(pf, acc, gf, gb, xf, xb, C, a, 0, sw, pw, W)
                if right:
                    _quad_edge_3(pf, acc, gf, gb, xf, xb, C, last, skip, sw, pw, W)
            _accum_weight_row(pf, acc, gf, gb, xf, xb, C, Wo, W, kw, sw, dw, pw, lo, hi, a, b)


@njit(**_OPTS)
def _accum_quads_3(pf, acc, gf, gb, xf, xb, C, lo, n, sw, pw):  # pragma: no cover
    """The three taps of one kernel row (width 3, dilation 1, stride ``sw`` of 1 or 2) for ``n`` passes of four
    pixels from ``lo``, all their taps inside the row: each accumulator vector is loaded and stored once per four
    products."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    a0 = acc
    a1, a2 = a0 + uC, a0 + uC + uC
    k1, k2, k3, k4, k5, k6, k7, k8 = uC, uC * U(2), uC * U(3), uC * U(4), uC * U(5), uC * U(6), uC * U(7), uC * U(8)
    for q in range(n):
        ow = lo + 4 * q
        g0 = gb + U(ow * C)
        x0 = xb + U((ow * sw - pw) * C)
        if sw == 1:
            for c in range(uC):
                ga, gb1, gc, gd = load(gf, g0 + c), load(gf, g0 + k1 + c), load(gf, g0 + k2 + c), load(gf, g0 + k3 + c)
                xa, xb1, xc = load(xf, x0 + c), load(xf, x0 + k1 + c), load(xf, x0 + k2 + c)
                xd, xe, xg = load(xf, x0 + k3 + c), load(xf, x0 + k4 + c), load(xf, x0 + k5 + c)
                pf[a0 + c] += ga * xa + gb1 * xb1 + gc * xc + gd * xd
                pf[a1 + c] += ga * xb1 + gb1 * xc + gc * xd + gd * xe
                pf[a2 + c] += ga * xc + gb1 * xd + gc * xe + gd * xg
        else:
            for c in range(uC):
                ga, gb1, gc, gd = load(gf, g0 + c), load(gf, g0 + k1 + c), load(gf, g0 + k2 + c), load(gf, g0 + k3 + c)
                y0, y1, y2 = load(xf, x0 + c), load(xf, x0 + k1 + c), load(xf, x0 + k2 + c)
                y3, y4, y5 = load(xf, x0 + k3 + c), load(xf, x0 + k4 + c), load(xf, x0 + k5 + c)
                y6, y7, y8 = load(xf, x0 + k6 + c), load(xf, x0 + k7 + c), load(xf, x0 + k8 + c)
                pf[a0 + c] += ga * y0 + gb1 * y2 + gc * y4 + gd * y6
                pf[a1 + c] += ga * y1 + gb1 * y3 + gc * y5 + gd * y7
                pf[a2 + c] += ga * y2 + gb1 * y4 + gc * y6 + gd * y8


@njit(**_OPTS)
def _quad_edge_3(pf, acc, gf, gb, xf, xb, C, ow, skip, sw, pw, W):  # pragma: no cover
    """One pass of :func:`_accum_quads_3` at pixel ``ow`` with the row's edges, as :func:`_pair_edge` does
    them: tap columns -1 and ``W`` read as zero, the first ``skip`` pixels' gradients as zero."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    a0 = acc
    a1, a2 = a0 + uC, a0 + uC + uC
    k1, k2, k3, k4, k5, k6 = uC, uC * U(2), uC * U(3), uC * U(4), uC * U(5), uC * U(6)
    col = ow * sw - pw  # first input column read, at least -1
    last = col + 3 * sw + 2  # last input column read, at most W
    zl, zr = col < 0, last >= W
    c1 = xb + U((col + 1) * C)  # column col + 1, always inside
    e0 = c1 if zl else c1 - uC
    eL = c1 + U((last - col - 2) * C) if zr else c1 + U((last - col - 1) * C)
    g0 = gb + U(ow * C)
    if sw == 1:
        for c in range(uC):
            ga, gb1, gc, gd = load(gf, g0 + c), load(gf, g0 + k1 + c), load(gf, g0 + k2 + c), load(gf, g0 + k3 + c)
            if skip > 0:
                ga = _ZERO
            if skip > 1:
                gb1 = _ZERO
            if skip > 2:
                gc = _ZERO
            xa, xb1, xc = load(xf, e0 + c), load(xf, c1 + c), load(xf, c1 + k1 + c)
            xd, xe, xg = load(xf, c1 + k2 + c), load(xf, c1 + k3 + c), load(xf, eL + c)
            if zl:
                xa = _ZERO
            if zr:
                xg = _ZERO
            pf[a0 + c] += ga * xa + gb1 * xb1 + gc * xc + gd * xd
            pf[a1 + c] += ga * xb1 + gb1 * xc + gc * xd + gd * xe
            pf[a2 + c] += ga * xc + gb1 * xd + gc * xe + gd * xg
    else:
        for c in range(uC):
            ga, gb1, gc, gd = load(gf, g0 + c), load(gf, g0 + k1 + c), load(gf, g0 + k2 + c), load(gf, g0 + k3 + c)
            if skip > 0:
                ga = _ZERO
            if skip > 1:
                gb1 = _ZERO
            if skip > 2:
                gc = _ZERO
            y0, y1, y2 = load(xf, e0 + c), load(xf, c1 + c), load(xf, c1 + k1 + c)
            y3, y4, y5 = load(xf, c1 + k2 + c), load(xf, c1 + k3 + c), load(xf, c1 + k4 + c)
            y6, y7, y8 = load(xf, c1 + k5 + c), load(xf, c1 + k6 + c), load(xf, eL + c)
            if zl:
                y0 = _ZERO
            if zr:
                y8 = _ZERO
            pf[a0 + c] += ga * y0 + gb1 * y2 + gc * y4 + gd * y6
            pf[a1 + c] += ga * y1 + gb1 * y3 + gc * y5 + gd * y7
            pf[a2 + c] += ga * y2 + gb1 * y4 + gc * y6 + gd * y8


@njit(**_OPTS)
def _accum_weight_row(pf, acc, gf, gb, xf, xb, C, Wo, W, kw, sw, dw, pw, lo, hi, a, b):  # pragma: no cover
    """pf[acc + j*C + c] += sum over ow of g[ow, c] * x[ow*sw - pw + j*dw, c] for one pair of rows, except the
    pixels ``[a, b)`` (already accumulated by the four-pixel passes); ``[lo, hi)`` is the interior, whose taps
    need no bounds check."""
    _wide_vectors()
    _restrict()
    uC = U(C)
    for u in range(Wo - (b - a)):  # the pixels before a, then from b on (not a scan of the whole row)
        ow = u if u < a else u - a + b
        interior = lo <= ow < hi
        go = gb + U(ow * C)
        for j in range(kw):
            iw = ow * sw - pw + j * dw
            if not interior and (iw < 0 or iw >= W):
                continue
            xo = xb + U(iw * C)
            ao = acc + U(j * C)
            for c in range(uC):
                pf[ao + c] += load(gf, go + c) * load(xf, xo + c)


@njit(**_OPTS)
def sum_slots(partial, out):  # pragma: no cover
    """``out = partial[0] + partial[1] + ... + partial[T-1]`` for ``partial`` ``(T, ...)``, in that order (a
    fixed order, whatever the thread count), without the per-call overhead of NumPy's reduction."""
    T = partial.shape[0]
    pf, of = partial.reshape(T, -1), out.reshape(-1)
    n = U(of.shape[0])
    for e in range(n):
        of[e] = pf[0, e]
    for k in range(1, T):
        for e in range(n):
            of[e] += pf[k, e]


def partial_slots(rows: int) -> int:
    """How many private accumulators the weight gradient uses.

    A fixed number (not the thread count), so the summation order and therefore the result do not depend on
    how many threads run.
    """
    return max(1, min(rows, 16))
