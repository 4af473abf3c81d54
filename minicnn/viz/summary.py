"""``minicnn.summary(model, input_shape)``: a torchsummary-like table of a network.

One forward pass of zeros with a forward hook on every leaf layer records what each layer
outputs; the rest is arithmetic on the shapes:

* **parameters**: the layer's own parameter count;
* **mult-adds**: multiply-accumulate operations of the layer's matrix product, the work that
  dominates a CNN. A convolution computes, for each of ``N * C_out * H_out * W_out`` outputs, a
  dot product of length ``C_in/groups * kH * kW``; a transposed convolution, for each of
  ``N * C_in * H_in * W_in`` input pixels, stamps ``C_out/groups`` kernels of ``kH * kW``
  (the same count as the convolution it is the backward of); a linear layer, for each of
  ``rows * out`` outputs, one of length ``in``. Activations, normalisation, pooling and
  reshapes are counted as 0 (they are memory-bound, not arithmetic);
* **im2col bytes**: the column matrix a convolution builds to turn itself into one matrix
  product, ``N * C_in * kH * kW * H_out * W_out * itemsize`` (about ``kH*kW/(sH*sW)`` times
  the input). The NumPy reference keeps all of it until the backward; the Numba kernels build
  it in chunks of at most 64 MiB (see :class:`~minicnn.nn.conv.Conv2d`, "Memory"). A
  transposed convolution builds ``N * C_out * kH * kW * H_in * W_in`` entries (the stamped
  kernels before col2im adds them; the backward's im2col is as large) and keeps none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minicnn.nn.conv import Conv2d
from minicnn.nn.conv_transpose import ConvTranspose2d
from minicnn.nn.linear import Linear
from minicnn.nn.module import Module

__all__ = ["LayerSummary", "ModelSummary", "summary"]


@dataclass
class LayerSummary:
    """One row of the table."""

    name: str  # as in named_modules(), e.g. "features.0"
    kind: str  # class name
    output_shape: tuple[int, ...]
    parameters: int
    mult_adds: int
    im2col_bytes: int


@dataclass
class ModelSummary:
    """The rows, the totals, and the table as ``str(summary)``."""

    layers: list[LayerSummary]
    input_shape: tuple[int, ...]
    dtype: np.dtype
    total_parameters: int
    trainable_parameters: int

    @property
    def total_mult_adds(self) -> int:
        return sum(layer.mult_adds for layer in self.layers)

    @property
    def largest_im2col_bytes(self) -> int:
        """The biggest column matrix: the conv buffers live one at a time in the forward."""
        return max((layer.im2col_bytes for layer in self.layers), default=0)

    @property
    def activation_bytes(self) -> int:
        """Bytes of every layer's output together (what a training forward keeps, roughly)."""
        itemsize = np.dtype(self.dtype).itemsize
        return sum(int(np.prod(layer.output_shape)) * itemsize for layer in self.layers)

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #", "Mult-adds", "im2col bytes")
        rows = [(f"{layer.name} ({layer.kind})", str(list(layer.output_shape)),
                 f"{layer.parameters:,}", f"{layer.mult_adds:,}",
                 f"{layer.im2col_bytes:,}" if layer.im2col_bytes else "-")
                for layer in self.layers]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def line(cells):
            first = cells[0].ljust(widths[0])
            return "  ".join([first, *(cell.rjust(width) for cell, width
                                       in zip(cells[1:], widths[1:]))])

        rule = "-" * len(line(header))
        itemsize = np.dtype(self.dtype).itemsize
        mib = 2.0**20
        lines = [rule, line(header), "=" * len(rule), *(line(row) for row in rows), "=" * len(rule)]
        lines += [
            f"Input shape: {list(self.input_shape)} ({self.dtype})",
            f"Total params: {self.total_parameters:,}",
            f"Trainable params: {self.trainable_parameters:,}",
            f"Non-trainable params: {self.total_parameters - self.trainable_parameters:,}",
            f"Total mult-adds: {self.total_mult_adds:,}",
            rule,
            f"Input size (MiB): {np.prod(self.input_shape) * itemsize / mib:.2f}",
            f"Layer outputs (MiB): {self.activation_bytes / mib:.2f}",
            f"Params size (MiB): {self.total_parameters * itemsize / mib:.2f}",
            f"Largest im2col buffer (MiB): {self.largest_im2col_bytes / mib:.2f}",
            rule,
        ]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the table, not a dataclass
        printer.text(str(self))


def _mult_adds_and_columns(module: Module, input_shape: tuple[int, ...],
                           output_shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    if isinstance(module, ConvTranspose2d):
        batch = int(np.prod(input_shape[:-3]))  # 1 for an unbatched (C, H, W) input
        in_channels, in_h, in_w = input_shape[-3:]
        kernel = module.kernel_size[0] * module.kernel_size[1]
        stamp = module.out_channels // module.groups * kernel  # what one input pixel adds
        mult_adds = batch * in_channels * in_h * in_w * stamp
        column_bytes = batch * module.out_channels * kernel * in_h * in_w * itemsize
        return mult_adds, column_bytes
    if isinstance(module, Conv2d):
        batch = int(np.prod(output_shape[:-3]))  # 1 for an unbatched (C, H, W) input
        out_channels, out_h, out_w = output_shape[-3:]
        window = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        mult_adds = batch * out_channels * out_h * out_w * window
        column_bytes = (batch * module.in_channels * module.kernel_size[0]
                        * module.kernel_size[1] * out_h * out_w * itemsize)
        return mult_adds, column_bytes
    if isinstance(module, Linear):
        rows = int(np.prod(output_shape[:-1]))
        return rows * module.in_features * module.out_features, 0
    return 0, 0


def summary(model: Module, input_shape, batch_size: int = 1, dtype=None) -> ModelSummary:
    """Shapes, parameters, mult-adds and im2col buffers of every layer of ``model``.

    Args:
        model: any Module; it runs once in eval mode (its mode is restored).
        input_shape: one sample's shape, without the batch, e.g. ``(1, 28, 28)`` (as
            torchsummary takes it).
        batch_size: the batch the shapes, mult-adds and buffer sizes are computed for.
        dtype: the input's dtype; default: the model's parameters' (float32 if it has none).

    Returns:
        a :class:`ModelSummary`; ``print(summary(...))`` prints the table.

    Example::

        >>> print(minicnn.summary(minicnn.models.LeNet5(), (1, 28, 28)))   # doctest: +SKIP
        features.0 (Conv2d)   [1, 6, 28, 28]   156   117,600   78,400
        ...
        Total params: 61,706
    """
    input_shape = tuple(int(size) for size in input_shape)
    if batch_size < 1:
        raise ValueError(f"summary: batch_size must be positive, got {batch_size}")
    parameters = list(model.parameters())
    if dtype is None:
        dtype = parameters[0].dtype if parameters else np.float32
    dtype = np.dtype(dtype)
    leaves = [(name, module) for name, module in model.named_modules()
              if not any(True for _ in module.children())]
    names = {id(module): name for name, module in leaves}
    rows: list[LayerSummary] = []

    def record(module, args, output):
        input_shape = tuple(np.shape(args[0])) if args else ()
        output_shape = tuple(np.shape(output))
        mult_adds, column_bytes = _mult_adds_and_columns(module, input_shape, output_shape,
                                                         dtype.itemsize)
        own = sum(p.size for p in module.parameters(recurse=False))
        rows.append(LayerSummary(names[id(module)], type(module).__name__, output_shape, own,
                                 mult_adds, column_bytes))

    handles = [module.register_forward_hook(record) for _, module in leaves]
    was_training = model.training
    model.eval()
    try:
        model(np.zeros((batch_size, *input_shape), dtype=dtype))
    except (ValueError, TypeError) as error:
        raise type(error)(
            f"summary: {type(model).__name__} refused an input of shape "
            f"{(batch_size, *input_shape)} ({error}); input_shape is one sample's shape, "
            "without the batch dimension, e.g. (1, 28, 28) for MNIST") from error
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return ModelSummary(
        layers=rows, input_shape=(batch_size, *input_shape), dtype=dtype,
        total_parameters=sum(p.size for p in parameters),
        trainable_parameters=sum(p.size for p in parameters if p.requires_grad),
    )
