"""The dense kernel and bias a separable layer equals (its rank-1-per-slice structure made explicit).

A separable layer is two linear maps, each optionally followed by a norm and an activation. It is
one dense convolution exactly when every activation is absent and every norm is an affine
per-channel map, which a BatchNorm is in eval mode with running statistics:
``bn(y) = scale * y + shift``, ``scale = gamma / sqrt(running_var + eps)``,
``shift = beta - running_mean * scale``. Each stage then folds to ``(scale * W, scale * b + shift)``.

Composition (``D`` depthwise ``(C * M, 1, *k)``, ``P`` pointwise; output channel ``c * M + j`` of the
depthwise op comes from its input channel ``c``):

- ``dw_pw``: ``K[o, i] = sum_j P[o, i * M + j] * D[i * M + j]``, bias ``P @ b_dw + b_pw``;
- ``pw_dw``: ``K[c * M + j, i] = D[c * M + j] * P[c, i]``, bias ``b_pw[c] * sum(D[c * M + j]) + b_dw``.

The ``pw_dw`` bias is exact only when the depthwise padding cannot mix the pointwise offset with
padded zeros (no padding, or a non-zero ``padding_mode``); otherwise border pixels differ from any
dense bias and ``equivalent_bias`` refuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from dsconv.nn.separable import _SeparableConvNd

Affine = tuple[Tensor, Tensor] | None


def _norm_affine(norm: nn.Module, name: str) -> Affine:
    """``(scale, shift)`` of an eval-mode BatchNorm, None for Identity; raise for anything else."""
    if isinstance(norm, nn.Identity):
        return None
    if not isinstance(norm, nn.modules.batchnorm._BatchNorm):
        raise ValueError(
            f"`{name}` must be nn.Identity or a BatchNorm for the layer to equal one dense convolution. "
            f"Received {name}={type(norm).__name__}"
        )
    if norm.training or norm.running_mean is None or norm.running_var is None:
        raise ValueError(
            f"`{name}` must be in eval mode with running statistics (call .eval()) to be folded into the "
            f"equivalent kernel; in training mode it normalises by batch statistics. "
            f"Received {name}.training={norm.training}, track_running_stats={norm.track_running_stats}"
        )
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return scale, shift


def _check_linear(act: nn.Module, name: str) -> None:
    if not isinstance(act, nn.Identity):
        raise ValueError(
            f"`{name}` must be absent (nn.Identity) for the layer to equal one dense convolution; "
            f"an activation makes it non-linear. Received {name}={type(act).__name__}"
        )


def _stage(conv: nn.Module, norm: nn.Module, act: nn.Module, names: tuple[str, str]) -> tuple[Tensor, Tensor | None]:
    """One conv -> norm -> act stage folded to ``(weight, bias)`` (bias None when it is exactly zero)."""
    _check_linear(act, names[1])
    affine = _norm_affine(norm, names[0])
    weight, bias = conv.weight, conv.bias
    if affine is None:
        return weight, bias
    scale, shift = affine
    view = (-1,) + (1,) * (weight.dim() - 1)
    return weight * scale.reshape(view), shift if bias is None else bias * scale + shift


def _stages(layer: _SeparableConvNd) -> tuple[tuple[Tensor, Tensor | None], tuple[Tensor, Tensor | None]]:
    """Folded ``(dw_weight, dw_bias), (pw_weight, pw_bias)``."""
    dw = _stage(layer.conv_dw, layer.bn_dw, layer.act_dw, ("bn_dw", "act_dw"))
    pw = _stage(layer.conv_pw, layer.bn_pw, layer.act_pw, ("bn_pw", "act_pw"))
    return dw, pw


def equivalent_kernel(layer: _SeparableConvNd) -> Tensor:
    """Dense ``(C_out, C_in, *k)`` kernel of ``layer`` (see the module docstring)."""
    (d, _), (p, _) = _stages(layer)
    m = layer.depth_multiplier
    k = d.shape[2:]
    if layer.order == "dw_pw":
        c_in = layer.in_channels
        p3 = p.reshape(p.shape[0], c_in, m)  # (O, C, M)
        d3 = d.reshape(c_in, m, -1)  # (C, M, prod(k))
        return torch.einsum("ocm,cmk->ock", p3, d3).reshape(p.shape[0], c_in, *k)
    c_mid = p.shape[0]
    d3 = d.reshape(c_mid, m, -1)  # (C_mid, M, prod(k))
    p2 = p.reshape(c_mid, -1)  # (C_mid, C_in)
    return torch.einsum("cmk,ci->cmik", d3, p2).reshape(c_mid * m, p2.shape[1], *k)


def _pads_are_zero(layer: _SeparableConvNd) -> bool:
    conv = layer.conv_dw
    return conv._padding_kind == "explicit" and max(conv._pads) == 0


def equivalent_bias(layer: _SeparableConvNd) -> Tensor | None:
    """Dense ``(C_out,)`` bias of ``layer``, or None when the layer has no bias or shift anywhere."""
    (d, bd), (p, bp) = _stages(layer)
    if layer.order == "dw_pw":
        carried = None if bd is None else p.reshape(p.shape[0], -1) @ bd  # (O,)
        last = bp
    else:
        if bp is not None and layer.padding_mode == "zeros" and not _pads_are_zero(layer):
            raise ValueError(
                "`equivalent_bias` is not exact for order='pw_dw' with an offset between the two convolutions "
                "(`inner_bias` or a norm shift) and zero padding: the depthwise op pads the offset with zeros at "
                f"the borders. Use padding='valid' or a non-zero padding_mode. Received padding={layer.padding!r}, "
                f"padding_mode={layer.padding_mode!r}"
            )
        m = layer.depth_multiplier
        # A constant map b_pw[c] through the depthwise filter c*M+j gives b_pw[c] * sum(D[c*M+j]).
        carried = None if bp is None else (bp.reshape(-1, 1) * d.reshape(bp.shape[0], m, -1).sum(-1)).reshape(-1)
        last = bd
    if carried is None:
        return last
    return carried if last is None else carried + last
