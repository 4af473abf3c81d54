"""Containers: Sequential runs its children in order; ModuleList and ModuleDict only hold them.

All three register their children, so ``parameters()``, ``state_dict()`` (keys such as
``blocks.0.weight``), ``train()``/``eval()`` and ``.double()`` reach every module inside.
Sequential and ModuleList are indexed like a Python list; ModuleDict like a dict.
"""

from __future__ import annotations

import contextlib
import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from minicnn.kernels.switch import kernels_enabled
from minicnn.nn.module import Module, _addindent
from minicnn.threads import blas_threads

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


def _kernel_blas():
    """With the kernels on, BLAS pinned to one thread for a whole run of children (see
    :class:`minicnn.threads.blas_threads`): each kernel pins it anyway, and one outer block
    saves each of them the calls into the BLAS library. Off, a block that changes nothing."""
    return blas_threads() if kernels_enabled() else contextlib.nullcontext()


def _check_module(owner: str, module) -> None:
    # None is allowed, as by Module.add_module: a placeholder that forward skips.
    if module is not None and not isinstance(module, Module):
        raise TypeError(f"{owner}: {type(module).__name__} is not a Module subclass")


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: children in order, indexed like a list.

    Deleting or inserting renumbers the children ``"0"``, ``"1"``, ... so that indices and
    state_dict keys stay contiguous, as in PyTorch.
    """

    def _index(self, idx) -> int:
        """``idx`` as a position in ``[0, len)``; negative indices count from the end."""
        name = self._get_name()
        try:
            idx = operator.index(idx)
        except TypeError:
            raise TypeError(f"{name} indices must be integers or slices, not "
                            f"{type(idx).__name__}") from None
        size = len(self)
        if not -size <= idx < size:
            raise IndexError(f"index {idx} is out of range for {name} of length {size}")
        return idx % size

    def _renumber(self, modules: list[Module]) -> None:
        self._modules.clear()
        for position, module in enumerate(modules):
            self._modules[str(position)] = module

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules.keys())[self._index(idx)]
        setattr(self, key, module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules.keys())
        targets = keys[idx] if isinstance(idx, slice) else [keys[self._index(idx)]]
        for key in targets:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module):
        """Add ``module`` at the end; returns the container."""
        _check_module(f"{self._get_name()}.append", module)
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]):
        """Append each module of an iterable; returns the container."""
        if not isinstance(modules, Iterable):
            raise TypeError(f"{self._get_name()}.extend should be called with an iterable, but "
                            f"got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def _insert(self, index: int, module: Module) -> None:
        _check_module(f"{self._get_name()}.insert", module)
        size = len(self)
        index = operator.index(index)
        if not -size <= index <= size:
            raise IndexError(f"{self._get_name()}.insert: index {index} is out of range for "
                             f"length {size} (expected -{size} to {size})")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)


class Sequential(_ModuleSequence):
    """A chain of modules: ``forward`` feeds each child's output to the next.

    ``Sequential(m0, m1, ...)`` names the children ``"0"``, ``"1"``, ... (so state_dict keys
    read ``0.weight``, as in PyTorch); ``Sequential(OrderedDict(name=module, ...))`` names them.
    ``backward`` runs the children in reverse, each turning the gradient of its output into
    the gradient of its input.

    With the fast kernels on (:func:`minicnn.use_kernels`), the runs ``Conv2d -> ReLU ->
    MaxPool2d(2)`` and ``Linear -> ReLU`` run as one fused kernel each, with the same results
    (see :mod:`minicnn.nn.fused`); a run whose children have hooks is not fused, so every
    hook sees its own layer's input and output. BLAS then runs on one thread for the whole
    forward and backward (the kernels' threads are the parallelism; see
    :mod:`minicnn.threads`), also inside children that are not minicnn's.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def forward(self, x):
        # With the fast kernels, runs such as Conv2d -> ReLU -> MaxPool2d(2) become one fused
        # step (minicnn.nn.fused says which, and when a run is left alone, e.g. if a child
        # has hooks); backward walks the same steps.
        modules = [module for module in self._modules.values() if module is not None]
        if kernels_enabled():
            # Imported here: minicnn.nn.fused imports the layers, which import this package.
            from minicnn.nn.fused import plan_steps

            modules = plan_steps(modules)
        self._steps = modules
        with _kernel_blas():
            for step in self._steps:
                x = step(x)
        return x

    def backward(self, grad_output):
        steps = self.__dict__.get("_steps")
        if steps is None:  # no forward yet: each child raises its own "forward first" error
            steps = [module for module in self._modules.values() if module is not None]
        with _kernel_blas():
            for step in reversed(steps):
                grad_output = step.backward(grad_output)
        return grad_output

    def __getitem__(self, idx):
        """A child by position, or a Sequential of a slice (keeping the children's names)."""
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index`` (``-len <= index <= len``); returns
        the Sequential. The children are renumbered."""
        self._insert(index, module)
        return self


class _Container:
    """The error a container gives when it is called like a layer."""

    _how_to_use = ""

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"{self._get_name()} holds modules but is not a layer: it has no forward(). "
            f"{self._how_to_use}"
        )

    def backward(self, grad_output):
        raise NotImplementedError(
            f"{self._get_name()} holds modules but is not a layer: it has no backward(); "
            "call backward() on the modules it holds, in reverse order of their forward calls"
        )


class ModuleList(_Container, _ModuleSequence):
    """Holds modules in a list, like ``torch.nn.ModuleList``: indexed, sliced and iterated like
    a Python list, with every module registered (``parameters()``, ``state_dict()`` keys
    ``name.0.weight``, ``.eval()`` reach them).

    Unlike :class:`Sequential` it has no ``forward`` or ``backward``: the model that holds it
    decides how its modules are called, so its own ``forward`` and ``backward`` iterate over
    the list (the backward in reverse). Calling a ModuleList raises ``NotImplementedError``
    saying so, where PyTorch's says only that ``forward`` is missing.

    Args:
        modules: an iterable of modules to add, numbered ``"0"``, ``"1"``, ...

    Example::

        class Tower(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x

            def backward(self, grad_output):
                for layer in reversed(self.layers):
                    grad_output = layer.backward(grad_output)
                return grad_output

    ``insert`` accepts an index in ``[-len, len]`` as ``list.insert`` would and renumbers
    (PyTorch's ModuleList.insert mis-numbers a negative or too large index); every other
    method behaves as PyTorch's.
    """

    _how_to_use = ("Iterate over it (for module in modules: x = module(x)) in your model's "
                   "forward and backward, or chain the modules with Sequential(*modules).")

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        """A module by position, or a ModuleList of a slice (renumbered from 0)."""
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        """A new ModuleList of this one's modules followed by ``other``'s."""
        return ModuleList([*self, *other])

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``; the modules after it are renumbered."""
        self._insert(index, module)

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at ``key`` (the rest are renumbered)."""
        module = self[key]
        del self[key]
        return module

    def __dir__(self):
        return [key for key in super().__dir__() if not key.isdigit()]

    def __repr__(self) -> str:
        """Like PyTorch's: runs of equal reprs collapse to ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(module) for module in self]
        if not reprs:
            return self._get_name() + "()"
        runs: list[list] = []  # [first index, last index, repr]
        for index, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = [
            _addindent(f"({first}): {text}" if first == last
                       else f"({first}-{last}): {last - first + 1} x {text}", 2)
            for first, last, text in runs
        ]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(_Container, Module):
    """Holds modules in an ordered dict, like ``torch.nn.ModuleDict``: indexed by name, with
    every module registered (state_dict keys ``name.key.weight``).

    Like :class:`ModuleList` it has no ``forward`` or ``backward``: the model that holds it
    picks modules by key. Iterating yields the keys, as a dict does.

    Args:
        modules: a mapping of names to modules, or an iterable of ``(name, module)`` pairs,
            added in order.
    """

    _how_to_use = ("Pick modules by key (modules['conv'](x)) or iterate over its values() in "
                   "your model's forward and backward.")

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _check_key(self, key) -> None:
        if key not in self._modules:
            raise KeyError(f"{key!r} is not a key of this ModuleDict (keys: "
                           f"{list(self._modules)})")

    def __getitem__(self, key: str) -> Module:
        self._check_key(key)
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        _check_module("ModuleDict", module)
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self._check_key(key)
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules) -> None:
        """Add or replace modules from a mapping or an iterable of ``(name, module)`` pairs,
        in their order (PyTorch's rules and messages)."""
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of key/value "
                            f"pairs, but got {type(modules).__name__}")
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for position, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(f"ModuleDict update sequence element #{position} should be "
                                f"Iterable; is {type(pair).__name__}")
            pair = list(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{position} has length "
                                 f"{len(pair)}; 2 is required")
            self[pair[0]] = pair[1]
