"""Helpers for testing minicnn against PyTorch, the oracle every layer is proven equal to.

PyTorch is only a test dependency (``pip install minicnn-numpy[test]``): it is imported inside
:func:`compare_with_torch`, never when ``minicnn`` or this module is imported.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from minicnn.gradient_check import (
    format_error,
    format_table,
    max_errors,
    seeded_generator,
    within_tolerance,
)
from minicnn.nn._checks import layer_name
from minicnn.nn.module import Module

__all__ = ["TensorComparison", "TorchComparison", "compare_with_torch", "default_tolerances"]

# Scale-aware tolerances reached by a correct layer: float64 agrees to rounding of a few
# operations; float32 to its own rounding (about 6e-8 per operation) accumulated over sums.
_DEFAULT_TOLERANCES = {
    np.dtype(np.float64): (1e-10, 1e-12),
    np.dtype(np.float32): (1e-5, 1e-6),
}


def default_tolerances(dtype) -> tuple[float, float]:
    """``(rtol, atol)`` a correct layer meets against PyTorch in ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype not in _DEFAULT_TOLERANCES:
        raise TypeError(f"default_tolerances: expected float32 or float64, got {dtype}")
    return _DEFAULT_TOLERANCES[dtype]


@dataclass(frozen=True)
class TensorComparison:
    """One tensor compared between minicnn (actual) and PyTorch (expected).

    Attributes:
        name: ``"output"`` (``"output[1]"``... for further outputs), ``"input.grad"``
            (``"input[1].grad"`` when several inputs have gradients), ``"<param>.grad"`` by
            ``state_dict`` name (``"0.weight.grad"``), or a buffer's ``state_dict`` name
            after the forward (``"running_mean"``).
        shape: the tensor's shape.
        max_abs_error: ``max |minicnn - torch|``.
        max_rel_error: ``max_abs_error / max |torch|`` (one scale per tensor).
        scale: ``max |torch|``.
    """

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    scale: float

    def passed(self, rtol: float, atol: float) -> bool:
        """``max_abs_error <= atol + rtol * scale``."""
        return within_tolerance(self.max_abs_error, self.scale, rtol, atol)


@dataclass(frozen=True)
class TorchComparison:
    """What :func:`compare_with_torch` found: one :class:`TensorComparison` per tensor."""

    subject: str
    dtype: np.dtype
    tensors: list[TensorComparison]

    @property
    def max_abs_error(self) -> float:
        return max((entry.max_abs_error for entry in self.tensors), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((entry.max_rel_error for entry in self.tensors), default=0.0)

    def _tolerances(self, rtol: float | None, atol: float | None) -> tuple[float, float]:
        default_rtol, default_atol = default_tolerances(self.dtype)
        return (default_rtol if rtol is None else rtol, default_atol if atol is None else atol)

    def passed(self, rtol: float | None = None, atol: float | None = None) -> bool:
        """Whether every tensor is within ``atol + rtol * max |torch|``.

        ``None`` means :func:`default_tolerances` for the comparison's dtype (float64:
        ``rtol=1e-10, atol=1e-12``; float32: ``rtol=1e-5, atol=1e-6``).
        """
        rtol, atol = self._tolerances(rtol, atol)
        return all(entry.passed(rtol, atol) for entry in self.tensors)

    def failures(self, rtol: float | None = None,
                 atol: float | None = None) -> list[TensorComparison]:
        rtol, atol = self._tolerances(rtol, atol)
        return [entry for entry in self.tensors if not entry.passed(rtol, atol)]

    def __getitem__(self, name: str) -> TensorComparison:
        for entry in self.tensors:
            if entry.name == name:
                return entry
        raise KeyError(f"comparison of {self.subject} with torch has no tensor {name!r}; it has "
                       f"{[entry.name for entry in self.tensors]}")

    def __str__(self) -> str:
        rtol, atol = self._tolerances(None, None)
        rows = [
            [entry.name, str(entry.shape), format_error(entry.max_abs_error),
             format_error(entry.max_rel_error), "PASS" if entry.passed(rtol, atol) else "FAIL"]
            for entry in self.tensors
        ]
        table = format_table(["tensor", "shape", "max abs error", "max rel error", "result"],
                             rows)
        return (f"{self.subject} vs torch in {self.dtype} (rtol={rtol:g}, atol={atol:g}):\n"
                f"{table}")


def compare_with_torch(mc_module: Module, torch_module, *inputs, grad_output=None,
                       dtype=np.float64, seed: int = 0) -> TorchComparison:
    """Run a minicnn module and its PyTorch twin on the same inputs and weights; compare.

    Both modules are deep-copied and converted to ``dtype`` (the ones passed in are left
    untouched); PyTorch's weights are copied into minicnn's with
    ``load_state_dict(torch_module.state_dict())``, so the two must have the same state_dict
    keys. Both then run forward, and backward with the same ``grad_output``. Compared:

    * every output (a tuple output such as ``MaxPool2d(return_indices=True)``'s is compared
      entry by entry; the first is the one differentiated);
    * the gradient of every input minicnn's backward returns a gradient for (a loss
      ``loss(input, target)`` returns one, for ``input``; ``target`` is passed through);
    * every parameter's gradient, by state_dict name;
    * every buffer after the forward (BatchNorm's running statistics in training mode).

    Modules that draw random numbers (Dropout in training mode) cannot be compared: the two
    libraries draw different masks. Compare them in eval mode.

    Args:
        mc_module: a minicnn module.
        torch_module: the ``torch.nn.Module`` it mirrors.
        *inputs: NumPy arrays. Float arrays are converted to ``dtype``; integer arrays
            (class targets) are passed to minicnn as given and to torch as int64.
        grad_output: the gradient of the (first) output; default: standard normal with ``seed``
            (a 0-d array for a loss's scalar output).
        dtype: ``np.float64`` (tolerance ~1e-10) or ``np.float32`` (tolerance ~1e-5).
        seed: seeds the default ``grad_output``.

    Returns:
        A :class:`TorchComparison`: ``.passed(rtol, atol)``, ``.max_rel_error``, a table as
        ``str``.

    Raises:
        ImportError: PyTorch is not installed.
        ValueError: the two modules disagree on a shape or on which tensors have gradients.
    """
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "compare_with_torch needs PyTorch, a test dependency: "
            "pip install 'minicnn-numpy[test]'"
        ) from error

    dtype = np.dtype(dtype)
    default_tolerances(dtype)  # refuses anything but float32/float64
    torch_dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[dtype]
    subject = layer_name(mc_module)
    if mc_module.training != torch_module.training:
        mode = {True: "training", False: "eval"}
        raise ValueError(f"compare_with_torch({subject}): the minicnn module is in "
                         f"{mode[mc_module.training]} mode, the torch module in "
                         f"{mode[torch_module.training]} mode; put both in the same mode")

    mc_model = copy.deepcopy(mc_module).to(dtype)
    torch_model = copy.deepcopy(torch_module).to(torch_dtype)
    mc_model.load_state_dict(torch_model.state_dict())

    mc_inputs, torch_inputs = [], []
    for value in inputs:
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
            mc_inputs.append(np.array(value, dtype=dtype, copy=True))
            torch_inputs.append(torch.tensor(value, dtype=torch_dtype, requires_grad=True))
        elif isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.integer):
            mc_inputs.append(value.copy())
            torch_inputs.append(torch.from_numpy(value.astype(np.int64)))
        else:
            mc_inputs.append(value)
            torch_inputs.append(value)

    mc_outputs = _as_tuple(mc_model(*mc_inputs))
    torch_outputs = _as_tuple(torch_model(*torch_inputs))
    if len(mc_outputs) != len(torch_outputs):
        raise ValueError(f"compare_with_torch({subject}): minicnn returned {len(mc_outputs)} "
                         f"output(s), torch {len(torch_outputs)}")
    entries = []
    for i, (mc_out, torch_out) in enumerate(zip(mc_outputs, torch_outputs)):
        name = "output" if len(mc_outputs) == 1 else f"output[{i}]"
        entries.append(_compare(subject, name, np.asarray(mc_out), _to_numpy(torch_out)))

    # Buffers are compared after the forward (which may update them), before backward.
    torch_buffers = dict(torch_model.named_buffers())
    for name, buffer in mc_model.named_buffers():
        if name not in torch_buffers:
            raise ValueError(f"compare_with_torch({subject}): minicnn has a buffer {name!r} "
                             "that torch does not have")
        entries.append(_compare(subject, name, buffer, _to_numpy(torch_buffers[name])))

    output_shape = tuple(np.shape(mc_outputs[0]))
    if grad_output is None:
        grad_output = seeded_generator(seed, "grad_output").standard_normal(output_shape)
    grad_output = np.array(grad_output, dtype=dtype)
    if grad_output.shape != output_shape:
        raise ValueError(f"compare_with_torch({subject}): grad_output has shape "
                         f"{grad_output.shape}, expected the output's shape {output_shape}")

    mc_model.zero_grad()
    returned = mc_model.backward(grad_output.copy())
    mc_input_grads = list(returned) if isinstance(returned, (tuple, list)) else [returned]
    torch_outputs[0].backward(torch.from_numpy(grad_output.copy()))

    with_grads = [i for i, grad in enumerate(mc_input_grads) if grad is not None]
    for i in with_grads:
        name = "input.grad" if len(with_grads) == 1 else f"input[{i}].grad"
        torch_grad = getattr(torch_inputs[i], "grad", None) if i < len(torch_inputs) else None
        if torch_grad is None:
            raise ValueError(f"compare_with_torch({subject}): minicnn returned a gradient for "
                             f"input {i}, torch has none")
        entries.append(_compare(subject, name, mc_input_grads[i], _to_numpy(torch_grad)))

    torch_params = dict(torch_model.named_parameters())
    for name, param in mc_model.named_parameters():
        torch_param = torch_params.get(name)
        if torch_param is None or not param.requires_grad:
            continue
        torch_grad = (_to_numpy(torch_param.grad) if torch_param.grad is not None
                      else np.zeros(param.shape, dtype))
        mc_grad = param.grad if param.grad is not None else np.zeros(param.shape, dtype)
        entries.append(_compare(subject, f"{name}.grad", mc_grad, torch_grad))

    return TorchComparison(subject, dtype, entries)


def _as_tuple(output) -> tuple:
    return tuple(output) if isinstance(output, (tuple, list)) else (output,)


def _to_numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _compare(subject: str, name: str, actual, expected: np.ndarray) -> TensorComparison:
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        raise ValueError(f"compare_with_torch({subject}): {name} has shape {actual.shape} in "
                         f"minicnn, {expected.shape} in torch")
    both_float = (np.issubdtype(actual.dtype, np.floating)
                  and np.issubdtype(expected.dtype, np.floating))
    if both_float and actual.dtype != expected.dtype:
        raise ValueError(f"compare_with_torch({subject}): {name} has dtype {actual.dtype} in "
                         f"minicnn, {expected.dtype} in torch")
    max_abs, max_rel = max_errors(actual, expected)
    scale = float(np.max(np.abs(expected.astype(np.float64)))) if expected.size else 0.0
    return TensorComparison(name, tuple(actual.shape), max_abs, max_rel, scale)
