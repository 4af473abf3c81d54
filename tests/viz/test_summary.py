"""minicnn.summary: shapes and parameter counts as PyTorch's, mult-adds and im2col by formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minicnn
from minicnn.models import LeNet5
from minicnn.nn import Conv2d, ConvTranspose2d, Linear, ReLU, Sequential
from tests.helpers.twins import TorchLeNet5


def torch_leaf_shapes(model, input_shape) -> dict[str, tuple]:
    shapes = {}
    handles = [module.register_forward_hook(
        lambda module, args, output, name=name: shapes.__setitem__(name, tuple(output.shape)))
        for name, module in model.named_modules() if not list(module.children())]
    with torch.no_grad():
        model(torch.zeros(input_shape))
    for handle in handles:
        handle.remove()
    return shapes


def test_lenet5_rows_match_the_torch_twin():
    table = minicnn.summary(LeNet5(), (1, 28, 28), batch_size=4)
    twin = TorchLeNet5()
    shapes = torch_leaf_shapes(twin, (4, 1, 28, 28))
    assert [row.name for row in table.layers] == list(shapes)
    modules = dict(twin.named_modules())
    for row in table.layers:
        assert row.output_shape == shapes[row.name], row.name
        assert row.parameters == sum(p.numel() for p in modules[row.name].parameters()), row.name
    assert table.total_parameters == sum(p.numel() for p in twin.parameters()) == 61_706
    # Per image: conv1 6*28*28 outputs of 1*5*5; conv2 16*10*10 of 6*5*5; fc 400*120 + ...
    per_image = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert table.total_mult_adds == 4 * per_image
    assert table.input_shape == (4, 1, 28, 28)


def test_im2col_bytes_are_the_reference_column_matrix():
    conv = Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    table = minicnn.summary(Sequential(conv, ReLU()), (3, 17, 17), batch_size=5)
    with minicnn.use_kernels(False):
        conv(np.zeros((5, 3, 17, 17), np.float32))
    assert table.layers[0].im2col_bytes == conv._cols.nbytes == 5 * 3 * 9 * 9 * 9 * 4
    assert table.layers[0].mult_adds == 5 * 8 * 9 * 9 * 27
    assert table.layers[1].im2col_bytes == 0 and table.layers[1].mult_adds == 0
    assert table.largest_im2col_bytes == conv._cols.nbytes


def test_table_text_and_dtype():
    model = Sequential(Linear(10, 3), ReLU()).double()
    model[0].bias.requires_grad = False
    table = minicnn.summary(model, (10,))
    text = str(table)
    assert "0 (Linear)" in text and "[1, 3]" in text
    assert "Total params: 33" in text and "Trainable params: 30" in text
    assert "Non-trainable params: 3" in text and "Total mult-adds: 30" in text
    assert "(float64)" in text and table.dtype == np.float64
    assert model.training, "the training mode is restored"


def test_input_shape_with_a_batch_dimension_is_explained():
    with pytest.raises(ValueError, match=r"without the batch dimension, e\.g\. \(1, 28, 28\)"):
        minicnn.summary(LeNet5(), (1, 1, 28, 28))


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size must be positive"):
        minicnn.summary(LeNet5(), (1, 28, 28), batch_size=0)


@pytest.mark.parametrize(("kwargs", "input_shape"), [
    (dict(stride=2, padding=1, output_padding=1), (4, 5, 6)),
    (dict(groups=2, dilation=2), (4, 3, 3)),
])
def test_conv_transpose_counts_what_the_convolution_it_undoes_counts(kwargs, input_shape):
    """A transposed convolution is the backward of the Conv2d with in/out channels swapped:
    the same products, the same column matrix."""
    up = ConvTranspose2d(4, 6, 3, **kwargs)
    row = minicnn.summary(Sequential(up), input_shape, batch_size=2).layers[0]
    conv_kwargs = {key: value for key, value in kwargs.items() if key != "output_padding"}
    conv = Conv2d(6, 4, 3, **conv_kwargs)
    conv_row = minicnn.summary(Sequential(conv), row.output_shape[1:], batch_size=2).layers[0]
    assert conv_row.output_shape == (2, *input_shape)
    per_pixel = 6 // up.groups * 9
    pixels = input_shape[1] * input_shape[2]
    assert row.mult_adds == conv_row.mult_adds == 2 * 4 * pixels * per_pixel
    assert row.im2col_bytes == conv_row.im2col_bytes == 2 * 6 * 9 * pixels * 4
    assert row.parameters == 4 * 6 // up.groups * 9 + 6
