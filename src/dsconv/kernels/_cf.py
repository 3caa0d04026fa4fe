"""Numba depthwise kernels for the ``channels_first`` (NCHW) layout, vectorised along the output row.

Arrays are viewed as 3-D spatial ``(N, C, D, H, W)``; 1-D and 2-D inputs get ``D = H = 1`` or ``D = 1``.
One parallel task per output row ``(n, c, od, oh)`` (or input row for the input gradient). Weights are
``(C*M, kd, kh, kw)`` and output channel ``oc`` reads input channel ``oc // M``. Inner loops index row views
with unsigned offsets so that Numba emits no negative-index wrap and LLVM can vectorise (stride 1 gives
contiguous vectors; other strides still run branch-free).
"""

from __future__ import annotations

import numba as nb
from numba import njit, prange

from dsconv.kernels._cl import interior_range

U = nb.uint64
_OPTS = {"cache": True, "fastmath": True, "nogil": True}


@njit(**_OPTS)
def tap_range(n_out: int, n_in: int, offset: int, s: int) -> tuple[int, int]:  # pragma: no cover
    """Output positions ``[lo, hi)`` with ``0 <= o*s + offset < n_in`` for one tap (``offset = j*d - pad``)."""
    lo = 0 if offset >= 0 else (s - 1 - offset) // s
    hi = (n_in - 1 - offset) // s + 1 if n_in - 1 - offset >= 0 else 0
    hi = min(hi, n_out)
    return lo, max(lo, hi)


@njit(**_OPTS)
def _row_forward(o, xr, wr, Wo, W, kw, sw, dw, pw, lo, hi):  # pragma: no cover
    """o[ow] += sum_j wr[j] * xr[ow*sw - pw + j*dw] over the valid taps of every output pixel."""
    for ow in range(lo):
        for j in range(kw):
            iw = ow * sw - pw + j * dw
            if 0 <= iw < W:
                o[ow] += wr[j] * xr[iw]
    for ow in range(hi, Wo):
        for j in range(kw):
            iw = ow * sw - pw + j * dw
            if 0 <= iw < W:
                o[ow] += wr[j] * xr[iw]
    if hi <= lo:
        return
    xs = xr[lo * sw - pw:]
    os_ = o[lo:]
    usw = U(sw)
    if kw == 3:
        w0, w1, w2 = wr[0], wr[1], wr[2]
        d1 = U(dw)
        d2 = U(2 * dw)
        for u in range(U(hi - lo)):
            p = u * usw
            os_[u] += w0 * xs[p] + w1 * xs[p + d1] + w2 * xs[p + d2]
        return
    for j in range(kw):
        wj = wr[j]
        xj = xs[j * dw:]
        for u in range(U(hi - lo)):
            os_[u] += wj * xj[u * usw]


@njit(parallel=True, **_OPTS)
def forward(x, w, b, out, stride, pads, dilation):  # pragma: no cover
    """Depthwise forward. x ``(N, C, D, H, W)``, w ``(C*M, kd, kh, kw)``, b ``(C*M,)``, out ``(N, C*M, Do, Ho, Wo)``."""
    N, C, D, H, W = x.shape
    _, CM, Do, Ho, Wo = out.shape
    _, kd, kh, kw = w.shape
    M = CM // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    lo, hi = interior_range(Wo, W, kw, sw, dw, pw)
    for t in prange(N * CM * Do * Ho):
        n = t // (CM * Do * Ho)
        oc = (t // (Do * Ho)) % CM
        od = (t // Ho) % Do
        oh = t % Ho
        o = out[n, oc, od, oh]
        bias = b[oc]
        for ow in range(Wo):
            o[ow] = bias
        xc = x[n, oc // M]
        for i_d in range(kd):
            idd = od * sd - pd + i_d * dd
            if idd < 0 or idd >= D:
                continue
            for i_h in range(kh):
                ih = oh * sh - ph + i_h * dh
                if 0 <= ih < H:
                    _row_forward(o, xc[idd, ih], w[oc, i_d, i_h], Wo, W, kw, sw, dw, pw, lo, hi)


@njit(parallel=True, **_OPTS)
def backward_input(g, w, gx, stride, pads, dilation):  # pragma: no cover
    """Input gradient. g ``(N, C*M, Do, Ho, Wo)``, w ``(C*M, kd, kh, kw)``, gx ``(N, C, D, H, W)`` (overwritten).

    One task per input row scatters the contributions of the output rows that saw it (within its own row).
    """
    N, C, D, H, W = gx.shape
    _, CM, Do, Ho, Wo = g.shape
    _, kd, kh, kw = w.shape
    M = CM // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    usw = U(sw)
    for t in prange(N * C * D * H):
        n = t // (C * D * H)
        ic = (t // (D * H)) % C
        idd = (t // H) % D
        ih = t % H
        gxr = gx[n, ic, idd, ih]
        for iw in range(W):
            gxr[iw] = 0.0
        for m in range(M):
            oc = ic * M + m
            for i_d in range(kd):
                num_d = idd + pd - i_d * dd
                if num_d < 0 or num_d % sd != 0 or num_d // sd >= Do:
                    continue
                for i_h in range(kh):
                    num_h = ih + ph - i_h * dh
                    if num_h < 0 or num_h % sh != 0 or num_h // sh >= Ho:
                        continue
                    gr = g[n, oc, num_d // sd, num_h // sh]
                    wr = w[oc, i_d, i_h]
                    for j in range(kw):
                        lo, hi = tap_range(Wo, W, j * dw - pw, sw)
                        if hi <= lo:
                            continue
                        wj = wr[j]
                        gs = gxr[lo * sw + j * dw - pw:]
                        grs = gr[lo:]
                        for u in range(U(hi - lo)):
                            gs[u * usw] += wj * grs[u]


@njit(parallel=True, **_OPTS)
def backward_weight(g, x, partial, stride, pads, dilation):  # pragma: no cover
    """Weight gradient per image. g ``(N, C*M, Do, Ho, Wo)``, x ``(N, C, D, H, W)``,
    partial ``(N, C*M, kd, kh, kw)`` (overwritten; the caller sums over ``N``).
    """
    N, C, D, H, W = x.shape
    _, CM, Do, Ho, Wo = g.shape
    _, _, kd, kh, kw = partial.shape
    M = CM // C
    sd, sh, sw = stride
    pd, ph, pw = pads
    dd, dh, dw = dilation
    usw = U(sw)
    for t in prange(N * CM):
        n = t // CM
        oc = t % CM
        acc = partial[n, oc]
        xc = x[n, oc // M]
        for i_d in range(kd):
            for i_h in range(kh):
                for j in range(kw):
                    acc[i_d, i_h, j] = 0.0
        for od in range(Do):
            for oh in range(Ho):
                gr = g[n, oc, od, oh]
                for i_d in range(kd):
                    idd = od * sd - pd + i_d * dd
                    if idd < 0 or idd >= D:
                        continue
                    for i_h in range(kh):
                        ih = oh * sh - ph + i_h * dh
                        if ih < 0 or ih >= H:
                            continue
                        xr = xc[idd, ih]
                        for j in range(kw):
                            lo, hi = tap_range(Wo, W, j * dw - pw, sw)
                            if hi <= lo:
                                continue
                            xs = xr[lo * sw + j * dw - pw:]
                            grs = gr[lo:]
                            s = 0.0
                            for u in range(U(hi - lo)):
                                s += grs[u] * xs[u * usw]
                            acc[i_d, i_h, j] += s


__all__ = ["backward_input", "backward_weight", "forward", "tap_range"]
