"""2-D transposed convolution: the backward of a convolution, run forward.

A convolution ``y = conv2d(z, W)`` is linear in ``z``; its input gradient
``conv2d_backward`` maps a ``dy`` shaped like ``y`` to a ``dz`` shaped like ``z``, by the
transposed matrix. A transposed convolution *is* that map, used as a layer: its input ``x``
plays ``dy`` and its output plays ``dz``. So

* :func:`conv_transpose2d` (forward) is :func:`~minicnn.functional.conv.conv2d_input_grad`,
  the col2im half of ``conv2d_backward``: each input pixel stamps its weighted kernel onto
  the output, and overlapping stamps add (``W^T @ x``, then col2im);
* :func:`conv_transpose2d_backward` is a convolution: reading the output gradient back
  through the same windows gives the input gradient (``conv2d`` of ``grad_output`` with the
  same weight), and the weight gradient is the convolution's weight gradient with the roles
  swapped (``x`` in the place of ``dy``, ``grad_output`` in the place of the conv's input).

The weight has the convolution's layout seen from the other side, ``(C_in, C_out/groups,
kH, kW)``: ``C_in`` of the transposed convolution is ``C_out`` of the convolution it undoes.

Sizes (one formula, :func:`minicnn.functional._shapes.conv_transpose_output_size`)::

    H_out = (H_in - 1)*stride[0] - 2*padding[0] + dilation[0]*(kH - 1) + output_padding[0] + 1
    W_out = (W_in - 1)*stride[1] - 2*padding[1] + dilation[1]*(kW - 1) + output_padding[1] + 1

``padding`` crops the output (it is the padding of the convolution being undone);
``output_padding`` adds rows and columns at the bottom and right that no window reaches
(they get only the bias), to pick among the output sizes a strided convolution maps onto the
same input size.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minicnn.functional._shapes import conv_transpose_output_size, pair
from minicnn.functional.conv import (
    _check_float_operands,
    _positive_pair,
    conv2d_forward,
    conv2d_input_grad,
    conv2d_weight_grad,
    pad2d,
    pad2d_backward,
)

__all__ = [
    "check_output_padding",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose2d_direct",
    "conv_transpose2d_output_shape",
    "output_padding_for_size",
]


# ---------------------------------------------------------------------------- arguments
def _non_negative_pair(value, name: str, owner: str) -> tuple[int, int]:
    value = pair(value, name, owner)
    if value[0] < 0 or value[1] < 0:
        raise ValueError(f"{owner}: negative {name} is not supported, got {name}={value!r}")
    return value


def check_output_padding(owner: str, output_padding, stride, dilation) -> None:
    """Raise ``ValueError`` (PyTorch's sentence) unless ``output_padding < max(stride,
    dilation)`` along each axis: more would only add rows that no input reaches."""
    if any(pad >= max(s, d) for pad, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{owner}: output padding must be smaller than either stride or dilation, but got "
            f"output_padding={tuple(output_padding)}, stride={tuple(stride)}, "
            f"dilation={tuple(dilation)}"
        )


def _check_operands(owner: str, x, weight, bias, groups) -> None:
    _check_float_operands(owner, x, weight=weight, bias=bias)
    if x.ndim != 4:
        raise ValueError(f"{owner}: expected a 4D input (N, C_in, H, W), got shape {x.shape}")
    if weight.ndim != 4 or 0 in weight.shape:
        raise ValueError(f"{owner}: expected a 4D weight (C_in, C_out/groups, kH, kW) with no "
                         f"zero size, got shape {weight.shape}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
        raise ValueError(f"{owner}: groups must be a positive integer, got {groups!r}")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{owner}: Given transposed=1, weight of size {weight.shape}, expected input of "
            f"shape {x.shape} to have {weight.shape[0]} channels, but got {x.shape[1]} "
            "channels instead"
        )
    if weight.shape[0] % groups != 0:
        raise ValueError(f"{owner}: in_channels ({weight.shape[0]}, weight.shape[0]) must be "
                         f"divisible by groups ({groups})")
    out_channels = weight.shape[1] * groups
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{owner}: expected bias of shape ({out_channels},) for weight of "
                         f"shape {weight.shape} and groups={groups}, got {bias.shape}")


class _Geometry(NamedTuple):
    """A transposed convolution's arguments, checked and as ``(height, width)`` pairs, and its
    output size."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    out_h: int
    out_w: int

    @property
    def sides(self) -> tuple[int, int, int, int]:
        """The padding as ``(top, bottom, left, right)``, for :func:`pad2d`."""
        return (self.padding[0], self.padding[0], self.padding[1], self.padding[1])


def _geometry(owner: str, x, weight, bias, stride, padding, output_padding, groups,
              dilation) -> _Geometry:
    """Check every argument of a transposed convolution; resolve them and its output size."""
    _check_operands(owner, x, weight, bias, groups)
    stride = _positive_pair(stride, "stride", owner)
    dilation = _positive_pair(dilation, "dilation", owner)
    padding = _non_negative_pair(padding, "padding", owner)
    output_padding = _non_negative_pair(output_padding, "output_padding", owner)
    check_output_padding(owner, output_padding, stride, dilation)
    out_h, out_w = conv_transpose2d_output_shape(owner, x.shape[2:], weight.shape[2:], stride,
                                                 padding, output_padding, dilation)
    return _Geometry(stride, padding, output_padding, dilation, out_h, out_w)


def conv_transpose2d_output_shape(owner: str, input_size, kernel_size, stride, padding,
                                  output_padding, dilation) -> tuple[int, int]:
    """``(H_out, W_out)`` for an ``(H_in, W_in)`` input (the module docstring's formula).

    Raises ``ValueError`` with PyTorch's sentence when a size is not positive (the padding
    crops away more than the output has).
    """
    out = tuple(conv_transpose_output_size(*axis) for axis in zip(
        input_size, kernel_size, stride, padding, dilation, output_padding))
    if out[0] <= 0 or out[1] <= 0:
        raise ValueError(
            f"{owner}: Given input size per channel: ({input_size[0]} x {input_size[1]}). "
            f"Calculated output size per channel: ({out[0]} x {out[1]}). Output size is too "
            "small"
        )
    return out


def output_padding_for_size(owner: str, input_shape, output_size, kernel_size, stride, padding,
                            dilation) -> tuple[int, int]:
    """The ``output_padding`` that gives ``output_size``: ``torch.nn.ConvTranspose2d``'s rule.

    Args:
        owner: the layer or function named in errors.
        input_shape: the input's shape, ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)``.
        output_size: ``(H_out, W_out)``, or the whole output shape (4 entries for a batched
            input, 3 for an unbatched one; only the last two are read).
        kernel_size, stride, padding, dilation: ``(height, width)`` pairs.

    Each size may be the smallest output (``output_padding`` 0) up to ``stride - 1`` more, the
    sizes a convolution with the same arguments maps back onto the input's size.
    """
    non_spatial = len(input_shape) - 2
    sizes = [int(size) for size in output_size]
    if len(sizes) == non_spatial + 2:
        sizes = sizes[non_spatial:]
    if len(sizes) != 2:
        raise ValueError(
            f"{owner}: for {len(input_shape)}D input, output_size must have 2 or "
            f"{non_spatial + 2} elements (got {len(sizes)})"
        )
    input_size = tuple(input_shape[-2:])
    smallest = [conv_transpose_output_size(*axis, 0) for axis in zip(
        input_size, kernel_size, stride, padding, dilation)]
    largest = [size + s - 1 for size, s in zip(smallest, stride)]
    if any(not low <= size <= high for size, low, high in zip(sizes, smallest, largest)):
        raise ValueError(
            f"{owner}: requested an output size of {list(output_size)}, but valid sizes range "
            f"from {smallest} to {largest} (for an input of {input_size})"
        )
    return (sizes[0] - smallest[0], sizes[1] - smallest[1])


# ---------------------------------------------------------------------------- forward
def conv_transpose2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
    stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1,
) -> np.ndarray:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (same argument
    order: ``groups`` before ``dilation``).

    It is the input gradient of ``conv2d(z, weight, stride=stride, padding=padding,
    dilation=dilation, groups=groups)``, with ``x`` in the place of that convolution's output
    gradient: ``W^T @ x`` unrolls every input pixel into its weighted kernel, col2im adds the
    kernels onto the zero-padded output where they overlap, and the padding is cropped off.

    Args:
        x: ``(N, C_in, H_in, W_in)`` or unbatched ``(C_in, H_in, W_in)``.
        weight: ``(C_in, C_out/groups, kH, kW)``, same dtype as ``x``.
        bias: ``(C_out,)`` or ``None``.
        stride: int or ``(sH, sW)``, positive: the spacing of the stamped kernels.
        padding: int or ``(pH, pW)``, non-negative: cropped off each side of the output.
        output_padding: int or ``(oH, oW)``, each smaller than the stride or the dilation:
            rows/columns added at the bottom/right.
        groups: split the channels into this many independent transposed convolutions; must
            divide ``C_in`` (and the output has ``C_out = weight.shape[1] * groups``).
        dilation: int or ``(dH, dW)``, the spacing between kernel taps.

    Returns:
        ``(N, C_out, H_out, W_out)`` (or ``(C_out, H_out, W_out)``) in ``x``'s dtype, with
        ``H_out = (H_in - 1)*sH - 2*pH + dH*(kH - 1) + oH + 1``, likewise ``W_out``.
    """
    if isinstance(x, np.ndarray) and x.ndim == 3:
        return conv_transpose2d(x[None], weight, bias, stride, padding, output_padding, groups,
                                dilation)[0]
    shape = _geometry("conv_transpose2d", x, weight, bias, stride, padding, output_padding,
                      groups, dilation)
    out_channels = weight.shape[1] * groups
    padded_shape = (x.shape[0], out_channels, shape.out_h + 2 * shape.padding[0],
                    shape.out_w + 2 * shape.padding[1])
    # The backward of a convolution: x is the gradient of that convolution's output.
    grad_padded = conv2d_input_grad(x, weight, padded_shape, shape.stride, shape.dilation, groups)
    output = pad2d_backward(grad_padded, shape.sides, "zeros")
    if bias is not None:
        output += bias.reshape(1, out_channels, 1, 1)
    return output


def conv_transpose2d_direct(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
    stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1,
) -> np.ndarray:
    """:func:`conv_transpose2d` straight from the definition, one input pixel at a time.

    The readable check on the col2im path (slow: a Python loop over every input pixel). Each
    pixel ``x[n, c, i, j]`` stamps ``x[n, c, i, j] * weight[c]`` (the ``C_out/groups``
    kernels of its group) onto the padded output at ``(i*sH, j*sW)``, taps ``dilation``
    apart; stamps add where they overlap; then the padding is cropped off.
    """
    shape = _geometry("conv_transpose2d_direct", x, weight, bias, stride, padding,
                      output_padding, groups, dilation)
    stride, padding, dilation, out_h, out_w = (shape.stride, shape.padding, shape.dilation,
                                               shape.out_h, shape.out_w)
    group_in_channels = weight.shape[0] // groups
    group_out_channels, kernel_h, kernel_w = weight.shape[1:]
    n, in_channels, in_h, in_w = x.shape
    padded = np.zeros((n, group_out_channels * groups, out_h + 2 * padding[0],
                       out_w + 2 * padding[1]), x.dtype)
    for sample in range(n):
        for c in range(in_channels):
            first = (c // group_in_channels) * group_out_channels
            for i in range(in_h):
                for j in range(in_w):
                    top, left = i * stride[0], j * stride[1]
                    padded[sample, first:first + group_out_channels,
                           top:top + dilation[0] * (kernel_h - 1) + 1:dilation[0],
                           left:left + dilation[1] * (kernel_w - 1) + 1:dilation[1]] += (
                        x[sample, c, i, j] * weight[c])
    output = padded[:, :, padding[0]:padding[0] + out_h, padding[1]:padding[1] + out_w].copy()
    if bias is not None:
        output += bias.reshape(1, -1, 1, 1)
    return output


# ---------------------------------------------------------------------------- backward
def conv_transpose2d_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
    stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv_transpose2d` with respect to its input, weight and bias.

    Args:
        grad_output: ``(N, C_out, H_out, W_out)``, the gradient of the output.
        x: the forward's ``(N, C_in, H_in, W_in)`` input.
        weight, stride, padding, output_padding, groups, dilation: as given to the forward.

    Returns:
        ``(grad_input, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and
        ``(C_out,)``, in ``x``'s dtype.

    The forward was the input gradient of a convolution, so its backward is that convolution
    (the adjoint of an adjoint is the map itself). ``grad_output`` is zero-padded as the
    convolution's input was; the ``output_padding`` rows at the end, which no window
    reached, are cut off. Then:

    * ``grad_input = conv2d(grad_output_padded, weight)`` with the same stride, dilation and
      groups: each input pixel's gradient is the dot product of its kernels with the window
      of ``grad_output`` it stamped onto;
    * ``grad_weight`` is that convolution's weight gradient with the roles swapped: ``x``
      plays the output gradient ``dy`` and ``grad_output`` the convolution's input
      (``sum_n x @ cols^T``, with ``cols`` the im2col matrix of ``grad_output_padded``);
    * ``grad_bias = sum(grad_output)`` over the batch and spatial axes.
    """
    owner = "conv_transpose2d_backward"
    shape = _geometry(owner, x, weight, None, stride, padding, output_padding, groups, dilation)
    expected = (x.shape[0], weight.shape[1] * groups, shape.out_h, shape.out_w)
    if not isinstance(grad_output, np.ndarray) or grad_output.shape != expected:
        got = grad_output.shape if isinstance(grad_output, np.ndarray) else type(grad_output)
        raise ValueError(f"{owner}: expected grad_output of shape {expected}, got {got}")
    if grad_output.dtype != x.dtype:
        raise TypeError(f"{owner}: grad_output dtype {grad_output.dtype} does not match the "
                        f"input dtype {x.dtype}")
    padded = pad2d(grad_output, shape.sides, "zeros")
    reached = padded[:, :, :padded.shape[2] - shape.output_padding[0],
                     :padded.shape[3] - shape.output_padding[1]]
    # The convolution the forward was the backward of: its output has x's shape.
    grad_input, cols = conv2d_forward(reached, weight, None, shape.stride, 0, shape.dilation,
                                      groups)
    grad_weight = conv2d_weight_grad(x, cols, groups)
    grad_bias = grad_output.sum(axis=(0, 2, 3))
    return grad_input, grad_weight, grad_bias
