"""ConvTranspose2d: the transposed 2-D convolution layer, shaped like
``torch.nn.ConvTranspose2d``.

The maths lives in :mod:`minicnn.functional.conv_transpose` (NumPy reference only: this layer
has no Numba kernel); this module holds the parameters, checks arguments and inputs, resolves
``output_size`` and keeps what the backward pass needs.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from minicnn.functional._shapes import pair
from minicnn.functional.conv_transpose import (
    check_output_padding,
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose2d_output_shape,
    output_padding_for_size,
)
from minicnn.nn._checks import check_backward_ready, check_input, check_non_empty, layer_name
from minicnn.nn.conv import _positive_int, _positive_pair, conv_extra_repr, init_conv_parameters
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter

__all__ = ["ConvTranspose2d"]

_NAME = "ConvTranspose2d"


def _non_negative_pair(value, name: str) -> tuple[int, int]:
    value = pair(value, name, _NAME)
    if value[0] < 0 or value[1] < 0:
        raise ValueError(f"{_NAME}: {name} should be non-negative, got {value!r}")
    return value


class ConvTranspose2d(Module):
    r"""Applies a 2D transposed convolution over a batch of images: the gradient of a
    :class:`~minicnn.nn.Conv2d` with respect to its input, used as a layer.

    Each input pixel ``x[n, c, i, j]`` stamps its kernels ``weight[c]`` (scaled by the pixel)
    onto the output at ``(i*stride[0], j*stride[1])``; stamps add where they overlap. With
    ``stride > 1`` this upsamples, hence its use in decoders and segmentation networks. (It is
    sometimes called a "deconvolution", but it does not invert a convolution: it applies the
    convolution's transposed matrix.)

    **Its forward is the backward of a convolution, and its backward is a convolution.** The
    forward calls :func:`~minicnn.functional.conv.conv2d_input_grad`, the col2im half of
    :func:`~minicnn.functional.conv.conv2d_backward`, with the input in the place of that
    convolution's output gradient. The backward calls
    :func:`~minicnn.functional.conv.conv2d_forward`: the input gradient is ``conv2d`` of the
    output gradient with the same weight, stride, dilation and groups, and the weight gradient
    is :func:`~minicnn.functional.conv.conv2d_weight_grad` with the roles swapped (see
    :mod:`minicnn.functional.conv_transpose`).

    Args:
        in_channels (int): number of channels of the input image.
        out_channels (int): number of channels produced by the transposed convolution.
        kernel_size (int or tuple): size of the kernel, ``(kH, kW)``.
        stride (int or tuple, optional): spacing of the stamped kernels on the output.
            Default: 1
        padding (int or tuple, optional): ``dilation * (kernel_size - 1) - padding`` zeros
            are, in effect, added to each side of the input; equivalently, ``padding`` rows
            and columns are cropped off each side of the output. It is the padding of the
            :class:`Conv2d` this layer undoes the shape of. No ``'same'``/``'valid'``.
            Default: 0
        output_padding (int or tuple, optional): extra rows/columns at the bottom/right of
            the output, to pick one of the output sizes a strided convolution maps onto the
            same input size; smaller than ``stride`` or ``dilation``. Default: 0
        groups (int, optional): number of blocked connections from input to output channels;
            must divide both channel counts. Default: 1
        bias (bool, optional): if ``True``, adds a learnable bias to the output. Default: True
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1
        padding_mode (str, optional): only ``'zeros'``, as in PyTorch. Default: ``'zeros'``
        dtype (optional): ``np.float32`` (default) or ``np.float64`` for the parameters; the
            input must have the same dtype.

    Shape:
        - Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)``
        - Output: ``(N, C_out, H_out, W_out)`` or ``(C_out, H_out, W_out)``, where

          ``H_out = (H_in - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1)
          + output_padding[0] + 1``

          ``W_out = (W_in - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kernel_size[1] - 1)
          + output_padding[1] + 1``

        ``forward(input, output_size=(H_out, W_out))`` asks for a size instead of the layer's
        ``output_padding``: any size from the formula's with ``output_padding = 0`` up to
        ``stride - 1`` more (``output_size`` may also be the whole output shape).

    Attributes:
        weight (Parameter): learnable weights of shape
            ``(in_channels, out_channels/groups, kernel_size[0], kernel_size[1])`` (a
            :class:`Conv2d` weight seen from the other side), initialised from
            ``U(-sqrt(k), sqrt(k))`` with ``k = groups / (C_out * kernel_size[0] *
            kernel_size[1])`` (``init.kaiming_uniform_`` with ``a=sqrt(5)``; the fan-in is
            read from the weight's axis 1, as PyTorch does).
        bias (Parameter or None): learnable bias of shape ``(out_channels,)``, initialised from
            ``U(-sqrt(k), sqrt(k))`` with the same ``k``; ``None`` when ``bias=False``.

    Memory:
        ``forward`` keeps its input until ``backward``. It builds, and frees, a column matrix
        of ``N * C_out * kH * kW * H_in * W_in`` entries (the kernels stamped by every input
        pixel, before col2im adds them up); ``backward`` builds the im2col matrix of the
        padded output gradient, the same size.

    Example::

        >>> up = ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> up(np.zeros((4, 16, 14, 14), np.float32)).shape
        (4, 8, 28, 28)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        dtype=None,
    ):
        super().__init__()
        in_channels = _positive_int(in_channels, "in_channels", _NAME)
        out_channels = _positive_int(out_channels, "out_channels", _NAME)
        kernel_size = _positive_pair(kernel_size, "kernel_size", _NAME)
        stride = _positive_pair(stride, "stride", _NAME)
        padding = _non_negative_pair(padding, "padding")
        output_padding = _non_negative_pair(output_padding, "output_padding")
        dilation = _positive_pair(dilation, "dilation", _NAME)
        groups = _positive_int(groups, "groups", _NAME)
        if in_channels % groups != 0:
            raise ValueError(f"{_NAME}: in_channels must be divisible by groups, got "
                             f"in_channels={in_channels}, groups={groups}")
        if out_channels % groups != 0:
            raise ValueError(f"{_NAME}: out_channels must be divisible by groups, got "
                             f"out_channels={out_channels}, groups={groups}")
        check_output_padding(_NAME, output_padding, stride, dilation)
        if padding_mode != "zeros":
            raise ValueError(f'{_NAME}: Only "zeros" padding mode is supported for {_NAME}, '
                             f"got padding_mode={padding_mode!r}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"{_NAME}: dtype must be float32 or float64, got {dtype}")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.output_padding = output_padding
        self.dilation = dilation
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = Parameter(
            np.empty((in_channels, out_channels // groups, *kernel_size), dtype=dtype)
        )
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

        # Filled by forward, read and freed by backward.
        self._input = None  # the (N, C_in, H_in, W_in) input: the weight gradient reads it
        self._used_output_padding = None  # the layer's, or the one output_size asked for
        self._unbatched = False  # the input was (C, H, W): add/remove a batch axis
        self._output_shape = None  # shape forward returned, which grad_output must match

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw ``weight`` and ``bias`` from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (PyTorch's),
        ``fan_in = weight.shape[1] * kH * kW = out_channels/groups * kH * kW``: PyTorch reads
        it from the weight's axis 1 for every convolution, so for a transposed one it counts
        output channels (see :func:`~minicnn.nn.conv.init_conv_parameters`)."""
        init_conv_parameters(self.weight, self.bias, generator)

    def extra_repr(self) -> str:
        return conv_extra_repr(self)

    def _output_padding(self, x: np.ndarray, output_size) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        # (torch.Size is a tuple, so a torch user's x.shape[2:] is accepted too.)
        if not isinstance(output_size, (tuple, list)) or not all(
                isinstance(size, Integral) for size in output_size):
            raise TypeError(f"{layer_name(self)}: output_size must be a tuple or list of ints, "
                            f"got {output_size!r}")
        return output_padding_for_size(layer_name(self), x.shape, output_size, self.kernel_size,
                                       self.stride, self.padding, self.dilation)

    def forward(self, x: np.ndarray, output_size=None) -> np.ndarray:
        """``(N, C_in, H_in, W_in) -> (N, C_out, H_out, W_out)``; also accepts ``(C_in, H, W)``.

        ``output_size``: ``(H_out, W_out)`` (or the whole output shape) instead of the layer's
        ``output_padding``; see the class docstring's Shape section.
        """
        check_input(self, x, ndims=(3, 4), channels=self.in_channels,
                    channel_axis=np.ndim(x) - 3, dtype=self.weight.dtype)
        check_non_empty(self, x, batched_ndim=4)
        output_padding = self._output_padding(x, output_size)
        conv_transpose2d_output_shape(layer_name(self), x.shape[-2:], self.kernel_size,
                                      self.stride, self.padding, output_padding, self.dilation)
        self._unbatched = x.ndim == 3
        batch = x[None] if self._unbatched else x
        output = conv_transpose2d(batch, self.weight.data,
                                  None if self.bias is None else self.bias.data, self.stride,
                                  self.padding, output_padding, self.groups, self.dilation)
        self._input, self._used_output_padding = batch, output_padding
        if self._unbatched:
            output = output[0]
        self._output_shape = output.shape
        return output

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Gradient of the input; adds the weight and bias gradients into ``.grad``."""
        check_backward_ready(self, self._input, grad_output, self._output_shape,
                             self.weight.dtype)
        grad_batch = grad_output[None] if self._unbatched else grad_output
        grad_input, grad_weight, grad_bias = conv_transpose2d_backward(
            grad_batch, self._input, self.weight.data, self.stride, self.padding,
            self._used_output_padding, self.groups, self.dilation)
        self.weight.accumulate_grad(grad_weight)  # (which skips a frozen parameter)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        self._input = self._used_output_padding = None
        return grad_input[0] if self._unbatched else grad_input
