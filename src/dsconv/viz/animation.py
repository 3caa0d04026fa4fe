"""An animated GIF of a depthwise convolution next to a standard one, drawn from the real computation.

Left: each of the three channels (red, green, blue) has its own 3x3 kernel sliding over its own channel
and writes its own output map (seed 000: ``Output[h,w,c] = sum_ij Input[h+i,w+j,c] * Kernel[i,j,c]``).
Right: one standard 3x3x3 filter covers all channels at once and writes a single map. Every number in
every frame comes from :mod:`dsconv.functional` (``depthwise_conv2d``, ``conv2d``); Pillow writes the GIF.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._io import atomic_write_bytes
from dsconv._validation import check_non_negative, check_positive
from dsconv.viz._mpl import pyplot

__all__ = ["ConvolutionStory", "convolution_story", "depthwise_animation"]

CHANNEL_COLORS = ("Reds", "Greens", "Blues")
CHANNEL_NAMES = ("red", "green", "blue")


@dataclasses.dataclass(frozen=True)
class ConvolutionStory:
    """The numbers the animation shows (channels first, one image, no padding, stride 1).

    Attributes:
        x: input ``(3, H, W)`` of small integers.
        dw_weight: depthwise weight ``(3, 1, k, k)``, one kernel per channel.
        dense_weight: standard weight ``(1, 3, k, k)``, one filter over all channels.
        dw_out: depthwise output ``(3, H - k + 1, W - k + 1)``.
        dense_out: standard output ``(1, H - k + 1, W - k + 1)``.
    """

    x: np.ndarray
    dw_weight: np.ndarray
    dense_weight: np.ndarray
    dw_out: np.ndarray
    dense_out: np.ndarray

    @property
    def kernel_size(self) -> int:
        """Side of the kernels."""
        return int(self.dw_weight.shape[-1])

    @property
    def positions(self) -> list[tuple[int, int]]:
        """Output positions in the order the kernels visit them (row by row)."""
        rows, cols = self.dw_out.shape[1:]
        return [(r, c) for r in range(rows) for c in range(cols)]


def convolution_story(size: int = 5, kernel_size: int = 3, *, seed: int = 0) -> ConvolutionStory:
    """Draw small integer inputs and kernels and compute both convolutions with the reference ops.

    Args:
        size: input height and width (``>= kernel_size``).
        kernel_size: kernel side ``k``.
        seed: seed of the integer draws.

    Shape:
        outputs are ``(C, size - k + 1, size - k + 1)`` (valid padding, stride 1).

    Returns:
        A :class:`ConvolutionStory`.
    """
    from dsconv.functional import conv2d, depthwise_conv2d

    size = check_positive(size, "size")
    kernel_size = check_positive(kernel_size, "kernel_size")
    seed = check_non_negative(seed, "seed")
    if kernel_size > size:
        raise ValueError(f"`kernel_size` must be <= size={size}. Received kernel_size={kernel_size}")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=(1, 3, size, size)).astype(np.float64)
    dw = rng.integers(-1, 2, size=(3, 1, kernel_size, kernel_size)).astype(np.float64)
    dense = rng.integers(-1, 2, size=(1, 3, kernel_size, kernel_size)).astype(np.float64)
    return ConvolutionStory(x=x[0], dw_weight=dw, dense_weight=dense,
                            dw_out=depthwise_conv2d(x, dw)[0], dense_out=conv2d(x, dense)[0])


def _grid(ax: Any, values: np.ndarray, cmap: str, *, shown: np.ndarray | None = None,
          box: tuple[int, int, int] | None = None, title: str = "") -> None:
    """Draw a small matrix with its numbers; ``shown`` masks cells not computed yet; ``box`` = (row, col, k)."""
    from matplotlib.patches import Rectangle

    mask = np.ones(values.shape, dtype=bool) if shown is None else shown
    span = max(float(np.abs(values).max()), 1.0)
    ax.imshow(np.where(mask, values, np.nan), cmap=cmap, vmin=-span, vmax=span)
    for (r, c), v in np.ndenumerate(values):
        if mask[r, c]:  # white digits on the darker half of the colour map, black on the lighter half
            dark = (v + span) / (2 * span) > 0.6 if cmap != "Greys" else v > 0
            ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=8, color="white" if dark else "black")
    if box is not None:
        r, c, k = box
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), k, k, fill=False, ec="black", lw=2.2))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def _frame(story: ConvolutionStory, step: int) -> bytes:
    """One frame (PNG bytes): outputs up to position ``step`` filled in, windows boxed at ``step``."""
    plt = pyplot()
    k = story.kernel_size
    r, c = story.positions[step]
    done = np.zeros(story.dw_out.shape[1:], dtype=bool).ravel()
    done[: step + 1] = True
    done = done.reshape(story.dw_out.shape[1:])
    fig, axes = plt.subplots(3, 6, figsize=(9.6, 5.0))
    for ch in range(3):
        cmap = CHANNEL_COLORS[ch]
        window = story.x[ch, r : r + k, c : c + k]
        _grid(axes[ch, 0], story.x[ch], cmap, box=(r, c, k), title=f"input, {CHANNEL_NAMES[ch]}")
        _grid(axes[ch, 1], story.dw_weight[ch, 0], cmap, title=f"its own kernel {ch}")
        _grid(axes[ch, 2], story.dw_out[ch], cmap, shown=done,
              title=f"out {ch}: sum = {float((window * story.dw_weight[ch, 0]).sum()):g}")
        _grid(axes[ch, 3], story.x[ch], cmap, box=(r, c, k), title=f"input, {CHANNEL_NAMES[ch]}")
        _grid(axes[ch, 4], story.dense_weight[0, ch], "Greys", title=f"filter slice {ch}")
        axes[ch, 5].axis("off")
    _grid(axes[1, 5], story.dense_out[0], "Purples", shown=done,
          title=f"one output: sum = {float(story.dense_out[0, r, c]):g}")
    fig.text(0.25, 0.97, "Depthwise: each channel, its own kernel, its own output", ha="center", fontsize=10)
    fig.text(0.75, 0.97, "Standard: one filter over all channels, one output", ha="center", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    plt.close(fig)
    return buffer.getvalue()


def depthwise_animation(
    path: str | os.PathLike[str],
    *,
    size: int = 5,
    kernel_size: int = 3,
    seed: int = 0,
    frame_ms: int = 700,
) -> Path:
    """Write the animated GIF (one frame per output position, looping) to ``path`` atomically.

    Args:
        path: the ``.gif`` file to write (its folder must exist).
        size: input height and width.
        kernel_size: kernel side.
        seed: seed of the integer inputs and kernels.
        frame_ms: milliseconds per frame.

    Returns:
        ``path``.

    Example:
        >>> depthwise_animation("/tmp/depthwise.gif")  # doctest: +SKIP
    """
    from PIL import Image

    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"`path` must be in an existing folder. Received path={str(target)!r}")
    frame_ms = check_positive(frame_ms, "frame_ms")
    story = convolution_story(size, kernel_size, seed=seed)
    frames = [Image.open(io.BytesIO(_frame(story, i))).convert("RGB") for i in range(len(story.positions))]
    palette = [f.quantize(colors=128, method=Image.Quantize.MEDIANCUT) for f in frames]
    buffer = io.BytesIO()
    palette[0].save(buffer, format="GIF", save_all=True, append_images=palette[1:], duration=frame_ms, loop=0)
    return atomic_write_bytes(target, buffer.getvalue())
