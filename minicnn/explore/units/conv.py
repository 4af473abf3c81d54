"""A convolution unit: its window, kernel and products; and how its input's gradient adds up.

Forward, one output unit ``y[c, i, j]`` is the kernel laid on one window of the (padded) input,
multiplied element by element and summed, plus the bias::

    y[c, i, j] = bias[c] + sum over (k, u, v) of
                 weight[c, k, u, v] * x_pad[g*K + k, i*sH + u*dH, j*sW + v*dW]

where ``K = in_channels / groups`` and ``g`` is the group of output channel ``c``.

Backward, one input pixel ``x[k, r, s]`` sat in many windows, at a different kernel offset in
each: its gradient is the sum, over every window it took part in, of the weight it was
multiplied by times that window's output gradient. That is what col2im does (it *adds* the
columns back onto the image), one pixel at a time.
"""

from __future__ import annotations

import numpy as np

from minicnn.explore.trace import Call
from minicnn.explore.units._common import number, numbers, sum_of
from minicnn.functional.conv import conv2d_padding_sides, pad2d
from minicnn.nn.conv import Conv2d

__all__ = ["conv_forward", "conv_input_gradient"]


def _padding(module: Conv2d) -> tuple[int, int, int, int]:
    return conv2d_padding_sides(module.padding, module.kernel_size, module.dilation,
                                module.stride)


def _group_channels(module: Conv2d, out_channel: int) -> range:
    per_group = module.in_channels // module.groups
    group = out_channel // (module.out_channels // module.groups)
    return range(group * per_group, (group + 1) * per_group)


def conv_forward(module: Conv2d, call: Call, index: tuple[int, ...]) -> dict:
    """The window, kernel, products and sum behind output unit ``index = (c, i, j)``."""
    out_channel, row, col = index
    top, bottom, left, right = _padding(module)
    padded = pad2d(call.input, (top, bottom, left, right), module.padding_mode)[0]
    channels = _group_channels(module, out_channel)
    (kernel_h, kernel_w), (stride_h, stride_w) = module.kernel_size, module.stride
    dilation_h, dilation_w = module.dilation
    padded_rows = row * stride_h + np.arange(kernel_h) * dilation_h
    padded_cols = col * stride_w + np.arange(kernel_w) * dilation_w
    patch = padded[channels.start:channels.stop][:, padded_rows][:, :, padded_cols]
    kernel = module.weight.data[out_channel]
    products = kernel * patch  # float32 products, as the layer's own arithmetic makes them
    total = sum_of(products)
    bias = None if module.bias is None else number(module.bias.data[out_channel])
    value = number(call.output[(0, *index)])
    result = total + (bias or 0.0)
    return {
        # Input coordinates; a row or column outside [0, H) or [0, W) is padding.
        "reads": {"channels": list(channels), "rows": (padded_rows - top).tolist(),
                  "cols": (padded_cols - left).tolist()},
        "padding_mode": module.padding_mode,
        "patch": numbers(patch),
        "kernel": numbers(kernel),
        "products": numbers(products),
        "channel_sums": [sum_of(channel) for channel in products],
        "sum": total,
        "bias": bias,
        "total": result,
        "value": value,
        "difference": None if value is None else result - value,
        "formula": "sum(kernel * window) + bias",
    }


def _padded_positions(module: Conv2d, input_shape: tuple[int, int], row: int, col: int):
    """Every position of the padded input that holds ``x[row, col]``: itself, and with
    reflect/replicate/circular padding also its copies in the border."""
    height, width = input_shape
    source = (np.arange(height * width, dtype=np.float64) + 1).reshape(height, width)
    padded = pad2d(source, _padding(module), module.padding_mode) - 1  # -1: zero padding
    return np.argwhere(padded == row * width + col)


def conv_input_gradient(module: Conv2d, call: Call, index: tuple[int, ...]) -> dict:
    """``dLoss/d x[k, r, s]`` as the sum over every window that read ``x[k, r, s]``.

    Each term is one (output channel, window) pair: ``weight[c, k', u, v] * grad_output[c, i,
    j]``, where ``(u, v)`` is where the pixel sat in that window. Terms are grouped by output
    channel; ``offsets[c]`` is a kernel-shaped grid whose cell ``(u, v)`` holds the product
    from the window in which the pixel sat at offset ``(u, v)`` (None where no window put it
    there).
    """
    in_channel, row, col = index
    grad_output = call.grad_output[0]
    out_height, out_width = grad_output.shape[1:]
    per_group_in = module.in_channels // module.groups
    per_group_out = module.out_channels // module.groups
    group = in_channel // per_group_in
    local_channel = in_channel - group * per_group_in
    (kernel_h, kernel_w), (stride_h, stride_w) = module.kernel_size, module.stride
    dilation_h, dilation_w = module.dilation
    channels = range(group * per_group_out, (group + 1) * per_group_out)
    terms = {c: [[None] * kernel_w for _ in range(kernel_h)] for c in channels}
    windows = []
    products = []
    for padded_row, padded_col in _padded_positions(module, call.input.shape[2:], row, col):
        for u in range(kernel_h):
            top_row, rem_row = divmod(int(padded_row) - u * dilation_h, stride_h)
            if rem_row or not 0 <= top_row < out_height:
                continue
            for v in range(kernel_w):
                left_col, rem_col = divmod(int(padded_col) - v * dilation_w, stride_w)
                if rem_col or not 0 <= left_col < out_width:
                    continue
                windows.append([u, v, top_row, left_col])
                for c in channels:
                    weight = module.weight.data[c, local_channel, u, v]
                    grad = grad_output[c, top_row, left_col]
                    product = weight * grad
                    products.append(product)
                    previous = terms[c][u][v]
                    # Only circular padding on a tiny input can put one pixel twice at the
                    # same offset of one window; the cell then holds the sum of both.
                    terms[c][u][v] = number(product if previous is None else previous + product)
    value = None if call.grad_input is None else number(call.grad_input[(0, *index)])
    return {
        "channels": list(channels),
        "windows": windows,  # [u, v, i, j]: the pixel sat at offset (u, v) of window (i, j)
        "offsets": [terms[c] for c in channels],
        "count": len(products),
        "sum": sum_of(products),
        "value": value,
        "formula": "sum over windows of weight[c, k, u, v] * dL/dy[c, i, j]",
    }
