"""Pretrained-weight interop: Keras MobileNet / MobileNetV2 H5 files and torchvision MobileNetV2 state dicts.

A dsconv model is read as an ordered list of *roles* (registration order is forward order in the zoo):
the stem convolution, then per block an optional 1x1 expansion, the depthwise convolution and the 1x1
projection (``pw`` in MobileNetV1), an optional last 1x1 convolution and the classifier; each batch norm
belongs to the convolution before it. A naming scheme turns roles into the other library's names:

- Keras MobileNet (v1): ``conv1``, ``conv1_bn``, ``conv_dw_{i}``, ``conv_dw_{i}_bn``, ``conv_pw_{i}``,
  ``conv_pw_{i}_bn`` (i from 1), ``conv_preds`` (a 1x1 convolution with bias);
- Keras MobileNetV2: ``Conv1``, ``bn_Conv1``, ``expanded_conv_depthwise[_BN]``, ``expanded_conv_project[_BN]``,
  ``block_{i}_expand[_BN]``, ``block_{i}_depthwise[_BN]``, ``block_{i}_project[_BN]``, ``Conv_1``, ``Conv_1_bn``,
  ``predictions`` (Dense);
- torchvision MobileNetV2: ``features.0.{0,1}``, ``features.{b}.conv.{...}``, ``features.{last}.{0,1}``,
  ``classifier.1``.

Kernels go through :mod:`dsconv.functional.layout` (Keras ``(kh, kw, C, M)`` depthwise and ``(1, 1, C_in,
C_out)`` pointwise kernels). Keras batch norm uses ``epsilon=1e-3`` (torch: 1e-5); loading Keras weights
sets the model's BN ``eps`` to ``bn_eps`` (1e-3) unless it is ``None``. Keras pads stride-2 layers
bottom/right only, the zoo symmetrically: weights map exactly, outputs on real Keras checkpoints differ
slightly at the stride-2 layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._io import atomic_path
from dsconv._validation import check_choice

KERAS_ARCHS = ("mobilenet_v1", "mobilenet_v2")
BN_KERAS = (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"))


@dataclass
class Role:
    """One convolution / classifier of the model with its batch norm (module names in the dsconv model)."""

    kind: str  # "stem", "expand", "dw", "pw", "head", "classifier"
    block: int  # 0-based block index (-1 outside blocks)
    module: str
    bn: str | None


def model_roles(model: Any) -> list[Role]:
    """The ordered roles of a MobileNet-style model (see the module docstring)."""
    import torch

    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    roles: list[Role] = []
    block = -1
    for name, module in leaves:
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            if roles and roles[-1].bn is None and roles[-1].kind != "classifier":
                roles[-1].bn = name
            continue
        if isinstance(module, torch.nn.Linear):
            roles.append(Role("classifier", -1, name, None))
        elif getattr(getattr(module, "weight", None), "ndim", 0) == 4:
            roles.append(Role(_conv_kind(module, roles), block, name, None))
            if roles[-1].kind == "dw":
                block += 1
                roles[-1].block = block
    _assign_expand_blocks(roles)
    return roles


def _conv_kind(module: Any, roles: list[Role]) -> str:
    weight = module.weight
    in_channels = getattr(module, "in_channels", None)
    if weight.shape[1] == 1 and in_channels not in (None, 1) and weight.shape[0] % in_channels == 0:
        return "dw"
    if not roles:
        return "stem"
    return "pw" if roles[-1].kind == "dw" else "expand"


def _assign_expand_blocks(roles: list[Role]) -> None:
    # A 1x1 conv is an expansion if a depthwise conv follows it, else the network's last 1x1 conv ("head").
    for i, role in enumerate(roles):
        if role.kind == "expand":
            nxt = roles[i + 1] if i + 1 < len(roles) else None
            role.kind, role.block = ("expand", nxt.block) if nxt is not None and nxt.kind == "dw" else ("head", -1)
        elif role.kind == "pw":
            role.block = roles[i - 1].block


def keras_layer_names(role: Role, arch: str) -> tuple[str, str | None]:
    """(conv layer name, BN layer name) in Keras for ``role``."""
    if arch == "mobilenet_v1":
        table = {"stem": ("conv1", "conv1_bn"), "classifier": ("conv_preds", None), "head": ("conv_head", "conv_head_bn")}
        if role.kind in table:
            return table[role.kind]
        name = f"conv_{role.kind}_{role.block + 1}"
        return name, f"{name}_bn"
    table = {"stem": ("Conv1", "bn_Conv1"), "head": ("Conv_1", "Conv_1_bn"), "classifier": ("predictions", None)}
    if role.kind in table:
        return table[role.kind]
    prefix = "expanded_conv_" if role.block == 0 else f"block_{role.block}_"
    suffix = {"expand": "expand", "dw": "depthwise", "pw": "project"}[role.kind]
    return prefix + suffix, f"{prefix}{suffix}_BN"


def torchvision_names(role: Role, roles: list[Role]) -> tuple[str, str | None]:
    """(conv weight key prefix, BN key prefix) in torchvision's MobileNetV2 for ``role``."""
    n_blocks = max(r.block for r in roles) + 1
    if role.kind == "stem":
        return "features.0.0", "features.0.1"
    if role.kind == "head":
        return f"features.{n_blocks + 1}.0", f"features.{n_blocks + 1}.1"
    if role.kind == "classifier":
        return "classifier.1", None
    has_expand = any(r.kind == "expand" and r.block == role.block for r in roles)
    base = f"features.{role.block + 1}.conv"
    slot = {"expand": 0, "dw": 1 if has_expand else 0, "pw": 2 if has_expand else 1}[role.kind]
    if role.kind == "pw":
        return f"{base}.{slot}", f"{base}.{slot + 1}"
    return f"{base}.{slot}.0", f"{base}.{slot}.1"


@dataclass
class Entry:
    """One array: its key outside (Keras ``layer/var`` or torchvision key) and inside (dsconv state-dict key)."""

    external: str
    internal: str
    kind: str  # "conv", "dw", "linear_conv", "dense", "linear", "plain"


def keras_entries(model: Any, arch: str) -> list[Entry]:
    """The Keras <-> dsconv array correspondence of ``model`` for ``arch`` (``mobilenet_v1`` / ``mobilenet_v2``)."""
    arch = check_choice(arch, KERAS_ARCHS, "arch")
    state = model.state_dict()
    entries: list[Entry] = []
    for role in model_roles(model):
        conv, bn = keras_layer_names(role, arch)
        if role.kind == "classifier":
            entries.append(Entry(f"{conv}/kernel", f"{role.module}.weight", "linear_conv" if arch == "mobilenet_v1" else "dense"))
        else:
            var = "depthwise_kernel" if role.kind == "dw" else "kernel"
            entries.append(Entry(f"{conv}/{var}", f"{role.module}.weight", "dw" if role.kind == "dw" else "conv"))
        if f"{role.module}.bias" in state:
            entries.append(Entry(f"{conv}/bias", f"{role.module}.bias", "plain"))
        if role.bn is not None and bn is not None:
            entries.extend(Entry(f"{bn}/{k}", f"{role.bn}.{t}", "plain") for k, t in BN_KERAS)
    return entries


def torchvision_entries(model: Any) -> list[Entry]:
    """The torchvision-MobileNetV2 <-> dsconv state-dict key correspondence of ``model``."""
    roles = model_roles(model)
    state = model.state_dict()
    entries: list[Entry] = []
    for role in roles:
        conv, bn = torchvision_names(role, roles)
        for suffix in ("weight", "bias"):
            if f"{role.module}.{suffix}" in state:
                entries.append(Entry(f"{conv}.{suffix}", f"{role.module}.{suffix}", "linear"))
        if role.bn is not None and bn is not None:
            for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                entries.append(Entry(f"{bn}.{suffix}", f"{role.bn}.{suffix}", "linear"))
    return entries


def _to_keras(kind: str, array: np.ndarray, module: Any) -> np.ndarray:
    from dsconv.functional.layout import torch_to_keras_depthwise

    if kind == "dw":
        return torch_to_keras_depthwise(array, array.shape[0] // module.in_channels)  # (kh, kw, C, M)
    if kind == "conv":
        return np.ascontiguousarray(array.transpose(2, 3, 1, 0))  # (out, in, kh, kw) -> (kh, kw, in, out)
    if kind == "linear_conv":
        return np.ascontiguousarray(array.T[None, None])  # (out, in) -> (1, 1, in, out)
    if kind == "dense":
        return np.ascontiguousarray(array.T)  # (out, in) -> (in, out)
    return array


def _from_keras(kind: str, array: np.ndarray) -> np.ndarray:
    from dsconv.functional.layout import keras_to_torch_depthwise

    if kind == "dw":
        return keras_to_torch_depthwise(array)
    if kind == "conv":
        return np.ascontiguousarray(array.transpose(3, 2, 0, 1))
    if kind == "linear_conv":
        return np.ascontiguousarray(array[0, 0].T)
    if kind == "dense":
        return np.ascontiguousarray(array.T)
    return array


def to_keras_weights(model: Any, arch: str) -> dict[str, np.ndarray]:
    """``{"layer/var": array}`` of ``model`` in Keras layout and names."""
    modules = dict(model.named_modules())
    state = model.state_dict()
    return {e.external: _to_keras(e.kind, state[e.internal].detach().cpu().numpy(), modules[e.internal.rpartition(".")[0]])
            for e in keras_entries(model, arch)}


def to_torchvision_state_dict(model: Any) -> dict[str, Any]:
    """``model``'s state dict under torchvision MobileNetV2 key names."""
    state = model.state_dict()
    return {e.external: state[e.internal].detach().clone() for e in torchvision_entries(model)}


def _load(model: Any, entries: list[Entry], source: dict[str, Any], convert: Any, what: str) -> dict[str, str]:
    import torch

    missing = [e.external for e in entries if e.external not in source]
    if missing:
        raise ValueError(f"`{what}` must hold every array this model needs. Missing {len(missing)}: "
                         f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    state = model.state_dict()
    for e in entries:
        value = torch.as_tensor(np.asarray(convert(e.kind, np.asarray(source[e.external]))))
        if tuple(value.shape) != tuple(state[e.internal].shape):
            raise ValueError(f"`{what}` array {e.external!r} must have shape {tuple(state[e.internal].shape)} after "
                             f"conversion for {e.internal!r}. Received shape {tuple(value.shape)}")
        state[e.internal] = value.to(state[e.internal].dtype)
    model.load_state_dict(state)
    return {e.external: e.internal for e in entries}


def load_keras_weights(model: Any, source: str | os.PathLike[str] | dict[str, np.ndarray], arch: str, *,
                       bn_eps: float | None = 1e-3) -> dict[str, str]:
    """Load Keras MobileNet/MobileNetV2 weights (an H5 file or a ``{"layer/var": array}`` dict) into ``model``.

    Args:
        model: the matching dsconv model (same width / classes).
        source: H5 path (Keras ``save_weights`` layout, or plain ``layer/var`` datasets) or a dict.
        arch: ``"mobilenet_v1"`` or ``"mobilenet_v2"`` (the naming scheme).
        bn_eps: batch-norm epsilon to set (Keras MobileNets use 1e-3); ``None`` keeps the model's.

    Returns:
        The mapping ``{keras_name: dsconv_state_key}`` that was applied.
    """
    import torch

    arrays = read_keras_h5(source) if not isinstance(source, dict) else source
    mapping = _load(model, keras_entries(model, arch), arrays, lambda k, a: _from_keras(k, a), "weights")
    if bn_eps is not None:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eps = float(bn_eps)
    return mapping


def load_torchvision_state_dict(model: Any, state_dict: dict[str, Any]) -> dict[str, str]:
    """Load a torchvision-style MobileNetV2 state dict into ``model``; returns ``{torchvision_key: dsconv_key}``."""
    return _load(model, torchvision_entries(model), state_dict, lambda k, a: a, "state_dict")


def write_keras_h5(path: str | os.PathLike[str], weights: dict[str, np.ndarray]) -> Path:
    """Write ``{"layer/var": array}`` as a Keras ``save_weights`` H5 file (``layer/layer/var:0`` datasets), atomically."""
    import h5py

    layers: dict[str, list[str]] = {}
    for key in weights:
        layer, _, _ = key.partition("/")
        layers.setdefault(layer, []).append(key)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs["layer_names"] = np.array([n.encode() for n in layers])
        handle.attrs["backend"] = b"tensorflow"
        for layer, keys in layers.items():
            group = handle.create_group(layer)
            group.attrs["weight_names"] = np.array([f"{k}:0".encode() for k in keys])
            for key in keys:
                group.create_dataset(f"{key}:0", data=weights[key])
    return Path(path)


def read_keras_h5(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every dataset of a Keras H5 weight file as ``{"layer/var": array}`` (``:0`` suffixes dropped)."""
    import h5py

    arrays: dict[str, np.ndarray] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            parts = name.removeprefix("model_weights/").split("/")  # full-model .h5 files nest the weights
            arrays[f"{parts[0]}/{parts[-1].split(':')[0]}"] = np.asarray(item[()])

    if not Path(path).is_file():
        raise FileNotFoundError(f"`weights` must be an existing H5 file. Received weights={str(path)!r}")
    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError as exc:
        raise ValueError(f"`weights` must be a readable H5 file. Received weights={str(path)!r} ({exc})") from None
    return arrays
