"""Module: the base class of every layer, loss and model, shaped like ``torch.nn.Module``.

A module owns parameters, buffers and child modules, registered by attribute assignment.
Unlike PyTorch there is no autograd: each layer writes its own ``backward(grad_output)``,
which returns the gradient of its input and adds its parameters' gradients into
``param.grad``. ``forward`` caches exactly what ``backward`` needs.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from minicnn.nn.parameter import Parameter

__all__ = ["Module", "RemovableHandle"]


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")

    __str__ = __repr__


def _as_array(value) -> np.ndarray:
    """An ndarray from an ndarray, a Parameter or a torch tensor (duck-typed: no torch import)."""
    if isinstance(value, Parameter):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _with_backward_hooks(backward: Callable) -> Callable:
    """Wrap a subclass's ``backward`` so full backward hooks fire around it.

    Wrapping here means no layer has to remember to call its hooks, and a learner reading a
    layer sees only the maths of its backward. A subclass whose ``backward`` calls
    ``super().backward()`` runs through two wrappers; only the outermost fires the hooks, so
    they run once per backward, as in PyTorch.
    """
    signature = inspect.signature(backward)

    @functools.wraps(backward)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_inside_backward"):
            return backward(self, *args, **kwargs)
        object.__setattr__(self, "_inside_backward", True)
        try:
            grad_input = backward(self, *args, **kwargs)
        finally:
            object.__setattr__(self, "_inside_backward", False)
        hooks = self.__dict__.get("_backward_hooks")
        if not hooks:
            return grad_input
        # The gradients passed in, positionally or by keyword, in the signature's order.
        bound = signature.bind(self, *args, **kwargs)
        grad_outputs = tuple(list(bound.arguments.values())[1:])
        as_tuple = isinstance(grad_input, tuple)
        grad_inputs = grad_input if as_tuple else (grad_input,)
        for hook in list(hooks.values()):
            replaced = hook(self, grad_inputs, grad_outputs)
            if replaced is not None:
                replaced = tuple(replaced) if isinstance(replaced, (tuple, list)) else (replaced,)
                if len(replaced) != len(grad_inputs):
                    raise ValueError(
                        f"{self._get_name()}: backward hook returned {len(replaced)} gradients, "
                        f"expected {len(grad_inputs)}"
                    )
                grad_inputs = replaced
        return grad_inputs if as_tuple else grad_inputs[0]

    wrapper._fires_backward_hooks = True
    return wrapper


class Module:
    """Base class for all layers, losses and models.

    Subclasses call ``super().__init__()`` first, assign :class:`Parameter` s, buffers (via
    :meth:`register_buffer`) and child modules as attributes, and implement ``forward`` and
    ``backward``. ``module(x)`` calls ``forward`` and runs the forward hooks.
    """

    training: bool

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        backward = cls.__dict__.get("backward")
        if backward is not None and not getattr(backward, "_fires_backward_hooks", False):
            cls.backward = _with_backward_hooks(backward)

    def __init__(self):
        # object.__setattr__ because our own __setattr__ looks these dicts up.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call in {type(self).__name__}"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._remove_from(name, self.__dict__, buffers, modules)
            params[name] = value
        elif isinstance(value, Module):
            self._remove_from(name, self.__dict__, params, buffers)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(Parameter or None expected)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    "(Module or None expected)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} "
                    "(ndarray or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name: str, *dicts: dict) -> None:
        for d in dicts:
            d.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: parameters, buffers and children live in dicts.
        for store in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__.get(store)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot register {type(param).__name__} as parameter {name!r} "
                "(Parameter or None expected)"
            )
        self._check_new_name(name, self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, array: np.ndarray | None, persistent: bool = True) -> None:
        """Register an array that is state but not learnable (e.g. BatchNorm's running_mean)."""
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(
                f"cannot register {type(array).__name__} as buffer {name!r} "
                "(ndarray or None expected)"
            )
        self._check_new_name(name, self._buffers)
        self._buffers[name] = array
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name(name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def _check_new_name(self, name: str, own_store: dict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"attribute name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"attribute name can't contain '.' or be empty, got {name!r}")
        if hasattr(self, name) and name not in own_store:
            raise KeyError(f"attribute {name!r} already exists")

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing forward()")

    def backward(self, grad_output):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing backward()")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replaced = hook(self, args, output)
            if replaced is not None:
                output = replaced
        return output

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args) -> None or new args``, called before ``forward``."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args, output) -> None or new output``, called after ``forward``."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, grad_input, grad_output) -> None or new grad_input``.

        Called after this module's ``backward``, with tuples as in PyTorch: ``grad_input`` holds
        the gradient of each positional input (``None`` where an input has none, such as a
        loss's target), ``grad_output`` the gradients passed into ``backward``.
        """
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ traversal
    def _named_members(self, store: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (module_prefix + ("." if module_prefix else "") + name, value)

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """``(name, Parameter)`` pairs, each shared parameter once, names as in ``state_dict``."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = ""):
        """Every module in the tree, depth first, this one first with name ``prefix``."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every child (recursively), then on this module; returns ``self``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (PyTorch's default) or to zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    # ------------------------------------------------------------------ dtype
    def to(self, dtype) -> Module:
        """Convert floating-point parameters, gradients and buffers to ``dtype`` in place.

        Integer buffers (``num_batches_tracked``) keep their dtype, as in PyTorch. Parameter
        objects stay the same objects, so an optimiser built earlier still holds them.
        """
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(
                f"{self._get_name()}.to() only accepts floating point dtypes, got {dtype}"
            )
        for module in self.modules():
            for param in module._parameters.values():
                if param is None:
                    continue
                param.data = param.data.astype(dtype, copy=False)
                if param.grad is not None:
                    param.grad = param.grad.astype(dtype, copy=False)
            for name, buffer in module._buffers.items():
                if buffer is not None and np.issubdtype(buffer.dtype, np.floating):
                    module._buffers[name] = buffer.astype(dtype, copy=False)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination: OrderedDict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by PyTorch's key names (``features.3.bias``).

        Values are the arrays themselves (not copies), as PyTorch returns tensors sharing
        storage; with ``keep_vars`` parameters are returned as Parameter objects.
        """
        if destination is None:
            destination = OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.data
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy values into this module's parameters and buffers, by key.

        Values may be ndarrays or torch tensors. Each value is copied into the existing array,
        keeping its dtype and shape, as PyTorch does. With ``strict``, missing or unexpected
        keys raise ``RuntimeError`` listing them all, worded and ordered as PyTorch's; a shape
        mismatch always raises. Returns the missing and unexpected keys.
        """
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []
        to_copy = []
        for prefix, module in self.named_modules():
            prefix = prefix + "." if prefix else ""
            local = {name: param.data for name, param in module._parameters.items()
                     if param is not None}
            local.update((name, buffer) for name, buffer in module._buffers.items()
                         if buffer is not None and name not in module._non_persistent_buffers)
            for name, target in local.items():
                key = prefix + name
                if key not in state_dict:
                    missing.append(key)
                    continue
                value = _as_array(state_dict[key])
                if value.shape != target.shape:
                    errors.append(
                        f"size mismatch for {key}: copying a param with shape {value.shape} "
                        f"from checkpoint, the shape in current model is {target.shape}."
                    )
                    continue
                to_copy.append((target, value))
            # A key is unexpected at the deepest module its prefix reaches (PyTorch's rule).
            for key in state_dict:
                if not key.startswith(prefix):
                    continue
                head, *rest = key[len(prefix):].split(".", 1)
                if (rest and head not in module._modules) or (not rest and head not in local):
                    unexpected.append(key)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors)
            )
        for target, value in to_copy:
            target[...] = value
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The part of ``repr`` inside the parentheses; layers override it as PyTorch's do."""
        return ""

    def __repr__(self) -> str:
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = [
            f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
