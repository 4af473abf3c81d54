"""minicnn.functional.loss against torch.nn.functional: loss values and input gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.loss import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
    cross_entropy,
    cross_entropy_backward,
    mse_loss,
    mse_loss_backward,
    nll_loss,
    nll_loss_backward,
)
from tests.helpers import ATOL, assert_close

REDUCTIONS = ("mean", "sum", "none")
DTYPES = (np.float64, np.float32)


# ---------------------------------------------------------------------------- helpers
def assert_dtype(value, dtype, what: str) -> None:
    assert np.asarray(value).dtype == dtype, (
        f"{what}: expected dtype {np.dtype(dtype)}, got {np.asarray(value).dtype}")


def torch_value_and_grad(torch_fn, x: np.ndarray, args: tuple, kwargs: dict,
                         grad_output: np.ndarray):
    """torch's loss and d(loss)/d(x) for the same grad_output, as NumPy arrays."""
    x_t = torch.tensor(x, requires_grad=True)
    converted = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v
                 for k, v in kwargs.items()}
    loss = torch_fn(x_t, *(torch.as_tensor(a) for a in args), **converted)
    loss.backward(torch.as_tensor(grad_output))
    return loss.detach().numpy(), x_t.grad.numpy()


def draw_grad_output(rng, loss_shape: tuple[int, ...], reduction: str, dtype) -> np.ndarray:
    """Random per-element gradients for 'none'; a random scalar for 'mean'/'sum'."""
    shape = loss_shape if reduction == "none" else ()
    return rng.normal(size=shape).astype(dtype)


@st.composite
def classification_config(draw, allow_unbatched: bool = True):
    """An input shape ``(N, C, *spatial)`` or unbatched ``(C,)`` plus the common options."""
    num_classes = draw(st.integers(2, 8))
    unbatched = allow_unbatched and draw(st.booleans()) and draw(st.booleans())
    if unbatched:
        shape = (num_classes,)
    else:
        spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
        shape = (draw(st.integers(1, 6)), num_classes, *spatial)
    return {
        "shape": shape,
        "num_classes": num_classes,
        "reduction": draw(st.sampled_from(REDUCTIONS)),
        "use_weight": draw(st.booleans()),
        "dtype": draw(st.sampled_from(DTYPES)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def class_axis(shape: tuple[int, ...]) -> int:
    return 0 if len(shape) == 1 else 1


def draw_class_targets(rng, shape, ignore_index: int, ignore_fraction: float) -> np.ndarray:
    axis = class_axis(shape)
    loss_shape = shape[:axis] + shape[axis + 1:]
    target = rng.integers(0, shape[axis], size=loss_shape)
    target = np.where(rng.random(loss_shape) < ignore_fraction, ignore_index, target)
    return np.asarray(target, dtype=np.int64)


# ---------------------------------------------------------------------------- cross_entropy
@settings(max_examples=60, deadline=None)
@given(config=classification_config(),
       ignore_in_range=st.booleans(),
       ignore_fraction=st.sampled_from([0.0, 0.3, 1.0]),
       label_smoothing=st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
def test_cross_entropy_class_indices_matches_torch(config, ignore_in_range, ignore_fraction,
                                                   label_smoothing):
    rng = np.random.default_rng(config["seed"])
    dtype, shape, C = config["dtype"], config["shape"], config["num_classes"]
    x = (rng.normal(size=shape) * 3).astype(dtype)
    # ignore_index is either the default -100 or a real class, which then never counts.
    ignore_index = int(rng.integers(0, C)) if ignore_in_range else -100
    target = draw_class_targets(rng, shape, ignore_index, ignore_fraction)
    weight = rng.uniform(0.1, 2.0, size=C).astype(dtype) if config["use_weight"] else None
    kwargs = {"weight": weight, "ignore_index": ignore_index,
              "reduction": config["reduction"], "label_smoothing": label_smoothing}

    loss = cross_entropy(x, target, **kwargs)
    grad_output = draw_grad_output(rng, np.shape(loss), config["reduction"], dtype)
    grad = cross_entropy_backward(grad_output, x, target, **kwargs)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.cross_entropy, x, (target,), kwargs, grad_output)

    assert_close(loss, expected_loss, dtype, "cross_entropy loss", atol=ATOL[dtype])
    assert_close(grad, expected_grad, dtype, "cross_entropy input gradient", atol=ATOL[dtype])
    assert_dtype(loss, dtype, "cross_entropy loss")
    assert_dtype(grad, dtype, "cross_entropy gradient")
    assert grad.shape == x.shape


@settings(max_examples=50, deadline=None)
@given(config=classification_config(),
       label_smoothing=st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
       normalised=st.booleans())
def test_cross_entropy_probability_targets_matches_torch(config, label_smoothing, normalised):
    rng = np.random.default_rng(config["seed"])
    dtype, shape, C = config["dtype"], config["shape"], config["num_classes"]
    x = (rng.normal(size=shape) * 3).astype(dtype)
    # torch does not require the probabilities to sum to 1; neither do we.
    target = rng.random(size=shape)
    if normalised:
        target = target / target.sum(axis=class_axis(shape), keepdims=True)
    target = target.astype(dtype)
    weight = rng.uniform(0.1, 2.0, size=C).astype(dtype) if config["use_weight"] else None
    kwargs = {"weight": weight, "reduction": config["reduction"],
              "label_smoothing": label_smoothing}

    loss = cross_entropy(x, target, **kwargs)
    grad_output = draw_grad_output(rng, np.shape(loss), config["reduction"], dtype)
    grad = cross_entropy_backward(grad_output, x, target, **kwargs)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.cross_entropy, x, (target,), kwargs, grad_output)

    assert_close(loss, expected_loss, dtype, "cross_entropy loss (probability targets)",
                 atol=ATOL[dtype])
    assert_close(grad, expected_grad, dtype, "cross_entropy gradient (probability targets)",
                 atol=ATOL[dtype])
    assert_dtype(loss, dtype, "cross_entropy loss")
    assert_dtype(grad, dtype, "cross_entropy gradient")


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("use_weight", [False, True])
def test_cross_entropy_all_ignored_mean_is_nan_with_zero_gradient(label_smoothing, use_weight):
    x = np.random.default_rng(0).normal(size=(3, 4))
    target = np.full(3, -100)
    weight = np.array([0.5, 1.0, 2.0, 3.0]) if use_weight else None
    kwargs = {"weight": weight, "label_smoothing": label_smoothing}
    loss = cross_entropy(x, target, **kwargs)
    grad = cross_entropy_backward(1.0, x, target, **kwargs)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.cross_entropy, x, (target,), kwargs, np.ones(()))
    assert np.isnan(loss) and np.isnan(expected_loss), "mean over no targets should be NaN"
    np.testing.assert_array_equal(grad, expected_grad)
    np.testing.assert_array_equal(grad, np.zeros_like(x))


def test_cross_entropy_extreme_logits_are_finite_and_match_torch():
    x = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]])
    target = np.array([1, 2])
    loss = cross_entropy(x, target, reduction="none")
    grad = cross_entropy_backward(np.ones(2), x, target, reduction="none")
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.cross_entropy, x, (target,), {"reduction": "none"}, np.ones(2))
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert_close(loss, expected_loss, np.float64, "cross_entropy on extreme logits",
                 atol=ATOL[np.float64])
    assert_close(grad, expected_grad, np.float64, "cross_entropy gradient on extreme logits",
                 atol=ATOL[np.float64])


def test_cross_entropy_does_not_modify_its_arguments():
    rng = np.random.default_rng(1)
    x, target = rng.normal(size=(4, 3, 2)), np.array([[0, -100], [1, 2], [2, 2], [0, 1]])
    weight, grad_output = np.array([1.0, 2.0, 0.5]), rng.normal(size=(4, 2))
    copies = [a.copy() for a in (x, target, weight, grad_output)]
    cross_entropy(x, target, weight, reduction="none", label_smoothing=0.1)
    cross_entropy_backward(grad_output, x, target, weight, reduction="none",
                           label_smoothing=0.1)
    for original, copy in zip((x, target, weight, grad_output), copies):
        np.testing.assert_array_equal(original, copy, err_msg="an argument was modified")


# ---------------------------------------------------------------------------- nll_loss
@settings(max_examples=50, deadline=None)
@given(config=classification_config(),
       ignore_in_range=st.booleans(),
       ignore_fraction=st.sampled_from([0.0, 0.3, 1.0]))
def test_nll_loss_matches_torch(config, ignore_in_range, ignore_fraction):
    rng = np.random.default_rng(config["seed"])
    dtype, shape, C = config["dtype"], config["shape"], config["num_classes"]
    # nll_loss takes any values (log-probabilities in practice): no need to normalise them.
    x = rng.normal(size=shape).astype(dtype)
    ignore_index = int(rng.integers(0, C)) if ignore_in_range else -100
    target = draw_class_targets(rng, shape, ignore_index, ignore_fraction)
    weight = rng.uniform(0.1, 2.0, size=C).astype(dtype) if config["use_weight"] else None
    kwargs = {"weight": weight, "ignore_index": ignore_index,
              "reduction": config["reduction"]}

    loss = nll_loss(x, target, **kwargs)
    grad_output = draw_grad_output(rng, np.shape(loss), config["reduction"], dtype)
    grad = nll_loss_backward(grad_output, x, target, **kwargs)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.nll_loss, x, (target,), kwargs, grad_output)

    assert_close(loss, expected_loss, dtype, "nll_loss", atol=ATOL[dtype])
    assert_close(grad, expected_grad, dtype, "nll_loss input gradient", atol=ATOL[dtype])
    assert_dtype(loss, dtype, "nll_loss loss")
    assert_dtype(grad, dtype, "nll_loss gradient")


def test_cross_entropy_is_nll_of_log_softmax():
    rng = np.random.default_rng(2)
    x, target = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    log_probs = torch.log_softmax(torch.tensor(x), dim=1).numpy()
    np.testing.assert_allclose(cross_entropy(x, target), nll_loss(log_probs, target),
                               rtol=1e-12)


# ---------------------------------------------------------------------------- mse_loss
@st.composite
def any_shape(draw, min_dims: int = 0):
    return tuple(draw(st.lists(st.integers(1, 5), min_size=min_dims, max_size=4)))


@settings(max_examples=40, deadline=None)
@given(shape=any_shape(), reduction=st.sampled_from(REDUCTIONS),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_mse_loss_matches_torch(shape, reduction, dtype, seed):
    rng = np.random.default_rng(seed)
    x, target = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    loss = mse_loss(x, target, reduction=reduction)
    grad_output = draw_grad_output(rng, np.shape(loss), reduction, dtype)
    grad = mse_loss_backward(grad_output, x, target, reduction=reduction)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.mse_loss, x, (target,), {"reduction": reduction}, grad_output)
    assert_close(loss, expected_loss, dtype, "mse_loss", atol=ATOL[dtype])
    assert_close(grad, expected_grad, dtype, "mse_loss input gradient", atol=ATOL[dtype])
    assert_dtype(loss, dtype, "mse_loss loss")
    assert_dtype(grad, dtype, "mse_loss gradient")


# ---------------------------------------------------------------------------- bce with logits
@st.composite
def broadcastable_to(draw, shape: tuple[int, ...]):
    """A shape that broadcasts to ``shape``: a suffix of it with some sizes set to 1."""
    suffix = shape[len(shape) - draw(st.integers(0, len(shape))):]
    return tuple(1 if draw(st.booleans()) else size for size in suffix)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=any_shape(min_dims=1), reduction=st.sampled_from(REDUCTIONS),
       dtype=st.sampled_from(DTYPES), logit_scale=st.sampled_from([1.0, 10.0, 100.0]),
       use_weight=st.booleans(), use_pos_weight=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_binary_cross_entropy_with_logits_matches_torch(data, shape, reduction, dtype,
                                                        logit_scale, use_weight,
                                                        use_pos_weight, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * logit_scale).astype(dtype)
    # Hard 0/1 labels and soft ones both occur in practice.
    target = np.where(rng.random(shape) < 0.5, rng.integers(0, 2, size=shape),
                      rng.random(shape)).astype(dtype)
    weight = (rng.uniform(0.1, 2.0, size=data.draw(broadcastable_to(shape))).astype(dtype)
              if use_weight else None)
    pos_weight = (rng.uniform(0.1, 4.0, size=data.draw(broadcastable_to(shape))).astype(dtype)
                  if use_pos_weight else None)
    kwargs = {"weight": weight, "reduction": reduction, "pos_weight": pos_weight}

    loss = binary_cross_entropy_with_logits(x, target, **kwargs)
    grad_output = draw_grad_output(rng, np.shape(loss), reduction, dtype)
    grad = binary_cross_entropy_with_logits_backward(grad_output, x, target, **kwargs)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.binary_cross_entropy_with_logits, x, (target,), kwargs, grad_output)

    assert_close(loss, expected_loss, dtype, "binary_cross_entropy_with_logits", atol=ATOL[dtype])
    assert_close(grad, expected_grad, dtype, "binary_cross_entropy_with_logits gradient",
                 atol=ATOL[dtype])
    assert_dtype(loss, dtype, "binary_cross_entropy_with_logits loss")
    assert_dtype(grad, dtype, "binary_cross_entropy_with_logits gradient")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_binary_cross_entropy_with_logits_is_stable_at_extreme_logits(dtype, use_pos_weight):
    x = np.array([-100.0, 100.0, -100.0, 100.0, -1e4, 1e4], dtype=dtype)
    target = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.5], dtype=dtype)
    pos_weight = np.full(6, 3.0, dtype=dtype) if use_pos_weight else None
    kwargs = {"reduction": "none", "pos_weight": pos_weight}
    # Underflow to 0 is harmless (exp(-1e4)); overflow or inf - inf would not be.
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss = binary_cross_entropy_with_logits(x, target, **kwargs)
        grad = binary_cross_entropy_with_logits_backward(np.ones(6, dtype), x, target,
                                                         **kwargs)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad)), (loss, grad)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_F.binary_cross_entropy_with_logits, x, (target,), kwargs, np.ones(6, dtype))
    assert_close(loss, expected_loss, dtype, "bce with logits at +-100", atol=ATOL[dtype])
    assert_close(grad, expected_grad, dtype, "bce with logits gradient at +-100", atol=ATOL[dtype])
    # Confidently right costs ~0; confidently wrong at 100 costs ~100 (times pos_weight).
    assert loss[0] < 1e-30 and loss[1] < 1e-30
    assert loss[2] == pytest.approx(100.0 * (3.0 if use_pos_weight else 1.0), rel=1e-6)


# ---------------------------------------------------------------------------- empty batches
EMPTY_CASES = {
    "cross_entropy": (cross_entropy, cross_entropy_backward, torch_F.cross_entropy,
                      lambda x: np.zeros(0, dtype=np.int64)),
    "cross_entropy_probabilities": (cross_entropy, cross_entropy_backward,
                                    torch_F.cross_entropy, np.zeros_like),
    "nll_loss": (nll_loss, nll_loss_backward, torch_F.nll_loss,
                 lambda x: np.zeros(0, dtype=np.int64)),
    "mse_loss": (mse_loss, mse_loss_backward, torch_F.mse_loss, np.zeros_like),
    "binary_cross_entropy_with_logits": (
        binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_backward,
        torch_F.binary_cross_entropy_with_logits, np.zeros_like),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(EMPTY_CASES))
def test_empty_batch_matches_torch(case, reduction):
    """An empty batch: 'mean' is NaN (0 / 0), 'sum' is 0, 'none' is empty, as in torch."""
    forward, backward, torch_fn, make_target = EMPTY_CASES[case]
    x = np.zeros((0, 4))
    target = make_target(x)
    loss = forward(x, target, reduction=reduction)
    grad_output = np.zeros(np.shape(loss)) if reduction == "none" else np.ones(())
    grad = backward(grad_output, x, target, reduction=reduction)
    expected_loss, expected_grad = torch_value_and_grad(
        torch_fn, x, (target,), {"reduction": reduction}, grad_output)
    np.testing.assert_array_equal(loss, expected_loss)  # NaN equals NaN here
    assert np.shape(loss) == expected_loss.shape
    assert grad.shape == expected_grad.shape == (0, 4)


# ---------------------------------------------------------------------------- errors
X = np.zeros((3, 5))
LABELS = np.array([0, 1, 2])


def _call_backward(backward, *args, **kwargs):
    return lambda: backward(np.ones(()), *args, **kwargs)


ERROR_CASES = [
    # (id, callable, exception type, words the message must contain)
    ("bad reduction", lambda: cross_entropy(X, LABELS, reduction="average"), ValueError,
     ["cross_entropy", "average is not a valid value for reduction"]),
    ("bad reduction nll", lambda: nll_loss(X, LABELS, reduction="avg"), ValueError,
     ["nll_loss", "not a valid value for reduction"]),
    ("bad reduction mse", lambda: mse_loss(X, X, reduction=None), ValueError,
     ["mse_loss", "not a valid value for reduction"]),
    ("bad reduction bce",
     lambda: binary_cross_entropy_with_logits(X, X, reduction="mean "), ValueError,
     ["binary_cross_entropy_with_logits", "not a valid value for reduction"]),
    ("integer input", lambda: cross_entropy(X.astype(np.int64), LABELS), TypeError,
     ["cross_entropy", "float32 or float64", "int64"]),
    ("list input", lambda: mse_loss([1.0, 2.0], np.zeros(2)), TypeError,
     ["mse_loss", "numpy.ndarray", "list"]),
    ("float class indices", lambda: cross_entropy(X, LABELS.astype(np.float64)), TypeError,
     ["cross_entropy", "integer class indices", "float64"]),
    ("integer probabilities", lambda: cross_entropy(X, np.zeros((3, 5), np.int64)), TypeError,
     ["cross_entropy", "floating-point target", "int64"]),
    ("target shape", lambda: cross_entropy(X, np.array([0, 1])), ValueError,
     ["cross_entropy", "(3,)", "(2,)"]),
    ("spatial target shape", lambda: nll_loss(np.zeros((2, 3, 4)), np.zeros((2, 5), int)),
     ValueError, ["nll_loss", "(2, 4)", "(2, 5)"]),
    ("target too large", lambda: cross_entropy(X, np.array([0, 10, 1])), ValueError,
     ["cross_entropy", "Target 10 is out of bounds", "[0, 5)"]),
    ("negative target", lambda: nll_loss(X, np.array([0, -3, 1])), ValueError,
     ["nll_loss", "Target -3 is out of bounds", "[0, 5)"]),
    ("target equal to C", lambda: cross_entropy(X, np.array([5, 0, 1]), ignore_index=0),
     ValueError, ["cross_entropy", "Target 5", "[0, 5)"]),
    ("label_smoothing above 1", lambda: cross_entropy(X, LABELS, label_smoothing=1.5),
     ValueError, ["cross_entropy", "label_smoothing", "1.5"]),
    ("label_smoothing negative", lambda: cross_entropy(X, X, label_smoothing=-0.1),
     ValueError, ["cross_entropy", "label_smoothing", "-0.1"]),
    ("float ignore_index", lambda: nll_loss(X, LABELS, ignore_index=1.0), TypeError,
     ["nll_loss", "ignore_index must be an int", "1.0"]),
    ("weight shape", lambda: cross_entropy(X, LABELS, weight=np.ones(3)), ValueError,
     ["cross_entropy", "(5,)", "(3,)"]),
    ("ignore_index with probabilities", lambda: cross_entropy(X, X, ignore_index=1),
     ValueError, ["cross_entropy", "ignore_index"]),
    ("0-d input", lambda: cross_entropy(np.zeros(()), np.array(0)), ValueError,
     ["cross_entropy", "at least 1 dimension"]),
    ("mse target shape", lambda: mse_loss(X, np.zeros((3, 1))), ValueError,
     ["mse_loss", "(3, 5)", "(3, 1)"]),
    ("mse integer target", lambda: mse_loss(X, np.zeros((3, 5), int)), TypeError,
     ["mse_loss", "floating-point target"]),
    ("bce target shape", lambda: binary_cross_entropy_with_logits(X, np.zeros(5)), ValueError,
     ["binary_cross_entropy_with_logits", "(3, 5)", "(5,)"]),
    ("bce weight does not broadcast",
     lambda: binary_cross_entropy_with_logits(X, X, weight=np.ones(3)), ValueError,
     ["binary_cross_entropy_with_logits", "weight", "(3,)", "(3, 5)"]),
    ("bce pos_weight grows the shape",
     lambda: binary_cross_entropy_with_logits(X, X, pos_weight=np.ones((2, 3, 5))),
     ValueError, ["binary_cross_entropy_with_logits", "pos_weight", "(2, 3, 5)"]),
    ("backward grad_output shape 'none'",
     lambda: cross_entropy_backward(np.ones(2), X, LABELS, reduction="none"), ValueError,
     ["cross_entropy_backward", "grad_output", "(3,)", "(2,)"]),
    ("backward grad_output not scalar for 'mean'",
     lambda: mse_loss_backward(np.ones((3, 5)), X, X), ValueError,
     ["mse_loss_backward", "grad_output", "()"]),
    ("backward checks targets too", _call_backward(nll_loss_backward, X, np.array([0, 7, 1])),
     ValueError, ["nll_loss_backward", "Target 7"]),
    ("bce backward checks reduction",
     _call_backward(binary_cross_entropy_with_logits_backward, X, X, reduction="max"),
     ValueError, ["binary_cross_entropy_with_logits_backward", "reduction"]),
]


@pytest.mark.parametrize("call, error, words", [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_errors_name_the_loss_and_the_problem(call, error, words):
    with pytest.raises(error) as raised:
        call()
    message = str(raised.value)
    assert message.startswith(words[0] + ":"), f"message should start with the loss: {message}"
    for word in words[1:]:
        assert word in message, f"expected {word!r} in the message {message!r}"
