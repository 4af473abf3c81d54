"""Conv2d: the 2-D convolution layer, shaped like ``torch.nn.Conv2d``.

The maths lives in :mod:`minicnn.functional.conv`; this module holds the parameters, checks
arguments and inputs, and keeps what the backward pass needs.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from minicnn.functional import conv as reference_conv
from minicnn.functional._shapes import conv_output_size, pair
from minicnn.functional.conv import (
    PADDING_MODES,
    check_kernel_fits,
    check_padding_fits,
    conv2d_padding_sides,
    pad2d,
    pad2d_backward,
)
from minicnn.kernels import backend
from minicnn.nn import init
from minicnn.nn._checks import check_backward_ready, check_input, layer_name
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter

__all__ = ["Conv2d"]

_NAME = "Conv2d"


def _positive_int(value, name: str, owner: str = _NAME) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_pair(value, name: str, owner: str = _NAME) -> tuple[int, int]:
    value = pair(value, name, owner)
    if value[0] <= 0 or value[1] <= 0:
        raise ValueError(f"{owner}: {name} should be greater than zero, got {value!r}")
    return value


def init_conv_parameters(weight: Parameter, bias: Parameter | None,
                         generator: np.random.Generator | None = None) -> None:
    """PyTorch's initialisation of any convolution: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    ``fan_in = weight.shape[1] * kH * kW``, read from the weight's axis 1 whatever the layer
    (``C_in/groups`` for Conv2d, ``C_out/groups`` for ConvTranspose2d, as in PyTorch).
    ``kaiming_uniform_`` with ``a=sqrt(5)`` has gain ``sqrt(2/(1 + 5)) = sqrt(1/3)``, so its
    bound ``gain * sqrt(3/fan_in)`` is ``1/sqrt(fan_in)``; the bias uses the same bound.
    """
    init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound, generator=generator)


def conv_extra_repr(module) -> str:
    """The inside of a convolution's repr, as PyTorch's ``_ConvNd.extra_repr``: the channels,
    kernel size and stride, then each other argument that differs from its default."""
    text = (f"{module.in_channels}, {module.out_channels}, kernel_size={module.kernel_size}, "
            f"stride={module.stride}")
    if isinstance(module.padding, str) or module.padding != (0, 0):
        text += f", padding={module.padding}"
    if module.dilation != (1, 1):
        text += f", dilation={module.dilation}"
    if getattr(module, "output_padding", (0, 0)) != (0, 0):
        text += f", output_padding={module.output_padding}"
    if module.groups != 1:
        text += f", groups={module.groups}"
    if module.bias is None:
        text += ", bias=False"
    if module.padding_mode != "zeros":
        text += f", padding_mode={module.padding_mode}"
    return text


class Conv2d(Module):
    r"""Applies a 2D convolution (a cross-correlation) over a batch of images.

    ``out[n, o] = bias[o] + sum_{c} weight[o, c] (star) input[n, g*C_in/groups + c]``, where
    ``g = o // (C_out/groups)`` is the group of output channel ``o`` and ``(star)`` is a valid
    2-D cross-correlation over the padded input.

    Args:
        in_channels (int): number of channels of the input image.
        out_channels (int): number of channels produced by the convolution.
        kernel_size (int or tuple): size of the convolving kernel, ``(kH, kW)``.
        stride (int or tuple, optional): stride of the convolution. Default: 1
        padding (int, tuple or str, optional): padding added to all four sides of the input,
            ``(pH, pW)``, or ``'valid'`` (none) or ``'same'`` (output as large as the input;
            stride 1 only; an odd total puts the extra row/column at the bottom/right).
            Default: 0
        dilation (int or tuple, optional): spacing between kernel elements. Default: 1
        groups (int, optional): number of blocked connections from input to output channels;
            must divide both channel counts. ``groups == in_channels`` is depthwise. Default: 1
        bias (bool, optional): if ``True``, adds a learnable bias to the output. Default: True
        padding_mode (str, optional): ``'zeros'``, ``'reflect'``, ``'replicate'`` or
            ``'circular'``. Default: ``'zeros'``
        dtype (optional): ``np.float32`` (default) or ``np.float64`` for the parameters; the
            input must have the same dtype.

    Shape:
        - Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)``
        - Output: ``(N, C_out, H_out, W_out)`` or ``(C_out, H_out, W_out)``, where

          ``H_out = floor((H_in + pad_top + pad_bottom - dilation[0] * (kernel_size[0] - 1) - 1)
          / stride[0] + 1)``

          ``W_out = floor((W_in + pad_left + pad_right - dilation[1] * (kernel_size[1] - 1) - 1)
          / stride[1] + 1)``

          with ``pad_top = pad_bottom = padding[0]`` and ``pad_left = pad_right = padding[1]``
          for int/tuple padding.

    Attributes:
        weight (Parameter): learnable weights of shape
            ``(out_channels, in_channels/groups, kernel_size[0], kernel_size[1])``, initialised
            from ``U(-sqrt(k), sqrt(k))`` with ``k = groups / (C_in * kernel_size[0] *
            kernel_size[1])`` (``init.kaiming_uniform_`` with ``a=sqrt(5)``).
        bias (Parameter or None): learnable bias of shape ``(out_channels,)``, initialised from
            ``U(-sqrt(k), sqrt(k))`` with the same ``k``; ``None`` when ``bias=False``.

    Memory:
        ``forward`` builds the im2col matrix ``cols`` of the padded input and keeps it until
        ``backward``: ``N * C_in * kH * kW * H_out * W_out * itemsize`` bytes (about
        ``kH*kW/(sH*sW)`` times the input; for LeNet's first layer, 1x28x28 input padded by 2,
        5x5 kernel, that is 25x the input). With a non-zero ``padding_mode`` the padded input,
        ``N * C_in * H_p * W_p * itemsize`` bytes, is kept as well. ``backward`` allocates the
        gradient of ``cols`` (the same size again) and the padded input gradient, so its peak
        is about ``2 * N * C_in * kH * kW * H_out * W_out * itemsize`` bytes; both buffers are
        released when it returns. That is the NumPy reference
        (:func:`minicnn.use_kernels(False) <minicnn.use_kernels>`).

        With the fast kernels (the default) the batch is cut into chunks whose column
        matrix (``C_in*kH*kW`` rows, ``H_out*W_p`` columns per sample for stride 1, where
        ``W_p`` is the padded width, else ``H_out*W_out``) fits in
        ``minicnn.kernels.conv.COLUMN_BUDGET_BYTES`` (128 KiB, within a core's cache; a larger
        sample makes a chunk of its own), and no columns are kept: the backward rebuilds
        each chunk's. The layer's peak is then one chunk's columns and product per thread,
        plus the output, its gradient and the input gradient (each the size of an ordinary
        array of its shape).

    Input gradient:
        Set ``needs_input_grad = False`` on a network's first layer (its input is data, which
        needs no gradient): ``backward`` then skips the col2im half of its work and returns
        ``None``, as PyTorch skips gradients of inputs that do not require them. Default
        ``True``. (The NumPy reference computes that gradient anyway, then drops it.)

    Example::

        >>> conv = Conv2d(1, 6, kernel_size=5, padding=2)
        >>> conv(np.zeros((8, 1, 28, 28), np.float32)).shape
        (8, 6, 28, 28)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype=None,
    ):
        super().__init__()
        in_channels = _positive_int(in_channels, "in_channels")
        out_channels = _positive_int(out_channels, "out_channels")
        kernel_size = _positive_pair(kernel_size, "kernel_size")
        stride = _positive_pair(stride, "stride")
        dilation = _positive_pair(dilation, "dilation")
        groups = _positive_int(groups, "groups")
        if in_channels % groups != 0:
            raise ValueError(
                f"{_NAME}: in_channels must be divisible by groups, got in_channels="
                f"{in_channels}, groups={groups}"
            )
        if out_channels % groups != 0:
            raise ValueError(
                f"{_NAME}: out_channels must be divisible by groups, got out_channels="
                f"{out_channels}, groups={groups}"
            )
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"{_NAME}: padding_mode must be one of {PADDING_MODES}, but got "
                f"padding_mode={padding_mode!r}"
            )
        # Resolved once: (top, bottom, left, right), asymmetric only for 'same' with an odd total.
        self._padding_sides = conv2d_padding_sides(padding, kernel_size, dilation, stride, _NAME)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"{_NAME}: dtype must be float32 or float64, got {dtype}")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", _NAME)
        self.dilation = dilation
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = Parameter(
            np.empty((out_channels, in_channels // groups, *kernel_size), dtype=dtype)
        )
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

        self.needs_input_grad = True  # see "Input gradient" in the class docstring

        # Filled by forward, read and freed by backward.
        self._ops = None  # the implementation the forward used: the backward must match it
        self._conv_input = None  # input of the matrix-product conv: padded unless 'zeros'
        self._cols = None  # the implementation's column matrix (None if it chunked the batch)
        self._unbatched = False  # the input was (C, H, W): add/remove a batch axis
        self._output_shape = None  # shape forward returned, which grad_output must match

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw ``weight`` and ``bias`` from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (PyTorch's),
        ``fan_in = in_channels/groups * kH * kW`` (see :func:`init_conv_parameters`)."""
        init_conv_parameters(self.weight, self.bias, generator)

    def extra_repr(self) -> str:
        return conv_extra_repr(self)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``; also accepts ``(C_in, H, W)``."""
        check_input(self, x, ndims=(3, 4), channels=self.in_channels,
                    channel_axis=np.ndim(x) - 3, dtype=self.weight.dtype)
        name = layer_name(self)
        self._unbatched = x.ndim == 3
        batch = x[None] if self._unbatched else x
        top, bottom, left, right = self._padding_sides
        height, width = batch.shape[2:]
        if self.padding_mode == "zeros":
            conv_input, conv_padding = batch, self.padding
        else:
            check_padding_fits(name, (height, width), self._padding_sides, self.padding_mode)
            conv_input = pad2d(batch, self._padding_sides, self.padding_mode)
            conv_padding = 0
        check_kernel_fits(name, (height + top + bottom, width + left + right),
                          self.kernel_size, self.dilation)
        bias = None if self.bias is None else self.bias.data
        self._ops = backend("conv")
        output, self._cols = self._ops.conv2d_forward(conv_input, self.weight.data, bias,
                                                      self.stride, conv_padding, self.dilation,
                                                      self.groups)
        self._conv_input = conv_input
        if self._unbatched:
            output = output[0]
        self._output_shape = output.shape
        return output

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Gradient of the input; adds the weight and bias gradients into ``.grad``."""
        check_backward_ready(self, self._conv_input, grad_output, self._output_shape,
                             self.weight.dtype)
        grad_batch = grad_output[None] if self._unbatched else grad_output
        conv_padding = self.padding if self.padding_mode == "zeros" else 0
        arguments = (grad_batch, self._conv_input, self.weight.data, self.stride, conv_padding,
                     self.dilation, self.groups)
        if self._ops is reference_conv:
            grad_conv_input, grad_weight, grad_bias = self._ops.conv2d_backward(
                *arguments, cols=self._cols)
        else:  # the kernels can skip the input gradient's work
            grad_conv_input, grad_weight, grad_bias = self._ops.conv2d_backward(
                *arguments, cols=self._cols, input_grad=self.needs_input_grad)
        if not self.needs_input_grad:
            grad_input = None
        elif self.padding_mode == "zeros":
            grad_input = grad_conv_input
        else:
            grad_input = pad2d_backward(grad_conv_input, self._padding_sides, self.padding_mode)
        if self.weight.requires_grad:
            self.weight.accumulate_grad(grad_weight)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.accumulate_grad(grad_bias)
        self._ops = self._conv_input = self._cols = None
        if grad_input is None or not self._unbatched:
            return grad_input
        return grad_input[0]

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """``(H_out, W_out)`` for an ``(H, W)`` input (the Shape formula above)."""
        top, bottom, left, right = self._padding_sides
        return (
            conv_output_size(height + top + bottom, self.kernel_size[0], self.stride[0], 0,
                             self.dilation[0]),
            conv_output_size(width + left + right, self.kernel_size[1], self.stride[1], 0,
                             self.dilation[1]),
        )
