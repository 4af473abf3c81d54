"""Sequential, ModuleList and ModuleDict against torch.nn's: naming, indexing, editing, repr,
state_dict, forward and backward."""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

from minicnn import nn as minicnn_nn
from minicnn.nn.activation import ReLU, Sigmoid, Tanh
from minicnn.nn.container import ModuleDict, ModuleList, Sequential
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Linear
from minicnn.nn.module import Module
from tests.helpers import assert_close


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


# ----------------------------------------------------------------- ModuleList
def torch_twin_list():
    return torch.nn.ModuleList([torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3),
                                torch.nn.Tanh()])


def twin_list():
    return ModuleList([Linear(2, 3), ReLU(), Linear(3, 3), Tanh()])


def test_module_list_registers_its_modules_with_torchs_keys():
    layers, torch_layers = twin_list(), torch_twin_list()
    assert keys(layers) == list(torch_layers._modules) == ["0", "1", "2", "3"]
    assert list(layers.state_dict()) == list(torch_layers.state_dict())
    holder = Module()
    holder.blocks = layers
    assert list(holder.state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.2.weight",
                                         "blocks.2.bias"]
    assert len(list(holder.parameters())) == 4
    holder.eval()
    assert not layers[1].training, "eval() reaches the modules in the list"


def test_module_list_state_dict_loads_both_ways():
    layers, torch_layers = twin_list().double(), torch_twin_list().double()
    layers.load_state_dict(torch_layers.state_dict())
    for key, value in layers.state_dict().items():
        np.testing.assert_array_equal(value, torch_layers.state_dict()[key].numpy())
    layers[0].weight.data[...] = 7.0
    torch_layers.load_state_dict({key: torch.from_numpy(value.copy())
                                  for key, value in layers.state_dict().items()})
    assert torch_layers[0].weight[0, 0].item() == 7.0


def test_module_list_indexing_negative_indexing_and_range_errors():
    modules = [Linear(2, 3), ReLU(), Tanh()]
    layers = ModuleList(modules)
    assert layers[0] is modules[0] and layers[-1] is modules[2] and layers[-3] is modules[0]
    for index in (3, -4):
        with pytest.raises(IndexError) as torch_error:
            torch.nn.ModuleList([torch.nn.ReLU()] * 3)[index]
        with pytest.raises(IndexError, match=re.escape(str(torch_error.value))):
            layers[index]
    with pytest.raises(TypeError, match="ModuleList indices must be integers or slices, not str"):
        layers["0"]


@pytest.mark.parametrize("index", [slice(1, None), slice(None, None, 2), slice(-2, None),
                                   slice(None, None, -1), slice(5, None)])
def test_module_list_slicing_returns_a_renumbered_module_list_as_torch(index):
    modules = [Linear(2, 3), ReLU(), Linear(3, 3), Tanh()]
    part = ModuleList(modules)[index]
    torch_part = torch_twin_list()[index]
    assert isinstance(part, ModuleList)
    assert list(part) == modules[index], "a slice holds the same module objects"
    assert keys(part) == list(torch_part._modules)
    assert list(part.state_dict()) == list(torch_part.state_dict())


def test_module_list_append_extend_insert_setitem_iadd_add_pop_and_len():
    a, b, c, d = Linear(2, 3), ReLU(), Tanh(), Sigmoid()
    layers = ModuleList()
    assert len(layers) == 0 and list(layers) == []
    assert layers.append(a) is layers
    assert layers.extend([b]) is layers
    layers += [d]
    assert layers.insert(2, c) is None  # as torch's
    assert list(layers) == [a, b, c, d] and keys(layers) == ["0", "1", "2", "3"]
    e = ReLU()
    layers[-1] = e
    assert layers[3] is e and keys(layers) == ["0", "1", "2", "3"]
    combined = layers + ModuleList([d])
    assert isinstance(combined, ModuleList) and list(combined) == [a, b, c, e, d]
    assert list(layers) == [a, b, c, e], "+ builds a new list"
    assert layers.pop(1) is b and list(layers) == [a, c, e] and keys(layers) == ["0", "1", "2"]
    torch_layers = torch.nn.ModuleList([torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                        torch.nn.Tanh(), torch.nn.Sigmoid()])
    torch_layers.pop(1)
    assert keys(layers) == list(torch_layers._modules)


@pytest.mark.parametrize(("index", "position"), [(0, 0), (3, 3), (-1, 2), (-3, 0)])
def test_module_list_insert_takes_list_positions_and_renumbers(index, position):
    modules = [ReLU(), Tanh(), Sigmoid()]
    new = Linear(1, 1)
    layers = ModuleList(modules)
    layers.insert(index, new)
    expected = modules.copy()
    expected.insert(index, new)
    assert list(layers) == expected and layers[position] is new
    assert keys(layers) == ["0", "1", "2", "3"]


def test_module_list_insert_out_of_range_raises():
    with pytest.raises(IndexError, match=r"ModuleList.insert: index 4 is out of range for "
                                         r"length 2 \(expected -2 to 2\)"):
        ModuleList([ReLU(), Tanh()]).insert(4, ReLU())


@pytest.mark.parametrize("index", [0, 1, -1, slice(0, 2), slice(None, None, 2)])
def test_module_list_del_renumbers_as_torch(index):
    modules = [Linear(2, 3), ReLU(), Linear(3, 3), Tanh()]
    layers, torch_layers = ModuleList(modules), torch_twin_list()
    del layers[index]
    del torch_layers[index]
    remaining = modules.copy()
    del remaining[index]
    assert list(layers) == remaining
    assert keys(layers) == list(torch_layers._modules)
    assert list(layers.state_dict()) == list(torch_layers.state_dict())


def test_module_list_refuses_what_is_not_a_module():
    with pytest.raises(TypeError, match=r"ModuleList\.append: int is not a Module subclass"):
        ModuleList([1])
    with pytest.raises(TypeError) as torch_error:
        torch.nn.ModuleList().extend(3)
    with pytest.raises(TypeError, match=re.escape(str(torch_error.value))):
        ModuleList().extend(3)
    with pytest.raises(TypeError, match=r"ModuleList\.insert: str is not a Module subclass"):
        ModuleList().insert(0, "relu")


@pytest.mark.parametrize("make", [
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.ReLU(),
                              nn.ReLU(), nn.Tanh()]),
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 3), nn.Linear(2, 2)]),
    lambda nn: nn.ModuleList([nn.Sequential(nn.ReLU(), nn.Tanh()),
                              nn.Sequential(nn.ReLU(), nn.Tanh()), nn.Sigmoid()]),
    lambda nn: nn.ModuleList([nn.ReLU()]),
    lambda nn: nn.ModuleList(),
    lambda nn: nn.ModuleList([nn.ModuleList([nn.ReLU(), nn.ReLU()]), nn.ReLU(), nn.ReLU()]),
])
def test_module_list_repr_collapses_repeats_exactly_as_torchs(make):
    """``make(nn)`` builds the same list from minicnn.nn or torch.nn."""
    assert repr(make(minicnn_nn)) == repr(make(torch.nn))


def test_module_list_repr_example():
    layers = ModuleList([Linear(4, 4) for _ in range(3)] + [ReLU()])
    assert repr(layers) == ("ModuleList(\n"
                            "  (0-2): 3 x Linear(in_features=4, out_features=4, bias=True)\n"
                            "  (3): ReLU()\n"
                            ")")


@pytest.mark.parametrize("container", [ModuleList([ReLU()]), ModuleDict({"act": ReLU()})])
def test_calling_a_container_like_a_sequential_says_to_iterate(container):
    name = type(container).__name__
    with pytest.raises(NotImplementedError) as torch_error:
        getattr(torch.nn, name)()(torch.ones(2))
    assert f"[{name}] is missing the required \"forward\"" in str(torch_error.value)
    with pytest.raises(NotImplementedError, match=rf"^{name} holds modules but is not a layer: "
                                                  r"it has no forward\(\)\. .*(Iterate|iterate)"):
        container(np.ones(2))
    with pytest.raises(NotImplementedError, match=rf"^{name} holds modules but is not a layer: "
                                                  r"it has no backward\(\)"):
        container.backward(np.ones(2))


class Tower(Module):
    """The documented use: a model that iterates over its ModuleList both ways."""

    def __init__(self):
        super().__init__()
        self.layers = ModuleList([Linear(4, 4, dtype=np.float64), Tanh(),
                                  Linear(4, 2, dtype=np.float64)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_output):
        for layer in reversed(list(self.layers)):
            grad_output = layer.backward(grad_output)
        return grad_output


def test_a_model_iterating_over_its_module_list_matches_torch():
    model = Tower()
    torch_layers = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Tanh(),
                                        torch.nn.Linear(4, 2)]).double()
    model.load_state_dict({f"layers.{key}": value
                           for key, value in torch_layers.state_dict().items()})
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t
    for layer in torch_layers:
        y_t = layer(y_t)
    y_t.backward(torch.tensor(g))
    assert_close(model(x), y_t, np.float64, "output")
    assert_close(model.backward(g), x_t.grad, np.float64, "grad_input")
    for name, param in model.named_parameters():
        torch_param = torch_layers.get_parameter(name.removeprefix("layers."))
        assert_close(param.grad, torch_param.grad, np.float64, f"{name}.grad")


# ----------------------------------------------------------------- ModuleDict
def test_module_dict_keys_values_items_contains_len_and_iteration():
    conv, act = Linear(2, 3), ReLU()
    modules = ModuleDict({"fc": conv, "act": act})
    assert list(modules) == list(modules.keys()) == ["fc", "act"]
    assert list(modules.values()) == [conv, act]
    assert list(modules.items()) == [("fc", conv), ("act", act)]
    assert "fc" in modules and "conv" not in modules and len(modules) == 2
    assert modules["act"] is act
    torch_modules = torch.nn.ModuleDict({"fc": torch.nn.Linear(2, 3), "act": torch.nn.ReLU()})
    assert repr(modules) == repr(torch_modules)
    assert list(modules.state_dict()) == list(torch_modules.state_dict()) == ["fc.weight",
                                                                             "fc.bias"]


def test_module_dict_setitem_update_pop_del_and_clear():
    modules = ModuleDict([("a", ReLU()), ("b", Tanh())])
    modules["c"] = Sigmoid()
    modules.update({"a": Linear(1, 1), "d": ReLU()})
    modules.update([("e", Tanh())])
    modules.update(ModuleDict({"f": ReLU()}))
    assert list(modules) == ["a", "b", "c", "d", "e", "f"]
    assert isinstance(modules["a"], Linear), "update overwrites an existing key in place"
    popped = modules["b"]
    assert modules.pop("b") is popped and "b" not in modules
    del modules["c"]
    assert list(modules) == ["a", "d", "e", "f"]
    modules.clear()
    assert len(modules) == 0 and repr(modules) == repr(torch.nn.ModuleDict()) == "ModuleDict()"


def test_module_dict_errors_are_torchs_or_clearer():
    modules = ModuleDict({"a": ReLU()})
    with pytest.raises(KeyError, match=r"'b' is not a key of this ModuleDict \(keys: \['a'\]\)"):
        modules["b"]
    with pytest.raises(KeyError, match="'b' is not a key"):
        modules.pop("b")
    for bad in (3, [("a", ReLU(), 3)], [3]):
        with pytest.raises((TypeError, ValueError)) as torch_error:
            torch.nn.ModuleDict(bad)
        with pytest.raises(torch_error.type, match=re.escape(str(torch_error.value)[:40])):
            ModuleDict(bad)
    with pytest.raises(KeyError, match="can't contain"):
        ModuleDict({"a.b": ReLU()})
    with pytest.raises(TypeError, match="ModuleDict: int is not a Module subclass"):
        modules["c"] = 3


def test_module_dict_state_dict_loads_both_ways():
    modules = ModuleDict({"fc": Linear(2, 3, dtype=np.float64)})
    torch_modules = torch.nn.ModuleDict({"fc": torch.nn.Linear(2, 3)}).double()
    modules.load_state_dict(torch_modules.state_dict())
    np.testing.assert_array_equal(modules["fc"].weight.data, torch_modules["fc"].weight.detach())
    modules["fc"].bias.data[...] = 3.0
    torch_modules.load_state_dict({key: torch.from_numpy(value.copy())
                                   for key, value in modules.state_dict().items()})
    assert torch_modules["fc"].bias[0].item() == 3.0
