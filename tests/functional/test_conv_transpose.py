"""minicnn.functional.conv_transpose against PyTorch, its naive twin, and the convolution it is
the backward of."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.functional.conv import conv2d, conv2d_backward
from minicnn.functional.conv_transpose import (
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose2d_direct,
    output_padding_for_size,
)
from tests.helpers import assert_close

SETTINGS = settings(max_examples=40, deadline=None)
DTYPES = (np.float64, np.float32)


@st.composite
def cases(draw, dtypes=DTYPES, output_padding_below_stride=False):
    """A ``torch.nn.functional.conv_transpose2d`` configuration and matching random arrays."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    limits = stride if output_padding_below_stride else [max(s, d) for s, d in zip(stride,
                                                                                   dilation)]
    output_padding = tuple(draw(st.integers(0, limit - 1)) for limit in limits)
    sizes = []
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        smallest = 1
        while (smallest - 1) * s - 2 * p + d * (k - 1) + 1 <= 0:
            smallest += 1
        sizes.append(draw(st.integers(smallest, smallest + 4)))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(0, 3)), in_channels, *sizes)).astype(dtype)
    weight = rng.standard_normal((in_channels, out_channels // groups, *kernel)).astype(dtype)
    bias = rng.standard_normal(out_channels).astype(dtype) if draw(st.booleans()) else None
    options = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                   dilation=dilation)
    return x, weight, bias, options, rng


def torch_conv_transpose2d(x, weight, bias, grad_output, options):
    """Output and (input, weight, bias) gradients from torch autograd."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    bt = None if bias is None else torch.tensor(bias, requires_grad=True)
    out = F.conv_transpose2d(xt, wt, bt, **options)
    out.backward(torch.tensor(grad_output))
    return out, (xt.grad, wt.grad, None if bt is None else bt.grad)


# ---------------------------------------------------------------------------- parity
@SETTINGS
@given(cases())
def test_forward_and_backward_match_torch(case):
    x, weight, bias, options, rng = case
    dtype = x.dtype
    out = conv_transpose2d(x, weight, bias, **options)
    grad_output = rng.standard_normal(out.shape).astype(dtype)
    expected, expected_grads = torch_conv_transpose2d(x, weight, bias, grad_output, options)
    assert_close(out, expected, dtype, f"output {options}")
    inputs = (x.copy(), weight.copy(), grad_output.copy())
    grads = conv_transpose2d_backward(grad_output, x, weight, **options)
    for name, grad, torch_grad in zip(("input", "weight", "bias"), grads, expected_grads):
        if torch_grad is not None:
            assert_close(grad, torch_grad, dtype, f"grad {name} {options}")
    for before, after in zip(inputs, (x, weight, grad_output)):
        np.testing.assert_array_equal(before, after, err_msg="an argument was modified")


@SETTINGS
@given(cases(dtypes=(np.float64,)))
def test_matches_the_naive_stamping_loop(case):
    x, weight, bias, options, _ = case
    assert_close(conv_transpose2d(x, weight, bias, **options),
                 conv_transpose2d_direct(x, weight, bias, **options), np.float64,
                 f"col2im path vs one stamp per input pixel {options}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_input_is_the_batched_one_without_its_axis(dtype):
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 3, 4)).astype(dtype), rng.standard_normal((2, 3, 3, 3))
    out = conv_transpose2d(x, weight.astype(dtype), stride=2)
    np.testing.assert_array_equal(out, conv_transpose2d(x[None], weight.astype(dtype),
                                                        stride=2)[0])
    assert_close(out, F.conv_transpose2d(torch.tensor(x), torch.tensor(weight.astype(dtype)),
                                         stride=2), dtype, "unbatched")


# ---------------------------------------------------------------------------- the teaching points
@SETTINGS
@given(cases(dtypes=(np.float64,), output_padding_below_stride=True))
def test_forward_is_the_input_gradient_of_a_convolution(case):
    """conv_transpose2d(x, W) is conv2d_backward's grad_input for grad_output = x: the same
    code path, so the same bits; and it is the adjoint of conv2d: <conv2d(z, W), x> ==
    <z, conv_transpose2d(x, W)>."""
    x, weight, _, options, rng = case
    out = conv_transpose2d(x, weight, **options)
    conv_options = {key: options[key] for key in ("stride", "padding", "dilation", "groups")}
    z = rng.standard_normal(out.shape)
    grad_input, _, _ = conv2d_backward(x, z, weight, **conv_options)
    np.testing.assert_array_equal(out, grad_input)
    lhs = np.vdot(conv2d(z, weight, **conv_options), x)
    assert lhs == pytest.approx(np.vdot(z, out), rel=1e-10, abs=1e-10)


@SETTINGS
@given(cases(dtypes=(np.float64,), output_padding_below_stride=True))
def test_backward_is_a_convolution(case):
    """grad_input = conv2d(grad_output, W); grad_weight = conv2d_backward's weight gradient
    with the roles swapped (x as that convolution's output gradient)."""
    x, weight, _, options, rng = case
    out = conv_transpose2d(x, weight, **options)
    grad_output = rng.standard_normal(out.shape)
    grad_input, grad_weight, _ = conv_transpose2d_backward(grad_output, x, weight, **options)
    conv_options = {key: options[key] for key in ("stride", "padding", "dilation", "groups")}
    np.testing.assert_array_equal(grad_input, conv2d(grad_output, weight, **conv_options))
    _, conv_grad_weight, _ = conv2d_backward(x, grad_output, weight, **conv_options)
    assert_close(grad_weight, conv_grad_weight, np.float64, "weight gradient, roles swapped")


@pytest.mark.parametrize("options", [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 2), dilation=(3, 1), output_padding=(2, 1), groups=2),
])
def test_gradients_agree_with_finite_differences(options):
    rng = np.random.default_rng(0)
    x, weight, bias = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 2, 2, 3)), \
        rng.standard_normal(2 * options.get("groups", 1))
    report = minicnn.gradcheck(
        lambda x, weight, bias: conv_transpose2d(x, weight, bias, **options), x, weight, bias,
        backward=lambda g, x, weight, bias: conv_transpose2d_backward(g, x, weight, **options))
    assert report.passed, str(report)
    assert [check.name for check in report.tensors] == ["x", "weight", "bias"]


# ---------------------------------------------------------------------------- output_size
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2),
       st.integers(1, 3), st.data())
def test_output_padding_for_size_reaches_every_valid_size(size, kernel, stride, padding,
                                                          dilation, data):
    smallest = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1
    extra = data.draw(st.integers(0, stride - 1))
    if smallest + extra <= 0:
        return
    shape = (1, 1, size, size)
    output_padding = output_padding_for_size("t", shape, [smallest + extra] * 2, (kernel,) * 2,
                                             (stride,) * 2, (padding,) * 2, (dilation,) * 2)
    assert output_padding == (extra, extra)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: conv_transpose2d(np.ones((1, 3, 4, 4)), np.ones((2, 1, 3, 3))), ValueError,
     r"conv_transpose2d: Given transposed=1, weight of size \(2, 1, 3, 3\), expected input of "
     r"shape \(1, 3, 4, 4\) to have 2 channels, but got 3 channels instead"),
    (lambda: conv_transpose2d(np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3), np.float32)),
     TypeError, "conv_transpose2d: weight dtype float32 does not match the input dtype float64"),
    (lambda: conv_transpose2d(np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3)), np.ones(2)),
     ValueError, r"conv_transpose2d: expected bias of shape \(1,\)"),
    (lambda: conv_transpose2d(np.ones((1, 3, 4, 4)), np.ones((3, 1, 3, 3)), groups=2),
     ValueError, r"in_channels \(3, weight.shape\[0\]\) must be divisible by groups \(2\)"),
    (lambda: conv_transpose2d(np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3)), output_padding=1),
     ValueError, "output padding must be smaller than either stride or dilation"),
    (lambda: conv_transpose2d(np.ones((1, 2, 2, 2)), np.ones((2, 1, 1, 1)), padding=1),
     ValueError, r"Calculated output size per channel: \(0 x 0\). Output size is too small"),
    (lambda: conv_transpose2d(np.ones((2, 4, 4)).reshape(1, 1, 2, 4, 4), np.ones((1, 1, 3, 3))),
     ValueError, "expected a 4D input"),
    (lambda: conv_transpose2d_backward(np.ones((1, 1, 5, 5)), np.ones((1, 1, 4, 4)),
                                       np.ones((1, 1, 3, 3))),
     ValueError, r"conv_transpose2d_backward: expected grad_output of shape \(1, 1, 6, 6\)"),
])
def test_bad_arguments_raise_naming_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()
