"""Pooling layers: ``MaxPool2d`` and ``AvgPool2d``, shaped like their ``torch.nn`` twins.

The maths lives in :mod:`minicnn.functional.pooling`; these layers check their arguments at
construction, check inputs at the top of ``forward``, cache what ``backward`` needs and call it.
Neither has parameters, so both accept float32 or float64 and keep the input's dtype.
"""

from __future__ import annotations

from minicnn.functional.pooling import (
    PoolGeometry,
    check_divisor_override,
    check_pool2d_arguments,
    pool2d_geometry,
)
from minicnn.kernels import backend
from minicnn.nn._checks import check_backward_ready, check_input, check_non_empty, layer_name
from minicnn.nn.module import Module

__all__ = ["AvgPool2d", "MaxPool2d"]


def _check_windows_reach_the_input(owner: str, input_shape, geometry: PoolGeometry) -> None:
    """Refuse a dilated window that holds only padding: its maximum would be ``-inf``.

    PyTorch returns ``-inf`` for such a window, and its backward then writes out of bounds;
    the window starting at ``o*stride - padding`` covers ``start + dilation*m`` for
    ``m < kernel``, and at least one of those must lie in ``[0, size)``.
    """
    for axis, size, out, k, s, p, d in zip(("height", "width"), input_shape[-2:],
                                           geometry.output_size, geometry.kernel,
                                           geometry.stride, geometry.padding, geometry.dilation):
        for o in range(out):
            start = o * s - p
            if not any(0 <= start + d * m < size for m in range(k)):
                raise ValueError(
                    f"{owner}: output position {o} along the {axis} sees only padding (input "
                    f"size {size}, padding {p}, dilation {d}), so its maximum would be -inf; "
                    f"use less padding or dilation, or a larger input (input shape "
                    f"{tuple(input_shape)})"
                )


class MaxPool2d(Module):
    r"""2D max pooling over an input of several planes.

    ``out[n, c, h, w] = max over (m, k) of input[n, c, stride[0]*h + dilation[0]*m - padding[0],
    stride[1]*w + dilation[1]*k - padding[1]]`` for ``0 <= m < kernel_size[0]``,
    ``0 <= k < kernel_size[1]``; the implicit padding is ``-inf``. When a window holds several
    equal maxima, the first in row-major window order is the one that receives the gradient,
    as in PyTorch.

    Args:
        kernel_size: the window size, an int or a ``(height, width)`` pair.
        stride: the step between windows; default ``kernel_size``.
        padding: implicit ``-inf`` padding on both sides; at most half the kernel size.
        dilation: the spacing between the elements of a window.
        return_indices: if ``True``, ``forward`` returns ``(output, indices)``, the indices
            being each maximum's flat position ``h*W_in + w`` in its input plane (as
            ``torch.nn.MaxUnpool2d`` expects).
        ceil_mode: round the output size up instead of down; a window may then overhang the
            input's end, but one that would start inside the right padding is dropped.

    Shape:
        - Input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``.
        - Output: ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``, where

          ``H_out = floor((H_in + 2*padding[0] - dilation[0]*(kernel_size[0] - 1) - 1)
          / stride[0]) + 1``

          ``W_out = floor((W_in + 2*padding[1] - dilation[1]*(kernel_size[1] - 1) - 1)
          / stride[1]) + 1``

          (``ceil`` instead of ``floor`` with ``ceil_mode``).

    The arguments are stored as given (``kernel_size=2`` stays the int ``2``), as PyTorch does.
    ``backward(grad_output)`` takes the output's gradient only, also with ``return_indices``.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        check_pool2d_arguments(self.kernel_size, self.stride, self.padding, self.dilation,
                               owner=layer_name(self))
        # Filled by forward, freed by backward: the argmax of every window is all the
        # backward needs (besides the input's shape).
        self._input_shape = None
        self._output_shape = None
        self._output_dtype = None
        self._indices = None

    def forward(self, x):
        check_input(self, x, ndims=(3, 4))
        check_non_empty(self, x, batched_ndim=4)
        # Checked here too so that a too-small input is reported under the layer's name.
        geometry = pool2d_geometry(x.shape, self.kernel_size, self.stride, self.padding,
                                   self.dilation, self.ceil_mode, owner=layer_name(self))
        if geometry.dilation != (1, 1):  # undilated, padding <= kernel/2 keeps windows on it
            _check_windows_reach_the_input(layer_name(self), x.shape, geometry)
        output, indices = backend("pooling").max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
            return_indices=True)
        self._input_shape = x.shape
        self._output_shape = output.shape
        self._output_dtype = output.dtype
        self._indices = indices
        return (output, indices) if self.return_indices else output

    def backward(self, grad_output):
        check_backward_ready(self, self._indices, grad_output, self._output_shape,
                             self._output_dtype)
        # The indices are the same in both implementations: either backward reads them.
        grad_input = backend("pooling").max_pool2d_backward(grad_output, self._indices,
                                                            self._input_shape)
        self._input_shape = self._output_shape = self._indices = None
        return grad_input

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    r"""2D average pooling over an input of several planes.

    ``out[n, c, h, w] = sum over (m, k) of input[n, c, stride[0]*h + m - padding[0],
    stride[1]*w + k - padding[1]] / divisor`` for ``0 <= m < kernel_size[0]``,
    ``0 <= k < kernel_size[1]``, with zero padding. The divisor is ``divisor_override`` if
    given; else, with ``count_include_pad``, the window's size clipped to the padded input
    (padded zeros count, a ``ceil_mode`` overhang past the padding does not); without it, the
    number of real input elements in the window.

    Args:
        kernel_size: the window size, an int or a ``(height, width)`` pair.
        stride: the step between windows; default ``kernel_size``.
        padding: implicit zero padding on both sides; at most half the kernel size.
        ceil_mode: round the output size up instead of down; a window may then overhang the
            input's end, but one that would start inside the right padding is dropped.
        count_include_pad: count the padded zeros in the divisor.
        divisor_override: if given (a non-zero int), divide every window's sum by it.

    Shape:
        - Input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``.
        - Output: ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``, where

          ``H_out = floor((H_in + 2*padding[0] - kernel_size[0]) / stride[0]) + 1``

          ``W_out = floor((W_in + 2*padding[1] - kernel_size[1]) / stride[1]) + 1``

          (``ceil`` instead of ``floor`` with ``ceil_mode``).

    The arguments are stored as given (``kernel_size=2`` stays the int ``2``), as PyTorch does.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        check_pool2d_arguments(self.kernel_size, self.stride, self.padding,
                               owner=layer_name(self))
        check_divisor_override(self.divisor_override, owner=layer_name(self))
        # Filled by forward, freed by backward: average pooling's gradient depends on the
        # input's shape only, not on its values.
        self._input_shape = None
        self._output_shape = None
        self._output_dtype = None

    def forward(self, x):
        check_input(self, x, ndims=(3, 4))
        check_non_empty(self, x, batched_ndim=4)
        # Checked here too so that a too-small input is reported under the layer's name.
        pool2d_geometry(x.shape, self.kernel_size, self.stride, self.padding, 1,
                        self.ceil_mode, owner=layer_name(self))
        output = backend("pooling").avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                                               self.ceil_mode, self.count_include_pad,
                                               self.divisor_override)
        self._input_shape = x.shape
        self._output_shape = output.shape
        self._output_dtype = output.dtype
        return output

    def backward(self, grad_output):
        check_backward_ready(self, self._input_shape, grad_output, self._output_shape,
                             self._output_dtype)
        grad_input = backend("pooling").avg_pool2d_backward(
            grad_output, self._input_shape, self.kernel_size, self.stride, self.padding,
            self.ceil_mode, self.count_include_pad, self.divisor_override,
        )
        self._input_shape = self._output_shape = None
        return grad_input

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
