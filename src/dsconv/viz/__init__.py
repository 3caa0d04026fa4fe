"""Pictures of experiment results (matplotlib on the Agg backend) and the depthwise-convolution GIF.

Plots draw only what an experiment's result dict holds; they never compute results. Matplotlib and
Pillow are imported when a picture is drawn, so importing this package stays cheap.

Example:
    >>> from dsconv.viz import depthwise_animation
    >>> depthwise_animation("/tmp/depthwise.gif")  # doctest: +SKIP
"""

from dsconv.viz.animation import ConvolutionStory, convolution_story, depthwise_animation
from dsconv.viz.plots import (
    plot_cost_bars,
    plot_learning_curves,
    plot_ratio_bars,
    plot_shift_losses,
    plot_spectra,
    plot_variant_accuracy,
)

__all__ = [
    "ConvolutionStory",
    "convolution_story",
    "depthwise_animation",
    "plot_cost_bars",
    "plot_learning_curves",
    "plot_ratio_bars",
    "plot_shift_losses",
    "plot_spectra",
    "plot_variant_accuracy",
]
