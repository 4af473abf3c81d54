"""The input and gradient checks every layer runs, and debug mode's NaN/Inf checks.

Each error names the layer by its repr and says what was expected and what came: the
messages below are the ones a learner sees.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import minicnn
from minicnn import debug, nn
from minicnn.debug import NonFiniteError, set_debug


def _layers():
    """``(layer, float32 input it accepts)`` for every layer type, and fused Sequentials."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    rows = rng.standard_normal((4, 3)).astype(np.float32)
    return [
        (nn.Conv2d(3, 4, 3), images),
        (nn.MaxPool2d(2), images),
        (nn.AvgPool2d(2), images),
        (nn.Linear(3, 2), rows),
        (nn.Flatten(), images),
        (nn.ReLU(), images),
        (nn.LeakyReLU(), images),
        (nn.Sigmoid(), images),
        (nn.Tanh(), images),
        (nn.Softmax(dim=1), images),
        (nn.LogSoftmax(dim=1), images),
        (nn.Dropout(), images),
        (nn.BatchNorm1d(3), rows),
        (nn.BatchNorm2d(3), images),
        (nn.Identity(), images),
        (nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2)), images),
        (nn.Sequential(nn.Linear(3, 5), nn.ReLU()), rows),
    ]


IDS = [type(layer).__name__ if not isinstance(layer, nn.Sequential)
       else "Sequential-" + "-".join(type(child).__name__ for child in layer)
       for layer, _ in _layers()]


@pytest.fixture(params=range(len(IDS)), ids=IDS)
def case(request):
    """A fresh ``(layer, input)``: no test sees another's forward cache."""
    return _layers()[request.param]


# Identity takes anything, as torch's does, and checks no values.
CHECKING = [index for index, name in enumerate(IDS) if name != "Identity"]


@pytest.fixture(params=CHECKING, ids=[IDS[index] for index in CHECKING])
def checking_case(request):
    return _layers()[request.param]


def _name(layer) -> str:
    """The repr that starts the message: a Sequential's errors come from a child."""
    return repr(layer[-1] if isinstance(layer, nn.Sequential) else layer)


@pytest.fixture(params=[True, False], ids=["kernels", "reference"])
def kernels(request):
    with minicnn.use_kernels(request.param):
        yield request.param


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int64, np.object_])
def test_a_grad_output_of_another_dtype_is_refused(case, dtype, kernels):
    layer, x = case
    output = layer(x)
    with pytest.raises(TypeError) as error:
        layer.backward(np.ones(output.shape, dtype))
    assert str(error.value) == (f"{_name(layer)}: expected grad_output of dtype float32 (the "
                                f"output's), got {np.dtype(dtype)}")
    # The refusal leaves the forward's cache alone: the right gradient still goes through.
    assert layer.backward(np.ones(output.shape, np.float32)).shape == x.shape


def test_a_grad_output_of_another_shape_is_refused(case, kernels):
    layer, x = case
    output = layer(x)
    wrong = output.shape[:-1] + (output.shape[-1] + 1,)
    with pytest.raises(ValueError, match=(
            rf"^{_escape(_name(layer))}: expected grad_output of shape "
            rf"{_escape(str(output.shape))} \(the forward output's shape\), got "
            rf"{_escape(str(wrong))}$")):
        layer.backward(np.ones(wrong, np.float32))


def _escape(text: str) -> str:
    return re.escape(text)


def test_backward_before_forward_and_twice_for_one_forward(case, kernels):
    layer, x = case
    message = ("backward() called before forward(), or twice for one forward (backward frees "
               "what forward cached; run forward again)")
    with pytest.raises(RuntimeError) as error:
        layer.backward(np.ones((1,), np.float32))
    assert str(error.value) == f"{_name(layer)}: {message}"
    output = layer(x)
    layer.backward(np.ones(output.shape, np.float32))
    with pytest.raises(RuntimeError) as error:
        layer.backward(np.ones(output.shape, np.float32))
    assert str(error.value) == f"{_name(layer)}: {message}"


def test_debug_mode_finds_nan_and_inf_in_the_input(checking_case, kernels):
    layer, x = checking_case
    bad = x.copy()
    bad.flat[5] = np.nan
    bad.flat[7] = np.inf
    with np.errstate(all="ignore"):
        layer(bad)  # debug mode off: no check, no cost
    with set_debug(True), pytest.raises(NonFiniteError) as error:
        layer(bad)
    first = layer[0] if isinstance(layer, nn.Sequential) else layer
    index = tuple(int(i) for i in np.unravel_index(5, x.shape))
    assert str(error.value) == (f"{first!r}: input of shape {x.shape} holds 1 NaN and 1 "
                                f"infinite values (the first at index {index})")
    with set_debug(True):
        layer(x)  # finite input: no complaint


def test_debug_mode_finds_nan_in_grad_output(checking_case, kernels):
    layer, x = checking_case
    with set_debug(True):
        output = layer(x)
        grad = np.ones(output.shape, np.float32)
        grad.flat[0] = np.nan
        with pytest.raises(NonFiniteError, match=r"grad_output of shape .* holds 1 NaN and 0 "
                                                 r"infinite values \(the first at index \(0,"):
            layer.backward(grad)


def test_identity_checks_grad_output_against_what_it_passed_on():
    identity = nn.Identity()
    with set_debug(True):
        nan = np.full((2, 3), np.nan)
        assert identity(nan) is nan  # passed on as it is, like torch.nn.Identity
    identity(np.zeros((2, 3), np.float64))
    with pytest.raises(TypeError, match="expected grad_output of dtype float64"):
        identity.backward(np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), nn.NLLLoss()])
def test_debug_mode_checks_a_loss_input(loss):
    logits = np.zeros((2, 3), np.float32)
    logits[1, 2] = -np.inf
    with set_debug(True), pytest.raises(NonFiniteError, match=(
            rf"^{type(loss).__name__}\(\): input of shape \(2, 3\) holds 0 NaN and 1 infinite")):
        loss(logits, np.array([0, 1]))


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), nn.NLLLoss(), nn.MSELoss(),
                                  nn.BCEWithLogitsLoss()], ids=lambda loss: type(loss).__name__)
def test_an_empty_batch_has_no_mean_loss(loss):
    if isinstance(loss, (nn.CrossEntropyLoss, nn.NLLLoss)):
        x, target = np.zeros((0, 10), np.float32), np.zeros(0, np.int64)
    else:
        x, target = np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)
    with pytest.raises(ValueError, match=(
            rf"^{type(loss).__name__}\(\): empty batch \(input shape \(0, \d+\)\): the mean of "
            r"no losses is undefined \(PyTorch returns nan\); skip empty batches, or use "
            r"reduction='sum'$")):
        loss(x, target)
    loss.reduction = "sum"
    assert loss(x, target) == 0
    loss.reduction = "none"
    assert loss(x, target).shape == target.shape[: 1 if target.ndim == 1 else 2]


def test_set_debug_is_a_switch_and_a_context_manager(monkeypatch):
    assert not minicnn.debug_enabled()
    with minicnn.set_debug(True):
        assert minicnn.debug_enabled()
    assert not minicnn.debug_enabled()
    minicnn.set_debug(True)
    try:
        assert minicnn.debug_enabled()
    finally:
        minicnn.set_debug(False)
    with pytest.raises(TypeError, match="set_debug: expected True or False, got 1"):
        minicnn.set_debug(1)
    assert minicnn.NonFiniteError is NonFiniteError
    assert issubclass(NonFiniteError, FloatingPointError)


@pytest.mark.parametrize(("value", "enabled"), [
    (None, False), ("", False), ("0", False), ("off", False), ("false", False),
    ("1", True), ("yes", True), ("TRUE", True),
])
def test_minicnn_debug_environment_variable(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv("MINICNN_DEBUG", raising=False)
    else:
        monkeypatch.setenv("MINICNN_DEBUG", value)
    assert debug._enabled_from_environment() is enabled


def test_an_empty_batch_goes_forward_and_backward_with_zero_gradients(checking_case, kernels):
    """As in PyTorch: a batch of 0 samples has an empty output and gradients that are zero."""
    layer, x = checking_case
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        layer.eval()  # training statistics of no values are refused (a variance needs two)
    empty = x[:0]
    output = layer(empty)
    assert output.shape[0] == 0 and output.dtype == np.float32
    layer.zero_grad()
    grad_input = layer.backward(np.zeros(output.shape, np.float32))
    assert grad_input.shape == empty.shape and grad_input.dtype == np.float32
    for name, param in layer.named_parameters():
        assert param.grad is not None and not param.grad.any(), name
