"""Same seed, same thread count: bit-identical weights, with the parallel kernels on.

Where the order of a floating-point sum could depend on threads (README, "Determinism"):

* the convolution's weight gradient is split by columns into one slice per kernel thread
  (``minicnn.kernels.conv._by_column_slices``); the slices' partial products are added in
  slice order, never in order of completion, so a given thread count always sums the same way;
* every Numba ``prange`` loop gives each iteration its own output plane, so no two threads
  add into one value;
* BLAS runs single-threaded inside the kernels.

A different thread count splits the sum differently, so its last bits may differ: the
promise is per thread count. The cross-process half of this promise (a killed and resumed
``minicnn train`` ends equal to an uninterrupted one, at 2 threads) is in
``tests/cli/test_signals.py``.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from minicnn.threads import get_num_threads, set_num_threads
from minicnn.train.trainer import Trainer
from tests.train.test_trainer import config


@pytest.fixture
def two_threads():
    previous = get_num_threads()
    set_num_threads(2)
    yield min(2, numba.config.NUMBA_NUM_THREADS)
    set_num_threads(previous)


def test_same_seed_gives_bit_identical_weights_with_two_threads(tmp_path, mnist_dir,
                                                                two_threads):
    # Batch 64: every LeNet-5 convolution product is large enough to be split across threads.
    assert get_num_threads() == two_threads

    def train(folder):
        trainer = Trainer.new(config(tmp_path / folder, data_dir=str(mnist_dir), epochs=1,
                                     limit_train=640, limit_test=64, batch_size=64, seed=7))
        trainer.fit()
        return trainer.model.state_dict()

    first, second = train("first"), train("second")
    for key, value in first.items():
        assert value.tobytes() == second[key].tobytes(), f"{key} differs between two runs"
    assert not np.array_equal(first["features.0.weight"], 0)
