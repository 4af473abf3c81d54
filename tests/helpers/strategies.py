"""Hypothesis strategies shared by test modules: layer configurations, optimiser options."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from minicnn.functional._shapes import pool_output_size
from minicnn.functional.conv import conv2d_padding_sides

__all__ = ["adam_options", "conv_cases", "every_window_reads_input", "pool_configs",
           "rmsprop_options", "sgd_options", "split_shape"]


# ---------------------------------------------------------------------------- convolution
@st.composite
def conv_cases(draw, dtypes=(np.float64, np.float32)):
    """A torch.nn.functional.conv2d configuration and matching random arrays."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_channels = groups * draw(st.integers(1, 2))  # per-group 1 with groups>1 is depthwise
    out_channels = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(
        st.integers(0, 2),
        st.tuples(st.integers(0, 2), st.integers(0, 2)),
        st.sampled_from(["same", "valid"]),
    ))
    if padding == "same":
        stride = (1, 1)
    else:
        stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    sides = conv2d_padding_sides(padding, kernel, dilation, stride)
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    min_h = max(1, extent[0] - sides[0] - sides[1])
    min_w = max(1, extent[1] - sides[2] - sides[3])
    shape = (draw(st.integers(1, 3)), in_channels,
             draw(st.integers(min_h, min_h + 5)), draw(st.integers(min_w, min_w + 5)))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal((out_channels, in_channels // groups, *kernel)).astype(dtype)
    bias = rng.standard_normal(out_channels).astype(dtype) if draw(st.booleans()) else None
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, weight, bias, options, rng


# ---------------------------------------------------------------------------- pooling
def _int_or_pair(values: tuple[int, int]):
    """Pass equal pairs as a plain int sometimes, so both spellings are exercised."""
    return values[0] if values[0] == values[1] else values


def every_window_reads_input(size, kernel, stride, padding, dilation, ceil_mode) -> bool:
    """Whether every window along one axis holds at least one real input element."""
    out = pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)
    taps = (np.arange(out) * stride - padding)[:, None] + dilation * np.arange(kernel)
    return bool(((taps >= 0) & (taps < size)).any(axis=1).all())


@st.composite
def pool_configs(draw, with_dilation: bool = True) -> dict:
    """A pooling configuration PyTorch accepts, and an input shape giving an output >= 1.

    Kernels up to 4, strides up to 5 (so above, equal to and below the kernel: gaps between
    windows, tiling, and overlapping windows) or ``None``, padding up to half the kernel,
    dilation up to 3, ceil_mode either way, non-square everything, and input sizes from the
    smallest legal one up, odd and even, so ``ceil_mode`` windows often overhang the edge.
    """
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if with_dilation else (1, 1)
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    stride = draw(st.none() | st.tuples(st.integers(1, 5), st.integers(1, 5)))
    ceil_mode = draw(st.booleans())
    sizes = []
    for k, s, d, p in zip(kernel, stride or kernel, dilation, padding):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        size = draw(st.integers(smallest, smallest + 8))
        # Windows of padding alone (a dilated window stepping over a tiny input) are tested
        # on their own: torch's backward writes out of bounds for them.
        assume(every_window_reads_input(size, k, s, p, d, ceil_mode))
        sizes.append(size)
    config = {
        "shape": (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *sizes),
        "kernel_size": _int_or_pair(kernel),
        "stride": None if stride is None else _int_or_pair(stride),
        "padding": _int_or_pair(padding),
        "ceil_mode": ceil_mode,
    }
    if with_dilation:
        config["dilation"] = _int_or_pair(dilation)
    return config


def split_shape(config: dict) -> tuple[tuple[int, ...], dict]:
    """``(input shape, keyword arguments for the pooling function)``."""
    kwargs = dict(config)
    return kwargs.pop("shape"), kwargs


# ---------------------------------------------------------------------------- optimisers
@st.composite
def sgd_options(draw, maximize: bool = True) -> dict:
    """``SGD`` options as torch accepts them: Nesterov only with momentum and no dampening.

    With ``maximize=False`` the options of ``sgd_update``, which has no ``maximize``.
    """
    nesterov = draw(st.booleans())
    momentum = draw(st.one_of(st.just(0.0), st.floats(0.05, 0.99)))
    dampening = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.9)))
    if nesterov:
        # torch's rule: Nesterov needs momentum > 0 and no dampening.
        momentum = max(momentum, 0.5)
        dampening = 0.0
    options = {
        "lr": draw(st.floats(1e-4, 0.5)),
        "momentum": momentum,
        "dampening": dampening,
        "weight_decay": draw(st.one_of(st.just(0.0), st.floats(1e-4, 0.1))),
        "nesterov": nesterov,
    }
    if maximize:
        options["maximize"] = draw(st.booleans())
    return options


@st.composite
def rmsprop_options(draw) -> dict:
    return {
        "lr": draw(st.floats(1e-4, 0.05)),
        # alpha far from 0: centered RMSprop takes sqrt(v - a**2), which for alpha near 0
        # is a difference of near-equal numbers, and any rounding is amplified.
        "alpha": draw(st.floats(0.3, 0.999)),
        "eps": draw(st.sampled_from([1e-8, 1e-6, 1e-3])),
        "weight_decay": draw(st.one_of(st.just(0.0), st.floats(1e-4, 0.1))),
        "momentum": draw(st.one_of(st.just(0.0), st.floats(0.05, 0.95))),
        "centered": draw(st.booleans()),
        "maximize": draw(st.booleans()),
    }


@st.composite
def adam_options(draw) -> dict:
    return {
        "lr": draw(st.floats(1e-4, 0.1)),
        "betas": (draw(st.floats(0.0, 0.99)), draw(st.floats(0.5, 0.9999))),
        "eps": draw(st.sampled_from([1e-8, 1e-6, 1e-3])),
        "weight_decay": draw(st.one_of(st.just(0.0), st.floats(1e-4, 0.5))),
        "amsgrad": draw(st.booleans()),
        "maximize": draw(st.booleans()),
    }
