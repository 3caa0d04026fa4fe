"""Helpers shared by the experiments: seeding, layer builders, training loops and summaries.

Private to :mod:`dsconv.experiments`; torch is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

Progress = Callable[[str, float], None] | None


def report(progress: Progress, message: str, fraction: float) -> None:
    """Forward a progress message if a callback was given."""
    if progress is not None:
        progress(message, min(max(float(fraction), 0.0), 1.0))


def seed_everything(seed: int) -> None:
    """Seed torch's global generator (initial weights, dropout).

    The CPU kernels the experiments use are deterministic at a fixed thread count (see
    :func:`torch_threads`); no process-wide flag is set, so nothing leaks into other code.
    """
    import torch

    torch.manual_seed(seed)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(threads)``, restoring the previous count afterwards.

    Tiny models train fastest on one thread, and a fixed count keeps timings comparable: other code in
    the process (e.g. Numba's threading layer starting up) may change torch's OpenMP thread count.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation, min, max and the raw values of repeated measurements."""
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {
        "mean": float(arr.mean()),
        "std": std,
        "min": float(arr.min()),
        "max": float(arr.max()),
        "values": [float(v) for v in arr],
    }


def separable_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    depth_multiplier: int = 1,
    padding: int = 0,
    padding_mode: str = "zeros",
    bias: bool = True,
) -> Any:
    """A depthwise-separable 2D layer: ``dsconv.nn.SeparableConv2d`` (sub-modules ``conv_dw``, ``conv_pw``).

    Args:
        in_channels: input channels ``C``.
        out_channels: output channels of the pointwise stage.
        kernel_size: depthwise kernel size ``k``.
        depth_multiplier: depthwise outputs per input channel ``M``.
        padding: symmetric zero/circular padding of the depthwise stage.
        padding_mode: ``"zeros"`` or ``"circular"``.
        bias: add biases.

    Returns:
        The layer (a ``torch.nn.Module``).
    """
    from dsconv.nn import SeparableConv2d

    return SeparableConv2d(
        in_channels,
        out_channels,
        kernel_size,
        padding=padding,
        depth_multiplier=depth_multiplier,
        bias=bias,
        padding_mode=padding_mode,
    )


def standard_conv(in_channels: int, out_channels: int, kernel_size: int, **kwargs: Any) -> Any:
    """A dense ``torch.nn.Conv2d`` with the same arguments as :func:`separable_conv`."""
    import torch

    return torch.nn.Conv2d(in_channels, out_channels, kernel_size, **kwargs)


def count_params(model: Any) -> int:
    """Number of trainable parameters of a torch module."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def train_classifier(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    weight_decay: float = 0.0,
) -> list[float]:
    """Train ``model`` with Adam and cross-entropy on ``(x, y)``; returns the mean loss per epoch."""
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(xt), batch_size):
            idx = order[start : start + batch_size]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(xt))
    return losses


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Classification accuracy of ``model`` on ``(x, y)``."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(torch.from_numpy(x[start : start + batch_size]))
            correct += int((logits.argmax(dim=1).numpy() == y[start : start + batch_size]).sum())
    return correct / len(x)


def thin_curve(values: Sequence[float], points: int = 100) -> list[float]:
    """At most ``points`` values, evenly spaced (always keeping the last), for plotting."""
    if len(values) <= points:
        return [float(v) for v in values]
    idx = np.unique(np.linspace(0, len(values) - 1, points).round().astype(int))
    return [float(values[i]) for i in idx]
