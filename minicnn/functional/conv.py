"""2-D convolution as im2col + one matrix product, its backward, and the padding it uses.

Layout is PyTorch's NCHW throughout. The pieces, in the order a forward pass uses them:

* :func:`pad2d` pads the last two axes (``'zeros'``, ``'reflect'``, ``'replicate'``,
  ``'circular'``); :func:`pad2d_backward` folds a gradient of the padded array back.
* :func:`im2col` unrolls every receptive field of a padded image into a column;
  :func:`col2im` is its adjoint (it scatters columns back and *adds* where windows overlap).
* :func:`conv2d` is ``torch.nn.functional.conv2d``: pad with zeros, im2col, one batched matrix
  product per group, add the bias. :func:`conv2d_forward` is the same but also returns the
  ``cols`` matrix so that :func:`conv2d_backward` need not rebuild it.
* :func:`conv2d_direct` computes the same thing one output element at a time, straight from
  the definition: the slow, readable twin the fast path is tested against.

Sizes (one formula, in :func:`minicnn.functional._shapes.conv_output_size`)::

    H_out = floor((H + pad_top + pad_bottom - dilation[0]*(kH - 1) - 1) / stride[0]) + 1
    W_out = floor((W + pad_left + pad_right - dilation[1]*(kW - 1) - 1) / stride[1]) + 1
"""

from __future__ import annotations

import numpy as np

from minicnn.functional._shapes import conv_output_size, pair, same_padding

__all__ = [
    "PADDING_MODES",
    "check_kernel_fits",
    "check_padding_fits",
    "col2im",
    "conv2d",
    "conv2d_backward",
    "conv2d_direct",
    "conv2d_forward",
    "conv2d_input_grad",
    "conv2d_padding_sides",
    "conv2d_weight_grad",
    "im2col",
    "pad2d",
    "pad2d_backward",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
"""The ``padding_mode`` values of ``torch.nn.Conv2d``, all accepted by :func:`pad2d`."""

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- argument checks
def _positive_pair(value, name: str, owner: str) -> tuple[int, int]:
    value = pair(value, name, owner)
    if value[0] <= 0 or value[1] <= 0:
        raise ValueError(f"{owner}: {name} must be positive, got {value!r}")
    return value


def conv2d_padding_sides(
    padding, kernel_size, dilation=1, stride=1, owner: str = "conv2d"
) -> tuple[int, int, int, int]:
    """Resolve ``conv2d``'s ``padding`` argument to explicit ``(top, bottom, left, right)``.

    ``padding`` is an int, a ``(pad_h, pad_w)`` pair (the same amount before and after),
    ``'valid'`` (no padding) or ``'same'`` (the output keeps the input's size; stride 1 only).
    For ``'same'`` the total along an axis is ``dilation*(kernel - 1)``; when it is odd the
    extra element goes after (bottom/right), as in PyTorch.
    """
    kernel_size = pair(kernel_size, "kernel_size", owner)
    dilation = pair(dilation, "dilation", owner)
    stride = pair(stride, "stride", owner)
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f"{owner}: padding='same' is not supported for strided convolutions "
                    f"(got stride={stride})"
                )
            top, bottom = same_padding(kernel_size[0], dilation[0])
            left, right = same_padding(kernel_size[1], dilation[1])
            return (top, bottom, left, right)
        raise ValueError(
            f"{owner}: Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}"
        )
    pad_h, pad_w = pair(padding, "padding", owner)
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"{owner}: negative padding is not supported, got padding={padding!r}")
    return (pad_h, pad_h, pad_w, pad_w)


def _check_mode_and_sides(owner: str, sides, mode: str) -> None:
    if mode not in PADDING_MODES:
        raise ValueError(
            f"{owner}: padding_mode must be one of {PADDING_MODES}, but got padding_mode={mode!r}"
        )
    if (
        not isinstance(sides, (tuple, list))
        or len(sides) != 4
        or not all(isinstance(p, int) and not isinstance(p, bool) for p in sides)
    ):
        raise TypeError(
            f"{owner}: padding must be 4 ints (top, bottom, left, right), got {sides!r}"
        )
    if any(p < 0 for p in sides):
        raise ValueError(f"{owner}: negative padding is not supported, got {tuple(sides)}")


def check_padding_fits(owner: str, spatial_size: tuple[int, int], sides, mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` can pad an ``(H, W)`` image by ``sides``.

    ``sides`` is ``(top, bottom, left, right)``. Reflection needs each pad smaller than the
    axis (the edge itself is not repeated), circular padding may wrap around at most once,
    and replication needs a non-empty axis to copy from.
    """
    _check_mode_and_sides(owner, sides, mode)
    height, width = spatial_size
    for size, before, after, axis in ((height, *sides[:2], "height"), (width, *sides[2:], "width")):
        if mode == "reflect" and max(before, after) >= size:
            raise ValueError(
                f"{owner}: reflect padding must be smaller than the input {axis}, got padding "
                f"({before}, {after}) for {axis} {size} (input size {tuple(spatial_size)})"
            )
        if mode == "circular" and max(before, after) > size:
            raise ValueError(
                f"{owner}: circular padding wraps around more than once: padding "
                f"({before}, {after}) for {axis} {size} (input size {tuple(spatial_size)})"
            )
        if mode == "replicate" and size == 0 and before + after > 0:
            raise ValueError(f"{owner}: cannot replicate-pad an empty {axis}")


def check_kernel_fits(owner: str, padded_size: tuple[int, int], kernel_size, dilation) -> None:
    """Raise ``ValueError`` (PyTorch's sentence) if the dilated kernel exceeds the padded input."""
    kernel_h, kernel_w = pair(kernel_size, "kernel_size", owner)
    dilation_h, dilation_w = pair(dilation, "dilation", owner)
    extent = (dilation_h * (kernel_h - 1) + 1, dilation_w * (kernel_w - 1) + 1)
    if padded_size[0] < extent[0] or padded_size[1] < extent[1]:
        raise ValueError(
            f"{owner}: Calculated padded input size per channel: "
            f"({padded_size[0]} x {padded_size[1]}). Kernel size: ({extent[0]} x {extent[1]}). "
            "Kernel size can't be greater than actual input size"
        )


# ---------------------------------------------------------------------------- padding
def _source_indices(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the input position it copies.

    For ``size=4, before=2, after=2``::

        reflect    [2 1 | 0 1 2 3 | 2 1]    mirror about the edge, edge not repeated
        replicate  [0 0 | 0 1 2 3 | 3 3]    repeat the edge
        circular   [2 3 | 0 1 2 3 | 0 1]    wrap around
    """
    positions = np.arange(-before, size + after)
    if mode == "reflect":
        last = size - 1
        return last - np.abs(last - np.abs(positions))
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    return positions % size  # circular


def _axis_index(axis: int, index) -> tuple:
    return (Ellipsis, index) + (slice(None),) * (-axis - 1)


def pad2d(x: np.ndarray, padding, mode: str = "zeros") -> np.ndarray:
    """Pad the last two axes of ``x`` (``(..., H, W)``, usually ``(N, C, H, W)``).

    Args:
        x: the array to pad; its dtype is kept.
        padding: ``(top, bottom, left, right)``, non-negative ints. (``torch.nn.functional.pad``
            takes the reverse order, ``(left, right, top, bottom)``.)
        mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'`` (see
            :func:`_source_indices` for what each copies).

    Returns:
        A new array of shape ``(..., H + top + bottom, W + left + right)``.

    The non-zero modes are a gather: padded position ``i`` holds ``x[source[i]]``, rows first,
    then columns (so a corner is, e.g., the reflection of a reflection, as in PyTorch).
    """
    check_padding_fits("pad2d", x.shape[-2:], padding, mode)
    top, bottom, left, right = padding
    height, width = x.shape[-2:]
    if mode == "zeros":
        padded = np.zeros(x.shape[:-2] + (height + top + bottom, width + left + right), x.dtype)
        padded[..., top : top + height, left : left + width] = x
        return padded
    rows = _source_indices(height, top, bottom, mode)
    cols = _source_indices(width, left, right, mode)
    return x.take(rows, axis=-2).take(cols, axis=-1)


def _fold_axis(grad: np.ndarray, before: int, after: int, mode: str, axis: int) -> np.ndarray:
    """Gradient of padding one axis: crop the interior, then add each border into its source."""
    size = grad.shape[axis] - before - after
    inner = grad[_axis_index(axis, slice(before, before + size))].copy()
    if mode == "zeros" or before + after == 0:
        return inner  # zeros depend on no input: their gradient is dropped
    source = _source_indices(size, before, after, mode)
    # One input position can feed several padded positions (replicate copies the edge
    # `before` times), so the adds must accumulate: np.add.at, not fancy-index assignment.
    np.add.at(inner, _axis_index(axis, source[:before]), grad[_axis_index(axis, slice(0, before))])
    np.add.at(
        inner,
        _axis_index(axis, source[before + size :]),
        grad[_axis_index(axis, slice(before + size, None))],
    )
    return inner


def pad2d_backward(grad_padded: np.ndarray, padding, mode: str = "zeros") -> np.ndarray:
    """Gradient of :func:`pad2d` with respect to its input.

    Args:
        grad_padded: gradient of the padded array, ``(..., H + top + bottom, W + left + right)``.
        padding: the ``(top, bottom, left, right)`` given to :func:`pad2d`.
        mode: the mode given to :func:`pad2d`.

    Returns:
        ``(..., H, W)``, same dtype. Padding copies input values, so each input position gets
        its own gradient plus that of every padded position copied from it (for ``'zeros'``
        the border is just dropped). The two axes are folded one after the other, as the
        forward gathered them.
    """
    _check_mode_and_sides("pad2d_backward", padding, mode)
    top, bottom, left, right = padding
    grad_rows = _fold_axis(grad_padded, left, right, mode, axis=-1)
    return _fold_axis(grad_rows, top, bottom, mode, axis=-2)


# ---------------------------------------------------------------------------- im2col / col2im
def im2col(x_padded: np.ndarray, kernel_size, stride=1, dilation=1) -> np.ndarray:
    """Unroll every receptive field of an already padded image batch.

    Args:
        x_padded: ``(N, C, H_p, W_p)``, padding already applied.
        kernel_size, stride, dilation: ints or ``(h, w)`` pairs.

    Returns:
        ``cols`` of shape ``(N, C, kH, kW, H_out, W_out)`` with
        ``cols[n, c, ky, kx, oy, ox] = x_padded[n, c, oy*sH + ky*dH, ox*sW + kx*dW]``,
        where ``H_out = floor((H_p - dH*(kH - 1) - 1) / sH) + 1`` (likewise ``W_out``).
        It holds ``N*C*kH*kW*H_out*W_out`` elements: about ``kH*kW / (sH*sW)`` times the input.

    The loop runs over the kH*kW kernel offsets only: for a fixed ``(ky, kx)`` the entries
    for every sample, channel and output position form one strided slice of ``x_padded``
    (start at the offset, step by the stride), so each iteration is a single slice copy.
    """
    (kernel_h, kernel_w) = pair(kernel_size, "kernel_size", "im2col")
    (stride_h, stride_w) = pair(stride, "stride", "im2col")
    (dilation_h, dilation_w) = pair(dilation, "dilation", "im2col")
    n, channels, height, width = x_padded.shape
    out_h = conv_output_size(height, kernel_h, stride_h, 0, dilation_h)
    out_w = conv_output_size(width, kernel_w, stride_w, 0, dilation_w)
    if out_h <= 0 or out_w <= 0:
        check_kernel_fits("im2col", (height, width), (kernel_h, kernel_w), (dilation_h, dilation_w))
    cols = np.empty((n, channels, kernel_h, kernel_w, out_h, out_w), dtype=x_padded.dtype)
    for ky in range(kernel_h):
        y0 = ky * dilation_h
        y_stop = y0 + stride_h * (out_h - 1) + 1
        for kx in range(kernel_w):
            x0 = kx * dilation_w
            x_stop = x0 + stride_w * (out_w - 1) + 1
            cols[:, :, ky, kx] = x_padded[:, :, y0:y_stop:stride_h, x0:x_stop:stride_w]
    return cols


def col2im(cols: np.ndarray, padded_shape, stride=1, dilation=1) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter columns back onto a padded image, adding overlaps.

    Args:
        cols: ``(N, C, kH, kW, H_out, W_out)``, e.g. the gradient of the loss w.r.t. ``cols``.
        padded_shape: ``(N, C, H_p, W_p)``, the shape of the image :func:`im2col` unrolled.
        stride, dilation: as given to :func:`im2col`.

    Returns:
        ``(N, C, H_p, W_p)`` with the dtype of ``cols``.

    The same slices as :func:`im2col`, written with ``+=``. When windows overlap (stride smaller
    than the kernel's extent) one pixel appears in several columns, once per window it lies
    in; by the chain rule its gradient is the sum over those appearances. Two kernel offsets
    whose slices cover the same pixel each add their part, so nothing is overwritten.
    """
    _, _, kernel_h, kernel_w, out_h, out_w = cols.shape
    (stride_h, stride_w) = pair(stride, "stride", "col2im")
    (dilation_h, dilation_w) = pair(dilation, "dilation", "col2im")
    image = np.zeros(tuple(padded_shape), dtype=cols.dtype)
    for ky in range(kernel_h):
        y0 = ky * dilation_h
        y_stop = y0 + stride_h * (out_h - 1) + 1
        for kx in range(kernel_w):
            x0 = kx * dilation_w
            x_stop = x0 + stride_w * (out_w - 1) + 1
            image[:, :, y0:y_stop:stride_h, x0:x_stop:stride_w] += cols[:, :, ky, kx]
    return image


# ---------------------------------------------------------------------------- convolution
def _check_float_operands(owner: str, x, **optional) -> None:
    """``x`` (the input) and each named array that is not None: an ndarray, float32 or
    float64, of ``x``'s dtype. Shared by the convolution and the transposed convolution."""
    for name, array in (("input", x), *optional.items()):
        if array is None and name != "input":
            continue
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"{owner}: expected {name} as a numpy.ndarray, got {type(array).__name__}"
            )
        if array.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"{owner}: expected a float32 or float64 {name}, got dtype {array.dtype}"
            )
        if array.dtype != x.dtype:
            raise TypeError(
                f"{owner}: {name} dtype {array.dtype} does not match the input dtype {x.dtype}"
            )


def _check_conv_operands(owner: str, x, weight, bias, groups) -> None:
    _check_float_operands(owner, x, weight=weight, bias=bias)
    if x.ndim != 4:
        raise ValueError(f"{owner}: expected a 4D input (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(
            f"{owner}: expected a 4D weight (C_out, C_in/groups, kH, kW), got shape {weight.shape}"
        )
    if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
        raise ValueError(f"{owner}: groups must be a positive integer, got {groups!r}")
    out_channels, group_in_channels = weight.shape[:2]
    if x.shape[1] != group_in_channels * groups:
        raise ValueError(
            f"{owner}: Given groups={groups}, weight of size {weight.shape}, expected input of "
            f"shape {x.shape} to have {group_in_channels * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    if out_channels % groups != 0:
        raise ValueError(
            f"{owner}: out_channels ({out_channels}, weight.shape[0]) must be divisible by "
            f"groups ({groups})"
        )
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(
            f"{owner}: expected bias of shape ({out_channels},) for weight of shape "
            f"{weight.shape}, got {bias.shape}"
        )


def conv2d_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
    stride=1, padding=0, dilation=1, groups: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`conv2d` that also returns the ``cols`` matrix, for :func:`conv2d_backward`.

    Args:
        x: ``(N, C_in, H, W)``.
        weight, bias, stride, padding, dilation, groups: as in :func:`conv2d`.

    Returns:
        ``(output, cols)``: ``output`` is ``(N, C_out, H_out, W_out)``; ``cols`` is the
        im2col matrix of the zero-padded input, shape ``(N, C_in, kH, kW, H_out, W_out)``.
        Keeping ``cols`` for the backward costs ``N*C_in*kH*kW*H_out*W_out*itemsize`` bytes
        (``kH*kW/(sH*sW)`` times the input's size) and saves rebuilding it; the weight
        gradient needs exactly these values.
    """
    owner = "conv2d"
    _check_conv_operands(owner, x, weight, bias, groups)
    stride = _positive_pair(stride, "stride", owner)
    dilation = _positive_pair(dilation, "dilation", owner)
    kernel_size = weight.shape[2:]
    if kernel_size[0] <= 0 or kernel_size[1] <= 0:
        raise ValueError(f"{owner}: kernel size must be positive, got weight shape {weight.shape}")
    sides = conv2d_padding_sides(padding, kernel_size, dilation, stride, owner)
    top, bottom, left, right = sides
    padded_size = (x.shape[2] + top + bottom, x.shape[3] + left + right)
    check_kernel_fits(owner, padded_size, kernel_size, dilation)

    cols = im2col(pad2d(x, sides, "zeros"), kernel_size, stride, dilation)
    n, in_channels, kernel_h, kernel_w, out_h, out_w = cols.shape
    out_channels = weight.shape[0]
    # Group g sees input channels [g*C_in/G, (g+1)*C_in/G) and owns output channels
    # [g*C_out/G, (g+1)*C_out/G); both reshapes are free (no copy) because cols is contiguous.
    # Sizes spelled out, not -1: an empty batch (n = 0) has no size to infer it from.
    cols_grouped = cols.reshape(n, groups, in_channels // groups * kernel_h * kernel_w,
                                out_h * out_w)
    weight_grouped = weight.reshape(groups, out_channels // groups, -1)
    # (G, C_out/G, K) @ (N, G, K, H_out*W_out) -> (N, G, C_out/G, H_out*W_out): one product
    # per (sample, group), all in a single matmul call.
    output = np.matmul(weight_grouped, cols_grouped).reshape(n, out_channels, out_h, out_w)
    if bias is not None:
        output += bias.reshape(1, out_channels, 1, 1)
    return output, cols


def conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
    stride=1, padding=0, dilation=1, groups: int = 1,
) -> np.ndarray:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    ``out[n, o] = bias[o] + sum_{c in group(o)} weight[o, c] (star) x_padded[n, c]``, evaluated
    as im2col followed by one matrix product per group.

    Args:
        x: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``, same dtype as ``x``.
        bias: ``(C_out,)`` or ``None``.
        stride: int or ``(sH, sW)``, positive.
        padding: int, ``(pH, pW)``, ``'valid'`` or ``'same'`` (stride 1 only; an odd total
            puts the extra zero after). Padding is with zeros; pad first with :func:`pad2d`
            for other modes.
        dilation: int or ``(dH, dW)``, the spacing between kernel taps.
        groups: split the channels into this many independent convolutions; must divide
            ``C_in`` and ``C_out`` (``groups == C_in`` is a depthwise convolution).

    Returns:
        ``(N, C_out, H_out, W_out)`` (or ``(C_out, H_out, W_out)``) in ``x``'s dtype, with
        ``H_out = floor((H + pad_top + pad_bottom - dH*(kH - 1) - 1) / sH) + 1``, likewise
        ``W_out``.
    """
    if isinstance(x, np.ndarray) and x.ndim == 3:
        return conv2d_forward(x[None], weight, bias, stride, padding, dilation, groups)[0][0]
    return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


def conv2d_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
    stride=1, padding=0, dilation=1, groups: int = 1, cols: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d` with respect to its input, weight and bias.

    Args:
        grad_output: ``(N, C_out, H_out, W_out)``, gradient of the loss w.r.t. the output.
        x: the forward's ``(N, C_in, H, W)`` input (only its shape is read when ``cols`` is
            given).
        weight, stride, padding, dilation, groups: as given to the forward.
        cols: the ``cols`` returned by :func:`conv2d_forward` for this ``x``; rebuilt with
            :func:`im2col` when ``None``. It is read, never modified.

    Returns:
        ``(grad_input, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and
        ``(C_out,)``, in ``x``'s dtype. ``grad_bias`` is returned even if the forward had no
        bias (it is cheap); ignore it then.

    With ``dy = grad_output`` reshaped to ``(N, G, C_out/G, L)`` (``L = H_out*W_out``) and
    ``cols`` to ``(N, G, K, L)`` (``K = C_in/G*kH*kW``), the forward was ``y = W @ cols``, so
    ``dW = sum_n dy @ cols^T`` and ``dcols = W^T @ dy``; :func:`col2im` then adds each column
    back onto the pixels it was copied from, and the zero padding is cropped off. Peak extra
    memory is ``dcols`` (as large as ``cols``) plus the padded input gradient.

    The backward of a convolution is itself a convolution (for ``groups=1``; ``x_p`` is the
    zero-padded input, ``'`` swaps the first two axes, ``s`` the stride, ``d`` the dilation):

    * ``grad_weight = conv2d(x_p', dy', stride=d, dilation=s)'``, cropped to ``(kH, kW)``:
      the samples play the role of channels, and each weight tap correlates the input with
      ``dy`` (the stride of the forward becomes the dilation, and vice versa).
    * ``grad_input_padded = conv2d(dilate(dy, s), flip(weight)', padding=d*(k - 1),
      dilation=d)``, padded with zeros at the end up to ``(H_p, W_p)``: a *transposed*
      convolution, i.e. the flipped kernel with in/out channels swapped slid over ``dy``
      with ``s - 1`` zeros inserted between its entries. ``tests/functional/test_conv.py``
      checks both identities against this function.
    """
    owner = "conv2d_backward"
    _check_conv_operands(owner, x, weight, None, groups)
    stride = _positive_pair(stride, "stride", owner)
    dilation = _positive_pair(dilation, "dilation", owner)
    kernel_size = weight.shape[2:]
    sides = conv2d_padding_sides(padding, kernel_size, dilation, stride, owner)
    top, bottom, left, right = sides
    n, in_channels, height, width = x.shape
    out_channels = weight.shape[0]
    out_h = conv_output_size(height + top + bottom, kernel_size[0], stride[0], 0, dilation[0])
    out_w = conv_output_size(width + left + right, kernel_size[1], stride[1], 0, dilation[1])
    expected = (n, out_channels, out_h, out_w)
    if not isinstance(grad_output, np.ndarray) or grad_output.shape != expected:
        got = grad_output.shape if isinstance(grad_output, np.ndarray) else type(grad_output)
        raise ValueError(f"{owner}: expected grad_output of shape {expected}, got {got}")
    if grad_output.dtype != x.dtype:
        raise TypeError(
            f"{owner}: grad_output dtype {grad_output.dtype} does not match the input dtype "
            f"{x.dtype}"
        )
    if cols is None:
        cols = im2col(pad2d(x, sides, "zeros"), kernel_size, stride, dilation)
    expected_cols = (n, in_channels, *kernel_size, out_h, out_w)
    if cols.shape != expected_cols:
        raise ValueError(f"{owner}: expected cols of shape {expected_cols}, got {cols.shape}")

    grad_bias = grad_output.sum(axis=(0, 2, 3))
    grad_weight = conv2d_weight_grad(grad_output, cols, groups)
    padded_shape = (n, in_channels, height + top + bottom, width + left + right)
    grad_padded = conv2d_input_grad(grad_output, weight, padded_shape, stride, dilation, groups)
    grad_input = pad2d_backward(grad_padded, sides, "zeros")
    return grad_input, grad_weight, grad_bias


def conv2d_weight_grad(grad_output: np.ndarray, cols: np.ndarray, groups: int = 1) -> np.ndarray:
    """The weight half of :func:`conv2d_backward`: ``dW = sum_n dy @ cols^T``, per group.

    Args:
        grad_output: ``(N, C_out, H_out, W_out)``.
        cols: the im2col matrix of the forward's zero-padded input,
            ``(N, C_in, kH, kW, H_out, W_out)``.
        groups: as given to the forward.

    Returns:
        ``(C_out, C_in/groups, kH, kW)`` in ``grad_output``'s dtype. The arguments are
        checked by the callers (:func:`conv2d_backward`, and the transposed convolution,
        whose backward calls this with the roles of the two arrays swapped).
    """
    n, in_channels, kernel_h, kernel_w, out_h, out_w = cols.shape
    out_channels = grad_output.shape[1]
    dy = grad_output.reshape(n, groups, out_channels // groups, out_h * out_w)
    cols_grouped = cols.reshape(n, groups, in_channels // groups * kernel_h * kernel_w,
                                out_h * out_w)
    grad_weight = np.matmul(dy, cols_grouped.transpose(0, 1, 3, 2)).sum(axis=0)
    return grad_weight.reshape(out_channels, in_channels // groups, kernel_h, kernel_w)


def conv2d_input_grad(grad_output: np.ndarray, weight: np.ndarray, padded_shape,
                      stride=1, dilation=1, groups: int = 1) -> np.ndarray:
    """The input half of :func:`conv2d_backward`: ``dcols = W^T @ dy``, then :func:`col2im`.

    Args:
        grad_output: ``(N, C_out, H_out, W_out)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        padded_shape: ``(N, C_in, H_p, W_p)``, the zero-padded input's shape. Rows or columns
            at the end that no window reaches (``H_p`` longer than the windows need) get 0.
        stride, dilation, groups: as given to the forward.

    Returns:
        The gradient of the zero-padded input, ``padded_shape``, in ``grad_output``'s dtype;
        crop the padding off (:func:`pad2d_backward`) for the input's. This is also the
        forward of a transposed convolution (see
        :func:`minicnn.functional.conv_transpose.conv_transpose2d`).
    """
    n, out_channels, out_h, out_w = grad_output.shape
    _, kernel_h, kernel_w = weight.shape[1:]
    dy = grad_output.reshape(n, groups, out_channels // groups, out_h * out_w)
    weight_grouped = weight.reshape(groups, out_channels // groups, -1)
    grad_cols = np.matmul(weight_grouped.transpose(0, 2, 1), dy)
    grad_cols = grad_cols.reshape(n, padded_shape[1], kernel_h, kernel_w, out_h, out_w)
    return col2im(grad_cols, padded_shape, stride, dilation)


def conv2d_direct(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
    stride=1, padding=0, dilation=1, groups: int = 1,
) -> np.ndarray:
    """:func:`conv2d` straight from the definition, one output element at a time.

    The readable check on the im2col path (slow: Python loops over every output element),
    kept beside it so each can be tested against the other. Same arguments and result as
    :func:`conv2d` for a 4D ``x``::

        out[n, o, oy, ox] = bias[o] + sum over c, ky, kx of
            weight[o, c, ky, kx] * x_padded[n, g*C_in/G + c, oy*sH + ky*dH, ox*sW + kx*dW]

    where ``g = o // (C_out/G)`` is the group output channel ``o`` belongs to.
    """
    owner = "conv2d_direct"
    _check_conv_operands(owner, x, weight, bias, groups)
    stride_h, stride_w = _positive_pair(stride, "stride", owner)
    dilation_h, dilation_w = _positive_pair(dilation, "dilation", owner)
    out_channels, group_in_channels, kernel_h, kernel_w = weight.shape
    sides = conv2d_padding_sides(padding, (kernel_h, kernel_w), (dilation_h, dilation_w),
                                 (stride_h, stride_w), owner)
    x_padded = pad2d(x, sides, "zeros")
    n, _, height, width = x_padded.shape
    check_kernel_fits(owner, (height, width), (kernel_h, kernel_w), (dilation_h, dilation_w))
    out_h = conv_output_size(height, kernel_h, stride_h, 0, dilation_h)
    out_w = conv_output_size(width, kernel_w, stride_w, 0, dilation_w)
    group_out_channels = out_channels // groups
    output = np.zeros((n, out_channels, out_h, out_w), dtype=x.dtype)
    for sample in range(n):
        for o in range(out_channels):
            first_channel = (o // group_out_channels) * group_in_channels
            channels = slice(first_channel, first_channel + group_in_channels)
            for oy in range(out_h):
                for ox in range(out_w):
                    top = oy * stride_h
                    left = ox * stride_w
                    window = x_padded[
                        sample,
                        channels,
                        top : top + dilation_h * (kernel_h - 1) + 1 : dilation_h,
                        left : left + dilation_w * (kernel_w - 1) + 1 : dilation_w,
                    ]
                    output[sample, o, oy, ox] = np.sum(window * weight[o])
            if bias is not None:
                output[sample, o] += bias[o]
    return output
