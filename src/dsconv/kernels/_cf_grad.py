"""Numba depthwise backward kernel (input and weight gradients) for the channels-first layout ``(N, C, D, H, W)``.

The counterpart of :mod:`dsconv.kernels._cf`, on the same polyphase scratch. The parallel tasks are runs of
neighbouring ``(image, input channel)`` planes; for each plane the worker copies into its own zero-bordered
scratch:

- ``G``: the ``M * Do`` output-gradient slices of the plane's output channels, each padded by
  ``Bh = ((kh - 1) * dh) // sh`` rows and ``Bw = ((kw - 1) * dw) // sw`` columns on every side, rows of pitch
  ``P = Wo + 2 * Bw``;
- ``S`` (for the weight gradient): the input slices split into their ``sh x sw`` polyphase components as the
  forward does (:func:`dsconv.kernels._cf._fill_slice`), with the same pitch ``P``.

**Weight gradient.** Tap ``t`` of slice ``(co, i_d)`` is the dot product of the output gradient with the run
of ``S`` the forward read for that tap. With both buffers at pitch ``P``, that is one flat run of
``(Ho - 1) * P + Wo`` elements per tap (the columns between rows multiply ``G``'s zero border), so short rows
still fill whole vectors; a 3x3 slice does its nine dot products in one pass over ``G``
(:func:`_dots_3x3`). Each plane writes its own row of ``partial`` ``(N, C * M, kd * kh * kw)``; the caller sums
over the batch, so results do not depend on the thread count.

**Input gradient.** The adjoint of the forward: component ``(a, b)`` of the padded input gradient gets, from
every tap ``(i, j)`` with ``((i * dh) % sh, (j * dw) % sw) == (a, b)``, the output gradient times ``w[i, j]``
shifted by ``((i * dh) // sh, (j * dw) // sw)``. Read from the padded ``G`` that is a stride-1 correlation:
one flat run per component over a few taps (all nine for a 3x3 kernel at stride 1), into the scratch ``A``,
summed over the multiplier's output channels and the depth taps that reach the slice. :func:`_unfill_slice`,
the adjoint of the forward's copy, then merges the components back into the input's rows, dropping the
padding and writing zeros where no output reads the input. At stride 1 with input rows of 16 or more there
is one component, whose rows are the input gradient's rows shifted by the padding: they are summed in place
and ``A`` is not used.

What this gives end to end, and what was tried and not kept: ``benchmarks/NOTES.md`` (eleventh session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numba as nb
import numpy as np
from numba import njit, prange

from dsconv.kernels import _memory
from dsconv.kernels._cf import _CHUNKS_PER_THREAD, _DIRECT_MIN, _fill_slice, _slice_3x3, _slice_taps, aligned
from dsconv.kernels._cl import _OPTS
from dsconv.kernels._codegen import _restrict, _wide_vectors

if TYPE_CHECKING:
    from dsconv.kernels.depthwise import Problem

U = nb.uint64


@njit(inline="always", **_OPTS)
def _unfill_slice(gf, gb, af, ab, H, W, sh, sw, ph, pw, Rq, Wq, P):  # pragma: no cover
    """The adjoint of :func:`dsconv.kernels._cf._fill_slice`: write the ``(H, W)`` slice at ``gb`` from the
    components at ``ab`` (``Rq`` rows of pitch ``P`` each). Input ``(ih, iw)`` takes component
    ``((ih + ph) % sh, (iw + pw) % sw)`` at row ``(ih + ph) // sh``, column ``(iw + pw) // sw``, or zero when that
    lies past ``Rq``/``Wq`` (no output reads it)."""
    comp = Rq * P
    for ih in range(H):
        a = (ih + ph) % sh
        r = (ih + ph) // sh
        dst = gb + U(ih * W)
        if r >= Rq:
            for q in range(U(W)):
                gf[dst + q] = 0
            continue
        row = ab + U(a * sw * comp + r * P)
        end = 0  # columns [end, W) are past Wq
        if sw == 1:
            end = max(min(W, Wq - pw), 0)
            s = row + U(pw)
            for q in range(U(end)):
                gf[dst + q] = af[s + q]
        elif sw == 2:
            iw0 = pw % 2
            q0 = (iw0 + pw) // 2
            if iw0 == 1:
                gf[dst] = af[row + U(comp + pw // 2)] if pw // 2 < Wq else 0
            n0 = max(min((W - iw0 + 1) // 2, Wq - q0), 0)
            n1 = min((W - iw0) // 2, n0)
            s0, s1, d0 = row + U(q0), row + U(comp + q0), dst + U(iw0)
            for q in range(U(n1)):
                gf[d0 + q + q] = af[s0 + q]
                gf[d0 + q + q + U(1)] = af[s1 + q]
            if n0 > n1:
                gf[d0 + U(n1 + n1)] = af[s0 + U(n1)]
            end = iw0 + n0 + n1 if n0 > 0 else min(iw0, W)
        else:
            for iw in range(W):
                b, col = (iw + pw) % sw, (iw + pw) // sw
                gf[dst + U(iw)] = af[row + U(b * comp + col)] if col < Wq else 0
            end = W
        for q in range(U(end), U(W)):
            gf[dst + q] = 0


@njit(inline="always", **_OPTS)
def _dots_3x3(pf, pb, gf, gb, sf, sb, offs, n):  # pragma: no cover
    """``pf[pb + t] += sum_j gf[gb + j] * sf[sb + offs[t] + j]`` for the nine taps ``t``, ``j < n``, in one pass."""
    a0, a1, a2, a3, a4 = pf[pb], pf[pb + 1], pf[pb + 2], pf[pb + 3], pf[pb + 4]
    a5, a6, a7, a8 = pf[pb + 5], pf[pb + 6], pf[pb + 7], pf[pb + 8]
    o0, o1, o2, o3, o4 = sb + offs[0], sb + offs[1], sb + offs[2], sb + offs[3], sb + offs[4]
    o5, o6, o7, o8 = sb + offs[5], sb + offs[6], sb + offs[7], sb + offs[8]
    for j in range(U(n)):
        v = gf[gb + j]
        a0 += v * sf[o0 + j]
        a1 += v * sf[o1 + j]
        a2 += v * sf[o2 + j]
        a3 += v * sf[o3 + j]
        a4 += v * sf[o4 + j]
        a5 += v * sf[o5 + j]
        a6 += v * sf[o6 + j]
        a7 += v * sf[o7 + j]
        a8 += v * sf[o8 + j]
    pf[pb], pf[pb + 1], pf[pb + 2], pf[pb + 3], pf[pb + 4] = a0, a1, a2, a3, a4
    pf[pb + 5], pf[pb + 6], pf[pb + 7], pf[pb + 8] = a5, a6, a7, a8


@njit(inline="always", **_OPTS)
def _dots(pf, pb, gf, gb, sf, sb, offs, n, taps):  # pragma: no cover
    """:func:`_dots_3x3` for any number of taps, one pass over ``gf`` per tap."""
    for t in range(taps):
        acc = pf[pb + t]
        st = sb + offs[t]
        for j in range(U(n)):
            acc += gf[gb + j] * sf[st + j]
        pf[pb + t] = acc


@njit(**_OPTS)
def _grad_planes(xf, gf, wcf, gxf, pf, zero, offs, coffs, cstart, scr, s0, g0, a0, t0, t1, C, M, D, H, W,
                 Do, Ho, Wo, kd, taps, sd, sh, sw, pd, ph, pw, dd, Bh, Bw, Rq, Wq, P,
                 need_x, need_w):  # pragma: no cover
    """Planes ``t0 <= t < t1`` (``t = n * C + c``): fill ``G`` (at ``g0``) and, for the weight gradient, ``S``
    (at ``s0``); add the plane's tap sums to ``partial[n, c * M + m]``; write ``grad_x[n, c]`` through ``A``
    (at ``a0``)."""
    _wide_vectors()
    _restrict()
    CM = C * M
    ncomp = sh * sw
    comp = Rq * P
    g_slice = (Ho + 2 * Bh) * P
    s_slice = ncomp * comp
    n_dot = (Ho - 1) * P + Wo  # flat run of the weight gradient's dot products
    n_acc = (Rq - 1) * P + Wq  # flat run of each input-gradient component
    g_in = U(Bh * P + Bw)  # offset of the output gradient's first element in a G slice
    # stride 1 with rows of 16 or more: grad_x rows written in place, not through A (at stride 1 every input
    # is read by some output: Rq - ph = H + the after-padding, and likewise for the columns)
    direct = ncomp == 1 and W >= _DIRECT_MIN
    z = zero[0]
    for t in range(t0, t1):
        n = t // C
        c = t - n * C
        for m in range(M):  # G: the output gradients of the plane's output channels
            for od in range(Do):
                src = U(((n * CM + c * M + m) * Do + od) * Ho * Wo)
                dst = U(g0 + (m * Do + od) * g_slice) + g_in
                for r in range(U(Ho)):
                    for q in range(U(Wo)):
                        scr[dst + r * U(P) + q] = gf[src + r * U(Wo) + q]
        if need_w:
            for idd in range(D):
                _fill_slice(scr, U(s0 + idd * s_slice), xf, U((t * D + idd) * H * W), H, W, sh, sw, ph, pw, Rq, Wq, P)
            for m in range(M):
                co = c * M + m
                for od in range(Do):
                    gb = U(g0 + (m * Do + od) * g_slice) + g_in
                    for i_d in range(kd):
                        idd = od * sd - pd + i_d * dd
                        if idd < 0 or idd >= D:
                            continue
                        pb = U(((n * CM + co) * kd + i_d) * taps)
                        sb = U(s0 + idd * s_slice)
                        if taps == 9:
                            _dots_3x3(pf, pb, scr, gb, scr, sb, offs, n_dot)
                        else:
                            _dots(pf, pb, scr, gb, scr, sb, offs, n_dot, taps)
        if not need_x:
            continue
        for idd in range(D):
            first = True
            dst = U((t * D + idd) * H * W)
            for m in range(M):
                co = c * M + m
                for i_d in range(kd):
                    num = idd + pd - i_d * dd  # = od * sd for the output slice this depth tap comes from
                    if num < 0 or num % sd != 0 or num // sd >= Do:
                        continue
                    gb = U(g0 + (m * Do + num // sd) * g_slice)
                    wb = (co * kd + i_d) * taps
                    if direct:  # stride 1: rows of A are rows of grad_x, shifted by the padding
                        sb = gb + U(ph * P + pw)
                        if taps == 9:
                            _slice_3x3(gxf, dst, W, scr, sb, P, coffs, wcf, wb, z, H, W, first)
                        else:
                            _slice_taps(gxf, dst, W, scr, sb, P, coffs, wcf, wb, z, H, W, first, taps, 0)
                        first = False
                        continue
                    for k in range(ncomp):
                        k0, k1 = cstart[k], cstart[k + 1]
                        ab = U(a0 + k * comp)
                        if k0 == 0 and k1 == 9:  # _slice_3x3 reads the first nine offsets
                            _slice_3x3(scr, ab, 0, scr, gb, 0, coffs, wcf, wb, z, 1, n_acc, first)
                        elif k1 > k0:
                            _slice_taps(scr, ab, 0, scr, gb, 0, coffs, wcf, wb + k0, z, 1, n_acc, first, k1 - k0, k0)
                        elif first:  # no tap reaches this component
                            for q in range(U(n_acc)):
                                scr[ab + q] = z
                    first = False
            if first:  # no output slice reads this input slice
                for q in range(U(H * W)):
                    gxf[dst + q] = z
            elif not direct:
                _unfill_slice(gxf, dst, scr, U(a0), H, W, sh, sw, ph, pw, Rq, Wq, P)


@njit(parallel=True, **_OPTS)
def backward(x, g, wc, gx, partial, offs, coffs, cstart, geometry, scratch, regions, need_x, need_w,
             chunks):  # pragma: no cover
    """Depthwise input and weight gradients, channels-first.

    Args:
        x: ``(N, C, D, H, W)`` C-contiguous, float32 or float64 (read for the weight gradient only).
        g: ``(N, C * M, Do, Ho, Wo)`` C-contiguous output gradient, ``x``'s dtype.
        wc: ``(C * M, kd, kh * kw)`` weights with each slice's taps in component order (see :func:`plan`).
        gx: ``(N, C, D, H, W)``, written when ``need_x``.
        partial: ``(N, C * M, kd * kh * kw)`` zeros, the weight gradient per image added when ``need_w``.
        offs, coffs, cstart, geometry: from :func:`plan`.
        scratch: zeros ``(threads, regions[3])``, one row per worker; ``regions`` the offsets of ``S``, ``G``
            and ``A`` in a row and its length.
        chunks: the number of parallel tasks, each a run of neighbouring ``(n, c)`` planes.
    """
    N, C, D, H, W = x.shape
    CM, kd, taps = wc.shape
    Do, Ho, Wo = g.shape[2], g.shape[3], g.shape[4]
    sd, sh, sw, pd, ph, pw, dd, Bh, Bw, Rq, Wq, P = geometry
    zero = np.zeros(1, g.dtype)
    planes = N * C
    for k in prange(chunks):
        base = numba.get_thread_id() * scratch.shape[1]
        _grad_planes(x.reshape(-1), g.reshape(-1), wc.reshape(-1), gx.reshape(-1), partial.reshape(-1), zero, offs,
                     coffs, cstart, scratch.reshape(-1), base + regions[0], base + regions[1], base + regions[2],
                     k * planes // chunks, (k + 1) * planes // chunks, C, CM // C, D, H, W, Do, Ho, Wo, kd, taps,
                     sd, sh, sw, pd, ph, pw, dd, Bh, Bw, Rq, Wq, P, need_x, need_w)


def plan(kernel: tuple[int, int, int], out_size: tuple[int, int, int], stride: tuple[int, int, int],
         pads: tuple[int, int, int], dilation: tuple[int, int, int]):
    """The geometry of :func:`backward` for one problem.

    Returns:
        ``(order, offs, coffs, cstart, geometry)``: ``order`` the taps of a ``(kh, kw)`` slice grouped by
        polyphase component (``wc = w[..., order]``); ``offs[t]`` the run of ``S`` tap ``t`` reads;
        ``coffs[k]`` the run of ``G`` the ``k``-th tap in ``order`` adds to its component; ``cstart`` the first
        position in ``order`` of each component (``sh * sw + 1`` entries); ``geometry`` the 12 integers
        ``(sd, sh, sw, pd, ph, pw, dd, Bh, Bw, Rq, Wq, P)``.
    """
    _, kh, kw = kernel
    _, Ho, Wo = out_size
    sd, sh, sw = stride
    dd, dh, dw = dilation
    bh, bw = ((kh - 1) * dh) // sh, ((kw - 1) * dw) // sw
    rq, wq, pitch = Ho + bh, Wo + bw, Wo + 2 * bw
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    comp = [((i * dh) % sh) * sw + (j * dw) % sw for i, j in taps]
    shift = [((i * dh) // sh, (j * dw) // sw) for i, j in taps]
    offs = np.array([comp[t] * rq * pitch + shift[t][0] * pitch + shift[t][1] for t in range(len(taps))], np.uint64)
    order = np.array(sorted(range(len(taps)), key=lambda t: comp[t]), np.int64)
    coffs = np.array([(bh - shift[t][0]) * pitch + bw - shift[t][1] for t in order], np.uint64)
    cstart = np.searchsorted(np.array([comp[t] for t in order]), np.arange(sh * sw + 1)).astype(np.int64)
    geometry = (sd, sh, sw, pads[0], pads[1], pads[2], dd, bh, bw, rq, wq, pitch)
    return order, offs, coffs, cstart, geometry


def run(x: np.ndarray, g: np.ndarray, w: np.ndarray, stride: tuple[int, int, int], pads: tuple[int, int, int],
        dilation: tuple[int, int, int], need_x: bool = True,
        need_w: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Both gradients (the ones asked for) from C-contiguous ``x`` ``(N, C, D, H, W)``, ``g``
    ``(N, C * M, Do, Ho, Wo)`` and ``w`` ``(C * M, kd, kh, kw)`` of one dtype (float32 or float64).

    Returns:
        ``(grad_x (N, C, D, H, W) or None, grad_w (C * M, kd, kh, kw) or None)``.
    """
    N, C, D = x.shape[:3]
    CM, kd, kh, kw = w.shape
    Do, Ho = g.shape[2], g.shape[3]
    order, offs, coffs, cstart, geometry = plan((kd, kh, kw), g.shape[2:], stride, pads, dilation)
    sh, sw, bh, rq, pitch = geometry[1], geometry[2], geometry[7], geometry[9], geometry[11]
    s_size = D * sh * sw * rq * pitch if need_w else 0
    g_size = (CM // C) * Do * (Ho + 2 * bh) * pitch
    a_size = sh * sw * rq * pitch if need_x else 0
    regions = np.array([0, aligned(s_size), aligned(s_size) + aligned(g_size), aligned(s_size) + aligned(g_size) + aligned(a_size)], np.int64)
    threads = numba.get_num_threads()
    scratch = _memory.zeros((threads, max(int(regions[3]), 1)), w.dtype)
    wc = _memory.contiguous(w.reshape(CM, kd, kh * kw)[:, :, order], w.dtype)
    gx = _memory.empty(x.shape, w.dtype) if need_x else _memory.empty((1, 1, 1, 1, 1), w.dtype)
    partial = _memory.zeros((N, CM, kd * kh * kw) if need_w else (1, 1, 1), w.dtype)
    backward(x, g, wc, gx, partial, offs, coffs, cstart, geometry, scratch, regions, need_x, need_w,
             min(N * C, _CHUNKS_PER_THREAD * threads))
    gw = partial.sum(axis=0).reshape(CM, kd, kh, kw) if need_w else None
    return (gx if need_x else None), gw


def gradients_problem(g: np.ndarray, x: np.ndarray, weight: np.ndarray, p: Problem, dtype: np.dtype,
                      need_x: bool = True, need_w: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The gradients of problem ``p`` asked for, from channels-first ``g`` ``(N, C * M, *out)``, ``x``
    ``(N, C, *spatial)`` (any strides; copied to C-contiguous ``dtype`` arrays if needed) and ``weight``
    ``(C * M, 1, *kernel)``: ``(grad_x (N, C, *spatial) or None, grad_w (C * M, 1, *kernel) or None)`` in ``dtype``."""
    x = _memory.contiguous(x, dtype).reshape(p.batch, p.channels, *p.spatial)
    g = _memory.contiguous(g, dtype).reshape(p.batch, p.out_channels, *p.out_size)
    w = _memory.contiguous(weight, dtype).reshape(p.out_channels, *p.kernel)
    gx, gw = run(x, g, w, p.stride, p.pads, p.dilation, need_x, need_w)
    n = p.n
    return (None if gx is None else gx.reshape(p.batch, p.channels, *p.spatial[3 - n:]),
            None if gw is None else gw.reshape(p.out_channels, 1, *p.kernel[3 - n:]))
