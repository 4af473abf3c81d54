"""Same seed: bit-identical weights, with the parallel kernels on, on 1 or 2 threads.

Where the order of a floating-point sum could depend on threads (README, "Determinism"):

* each convolution cuts its batch into chunks planned from the shapes alone, never from the
  thread count (``minicnn.kernels.conv``); threads take chunks as they come, each chunk's share
  of the weight and bias gradients is kept apart and the shares are added along a tree fixed
  by the chunk count, so every thread count sums the same way;
* every Numba ``prange`` loop gives each iteration its own output plane, so no two threads
  add into one value;
* BLAS runs single-threaded inside the kernels.

So the promise holds across thread counts too: 1 and 2 threads give the same bits. The
cross-process half (a killed and resumed ``minicnn train`` ends equal to an uninterrupted
one, at 2 threads) is in ``tests/cli/test_signals.py``.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from minicnn.threads import get_num_threads, set_num_threads
from minicnn.train.trainer import Trainer
from tests.helpers.training import trainer_config


@pytest.fixture
def two_threads():
    previous = get_num_threads()
    set_num_threads(2)
    yield min(2, numba.config.NUMBA_NUM_THREADS)
    set_num_threads(previous)


def train_weights(folder, mnist_dir) -> dict:
    # Batch 64: every LeNet-5 convolution is cut into chunks that the threads share.
    trainer = Trainer.new(trainer_config(folder, data_dir=str(mnist_dir), epochs=1, limit_train=640,
                                         limit_test=64, batch_size=64, seed=7))
    trainer.fit()
    return trainer.model.state_dict()


def assert_same_bits(first: dict, second: dict, what: str) -> None:
    for key, value in first.items():
        assert value.tobytes() == second[key].tobytes(), f"{key} differs {what}"
    assert not np.array_equal(first["features.0.weight"], 0)


def test_same_seed_gives_bit_identical_weights_with_two_threads(tmp_path, mnist_dir,
                                                                two_threads):
    assert get_num_threads() == two_threads
    first = train_weights(tmp_path / "first", mnist_dir)
    second = train_weights(tmp_path / "second", mnist_dir)
    assert_same_bits(first, second, "between two runs")


def test_one_thread_and_two_threads_give_the_same_bits(tmp_path, mnist_dir, two_threads):
    two = train_weights(tmp_path / "two", mnist_dir)
    set_num_threads(1)  # the fixture restores the count
    one = train_weights(tmp_path / "one", mnist_dir)
    assert_same_bits(one, two, "between 1 and 2 threads")
