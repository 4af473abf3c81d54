"""minicnn.nn.loss against torch.nn: values, input gradients, repr, state_dict, errors."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tests.helpers import ATOL, assert_close

REDUCTIONS = ("mean", "sum", "none")
DTYPES = (np.float64, np.float32)
LOSS_CLASSES = {
    CrossEntropyLoss: torch.nn.CrossEntropyLoss,
    NLLLoss: torch.nn.NLLLoss,
    MSELoss: torch.nn.MSELoss,
    BCEWithLogitsLoss: torch.nn.BCEWithLogitsLoss,
}


# ---------------------------------------------------------------------------- helpers
def torch_kwargs(kwargs: dict) -> dict:
    return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def compare_with_torch(loss_cls, kwargs: dict, x: np.ndarray, target: np.ndarray, rng,
                       what: str) -> None:
    """Forward and backward of ``loss_cls(**kwargs)`` against torch's, in x's dtype.

    'mean'/'sum' use backward()'s default grad_output of 1; 'none' a random one.
    """
    dtype = x.dtype
    ours = loss_cls(**kwargs)
    theirs = LOSS_CLASSES[loss_cls](**torch_kwargs(kwargs))
    loss = ours(x, target)
    x_t = torch.tensor(x, requires_grad=True)
    expected_loss = theirs(x_t, torch.as_tensor(target))
    if ours.reduction == "none":
        grad_output = rng.normal(size=np.shape(loss)).astype(dtype)
        grad = ours.backward(grad_output)
        expected_loss.backward(torch.as_tensor(grad_output))
    else:
        grad = ours.backward()
        expected_loss.backward()
    assert_close(loss, expected_loss.detach().numpy(), dtype, f"{what} loss", atol=ATOL[dtype])
    assert_close(grad, x_t.grad.numpy(), dtype, f"{what} input gradient", atol=ATOL[dtype])
    assert np.asarray(loss).dtype == dtype, f"{what}: loss dtype {np.asarray(loss).dtype}"
    assert grad.dtype == dtype and grad.shape == x.shape, f"{what}: gradient {grad.dtype}"


@st.composite
def classification_case(draw):
    """``(x, class-index target, constructor kwargs, rng)`` for CrossEntropyLoss/NLLLoss."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(DTYPES))
    C = draw(st.integers(2, 8))
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    shape = (draw(st.integers(1, 6)), C, *spatial)
    ignore_index = draw(st.sampled_from([-100, 0, C - 1]))
    target = rng.integers(0, C, size=(shape[0], *spatial))
    target = np.where(rng.random(target.shape) < 0.25, ignore_index, target)
    kwargs = {"reduction": draw(st.sampled_from(REDUCTIONS)), "ignore_index": ignore_index}
    if draw(st.booleans()):
        kwargs["weight"] = rng.uniform(0.1, 2.0, size=C).astype(dtype)
    x = (rng.normal(size=shape) * 2).astype(dtype)
    return x, target, kwargs, rng


# ---------------------------------------------------------------------------- parity
@settings(max_examples=40, deadline=None)
@given(case=classification_case(),
       label_smoothing=st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
def test_cross_entropy_loss_matches_torch(case, label_smoothing):
    x, target, kwargs, rng = case
    kwargs["label_smoothing"] = label_smoothing
    compare_with_torch(CrossEntropyLoss, kwargs, x, target, rng, "CrossEntropyLoss")


@settings(max_examples=25, deadline=None)
@given(case=classification_case(), label_smoothing=st.sampled_from([0.0, 0.1, 1.0]))
def test_cross_entropy_loss_with_probability_targets_matches_torch(case, label_smoothing):
    x, _, kwargs, rng = case
    kwargs.update(label_smoothing=label_smoothing, ignore_index=-100)
    target = rng.dirichlet(np.ones(x.shape[1]), size=(x.shape[0], *x.shape[2:]))
    target = np.moveaxis(target, -1, 1).astype(x.dtype)  # (N, *spatial, C) -> (N, C, *spatial)
    compare_with_torch(CrossEntropyLoss, kwargs, x, target, rng, "CrossEntropyLoss (probs)")


@settings(max_examples=30, deadline=None)
@given(case=classification_case())
def test_nll_loss_matches_torch(case):
    x, target, kwargs, rng = case
    log_probs = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    compare_with_torch(NLLLoss, kwargs, log_probs.astype(x.dtype), target, rng, "NLLLoss")


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple),
       reduction=st.sampled_from(REDUCTIONS), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**32 - 1))
def test_mse_loss_matches_torch(shape, reduction, dtype, seed):
    rng = np.random.default_rng(seed)
    x, target = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    compare_with_torch(MSELoss, {"reduction": reduction}, x, target, rng, "MSELoss")


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 6), C=st.integers(1, 8), reduction=st.sampled_from(REDUCTIONS),
       dtype=st.sampled_from(DTYPES), use_weight=st.booleans(), use_pos_weight=st.booleans(),
       logit_scale=st.sampled_from([1.0, 100.0]), seed=st.integers(0, 2**32 - 1))
def test_bce_with_logits_loss_matches_torch(N, C, reduction, dtype, use_weight, use_pos_weight,
                                            logit_scale, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(N, C)) * logit_scale).astype(dtype)
    target = rng.integers(0, 2, size=(N, C)).astype(dtype)
    kwargs = {"reduction": reduction}
    if use_weight:  # one weight per sample, broadcast over the classes
        kwargs["weight"] = rng.uniform(0.1, 2.0, size=(N, 1)).astype(dtype)
    if use_pos_weight:  # one per class, broadcast over the batch: the documented use
        kwargs["pos_weight"] = rng.uniform(0.5, 4.0, size=C).astype(dtype)
    compare_with_torch(BCEWithLogitsLoss, kwargs, x, target, rng, "BCEWithLogitsLoss")


def test_unbatched_cross_entropy_loss_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.normal(size=5)
    for reduction in REDUCTIONS:
        compare_with_torch(CrossEntropyLoss, {"reduction": reduction}, x, np.array(3), rng,
                           "unbatched CrossEntropyLoss")


# ---------------------------------------------------------------------------- module plumbing
LOSS_CONFIGS = [
    (CrossEntropyLoss, {}),
    (CrossEntropyLoss, {"weight": np.ones(3, np.float32), "reduction": "sum"}),
    (CrossEntropyLoss, {"ignore_index": 1, "label_smoothing": 0.1, "reduction": "none"}),
    (NLLLoss, {}),
    (NLLLoss, {"weight": np.arange(1, 4, dtype=np.float32), "ignore_index": 0}),
    (MSELoss, {}),
    (MSELoss, {"reduction": "sum"}),
    (BCEWithLogitsLoss, {}),
    (BCEWithLogitsLoss, {"pos_weight": np.full(3, 2.0, np.float32)}),
    (BCEWithLogitsLoss, {"weight": np.ones((2, 3), np.float32),
                         "pos_weight": np.ones(3, np.float32), "reduction": "none"}),
]
CONFIG_IDS = [f"{cls.__name__}-{sorted(kw)}" for cls, kw in LOSS_CONFIGS]


@pytest.mark.parametrize("loss_cls, kwargs", LOSS_CONFIGS, ids=CONFIG_IDS)
def test_repr_and_state_dict_match_torch(loss_cls, kwargs):
    ours = loss_cls(**kwargs)
    theirs = LOSS_CLASSES[loss_cls](**torch_kwargs(kwargs))
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.reduction == theirs.reduction
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], value.numpy())
    # torch's state_dict loads, and a torch-trained weight replaces ours.
    replaced = {name: value * 2 for name, value in theirs.state_dict().items()}
    ours.load_state_dict(replaced)
    for name, value in replaced.items():
        np.testing.assert_array_equal(ours.state_dict()[name], value.numpy())


@pytest.mark.parametrize("loss_cls", list(LOSS_CLASSES))
def test_constructor_signature_matches_torch(loss_cls):
    ours = inspect.signature(loss_cls.__init__).parameters
    theirs = inspect.signature(LOSS_CLASSES[loss_cls].__init__).parameters
    assert list(ours) == list(theirs)
    for name in ours:
        assert ours[name].default == theirs[name].default, f"default of {name}"


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
@pytest.mark.parametrize("loss_cls", [CrossEntropyLoss, MSELoss])
def test_deprecated_size_average_and_reduce_map_like_torch(loss_cls, size_average, reduce):
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = LOSS_CLASSES[loss_cls](size_average=size_average, reduce=reduce,
                                        reduction="none")
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = loss_cls(size_average=size_average, reduce=reduce, reduction="none")
    assert ours.reduction == theirs.reduction
    assert [str(w.message) for w in ours_warned] == [str(w.message) for w in theirs_warned]


def test_weight_buffer_follows_dtype_conversion_and_float32_stays_float32():
    rng = np.random.default_rng(4)
    loss_fn = CrossEntropyLoss(weight=np.array([1.0, 2.0, 3.0]))  # float64 weight
    x32, target = rng.normal(size=(4, 3)).astype(np.float32), np.array([0, 1, 2, 1])
    loss = loss_fn(x32, target)
    assert loss.dtype == np.float32, "a float64 weight must not upcast a float32 loss"
    assert loss_fn.backward().dtype == np.float32
    assert loss_fn.float().weight.dtype == np.float32
    assert loss_fn.double().weight.dtype == np.float64
    assert loss_fn(x32.astype(np.float64), target).dtype == np.float64
    assert list(dict(loss_fn.named_buffers())) == ["weight"]


def test_integer_weight_becomes_float32():
    assert NLLLoss(weight=np.array([1, 2, 3])).weight.dtype == np.float32


# ---------------------------------------------------------------------------- backward protocol
def test_backward_default_and_scalar_grad_output():
    rng = np.random.default_rng(5)
    x, target = rng.normal(size=(3, 4)), np.array([0, 3, 1])
    loss_fn = CrossEntropyLoss()
    loss_fn(x, target)
    default = loss_fn.backward()
    loss_fn(x, target)
    explicit = loss_fn.backward(np.array(1.0))
    loss_fn(x, target)
    doubled = loss_fn.backward(2.0)
    np.testing.assert_array_equal(default, explicit)
    np.testing.assert_allclose(doubled, 2 * default, rtol=1e-15)


def test_backward_needs_a_forward_each_time():
    loss_fn = MSELoss()
    with pytest.raises(RuntimeError, match=r"MSELoss\(\): backward\(\) called before forward"):
        loss_fn.backward()
    loss_fn(np.zeros(3), np.ones(3))
    loss_fn.backward()
    with pytest.raises(RuntimeError, match=r"MSELoss\(\): backward\(\) called before forward"):
        loss_fn.backward()


def test_reduction_none_requires_grad_output_of_the_loss_shape():
    loss_fn = CrossEntropyLoss(reduction="none")
    loss_fn(np.zeros((3, 4)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\): .*grad_output.*\(3,\)"):
        loss_fn.backward()
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\): .*grad_output.*\(3,\).*\(4,\)"):
        loss_fn.backward(np.ones(4))
    with pytest.raises(TypeError, match=r"CrossEntropyLoss\(\): .*grad_output"):
        loss_fn.backward(1.0)
    # A failed backward keeps the cache: a correct call still works.
    assert loss_fn.backward(np.ones(3)).shape == (3, 4)


def test_mean_reduction_rejects_non_scalar_grad_output():
    loss_fn = MSELoss()
    loss_fn(np.zeros((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"MSELoss\(\): expected grad_output of shape \(\)"):
        loss_fn.backward(np.ones((2, 2)))


def test_backward_hook_sees_grad_input_as_a_one_tuple_and_may_replace_it():
    seen = {}

    def hook(module, grad_input, grad_output):
        seen["grad_input"], seen["grad_output"] = grad_input, grad_output
        return (grad_input[0] * 0,)

    loss_fn = MSELoss()
    loss_fn.register_full_backward_hook(hook)
    loss_fn(np.ones(3), np.zeros(3))
    grad = loss_fn.backward()
    assert isinstance(seen["grad_input"], tuple) and len(seen["grad_input"]) == 1
    np.testing.assert_allclose(seen["grad_input"][0], np.full(3, 2 / 3))
    np.testing.assert_array_equal(grad, np.zeros(3))


def test_forward_hook_sees_input_and_target():
    loss_fn = NLLLoss()
    calls = []
    loss_fn.register_forward_hook(lambda module, args, output: calls.append((args, output)))
    x, target = np.log(np.full((2, 2), 0.5)), np.array([0, 1])
    loss = loss_fn(x, target)
    assert calls[0][0][0] is x and calls[0][0][1] is target and calls[0][1] == loss


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("loss_cls", list(LOSS_CLASSES))
def test_bad_reduction_is_refused_at_construction(loss_cls):
    with pytest.raises(ValueError, match=rf"{loss_cls.__name__}\(\): mean  is not a valid value "
                                         "for reduction"):
        loss_cls(reduction="mean ")


@pytest.mark.parametrize("make, error, pattern", [
    (lambda: CrossEntropyLoss(label_smoothing=1.1), ValueError,
     r"CrossEntropyLoss\(\): label_smoothing must be between 0.0 and 1.0, got 1.1"),
    (lambda: CrossEntropyLoss(label_smoothing=-0.5), ValueError,
     r"CrossEntropyLoss\(\): label_smoothing .* -0.5"),
    (lambda: CrossEntropyLoss(weight=np.ones((2, 3))), ValueError,
     r"CrossEntropyLoss\(\): expected a 1-D weight .* \(2, 3\)"),
    (lambda: NLLLoss(ignore_index=1.5), TypeError, r"NLLLoss\(\): ignore_index must be an int"),
    (lambda: BCEWithLogitsLoss(pos_weight=np.array(["a"])), TypeError,
     r"BCEWithLogitsLoss\(\): expected a numeric pos_weight"),
], ids=["smoothing > 1", "smoothing < 0", "2-D weight", "float ignore_index", "text pos_weight"])
def test_bad_constructor_arguments_name_the_loss(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


X = np.zeros((3, 5))


@pytest.mark.parametrize("loss_fn, input, target, error, pattern", [
    (CrossEntropyLoss(), X, np.array([0, 10, 1]), ValueError,
     r"CrossEntropyLoss\(\): Target 10 is out of bounds: .*\[0, 5\)"),
    (CrossEntropyLoss(), X, np.array([0.0, 1.0, 1.0]), TypeError,
     r"CrossEntropyLoss\(\): expected integer class indices"),
    (CrossEntropyLoss(weight=np.ones(4)), X, np.array([0, 1, 1]), ValueError,
     r"CrossEntropyLoss\(\): expected a weight of shape \(5,\)"),
    (NLLLoss(), X, np.array([[0, 1, 1]]), ValueError,
     r"NLLLoss\(\): expected a target of shape \(3,\)"),
    (NLLLoss(), X.astype(np.float16), np.array([0, 1, 1]), TypeError,
     r"NLLLoss\(\): expected a float32 or float64 input, got dtype float16"),
    (MSELoss(), X, np.zeros(5), ValueError, r"MSELoss\(\): expected a target of the input's"),
    (BCEWithLogitsLoss(pos_weight=np.ones(4)), X, X, ValueError,
     r"BCEWithLogitsLoss\(\): pos_weight of shape \(4,\) does not broadcast"),
], ids=["target out of range", "float class target", "weight size", "target shape",
        "float16 input", "mse shape", "pos_weight shape"])
def test_bad_inputs_name_the_loss(loss_fn, input, target, error, pattern):
    with pytest.raises(error, match=pattern):
        loss_fn(input, target)


def test_a_failed_forward_leaves_nothing_for_backward():
    loss_fn = CrossEntropyLoss()
    loss_fn(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match="Target 7"):
        loss_fn(np.zeros((2, 3)), np.array([0, 7]))
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        loss_fn.backward()
