"""Max and average pooling as pure NumPy functions: the readable reference.

Arrays are NCHW, as in PyTorch. The loops run only over the kernel offsets ``(kh, kw)``, never
over samples, channels or output positions (the im2col idea, as in Chainer's ``im2col``): for
one offset, a single strided slice of the padded input holds that offset's element of *every*
window of every sample and channel at once, an ``(N, C, H_out, W_out)`` view. Pooling reduces
these ``kH * kW`` views (a running max, or a sum); the backward of average pooling walks the same
slices with ``+=``, which is why overlapping windows add their gradients.

Unbatched ``(C, H, W)`` inputs are accepted, as by ``torch.nn.functional``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from minicnn.functional._shapes import pair, pool_output_size

__all__ = [
    "PoolGeometry",
    "avg_pool2d",
    "avg_pool2d_backward",
    "check_divisor_override",
    "check_pool2d_arguments",
    "max_pool2d",
    "max_pool2d_backward",
    "pool2d_geometry",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class PoolGeometry(NamedTuple):
    """Normalised pooling arguments, each a ``(height, width)`` pair, and the output size."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    output_size: tuple[int, int]


# ---------------------------------------------------------------------- argument checks
def check_pool2d_arguments(kernel_size, stride, padding, dilation=1, *, owner: str):
    """Normalise and check pooling arguments; returns ``(kernel, stride, padding, dilation)``.

    ``stride=None`` means ``stride = kernel_size``. Accepts what PyTorch accepts: positive
    kernel, stride and dilation, and ``0 <= padding <= effective_kernel // 2`` with
    ``effective_kernel = dilation*(kernel - 1) + 1`` (and, as PyTorch's CPU pooling also
    checks, ``padding <= kernel // 2``), so that every window holds at least one real element.
    Errors name ``owner`` (a layer's repr or a function's name).
    """
    kernel = pair(kernel_size, "kernel_size", owner)
    stride = kernel if stride is None else pair(stride, "stride", owner)
    padding = pair(padding, "padding", owner)
    dilation = pair(dilation, "dilation", owner)
    for name, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if min(value) < 1:
            raise ValueError(f"{owner}: {name} must be positive, got {value}")
    if min(padding) < 0:
        raise ValueError(f"{owner}: padding must be non-negative, got {padding}")
    for pad, k, d in zip(padding, kernel, dilation):
        if pad > (d * (k - 1) + 1) // 2:
            raise ValueError(
                f"{owner}: pad should be at most half of effective kernel size, but got "
                f"pad={pad}, kernel_size={k} and dilation={d}"
            )
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{owner}: pad should be smaller than or equal to half of kernel size, but got "
            f"padW = {padding[1]}, padH = {padding[0]}, kW = {kernel[1]}, kH = {kernel[0]}"
        )
    return kernel, stride, padding, dilation


def pool2d_geometry(input_shape, kernel_size, stride=None, padding=0, dilation=1,
                    ceil_mode=False, *, owner: str) -> PoolGeometry:
    """Checked arguments and output size for an input of shape ``(N, C, H, W)`` or ``(C, H, W)``.

    Along each axis (see :func:`minicnn.functional._shapes.pool_output_size`)::

        out = floor_or_ceil((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1

    and with ``ceil_mode`` a last window that would start inside the right padding is dropped.
    Raises ``ValueError`` naming ``owner`` when an output size is below 1.
    """
    kernel, stride, padding, dilation = check_pool2d_arguments(
        kernel_size, stride, padding, dilation, owner=owner
    )
    height, width = input_shape[-2:]
    output_size = tuple(
        pool_output_size(size, k, s, p, d, bool(ceil_mode))
        for size, k, s, p, d in zip((height, width), kernel, stride, padding, dilation)
    )
    if min(output_size) < 1:
        raise ValueError(
            f"{owner}: given input of size {height}x{width}, the calculated output size is "
            f"{output_size[0]}x{output_size[1]}: output size is too small for "
            f"kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation} "
            f"(input shape {tuple(input_shape)})"
        )
    return PoolGeometry(kernel, stride, padding, dilation, output_size)


def _check_input(x, owner: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: expected a numpy.ndarray input, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{owner}: expected a float32 or float64 input, got dtype {x.dtype}")
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{owner}: expected 3D (C, H, W) or 4D (N, C, H, W) input, got {x.ndim}D input "
            f"of shape {x.shape}"
        )


def _check_grad_output(grad_output, expected_shape, owner: str) -> None:
    if not isinstance(grad_output, np.ndarray):
        raise TypeError(
            f"{owner}: expected grad_output as a numpy.ndarray, got {type(grad_output).__name__}"
        )
    if grad_output.shape != tuple(expected_shape):
        raise ValueError(
            f"{owner}: expected grad_output of shape {tuple(expected_shape)} (the forward "
            f"output's shape), got {grad_output.shape}"
        )


# ---------------------------------------------------------------------- window slices
def _pad_for_windows(x: np.ndarray, geometry: PoolGeometry, fill: float) -> np.ndarray:
    """Pad the ``(N, C, H, W)`` input with ``fill`` so every window's slice fits.

    ``padding`` goes before each axis; after it goes whatever the last window needs, which
    with ``ceil_mode`` can reach past the right padding (the overhang).
    """
    pad_widths = [(0, 0), (0, 0)]
    axes = zip(x.shape[2:], geometry.kernel, geometry.stride, geometry.padding,
               geometry.dilation, geometry.output_size)
    for size, k, s, p, d, out in axes:
        reach = (out - 1) * s + d * (k - 1) + 1  # padded length the windows span
        pad_widths.append((p, max(reach - size - p, 0)))
    return np.pad(x, pad_widths, mode="constant", constant_values=fill)


def _window_taps(geometry: PoolGeometry) -> Iterator[tuple[int, int, slice, slice]]:
    """Yield ``(kh, kw, rows, cols)`` for every kernel offset, in row-major order.

    ``padded[:, :, rows, cols]`` is an ``(N, C, H_out, W_out)`` view whose element
    ``[n, c, oh, ow]`` is the offset-``(kh, kw)`` element of window ``(oh, ow)``: padded row
    ``oh*stride_h + kh*dilation_h``, padded column ``ow*stride_w + kw*dilation_w``.
    """
    (kH, kW), (sH, sW), _, (dH, dW), (H_out, W_out) = geometry
    for kh in range(kH):
        rows = slice(kh * dH, kh * dH + sH * (H_out - 1) + 1, sH)
        for kw in range(kW):
            cols = slice(kw * dW, kw * dW + sW * (W_out - 1) + 1, sW)
            yield kh, kw, rows, cols


def _as_batched(x: np.ndarray) -> np.ndarray:
    return x if x.ndim == 4 else x[np.newaxis]


# ---------------------------------------------------------------------- max pooling
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2D max pooling, as ``torch.nn.functional.max_pool2d``.

    ``out[n, c, oh, ow] = max over (kh, kw) of x_padded[n, c, oh*sH + kh*dH, ow*sW + kw*dW]``,
    where the padding is ``-inf`` (it can never be the maximum).

    Args:
        x: input of shape ``(N, C, H, W)`` or ``(C, H, W)``, float32 or float64.
        kernel_size, stride, padding, dilation: an int or a ``(height, width)`` pair;
            ``stride=None`` means ``kernel_size``.
        ceil_mode: round the output size up instead of down (see :func:`pool2d_geometry`).
        return_indices: also return, for every output, the flat index ``h*W + w`` of its
            maximum within its ``(H, W)`` input plane, as PyTorch does.

    Returns:
        ``(N, C, H_out, W_out)`` output (``(C, H_out, W_out)`` for unbatched input) in the
        input's dtype, with ``H_out = floor_or_ceil((H + 2*padding[0] - dilation[0]*(
        kernel_size[0] - 1) - 1) / stride[0]) + 1`` (likewise ``W_out``); with
        ``return_indices``, the pair ``(output, indices)``, indices int64 of the same shape.

    Ties: the first maximum in the window's row-major order wins (see the loop's comment);
    a NaN in a window wins over any number, so NaNs propagate.

    A window can hold nothing but padding when dilation makes it step over an input narrower than
    its gaps (width 2, kernel 2, dilation 3, padding 1 reads columns -1 and 2). Its output
    is ``-inf``, as in PyTorch, and its index is ``-1``: PyTorch reports an index outside
    the plane there (and its backward then writes out of bounds); here such an output
    simply passes no gradient back.
    """
    owner = "max_pool2d"
    _check_input(x, owner)
    geometry = pool2d_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode,
                               owner=owner)
    batch = _as_batched(x)
    N, C, H, W = batch.shape
    (_, _), (sH, sW), (pH, pW), (dH, dW), (H_out, W_out) = geometry

    padded = _pad_for_windows(batch, geometry, fill=-np.inf)
    best = np.full((N, C, H_out, W_out), -np.inf, dtype=x.dtype)
    best_index = np.full((N, C, H_out, W_out), -1, dtype=np.int64)
    window_top = np.arange(H_out) * sH - pH  # input row of each window's first element
    window_left = np.arange(W_out) * sW - pW
    for kh, kw, rows, cols in _window_taps(geometry):
        tap_rows = window_top + kh * dH  # input row this offset reads, per output row
        tap_cols = window_left + kw * dW
        inside = ((tap_rows >= 0) & (tap_rows < H))[:, None] & ((tap_cols >= 0) & (tap_cols < W))
        flat_index = tap_rows[:, None] * W + tap_cols
        candidate = padded[:, :, rows, cols]
        # This is PyTorch's scan, offset by offset in row-major window order. A later element
        # replaces the running max only if it is STRICTLY greater, so among equal values the
        # FIRST one keeps the max, and the gradient. That matters: after a ReLU, MNIST feature
        # maps are full of all-zero windows, and torch sends each such window's whole gradient
        # to its first zero; picking any other zero is an equally valid subgradient but a
        # different gradient. The window's first real element starts the scan even when it is
        # -inf (so the index never points into the padding), and a NaN always takes over.
        take = inside & ((candidate > best) | np.isnan(candidate) | (best_index < 0))
        best = np.where(take, candidate, best)
        best_index = np.where(take, flat_index, best_index)

    if x.ndim == 3:
        best, best_index = best[0], best_index[0]
    return (best, best_index) if return_indices else best


def max_pool2d_backward(grad_output, indices, input_shape):
    """Gradient of :func:`max_pool2d` with respect to its input.

    Each output's gradient goes to the input element that was its window's maximum; where
    windows overlap (stride < kernel) one element can be the maximum of several windows, and
    then it receives the sum of their gradients. The recorded indices are all this needs: the
    kernel, stride and padding are already encoded in them.

    Args:
        grad_output: ``(N, C, H_out, W_out)`` (or ``(C, H_out, W_out)``) gradient of the output.
        indices: the flat ``h*W + w`` indices returned by ``max_pool2d(...,
            return_indices=True)``, same shape as ``grad_output``.
        input_shape: the forward input's shape, ``(N, C, H, W)`` or ``(C, H, W)``.

    Returns:
        The input gradient, of shape ``input_shape`` and ``grad_output``'s dtype.
    """
    owner = "max_pool2d_backward"
    indices = np.asarray(indices)
    _check_grad_output(grad_output, indices.shape, owner)
    input_shape = tuple(input_shape)
    if len(input_shape) != indices.ndim or input_shape[:-2] != indices.shape[:-2]:
        raise ValueError(
            f"{owner}: input_shape {input_shape} does not fit indices of shape {indices.shape} "
            "(the leading (N, C) or (C,) dimensions must agree)"
        )
    planes = int(np.prod(input_shape[:-2]))
    grad_planes = np.zeros((planes, input_shape[-2] * input_shape[-1]), dtype=grad_output.dtype)
    positions = indices.shape[-2] * indices.shape[-1]  # spelled out: planes may be 0
    index_in_plane = indices.reshape(planes, positions)
    plane_of_output = np.broadcast_to(np.arange(planes)[:, None], index_in_plane.shape)
    has_input = index_in_plane >= 0  # False only for a window of padding alone
    # np.add.at, not `grad_planes[...] += ...`: a fancy-index += keeps only one of several
    # gradients aimed at the same element, but overlapping windows must add theirs.
    np.add.at(
        grad_planes,
        (plane_of_output[has_input], index_in_plane[has_input]),
        grad_output.reshape(planes, positions)[has_input],
    )
    return grad_planes.reshape(input_shape)


# ---------------------------------------------------------------------- average pooling
def _axis_window_lengths(size: int, kernel: int, stride: int, padding: int, out: int):
    """Per-window lengths along one axis: ``(counting padding, real elements only)``.

    A window starts at ``start = o*stride - padding``. PyTorch's divisor rule: the window is
    first clipped to the padded input, ``end = min(start + kernel, size + padding)``, so the
    left/right padding counts but the ``ceil_mode`` overhang beyond it never does; the real
    length further clips to the input, ``min(end, size) - max(start, 0)``.
    """
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    return end - start, np.minimum(end, size) - np.maximum(start, 0)


def _avg_divisors(input_shape, geometry: PoolGeometry, count_include_pad, divisor_override,
                  dtype) -> np.ndarray:
    """The ``(H_out, W_out)`` number each window's sum is divided by, in ``dtype``."""
    H_out, W_out = geometry.output_size
    if divisor_override is not None:
        return np.full((H_out, W_out), divisor_override, dtype=dtype)
    rows_padded, rows_real = _axis_window_lengths(
        input_shape[-2], geometry.kernel[0], geometry.stride[0], geometry.padding[0], H_out
    )
    cols_padded, cols_real = _axis_window_lengths(
        input_shape[-1], geometry.kernel[1], geometry.stride[1], geometry.padding[1], W_out
    )
    if count_include_pad:
        return np.outer(rows_padded, cols_padded).astype(dtype)
    return np.outer(rows_real, cols_real).astype(dtype)


def check_divisor_override(divisor_override, owner: str) -> None:
    """Raise unless ``divisor_override`` is ``None`` or a non-zero int (PyTorch's rule)."""
    if divisor_override is None:
        return
    if isinstance(divisor_override, bool) or not isinstance(divisor_override, int):
        raise TypeError(
            f"{owner}: divisor_override must be None or an int, got {divisor_override!r}"
        )
    if divisor_override == 0:
        raise ValueError(f"{owner}: divisor_override must not be zero")


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2D average pooling, as ``torch.nn.functional.avg_pool2d``.

    ``out[n, c, oh, ow] = sum over (kh, kw) of x_padded[n, c, oh*sH + kh, ow*sW + kw] / divisor``
    with zero padding. The divisor is ``divisor_override`` if given; else the window's size
    clipped to the padded input (``count_include_pad=True``: padded zeros count, the
    ``ceil_mode`` overhang past the padding does not) or the number of real input elements in
    the window (``count_include_pad=False``).

    Args:
        x: input of shape ``(N, C, H, W)`` or ``(C, H, W)``, float32 or float64.
        kernel_size, stride, padding: an int or a ``(height, width)`` pair;
            ``stride=None`` means ``kernel_size``.
        ceil_mode: round the output size up instead of down (see :func:`pool2d_geometry`).
        count_include_pad: count padded zeros in the divisor.
        divisor_override: if given (a non-zero int), divide every window's sum by it.

    Returns:
        ``(N, C, H_out, W_out)`` (or ``(C, H_out, W_out)``) in the input's dtype, with
        ``H_out = floor_or_ceil((H + 2*padding[0] - kernel_size[0]) / stride[0]) + 1``
        (likewise ``W_out``).
    """
    owner = "avg_pool2d"
    _check_input(x, owner)
    check_divisor_override(divisor_override, owner)
    geometry = pool2d_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, owner=owner)
    padded = _pad_for_windows(_as_batched(x), geometry, fill=0.0)
    window_sums = np.zeros(padded.shape[:2] + geometry.output_size, dtype=x.dtype)
    for _, _, rows, cols in _window_taps(geometry):
        window_sums += padded[:, :, rows, cols]
    output = window_sums / _avg_divisors(x.shape, geometry, count_include_pad, divisor_override,
                                         x.dtype)
    return output if x.ndim == 4 else output[0]


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    Every element of a window received ``1 / divisor`` of the window's sum, so it receives
    ``grad / divisor`` of that window's output gradient; walking the same window slices as
    the forward with ``+=`` (col2im) adds the shares of overlapping windows. Padded positions
    collect shares too, and are then cut away.

    Args:
        grad_output: ``(N, C, H_out, W_out)`` (or ``(C, H_out, W_out)``) gradient of the output.
        input_shape: the forward input's shape, ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: the
            forward's arguments.

    Returns:
        The input gradient, of shape ``input_shape`` and ``grad_output``'s dtype.
    """
    owner = "avg_pool2d_backward"
    input_shape = tuple(input_shape)
    if len(input_shape) not in (3, 4):
        raise ValueError(
            f"{owner}: expected input_shape (C, H, W) or (N, C, H, W), got {input_shape}"
        )
    check_divisor_override(divisor_override, owner)
    geometry = pool2d_geometry(input_shape, kernel_size, stride, padding, 1, ceil_mode,
                               owner=owner)
    _check_grad_output(grad_output, input_shape[:-2] + geometry.output_size, owner)

    share = _as_batched(grad_output) / _avg_divisors(
        input_shape, geometry, count_include_pad, divisor_override, grad_output.dtype
    )
    batch_shape = (1,) * (4 - len(input_shape)) + input_shape
    grad_padded = _pad_for_windows(
        np.zeros(batch_shape, dtype=grad_output.dtype), geometry, fill=0.0
    )
    for _, _, rows, cols in _window_taps(geometry):
        grad_padded[:, :, rows, cols] += share
    (pH, pW), (H, W) = geometry.padding, input_shape[-2:]
    grad_input = grad_padded[:, :, pH:pH + H, pW:pW + W].copy()
    return grad_input if len(input_shape) == 4 else grad_input[0]
