"""minicnn.kernels.conv against the NumPy reference and PyTorch, on the reference's grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings

from minicnn.functional import conv as reference
from minicnn.kernels import conv as kernels
from minicnn.kernels import use_kernels
from minicnn.nn.conv import Conv2d
from tests.helpers import assert_close
from tests.helpers.strategies import conv_cases
from tests.helpers.torch_ops import torch_conv2d

SETTINGS = settings(max_examples=40, deadline=None)


def gradients_of_every_implementation(case, chunked: bool = False, monkeypatch=None):
    """``(reference, kernel, torch)`` results: each ``(output, grad_input, grad_weight,
    grad_bias)``, for one drawn configuration and one random ``grad_output``."""
    x, weight, bias, options, rng = case
    out_ref, cols_ref = reference.conv2d_forward(x, weight, bias, **options)
    grad_output = rng.standard_normal(out_ref.shape).astype(x.dtype)
    grads_ref = reference.conv2d_backward(grad_output, x, weight, **options, cols=cols_ref)
    if chunked:  # one sample per chunk: the forward keeps no columns, the backward rebuilds
        monkeypatch.setattr(kernels, "COLUMN_BUDGET_BYTES", 1)
    out_fast, cols_fast = kernels.conv2d_forward(x, weight, bias, **options)
    assert cols_fast is None, "the kernels keep no column matrix for the backward"
    grads_fast = kernels.conv2d_backward(grad_output, x, weight, **options, cols=cols_fast)
    out_torch, grads_torch = torch_conv2d(x, weight, bias, grad_output, options)
    return (out_ref, *grads_ref), (out_fast, *grads_fast), (out_torch, *grads_torch)


def assert_all_close(actual, expected, case, what: str) -> None:
    """``(output, grad_input, grad_weight, grad_bias)`` alike, in the dtype of ``case``'s input
    (no bias gradient when ``case`` has no bias)."""
    names = ("output", "grad_input", "grad_weight", "grad_bias")
    for name, got, want in zip(names, actual, expected):
        if name == "grad_bias" and case[2] is None:
            continue
        assert_close(got, want, case[0].dtype, f"{what}: {name}")


@SETTINGS
@given(conv_cases())
def test_conv2d_matches_reference_and_torch(case):
    ref, fast, from_torch = gradients_of_every_implementation(case)
    assert_all_close(fast, ref, case, "kernels vs reference")
    assert_all_close(fast, from_torch, case, "kernels vs torch")


@settings(max_examples=20, deadline=None)
@given(conv_cases())
def test_chunked_batch_gives_the_same_result(case):
    with pytest.MonkeyPatch.context() as monkeypatch:
        ref, fast, _ = gradients_of_every_implementation(case, True, monkeypatch)
    assert_all_close(fast, ref, case, "chunked kernels vs reference")


@settings(max_examples=20, deadline=None)
@given(conv_cases())
def test_skipping_the_input_gradient_keeps_the_parameter_gradients(case):
    x, weight, bias, options, rng = case
    out, cols = kernels.conv2d_forward(x, weight, bias, **options)
    grad_output = rng.standard_normal(out.shape).astype(x.dtype)
    _, grad_weight, grad_bias = kernels.conv2d_backward(grad_output, x, weight, **options,
                                                        cols=cols)
    skipped = kernels.conv2d_backward(grad_output, x, weight, **options, cols=cols,
                                      input_grad=False)
    assert skipped[0] is None, "input_grad=False must return None for the input gradient"
    assert_close(skipped[1], grad_weight, x.dtype, "grad_weight without the input gradient")
    assert_close(skipped[2], grad_bias, x.dtype, "grad_bias without the input gradient")


def test_unbatched_input_and_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6)).astype(np.float32)
    weight = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    out = kernels.conv2d(x, weight, None, padding=1)
    assert out.dtype == np.float32 and out.shape == (3, 7, 6)
    assert_close(out, reference.conv2d(x, weight, None, padding=1), np.float32, "unbatched conv2d")


def test_errors_are_the_reference_errors():
    x = np.zeros((1, 2, 5, 5), np.float32)
    weight = np.zeros((3, 2, 7, 7), np.float32)
    with pytest.raises(ValueError, match="Kernel size can't be greater than actual input size"):
        kernels.conv2d_forward(x, weight)
    with pytest.raises(TypeError, match="does not match the input dtype"):
        kernels.conv2d_forward(x, weight.astype(np.float64)[:, :, :3, :3])
    with pytest.raises(ValueError, match="expected grad_output of shape"):
        kernels.conv2d_backward(np.zeros((1, 3, 2, 2), np.float32), x, weight[:, :, :3, :3])


def _error_of(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except (TypeError, ValueError) as error:
        return type(error), str(error)
    return None


@pytest.mark.parametrize("bad", [
    {"stride": 1.0}, {"stride": True}, {"stride": (1, 0)}, {"groups": True}, {"groups": 1.0},
    {"padding": 1.5}, {"dilation": (1.0, 1)}, {"x": "list"}, {"x": "float16"},
    {"bias": "float64"}, {"bias": "shape"}, {"weight": "torch"},
])
def test_bad_arguments_still_raise_after_the_same_shapes_passed(bad):
    # The kernels remember the checks of each call signature; a remembered good call must
    # not let a look-alike bad one through (1.0 and True hash like 1).
    x = np.zeros((2, 3, 6, 6), np.float32)
    weight = np.zeros((4, 3, 3, 3), np.float32)
    bias = np.zeros(4, np.float32)
    good = {"stride": 1, "padding": 1, "dilation": 1, "groups": 1}
    kernels.conv2d_forward(x, weight, bias, **good)  # remembered now
    arrays = {"x": x, "weight": weight, "bias": bias}
    replacements = {"list": x.tolist(), "float16": x.astype(np.float16),
                    "float64": bias.astype(np.float64), "shape": np.zeros(5, np.float32),
                    "torch": torch.zeros(4, 3, 3, 3)}
    options = dict(good)
    for name, value in bad.items():
        if name in arrays:
            arrays[name] = replacements[value]
        else:
            options[name] = value
    expected = _error_of(reference.conv2d_forward, arrays["x"], arrays["weight"],
                         arrays["bias"], **options)
    assert expected is not None, f"the reference must refuse {bad}"
    error_type, message = expected
    with pytest.raises(error_type) as raised:
        kernels.conv2d_forward(arrays["x"], arrays["weight"], arrays["bias"], **options)
    assert str(raised.value) == message, "the kernels must raise the reference's error"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_first_layer_skips_its_input_gradient(dtype, padding_mode):
    """``needs_input_grad = False``: backward returns None, parameter gradients as torch's."""
    rng = np.random.default_rng(1)
    torch_layer = torch.nn.Conv2d(2, 4, 3, padding=1, padding_mode=padding_mode,
                                  dtype=torch.float64 if dtype == np.float64 else torch.float32)
    x = rng.standard_normal((3, 2, 6, 5)).astype(dtype)
    out = torch_layer(torch.tensor(x))
    grad_output = rng.standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(torch.tensor(grad_output))
    for enabled in (True, False):
        with use_kernels(enabled):
            layer = Conv2d(2, 4, 3, padding=1, padding_mode=padding_mode, dtype=dtype)
            layer.load_state_dict(torch_layer.state_dict())
            layer.needs_input_grad = False
            assert_close(layer(x), out.detach().numpy(), dtype, f"forward (kernels={enabled})")
            assert layer.backward(grad_output) is None, "the skipped input gradient is None"
            assert_close(layer.weight.grad, torch_layer.weight.grad.numpy(), dtype,
                         f"weight gradient (kernels={enabled})")
            assert_close(layer.bias.grad, torch_layer.bias.grad.numpy(), dtype,
                         f"bias gradient (kernels={enabled})")


def test_layer_backward_uses_the_implementation_its_forward_used():
    """Switching between forward and backward must not mix the two column layouts."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6, 6))
    grad_output = rng.standard_normal((2, 4, 4, 4))
    weight = rng.standard_normal((4, 3, 3, 3))
    results = []
    for forward_enabled in (True, False):
        layer = Conv2d(3, 4, 3, dtype=np.float64)
        layer.weight.data[...] = weight
        with use_kernels(forward_enabled):
            layer(x)
        with use_kernels(not forward_enabled):
            results.append((layer.backward(grad_output), layer.weight.grad))
    (input_a, weight_a), (input_b, weight_b) = results
    assert_close(input_a, input_b, np.float64, "grad_input across the switch")
    assert_close(weight_a, weight_b, np.float64, "grad_weight across the switch")


@settings(max_examples=20, deadline=None)
@given(conv_cases())
def test_products_split_over_threads_give_the_same_result(case):
    """Chunks of one sample shared between three threads (minicnn.threads.run_split)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(kernels, "SPLIT_WORK", 0)
        monkeypatch.setattr(kernels, "COLUMN_BUDGET_BYTES", 1)
        monkeypatch.setattr(kernels, "get_num_threads", lambda: 3)
        ref, fast, _ = gradients_of_every_implementation(case)
    assert_all_close(fast, ref, case, "split products vs reference")


def run_forward_backward(case):
    """``(output, grad_input, grad_weight, grad_bias)`` of the kernels for one case."""
    x, weight, bias, options, _rng = case
    out, cols = kernels.conv2d_forward(x, weight, bias, **options)
    grad_output = np.random.default_rng(7).standard_normal(out.shape).astype(x.dtype)
    return (out, *kernels.conv2d_backward(grad_output, x, weight, **options, cols=cols))


@settings(max_examples=20, deadline=None)
@given(conv_cases())
def test_same_bits_on_any_number_of_threads_and_every_run(case):
    """Chunks of one sample, run on 1 and 3 threads (taking chunks in whatever order the
    threads get to them), and again: the weight gradient's per-chunk shares are summed along
    a tree fixed by the chunk count, so every result must be bit-for-bit the same."""
    results = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(kernels, "SPLIT_WORK", 0)
        monkeypatch.setattr(kernels, "COLUMN_BUDGET_BYTES", 1)
        for threads in (1, 3, 3):
            monkeypatch.setattr(kernels, "get_num_threads", lambda: threads)  # noqa: B023
            results.append(run_forward_backward(case))
    names = ("output", "grad_input", "grad_weight", "grad_bias")
    for other in results[1:]:
        for name, got, want in zip(names, other, results[0]):
            assert np.array_equal(got, want), f"{name} differs between runs / thread counts"


@settings(max_examples=20, deadline=None)
@given(conv_cases())
def test_padded_row_layout_equals_the_plain_layout(case):
    """Stride-1 convolutions use the padded-row columns; the plain columns (forced here)
    must give the same results."""
    x, weight, bias, options, _rng = case
    assume(kernels.conv_geometry(x, weight, bias, options["stride"], options["padding"],
                                 options["dilation"], options["groups"]).stride == (1, 1))
    padded = run_forward_backward(case)
    plain_layout = kernels.column_layout

    def plain(x, weight, geometry):
        layout = plain_layout(x, weight, geometry)
        assert layout.padded_rows, "finite stride-1 input must take the padded-row layout"
        return layout._replace(padded_rows=False, row_width=geometry.out_w)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(kernels, "column_layout", plain)
        plain_results = run_forward_backward(case)
    for name, got, want in zip(("output", "grad_input", "grad_weight", "grad_bias"),
                               padded, plain_results):
        if want is not None:
            assert_close(got, want, case[0].dtype, f"padded-row vs plain layout: {name}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_input_takes_the_plain_layout_and_matches_the_reference(dtype, bad):
    """A NaN or infinity must not leak through the padded-row layout's slack columns
    (0 * inf = NaN): such inputs take the plain layout, and agree with the reference."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 2, 7, 6)).astype(dtype)
    x[1, 0, 3, 5] = bad  # the last column: a slack column of the padded rows would read it
    weight = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    geometry = kernels.conv_geometry(x, weight, None, 1, 1, 1, 1)
    assert not kernels.column_layout(x, weight, geometry).padded_rows
    assert kernels.column_layout(np.nan_to_num(x), weight, geometry).padded_rows
    out_ref, cols_ref = reference.conv2d_forward(x, weight, None, padding=1)
    grad_output = rng.standard_normal(out_ref.shape).astype(dtype)
    expected = (out_ref, *reference.conv2d_backward(grad_output, x, weight, padding=1,
                                                     cols=cols_ref))
    out, cols = kernels.conv2d_forward(x, weight, None, padding=1)
    got = (out, *kernels.conv2d_backward(grad_output, x, weight, padding=1, cols=cols))
    for name, actual, want in zip(("output", "grad_input", "grad_weight"), got, expected):
        np.testing.assert_array_equal(np.isnan(actual), np.isnan(want),
                                      err_msg=f"{name}: NaN where the reference has NaN")
        np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(want),
                                      err_msg=f"{name}: +inf where the reference has +inf")
        finite = np.isfinite(want)
        assert_close(actual[finite], want[finite], dtype, f"{name} ({bad} in the input)")
