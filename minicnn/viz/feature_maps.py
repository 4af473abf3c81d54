"""Feature maps: what every convolution outputs for one image, caught with forward hooks."""

from __future__ import annotations

import math

import numpy as np

from minicnn.nn.conv import Conv2d
from minicnn.nn.module import Module
from minicnn.viz._figure import new_figure
from minicnn.viz.grid import scale_to_unit

__all__ = ["capture_feature_maps", "plot_feature_maps"]


def _as_batch(model: Module, image: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` or ``(1, C, H, W)`` as a one-image batch in the model's dtype."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one image, (C, H, W) or (1, C, H, W), got shape "
                         f"{image.shape}")
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else np.float32
    return image.astype(dtype, copy=False)


def capture_feature_maps(model: Module, image: np.ndarray,
                         layer_types: tuple[type, ...] = (Conv2d,)) -> dict[str, np.ndarray]:
    """Run ``image`` through ``model`` in eval mode; return each matching layer's output.

    Args:
        model: any Module; its training mode is restored afterwards.
        image: one image, ``(C, H, W)`` or ``(1, C, H, W)``.
        layer_types: which layers to listen to (default: every Conv2d).

    Returns:
        ``{layer name (as in named_modules): output (C_out, H_out, W_out)}`` in the order the
        layers ran. A forward hook sees each output as the layer returns it, so no layer and
        no forward needs to know it is being watched; the hooks are removed before returning.
    """
    batch = _as_batch(model, image)
    names = {id(module): name for name, module in model.named_modules()}
    outputs: dict[str, np.ndarray] = {}

    def keep(module, args, output):
        outputs[names[id(module)]] = np.array(output[0], copy=True)

    handles = [module.register_forward_hook(keep) for module in model.modules()
               if isinstance(module, layer_types)]
    was_training = model.training
    model.eval()
    try:
        model(batch)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return outputs


def plot_feature_maps(model: Module, image: np.ndarray, max_channels: int = 16,
                      columns: int = 8, layer_types: tuple[type, ...] = (Conv2d,)):
    """The input image, then each convolution's first ``max_channels`` maps, ``columns`` a row.

    Returns:
        a Figure of ``1.1 * (columns + 1) x 1.2 * rows + 0.3`` inches: one row for the input,
        then ``ceil(min(C_out, max_channels) / columns)`` rows per layer, its name and output
        shape at the left.

    Each map is scaled by its own minimum and maximum (dark: low, bright: high). In LeNet-5 the
    first convolution's maps are still recognisably the digit, filtered (edges of one
    orientation light up); the second's, at 10x10, are parts and strokes.
    """
    maps = capture_feature_maps(model, image, layer_types)
    if not maps:
        raise ValueError(f"{type(model).__name__}: no layer of type "
                         f"{[t.__name__ for t in layer_types]} ran in the forward")
    batch = _as_batch(model, image)
    shown = {name: output[:max_channels] for name, output in maps.items()}
    columns = min(columns, max(len(output) for output in shown.values()))
    layer_rows = {name: math.ceil(len(output) / columns) for name, output in shown.items()}
    rows = 1 + sum(layer_rows.values())
    figure = new_figure(1.1 * (columns + 1), 1.2 * rows + 0.3)
    grid = figure.subplots(rows, columns + 1, squeeze=False)
    for axes in grid.ravel():
        axes.set_axis_off()
    grid[0, 1].imshow(batch[0].mean(axis=0), cmap="gray")
    grid[0, 1].set_title("input", fontsize=8)
    row = 1
    for name, output in shown.items():
        grid[row, 0].text(0.5, 0.5, f"{name}\n{tuple(maps[name].shape)}", ha="center",
                          va="center", fontsize=8, transform=grid[row, 0].transAxes)
        for channel, feature_map in enumerate(scale_to_unit(output)):
            axes = grid[row + channel // columns, 1 + channel % columns]
            axes.imshow(feature_map, cmap="viridis", vmin=0.0, vmax=1.0)
            axes.set_title(str(channel), fontsize=7)
        row += layer_rows[name]
    figure.suptitle("feature maps (each scaled to its own range)", fontsize=10)
    return figure
