"""Numba depthwise kernels for the ``channels_last`` layout (channels innermost, vectorised across channels).

Every kernel works on 3-D spatial data ``(N, D, H, W*C)`` (1-D and 2-D inputs are viewed with ``D = H = 1``
or ``D = 1``), so one compiled specialisation per dtype serves all dimensionalities. Output rows
``(n, od, oh)`` are the parallel tasks; each task reads the valid input rows of its kernel window, so there is
no padded copy of the input. Within a row the inner loop runs over channels with *unsigned* indices:
Numba wraps negative signed indices with a select that blocks vectorisation, and unsigned arithmetic removes
it (see /work/shared/notes/kernels.md). Interior pixels (all taps inside the input) take branch-free loops;
the few border pixels take a checked loop. The 3x3 case sums its nine taps in one expression so each output
vector is stored once.

Weights are ``(kd, kh, kw*C)`` with tap ``j`` of row ``(i_d, i_h)`` at ``w[i_d, i_h, j*C + c]``.
Multiplier > 1 is handled by the caller (the input is repeated along channels).
"""

from __future__ import annotations

import numba as nb
from numba import njit, prange

U = nb.uint64
_OPTS = {"cache": True, "fastmath": True, "nogil": True}


@njit(**_OPTS)
def interior_range(n_out: int, n_in: int, k: int, s: int, d: int, pad: int) -> tuple[int, int]:  # pragma: no cover
    """Output positions ``[lo, hi)`` whose whole window lies inside the input (possibly empty)."""
    lo = (pad + s - 1) // s
    hi = (n_in - 1 + pad - (k - 1) * d) // s + 1 if n_in - 1 + pad - (k - 1) * d >= 0 else 0
    hi = min(max(hi, lo), n_out)
    lo = min(lo, hi)
    return lo, hi


@njit(**_OPTS)
def _row_border(o, xr, wr, C, ow, W, kw, sw, dw, pl):  # pragma: no cover
    """Accumulate one kernel row into the output pixel ``ow`` with per-tap bounds checks."""
    ob = ow * C
    for j in range(kw):
        iw = ow * sw - pl + j * dw
        if iw < 0 or iw >= W:
            continue
        xb = iw * C
        wb = j * C
        for c in range(C):
            o[ob + c] += wr[wb + c] * xr[xb + c]


@njit(**_OPTS)
def _row_interior(o, xr, wr, C, lo, hi, kw, sw, dw, pl):  # pragma: no cover
    """Accumulate one kernel row into output pixels ``[lo, hi)``, all of whose taps are valid."""
    if hi <= lo:
        return
    uC = U(C)
    usw = U(sw)
    udw = U(dw)
    xs = xr[(lo * sw - pl) * C:]
    os_ = o[lo * C:]
    if kw == 3:
        w0 = wr[:C]
        w1 = wr[C: 2 * C]
        w2 = wr[2 * C: 3 * C]
        step = udw * uC
        for u in range(U(hi - lo)):
            ob = u * uC
            p = u * usw * uC
            q = p + step
            r = q + step
            for c in range(uC):
                os_[ob + c] += w0[c] * xs[p + c] + w1[c] * xs[q + c] + w2[c] * xs[r + c]
        return
    for j in range(U(kw)):
        wj = wr[j * uC:]
        xj = xs[j * udw * uC:]
        for u in range(U(hi - lo)):
            ob = u * uC
            p = u * usw * uC
            for c in range(uC):
                os_[ob + c] += wj[c] * xj[p + c]


@njit(**_OPTS)
def _rows_3x3(o, x0, x1, x2, w, b, C, lo, hi, sw, dw, pl):  # pragma: no cover
    """Write output pixels ``[lo, hi)`` of a 3x3 window whose three rows are valid: bias + nine taps."""
    if hi <= lo:
        return
    uC = U(C)
    usw = U(sw)
    step = U(dw) * uC
    off = (lo * sw - pl) * C
    a = x0[off:]
    bb = x1[off:]
    cc = x2[off:]
    r0 = w[0]
    r1 = w[1]
    r2 = w[2]
    a0, a1, a2 = r0[:C], r0[C: 2 * C], r0[2 * C: 3 * C]
    b0, b1, b2 = r1[:C], r1[C: 2 * C], r1[2 * C: 3 * C]
    c0, c1, c2 = r2[:C], r2[C: 2 * C], r2[2 * C: 3 * C]
    os_ = o[lo * C:]
    for u in range(U(hi - lo)):
        ob = u * uC
        p = u * usw * uC
        q = p + step
        r = q + step
        for c in range(uC):
            os_[ob + c] = (
                b[c]
                + a0[c] * a[p + c] + a1[c] * a[q + c] + a2[c] * a[r + c]
                + b0[c] * bb[p + c] + b1[c] * bb[q + c] + b2[c] * bb[r + c]
                + c0[c] * cc[p + c] + c1[c] * cc[q + c] + c2[c] * cc[r + c]
            )


@njit(**_OPTS)
def _fill_bias(o, b, C, start, stop):  # pragma: no cover
    for ow in range(start, stop):
        ob = ow * C
        for c in range(C):
            o[ob + c] = b[c]


@njit(parallel=True, **_OPTS)
def forward(x, w, b, out, stride, pads, dilation):  # pragma: no cover
    """Depthwise forward. x ``(N, D, H, W*C)``, w ``(kd, kh, kw*C)``, b ``(C,)``, out ``(N, Do, Ho, Wo*C)``.

    ``stride``, ``dilation``: ``(sd, sh, sw)``; ``pads``: ``(pd, ph, pw)`` (the before-pads; the output size
    fixes the after-pads).
    """
    N, D, H, WC = x.shape
    _, Do, Ho, WoC = out.shape
    kd, kh, kwC = w.shape
    C = b.shape[0]
    W = WC // C
    Wo = WoC // C
    kw = kwC // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    lo, hi = interior_range(Wo, W, kw, sw, dw, pw)
    for t in prange(N * Do * Ho):
        n = t // (Do * Ho)
        od = (t // Ho) % Do
        oh = t % Ho
        o = out[n, od, oh]
        id0 = od * sd - pd
        ih0 = oh * sh - ph
        full3 = kd == 1 and kh == 3 and kw == 3 and 0 <= id0 < D and ih0 >= 0 and ih0 + 2 * dh < H
        if full3:
            xs = x[n, id0]
            _rows_3x3(o, xs[ih0], xs[ih0 + dh], xs[ih0 + 2 * dh], w[0], b, C, lo, hi, sw, dw, pw)
            _fill_bias(o, b, C, 0, lo)
            _fill_bias(o, b, C, hi, Wo)
        else:
            _fill_bias(o, b, C, 0, Wo)
        for i_d in range(kd):
            idd = id0 + i_d * dd
            if idd < 0 or idd >= D:
                continue
            for i_h in range(kh):
                ih = ih0 + i_h * dh
                if ih < 0 or ih >= H:
                    continue
                xr = x[n, idd, ih]
                wr = w[i_d, i_h]
                for ow in range(lo):
                    _row_border(o, xr, wr, C, ow, W, kw, sw, dw, pw)
                for ow in range(hi, Wo):
                    _row_border(o, xr, wr, C, ow, W, kw, sw, dw, pw)
                if not full3:
                    _row_interior(o, xr, wr, C, lo, hi, kw, sw, dw, pw)


@njit(parallel=True, **_OPTS)
def backward_input(g, w, gx, C, stride, pads, dilation):  # pragma: no cover
    """Input gradient. g ``(N, Do, Ho, Wo*C)``, w ``(kd, kh, kw*C)``, gx ``(N, D, H, W*C)`` (overwritten).

    One task per input row gathers from the output rows that saw it, so no two tasks write the same memory.
    """
    N, D, H, WC = gx.shape
    _, Do, Ho, WoC = g.shape
    kd, kh, kwC = w.shape
    W = WC // C
    Wo = WoC // C
    kw = kwC // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    uC = U(C)
    for t in prange(N * D * H):
        n = t // (D * H)
        idd = (t // H) % D
        ih = t % H
        gxr = gx[n, idd, ih]
        for e in range(WC):
            gxr[e] = 0.0
        for i_d in range(kd):
            num_d = idd + pd - i_d * dd
            if num_d < 0 or num_d % sd != 0 or num_d // sd >= Do:
                continue
            for i_h in range(kh):
                num_h = ih + ph - i_h * dh
                if num_h < 0 or num_h % sh != 0 or num_h // sh >= Ho:
                    continue
                gr = g[n, num_d // sd, num_h // sh]
                wr = w[i_d, i_h]
                for iw in range(W):
                    xb = U(iw * C)
                    for j in range(kw):
                        num_w = iw + pw - j * dw
                        if num_w < 0 or num_w % sw != 0 or num_w // sw >= Wo:
                            continue
                        gb = U((num_w // sw) * C)
                        wb = U(j * C)
                        for c in range(uC):
                            gxr[xb + c] += wr[wb + c] * gr[gb + c]


@njit(parallel=True, **_OPTS)
def backward_weight(g, x, partial, C, stride, pads, dilation):  # pragma: no cover
    """Weight gradient partial sums. g ``(N, Do, Ho, Wo*C)``, x ``(N, D, H, W*C)``,
    partial ``(T, kd, kh, kw*C)`` (overwritten; the caller sums over ``T``, one slot per parallel chunk).
    """
    N, D, H, WC = x.shape
    _, Do, Ho, WoC = g.shape
    T, kd, kh, kwC = partial.shape
    W = WC // C
    Wo = WoC // C
    kw = kwC // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    uC = U(C)
    rows = N * Do * Ho
    lo, hi = interior_range(Wo, W, kw, sw, dw, pw)
    for k in prange(T):
        acc_all = partial[k]
        for i_d in range(kd):
            for i_h in range(kh):
                for e in range(kwC):
                    acc_all[i_d, i_h, e] = 0.0
        for t in range(k * rows // T, (k + 1) * rows // T):
            n = t // (Do * Ho)
            od = (t // Ho) % Do
            oh = t % Ho
            gr = g[n, od, oh]
            for i_d in range(kd):
                idd = od * sd - pd + i_d * dd
                if idd < 0 or idd >= D:
                    continue
                for i_h in range(kh):
                    ih = oh * sh - ph + i_h * dh
                    if ih < 0 or ih >= H:
                        continue
                    _accum_weight_row(acc_all[i_d, i_h], gr, x[n, idd, ih], C, Wo, W, kw, sw, dw, pw, lo, hi)


@njit(**_OPTS)
def _accum_weight_row(acc, gr, xr, C, Wo, W, kw, sw, dw, pw, lo, hi):  # pragma: no cover
    """acc[j*C + c] += sum over ow of g[ow, c] * x[ow*sw - pw + j*dw, c] for one pair of rows."""
    uC = U(C)
    for ow in range(Wo):
        interior = lo <= ow < hi
        gb = U(ow * C)
        for j in range(kw):
            iw = ow * sw - pw + j * dw
            if not interior and (iw < 0 or iw >= W):
                continue
            xb = U(iw * C)
            ab = U(j * C)
            for c in range(uC):
                acc[ab + c] += gr[gb + c] * xr[xb + c]


def partial_slots(rows: int) -> int:
    """How many private accumulators the weight gradient uses.

    A fixed number (not the thread count), so the summation order and therefore the result do not depend on
    how many threads run.
    """
    return max(1, min(rows, 16))
