"""Sequential: children run in order forward, in reverse for backward."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator

from minicnn.kernels.switch import kernels_enabled
from minicnn.nn.module import Module
from minicnn.threads import blas_threads

__all__ = ["Sequential"]


def _kernel_blas():
    """With the kernels on, BLAS pinned to one thread for a whole run of children (see
    :class:`minicnn.threads.blas_threads`): each kernel pins it anyway, and one outer block
    saves each of them the calls into the BLAS library. Off, a block that changes nothing."""
    return blas_threads() if kernels_enabled() else contextlib.nullcontext()


class Sequential(Module):
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

    def _index(self, idx: int) -> int:
        size = len(self)
        if not -size <= idx < size:
            raise IndexError(f"index {idx} is out of range for Sequential of length {size}")
        return idx % size

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules.keys())[self._index(idx)]
        setattr(self, key, module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules.keys())
        targets = keys[idx] if isinstance(idx, slice) else [keys[self._index(idx)]]
        for key in targets:
            del self._modules[key]
        # PyTorch renumbers the remaining children so indices stay contiguous.
        remaining = list(self._modules.values())
        self._modules.clear()
        for index, module in enumerate(remaining):
            self._modules[str(index)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, child in enumerate(modules):
            self._modules[str(position)] = child
        return self
