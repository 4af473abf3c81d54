"""minicnn.kernels.optim: the fused SGD update gives the reference's bits."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional import optim as reference
from minicnn.kernels import optim as kernels
from minicnn.kernels import use_kernels
from minicnn.nn.parameter import Parameter
from minicnn.optim import SGD
from tests.helpers.strategies import sgd_options


def run_steps(update, param, grads, options):
    buffer = None
    for grad in grads:
        buffer = update(param, grad, buffer, **options)
    return param, buffer


@settings(max_examples=80, deadline=None)
@given(options=sgd_options(maximize=False), shape=st.lists(st.integers(1, 6), min_size=1,
                                                           max_size=4),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16))
def test_fused_sgd_update_equals_the_reference_bit_for_bit(options, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    start = (rng.standard_normal(shape) * 3).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(4)]
    fused, fused_buffer = run_steps(kernels.sgd_update, start.copy(), grads, options)
    plain, plain_buffer = run_steps(reference.sgd_update, start.copy(), grads, options)
    np.testing.assert_array_equal(fused, plain, "parameters must be the same bits")
    if plain_buffer is None:
        assert fused_buffer is None
    else:
        np.testing.assert_array_equal(fused_buffer, plain_buffer, "momentum buffers too")


def test_non_contiguous_or_mixed_arrays_take_the_reference_path_and_stay_correct():
    rng = np.random.default_rng(0)
    options = {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.01,
               "nesterov": True}
    base = rng.standard_normal((4, 6))
    for param, grad in [(base.copy()[:, ::2], rng.standard_normal((4, 3))),  # a strided view
                        (base.copy(), rng.standard_normal((4, 6)).astype(np.float32))]:
        expected = param.copy()
        expected_buffer = reference.sgd_update(expected, grad.astype(param.dtype), None,
                                               **options)
        buffer = kernels.sgd_update(param, grad.astype(param.dtype), None, **options)
        np.testing.assert_array_equal(param, expected)
        np.testing.assert_array_equal(buffer, expected_buffer)
    view_owner = base.copy()
    view = view_owner[:, ::2]
    kernels.sgd_update(view, np.ones((4, 3)), None, **options)
    assert not np.array_equal(view_owner[:, ::2], base[:, ::2]), \
        "an update of a strided view must reach the array it views"


def test_sgd_optimizer_gives_the_same_bits_with_and_without_kernels():
    rng = np.random.default_rng(1)
    shapes = [(6, 1, 5, 5), (6,), (10, 84)]
    starts = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    grads = [[rng.standard_normal(shape).astype(np.float32) for shape in shapes]
             for _ in range(5)]
    results = []
    for enabled in (True, False):
        params = [Parameter(start.copy()) for start in starts]
        optimizer = SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
        with use_kernels(enabled):
            for step_grads in grads:
                for param, grad in zip(params, step_grads):
                    param.grad = grad
                optimizer.step()
        results.append([param.data for param in params])
    for fused, plain in zip(*results):
        np.testing.assert_array_equal(fused, plain)
