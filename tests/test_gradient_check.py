"""Tests of minicnn/gradient_check.py: finite differences against hand-written backward passes.

The small modules below are written for these tests: correct ones must pass, ones with a
deliberate mistake must fail with the report naming the wrong tensor.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import random as minicnn_random
from minicnn.functional.conv import conv2d, conv2d_backward
from minicnn.functional.linear import linear, linear_backward
from minicnn.gradient_check import GradcheckError, GradcheckReport, gradcheck, max_errors
from minicnn.nn.activation import ReLU
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.dropout import Dropout
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.nn.module import Module
from minicnn.nn.normalization import BatchNorm2d
from minicnn.nn.parameter import Parameter
from minicnn.nn.pooling import MaxPool2d


# ---------------------------------------------------------------------------- test modules
class ScaledTanh(Module):
    """``y = tanh(x * weight + bias)`` over ``(N, F)``; ``wrong_bias`` doubles the bias grad."""

    def __init__(self, features: int, wrong_bias: bool = False):
        super().__init__()
        self.weight = Parameter(np.linspace(0.5, 1.5, features, dtype=np.float32))
        self.bias = Parameter(np.linspace(-0.2, 0.2, features, dtype=np.float32))
        self.wrong_bias = wrong_bias
        self._cache = None

    def forward(self, x):
        y = np.tanh(x * self.weight.data + self.bias.data)
        self._cache = (x, y)
        return y

    def backward(self, grad_output):
        x, y = self._cache
        grad_pre = grad_output * (1 - y**2)
        self.weight.accumulate_grad((grad_pre * x).sum(axis=0))
        self.bias.accumulate_grad(grad_pre.sum(axis=0) * (2 if self.wrong_bias else 1))
        self._cache = None
        return grad_pre * self.weight.data


class TimesThree(Module):
    """``y = 3x``, whose backward adds ``offset`` to the right answer ``3 * grad_output``."""

    def __init__(self, offset: float = 0.0):
        super().__init__()
        self.offset = offset

    def forward(self, x):
        return 3 * x

    def backward(self, grad_output):
        return 3 * grad_output + self.offset


class RandomMask(Module):
    """Multiplies by a 0/1 mask drawn from the global generator at every forward."""

    def __init__(self):
        super().__init__()
        self._mask = None

    def forward(self, x):
        self._mask = minicnn_random.default_generator().random(x.shape) < 0.5
        return x * self._mask

    def backward(self, grad_output):
        return grad_output * self._mask


class CenterAndTrack(Module):
    """``y = x - mean(x, axis=0)``; forward updates the buffer ``running_mean`` in place."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("running_mean", np.zeros(features, np.float32))
        self.scale = Parameter(np.ones(features, np.float32))
        self._x = None

    def forward(self, x):
        self.running_mean += 0.5 * (x.mean(axis=0) - self.running_mean)
        self._x = x
        return (x - x.mean(axis=0)) * self.scale.data

    def backward(self, grad_output):
        centered = self._x - self._x.mean(axis=0)
        self.scale.accumulate_grad((grad_output * centered).sum(axis=0))
        grad_centered = grad_output * self.scale.data
        return grad_centered - grad_centered.mean(axis=0)


class HalfSquaredError(Module):
    """A loss: ``mean((input - target)**2) / 2``; backward returns the input's gradient only."""

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, input, target):
        self._cache = (input, target)
        return np.asarray(np.mean((input - target) ** 2) / 2)

    def backward(self, grad_output=None):
        input, target = self._cache
        scale = 1.0 if grad_output is None else grad_output
        return scale * (input - target) / input.size


class PickLogit(Module):
    """A loss with an integer target: ``-sum(input[n, target[n]])``."""

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, input, target):
        self._cache = (input.shape, target)
        return np.asarray(-input[np.arange(len(target)), target].sum())

    def backward(self, grad_output=None):
        shape, target = self._cache
        grad = np.zeros(shape)
        grad[np.arange(len(target)), target] = -(1.0 if grad_output is None else grad_output)
        return grad


class SquareWithIndex(Module):
    """Returns ``(x**2, argmax of x)``, like ``MaxPool2d(return_indices=True)`` a tuple."""

    def __init__(self):
        super().__init__()
        self._x = None

    def forward(self, x):
        self._x = x
        return x**2, np.argmax(x, axis=-1)

    def backward(self, grad_output):
        return 2 * self._x * grad_output


class SumOfTwo(Module):
    """``y = a * b`` for two inputs; backward returns both gradients as a tuple."""

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, a, b):
        self._cache = (a, b)
        return a * b

    def backward(self, grad_output):
        a, b = self._cache
        return grad_output * b, grad_output * a


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------- modules
def test_correct_module_passes_for_input_and_every_parameter():
    report = gradcheck(ScaledTanh(3), _rng().standard_normal((4, 3)).astype(np.float32))
    assert isinstance(report, GradcheckReport)
    assert report.passed and bool(report)
    assert [check.name for check in report.tensors] == ["input", "weight", "bias"]
    assert [check.shape for check in report.tensors] == [(4, 3), (3,), (3,)]
    assert all(check.checked == np.prod(check.shape) for check in report.tensors)
    assert report.max_abs_error < 1e-8, "float64 central differences agree to ~1e-9"


def test_wrong_backward_raises_and_names_the_wrong_tensor():
    x = _rng().standard_normal((4, 3))
    with pytest.raises(GradcheckError) as caught:
        gradcheck(ScaledTanh(3, wrong_bias=True), x)
    error = caught.value
    assert isinstance(error, RuntimeError)
    assert "for bias" in str(error).splitlines()[0], "the message names the failing tensor"
    assert "FAIL" in str(error) and "max abs error" in str(error), "the message has the table"
    assert [check.name for check in error.report.failures] == ["bias"]
    assert error.report["input"].passed and error.report["weight"].passed


def test_wrong_backward_without_raising_returns_the_failing_report():
    report = gradcheck(ScaledTanh(3, wrong_bias=True), _rng().standard_normal((4, 3)),
                       raise_exception=False)
    assert not report.passed and not bool(report)
    assert not report["bias"].passed
    bias_row = next(line for line in str(report).splitlines() if line.startswith("bias"))
    assert bias_row.rstrip().endswith("FAIL")
    # A doubled bias gradient is wrong by exactly the right value: error = max |right|.
    assert report["bias"].max_rel_error == pytest.approx(1.0, rel=1e-6)


def test_report_numbers_for_a_known_error():
    # y = 3x and grad_output = 1: the numeric gradient is 3 everywhere; the backward
    # returns 3 + 0.25, so every entry is off by 0.25 and relative to 3 by 1/12.
    x = _rng().standard_normal((2, 5))
    report = gradcheck(TimesThree(offset=0.25), x, grad_output=np.ones((2, 5)),
                       raise_exception=False)
    check = report["input"]
    assert check.max_abs_error == pytest.approx(0.25, abs=1e-8)
    assert check.max_rel_error == pytest.approx(0.25 / 3, abs=1e-8)
    np.testing.assert_allclose(check.numeric, 3.0, atol=1e-8)
    np.testing.assert_allclose(check.analytic, 3.25)
    assert not check.passed, "0.25 > atol + rtol * 3"
    assert "2.50e-01" in str(report) and "8.33e-02" in str(report)


def test_pass_criterion_is_scaled_by_the_largest_gradient():
    # An error of 0.25 against gradients of size 3 passes with rtol = 0.1 (0.25 <= 0.3).
    x = _rng().standard_normal((2, 5))
    assert gradcheck(TimesThree(offset=0.25), x, grad_output=np.ones((2, 5)), rtol=0.1)
    assert not gradcheck(TimesThree(offset=0.25), x, grad_output=np.ones((2, 5)), rtol=0.08,
                         raise_exception=False)


def test_max_errors_definition():
    assert max_errors(np.array([1.0, 2.5]), np.array([1.0, 2.0])) == (0.5, 0.25)
    assert max_errors(np.zeros(3), np.zeros(3)) == (0.0, 0.0)
    assert max_errors(np.array([1e-3]), np.zeros(1)) == (1e-3, float("inf"))


def test_module_passed_in_is_left_untouched():
    module = CenterAndTrack(3)
    module.scale.grad = np.full(3, 7.0, np.float32)
    before = module.running_mean.copy()
    report = gradcheck(module, _rng().standard_normal((5, 3)).astype(np.float32))
    assert report.passed
    np.testing.assert_array_equal(module.running_mean, before)
    assert module.scale.dtype == np.float32 and module.running_mean.dtype == np.float32
    np.testing.assert_array_equal(module.scale.grad, 7.0)


def test_randomness_from_the_global_generator_is_replayed_and_not_consumed():
    minicnn_random.manual_seed(123)
    state_before = minicnn_random.get_rng_state()
    assert gradcheck(RandomMask(), _rng().standard_normal((4, 6))).passed
    assert minicnn_random.get_rng_state() == state_before, "gradcheck must not consume draws"


def test_dropout_with_its_own_generator_is_replayed():
    dropout = Dropout(0.4, generator=np.random.default_rng(5))
    state_before = dropout.generator.bit_generator.state
    assert gradcheck(dropout, _rng().standard_normal((3, 8))).passed
    assert dropout.generator.bit_generator.state == state_before


def test_loss_differentiates_the_input_and_passes_the_target_through():
    input, target = _rng().standard_normal((3, 4)), _rng(1).standard_normal((3, 4))
    report = gradcheck(HalfSquaredError(), input, target)
    assert [check.name for check in report.tensors] == ["input"]
    assert report.passed


def test_loss_with_integer_target():
    report = gradcheck(PickLogit(), _rng().standard_normal((4, 3)), np.array([0, 2, 1, 2]))
    assert [check.name for check in report.tensors] == ["input"] and report.passed


def test_tuple_output_differentiates_the_first():
    report = gradcheck(SquareWithIndex(), _rng().standard_normal((2, 5)))
    assert [check.name for check in report.tensors] == ["input"] and report.passed


def test_two_inputs_are_both_differentiated():
    report = gradcheck(SumOfTwo(), _rng().standard_normal(4), _rng(1).standard_normal(4))
    assert [check.name for check in report.tensors] == ["input[0]", "input[1]"]
    assert report.passed


def test_frozen_parameters_are_skipped():
    module = ScaledTanh(3)
    module.weight.requires_grad = False
    report = gradcheck(module, _rng().standard_normal((4, 3)))
    assert [check.name for check in report.tensors] == ["input", "bias"]


def test_parameters_are_named_as_in_state_dict():
    model = Sequential(ScaledTanh(3), TimesThree(), ScaledTanh(3))
    report = gradcheck(model, _rng().standard_normal((2, 3)))
    assert [check.name for check in report.tensors] == [
        "input", "0.weight", "0.bias", "2.weight", "2.bias"]
    assert report.subject == "Sequential"


def test_max_elements_checks_a_random_subset():
    report = gradcheck(ScaledTanh(50), _rng().standard_normal((4, 50)), max_elements=7)
    for check in report.tensors:
        assert check.checked == 7
        assert np.count_nonzero(~np.isnan(check.numeric)) == 7
    assert report.passed


def test_in_place_layer_does_not_corrupt_the_perturbed_inputs():
    x = _rng().uniform(0.1, 1.0, (3, 4)) * _rng(1).choice([-1.0, 1.0], (3, 4))
    before = x.copy()
    assert gradcheck(ReLU(inplace=True), x).passed
    np.testing.assert_array_equal(x, before)


def test_kink_makes_finite_differences_meaningless():
    # ReLU at exactly 0: the central difference averages the slopes 0 and 1, giving
    # 0.5 * grad_output, which no backward returns. This is why inputs must avoid kinks.
    x = np.array([[0.0, 0.5, -0.5]])
    grad_output = np.array([[2.0, 1.0, 1.0]])
    report = gradcheck(ReLU(), x, grad_output=grad_output, raise_exception=False)
    assert report["input"].numeric[0, 0] == pytest.approx(1.0)
    assert not report.passed


# ---------------------------------------------------------------------------- functions
def test_function_with_tuple_backward_uses_parameter_names():
    def matmul(a, b):
        return a @ b

    report = gradcheck(matmul, _rng().standard_normal((3, 4)), _rng(1).standard_normal((4, 2)),
                       backward=lambda g, a, b: (g @ b.T, a.T @ g))
    assert [check.name for check in report.tensors] == ["a", "b"]
    assert report.passed and report.subject.endswith("matmul")


def test_function_single_array_backward_is_the_first_input():
    report = gradcheck(np.tanh, _rng().standard_normal(5),
                       backward=lambda g, x: g * (1 - np.tanh(x) ** 2))
    assert len(report.tensors) == 1 and report.passed


def test_function_none_gradients_are_not_checked():
    report = gradcheck(lambda x, w: x * w, _rng().standard_normal(4), _rng(1).standard_normal(4),
                       backward=lambda g, x, w: (None, g * x))
    assert [check.name for check in report.tensors] == ["w"]


def test_function_with_wrong_backward_fails():
    with pytest.raises(GradcheckError, match="for x"):
        gradcheck(np.sin, _rng().standard_normal(4), backward=lambda g, x: g * np.sin(x))


def test_functional_linear():
    x, w, b = (_rng(i).standard_normal(shape) for i, shape in enumerate([(3, 4), (2, 4), (2,)]))
    report = gradcheck(linear, x, w, b,
                       backward=lambda g, x, w, b: linear_backward(g, x, w, has_bias=True))
    assert [check.name for check in report.tensors] == ["x", "weight", "bias"] and report.passed


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 2), in_per_group=st.integers(1, 2), out_per_group=st.integers(1, 2),
    groups=st.integers(1, 2), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**16),
)
def test_functional_conv2d(batch, in_per_group, out_per_group, groups, kernel, stride, padding,
                           dilation, seed):
    rng = _rng(seed)
    x = rng.standard_normal((batch, in_per_group * groups, 6, 5))
    weight = rng.standard_normal((out_per_group * groups, in_per_group, *kernel))
    bias = rng.standard_normal(out_per_group * groups)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    report = gradcheck(lambda x, w, b: conv2d(x, w, b, **options), x, weight, bias,
                       backward=lambda g, x, w, b: conv2d_backward(g, x, w, **options))
    assert report.passed, str(report)


# ---------------------------------------------------------------------------- layers
@settings(max_examples=15, deadline=None)
@given(
    stride=st.integers(1, 2), padding=st.integers(0, 1), dilation=st.integers(1, 2),
    bias=st.booleans(), seed=st.integers(0, 2**16),
)
def test_conv2d_layer(stride, padding, dilation, bias, seed):
    minicnn_random.manual_seed(seed)
    layer = Conv2d(2, 3, (3, 2), stride=stride, padding=padding, dilation=dilation, bias=bias)
    report = gradcheck(layer, _rng(seed).standard_normal((2, 2, 6, 7)).astype(np.float32))
    assert [check.name for check in report.tensors] == ["input", "weight"] + ["bias"] * bias
    assert report.passed


@settings(max_examples=15, deadline=None)
@given(kernel=st.integers(2, 3), stride=st.integers(1, 3), ceil_mode=st.booleans(),
       seed=st.integers(0, 2**16))
def test_max_pool2d_layer_on_distinct_values(kernel, stride, ceil_mode, seed):
    # A shuffled grid with gaps of 0.1 >> eps: no ties, so the maximum is differentiable.
    x = (_rng(seed).permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) * 0.1).astype(np.float32)
    layer = MaxPool2d(kernel, stride, padding=kernel // 2, ceil_mode=ceil_mode,
                      return_indices=True)
    assert gradcheck(layer, x).passed


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm2d_layer(training):
    layer = BatchNorm2d(3).train(training)
    layer.running_mean[...] = [0.1, -0.3, 0.5]
    layer.running_var[...] = [0.5, 1.0, 2.0]
    report = gradcheck(layer, _rng().standard_normal((2, 3, 4, 3)).astype(np.float32))
    assert [check.name for check in report.tensors] == ["input", "weight", "bias"]
    assert report.passed
    np.testing.assert_array_equal(layer.running_mean, np.float32([0.1, -0.3, 0.5]))


def test_cross_entropy_loss_layer():
    report = gradcheck(CrossEntropyLoss(label_smoothing=0.1), _rng().standard_normal((5, 4)),
                       np.array([0, 3, 1, 1, 2]))
    assert [check.name for check in report.tensors] == ["input"] and report.passed


# ---------------------------------------------------------------------------- errors
def test_backward_argument_is_refused_for_a_module():
    with pytest.raises(TypeError, match="backward= is for functions"):
        gradcheck(TimesThree(), np.ones(3), backward=lambda g, x: g)


def test_function_without_backward_is_refused():
    with pytest.raises(TypeError, match="needs its backward"):
        gradcheck(np.tanh, np.ones(3))


def test_not_callable_is_refused():
    with pytest.raises(TypeError, match="expected a Module or a function"):
        gradcheck(42, np.ones(3))


@pytest.mark.parametrize("options, message", [
    (dict(eps=0.0), "eps must be positive"),
    (dict(atol=-1.0), "atol and rtol"),
    (dict(max_elements=0), "max_elements"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        gradcheck(TimesThree(), np.ones(3), **options)


def test_grad_output_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"grad_output has shape \(2,\), expected .*\(3,\)"):
        gradcheck(TimesThree(), np.ones(3), grad_output=np.ones(2))


def test_gradient_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"gradient of x has shape \(1, 3\), expected \(3,\)"):
        gradcheck(np.tanh, np.ones(3), backward=lambda g, x: g[None])


def test_nothing_to_check_is_refused():
    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck(np.tanh, np.ones(3), backward=lambda g, x: None)
