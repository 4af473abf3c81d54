"""Module against torch.nn.Module, on twin models built the same way in both frameworks.

Covers registration, traversal order and names, state_dict and load_state_dict (including
torch's error wording), modes, gradients, dtype conversion, hooks and repr.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

from minicnn.nn.activation import ReLU
from minicnn.nn.container import Sequential
from minicnn.nn.linear import Linear
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter


# ----------------------------------------------------------------- twin models
class Block(Module):
    """A module with a child, a parameter and float, int and non-persistent buffers."""

    def __init__(self):
        super().__init__()
        self.fc = Linear(4, 3)
        self.act = ReLU()
        self.scale = Parameter(np.ones(3, np.float32))
        self.register_buffer("running", np.zeros(3, np.float32))
        self.register_buffer("count", np.zeros((), np.int64))
        self.register_buffer("scratch", np.ones(2, np.float32), persistent=False)


class TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.act = torch.nn.ReLU()
        self.scale = torch.nn.Parameter(torch.ones(3))
        self.register_buffer("running", torch.zeros(3))
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))
        self.register_buffer("scratch", torch.ones(2), persistent=False)


class Net(Module):
    """Nested containers, a module registered twice and a parameter shared by two layers."""

    def __init__(self):
        super().__init__()
        self.features = Sequential(Linear(5, 4), ReLU(), Block())
        self.head = Linear(3, 2)
        self.head_alias = self.head
        self.side = Linear(5, 4, bias=False)
        self.side.weight = self.features[0].weight


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), TorchBlock())
        self.head = torch.nn.Linear(3, 2)
        self.head_alias = self.head
        self.side = torch.nn.Linear(5, 4, bias=False)
        self.side.weight = self.features[0].weight


# repr prints the class name: give the torch twins the same names.
TorchBlock.__name__ = "Block"
TorchNet.__name__ = "Net"


def twins():
    net, torch_net = Net(), TorchNet()
    net.load_state_dict(torch_net.state_dict())
    return net, torch_net


def torch_message(error: Exception) -> str:
    """torch's message with ``torch.Size([3, 2])`` written as numpy's ``(3, 2)``."""
    def as_tuple(match):
        dims = [int(d) for d in match.group(1).split(",") if d.strip()]
        return str(tuple(dims))
    return re.sub(r"torch\.Size\(\[(.*?)\]\)", as_tuple, str(error))


# ----------------------------------------------------------------- registration and traversal
def test_named_parameters_equal_torchs_order_names_and_shapes():
    net, torch_net = twins()
    ours = [(name, p.shape) for name, p in net.named_parameters()]
    theirs = [(name, tuple(p.shape)) for name, p in torch_net.named_parameters()]
    assert ours == theirs
    assert len(list(net.parameters())) == len(list(torch_net.parameters()))


def test_shared_parameters_and_modules_are_listed_once():
    net = Net()
    params = list(net.parameters())
    assert len(params) == len({id(p) for p in params})
    assert sum(p is net.features[0].weight for p in params) == 1
    assert sum(m is net.head for m in net.modules()) == 1


def test_named_buffers_children_and_modules_equal_torchs():
    net, torch_net = twins()
    assert [n for n, _ in net.named_buffers()] == [n for n, _ in torch_net.named_buffers()]
    assert [n for n, _ in net.named_children()] == [n for n, _ in torch_net.named_children()]
    ours = [(n, type(m).__name__) for n, m in net.named_modules()]
    theirs = [(n, type(m).__name__) for n, m in torch_net.named_modules()]
    assert ours == theirs
    assert [n for n, _ in net.named_parameters(prefix="model")] == [
        n for n, _ in torch_net.named_parameters(prefix="model")]
    assert [n for n, _ in net.features[2].named_parameters(recurse=False)] == ["scale"]


def test_state_dict_keys_equal_torchs():
    net, torch_net = twins()
    assert list(net.state_dict()) == list(torch_net.state_dict())
    assert "features.2.scratch" not in net.state_dict(), "non-persistent buffers are left out"
    assert isinstance(net.state_dict(keep_vars=True)["head.weight"], Parameter)


def test_attribute_access_and_errors_follow_torch():
    net, torch_net = twins()
    assert net.features[2].running is net.features[2]._buffers["running"]
    with pytest.raises(AttributeError) as torch_error:
        _ = torch_net.nope
    with pytest.raises(AttributeError, match=re.escape(str(torch_error.value))):
        _ = net.nope


def test_assignment_rules_follow_torch():
    layer, torch_layer = Linear(3, 2), torch.nn.Linear(3, 2)
    # torch quotes the type name ('int'); the sentence is otherwise the same.
    with pytest.raises(TypeError, match=r"cannot assign '?int'? as parameter 'weight'"):
        layer.weight = 3
    layer.bias, torch_layer.bias = None, None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == list(torch_layer.state_dict()) == ["weight"]
    block = Block()
    with pytest.raises(TypeError, match=r"cannot assign '?list'? as buffer 'running'"):
        block.running = [1.0]
    with pytest.raises(KeyError, match="attribute 'fc' already exists"):
        block.register_buffer("fc", np.zeros(1))
    del block.fc
    assert "fc" not in dict(block.named_children())

    class Early(Module):
        def __init__(self):
            self.fc = Linear(1, 1)

    with pytest.raises(AttributeError, match=re.escape("before Module.__init__() call")):
        Early()


# ----------------------------------------------------------------- load_state_dict
def test_load_state_dict_copies_torch_values_in_place_keeping_dtype():
    net, torch_net = Net(), TorchNet().double()
    weight_array = net.head.weight.data
    result = net.load_state_dict(torch_net.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert net.head.weight.data is weight_array, "values are copied into the existing array"
    assert net.head.weight.dtype == np.float32, "the model keeps its dtype, as in torch"
    for key, value in torch_net.state_dict().items():
        np.testing.assert_allclose(net.state_dict()[key], value.numpy(), rtol=1e-6)
    assert net.features[2].count.dtype == np.int64
    assert net.side.weight is net.features[0].weight, "sharing survives loading"


def test_load_state_dict_return_value_reads_like_torchs():
    net, torch_net = twins()
    assert repr(net.load_state_dict(torch_net.state_dict())) == repr(
        torch_net.load_state_dict(torch_net.state_dict()))


def strict_error_pair(mutate):
    """The RuntimeError messages of torch and minicnn for the same bad state dict."""
    net, torch_net = twins()
    torch_state = mutate(OrderedDict(torch_net.state_dict()))
    with pytest.raises(RuntimeError) as torch_error:
        torch_net.load_state_dict(torch_state)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(torch_state)
    return str(error.value), torch_message(torch_error.value)


def drop(key):
    def mutate(state):
        del state[key]
        return state
    return mutate


def add(key, value):
    def mutate(state):
        state[key] = value
        return state
    return mutate


def reshape(key, shape):
    def mutate(state):
        state[key] = torch.zeros(shape)
        return state
    return mutate


def test_strict_load_reports_a_size_mismatch_as_torch_does():
    ours, theirs = strict_error_pair(reshape("head.bias", (3,)))
    assert ours == theirs


@pytest.mark.parametrize("mutate", [
    drop("head.bias"),
    add("head.extra", torch.zeros(1)),
    lambda s: add("stray", torch.zeros(1))(drop("features.2.count")(s)),
    lambda s: reshape("head.weight", (2, 2))(add("stray", torch.zeros(1))(drop("side.weight")(s))),
], ids=["missing", "unexpected", "missing-and-unexpected", "all-three"])
def test_strict_load_errors_read_like_torchs(mutate):
    ours, theirs = strict_error_pair(mutate)
    assert ours == theirs


def test_strict_load_error_lists_every_problem():
    net = Net()
    state = OrderedDict(net.state_dict())
    del state["head.bias"]
    state["stray"] = np.zeros(1)
    state["side.weight"] = np.zeros((9, 9))
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert message.startswith("Error(s) in loading state_dict for Net:")
    for fragment in ('Missing key(s) in state_dict: "head.bias"',
                     'Unexpected key(s) in state_dict: "stray"',
                     "size mismatch for side.weight: copying a param with shape (9, 9)"):
        assert fragment in message


def test_non_strict_load_returns_what_torch_returns_and_loads_the_rest():
    net, torch_net = twins()
    state = OrderedDict(torch_net.state_dict())
    del state["head.bias"]
    # head_alias is the same module as head: both keys name one array, so set both.
    state["head.weight"] = state["head_alias.weight"] = torch.full((2, 3), 7.0)
    state["stray"] = torch.zeros(1)
    ours = net.load_state_dict(state, strict=False)
    theirs = torch_net.load_state_dict(state, strict=False)
    # head_alias.bias is the same array as head.bias and is still in the state dict.
    assert ours.missing_keys == theirs.missing_keys == ["head.bias"]
    assert ours.unexpected_keys == theirs.unexpected_keys == ["stray"]
    np.testing.assert_array_equal(net.head.weight.data, 7.0)
    np.testing.assert_array_equal(torch_net.head.weight.detach().numpy(), 7.0)


def test_unexpected_keys_are_listed_in_torchs_order():
    # torch lists them module by module (the root's own strays first), not in dict order.
    net, torch_net = twins()
    state = OrderedDict([("features.0.extra", torch.zeros(1))])
    state.update(torch_net.state_dict())
    state["stray"] = torch.zeros(1)
    theirs = torch_net.load_state_dict(state, strict=False).unexpected_keys
    assert theirs == ["stray", "features.0.extra"]
    assert net.load_state_dict(state, strict=False).unexpected_keys == theirs


def test_non_strict_load_still_refuses_a_size_mismatch():
    net, torch_net = twins()
    state = reshape("head.bias", (5,))(OrderedDict(torch_net.state_dict()))
    with pytest.raises(RuntimeError) as torch_error:
        torch_net.load_state_dict(state, strict=False)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state, strict=False)
    assert str(error.value) == torch_message(torch_error.value)


# ----------------------------------------------------------------- modes, grads, apply, dtype
def test_train_and_eval_propagate_to_every_module():
    net = Net()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    assert net.train() is net
    assert all(m.training for m in net.modules())
    net.features.train(False)
    assert net.training and not net.features[2].fc.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")


def test_zero_grad_resets_every_gradient():
    net = Net()
    for p in net.parameters():
        p.accumulate_grad(np.ones(p.shape, p.dtype))
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_visits_children_before_parents_as_torch():
    net, torch_net = twins()
    ours, theirs = [], []
    assert net.apply(lambda m: ours.append(type(m).__name__)) is net
    torch_net.apply(lambda m: theirs.append(type(m).__name__))
    assert ours == theirs


@pytest.mark.parametrize("convert, dtype", [
    (lambda m: m.double(), np.float64), (lambda m: m.to(np.float64), np.float64),
    (lambda m: m.double().float(), np.float32), (lambda m: m.to("float64"), np.float64),
])
def test_dtype_conversion_keeps_parameter_objects_and_int_buffers(convert, dtype):
    net = Net()
    params_before = list(net.parameters())
    for p in params_before:
        p.accumulate_grad(np.ones(p.shape, p.dtype))
    assert convert(net) is net
    assert list(net.parameters()) == params_before, "the same Parameter objects, in place"
    assert all(p.dtype == dtype and p.grad.dtype == dtype for p in net.parameters())
    assert net.features[2].running.dtype == dtype
    assert net.features[2].scratch.dtype == dtype
    assert net.features[2].count.dtype == np.int64, "integer buffers keep their dtype"
    assert net.side.weight is net.features[0].weight


def test_to_refuses_a_non_float_dtype():
    with pytest.raises(TypeError, match=r"Net.to\(\) only accepts floating point dtypes"):
        Net().to(np.int32)


# ----------------------------------------------------------------- forward hooks
def test_forward_hooks_see_args_and_output_and_can_replace_it():
    layer = Linear(3, 2, dtype=np.float64)
    x = np.ones((4, 3))
    seen = []
    handle = layer.register_forward_hook(lambda m, args, out: seen.append((m, args, out)))
    y = layer(x)
    (module, args, output), = seen
    assert module is layer and isinstance(args, tuple) and args[0] is x and output is y
    handle.remove()
    handle = layer.register_forward_hook(lambda m, args, out: out * 0)
    np.testing.assert_array_equal(layer(x), 0.0)
    handle.remove()
    assert layer(x).any(), "a removed hook no longer runs"
    assert len(seen) == 1


def test_forward_pre_hook_can_replace_the_input():
    layer = Linear(3, 2, dtype=np.float64)
    layer.register_forward_pre_hook(lambda m, args: np.zeros_like(args[0]))
    np.testing.assert_array_equal(layer(np.ones((1, 3))), layer.bias.data[None])


def test_forward_hook_arguments_match_torchs_structure():
    layer, torch_layer = Linear(3, 2, dtype=np.float64), torch.nn.Linear(3, 2).double()
    layer.load_state_dict(torch_layer.state_dict())
    ours, theirs = [], []
    layer.register_forward_hook(lambda m, a, o: ours.append((len(a), o)))
    torch_layer.register_forward_hook(lambda m, a, o: theirs.append((len(a), o)))
    x = np.random.default_rng(0).standard_normal((2, 3))
    layer(x)
    torch_layer(torch.tensor(x))
    assert ours[0][0] == theirs[0][0] == 1
    np.testing.assert_allclose(ours[0][1], theirs[0][1].detach().numpy(), rtol=1e-12)


# ----------------------------------------------------------------- full backward hooks
def twin_mlps():
    mlp = Sequential(Linear(4, 5, dtype=np.float64), ReLU(), Linear(5, 3, dtype=np.float64))
    torch_mlp = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(),
                                    torch.nn.Linear(5, 3)).double()
    mlp.load_state_dict(torch_mlp.state_dict())
    return mlp, torch_mlp


def run_both(mlp, torch_mlp, seed=0):
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    mlp(x)
    grad_input = mlp.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    torch_mlp(x_t).backward(torch.tensor(g))
    return grad_input, x_t.grad.numpy()


def test_full_backward_hook_sees_what_torchs_sees_for_a_linear():
    mlp, torch_mlp = twin_mlps()
    ours, theirs = [], []
    mlp[2].register_full_backward_hook(lambda m, gi, go: ours.append((m, gi, go)))
    torch_mlp[2].register_full_backward_hook(lambda m, gi, go: theirs.append((gi, go)))
    run_both(mlp, torch_mlp)
    (module, grad_input, grad_output), = ours
    (torch_grad_input, torch_grad_output), = theirs
    assert module is mlp[2]
    assert isinstance(grad_input, tuple) and isinstance(grad_output, tuple)
    assert len(grad_input) == len(torch_grad_input) == 1
    assert len(grad_output) == len(torch_grad_output) == 1
    np.testing.assert_allclose(grad_input[0], torch_grad_input[0].numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad_output[0], torch_grad_output[0].numpy(), rtol=1e-10)


def test_full_backward_hook_can_replace_grad_input_as_in_torch():
    mlp, torch_mlp = twin_mlps()
    mlp[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    torch_mlp[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    grad_input, torch_grad_input = run_both(mlp, torch_mlp)
    np.testing.assert_allclose(grad_input, torch_grad_input, rtol=1e-10)
    np.testing.assert_allclose(mlp[0].weight.grad, torch_mlp[0].weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mlp[2].weight.grad, torch_mlp[2].weight.grad.numpy(), rtol=1e-10,
                               err_msg="the hooked layer's own parameter gradients are unchanged")


def test_removed_backward_hook_no_longer_runs():
    mlp, torch_mlp = twin_mlps()
    calls = []
    handle = mlp[0].register_full_backward_hook(lambda m, gi, go: calls.append(1))
    run_both(mlp, torch_mlp)
    handle.remove()
    run_both(mlp, torch_mlp)
    assert calls == [1]


def test_backward_hook_on_a_container_fires_once_with_its_own_gradients():
    mlp, torch_mlp = twin_mlps()
    ours, theirs = [], []
    mlp.register_full_backward_hook(lambda m, gi, go: ours.append(gi[0]))
    torch_mlp.register_full_backward_hook(lambda m, gi, go: theirs.append(gi[0]))
    run_both(mlp, torch_mlp)
    assert len(ours) == len(theirs) == 1
    np.testing.assert_allclose(ours[0], theirs[0].numpy(), rtol=1e-10)


def test_backward_hook_sees_grad_output_when_backward_is_called_by_keyword():
    layer = Linear(3, 2, dtype=np.float64)
    seen = []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append(go))
    layer(np.ones((1, 3)))
    g = np.ones((1, 2))
    layer.backward(grad_output=g)
    assert len(seen[0]) == 1 and seen[0][0] is g, (
        f"the hook's grad_output should be (g,) as for a positional call, got {seen[0]!r}")


def test_backward_hook_fires_once_for_a_subclass_that_extends_backward():
    class ScaledLinear(Linear):
        def backward(self, grad_output):
            return super().backward(grad_output) * 0.5

    layer, torch_layer = ScaledLinear(3, 2, dtype=np.float64), torch.nn.Linear(3, 2).double()
    calls, torch_calls = [], []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(gi))
    torch_layer.register_full_backward_hook(lambda m, gi, go: torch_calls.append(gi))
    layer(np.ones((1, 3)))
    layer.backward(np.ones((1, 2)))
    torch_layer(torch.ones(1, 3, dtype=torch.float64, requires_grad=True)).sum().backward()
    assert len(calls) == len(torch_calls) == 1, (
        f"a full backward hook runs once per backward in torch; here it ran {len(calls)} times")


def test_hook_handles_work_as_context_managers():
    layer = Linear(3, 2, dtype=np.float64)
    calls = []
    with layer.register_forward_hook(lambda m, a, o: calls.append(1)):
        layer(np.ones((1, 3)))
    layer(np.ones((1, 3)))
    assert calls == [1]


# ----------------------------------------------------------------- repr
def test_repr_of_a_nested_model_equals_torchs():
    net, torch_net = twins()
    assert repr(net) == repr(torch_net)


def test_repr_of_a_module_with_a_none_child_and_multiline_extra_repr_equals_torchs():
    class Multi(Module):
        def __init__(self):
            super().__init__()
            self.fc = Linear(2, 2)
            self.gone = None
            self.add_module("empty", None)

        def extra_repr(self):
            return "first=1,\nsecond=2"

    class TorchMulti(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
            self.add_module("empty", None)

        def extra_repr(self):
            return "first=1,\nsecond=2"

    TorchMulti.__name__ = "Multi"
    assert repr(Multi()) == repr(TorchMulti())
