"""The first convolution's kernels as a grid: what the network looks for in raw pixels."""

from __future__ import annotations

import math

import numpy as np

from minicnn.nn.conv import Conv2d
from minicnn.nn.module import Module
from minicnn.viz._figure import new_figure
from minicnn.viz.grid import scale_to_unit

__all__ = ["first_conv", "plot_filters"]


def first_conv(model: Module) -> Conv2d:
    """The first :class:`~minicnn.nn.conv.Conv2d` of ``model`` in registration order."""
    for module in model.modules():
        if isinstance(module, Conv2d):
            return module
    raise ValueError(f"{type(model).__name__}: the model has no Conv2d layer")


def plot_filters(source, columns: int | None = None, rgb: bool | None = None):
    """Every ``(output channel, input channel)`` kernel of a convolution, one tile each; or,
    for a convolution of RGB images, every kernel as one small colour image.

    Args:
        source: a model (its first Conv2d is drawn), a Conv2d, or a weight array
            ``(C_out, C_in, kH, kW)``.
        columns: tiles per row; default: ``C_in`` when it is above 1 (a row per output
            channel) and the kernels are not drawn in colour, else ``ceil(sqrt(C_out))``.
        rgb: draw each ``(3, kH, kW)`` kernel as a colour image; default: when ``C_in`` is 3.

    Returns:
        a Figure of ``1.2 * columns x 1.2 * rows + 0.4`` inches.

    Grey input: one colour scale, symmetric around zero, for all tiles (red positive, blue
    negative, white zero): the sign of a weight is what makes a kernel an edge detector, and
    a shared scale shows which filters are strong. Trained LeNet-5 first-layer filters look
    like oriented edge and blob detectors; untrained ones look like noise.

    RGB input: each kernel is scaled to [0, 1] by its own minimum and maximum (over its three
    channels together) and shown as the colour image it responds to most: a trained network's
    first layer shows coloured edges and blobs (He et al.'s and Krizhevsky et al.'s figures).
    """
    if isinstance(source, np.ndarray):
        weight = source
    else:
        weight = (source if isinstance(source, Conv2d) else first_conv(source)).weight.data
    if weight.ndim != 4:
        raise ValueError(f"plot_filters: expected a (C_out, C_in, kH, kW) weight, got shape "
                         f"{weight.shape}")
    out_channels, in_channels = weight.shape[:2]
    if rgb is None:
        rgb = in_channels == 3
    if rgb:
        if in_channels != 3:
            raise ValueError(f"plot_filters: rgb=True needs kernels of 3 input channels, got "
                             f"shape {weight.shape}")
        return _plot_rgb_filters(weight, columns)
    kernels = weight.reshape(out_channels * in_channels, *weight.shape[2:])
    if columns is None:
        columns = in_channels if in_channels > 1 else math.ceil(math.sqrt(out_channels))
    rows = math.ceil(len(kernels) / columns)
    figure = new_figure(1.2 * columns, 1.2 * rows + 0.4)
    limit = float(np.abs(weight).max()) or 1.0
    axes_grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    image = None
    for index, axes in enumerate(axes_grid):
        axes.set_xticks([])
        axes.set_yticks([])
        if index >= len(kernels):
            axes.set_axis_off()
            continue
        image = axes.imshow(kernels[index], cmap="RdBu_r", vmin=-limit, vmax=limit)
        out_channel, in_channel = divmod(index, in_channels)
        label = f"{out_channel}" if in_channels == 1 else f"{out_channel}.{in_channel}"
        axes.set_title(label, fontsize=8)
    figure.colorbar(image, ax=axes_grid.tolist(), shrink=0.8)
    figure.suptitle(f"filters {tuple(weight.shape)}", fontsize=10)
    return figure


def _plot_rgb_filters(weight: np.ndarray, columns: int | None):
    """One colour tile per output channel: the kernel ``(3, kH, kW)`` scaled to [0, 1]."""
    out_channels = weight.shape[0]
    if columns is None:
        columns = math.ceil(math.sqrt(out_channels))
    rows = math.ceil(out_channels / columns)
    figure = new_figure(1.2 * columns, 1.2 * rows + 0.4)
    tiles = scale_to_unit(weight).transpose(0, 2, 3, 1)  # (C_out, kH, kW, RGB)
    axes_grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for index, axes in enumerate(axes_grid):
        axes.set_xticks([])
        axes.set_yticks([])
        if index >= out_channels:
            axes.set_axis_off()
            continue
        axes.imshow(tiles[index], interpolation="nearest")
        axes.set_title(f"{index}", fontsize=8)
    figure.suptitle(f"filters {tuple(weight.shape)}, each scaled to [0, 1] as RGB", fontsize=10)
    return figure
