"""Numba depthwise forward kernel for the channels-first layout ``(N, C, D, H, W)``, vectorised along the rows.

The parallel tasks are runs of neighbouring ``(image, input channel)`` planes, 8 per worker
(:func:`_planes`, one call per run). For each plane the worker copies the input volume, slice by slice, into
its own zero-bordered scratch buffer (:func:`_fill_slice`): each ``(H, W)`` slice is padded and split into
its ``sh x sw`` polyphase components (component ``(a, b)`` holds padded rows ``a, a + sh, ...`` and columns
``b, b + sw, ...``), so at any stride every kernel tap reads a contiguous run of one component, and the border
needs no test. The borders stay zero from one plane to the next (every plane writes the same interior
positions), so the scratch is zeroed once per call. Each output row is then the sum of its taps' runs times
scalar weights held in registers (:func:`_slice_3x3`, :func:`_slice_taps` for other kernel sizes). Rows of 16
outputs or more are written straight into the output; narrower planes are computed as one flat run over the
padded width (its ``Wq - Wo`` extra columns per row are discarded) into a scratch plane and copied out row by
row, so that short rows still fill whole vectors.

Where no polyphase component is wider than the output rows (``ceil(W / sw) <= Wo``, which "same" padding
gives at any stride) the kernel uses the masked layout instead (:func:`masked_layout`,
:func:`forward_masked`): the components hold the unpadded input at the output's row pitch, so each tap reads
one flat run over the whole output slice, which is written in place whatever its row width; the taps whose
column falls outside the input would read the neighbouring row's pixel there, and a per-column mask drops
them. On MobileNetV1's 3x3 shapes this ran 1.07-1.76x faster than the padded rows above (kernel alone,
batch 1 and 8, ``benchmarks/cf_masked.py``), most on 7x7 to 28x28 planes, whose short rows leave vectors
partly empty.

A multiplier > 1 reuses the filled scratch for the ``M`` output channels of the input channel. Depth taps
that fall in the padding are skipped; an output slice with no valid depth tap is its bias.

Why a padded copy instead of reading the input in place: the copy costs one pass over the input, but every
tap then runs branch-free over whole rows, including at stride 2, where in-place loads would be strided.
The helpers inside a task are inlined at Numba's level (``inline="always"``): as out-of-line calls, each
one updated the arrays' shared reference counts, and with one call per row two threads ran no faster than
one on the 14x14 and 7x7 planes. End to end on MobileNetV1's shapes this kernel is faster than the
channels-last kernel between two transpositions when output rows are 14 wide or more, and, in the masked
layout, on 7x7 outputs at batch 1 (1.49x; 1.01x at batch 8; :func:`prefers`, :func:`prefers_forward`;
``benchmarks/nchw_layers.py``, ``benchmarks/NOTES.md``).

The arrays are indexed flat with unsigned offsets, and no view is created inside the parallel loop (see
:mod:`dsconv.kernels._cl`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numba
import numba as nb
import numpy as np
from numba import njit, prange

from dsconv.kernels import _memory
from dsconv.kernels._cl import _OPTS
from dsconv.kernels._codegen import _restrict, _wide_vectors

if TYPE_CHECKING:
    from dsconv.kernels.depthwise import Problem

U = nb.uint64
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_MIN_WIDTH = 12  # narrower output rows go to the channels-last kernel (see prefers)
_MASKED_MIN = 49  # outputs per slice: smaller masked-layout forwards go to the channels-last kernel
_DIRECT_MIN = 16  # output rows at least this wide are written in place; narrower planes go through a flat run
_CHUNKS_PER_THREAD = 8  # tasks per worker: runs of neighbouring planes, for balance without a call per plane
_ALIGN_ELEMENTS = 16  # per-worker buffers start on 64-byte boundaries (float32)


@njit(inline="always", **_OPTS)
def _fill_slice(sf, sb, xf, xb, H, W, sh, sw, ph, pw, Rq, Wq, P):  # pragma: no cover
    """Copy the ``(H, W)`` input slice at ``xb`` into its ``sh * sw`` components at ``sb`` (``Rq`` rows of
    pitch ``P >= Wq`` each, borders already zero): input ``(ih, iw)`` goes to component
    ``((ih + ph) % sh, (iw + pw) % sw)`` at row ``(ih + ph) // sh``, column ``(iw + pw) // sw``; rows and
    columns past ``Rq``/``Wq`` are not read."""
    comp = Rq * P
    for ih in range(H):
        a = (ih + ph) % sh
        r = (ih + ph) // sh
        if r >= Rq:
            break
        row = sb + U(a * sw * comp + r * P)
        src = xb + U(ih * W)
        if sw == 1:
            n = min(W, Wq - pw)
            d = row + U(pw)
            for q in range(U(max(n, 0))):
                sf[d + q] = xf[src + q]
        elif sw == 2:
            iw0 = pw % 2  # the first input column with an even padded column
            q0 = (iw0 + pw) // 2
            if iw0 == 1 and pw // 2 < Wq:  # column 0 alone in the odd component
                sf[row + U(comp + pw // 2)] = xf[src]
            n0 = min((W - iw0 + 1) // 2, Wq - q0)
            n1 = min((W - iw0) // 2, n0)
            if n0 > 0:
                d0, d1, s0 = row + U(q0), row + U(comp + q0), src + U(iw0)
                for q in range(U(n1)):
                    sf[d0 + q] = xf[s0 + q + q]
                    sf[d1 + q] = xf[s0 + q + q + U(1)]
                if n0 > n1:
                    sf[d0 + U(n1)] = xf[s0 + U(n1 + n1)]
        else:
            for b in range(sw):
                iw0 = (b - pw) % sw  # the first input column of component b
                q0 = (iw0 + pw) // sw
                n = min((W - iw0 + sw - 1) // sw, Wq - q0)
                d, s0 = row + U(b * comp + q0), src + U(iw0)
                for q in range(U(max(n, 0))):
                    sf[d + q] = xf[s0 + q * U(sw)]


@njit(inline="always", **_OPTS)
def _slice_3x3(of, ob, ors, sf, sb, srs, offs, wf, wb, bias, rows, n, first):  # pragma: no cover
    """Rows ``r < rows`` of ``n`` outputs at ``ob + r * ors``: ``bias`` (if ``first``, else the output itself)
    plus the nine taps of a 3x3 kernel slice ``wf[wb:wb + 9]``, tap ``t`` reading ``sf[sb + offs[t] + r * srs:]``."""
    w0, w1, w2, w3, w4 = wf[wb], wf[wb + 1], wf[wb + 2], wf[wb + 3], wf[wb + 4]
    w5, w6, w7, w8 = wf[wb + 5], wf[wb + 6], wf[wb + 7], wf[wb + 8]
    for r in range(U(rows)):
        o = ob + r * U(ors)
        s = sb + r * U(srs)
        o0, o1, o2, o3, o4 = s + offs[0], s + offs[1], s + offs[2], s + offs[3], s + offs[4]
        o5, o6, o7, o8 = s + offs[5], s + offs[6], s + offs[7], s + offs[8]
        if first:
            for q in range(U(n)):
                of[o + q] = (bias + w0 * sf[o0 + q] + w1 * sf[o1 + q] + w2 * sf[o2 + q] + w3 * sf[o3 + q]
                             + w4 * sf[o4 + q] + w5 * sf[o5 + q] + w6 * sf[o6 + q] + w7 * sf[o7 + q]
                             + w8 * sf[o8 + q])
        else:
            for q in range(U(n)):
                of[o + q] += (w0 * sf[o0 + q] + w1 * sf[o1 + q] + w2 * sf[o2 + q] + w3 * sf[o3 + q]
                              + w4 * sf[o4 + q] + w5 * sf[o5 + q] + w6 * sf[o6 + q] + w7 * sf[o7 + q]
                              + w8 * sf[o8 + q])


@njit(inline="always", **_OPTS)
def _slice_taps(of, ob, ors, sf, sb, srs, offs, wf, wb, bias, rows, n, first, taps, k0=0):  # pragma: no cover
    """:func:`_slice_3x3` for any kernel slice of ``taps`` taps: the bias, then one pass per tap; tap ``t``
    reads ``sf[sb + offs[k0 + t] + r * srs:]`` with weight ``wf[wb + t]``."""
    for r in range(U(rows)):
        o = ob + r * U(ors)
        s = sb + r * U(srs)
        if first:
            for q in range(U(n)):
                of[o + q] = bias
        for t in range(taps):
            wt = wf[wb + t]
            st = s + offs[k0 + t]
            for q in range(U(n)):
                of[o + q] += wt * sf[st + q]


@njit(**_OPTS)
def _planes(of, xf, wf, b, sf, sb0, tf, tb0, offs, t0, t1, C, M, D, H, W, Do, Ho, Wo, kd, kh, kw,
            sd, sh, sw, pd, ph, pw, dd, Rq, Wq):  # pragma: no cover
    """Input planes ``t0 <= t < t1`` (``t = n * C + c``): fill the scratch at ``sb0`` with the ``D`` slices of
    ``x[n, c]``, then write ``out[n, c * M + m]`` for every ``m``, in place (rows of at least 16) or through the
    flat scratch at ``tb0``."""
    _wide_vectors()
    _restrict()
    slice_size = sh * sw * Rq * Wq
    direct = Wo >= _DIRECT_MIN
    n_flat = (Ho - 1) * Wq + Wo
    CM, taps = C * M, kh * kw
    for t in range(t0, t1):
        n = t // C
        c = t - n * C
        for idd in range(D):
            _fill_slice(sf, sb0 + U(idd * slice_size), xf, U((t * D + idd) * H * W), H, W, sh, sw, ph, pw, Rq, Wq,
                        Wq)
        for m in range(M):
            co = c * M + m
            bias = b[co]
            for od in range(Do):
                ob = U(((n * CM + co) * Do + od) * Ho * Wo)
                first = True
                for i_d in range(kd):
                    idd = od * sd - pd + i_d * dd
                    if idd < 0 or idd >= D:
                        continue
                    sb = sb0 + U(idd * slice_size)
                    wb = (co * kd + i_d) * taps
                    dst, dst_b, rows, span, ors = of, ob, Ho, Wo, Wo
                    if not direct:
                        dst, dst_b, rows, span, ors = tf, tb0, 1, n_flat, n_flat
                    if taps == 9 and kh == 3:
                        _slice_3x3(dst, dst_b, ors, sf, sb, Wq, offs, wf, wb, bias, rows, span, first)
                    else:
                        _slice_taps(dst, dst_b, ors, sf, sb, Wq, offs, wf, wb, bias, rows, span, first, taps)
                    first = False
                if first:  # every depth tap in the padding
                    for q in range(U(Ho * Wo)):
                        of[ob + q] = bias
                elif not direct:
                    for r in range(U(Ho)):
                        for q in range(U(Wo)):
                            of[ob + r * U(Wo) + q] = tf[tb0 + r * U(Wq) + q]


@njit(parallel=True, **_OPTS)
def forward(x, w, b, out, stride, pads, dilation, scratch, tmp, chunks):  # pragma: no cover
    """Depthwise forward, channels-first.

    Args:
        x: ``(N, C, D, H, W)`` C-contiguous, float32 or float64.
        w: ``(C * M, kd, kh, kw)`` C-contiguous, ``x``'s dtype; output channel ``c * M + j`` filters channel ``c``.
        b: ``(C * M,)`` bias.
        out: ``(N, C * M, Do, Ho, Wo)`` C-contiguous, written.
        stride, pads, dilation: 3-tuples (before-pads; the output size fixes the after-pads).
        scratch: zeros ``(threads, >= D * sh * sw * Rq * Wq)`` (see :func:`scratch_sizes`), one row per worker.
        tmp: ``(threads, >= Ho * Wq)``, one row per worker (used when ``Wo < 16``).
        chunks: the number of parallel tasks, each a run of neighbouring ``(n, c)`` planes.
    """
    N, C, D, H, W = x.shape
    CM, kd, kh, kw = w.shape
    Do, Ho, Wo = out.shape[2], out.shape[3], out.shape[4]
    sd, sh, sw = stride
    dd, dh, dw = dilation
    Rq = Ho + ((kh - 1) * dh) // sh
    Wq = Wo + ((kw - 1) * dw) // sw
    comp = Rq * Wq
    # tap (i, j) of a slice reads component ((i*dh) % sh, (j*dw) % sw) from row (i*dh)//sh, column (j*dw)//sw
    offs = np.empty(kh * kw, np.uint64)
    for i in range(kh):
        for j in range(kw):
            a, bb = (i * dh) % sh, (j * dw) % sw
            offs[i * kw + j] = (a * sw + bb) * comp + ((i * dh) // sh) * Wq + (j * dw) // sw
    planes = N * C
    for k in prange(chunks):
        tid = numba.get_thread_id()
        _planes(out.reshape(-1), x.reshape(-1), w.reshape(-1), b, scratch.reshape(-1), U(tid * scratch.shape[1]),
                tmp.reshape(-1), U(tid * tmp.shape[1]), offs, k * planes // chunks, (k + 1) * planes // chunks,
                C, CM // C, D, H, W, Do, Ho, Wo, kd, kh, kw, sd, sh, sw, pads[0], pads[1], pads[2], dd, Rq, Wq)


@njit(inline="always", **_OPTS)
def _masked_3x3(of, ob, sf, sb, offs, masks, wf, wb, bias, n, first):  # pragma: no cover
    """``n`` outputs at ``ob`` (one whole output slice, flat): ``bias`` (if ``first``, else the output itself)
    plus a 3x3 kernel slice, each kernel column's three taps summed and kept where ``masks[j * n + q]``."""
    w0, w1, w2, w3, w4 = wf[wb], wf[wb + 1], wf[wb + 2], wf[wb + 3], wf[wb + 4]
    w5, w6, w7, w8 = wf[wb + 5], wf[wb + 6], wf[wb + 7], wf[wb + 8]
    o0, o1, o2, o3, o4 = sb + offs[0], sb + offs[1], sb + offs[2], sb + offs[3], sb + offs[4]
    o5, o6, o7, o8 = sb + offs[5], sb + offs[6], sb + offs[7], sb + offs[8]
    un = U(n)
    for q in range(un):
        a0 = w0 * sf[o0 + q] + w3 * sf[o3 + q] + w6 * sf[o6 + q]
        a1 = w1 * sf[o1 + q] + w4 * sf[o4 + q] + w7 * sf[o7 + q]
        a2 = w2 * sf[o2 + q] + w5 * sf[o5 + q] + w8 * sf[o8 + q]
        r = bias if first else of[ob + q]
        if masks[q] != 0:
            r += a0
        if masks[un + q] != 0:
            r += a1
        if masks[un + un + q] != 0:
            r += a2
        of[ob + q] = r


@njit(inline="always", **_OPTS)
def _masked_taps(of, ob, sf, sb, offs, masks, wf, wb, bias, n, first, kh, kw):  # pragma: no cover
    """:func:`_masked_3x3` for any ``kh x kw`` kernel slice: the bias, then one pass per tap."""
    un = U(n)
    if first:
        for q in range(un):
            of[ob + q] = bias
    for i in range(kh):
        for j in range(kw):
            wt = wf[wb + i * kw + j]
            st = sb + offs[i * kw + j]
            mb = U(j) * un
            for q in range(un):
                if masks[mb + q] != 0:
                    of[ob + q] += wt * sf[st + q]


@njit(**_OPTS)
def _planes_masked(of, xf, wf, b, sf, sb0, offs, masks, t0, t1, C, M, D, H, W, Do, Ho, Wo, kd, kh, kw,
                   sd, sh, sw, pd, dd, R, Rb):  # pragma: no cover
    """:func:`_planes` in the masked layout (:func:`masked_layout`): each slice's components have the output's
    row pitch ``Wo``, so every output slice is one flat run written in place, and the kernel columns whose taps
    wrap around a row end are masked."""
    _wide_vectors()
    _restrict()
    slice_size = sh * sw * R * Wo
    n_out = Ho * Wo
    CM, taps = C * M, kh * kw
    for t in range(t0, t1):
        n = t // C
        c = t - n * C
        for idd in range(D):
            _fill_slice(sf, sb0 + U(idd * slice_size + Rb * Wo), xf, U((t * D + idd) * H * W), H, W, sh, sw, 0, 0, R,
                        Wo, Wo)
        for m in range(M):
            co = c * M + m
            bias = b[co]
            for od in range(Do):
                ob = U(((n * CM + co) * Do + od) * n_out)
                first = True
                for i_d in range(kd):
                    idd = od * sd - pd + i_d * dd
                    if idd < 0 or idd >= D:
                        continue
                    sb = sb0 + U(idd * slice_size)
                    wb = (co * kd + i_d) * taps
                    if kh == 3 and kw == 3:
                        _masked_3x3(of, ob, sf, sb, offs, masks, wf, wb, bias, n_out, first)
                    else:
                        _masked_taps(of, ob, sf, sb, offs, masks, wf, wb, bias, n_out, first, kh, kw)
                    first = False
                if first:  # every depth tap in the padding
                    for q in range(U(n_out)):
                        of[ob + q] = bias


@njit(parallel=True, **_OPTS)
def forward_masked(x, w, b, out, stride, pads, dilation, offs, masks, R, Rb, scratch, chunks):  # pragma: no cover
    """:func:`forward` in the masked layout; ``offs``, ``masks``, ``R``, ``Rb`` from :func:`masked_layout`,
    ``scratch`` zeros ``(threads, >= D * sh * sw * R * Wo)``."""
    N, C, D, H, W = x.shape
    CM, kd, kh, kw = w.shape
    Do, Ho, Wo = out.shape[2], out.shape[3], out.shape[4]
    planes = N * C
    for k in prange(chunks):
        tid = numba.get_thread_id()
        _planes_masked(out.reshape(-1), x.reshape(-1), w.reshape(-1), b, scratch.reshape(-1),
                       U(tid * scratch.shape[1]), offs, masks, k * planes // chunks, (k + 1) * planes // chunks,
                       C, CM // C, D, H, W, Do, Ho, Wo, kd, kh, kw, stride[0], stride[1], stride[2], pads[0],
                       dilation[0], R, Rb)


@functools.lru_cache(maxsize=64)
def masked_layout(hw: tuple[int, int], kernel: tuple[int, int], out_hw: tuple[int, int], stride: tuple[int, int],
                  pads: tuple[int, int], dilation: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """The masked layout of a slice's convolution, or ``None`` where it does not apply.

    Component ``(a, b)`` of an ``(H, W)`` input slice holds the input rows ``a, a + sh, ...`` and columns
    ``b, b + sw, ...`` (no padding inside), at the output's row pitch ``Wo``, after ``Rb`` zero rows and followed
    by zero rows up to ``R`` rows in all. Tap ``(i, j)`` of output ``(yo, xo)`` reads input
    ``(yo * sh - ph + i * dh, xo * sw - pw + j * dw)``: component ``(u % sh, v % sw)`` at row ``yo + u // sh``,
    column ``xo + v // sw`` (``u``, ``v`` the tap's offsets), so over the whole output slice it reads one flat run
    at offset ``offs[i * kw + j]`` from the slice's first component. Rows outside the input read the zero rows;
    a column ``xo + v // sw`` outside ``[0, Wo)`` reads a neighbouring row's pixel instead of the padding, and
    ``masks[j * Ho * Wo + yo * Wo + xo]`` (``uint8``) is 0 there. That is exact only if no component is wider
    than ``Wo`` (``ceil(W / sw) <= Wo``, as with "same" padding at any stride), so the layout applies then only.

    Returns ``(offs, masks, R, Rb)``; the arrays are cached and read-only.
    """
    (H, W), (kh, kw), (Ho, Wo), (sh, sw), (ph, pw), (dh, dw) = hw, kernel, out_hw, stride, pads, dilation
    if -(-W // sw) > Wo or Ho * Wo == 0:
        return None
    drs = [(i * dh - ph) // sh for i in range(kh)]
    dcs = [(j * dw - pw) // sw for j in range(kw)]
    lo = min(drs) * Wo + min(dcs)  # the lowest and highest offsets read, relative to the first output
    hi = (Ho - 1 + max(drs)) * Wo + Wo - 1 + max(dcs)
    rb = max(0, -(lo // Wo))
    rows = rb + max(-(-H // sh), hi // Wo + 1)
    comp = rows * Wo
    offs = np.empty(kh * kw, np.uint64)
    for i in range(kh):
        for j in range(kw):
            a, c = (i * dh - ph) % sh, (j * dw - pw) % sw
            offs[i * kw + j] = (a * sw + c) * comp + (rb + drs[i]) * Wo + dcs[j]
    xo = np.arange(Ho * Wo) % Wo
    masks = np.stack([(xo + d >= 0) & (xo + d < Wo) for d in dcs]).astype(np.uint8).reshape(-1)
    offs.flags.writeable = masks.flags.writeable = False
    return offs, masks, rows, rb


def prefers(p: Problem, dtype: np.dtype) -> bool:
    """Whether a channels-first problem runs here (and its backward on :mod:`dsconv.kernels._cf_grad`) rather
    than on the channels-last kernels between transpositions: float32/float64 data (bfloat16 takes the
    channels-last path) with output rows of at least ``_MIN_WIDTH``. On MobileNetV1's shapes this kernel was
    faster end to end with rows of 14 outputs and more (1.2-2.6x) and slower with rows of 7 (0.6-0.9x); forward +
    backward with the backward on the channels-first kernel too, rows of 7 were 0.79x as fast
    (``benchmarks/nchw_layers.py``, ``benchmarks/NOTES.md``)."""
    return dtype in _DTYPES and p.out_size[2] >= _MIN_WIDTH


def prefers_forward(p: Problem, dtype: np.dtype) -> bool:
    """Whether a channels-first forward runs here: as :func:`prefers`, or, in the masked layout
    (:func:`masked_layout`), output slices of at least ``_MASKED_MIN`` outputs however narrow their rows. On
    1024 channels end to end (``depthwise_conv_torch``, 3x3, stride 1) this kernel against the channels-last one
    between transpositions was 1.49x as fast at 7x7 and batch 1, 1.01x at batch 8, and 0.73-0.79x at 4x4 and
    6x6 at batch 8 (``benchmarks/NOTES.md``)."""
    if prefers(p, dtype):
        return True
    h, w = p.spatial[1:]
    ho, wo = p.out_size[1:]
    return (dtype in _DTYPES and ho * wo >= _MASKED_MIN
            and masked_layout((h, w), p.kernel[1:], (ho, wo), p.stride[1:], p.pads[1:], p.dilation[1:]) is not None)


def aligned(elements: int) -> int:
    """``elements`` rounded up to a whole number of 64-byte float32 blocks (per-worker buffer rows)."""
    return -(-elements // _ALIGN_ELEMENTS) * _ALIGN_ELEMENTS


def scratch_sizes(spatial: tuple[int, int, int], kernel: tuple[int, int, int], out_size: tuple[int, int, int],
                  stride: tuple[int, int, int], dilation: tuple[int, int, int]) -> tuple[int, int]:
    """Elements per worker of the padded-input scratch and of the flat-output scratch, each rounded up to 64
    bytes of float32."""
    _, kh, kw = kernel
    _, Ho, Wo = out_size
    _, sh, sw = stride
    _, dh, dw = dilation
    rq, wq = Ho + ((kh - 1) * dh) // sh, Wo + ((kw - 1) * dw) // sw
    size = spatial[0] * sh * sw * rq * wq
    flat = Ho * wq if Wo < _DIRECT_MIN else 1
    return aligned(size), aligned(flat)


def forward_problem(x: np.ndarray, weight: np.ndarray, b: np.ndarray, p: Problem, dtype: np.dtype) -> np.ndarray:
    """The forward of problem ``p`` from channels-first ``x`` ``(N, C, *spatial)`` (any strides; copied to a
    C-contiguous ``dtype`` array if needed), ``weight`` ``(C * M, 1, *kernel)`` and bias ``b`` ``(C * M,)`` in
    ``dtype``; returns a new ``(N, C * M, *out)`` array of ``dtype``."""
    out = _memory.empty((p.batch, p.out_channels, *p.out_size), dtype)
    w = _memory.contiguous(weight.reshape(p.out_channels, *p.kernel), dtype)
    run(_memory.contiguous(x, dtype).reshape(p.batch, p.channels, *p.spatial), w, b, out, p.stride, p.pads, p.dilation)
    return out.reshape(p.batch, p.out_channels, *p.out_size[3 - p.n:])


def run(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray, stride: tuple[int, int, int],
        pads: tuple[int, int, int], dilation: tuple[int, int, int]) -> np.ndarray:
    """Allocate the workers' scratch and run :func:`forward_masked` where :func:`masked_layout` applies, else
    :func:`forward`; returns ``out``. Shapes as in :func:`forward`."""
    threads = numba.get_num_threads()
    chunks = min(x.shape[0] * x.shape[1], _CHUNKS_PER_THREAD * threads)
    layout = masked_layout(x.shape[3:], w.shape[2:], out.shape[3:], stride[1:], pads[1:], dilation[1:])
    if layout is not None:
        offs, masks, rows, rb = layout
        size = x.shape[2] * stride[1] * stride[2] * rows * out.shape[4]
        scratch = _memory.zeros((threads, aligned(size)), w.dtype)
        forward_masked(x, w, b, out, stride, pads, dilation, offs, masks, rows, rb, scratch, chunks)
        return out
    size, flat = scratch_sizes(x.shape[2:], w.shape[1:], out.shape[2:], stride, dilation)
    scratch = _memory.zeros((threads, size), w.dtype)
    tmp = _memory.empty((threads, flat), w.dtype)
    forward(x, w, b, out, stride, pads, dilation, scratch, tmp, chunks)
    return out
