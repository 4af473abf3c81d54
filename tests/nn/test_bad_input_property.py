"""Every layer and loss, fed random shapes, dtypes and arguments: PyTorch's answer or an error.

For each draw, minicnn either

* raises one of its documented errors (``TypeError``, ``ValueError``, ``RuntimeError``) with
  a message that starts with the layer's name, or
* returns what PyTorch returns: the same output (dtype and values), and in ``backward`` the
  same input gradient and parameter gradients.

Never a NumPy or Numba error from deep inside, never an answer PyTorch would not give. The
draws go well outside what the layers accept: ranks 0 to 5, sizes 0 to 7, channel counts that
do not match, integer, boolean, object and float16 inputs, float64 inputs into float32
layers, and constructor arguments out of range.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import nn
from tests.helpers.twins import TORCH_DTYPES

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
DOCUMENTED_ERRORS = (TypeError, ValueError, RuntimeError)
INPUT_DTYPES = [np.float32, np.float32, np.float64, np.float64, np.float16, np.int64, np.bool_,
                np.object_]


def _pair_or_int(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high),
                                                       st.integers(low, high)))


def _conv_relu_pool(library, in_channels, out_channels, kernel_size):
    """Conv2d -> ReLU -> MaxPool2d(2): the run minicnn's Sequential fuses into one kernel."""
    return library.Sequential(library.Conv2d(in_channels, out_channels, kernel_size),
                              library.ReLU(), library.MaxPool2d(2))


def _linear_relu(library, in_features, out_features):
    """Linear -> ReLU, the other fused run."""
    return library.Sequential(library.Linear(in_features, out_features), library.ReLU())


def _module_list(library, in_features, out_features):
    """A ModuleList of Linear and ReLU: called like a layer, it must say it is not one."""
    return library.ModuleList([library.Linear(in_features, out_features), library.ReLU()])


def _module_dict(library, in_features, out_features):
    return library.ModuleDict({"fc": library.Linear(in_features, out_features),
                               "act": library.ReLU()})


class _Fused:
    """A minicnn/torch factory pair for a fused run or a container; errors name one of its
    layers (or the container)."""

    def __init__(self, build, library, names):
        self.build, self.library, self.__name__ = build, library, names

    def __call__(self, **kwargs):
        return self.build(self.library, **kwargs)


# Each case: (minicnn class, torch class, strategy of constructor kwargs, typical input rank).
# The kwargs are drawn partly out of range, so that construction itself can fail.
CASES = {
    "Conv2d": (nn.Conv2d, torch.nn.Conv2d, st.fixed_dictionaries({
        "in_channels": st.integers(1, 3), "out_channels": st.integers(1, 3),
        "kernel_size": _pair_or_int(0, 4), "stride": _pair_or_int(1, 2),
        "padding": st.one_of(_pair_or_int(0, 2), st.sampled_from(["same", "valid"])),
        "dilation": _pair_or_int(1, 2), "bias": st.booleans()}), 4),
    "MaxPool2d": (nn.MaxPool2d, torch.nn.MaxPool2d, st.fixed_dictionaries({
        "kernel_size": _pair_or_int(1, 3), "stride": st.one_of(st.none(), _pair_or_int(1, 2)),
        "padding": st.integers(0, 2), "dilation": st.integers(1, 2),
        "ceil_mode": st.booleans()}), 4),
    "AvgPool2d": (nn.AvgPool2d, torch.nn.AvgPool2d, st.fixed_dictionaries({
        "kernel_size": _pair_or_int(1, 3), "stride": st.one_of(st.none(), _pair_or_int(1, 2)),
        "padding": st.integers(0, 2), "ceil_mode": st.booleans(),
        "count_include_pad": st.booleans()}), 4),
    "Linear": (nn.Linear, torch.nn.Linear, st.fixed_dictionaries({
        "in_features": st.integers(0, 4), "out_features": st.integers(1, 4),
        "bias": st.booleans()}), 2),
    "Flatten": (nn.Flatten, torch.nn.Flatten, st.fixed_dictionaries({
        "start_dim": st.integers(-3, 3), "end_dim": st.integers(-3, 3)}), 3),
    "ReLU": (nn.ReLU, torch.nn.ReLU, st.just({}), 2),
    "LeakyReLU": (nn.LeakyReLU, torch.nn.LeakyReLU, st.fixed_dictionaries({
        "negative_slope": st.floats(-2, 2)}), 2),
    "Sigmoid": (nn.Sigmoid, torch.nn.Sigmoid, st.just({}), 2),
    "Tanh": (nn.Tanh, torch.nn.Tanh, st.just({}), 2),
    "Softmax": (nn.Softmax, torch.nn.Softmax, st.fixed_dictionaries({
        "dim": st.integers(-3, 3)}), 2),
    "LogSoftmax": (nn.LogSoftmax, torch.nn.LogSoftmax, st.fixed_dictionaries({
        "dim": st.integers(-3, 3)}), 2),
    "Dropout": (nn.Dropout, torch.nn.Dropout, st.fixed_dictionaries({
        "p": st.floats(-0.5, 1.5)}), 2),
    "BatchNorm1d": (nn.BatchNorm1d, torch.nn.BatchNorm1d, st.fixed_dictionaries({
        "num_features": st.integers(1, 3), "momentum": st.sampled_from([0.1, None, 2.0]),
        "affine": st.booleans(), "track_running_stats": st.booleans()}), 2),
    "BatchNorm2d": (nn.BatchNorm2d, torch.nn.BatchNorm2d, st.fixed_dictionaries({
        "num_features": st.integers(1, 3), "eps": st.sampled_from([1e-5, 0.0]),
        "affine": st.booleans()}), 4),
    "Identity": (nn.Identity, torch.nn.Identity, st.just({}), 2),
    "ConvTranspose2d": (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, st.fixed_dictionaries({
        "in_channels": st.integers(1, 3), "out_channels": st.integers(1, 3),
        "kernel_size": _pair_or_int(0, 3), "stride": _pair_or_int(1, 2),
        "padding": _pair_or_int(0, 2), "output_padding": _pair_or_int(0, 2),
        "dilation": _pair_or_int(1, 2), "bias": st.booleans()}), 4),
    # eps of 1e-3 or more: in a group of a single value, PyTorch's float32 output is rounding
    # noise times 1/sqrt(eps) (2e-5 for the default 1e-5, above this test's tolerance) where
    # minicnn's is exactly 0; tests/nn/test_normalization.py checks that case on its own.
    "GroupNorm": (nn.GroupNorm, torch.nn.GroupNorm, st.fixed_dictionaries({
        "num_groups": st.integers(1, 3), "num_channels": st.integers(1, 4),
        "eps": st.sampled_from([1e-3, 1.0]), "affine": st.booleans()}), 4),
    "GELU": (nn.GELU, torch.nn.GELU, st.fixed_dictionaries({
        "approximate": st.sampled_from(["none", "tanh", "exact"])}), 2),
    "SiLU": (nn.SiLU, torch.nn.SiLU, st.just({}), 2),
    "Dropout2d": (nn.Dropout2d, torch.nn.Dropout2d, st.fixed_dictionaries({
        "p": st.floats(-0.5, 1.5)}), 4),
    "ModuleList": (
        _Fused(_module_list, nn, ("ModuleList",)), _Fused(_module_list, torch.nn, ()),
        st.fixed_dictionaries({"in_features": st.integers(1, 4),
                               "out_features": st.integers(1, 4)}), 2),
    "ModuleDict": (
        _Fused(_module_dict, nn, ("ModuleDict",)), _Fused(_module_dict, torch.nn, ()),
        st.fixed_dictionaries({"in_features": st.integers(1, 4),
                               "out_features": st.integers(1, 4)}), 2),
    "Sequential(Conv2d, ReLU, MaxPool2d)": (
        _Fused(_conv_relu_pool, nn, ("Conv2d(", "ReLU(", "MaxPool2d(")),
        _Fused(_conv_relu_pool, torch.nn, ()), st.fixed_dictionaries({
            "in_channels": st.integers(1, 3), "out_channels": st.integers(1, 3),
            "kernel_size": _pair_or_int(1, 4)}), 4),
    "Sequential(Linear, ReLU)": (
        _Fused(_linear_relu, nn, ("Linear(", "ReLU(")), _Fused(_linear_relu, torch.nn, ()),
        st.fixed_dictionaries({"in_features": st.integers(1, 4),
                               "out_features": st.integers(1, 4)}), 2),
}

LOSSES = {
    "CrossEntropyLoss": (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, st.fixed_dictionaries({
        "reduction": st.sampled_from(["mean", "sum", "none"]),
        "label_smoothing": st.sampled_from([0.0, 0.1])})),
    "NLLLoss": (nn.NLLLoss, torch.nn.NLLLoss, st.fixed_dictionaries({
        "reduction": st.sampled_from(["mean", "sum", "none"])})),
    "MSELoss": (nn.MSELoss, torch.nn.MSELoss, st.fixed_dictionaries({
        "reduction": st.sampled_from(["mean", "sum", "none"])})),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss,
                          st.fixed_dictionaries({
                              "reduction": st.sampled_from(["mean", "sum", "none"])})),
}


def _array(draw, shape, dtype) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = np.asarray(rng.standard_normal(shape))
    if dtype == np.bool_:
        return np.asarray(values > 0)
    if dtype == np.int64:
        return np.asarray(rng.integers(-3, 4, shape))
    return values.astype(dtype)


def _shape(draw, rank_hint: int, channels: int | None) -> tuple[int, ...]:
    rank = draw(st.sampled_from([rank_hint] * 4 + [0, 1, rank_hint - 1, rank_hint + 1]))
    rank = max(rank, 0)
    shape = [draw(st.integers(0 if i == 0 else 1, 7)) for i in range(rank)]
    if channels is not None and rank >= 2 and draw(st.integers(0, 4)):
        shape[1 if rank_hint >= 2 and rank == rank_hint else -1] = channels  # usually right
    if shape and draw(st.integers(0, 5)) == 0:
        shape[0] = 0  # an empty batch now and then
    return tuple(shape)


def _names(factory) -> tuple[str, ...]:
    """What an error message of this layer may start with: its name, or a fused run's."""
    name = factory.__name__
    return name if isinstance(name, tuple) else (name,)


def _assert_documented(error: BaseException, names: tuple[str, ...]) -> None:
    assert isinstance(error, DOCUMENTED_ERRORS), (
        f"undocumented {type(error).__name__}: {error}")
    message = str(error)
    assert message.startswith(names), f"the message does not name the layer: {message!r}"


def _assert_same(actual, expected_tensor, what: str) -> None:
    expected = expected_tensor.detach().numpy()
    assert isinstance(actual, np.ndarray) or np.isscalar(actual), f"{what}: {type(actual)}"
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    tolerance = 1e-9 if actual.dtype == np.float64 else 2e-5
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance,
                               equal_nan=True, err_msg=what)


def _construct(mc_class, torch_class, kwargs, param_dtype):
    """Both layers, or None after checking that minicnn's refusal is a documented error."""
    try:
        torch_layer = torch_class(**kwargs)
    except Exception:  # torch refuses: minicnn must refuse too, clearly
        with pytest.raises(DOCUMENTED_ERRORS) as refused:
            mc_class(**kwargs)
        _assert_documented(refused.value, _names(mc_class))
        return None
    try:
        mc_layer = mc_class(**kwargs)
    except DOCUMENTED_ERRORS as error:  # stricter than torch is allowed, if it says why
        _assert_documented(error, _names(mc_class))
        return None
    torch_layer = torch_layer.to(TORCH_DTYPES[np.dtype(param_dtype)])
    mc_layer.to(param_dtype)
    mc_layer.load_state_dict(torch_layer.state_dict())
    return mc_layer, torch_layer


def _torch_input(x: np.ndarray):
    tensor = torch.from_numpy(x.copy())
    if tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's notes on 'same' padding, etc.
@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "reference"])
@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_every_layer_matches_torch_or_raises_a_documented_error(name, kernels, data):
    with minicnn.use_kernels(kernels):
        _check_layer(name, data)


def _check_layer(name, data):
    mc_class, torch_class, kwargs_strategy, rank_hint = CASES[name]
    kwargs = data.draw(kwargs_strategy, label="kwargs")
    param_dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="param_dtype")
    layers = _construct(mc_class, torch_class, kwargs, param_dtype)
    if layers is None:
        return
    mc_layer, torch_layer = layers
    if data.draw(st.booleans(), label="eval"):
        mc_layer.eval()
        torch_layer.eval()
    if name in ("Dropout", "Dropout2d") and mc_layer.p not in (0, 1):
        mc_layer.eval()  # random masks differ between the libraries: compare in eval mode
        torch_layer.eval()
    channels = next((kwargs[key] for key in ("in_channels", "num_features", "num_channels",
                                             "in_features")
                     if key in kwargs), None)
    shape = _shape(data.draw, rank_hint, channels)
    x = _array(data.draw, shape, data.draw(st.sampled_from(INPUT_DTYPES), label="dtype"))
    note = f"{mc_layer!r} on {x.dtype} {x.shape}"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            output = mc_layer(x)
        except DOCUMENTED_ERRORS as error:
            _assert_documented(error, _names(mc_class))
            return
        if x.dtype == object:  # torch has no object tensors; only Identity passes them on
            assert name == "Identity" and output is x, f"{note}: answered {output!r}"
            return
        torch_x = _torch_input(x)
        try:
            torch_output = torch_layer(torch_x)
        except Exception as error:
            raise AssertionError(f"{note}: minicnn answered, torch refused: {error}") from None
    _assert_same(output, torch_output, f"{note}: output")
    if not torch_output.requires_grad:
        return

    grad = _array(data.draw, output.shape, output.dtype)
    grad_input = mc_layer.backward(grad)
    torch_output.backward(torch.from_numpy(grad))
    _assert_same(grad_input, torch_x.grad, f"{note}: input gradient")
    torch_params = dict(torch_layer.named_parameters())
    for param_name, param in mc_layer.named_parameters():
        _assert_same(param.grad, torch_params[param_name].grad, f"{note}: {param_name}.grad")


def _target(draw, kind: str, input_shape, num_classes: int):
    """A target that is usually right for the loss, and sometimes wrong in dtype, shape or
    range."""
    wrong = draw(st.integers(0, 3)) == 0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind in ("CrossEntropyLoss", "NLLLoss"):
        shape = tuple(input_shape[:1]) + tuple(input_shape[2:])
        if len(input_shape) == 1:
            shape = ()
        if wrong:
            return draw(st.sampled_from([
                rng.integers(0, max(num_classes, 1), shape).astype(np.float32),  # dtype
                rng.integers(0, max(num_classes, 1), shape + (1,)),  # shape
                np.full(shape, num_classes, dtype=np.int64),  # range
                np.full(shape, -1, dtype=np.int64),
            ]))
        return rng.integers(0, max(num_classes, 1), shape)
    if wrong:
        return draw(st.sampled_from([rng.integers(0, 2, input_shape),
                                     rng.random(tuple(input_shape) + (1,))]))
    return rng.random(input_shape)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(LOSSES))
@SETTINGS
@given(data=st.data())
def test_every_loss_matches_torch_or_raises_a_documented_error(name, data):
    mc_class, torch_class, kwargs_strategy = LOSSES[name]
    kwargs = data.draw(kwargs_strategy, label="kwargs")
    mc_loss, torch_loss = mc_class(**kwargs), torch_class(**kwargs)
    dtype = data.draw(st.sampled_from(INPUT_DTYPES), label="dtype")
    shape = _shape(data.draw, 2, None)
    x = _array(data.draw, shape, dtype)
    num_classes = shape[1] if len(shape) >= 2 else (shape[0] if shape else 0)
    target = _target(data.draw, name, shape, num_classes)
    if np.issubdtype(target.dtype, np.floating) and x.dtype in (np.float32, np.float64):
        target = target.astype(x.dtype)
    note = f"{mc_loss!r} on {x.dtype} {x.shape}, target {target.dtype} {target.shape}"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loss = mc_loss(x, target)
        except DOCUMENTED_ERRORS as error:
            _assert_documented(error, (name,))
            return
        torch_x = _torch_input(x)
        try:
            torch_value = torch_loss(torch_x, torch.from_numpy(target))
        except Exception as error:
            raise AssertionError(f"{note}: minicnn answered, torch refused: {error}") from None
    _assert_same(loss, torch_value, f"{note}: loss")
    grad = None if kwargs["reduction"] != "none" else _array(data.draw, np.shape(loss), x.dtype)
    grad_input = mc_loss.backward(grad)
    torch_value.backward(None if grad is None else torch.from_numpy(grad))
    _assert_same(grad_input, torch_x.grad, f"{note}: input gradient")
