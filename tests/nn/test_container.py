"""Sequential against torch.nn.Sequential: naming, indexing, editing, repr, forward and backward."""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

from minicnn.nn.activation import ReLU, Sigmoid, Tanh
from minicnn.nn.container import Sequential
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Linear
from minicnn.nn.module import Module


def keys(sequential):
    return list(sequential._modules)


def twin_mlps():
    mlp = Sequential(Linear(6, 5, dtype=np.float64), ReLU(), Linear(5, 4, dtype=np.float64),
                     Tanh(), Linear(4, 3, dtype=np.float64), Sigmoid())
    torch_mlp = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4),
                                    torch.nn.Tanh(), torch.nn.Linear(4, 3),
                                    torch.nn.Sigmoid()).double()
    mlp.load_state_dict(torch_mlp.state_dict())
    return mlp, torch_mlp


class Recorder(Module):
    """Passes values through and notes the order of its forward and backward calls."""

    def __init__(self, name, log):
        super().__init__()
        self.name, self.log = name, log

    def forward(self, x):
        self.log.append(("forward", self.name))
        return x + 1

    def backward(self, grad_output):
        self.log.append(("backward", self.name))
        return grad_output * 2


# ----------------------------------------------------------------- construction and naming
def test_children_are_numbered_or_named_as_in_torch():
    numbered = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    torch_numbered = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                         torch.nn.Linear(3, 1))
    assert keys(numbered) == ["0", "1", "2"]
    assert list(numbered.state_dict()) == list(torch_numbered.state_dict())
    named = Sequential(OrderedDict([("fc", Linear(2, 3)), ("act", ReLU())]))
    torch_named = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 3)),
                                                   ("act", torch.nn.ReLU())]))
    assert keys(named) == ["fc", "act"]
    assert list(named.state_dict()) == list(torch_named.state_dict()) == ["fc.weight", "fc.bias"]


def test_repr_equals_torchs():
    model = Sequential(
        Flatten(), Linear(4, 3), ReLU(inplace=True),
        Sequential(OrderedDict([("inner", Linear(3, 2, bias=False)), ("act", Tanh())])),
    )
    torch_model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.ReLU(inplace=True),
        torch.nn.Sequential(OrderedDict([("inner", torch.nn.Linear(3, 2, bias=False)),
                                         ("act", torch.nn.Tanh())])),
    )
    assert repr(model) == repr(torch_model)
    assert repr(Sequential()) == repr(torch.nn.Sequential()) == "Sequential()"


# ----------------------------------------------------------------- indexing and editing
def test_indexing_negative_indexing_and_range_errors():
    layers = [Linear(2, 3), ReLU(), Linear(3, 1)]
    model = Sequential(*layers)
    assert model[0] is layers[0] and model[2] is layers[2]
    assert model[-1] is layers[2] and model[-3] is layers[0]
    for index in (3, -4):
        with pytest.raises(IndexError) as torch_error:
            torch.nn.Sequential(torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.ReLU())[index]
        with pytest.raises(IndexError, match=re.escape(str(torch_error.value))):
            model[index]


def test_slicing_returns_a_sequential_that_keeps_keys_and_modules():
    layers = [Linear(2, 3), ReLU(), Linear(3, 3), Tanh()]
    model = Sequential(*layers)
    torch_model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                      torch.nn.Linear(3, 3), torch.nn.Tanh())
    for index in (slice(1, None), slice(None, None, 2), slice(-2, None), slice(None, None, -1)):
        part = model[index]
        assert isinstance(part, Sequential)
        assert keys(part) == list(torch_model[index]._modules)
        assert list(part) == layers[index], "a slice holds the same module objects"
    named = Sequential(OrderedDict([("a", ReLU()), ("b", Tanh()), ("c", ReLU())]))
    assert keys(named[1:]) == ["b", "c"]


def test_len_iteration_append_extend_and_setitem():
    first, second, third = Linear(2, 3), ReLU(), Linear(3, 1)
    model = Sequential(first)
    assert model.append(second) is model
    assert model.extend([third]) is model
    assert len(model) == 3 and keys(model) == ["0", "1", "2"]
    assert list(model) == [first, second, third]
    replacement = Tanh()
    model[-2] = replacement
    assert model[1] is replacement and keys(model) == ["0", "1", "2"]
    torch_model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    torch_model.append(torch.nn.ReLU()).extend([torch.nn.Linear(3, 1)])
    assert list(model.state_dict()) == list(torch_model.state_dict())


def test_insert_puts_the_module_at_the_index():
    a, b, c = ReLU(), Tanh(), Sigmoid()
    model = Sequential(a, c).insert(1, b)
    assert list(model) == [a, b, c] and keys(model) == ["0", "1", "2"]


@pytest.mark.parametrize("index", [0, 1, -1, slice(0, 2), slice(None, None, 2)])
def test_del_renumbers_the_remaining_children_as_torch(index):
    layers = [Linear(2, 3), ReLU(), Linear(3, 3), Tanh()]
    model = Sequential(*layers)
    torch_model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                      torch.nn.Linear(3, 3), torch.nn.Tanh())
    del model[index]
    del torch_model[index]
    remaining = layers.copy()
    del remaining[index]
    assert list(model) == remaining
    assert keys(model) == list(torch_model._modules)
    assert list(model.state_dict()) == list(torch_model.state_dict())


# ----------------------------------------------------------------- forward and backward
def test_forward_runs_in_order_and_backward_in_reverse():
    log = []
    model = Sequential(Recorder("a", log), Recorder("b", log), Recorder("c", log))
    assert model(np.zeros(2)).tolist() == [3.0, 3.0]
    assert model.backward(np.ones(2)).tolist() == [8.0, 8.0]
    assert log == [("forward", "a"), ("forward", "b"), ("forward", "c"),
                   ("backward", "c"), ("backward", "b"), ("backward", "a")]


def test_empty_sequential_passes_values_through():
    x = np.ones(3)
    assert Sequential()(x) is x
    assert Sequential().backward(x) is x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forward_and_gradients_of_an_mlp_match_torch(seed):
    mlp, torch_mlp = twin_mlps()
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal((7, 6)), rng.standard_normal((7, 3))
    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch_mlp(x_t)
    y_t.backward(torch.tensor(g))
    np.testing.assert_allclose(mlp(x), y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mlp.backward(g), x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, param), (torch_name, torch_param) in zip(mlp.named_parameters(),
                                                        torch_mlp.named_parameters()):
        assert name == torch_name
        np.testing.assert_allclose(param.grad, torch_param.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name}.grad")


def test_children_hooks_fire_inside_a_sequential():
    mlp, _ = twin_mlps()
    seen = []
    mlp[1].register_forward_hook(lambda m, a, o: seen.append("forward"))
    mlp[1].register_full_backward_hook(lambda m, gi, go: seen.append("backward"))
    mlp(np.ones((2, 6)))
    mlp.backward(np.ones((2, 3)))
    assert seen == ["forward", "backward"]
