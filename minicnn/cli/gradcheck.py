"""``minicnn gradcheck``: check every layer's backward, against finite differences and PyTorch.

For each representative configuration of each layer (:data:`CASES`) two checks run:

* :func:`minicnn.gradcheck`: the hand-written backward against central finite
  differences in float64 (``atol=1e-5, rtol=1e-3``), for the input and every parameter;
* :func:`minicnn.testing.compare_with_torch`: output, input gradient, parameter gradients and
  buffers against ``torch.nn``'s layer with the same weights (float64: ``rtol=1e-10``;
  float32: ``rtol=1e-5``), when PyTorch is installed; the table says so when it is not.

One row per configuration; the exit status is 1 if any row fails. Inputs stay clear of the
points where a layer has no derivative (ReLU at 0, ties in a max-pooling window), where finite
differences mean nothing: see :mod:`minicnn.gradient_check`.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from minicnn import random as minicnn_random
from minicnn.gradient_check import GradcheckReport, format_error, format_table, gradcheck
from minicnn.nn.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.conv_transpose import ConvTranspose2d
from minicnn.nn.dropout import Dropout, Dropout2d
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Identity, Linear
from minicnn.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from minicnn.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from minicnn.nn.pooling import AvgPool2d, MaxPool2d
from minicnn.testing import TorchComparison, compare_with_torch, default_tolerances

__all__ = ["CASES", "NAME", "LayerCase", "add_parser", "run"]

NAME = "gradcheck"
FD_ATOL, FD_RTOL = 1e-5, 1e-3
"""Tolerances of the finite-difference check (``gradcheck``'s defaults)."""

# The layer classes by name, so that ``build(nn)`` reads the same for minicnn and torch.nn.
MINICNN_NN = SimpleNamespace(**{cls.__name__: cls for cls in (
    AvgPool2d, BatchNorm1d, BatchNorm2d, BCEWithLogitsLoss, Conv2d, ConvTranspose2d,
    CrossEntropyLoss, Dropout, Dropout2d, Flatten, GELU, GroupNorm, Identity, LeakyReLU, Linear,
    LogSoftmax, MaxPool2d, MSELoss, NLLLoss, ReLU, Sequential, Sigmoid, SiLU, Softmax, Tanh,
)})

InputMaker = Callable[[np.random.Generator], tuple]


@dataclass(frozen=True)
class LayerCase:
    """One configuration of one layer: how to build it, what to feed it.

    Attributes:
        layer: the name shown in the table and matched by ``--layer`` (the class name).
        config: the constructor arguments as written in the table.
        build: ``build(nn)`` returns the module, given ``nn`` = minicnn's layer classes or
            ``torch.nn``, so one function builds both twins.
        make_inputs: ``make_inputs(rng)`` returns the inputs (``(x,)``, or ``(input, target)``
            for a loss), float64 NumPy arrays or integer targets.
        training: the mode both modules are put in.
        state: ``state(rng)`` returns extra state_dict entries (NumPy arrays) loaded into both
            modules, e.g. non-trivial running statistics for BatchNorm in eval mode.
        torch_comparable: ``False`` where the two libraries cannot agree (random masks).
        max_elements: passed to ``gradcheck`` for large models.
    """

    layer: str
    config: str
    build: Callable
    make_inputs: InputMaker
    training: bool = True
    state: Callable[[np.random.Generator], dict] | None = None
    torch_comparable: bool = True
    max_elements: int | None = None


# ---------------------------------------------------------------------------- inputs
def normal(*shape: int) -> InputMaker:
    """Standard-normal values: for smooth layers."""
    return lambda rng: (rng.standard_normal(shape),)


def normal_with_output_size(*shape: int, output_size: tuple[int, int]) -> InputMaker:
    """Standard-normal values and the ``output_size`` a ConvTranspose2d's forward asks for."""
    return lambda rng: (rng.standard_normal(shape), list(output_size))


def away_from_zero(*shape: int) -> InputMaker:
    """Values with ``0.1 <= |x| <= 1``: no input near ReLU's kink at 0."""
    return lambda rng: (rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape),)


def distinct(*shape: int) -> InputMaker:
    """A shuffled grid with gaps of 0.1: no two entries of a pooling window within ``eps``."""
    size = int(np.prod(shape))
    return lambda rng: ((rng.permutation(size) - size / 2).reshape(shape) * 0.1,)


def class_targets(*input_shape: int, ignore_index: int | None = None) -> InputMaker:
    """Logits ``(N, C, ...)`` and integer class targets ``(N, ...)`` (one ignored if asked)."""
    def make(rng):
        logits = rng.standard_normal(input_shape)
        target_shape = (input_shape[0], *input_shape[2:])
        target = rng.integers(0, input_shape[1], target_shape)
        if ignore_index is not None:
            target.reshape(-1)[0] = ignore_index
        return logits, target
    return make


def probability_targets(*shape: int) -> InputMaker:
    """Logits and soft targets: each row of the target sums to 1 over the class axis."""
    def make(rng):
        target = rng.uniform(0.1, 1.0, shape)
        return rng.standard_normal(shape), target / target.sum(axis=1, keepdims=True)
    return make


def real_targets(*shape: int) -> InputMaker:
    return lambda rng: (rng.standard_normal(shape), rng.standard_normal(shape))


def unit_targets(*shape: int) -> InputMaker:
    """Logits and targets in ``[0, 1]``, for BCEWithLogitsLoss."""
    return lambda rng: (rng.standard_normal(shape), rng.uniform(0.0, 1.0, shape))


def affine_state(num_channels: int) -> Callable[[np.random.Generator], dict]:
    """Affine parameters away from their initial ones and zeros."""
    return lambda rng: {"weight": rng.uniform(0.5, 1.5, num_channels),
                        "bias": rng.standard_normal(num_channels)}


def batch_norm_state(num_features: int) -> Callable[[np.random.Generator], dict]:
    """Running statistics and affine parameters away from their trivial initial values."""
    return lambda rng: {
        "running_mean": rng.standard_normal(num_features),
        "running_var": rng.uniform(0.5, 2.0, num_features),
        "weight": rng.uniform(0.5, 1.5, num_features),
        "bias": rng.standard_normal(num_features),
    }


# ---------------------------------------------------------------------------- the cases
def layer_case(layer: str, *args, inputs: InputMaker, training: bool = True,
               state=None, torch_comparable: bool = True, forward_note: str = "",
               **kwargs) -> LayerCase:
    """A case that builds ``nn.<layer>(*args, **kwargs)``; arrays in kwargs go to torch as
    tensors. The config column is the argument list, plus the mode where it matters and
    ``forward_note`` (what the inputs pass to forward besides the input, if anything)."""
    shown = [repr(arg) for arg in args] + [
        f"{key}=array{tuple(value.shape)}" if isinstance(value, np.ndarray) else f"{key}={value!r}"
        for key, value in kwargs.items()
    ]
    if layer in ("BatchNorm1d", "BatchNorm2d", "Dropout", "Dropout2d"):
        shown.append("train" if training else "eval")
    if forward_note:
        shown.append(forward_note)

    def build(nn):
        # Copies, so that no module shares (and could write into) the arrays of CASES.
        if nn is MINICNN_NN:
            convert = np.copy
        else:
            import torch

            def convert(array):
                return torch.from_numpy(array.copy())

        return getattr(nn, layer)(*args, **{
            key: convert(value) if isinstance(value, np.ndarray) else value
            for key, value in kwargs.items()
        })

    return LayerCase(layer, ", ".join(shown), build, inputs, training, state, torch_comparable)


def lenet5(nn):
    """LeNet-5 (:class:`minicnn.models.LeNet5`), or from ``torch.nn`` its twin built by the same
    :func:`~minicnn.models.lenet.lenet5_blocks` (same state_dict keys)."""
    from minicnn.models.lenet import LeNet5, lenet5_blocks

    if nn is MINICNN_NN:
        return LeNet5()
    features, classifier = lenet5_blocks(nn)
    return nn.Sequential(OrderedDict(features=features, classifier=classifier))


_CLASS_WEIGHTS = np.array([0.5, 1.0, 2.0, 1.5])

CASES: list[LayerCase] = [
    layer_case("Linear", 5, 3, inputs=normal(4, 5)),
    layer_case("Linear", 4, 2, bias=False, inputs=normal(2, 3, 4)),
    layer_case("Identity", inputs=normal(2, 3)),
    layer_case("Conv2d", 3, 4, 3, inputs=normal(2, 3, 6, 5)),
    layer_case("Conv2d", 2, 3, (3, 2), stride=2, padding=1, inputs=normal(1, 2, 7, 6)),
    layer_case("Conv2d", 2, 2, 3, stride=(1, 2), padding=(2, 1), dilation=2, bias=False,
               inputs=normal(2, 2, 7, 7)),
    layer_case("Conv2d", 4, 6, 3, padding=1, groups=2, inputs=normal(2, 4, 5, 5)),
    layer_case("Conv2d", 3, 3, 3, groups=3, padding="same", inputs=normal(1, 3, 5, 4)),
    layer_case("Conv2d", 2, 3, 3, padding=1, padding_mode="reflect", inputs=normal(1, 2, 5, 5)),
    layer_case("ConvTranspose2d", 3, 2, 3, inputs=normal(2, 3, 4, 5)),
    layer_case("ConvTranspose2d", 2, 4, (3, 2), stride=2, padding=1, output_padding=1,
               inputs=normal(1, 2, 4, 3)),
    layer_case("ConvTranspose2d", 4, 2, 2, stride=(1, 2), dilation=(3, 1), output_padding=(2, 1),
               groups=2, bias=False, inputs=normal(2, 4, 3, 3)),
    layer_case("ConvTranspose2d", 2, 2, 3, stride=3, padding=1,
               inputs=normal_with_output_size(1, 2, 3, 3, output_size=(8, 9)),
               forward_note="forward output_size=(8, 9)"),
    layer_case("MaxPool2d", 2, inputs=distinct(2, 3, 6, 6)),
    layer_case("MaxPool2d", 3, stride=2, padding=1, ceil_mode=True, inputs=distinct(2, 2, 8, 7)),
    layer_case("MaxPool2d", (2, 3), stride=(2, 1), dilation=2, inputs=distinct(1, 2, 7, 8)),
    layer_case("MaxPool2d", 2, return_indices=True, inputs=distinct(1, 2, 5, 5)),
    layer_case("AvgPool2d", 2, inputs=normal(2, 3, 6, 6)),
    layer_case("AvgPool2d", 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False,
               inputs=normal(2, 2, 8, 7)),
    layer_case("AvgPool2d", (3, 2), stride=(2, 1), padding=1, divisor_override=4,
               inputs=normal(1, 2, 6, 5)),
    layer_case("BatchNorm1d", 4, inputs=normal(6, 4)),
    layer_case("BatchNorm1d", 3, inputs=normal(4, 3, 5)),
    layer_case("BatchNorm1d", 4, training=False, state=batch_norm_state(4), inputs=normal(6, 4)),
    layer_case("BatchNorm2d", 3, inputs=normal(2, 3, 4, 5)),
    layer_case("BatchNorm2d", 3, momentum=None, affine=False, inputs=normal(3, 3, 3, 3)),
    layer_case("BatchNorm2d", 3, training=False, state=batch_norm_state(3),
               inputs=normal(2, 3, 4, 5)),
    layer_case("BatchNorm2d", 2, track_running_stats=False, training=False,
               inputs=normal(2, 2, 3, 4)),
    layer_case("GroupNorm", 2, 4, state=affine_state(4), inputs=normal(3, 4, 2, 3)),
    layer_case("GroupNorm", 3, 3, affine=False, inputs=normal(2, 3, 5)),
    layer_case("GroupNorm", 1, 2, eps=1e-3, state=affine_state(2), inputs=normal(1, 2, 3, 3)),
    layer_case("ReLU", inputs=away_from_zero(2, 3, 4, 4)),
    layer_case("LeakyReLU", 0.2, inputs=away_from_zero(3, 7)),
    layer_case("Sigmoid", inputs=normal(3, 7)),
    layer_case("Tanh", inputs=normal(3, 7)),
    layer_case("GELU", inputs=normal(3, 7)),
    layer_case("GELU", approximate="tanh", inputs=normal(2, 3, 4)),
    layer_case("SiLU", inputs=normal(3, 7)),
    layer_case("Softmax", dim=1, inputs=normal(3, 5)),
    layer_case("Softmax", dim=-1, inputs=normal(2, 3, 2, 4)),
    layer_case("LogSoftmax", dim=1, inputs=normal(3, 5)),
    layer_case("LogSoftmax", dim=1, inputs=normal(2, 4, 3, 2)),
    layer_case("Flatten", inputs=normal(2, 3, 4, 5)),
    layer_case("Flatten", 0, 2, inputs=normal(2, 3, 4, 5)),
    layer_case("Dropout", 0.3, inputs=normal(4, 6), torch_comparable=False),
    layer_case("Dropout", 0.3, training=False, inputs=normal(4, 6)),
    layer_case("Dropout2d", 0.4, inputs=normal(3, 4, 2, 2), torch_comparable=False),
    layer_case("Dropout2d", 0.4, training=False, inputs=normal(3, 4, 2, 2)),
    layer_case("CrossEntropyLoss", inputs=class_targets(5, 4)),
    layer_case("CrossEntropyLoss", reduction="sum", weight=_CLASS_WEIGHTS,
               inputs=class_targets(5, 4)),
    layer_case("CrossEntropyLoss", reduction="none", inputs=class_targets(3, 4, 2, 2)),
    layer_case("CrossEntropyLoss", ignore_index=1, label_smoothing=0.1, weight=_CLASS_WEIGHTS,
               inputs=class_targets(6, 4, ignore_index=1)),
    layer_case("CrossEntropyLoss", label_smoothing=0.2, inputs=probability_targets(4, 4)),
    layer_case("NLLLoss", inputs=class_targets(5, 4)),
    layer_case("NLLLoss", weight=_CLASS_WEIGHTS, ignore_index=0,
               inputs=class_targets(6, 4, ignore_index=0)),
    layer_case("NLLLoss", reduction="none", inputs=class_targets(2, 4, 3)),
    layer_case("MSELoss", inputs=real_targets(3, 4)),
    layer_case("MSELoss", reduction="sum", inputs=real_targets(2, 3, 2)),
    layer_case("MSELoss", reduction="none", inputs=real_targets(5)),
    layer_case("BCEWithLogitsLoss", inputs=unit_targets(4, 3)),
    layer_case("BCEWithLogitsLoss", pos_weight=np.array([0.5, 2.0, 1.0]), reduction="sum",
               inputs=unit_targets(4, 3)),
    layer_case("BCEWithLogitsLoss", weight=np.array([2.0, 1.0, 0.5]), reduction="none",
               inputs=unit_targets(4, 3)),
    LayerCase("LeNet-5", "models.LeNet5()", lenet5, normal(2, 1, 28, 28),
              max_elements=20),
]
"""Every configuration the command checks, in table order."""


# ---------------------------------------------------------------------------- running
@dataclass
class CaseResult:
    """One row of the table."""

    case: LayerCase
    input_shape: str = ""
    gradcheck_report: GradcheckReport | None = None
    torch_report: TorchComparison | None = None
    torch_note: str = ""
    error: str = ""
    details: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if self.error or self.gradcheck_report is None or not self.gradcheck_report.passed:
            return False
        return self.torch_report is None or self.torch_report.passed()

    def row(self) -> list[str]:
        fd = self.gradcheck_report
        fd_cells = ([format_error(fd.max_abs_error), format_error(fd.max_rel_error)]
                    if fd is not None else ["-", "-"])
        if self.torch_report is not None:
            torch_cells = [format_error(self.torch_report.max_abs_error),
                           format_error(self.torch_report.max_rel_error)]
        else:
            torch_cells = [self.torch_note or "-", ""]
        result = "ERROR" if self.error else ("PASS" if self.passed else "FAIL")
        return [self.case.layer, self.case.config, self.input_shape, *fd_cells, *torch_cells,
                result]


def _load_state(module, state: dict, to_tensor: Callable | None = None) -> None:
    values = {key: to_tensor(value) if to_tensor else value for key, value in state.items()
              if key in module.state_dict()}
    module.load_state_dict(values, strict=False)


def run_case(case: LayerCase, seed: int, torch_module, dtype: np.dtype) -> CaseResult:
    """Run both checks on one case; exceptions become an ERROR row, not a crash."""
    result = CaseResult(case)
    rng = np.random.default_rng(seed)
    try:
        inputs = case.make_inputs(rng)
        result.input_shape = str(tuple(np.shape(inputs[0])))
        state = case.state(rng) if case.state is not None else {}
        minicnn_random.manual_seed(seed)
        module = case.build(MINICNN_NN).train(case.training)
        _load_state(module, state)
        result.gradcheck_report = gradcheck(module, *inputs, seed=seed, atol=FD_ATOL,
                                            rtol=FD_RTOL, max_elements=case.max_elements,
                                            raise_exception=False)
        if not result.gradcheck_report.passed:
            result.details.append(str(result.gradcheck_report))
        if torch_module is None:
            result.torch_note = "n/a: torch not installed"
        elif not case.torch_comparable:
            result.torch_note = "n/a: random masks differ"
        else:
            with torch_module.random.fork_rng(devices=[]):  # leave torch's RNG as it was
                torch_module.manual_seed(seed)
                torch_layer = case.build(torch_module.nn).train(case.training)
            _load_state(torch_layer, state, torch_module.from_numpy)
            result.torch_report = compare_with_torch(module, torch_layer, *inputs, seed=seed,
                                                     dtype=dtype)
            if not result.torch_report.passed():
                result.details.append(str(result.torch_report))
    except Exception as error:  # a broken layer must not hide the other rows
        result.error = f"{type(error).__name__}: {error}"
        result.details.append(f"{case.layer}({case.config}): {result.error}")
    return result


def _import_torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME,
        help="check every layer's backward against finite differences and PyTorch",
        description="Check every layer's hand-written backward against central finite "
                    "differences (float64) and, when PyTorch is installed, against torch.nn "
                    "with the same weights. Prints one row per layer configuration; exits "
                    "with status 1 if any fails.",
        epilog="layers: " + ", ".join(dict.fromkeys(case.layer for case in CASES)),
    )
    parser.add_argument("--layer", action="append", metavar="NAME",
                        help="check only this layer (case-insensitive; repeat for several)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for inputs, weights and grad_output (default: 0)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="dtype of the comparison with PyTorch (finite differences always "
                             "run in float64; default: float64)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the selected cases, print the table, return 1 if any failed (2 for a bad --layer)."""
    known = {case.layer.lower(): case.layer for case in CASES}
    wanted = {name.lower() for name in args.layer} if args.layer else set(known)
    unknown = [name for name in args.layer or [] if name.lower() not in known]
    if unknown:
        print(f"minicnn gradcheck: unknown layer {', '.join(map(repr, unknown))}; choose "
              f"from {', '.join(dict.fromkeys(known.values()))}", file=sys.stderr)
        return 2

    torch_module = _import_torch()
    dtype = np.dtype(args.dtype)
    started = time.perf_counter()
    # Each case's seed comes from --seed and the case's place in CASES, so that its inputs do
    # not depend on which other cases --layer selected.
    saved_rng_state = minicnn_random.get_rng_state()
    try:
        results = [run_case(case, args.seed * len(CASES) + index, torch_module, dtype)
                   for index, case in enumerate(CASES) if case.layer.lower() in wanted]
    finally:
        # Weights are drawn after reseeding per case; a caller of main() in the same process
        # gets the global generator back as it was.
        minicnn_random.set_rng_state(saved_rng_state)
    elapsed = time.perf_counter() - started

    headers = ["layer", "config", "input", "finite diff abs", "finite diff rel",
               f"torch {args.dtype} abs", "torch rel", "result"]
    print(format_table(headers, [result.row() for result in results]))
    failed = [result for result in results if not result.passed]
    torch_rtol, torch_atol = default_tolerances(dtype)
    print(f"\n{len(results) - len(failed)}/{len(results)} passed in {elapsed:.1f} s "
          f"(finite differences in float64: atol={FD_ATOL:g}, rtol={FD_RTOL:g}; torch in "
          f"{dtype}: atol={torch_atol:g}, rtol={torch_rtol:g}; errors relative to each "
          "tensor's largest entry)")
    if torch_module is None:
        print("PyTorch is not installed, so the comparison with it was skipped: "
              "pip install 'minicnn-numpy[test]'")
    for result in failed:
        print()
        print("\n".join(result.details))
    return 1 if failed else 0
