"""Per-layer benchmarks: forward, backward and both, on LeNet-5's layers and two larger convs.

The grid (batch 64 in the full suite, float32, NCHW):

============  ==========================================  ===================
name          layer                                       input
============  ==========================================  ===================
conv1         Conv2d(1, 6, kernel_size=5, padding=2)      (N, 1, 28, 28)
relu1         ReLU()                                      (N, 6, 28, 28)
pool1         MaxPool2d(2)                                (N, 6, 28, 28)
conv2         Conv2d(6, 16, kernel_size=5)                (N, 6, 14, 14)
pool2         MaxPool2d(2)                                (N, 16, 10, 10)
fc1           Linear(400, 120)                            (N, 400)
fc2           Linear(120, 84)                             (N, 120)
fc3           Linear(84, 10)                              (N, 84)
loss          CrossEntropyLoss()                          (N, 10) logits
conv3x32      Conv2d(3, 32, kernel_size=3, padding=1)     (N, 3, 32, 32)
conv64x64     Conv2d(64, 64, kernel_size=3, padding=1)    (N, 64, 16, 16)
============  ==========================================  ===================

Phases: ``forward`` (a training-mode forward: minicnn caches what backward needs, PyTorch
records its autograd graph), ``backward`` (after an untimed forward) and
``forward+backward``. Every backward computes the input gradient too (the input of a single
layer might be another layer's output) and gradients are reset to ``None`` before each,
so neither framework times an accumulation the other skips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.records import MINICNN_VARIANTS, measured, row_id, unavailable
from benchmarks.settings import Settings
from benchmarks.timing import measure
from benchmarks.variants import run_in_variant

__all__ = [
    "PHASES", "LayerCase", "layer_cases", "measure_minicnn", "measure_torch", "row_ids", "tasks",
]

GROUP = "layers"
PHASES = ("forward", "backward", "forward+backward")


@dataclass(frozen=True)
class LayerCase:
    """One layer of the grid: what to build (``kind`` and ``args``) and its input shape."""

    name: str
    kind: str  # "conv", "relu", "maxpool", "linear" or "cross_entropy"
    args: tuple
    input_shape: tuple[int, ...]
    kwargs: tuple[tuple[str, object], ...] = ()

    @property
    def description(self) -> str:
        options = "".join(f", {key}={value}" for key, value in self.kwargs)
        layer = {
            "conv": "Conv2d", "relu": "ReLU", "maxpool": "MaxPool2d", "linear": "Linear",
            "cross_entropy": "CrossEntropyLoss",
        }[self.kind]
        arguments = ", ".join(str(a) for a in self.args) + options
        return f"{layer}({arguments}) on {self.input_shape}"


def layer_cases(batch: int) -> list[LayerCase]:
    """The grid above at batch size ``batch``."""
    return [
        LayerCase("conv1", "conv", (1, 6, 5), (batch, 1, 28, 28), (("padding", 2),)),
        LayerCase("relu1", "relu", (), (batch, 6, 28, 28)),
        LayerCase("pool1", "maxpool", (2,), (batch, 6, 28, 28)),
        LayerCase("conv2", "conv", (6, 16, 5), (batch, 6, 14, 14)),
        LayerCase("pool2", "maxpool", (2,), (batch, 16, 10, 10)),
        LayerCase("fc1", "linear", (400, 120), (batch, 400)),
        LayerCase("fc2", "linear", (120, 84), (batch, 120)),
        LayerCase("fc3", "linear", (84, 10), (batch, 84)),
        LayerCase("loss", "cross_entropy", (), (batch, 10)),
        LayerCase("conv3x32", "conv", (3, 32, 3), (batch, 3, 32, 32), (("padding", 1),)),
        LayerCase("conv64x64", "conv", (64, 64, 3), (batch, 64, 16, 16), (("padding", 1),)),
    ]


def row_ids(settings: Settings) -> list[str]:
    return [
        row_id(GROUP, case.name, phase, threads)
        for threads in settings.threads
        for case in layer_cases(settings.layer_batch)
        for phase in PHASES
    ]


def tasks(settings: Settings) -> list[str]:
    """The units of work a worker is asked for, one at a time: one layer each."""
    return [case.name for case in layer_cases(settings.layer_batch)]


def _case(task: str, settings: Settings) -> LayerCase:
    for case in layer_cases(settings.layer_batch):
        if case.name == task:
            return case
    raise ValueError(f"benchmarks.layers: no layer named {task!r}")


def _inputs(case: LayerCase) -> tuple[np.ndarray, np.ndarray]:
    """A float32 input of the case's shape, and int64 class targets (used by the loss)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(case.input_shape, dtype=np.float32)
    targets = rng.integers(0, case.input_shape[-1], size=case.input_shape[0])
    return x, targets


def _time_phases(settings: Settings, forward, backward, reset) -> dict:
    """The three phases of one layer, each with the settings' repeat policy.

    ``reset`` clears the gradients (untimed); a timed ``backward`` follows an untimed
    ``reset`` and ``forward``.
    """
    options = {
        "warmup": settings.warmup,
        "min_repeats": settings.min_repeats,
        "max_repeats": settings.max_repeats,
        "target_seconds": settings.target_seconds,
    }

    def reset_and_forward():
        reset()
        forward()

    def forward_backward():
        forward()
        backward()

    return {
        "forward": measure(forward, **options),
        "backward": measure(backward, setup=reset_and_forward, **options),
        "forward+backward": measure(forward_backward, setup=reset, **options),
    }


def _minicnn_layer(case: LayerCase):
    from minicnn.nn.activation import ReLU
    from minicnn.nn.conv import Conv2d
    from minicnn.nn.linear import Linear
    from minicnn.nn.loss import CrossEntropyLoss
    from minicnn.nn.pooling import MaxPool2d

    build = {"conv": Conv2d, "relu": ReLU, "maxpool": MaxPool2d, "linear": Linear,
             "cross_entropy": CrossEntropyLoss}[case.kind]
    return build(*case.args, **dict(case.kwargs))


def _time_minicnn_case(case: LayerCase, settings: Settings) -> dict:
    layer = _minicnn_layer(case)
    x, targets = _inputs(case)
    if case.kind == "cross_entropy":
        def forward():
            return layer(x, targets)

        def backward():
            return layer.backward()
    else:
        grad_output = np.random.default_rng(1).standard_normal(
            layer(x).shape, dtype=np.float32
        )

        def forward():
            return layer(x)

        def backward():
            return layer.backward(grad_output)

    return _time_phases(settings, forward, backward, layer.zero_grad)


def measure_minicnn(task: str, threads: int, settings: Settings) -> list[dict]:
    """Every phase of layer ``task`` in both minicnn variants (threads set by the caller)."""
    case = _case(task, settings)
    records = []
    for variant in MINICNN_VARIANTS:
        timings, note = run_in_variant(variant, lambda: _time_minicnn_case(case, settings))
        if note is not None:
            records += [unavailable(GROUP, case.name, phase, threads, variant, note,
                                    case.description) for phase in PHASES]
            continue
        records += [
            measured(GROUP, case.name, phase, threads, variant, value=timing.median,
                     unit="s", description=case.description, timing=timing)
            for phase, timing in timings.items()
        ]
    return records


def _time_torch_case(case: LayerCase, settings: Settings) -> dict:
    import torch
    from torch import nn

    build = {"conv": nn.Conv2d, "relu": nn.ReLU, "maxpool": nn.MaxPool2d, "linear": nn.Linear,
             "cross_entropy": nn.CrossEntropyLoss}[case.kind]
    layer = build(*case.args, **dict(case.kwargs))
    x_array, targets_array = _inputs(case)
    x = torch.from_numpy(x_array).requires_grad_(True)
    targets = torch.from_numpy(targets_array)
    state = {}
    if case.kind == "cross_entropy":
        def forward():
            state["output"] = layer(x, targets)

        def backward():
            state.pop("output").backward()
    else:
        with torch.no_grad():
            output_shape = layer(x).shape
        grad_output = torch.from_numpy(
            np.random.default_rng(1).standard_normal(tuple(output_shape), dtype=np.float32)
        )

        def forward():
            state["output"] = layer(x)

        def backward():
            state.pop("output").backward(grad_output)

    def reset():
        layer.zero_grad(set_to_none=True)
        x.grad = None

    return _time_phases(settings, forward, backward, reset)


def measure_torch(task: str, threads: int, settings: Settings) -> list[dict]:
    """Every phase of layer ``task`` in PyTorch (threads set by the caller)."""
    case = _case(task, settings)
    timings = _time_torch_case(case, settings)
    return [
        measured(GROUP, case.name, phase, threads, "torch", value=timing.median, unit="s",
                 description=case.description, timing=timing)
        for phase, timing in timings.items()
    ]
