"""DataParallel and the communicator layer, in one process and on thread ranks (no MPI)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from minicnn import nn
from minicnn.distributed import (
    DataParallel,
    SingleProcess,
    get_world,
    set_world,
    threads_per_rank,
)
from minicnn.distributed.communicator import Communicator
from tests.helpers.processes import subprocess_env
from tests.helpers.thread_ranks import run_on_thread_ranks


def small_model():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(np.float64)


def test_one_process_divides_the_summed_gradient_by_the_count():
    model = small_model()
    model[0].weight.grad = np.full((4, 3), 6.0)
    totals = DataParallel(model, SingleProcess()).reduce_gradients(3, loss_sum=1.5, correct=2)
    np.testing.assert_array_equal(model[0].weight.grad, np.full((4, 3), 2.0))
    np.testing.assert_array_equal(model[2].bias.grad, np.zeros(2), "None counts as zeros")
    assert totals == (3, 1.5, 2, False)


@pytest.mark.parametrize("sizes", [[5, 3], [2, 2, 0], [1, 4, 2, 3]])
def test_ranks_sum_gradients_into_the_whole_batchs_mean_gradient(sizes):
    rng = np.random.default_rng(len(sizes))
    x, labels = rng.standard_normal((sum(sizes), 3)), rng.integers(0, 2, sum(sizes))
    whole = small_model()
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(whole(x), labels)
    whole.backward(loss_fn.backward())
    starts = np.concatenate([[0], np.cumsum(sizes)])

    def rank_work(communicator):
        share = slice(starts[communicator.rank], starts[communicator.rank + 1])
        model = small_model()
        model.load_state_dict(whole.state_dict())
        sum_loss = nn.CrossEntropyLoss(reduction="sum")
        loss_sum = float(sum_loss(model(x[share]), labels[share]))
        model.backward(sum_loss.backward())
        totals = DataParallel(model, communicator).reduce_gradients(
            len(labels[share]), loss_sum, stop=communicator.rank == 1)
        return totals, [param.grad for param in model.parameters()]

    for totals, grads in run_on_thread_ranks(len(sizes), rank_work):
        assert totals.count == sum(sizes) and totals.stop, "every rank sees the totals"
        assert totals.loss_sum / totals.count == pytest.approx(float(loss), rel=1e-12)
        for grad, param in zip(grads, whole.parameters()):
            np.testing.assert_allclose(grad, param.grad, rtol=1e-12, atol=1e-15)


def test_broadcast_state_gives_every_rank_rank_0s_weights():
    def rank_work(communicator):
        model = nn.BatchNorm1d(2)
        model.weight.data[:] = communicator.rank
        model.running_mean[:] = communicator.rank
        DataParallel(model, communicator).broadcast_state()
        return model.weight.data.copy(), model.running_mean.copy()

    for weight, running_mean in run_on_thread_ranks(3, rank_work):
        np.testing.assert_array_equal(weight, [0, 0])
        np.testing.assert_array_equal(running_mean, [0, 0])


def test_mixed_parameter_dtypes_are_refused():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double())
    with pytest.raises(TypeError, match="several dtypes"):
        DataParallel(model, SingleProcess())


def test_run_on_root_gives_every_rank_the_result_or_the_exception():
    assert run_on_thread_ranks(3, lambda c: c.run_on_root(lambda: c.rank + 10)) == [10] * 3

    def failing(communicator):
        return communicator.run_on_root(lambda: int("x"))

    with pytest.raises(ValueError, match="invalid literal"):
        run_on_thread_ranks(2, failing)


def test_the_default_group_is_the_process_alone_until_set():
    assert isinstance(get_world(), SingleProcess) and get_world().size == 1
    with pytest.raises(TypeError, match="Communicator"):
        set_world(object())
    assert isinstance(get_world(), Communicator)


def test_neither_import_minicnn_nor_plain_training_loads_mpi(tmp_path, mnist_dir):
    program = (
        "import sys, minicnn, minicnn.nn, minicnn.distributed\n"
        "from minicnn.cli import main\n"
        f"status = main(['train', '--data-dir', {str(mnist_dir)!r}, '--out-dir', "
        f"{str(tmp_path)!r}, '--limit-train', '64', '--limit-test', '64', '--epochs', '1', "
        "'--no-progress'])\n"
        "assert status == 0, status\n"
        "loaded = sorted(name for name in sys.modules if name.startswith('mpi4py'))\n"
        "assert not loaded, f'mpi4py was imported: {loaded}'\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env=subprocess_env(), timeout=600)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("cores, allowed, ranks, expected", [
    (2, 2, 1, 2), (2, 2, 2, 1), (2, 2, 3, 1), (8, 8, 2, 4), (8, 1, 2, 1), (16, 16, 3, 5),
])
def test_each_rank_runs_its_share_of_the_cores(cores, allowed, ranks, expected, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(allowed)), raising=False)
    assert threads_per_rank(ranks) == expected
