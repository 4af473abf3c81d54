"""minicnn.functional.optim.sgd_update against torch.optim.sgd.sgd, PyTorch's functional SGD."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.sgd import sgd as torch_sgd

from minicnn.functional.optim import sgd_update
from tests.helpers import assert_close
from tests.helpers.strategies import sgd_options


@settings(max_examples=60, deadline=None)
@given(options=sgd_options(maximize=False), shape=st.lists(st.integers(1, 5), min_size=1,
                                                           max_size=3),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16))
def test_sgd_update_matches_torch_functional_sgd_over_steps(options, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(shape).astype(dtype)
    param_torch = torch.tensor(param)
    buffer, buffers_torch = None, [None]
    for _ in range(4):
        grad = rng.standard_normal(shape).astype(dtype)
        buffer = sgd_update(param, grad, buffer, **options)
        torch_sgd([param_torch], [torch.tensor(grad)], buffers_torch, maximize=False,
                  foreach=False, **options)
        assert_close(param, param_torch, dtype, "parameter after the step")
        if options["momentum"] == 0:
            assert buffer is None, "no momentum, no buffer"
        else:
            assert_close(buffer, buffers_torch[0], dtype, "momentum buffer")
    assert param.dtype == dtype, "the update must keep the parameter's dtype"
