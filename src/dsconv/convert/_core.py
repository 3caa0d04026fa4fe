"""``to_separable``: replace the standard convolutions of any model by separable layers."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from dsconv._validation import check_fraction, check_positive
from dsconv.convert._modules import BN_TYPES, CONV_TYPES, build_separable, folded_kernel
from dsconv.convert._report import ConversionReport, LayerReport
from dsconv.convert._select import Candidate, by_budget, by_energy, by_rank
from dsconv.structure import decompose, slice_spectra

LayerFilter = Iterable[str] | Callable[[str, nn.Module], bool] | None


@dataclass
class _Site:
    """A convolution found in the model, its optional following batch norm, and its probe input."""

    name: str
    conv: nn.Module
    bn_name: str | None = None
    bn: nn.Module | None = None
    x: torch.Tensor | None = None
    out_size: tuple[int, ...] = ()


def _find_sites(model: nn.Module, layers: LayerFilter, fold_bn: bool) -> list[_Site]:
    convs = [(n, m) for n, m in model.named_modules() if type(m) in CONV_TYPES]
    if not convs:
        raise ValueError(f"`model` must contain nn.Conv1d/2d/3d layers to convert. Received model={type(model).__name__} without any")
    if callable(layers):
        convs = [(n, m) for n, m in convs if layers(n, m)]
    elif layers is not None:
        wanted = [layers] if isinstance(layers, str) else list(layers)
        known = {n for n, _ in convs}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise ValueError(f"`layers` must name convolutions of the model (e.g. {sorted(known)[:5]}). Received unknown layers={unknown}")
        convs = [(n, m) for n, m in convs if n in set(wanted)]
    sites = [_Site(n, m) for n, m in convs]
    if fold_bn:
        _attach_batch_norms(model, sites)
    return sites


def _attach_batch_norms(model: nn.Module, sites: list[_Site]) -> None:
    """A batch norm directly after a conv in the same ``nn.Sequential`` (the only order a module tree fixes)."""
    by_id = {id(s.conv): s for s in sites}
    for parent_name, parent in model.named_modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent.named_children())
        for (_, a), (b_name, b) in zip(children, children[1:]):
            site = by_id.get(id(a))
            if site and isinstance(b, BN_TYPES) and b.track_running_stats and b.num_features == a.out_channels:
                site.bn, site.bn_name = b, f"{parent_name}.{b_name}" if parent_name else b_name


def _probe(model: nn.Module, example_input: torch.Tensor | None) -> torch.Tensor:
    if example_input is not None:
        if not isinstance(example_input, torch.Tensor):
            raise TypeError(f"`example_input` must be a torch.Tensor batch. Received example_input of type {type(example_input).__name__}")
        return example_input
    size = getattr(model, "default_input_size", None)
    if size is None:
        raise ValueError("`example_input` must be given for a model without `default_input_size`. Received example_input=None")
    param = next(model.parameters())
    gen = torch.Generator().manual_seed(0)
    return torch.randn(2, *size, generator=gen, dtype=param.dtype).to(param.device)


@torch.no_grad()
def _run_capture(model: nn.Module, sites: list[_Site], x: torch.Tensor) -> torch.Tensor:
    """Forward ``x`` in eval mode, recording each site's input and output size; restore the mode after."""
    handles = []
    for site in sites:
        def hook(module, args, out, site=site):
            site.x, site.out_size = args[0].detach(), tuple(out.shape[2:])
        handles.append(site.conv.register_forward_hook(hook))
    was_training = model.training
    try:
        return model.eval()(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()


def _layer_macs(conv: nn.Module, out_size: tuple[int, ...], rank: int | None) -> int:
    """Per-sample MACs (padded taps count): dense ``prod(out) C_out C_in/g prod(k)``; separable with
    multiplier ``r``: depthwise ``prod(out) C_in r prod(k)`` plus grouped pointwise ``prod(out) C_out C_in r / g``."""
    pos, k = math.prod(out_size), math.prod(conv.kernel_size)
    c_in, c_out, g = conv.in_channels, conv.out_channels, conv.groups
    if rank is None:
        return pos * c_out * (c_in // g) * k
    return pos * c_in * rank * k + pos * c_out * (c_in * rank // g)


def _candidate(site: _Site) -> Candidate:
    conv = site.conv
    weight, _ = folded_kernel(conv, site.bn)
    spectra = slice_spectra(weight.cpu().numpy(), groups=conv.groups)
    full = spectra.shape[1]
    blocked = ""
    if math.prod(conv.kernel_size) == 1:
        blocked = "1x1 kernel: already pointwise, nothing to factor"
    elif conv.groups == conv.in_channels and conv.groups > 1:
        blocked = "already depthwise"
    return Candidate(site.name, spectra, full, _layer_macs(conv, site.out_size, None),
                     [_layer_macs(conv, site.out_size, r) for r in range(1, full + 1)], blocked)


def _choose(
    cands: list[Candidate], rank: int | None, energy: float | None, max_macs: int | None, force: bool, fixed_macs: int
) -> dict[str, tuple[int | None, str]]:
    if max_macs is not None:
        return by_budget(cands, max_macs, fixed_macs)
    out = {}
    for c in cands:
        if c.blocked:
            out[c.name] = (None, c.blocked)
        else:
            out[c.name] = by_rank(c, rank, force) if rank is not None else by_energy(c, energy, force)
    return out


def _criterion(rank: int | None, energy: float | None, max_macs: int | None) -> str:
    given = [(n, v) for n, v in (("rank", rank), ("energy", energy), ("max_macs", max_macs)) if v is not None]
    if len(given) != 1:
        raise ValueError(
            "exactly one of `rank`, `energy`, `max_macs` must be given. "
            f"Received rank={rank!r}, energy={energy!r}, max_macs={max_macs!r}"
        )
    name, value = given[0]
    if name == "energy":
        check_fraction(value, "energy")
    else:
        check_positive(value, name)
    return f"{name}={value}"


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    ref = float(torch.linalg.vector_norm(b.double()))
    diff = float(torch.linalg.vector_norm(a.double() - b.double()))
    return diff / ref if ref > 0 else diff


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, module)


def _convert_site(site: _Site, choice: tuple[int | None, str], cand: Candidate, new_model: nn.Module) -> LayerReport:
    conv, (rank, reason) = site.conv, choice
    row = LayerReport(
        name=site.name, kind=f"conv{len(conv.kernel_size)}d", in_channels=conv.in_channels,
        out_channels=conv.out_channels, kernel_size=tuple(conv.kernel_size), groups=conv.groups,
        converted=False, rank=None, full_rank=cand.full_rank, energy=1.0, kernel_error=0.0, output_error=0.0,
        macs_before=cand.macs_dense, macs_after=cand.macs_dense,
        params_before=sum(p.numel() for p in conv.parameters()), params_after=0, bn_folded=False, reason=reason,
    )
    row.params_after = row.params_before
    if rank is None:
        return row
    weight, bias = folded_kernel(conv, site.bn)
    factors = decompose(weight.cpu().numpy(), rank, groups=conv.groups)
    module = build_separable(conv, factors, bias)
    _set_module(new_model, site.name, module)
    if site.bn is not None:
        _set_module(new_model, site.bn_name, nn.Identity())
    with torch.no_grad():
        reference = conv(site.x) if site.bn is None else site.bn.eval()(conv(site.x))
        was = module.training
        y = module.eval()(site.x)
        module.train(was)
    row.converted, row.rank, row.bn_folded = True, rank, site.bn is not None
    norm = float(torch.linalg.vector_norm(weight))
    row.energy, row.kernel_error = factors.energy, factors.error / norm if norm > 0 else 0.0
    row.output_error = _rel(y, reference)
    row.macs_after = cand.macs_sep[rank - 1]
    row.params_after = sum(p.numel() for p in module.parameters())
    return row


def to_separable(
    model: nn.Module,
    rank: int | None = None,
    energy: float | None = None,
    max_macs: int | None = None,
    layers: LayerFilter = None,
    *,
    example_input: torch.Tensor | None = None,
    fold_bn: bool = False,
    force: bool = False,
) -> tuple[nn.Module, ConversionReport]:
    """Replace the standard convolutions of ``model`` by separable layers initialised from their kernels.

    Every ``nn.Conv1d/2d/3d`` (stride, dilation, padding modes, bias, groups) is factored slice by slice
    (:func:`dsconv.structure.decompose`, Frobenius-optimal) into a depthwise -> pointwise layer with depth
    multiplier ``r``: ``dsconv.nn.SeparableConv{1,2,3}d`` when ``groups == 1``, :class:`GroupedSeparableConv`
    (depthwise, then a grouped pointwise stage: one factorization per group) otherwise. The dense bias goes to
    the pointwise stage. The input model is not modified.

    Args:
        model: any ``nn.Module``.
        rank: fixed ``r`` for every layer (capped at the layer's full rank ``min(C_out / groups, prod(k))``).
        energy: per layer, the smallest ``r`` keeping this fraction (in (0, 1]) of ``||W||_F^2``.
        max_macs: budget for the whole model's MACs per sample at the probe's size: the MACs of the
            convolutions considered plus those of every other conv/linear layer must not exceed it; ranks are
            allocated greedily by error removed per MAC. Exactly one of ``rank``, ``energy``, ``max_macs``.
        layers: which convolutions to consider: ``None`` (all), qualified names, or ``f(name, module) -> bool``.
        example_input: probe batch ``(N, C, *spatial)``; default 2 random samples of ``model.default_input_size``.
            It fixes the spatial sizes for MACs and measures output errors.
        fold_bn: fold a batch norm that directly follows a converted conv in an ``nn.Sequential`` (running
            statistics, i.e. eval-mode behaviour) and replace it by ``nn.Identity``.
        force: convert even when it does not save MACs (``rank``/``energy`` criteria; e.g. to check that a
            full-rank conversion is exact). Layers with 1x1 kernels and depthwise layers are never converted.

    Returns:
        ``(new_model, report)``: a converted deep copy (same training mode) and a :class:`ConversionReport`
        with, per layer, the rank, energy kept, relative kernel error, output error on the probe batch and
        MACs/params before and after (and why a layer was left alone).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(8, 32, 3, padding=1), nn.ReLU())  # doctest: +SKIP
        >>> new, report = to_separable(net, rank=1, example_input=torch.randn(2, 8, 16, 16))  # doctest: +SKIP
        >>> print(report.to_markdown())  # doctest: +SKIP
    """
    criterion = _criterion(rank, energy, max_macs)
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module. Received model of type {type(model).__name__}")
    sites = _find_sites(model, layers, bool(fold_bn))
    x = _probe(model, example_input)
    y_ref = _run_capture(model, sites, x)
    unused = [s.name for s in sites if s.x is None]
    if unused:
        raise ValueError(f"`example_input` must reach every convolution considered; these did not run: {unused}")
    cands = [_candidate(s) for s in sites]
    fixed = _other_macs(model, x, sites) if max_macs is not None else 0
    choices = _choose(cands, rank, energy, max_macs, bool(force), fixed)
    new_model = copy.deepcopy(model)
    report = ConversionReport(criterion)
    report.layers = [_convert_site(s, choices[s.name], c, new_model) for s, c in zip(sites, cands)]
    report.macs_before = sum(r.macs_before for r in report.layers)
    report.macs_after = sum(r.macs_after for r in report.layers)
    report.params_before = sum(p.numel() for p in model.parameters())
    report.params_after = sum(p.numel() for p in new_model.parameters())
    report.output_error = _model_error(new_model, x, y_ref)
    return new_model, report


@torch.no_grad()
def _model_error(new_model: nn.Module, x: torch.Tensor, y_ref: object) -> float | None:
    if not isinstance(y_ref, torch.Tensor):
        return None
    was = new_model.training
    try:
        return _rel(new_model.eval()(x), y_ref)
    finally:
        new_model.train(was)


@torch.no_grad()
def _other_macs(model: nn.Module, x: torch.Tensor, sites: list[_Site]) -> int:
    """Per-sample MACs of the conv and linear layers not considered for conversion (forward hooks)."""
    considered = {id(s.conv) for s in sites}
    total = [0]

    def hook(module, args, out):
        if id(module) in considered:
            return
        if isinstance(module, CONV_TYPES):
            total[0] += _layer_macs(module, tuple(out.shape[2:]), None)
        else:  # nn.Linear on a batch of one: every output element is an in_features-long dot product
            total[0] += out.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (*CONV_TYPES, nn.Linear))]
    was = model.training
    try:
        model.eval()(x[:1])
    finally:
        model.train(was)
        for h in handles:
            h.remove()
    return total[0]
