"""Gradient checking: a hand-written backward against central finite differences.

minicnn has no autograd: every layer writes its own ``backward``. :func:`gradcheck` verifies
one numerically. For a scalar ``f``, the central difference

    ``(f(x + eps * e_i) - f(x - eps * e_i)) / (2 * eps)``

approximates ``df/dx_i`` with an error of order ``eps**2`` (plus rounding of order
``1e-16 / eps``), so in float64 with ``eps = 1e-6`` it agrees with an exact gradient to about
``1e-9``. A module's output ``y`` is not a scalar, so the check uses
``f(x) = sum(y * grad_output)`` for a random ``grad_output``: its gradient is exactly what
``backward(grad_output)`` must return (the vector-Jacobian product), and a random
``grad_output`` weighs every output entry so no mistake can hide behind a zero.

Non-differentiable points make finite differences meaningless. ReLU at 0, or two equal
entries in one max-pooling window, have no derivative there; if ``x_i`` lies within ``eps``
of such a point, ``f(x + eps)`` and ``f(x - eps)`` straddle a kink and the "numeric
gradient" is an average of the two one-sided slopes, which no backward is expected to
return. Check such layers on inputs that stay clear of kinks: values at least ``10 * eps``
away from 0 for ReLU-like layers, and distinct values with gaps much larger than ``eps``
for max-pooling (for instance a shuffled ``np.arange(n) * 0.1``).

Example::

    import numpy as np
    from minicnn.gradient_check import gradcheck
    from minicnn.nn.conv import Conv2d

    report = gradcheck(Conv2d(3, 4, 3, stride=2), np.random.randn(2, 3, 7, 7))
    print(report)  # a table with one row per tensor: input, weight, bias

It raises :class:`GradcheckError` (whose message is that table) when a gradient is wrong;
``raise_exception=False`` returns the failing report instead. ``minicnn gradcheck`` on the
command line runs this check on every layer.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from minicnn import random as minicnn_random
from minicnn.nn._checks import layer_name
from minicnn.nn.module import Module

__all__ = ["GradcheckError", "GradcheckReport", "TensorCheck", "gradcheck"]


# ---------------------------------------------------------------------------- error measures
def max_errors(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """``(max_abs_error, max_rel_error)`` of ``actual`` against ``expected``.

    ``max_abs_error = max |actual - expected|`` and
    ``max_rel_error = max_abs_error / max |expected|``: the error relative to the tensor's
    scale, not element by element, because entries near zero (where a finite difference is
    only rounding noise) would otherwise dominate. Both are 0 when the arrays are equal, and
    ``max_rel_error`` is ``inf`` when ``expected`` is all zeros but ``actual`` is not.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.size == 0:
        return 0.0, 0.0
    max_abs = float(np.max(np.abs(actual - expected)))
    scale = float(np.max(np.abs(expected)))
    if max_abs == 0.0:
        return 0.0, 0.0
    return max_abs, (max_abs / scale if scale > 0.0 else float("inf"))


def within_tolerance(max_abs_error: float, scale: float, rtol: float, atol: float) -> bool:
    """``max_abs_error <= atol + rtol * scale``: ``numpy.allclose`` with one scale per tensor."""
    return bool(max_abs_error <= atol + rtol * scale)


def seeded_generator(seed: int, purpose: str) -> np.random.Generator:
    """A generator seeded by ``seed`` for one ``purpose``, not ``default_rng(seed)``'s stream.

    A user who draws the inputs with ``np.random.default_rng(0)`` would otherwise get a
    ``grad_output`` equal to the input for ``seed=0``, and some gradients (BatchNorm's input
    gradient) vanish for that particular ``grad_output``, weakening the check.
    """
    purpose_key = int.from_bytes(purpose.encode(), "little")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(purpose_key,)))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the headers."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths])]
                     + [line(row) for row in rows])


def format_error(value: float) -> str:
    """An error in 3 significant digits: ``1.23e-11``; ``0`` for an exact match."""
    return "0" if value == 0.0 else f"{value:.2e}"


# ---------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class TensorCheck:
    """The check of one tensor's gradient (an input's or a parameter's).

    Attributes:
        name: ``"input"`` (or ``"input[1]"``... when several inputs are differentiated; a
            function's parameter names when they can be read), or a parameter's name as in
            ``state_dict`` (``"weight"``, ``"0.bias"``).
        shape: the tensor's shape.
        max_abs_error: ``max |analytic - numeric|`` over the checked entries.
        max_rel_error: ``max_abs_error / max |numeric|`` (see :func:`max_errors`).
        passed: ``max_abs_error <= atol + rtol * max |numeric|``.
        checked: how many entries were compared (all unless ``max_elements`` was given).
        analytic: the gradient the backward returned, shape ``shape``.
        numeric: the finite-difference gradient, shape ``shape``, NaN where not checked.
    """

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    passed: bool
    checked: int
    analytic: np.ndarray = field(repr=False, compare=False)
    numeric: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class GradcheckReport:
    """What :func:`gradcheck` found: one :class:`TensorCheck` per differentiated tensor.

    ``str(report)`` is a table; ``bool(report)`` is :attr:`passed`, so ``assert
    gradcheck(..., raise_exception=False)`` reads naturally.
    """

    subject: str
    tensors: list[TensorCheck]
    eps: float
    atol: float
    rtol: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.tensors)

    @property
    def failures(self) -> list[TensorCheck]:
        return [check for check in self.tensors if not check.passed]

    @property
    def max_abs_error(self) -> float:
        return max((check.max_abs_error for check in self.tensors), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((check.max_rel_error for check in self.tensors), default=0.0)

    def __getitem__(self, name: str) -> TensorCheck:
        for check in self.tensors:
            if check.name == name:
                return check
        raise KeyError(f"gradcheck report of {self.subject} has no tensor {name!r}; it has "
                       f"{[check.name for check in self.tensors]}")

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        rows = [
            [check.name, str(check.shape), format_error(check.max_abs_error),
             format_error(check.max_rel_error), "PASS" if check.passed else "FAIL"]
            for check in self.tensors
        ]
        table = format_table(["tensor", "shape", "max abs error", "max rel error", "result"],
                             rows)
        verdict = "passed" if self.passed else f"FAILED ({len(self.failures)} tensor(s))"
        return (f"gradcheck of {self.subject} in float64 (eps={self.eps:g}, atol={self.atol:g}, "
                f"rtol={self.rtol:g}): {verdict}\n{table}")


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when a gradient disagrees; ``.report`` holds the details."""

    def __init__(self, report: GradcheckReport):
        names = ", ".join(check.name for check in report.failures)
        super().__init__(f"backward disagrees with finite differences for {names}\n{report}")
        self.report = report


# ---------------------------------------------------------------------------- the check
def gradcheck(
    module_or_function: Module | Callable,
    *inputs,
    backward: Callable | None = None,
    grad_output: np.ndarray | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    max_elements: int | None = None,
    raise_exception: bool = True,
) -> GradcheckReport:
    """Compare a hand-written backward with central finite differences, in float64.

    **A Module** (a layer, a loss, a whole model) is checked on a float64 deep copy, so the
    module passed in is left exactly as it was (dtype, buffers, gradients). The copy runs
    ``copy(*inputs)``, then ``copy.backward(grad_output)``; the gradients it returns and those
    it accumulates into every parameter with ``requires_grad`` are compared with finite
    differences of ``sum(copy(*inputs) * grad_output)``.

    **A function** needs its backward, called as ``backward(grad_output, *inputs)``::

        from minicnn.functional.conv import conv2d, conv2d_backward

        gradcheck(conv2d, x, weight, bias,
                  backward=lambda g, x, weight, bias: conv2d_backward(g, x, weight))

    Keyword arguments go into both callables, e.g. with ``functools.partial`` or a lambda:
    ``gradcheck(lambda x, w: conv2d(x, w, stride=2), x, w, backward=lambda g, x, w:
    conv2d_backward(g, x, w, stride=2)[:2])``.

    Which inputs are differentiated is read from what the backward returns: a single array is
    the gradient of the first input; a tuple holds the gradient of each input in order, with
    ``None`` (or a shorter tuple) for inputs that have none. So a loss ``loss(input, target)``,
    whose backward returns one array, is checked for ``input`` and ``target`` is passed through
    unchanged. Inputs that are not floating-point arrays (integer targets, indices, Python
    numbers) are passed as given; float arrays are passed as float64 copies.

    Handled on the way:

    * randomness (Dropout): the global generator of :mod:`minicnn.random`, and any generator
      a module of the copy holds as an attribute (``Dropout(generator=...)``), are reset to
      the same state before every forward, so every forward draws the same mask; the global
      generator is left as it was found, so the check consumes no randomness. A function
      given its own generator must be wrapped to reseed it (``lambda x: dropout(x, 0.5,
      generator=np.random.default_rng(0))``).
    * in-place layers (``ReLU(inplace=True)``) get a fresh copy of the inputs at every forward.
    * buffers updated by forward (BatchNorm's running statistics in training mode) are
      restored before every forward, so each forward starts from the same state.
    * a module returning a tuple (``MaxPool2d(return_indices=True)``): the first output is
      differentiated, and ``backward`` receives the gradient of that output only.
    * a scalar output (a loss with ``reduction='mean'`` or ``'sum'``): ``grad_output`` is a
      random 0-d array.

    Args:
        module_or_function: a :class:`~minicnn.nn.Module`, or a function of arrays.
        *inputs: the inputs, as the module or function takes them. For layers with kinks (ReLU,
            max-pooling) draw them away from the kinks: see the module docstring.
        backward: for a function only, ``backward(grad_output, *inputs)`` returning the
            gradient of the first input or a tuple of gradients of the inputs.
        grad_output: the gradient fed to backward, shaped like the (first) output; by default
            drawn from a standard normal with ``seed``.
        eps: the finite-difference step.
        atol, rtol: a tensor passes when ``max |analytic - numeric| <= atol + rtol * max
            |numeric|`` (one scale per tensor; see :func:`max_errors`).
        seed: seeds the default ``grad_output`` and the choice of entries for ``max_elements``.
        max_elements: check at most this many entries of each tensor, chosen at random (two
            forwards per entry make a full check of a large model slow); ``None`` checks all.
        raise_exception: raise :class:`GradcheckError` (with the report's table) on failure;
            when ``False`` the failing report is returned.

    Returns:
        A :class:`GradcheckReport`; ``str(report)`` is a table with one row per tensor.

    Raises:
        GradcheckError: a gradient disagrees and ``raise_exception`` is true.
        TypeError: ``backward`` is missing for a function or given for a Module.
        ValueError: bad ``eps``/``atol``/``rtol``/``max_elements``, a backward returning
            gradients of the wrong shape, or no differentiable tensor at all.
    """
    _check_arguments(module_or_function, backward, eps, atol, rtol, max_elements)
    is_module = isinstance(module_or_function, Module)
    if is_module:
        subject_name = layer_name(module_or_function)
        model = copy.deepcopy(module_or_function).double()
        call, run_backward = model, model.backward
        input_names = ["input"] * len(inputs)
        named_params = [(name, param) for name, param in model.named_parameters()
                        if param.requires_grad]
        for _, param in named_params:
            # Contiguous, so that the flat view the finite differences perturb is a view.
            param.data = np.ascontiguousarray(param.data)
    else:
        subject_name = getattr(module_or_function, "__qualname__", repr(module_or_function))
        model = None
        call = module_or_function
        input_names = _parameter_names(module_or_function, len(inputs))
        named_params = []

        def run_backward(grad_out):
            return backward(grad_out, *[_copy_array(value) for value in float_inputs])

    float_inputs = [_as_float64_copy(value) for value in inputs]
    saved_rng_state = minicnn_random.get_rng_state()
    saved_buffers = _snapshot_buffers(model) if model is not None else []
    saved_generators = _snapshot_generators(model) if model is not None else []

    def forward() -> np.ndarray:
        minicnn_random.set_rng_state(saved_rng_state)
        _restore_buffers(saved_buffers)
        for generator, state in saved_generators:
            generator.bit_generator.state = state
        # Fresh copies: an in-place layer (ReLU(inplace=True)) must not edit the arrays that
        # the finite differences perturb.
        return _first_output(call(*[_copy_array(value) for value in float_inputs]),
                             subject_name)

    try:
        output = forward()
        if grad_output is None:
            grad_out = seeded_generator(seed, "grad_output").standard_normal(output.shape)
        else:
            grad_out = np.array(grad_output, dtype=np.float64)
            if grad_out.shape != output.shape:
                raise ValueError(
                    f"gradcheck of {subject_name}: grad_output has shape {grad_out.shape}, "
                    f"expected the output's shape {output.shape}"
                )
        if model is not None:
            model.zero_grad()
        # A copy: a backward that wrongly edits its grad_output must not change the objective.
        input_grads = _input_gradients(run_backward(grad_out.copy()), float_inputs, subject_name)

        # (name, array to perturb, analytic gradient) for every differentiated tensor.
        targets = []
        differentiated = [i for i, grad in enumerate(input_grads) if grad is not None]
        for i in differentiated:
            name = input_names[i]
            if is_module and len(differentiated) > 1:
                name = f"input[{i}]"
            targets.append((name, float_inputs[i], input_grads[i]))
        for name, param in named_params:
            grad = param.grad if param.grad is not None else np.zeros_like(param.data)
            targets.append((name, param.data, grad))
        if not targets:
            raise ValueError(f"gradcheck of {subject_name}: nothing to check: the backward "
                             "returned no input gradient and there is no parameter with "
                             "requires_grad")

        def objective() -> float:
            return float(np.sum(forward() * grad_out))

        sampler = seeded_generator(seed, "max_elements")
        checks = [
            _check_tensor(name, array, analytic, objective, eps, atol, rtol, max_elements,
                          sampler, subject_name)
            for name, array, analytic in targets
        ]
    finally:
        minicnn_random.set_rng_state(saved_rng_state)

    report = GradcheckReport(subject_name, checks, eps, atol, rtol)
    if raise_exception and not report.passed:
        raise GradcheckError(report)
    return report


def _check_tensor(name, array, analytic, objective, eps, atol, rtol, max_elements, sampler,
                  subject_name) -> TensorCheck:
    """Finite differences of ``objective`` along each (chosen) entry of ``array``, in place."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != array.shape:
        raise ValueError(f"gradcheck of {subject_name}: the gradient of {name} has shape "
                         f"{analytic.shape}, expected {array.shape}")
    flat = array.reshape(-1)  # a view: every array here is a contiguous float64 copy we own
    indices = np.arange(flat.size)
    if max_elements is not None and flat.size > max_elements:
        indices = np.sort(sampler.choice(flat.size, size=max_elements, replace=False))
    numeric = np.full(flat.size, np.nan)
    for index in indices:
        original = flat[index]
        flat[index] = original + eps
        f_plus = objective()
        flat[index] = original - eps
        f_minus = objective()
        flat[index] = original
        numeric[index] = (f_plus - f_minus) / (2 * eps)
    numeric = numeric.reshape(array.shape)
    checked_analytic = analytic.reshape(-1)[indices]
    checked_numeric = numeric.reshape(-1)[indices]
    max_abs, max_rel = max_errors(checked_analytic, checked_numeric)
    scale = float(np.max(np.abs(checked_numeric))) if indices.size else 0.0
    passed = within_tolerance(max_abs, scale, rtol, atol)
    return TensorCheck(name, tuple(array.shape), max_abs, max_rel, passed, int(indices.size),
                       analytic, numeric)


def _check_arguments(target, backward, eps, atol, rtol, max_elements) -> None:
    if isinstance(target, Module):
        if backward is not None:
            raise TypeError(f"gradcheck: backward= is for functions; the module "
                            f"{type(target).__name__} is checked with its own backward()")
    elif callable(target):
        if backward is None:
            name = getattr(target, "__qualname__", repr(target))
            raise TypeError(f"gradcheck: checking the function {name} needs its backward: "
                            "pass backward=fn(grad_output, *inputs) returning the input "
                            "gradient(s)")
        if not callable(backward):
            raise TypeError(f"gradcheck: backward must be callable, got {type(backward).__name__}")
    else:
        raise TypeError(f"gradcheck: expected a Module or a function, got {type(target).__name__}")
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be positive, got {eps!r}")
    if not (atol >= 0 and rtol >= 0):
        raise ValueError(f"gradcheck: atol and rtol must be >= 0, got atol={atol!r}, rtol={rtol!r}")
    if max_elements is not None and (isinstance(max_elements, bool)
                                     or not isinstance(max_elements, int) or max_elements < 1):
        raise ValueError(f"gradcheck: max_elements must be a positive int or None, "
                         f"got {max_elements!r}")


def _parameter_names(function: Callable, count: int) -> list[str]:
    """The function's positional parameter names, for the report (``input[i]`` as fallback)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = [p.name for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= count and len(set(positional[:count])) == count:
        return positional[:count]
    return [f"input[{i}]" for i in range(count)]


def _as_float64_copy(value):
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return np.array(value, dtype=np.float64, order="C", copy=True)
    return value


def _copy_array(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _first_output(output, subject_name: str) -> np.ndarray:
    if isinstance(output, tuple):
        output = output[0]
    output = np.asarray(output)
    if not np.issubdtype(output.dtype, np.floating):
        raise ValueError(f"gradcheck of {subject_name}: the output has dtype {output.dtype}; "
                         "only floating-point outputs can be differentiated")
    return output


def _input_gradients(returned, inputs: list, subject_name: str) -> list:
    """Map what a backward returned to one gradient (or ``None``) per input."""
    grads = list(returned) if isinstance(returned, (tuple, list)) else [returned]
    if len(grads) > len(inputs):
        raise ValueError(f"gradcheck of {subject_name}: backward returned {len(grads)} "
                         f"gradients for {len(inputs)} input(s)")
    grads += [None] * (len(inputs) - len(grads))
    for i, grad in enumerate(grads):
        value = inputs[i]
        is_float_array = isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)
        if grad is not None and not is_float_array:
            # A gradient for an integer target or a Python number cannot be checked.
            grads[i] = None
    return grads


def _snapshot_buffers(model: Module) -> list[tuple[Module, str, np.ndarray]]:
    return [(module, name, buffer.copy())
            for module in model.modules()
            for name, buffer in module._buffers.items() if buffer is not None]


def _snapshot_generators(model: Module) -> list[tuple[np.random.Generator, dict]]:
    """Generators that modules hold as attributes (``Dropout(generator=...)``), with states."""
    return [(value, value.bit_generator.state)
            for module in model.modules()
            for value in vars(module).values() if isinstance(value, np.random.Generator)]


def _restore_buffers(saved: list[tuple[Module, str, np.ndarray]]) -> None:
    for module, name, buffer in saved:
        current = module._buffers.get(name)
        if current is not None and current.shape == buffer.shape and current.dtype == buffer.dtype:
            # In place, in case a layer keeps a second reference to its buffer.
            np.copyto(current, buffer)
        else:
            module._buffers[name] = buffer.copy()
