"""The Optimizer base class: param groups, zero_grad, state_dict round trips, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.nn.parameter import Parameter
from minicnn.optim import SGD, Adam, AdamW, Optimizer, RMSprop

# One option set per optimiser that exercises all of its state buffers.
CONFIGURATIONS = {
    "SGD": (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True,
                                   "weight_decay": 1e-3}),
    "Adam": (Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 1e-2}),
    "AdamW": (AdamW, torch.optim.AdamW, {"lr": 0.01, "amsgrad": True}),
    "RMSprop": (RMSprop, torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True,
                                               "weight_decay": 1e-3}),
}
SHAPES = ((3, 4), (5,), (2, 3))


def make_parameters(seed: int, dtype=np.float64) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(shape).astype(dtype)) for shape in SHAPES]


def gradient_sequence(seed: int, steps: int, dtype=np.float64) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed + 1)
    return [[rng.standard_normal(shape).astype(dtype) for shape in SHAPES] for _ in range(steps)]


def train(optimizer: Optimizer, params: list[Parameter], grads: list[list[np.ndarray]]) -> None:
    for step_grads in grads:
        for param, grad in zip(params, step_grads):
            param.grad = grad.copy()
        optimizer.step()


def assert_plain(value, where: str = "state_dict") -> None:
    """Fail unless ``value`` is built only from arrays, numbers, strings, None and containers."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, (int, str)), f"{where}: key {key!r} is not an int or str"
            assert_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_plain(item, f"{where}[{i}]")
    else:
        assert value is None or isinstance(value, (np.ndarray, bool, int, float, str)), (
            f"{where} is a {type(value).__name__}, not a plain value a checkpoint can store"
        )


# --------------------------------------------------------------------------- state dict
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_resuming_from_a_state_dict_is_bit_identical(name):
    ours, _, options = CONFIGURATIONS[name]
    grads = gradient_sequence(seed=3, steps=50)

    uninterrupted = make_parameters(seed=3)
    train(ours(uninterrupted, **options), uninterrupted, grads)

    first_half = make_parameters(seed=3)
    optimizer = ours(first_half, **options)
    train(optimizer, first_half, grads[:20])
    saved_state = optimizer.state_dict()
    saved_values = [param.data.copy() for param in first_half]
    train(optimizer, first_half, grads[20:25])  # must not leak into the saved snapshot

    resumed = [Parameter(values) for values in saved_values]
    fresh = ours(resumed, lr=123.0)  # options come from the state dict, not the constructor
    fresh.load_state_dict(saved_state)
    train(fresh, resumed, grads[20:])
    for i, (a, b) in enumerate(zip(resumed, uninterrupted)):
        np.testing.assert_array_equal(
            a.data, b.data, err_msg=f"parameter {i}: 20 + 30 resumed steps differ from 50 steps"
        )


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_state_dict_has_torchs_layout_and_values(name):
    ours, theirs, options = CONFIGURATIONS[name]
    params = make_parameters(seed=5)
    tensors = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    our_optimizer = ours([{"params": params[:1]}, {"params": params[1:], "lr": 0.002}], **options)
    their_optimizer = theirs(
        [{"params": tensors[:1]}, {"params": tensors[1:], "lr": 0.002}], **options
    )
    for step_grads in gradient_sequence(seed=5, steps=4):
        for param, tensor, grad in zip(params, tensors, step_grads):
            param.grad, tensor.grad = grad.copy(), torch.from_numpy(grad.copy())
        our_optimizer.step()
        their_optimizer.step()

    ours_dict, theirs_dict = our_optimizer.state_dict(), their_optimizer.state_dict()
    assert set(ours_dict) == {"state", "param_groups"}
    assert ours_dict["state"].keys() == theirs_dict["state"].keys()
    for index, their_state in theirs_dict["state"].items():
        our_state = ours_dict["state"][index]
        assert our_state.keys() == their_state.keys(), f"state {index}: keys differ from torch's"
        for key, value in their_state.items():
            np.testing.assert_allclose(our_state[key], value.numpy(), rtol=1e-12,
                                       err_msg=f"state {index} {key!r}")
    for our_group, their_group in zip(ours_dict["param_groups"], theirs_dict["param_groups"]):
        assert our_group["params"] == their_group["params"]
        for key, value in our_group.items():
            assert their_group[key] == value, f"param group option {key}: {value} vs torch's"
    assert_plain(ours_dict)


def test_a_torch_state_dict_converted_to_numpy_loads_and_continues_like_torch():
    # A checkpoint written by torch (tensors -> arrays, float 'step' counters) is accepted.
    params = make_parameters(seed=9)
    tensors = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    their_optimizer = torch.optim.Adam(tensors, lr=0.01)
    grads = gradient_sequence(seed=9, steps=10)
    for step_grads in grads[:5]:
        for tensor, grad in zip(tensors, step_grads):
            tensor.grad = torch.from_numpy(grad.copy())
        their_optimizer.step()
    converted = their_optimizer.state_dict()
    converted = {
        "state": {i: {k: v.numpy().copy() for k, v in s.items()}
                  for i, s in converted["state"].items()},
        "param_groups": converted["param_groups"],
    }
    resumed = [Parameter(t.detach().numpy().copy()) for t in tensors]
    our_optimizer = Adam(resumed)
    our_optimizer.load_state_dict(converted)
    assert isinstance(our_optimizer.state[resumed[0]]["step"], int)
    train(our_optimizer, resumed, grads[5:])
    for step_grads in grads[5:]:
        for tensor, grad in zip(tensors, step_grads):
            tensor.grad = torch.from_numpy(grad.copy())
        their_optimizer.step()
    for param, tensor in zip(resumed, tensors):
        np.testing.assert_allclose(param.data, tensor.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_load_state_dict_casts_buffers_to_the_parameters_dtype():
    params64 = make_parameters(seed=2)
    optimizer = Adam(params64)
    train(optimizer, params64, gradient_sequence(seed=2, steps=3))
    params32 = make_parameters(seed=2, dtype=np.float32)
    restored = Adam(params32)
    restored.load_state_dict(optimizer.state_dict())
    for param in params32:
        for key in ("exp_avg", "exp_avg_sq"):
            assert restored.state[param][key].dtype == np.float32, f"{key} was not cast"


def test_load_state_dict_rejects_a_mismatched_optimizer():
    optimizer = SGD(make_parameters(seed=1), lr=0.1, momentum=0.9)
    train(optimizer, optimizer.param_groups[0]["params"], gradient_sequence(seed=1, steps=1))
    saved = optimizer.state_dict()
    params = make_parameters(seed=1)
    with pytest.raises(ValueError, match="parameter groups"):
        SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="has 3 parameters in the state dict, 2"):
        SGD(params[:2], lr=0.1).load_state_dict(saved)
    other_shapes = [Parameter(np.zeros((2, 2))) for _ in SHAPES]
    with pytest.raises(ValueError, match=r"momentum_buffer.*shape"):
        SGD(other_shapes, lr=0.1).load_state_dict(saved)


def test_state_is_keyed_by_parameter_and_state_dict_by_index():
    params = make_parameters(seed=4)
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    params[1].grad = np.ones(params[1].shape)
    optimizer.step()
    assert list(optimizer.state) == [params[1]], "only the parameter with a gradient has state"
    saved = optimizer.state_dict()
    assert list(saved["state"]) == [1]
    assert saved["param_groups"][0]["params"] == [0, 1, 2]


# --------------------------------------------------------------------------- groups
@settings(max_examples=25, deadline=None)
@given(
    lrs=st.lists(st.floats(1e-4, 0.1), min_size=2, max_size=3),
    momenta=st.lists(st.floats(0.0, 0.95), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_param_groups_with_their_own_options_match_torch(against_torch, lrs, momenta, seed):
    def groups(params):
        # Each group sets its own lr; the first also its own momentum, the rest inherit.
        split = [params[:1], params[1:2], params[2:]][: len(lrs)]
        split[-1] = params[len(lrs) - 1:]
        result = [{"params": p, "lr": lr} for p, lr in zip(split, lrs)]
        result[0]["momentum"] = momenta[0]
        return result

    run = against_torch(
        lambda params: SGD(groups(params), lr=1.0, momentum=momenta[1], weight_decay=1e-3),
        lambda params: torch.optim.SGD(groups(params), lr=1.0, momentum=momenta[1],
                                       weight_decay=1e-3),
        seed=seed,
    )
    run.assert_parameters_match()
    for group, lr in zip(run.ours_optimizer.param_groups, lrs):
        assert group["lr"] == lr


def test_groups_take_missing_options_from_the_defaults():
    params = make_parameters(seed=0)
    optimizer = RMSprop([{"params": params[:2], "alpha": 0.5}, {"params": params[2:]}], lr=0.3)
    first, second = optimizer.param_groups
    assert (first["lr"], first["alpha"]) == (0.3, 0.5)
    assert (second["lr"], second["alpha"]) == (0.3, 0.99)


def test_add_param_group_mid_training_matches_torch():
    params = make_parameters(seed=6)
    tensors = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    ours, theirs = Adam(params[:2], lr=0.01), torch.optim.Adam(tensors[:2], lr=0.01)
    grads = gradient_sequence(seed=6, steps=10)
    for step, step_grads in enumerate(grads):
        if step == 4:
            ours.add_param_group({"params": params[2], "lr": 0.05})
            theirs.add_param_group({"params": tensors[2], "lr": 0.05})
        for param, tensor, grad in zip(params, tensors, step_grads):
            param.grad, tensor.grad = grad.copy(), torch.from_numpy(grad.copy())
        ours.step()
        theirs.step()
    for param, tensor in zip(params, tensors):
        np.testing.assert_allclose(param.data, tensor.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_named_parameters_are_accepted_and_names_kept():
    params = make_parameters(seed=0)
    named = [(f"layer{i}.weight", p) for i, p in enumerate(params)]
    optimizer = SGD(named, lr=0.1)
    assert optimizer.param_groups[0]["params"] == params
    assert optimizer.state_dict()["param_groups"][0]["param_names"] == [n for n, _ in named]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda p: SGD(p[0], lr=0.1), TypeError, "single Parameter"),
        (lambda p: SGD([p[0].data], lr=0.1), TypeError, "can only optimise minicnn Parameters"),
        (lambda p: SGD([p[0], p[0]], lr=0.1), ValueError, "same parameter twice"),
        (lambda p: SGD([{"params": set(p)}], lr=0.1), TypeError, "not a set"),
        (lambda p: SGD([{"lr": 0.1}]), ValueError, "'params' entry"),
        (lambda p: SGD([{"params": p[:2]}, {"params": p[1:]}]), ValueError, "more than one"),
        (lambda p: SGD([("w", p[0]), p[1]]), ValueError, "with a name, or none"),
    ],
)
def test_invalid_parameter_lists_raise_sentences(make, error, message):
    with pytest.raises(error, match=message):
        make(make_parameters(seed=0))


# --------------------------------------------------------------------------- stepping
def test_zero_grad_sets_to_none_or_zeroes_in_place():
    params = make_parameters(seed=0)
    optimizer = SGD(params, lr=0.1)
    for param in params:
        param.grad = np.ones(param.shape)
    grad_arrays = [param.grad for param in params]
    optimizer.zero_grad(set_to_none=False)
    for param, array in zip(params, grad_arrays):
        assert param.grad is array, "zero_grad(set_to_none=False) should reuse the array"
        np.testing.assert_array_equal(param.grad, 0)
    optimizer.zero_grad()
    assert all(param.grad is None for param in params)


def test_step_returns_the_closure_loss_after_calling_it():
    param = Parameter(np.array([2.0]))
    optimizer = SGD([param], lr=0.25)

    def closure():
        param.grad = 2 * param.data  # gradient of x**2
        return float(param.data[0] ** 2)

    assert optimizer.step(closure) == 4.0
    np.testing.assert_array_equal(param.data, [1.0])
    assert optimizer.step() is None


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_updates_are_in_place_and_never_touch_the_gradient(name):
    ours, _, options = CONFIGURATIONS[name]
    params = make_parameters(seed=8)
    arrays = [param.data for param in params]
    views = [param.data[:1] for param in params]
    optimizer = ours(params, **options)
    grads = gradient_sequence(seed=8, steps=3)
    for step_grads in grads:
        for param, grad in zip(params, step_grads):
            param.grad = grad
        optimizer.step()
    for param, array, view, grad in zip(params, arrays, views, grads[-1]):
        assert param.data is array, "the update must write into the same array object"
        np.testing.assert_array_equal(view, param.data[:1])
        assert param.grad is grad
    for param, original in zip(params, gradient_sequence(seed=8, steps=3)[-1]):
        np.testing.assert_array_equal(param.grad, original, err_msg="step() wrote into .grad")


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_float32_parameters_stay_float32_and_match_torch(against_torch, name):
    ours, theirs, options = CONFIGURATIONS[name]
    run = against_torch(
        lambda params: ours(params, **options),
        lambda params: theirs(params, **options),
        seed=11,
        dtype=np.float32,
    )
    for param in run.ours:
        assert param.data.dtype == np.float32, f"parameter became {param.data.dtype}"
        for key, value in run.ours_optimizer.state[param].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, f"state {key!r} became {value.dtype}"
    run.assert_parameters_match(rtol=1e-5, atol=1e-5)


def test_float32_update_ignores_float64_hyperparameters_and_gradients():
    param = Parameter(np.ones(4, dtype=np.float32))
    optimizer = Adam([param], lr=np.float64(0.1), betas=(np.float64(0.9), 0.999))
    param.grad = np.ones(4, dtype=np.float64)  # set by hand in the wrong dtype
    optimizer.step()
    assert param.data.dtype == np.float32
    assert optimizer.state[param]["exp_avg"].dtype == np.float32


def test_gradient_of_the_wrong_shape_is_reported():
    param = Parameter(np.zeros((2, 3)))
    optimizer = SGD([param], lr=0.1)
    param.grad = np.zeros(6)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) has a gradient of shape \(6,\)"):
        optimizer.step()


def test_repr_lists_each_group_like_torch():
    optimizer = SGD([{"params": make_parameters(seed=0)[:1], "lr": 0.5}], momentum=0.9)
    text = repr(optimizer)
    assert text.startswith("SGD (\nParameter Group 0\n")
    assert "    lr: 0.5\n" in text and "    momentum: 0.9\n" in text and text.endswith(")")
