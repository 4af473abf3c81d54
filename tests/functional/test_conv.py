"""minicnn.functional.conv against naive loops, its own adjoints, and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.conv import (
    col2im,
    conv2d,
    conv2d_backward,
    conv2d_direct,
    conv2d_forward,
    conv2d_padding_sides,
    im2col,
    pad2d,
    pad2d_backward,
)
from tests.helpers import assert_close
from tests.helpers.strategies import conv_cases
from tests.helpers.torch_ops import torch_conv2d

SETTINGS = settings(max_examples=40, deadline=None)
DTYPES = (np.float64, np.float32)
TORCH_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                  "circular": "circular"}


# ---------------------------------------------------------------------------- helpers
def im2col_naive(x_padded, kernel_size, stride, dilation):
    """The definition of im2col, one element at a time."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    n, c, height, width = x_padded.shape
    out_h = (height - dh * (kh - 1) - 1) // sh + 1
    out_w = (width - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((n, c, kh, kw, out_h, out_w), x_padded.dtype)
    for index in np.ndindex(cols.shape):
        sample, channel, ky, kx, oy, ox = index
        cols[index] = x_padded[sample, channel, oy * sh + ky * dh, ox * sw + kx * dw]
    return cols


def col2im_naive(cols, padded_shape, stride, dilation):
    """Every column entry added back onto the pixel it was copied from."""
    (sh, sw), (dh, dw) = stride, dilation
    image = np.zeros(padded_shape, cols.dtype)
    for index in np.ndindex(cols.shape):
        sample, channel, ky, kx, oy, ox = index
        image[sample, channel, oy * sh + ky * dh, ox * sw + kx * dw] += cols[index]
    return image


@st.composite
def unroll_cases(draw):
    """A padded image batch and the kernel/stride/dilation to unroll it with."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    height = draw(st.integers(extent[0], extent[0] + 5))
    width = draw(st.integers(extent[1], extent[1] + 5))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), height, width)
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, kernel, stride, dilation, dtype, np.random.default_rng(seed)


# ---------------------------------------------------------------------------- im2col / col2im
@SETTINGS
@given(unroll_cases())
def test_im2col_matches_naive_loop(case):
    shape, kernel, stride, dilation, dtype, rng = case
    x_padded = rng.standard_normal(shape).astype(dtype)
    cols = im2col(x_padded, kernel, stride, dilation)
    np.testing.assert_array_equal(cols, im2col_naive(x_padded, kernel, stride, dilation),
                                  err_msg="im2col must copy exactly the naive loop's entries")
    assert cols.dtype == dtype


@SETTINGS
@given(unroll_cases())
def test_col2im_matches_naive_loop(case):
    shape, kernel, stride, dilation, dtype, rng = case
    cols_shape = im2col(np.zeros(shape, dtype), kernel, stride, dilation).shape
    cols = rng.standard_normal(cols_shape).astype(dtype)
    image = col2im(cols, shape, stride, dilation)
    assert_close(image, col2im_naive(cols, shape, stride, dilation), dtype,
                 "col2im vs naive scatter-add")


@SETTINGS
@given(unroll_cases())
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), c> == <x, col2im(c)>: col2im is exactly the transpose of im2col."""
    shape, kernel, stride, dilation, _, rng = case
    x_padded = rng.standard_normal(shape)
    cols = rng.standard_normal(im2col(x_padded, kernel, stride, dilation).shape)
    lhs = np.vdot(im2col(x_padded, kernel, stride, dilation), cols)
    rhs = np.vdot(x_padded, col2im(cols, shape, stride, dilation))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_col2im_adds_where_windows_overlap():
    """A 1x4 row, kernel 2, stride 1: the middle pixels lie in two windows, so get 2."""
    ones = np.ones((1, 1, 1, 2, 1, 3))
    image = col2im(ones, (1, 1, 1, 4), stride=1, dilation=1)
    np.testing.assert_array_equal(image[0, 0, 0], [1.0, 2.0, 2.0, 1.0])


# ---------------------------------------------------------------------------- padding
@st.composite
def pad_cases(draw):
    mode = draw(st.sampled_from(list(TORCH_PAD_MODE)))
    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    # reflect needs pad < size; circular allows pad == size (wraps exactly once)
    limit_h = height - 1 if mode == "reflect" else height if mode == "circular" else 4
    limit_w = width - 1 if mode == "reflect" else width if mode == "circular" else 4
    sides = (draw(st.integers(0, limit_h)), draw(st.integers(0, limit_h)),
             draw(st.integers(0, limit_w)), draw(st.integers(0, limit_w)))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(1, 2)), draw(st.integers(1, 2)), height, width))
    return x.astype(dtype), sides, mode, rng


@SETTINGS
@given(pad_cases())
def test_pad2d_and_its_backward_match_torch_pad(case):
    x, sides, mode, rng = case
    top, bottom, left, right = sides
    xt = torch.tensor(x, requires_grad=True)
    padded_t = F.pad(xt, (left, right, top, bottom), mode=TORCH_PAD_MODE[mode])
    padded = pad2d(x, sides, mode)
    np.testing.assert_array_equal(padded, padded_t.detach().numpy(), err_msg=f"pad2d {mode}")
    assert padded.dtype == x.dtype

    grad_padded = rng.standard_normal(padded.shape).astype(x.dtype)
    padded_t.backward(torch.tensor(grad_padded))
    grad_copy = grad_padded.copy()
    grad_x = pad2d_backward(grad_padded, sides, mode)
    assert_close(grad_x, xt.grad.numpy(), x.dtype, f"pad2d_backward {mode}")
    np.testing.assert_array_equal(grad_padded, grad_copy, err_msg="grad_padded was modified")


def test_pad2d_backward_adds_replicated_edge_into_source():
    """Replicate copies the edge pixel 1 + 2 times, so its gradient is the sum of 3 ones."""
    grad = pad2d_backward(np.ones((1, 1, 1, 5)), (0, 0, 2, 0), "replicate")
    np.testing.assert_array_equal(grad[0, 0, 0], [3.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("shape", "sides", "mode", "message"),
    [
        ((1, 1, 3, 3), (3, 0, 0, 0), "reflect", "reflect padding must be smaller"),
        ((1, 1, 3, 3), (0, 0, 0, 4), "circular", "wraps around more than once"),
        ((1, 1, 3, 3), (0, -1, 0, 0), "zeros", "negative padding is not supported"),
        ((1, 1, 3, 3), (1, 1, 1, 1), "constant", "padding_mode must be one of"),
    ],
)
def test_pad2d_rejects_bad_arguments(shape, sides, mode, message):
    with pytest.raises(ValueError, match=f"pad2d: .*{message}"):
        pad2d(np.zeros(shape), sides, mode)


def test_pad2d_rejects_padding_of_the_wrong_length():
    with pytest.raises(TypeError, match=r"pad2d: padding must be 4 ints \(top, bottom"):
        pad2d(np.zeros((1, 1, 3, 3)), (1, 1), "zeros")


# ---------------------------------------------------------------------------- conv2d vs torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's own performance note
@SETTINGS
@given(conv_cases())
def test_conv2d_and_its_backward_match_torch(case):
    x, weight, bias, options, rng = case
    output, cols = conv2d_forward(x, weight, bias, **options)
    grad_output = rng.standard_normal(output.shape).astype(x.dtype)
    expected_output, (grad_x_t, grad_w_t, grad_b_t) = torch_conv2d(
        x, weight, bias, grad_output, options
    )
    assert_close(output, expected_output, x.dtype, f"conv2d output {options}")
    assert_close(conv2d(x, weight, bias, **options), expected_output, x.dtype, "conv2d (no cols)")

    x_copy, grad_copy, cols_copy = x.copy(), grad_output.copy(), cols.copy()
    grad_x, grad_w, grad_b = conv2d_backward(grad_output, x, weight, cols=cols, **options)
    assert_close(grad_x, grad_x_t, x.dtype, f"grad_input {options}")
    assert_close(grad_w, grad_w_t, x.dtype, f"grad_weight {options}")
    if bias is not None:
        assert_close(grad_b, grad_b_t, x.dtype, f"grad_bias {options}")
    for name, array, copy in (("x", x, x_copy), ("grad_output", grad_output, grad_copy),
                              ("cols", cols, cols_copy)):
        np.testing.assert_array_equal(array, copy, err_msg=f"conv2d_backward modified {name}")


@SETTINGS
@given(conv_cases(dtypes=(np.float64,)))
def test_conv2d_backward_without_cols_rebuilds_the_same_gradients(case):
    x, weight, bias, options, rng = case
    output, cols = conv2d_forward(x, weight, bias, **options)
    grad_output = rng.standard_normal(output.shape)
    with_cols = conv2d_backward(grad_output, x, weight, cols=cols, **options)
    without_cols = conv2d_backward(grad_output, x, weight, **options)
    for name, a, b in zip(("input", "weight", "bias"), with_cols, without_cols):
        np.testing.assert_array_equal(a, b, err_msg=f"grad_{name} depends on passing cols")


def test_conv2d_accepts_unbatched_input_like_torch():
    rng = np.random.default_rng(0)
    x, weight, bias = rng.standard_normal((2, 5, 6)), rng.standard_normal((3, 2, 3, 2)), None
    expected = F.conv2d(torch.tensor(x), torch.tensor(weight), padding=1).numpy()
    assert_close(conv2d(x, weight, bias, padding=1), expected, x.dtype, "unbatched conv2d")


@pytest.mark.parametrize(
    ("kernel", "dilation", "expected"),
    [
        ((3, 3), (1, 1), (1, 1, 1, 1)),
        ((4, 2), (1, 1), (1, 2, 0, 1)),
        ((2, 3), (3, 2), (1, 2, 2, 2)),
    ],
)
def test_same_padding_puts_the_odd_element_after(kernel, dilation, expected):
    assert conv2d_padding_sides("same", kernel, dilation) == expected


# ---------------------------------------------------------------------------- twin and teaching
@settings(max_examples=25, deadline=None)
@given(conv_cases(dtypes=(np.float64,)))
def test_conv2d_direct_twin_agrees_with_im2col_path(case):
    x, weight, bias, options, _ = case
    assert_close(conv2d(x, weight, bias, **options), conv2d_direct(x, weight, bias, **options),
                 x.dtype,
                 f"im2col conv2d vs direct loops {options}")


def dilate(array, stride):
    """Insert ``stride - 1`` zeros between neighbouring entries of the last two axes."""
    sh, sw = stride
    n, c, h, w = array.shape
    out = np.zeros((n, c, sh * (h - 1) + 1, sw * (w - 1) + 1), array.dtype)
    out[:, :, ::sh, ::sw] = array
    return out


@SETTINGS
@given(conv_cases(dtypes=(np.float64,)))
def test_conv_backward_is_itself_a_convolution(case):
    """Both gradients recomputed with conv2d alone, on permuted / flipped / dilated arrays."""
    x, weight, _, options, rng = case
    weight = weight[:, :1] if options["groups"] > 1 else weight  # the identity below is groups=1
    x = x[:, : weight.shape[1]]
    options = {**options, "groups": 1}
    stride = options["stride"] if isinstance(options["stride"], tuple) else (options["stride"],) * 2
    dilation = options["dilation"]
    kh, kw = weight.shape[2:]
    sides = conv2d_padding_sides(options["padding"], (kh, kw), dilation, stride)
    top, _, left, _ = sides
    x_padded = pad2d(x, sides, "zeros")
    output = conv2d(x, weight, None, **options)
    dy = rng.standard_normal(output.shape)
    grad_x, grad_w, _ = conv2d_backward(dy, x, weight, **options)

    # Weight gradient: samples act as channels; the forward's stride becomes the dilation.
    grad_w_by_conv = conv2d(x_padded.transpose(1, 0, 2, 3), dy.transpose(1, 0, 2, 3),
                            stride=dilation, dilation=stride)
    grad_w_by_conv = grad_w_by_conv[:, :, :kh, :kw].transpose(1, 0, 2, 3)
    assert_close(grad_w, grad_w_by_conv, x.dtype, "grad_weight as conv(x_padded', dy')'")

    # Input gradient: the flipped kernel, in/out channels swapped, over the dilated dy.
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    full = conv2d(dilate(dy, stride), flipped,
                  padding=(dilation[0] * (kh - 1), dilation[1] * (kw - 1)), dilation=dilation)
    grad_x_padded = np.zeros_like(x_padded)
    grad_x_padded[:, :, : full.shape[2], : full.shape[3]] = full  # rows no window reached: 0
    grad_x_by_conv = grad_x_padded[:, :, top : top + x.shape[2], left : left + x.shape[3]]
    assert_close(grad_x, grad_x_by_conv, x.dtype, "grad_input as a transposed convolution")


# ---------------------------------------------------------------------------- dtypes and errors
def test_float32_stays_float32_everywhere():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)
    weight = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    output, cols = conv2d_forward(x, weight, bias, stride=2, padding="valid", groups=2)
    grads = conv2d_backward(np.ones_like(output), x, weight, stride=2, groups=2, cols=cols)
    results = {
        "output": output, "cols": cols, "grad_input": grads[0], "grad_weight": grads[1],
        "grad_bias": grads[2], "direct": conv2d_direct(x, weight, bias, groups=2),
        "col2im": col2im(cols, (2, 2, 6, 5), stride=2),
    }
    for mode in TORCH_PAD_MODE:
        results[f"pad2d {mode}"] = pad2d(x, (1, 2, 1, 0), mode)
        results[f"pad2d_backward {mode}"] = pad2d_backward(results[f"pad2d {mode}"], (1, 2, 1, 0),
                                                           mode)
    for name, array in results.items():
        assert array.dtype == np.float32, f"{name} came out as {array.dtype}"


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "options", "error", "message"),
    [
        ((1, 1, 4, 4), (1, 1, 5, 5), {}, ValueError,
         r"conv2d: Calculated padded input size per channel: \(4 x 4\). Kernel size: \(5 x 5\). "
         "Kernel size can't be greater than actual input size"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"dilation": 2}, ValueError,
         r"Calculated padded input size per channel: \(4 x 4\). Kernel size: \(5 x 5\)"),
        ((1, 1, 4, 4), (1, 2, 3, 3), {}, ValueError,
         "expected input of shape .* to have 2 channels"),
        ((1, 4, 4, 4), (3, 2, 3, 3), {"groups": 2}, ValueError, "must be divisible by groups"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"padding": "same", "stride": 2}, ValueError,
         "padding='same' is not supported for strided convolutions"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"padding": "full"}, ValueError, "Invalid padding string"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"padding": -1}, ValueError, "negative padding"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": 0}, ValueError, "stride must be positive"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"groups": 0}, ValueError, "groups must be a positive"),
        ((4, 4), (1, 1, 3, 3), {}, ValueError, r"expected a 4D input \(N, C, H, W\)"),
    ],
)
def test_conv2d_rejects_bad_arguments(x_shape, w_shape, options, error, message):
    with pytest.raises(error, match=message):
        conv2d(np.zeros(x_shape), np.zeros(w_shape), **options)


def test_conv2d_rejects_mixed_dtypes_and_bad_bias():
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match="conv2d: weight dtype float64 does not match the input"):
        conv2d(x, np.zeros((1, 1, 3, 3)))
    with pytest.raises(TypeError, match="conv2d: bias dtype float64 does not match the input"):
        conv2d(x, np.zeros((2, 1, 3, 3), np.float32), np.zeros(2))
    with pytest.raises(ValueError, match=r"conv2d: expected bias of shape \(2,\)"):
        conv2d(x, np.zeros((2, 1, 3, 3), np.float32), np.zeros(3, np.float32))


def test_conv2d_backward_checks_grad_output():
    x, weight = np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d_backward: expected grad_output of shape "
                                         r"\(1, 2, 2, 2\), got \(1, 2, 3, 3\)"):
        conv2d_backward(np.zeros((1, 2, 3, 3)), x, weight)
    with pytest.raises(TypeError, match="conv2d_backward: grad_output dtype float32"):
        conv2d_backward(np.zeros((1, 2, 2, 2), np.float32), x, weight)
