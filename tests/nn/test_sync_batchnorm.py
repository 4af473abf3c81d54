"""SyncBatchNorm: a BatchNorm in one process; over several ranks, the BatchNorm of the whole
batch. The ranks here are threads (:mod:`tests.helpers.thread_ranks`); the MPI jobs of
``tests/distributed/test_mpi_training.py`` train a network with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import nn
from minicnn.distributed.communicator import SingleProcess
from minicnn.nn.sync_batchnorm import SyncBatchNorm
from tests.helpers.thread_ranks import run_on_thread_ranks


@pytest.mark.parametrize("shape", [(5, 3), (5, 3, 4), (4, 3, 5, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_in_one_process_it_is_a_batchnorm_bit_for_bit(shape, training):
    rng = np.random.default_rng(0)
    x, grad = rng.standard_normal(shape), rng.standard_normal(shape)
    sync = SyncBatchNorm(3, momentum=None, dtype=np.float64).train(training)
    plain = (nn.BatchNorm1d if len(shape) < 4 else nn.BatchNorm2d)(3, momentum=None,
                                                                     dtype=np.float64)
    plain.train(training)
    for layer in (sync, plain):
        layer.weight.data[:] = [0.5, 2.0, -1.0]
        layer.bias.data[:] = [0.1, 0.0, 0.3]
    for _ in range(2):
        np.testing.assert_array_equal(sync(x), plain(x), "forward")
        np.testing.assert_array_equal(sync.backward(grad), plain.backward(grad), "grad_input")
    np.testing.assert_array_equal(sync.weight.grad, plain.weight.grad, "weight grad")
    np.testing.assert_array_equal(sync.bias.grad, plain.bias.grad, "bias grad")
    for key, value in plain.state_dict().items():
        np.testing.assert_array_equal(sync.state_dict()[key], value, key)


def test_repr_state_dict_and_signature_are_torchs():
    ours, theirs = SyncBatchNorm(4, momentum=0.2, bias=False), torch.nn.SyncBatchNorm(
        4, momentum=0.2, bias=False)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())


@st.composite
def split_batches(draw):
    """A batch, the ranks and how many samples each holds (some may hold none)."""
    ranks = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(0, 4), min_size=ranks, max_size=ranks))
    spatial = draw(st.sampled_from([(), (3,), (2, 3)]))
    channels = draw(st.integers(1, 3))
    if sum(sizes) * int(np.prod(spatial)) < 2:
        sizes[0] += 2
    return sizes, (channels, *spatial), draw(st.booleans()), draw(st.booleans())


@settings(max_examples=40)
@given(case=split_batches())
def test_over_ranks_it_is_the_batchnorm_of_the_whole_batch(case):
    sizes, sample_shape, affine, track = case
    rng = np.random.default_rng(sum(sizes))
    x = rng.standard_normal((sum(sizes), *sample_shape)) * 3 + 1
    grad = rng.standard_normal(x.shape)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    channels = sample_shape[0]

    def layer(kind):
        built = kind(channels, momentum=0.3, affine=affine, track_running_stats=track,
                     dtype=np.float64)
        if affine:
            built.weight.data[:] = np.linspace(0.5, 2, channels)
            built.bias.data[:] = np.linspace(-1, 1, channels)
        return built

    whole = layer(SyncBatchNorm)
    expected_output = whole(x)
    expected_grad = whole.backward(grad)

    def rank_work(communicator):
        share = slice(starts[communicator.rank], starts[communicator.rank + 1])
        mine = layer(SyncBatchNorm)
        mine.process_group = communicator
        output = mine(x[share])
        return output, mine.backward(grad[share]), mine

    results = run_on_thread_ranks(len(sizes), rank_work)
    np.testing.assert_allclose(np.concatenate([r[0] for r in results]), expected_output,
                               rtol=0, atol=1e-12, err_msg="outputs, put together")
    np.testing.assert_allclose(np.concatenate([r[1] for r in results]), expected_grad,
                               rtol=0, atol=1e-12, err_msg="input gradients, put together")
    for _, _, mine in results:
        for key, value in whole.state_dict().items():
            np.testing.assert_allclose(mine.state_dict()[key], value, rtol=0, atol=1e-12,
                                       err_msg=f"{key}: the same on every rank")
    if affine:  # each rank keeps its own share: the data-parallel step adds them
        for name in ("weight", "bias"):
            total = sum(getattr(mine, name).grad for _, _, mine in results)
            np.testing.assert_allclose(total, getattr(whole, name).grad, rtol=0, atol=1e-12,
                                       err_msg=f"{name} gradients, added over the ranks")


def test_float32_in_float32_out_over_ranks():
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)

    def rank_work(communicator):
        layer = SyncBatchNorm(2, process_group=communicator)
        output = layer(x[communicator.rank * 3:(communicator.rank + 1) * 3])
        return output, layer.backward(np.ones_like(output)), layer.running_var

    for output, grad_input, running_var in run_on_thread_ranks(2, rank_work):
        assert output.dtype == grad_input.dtype == running_var.dtype == np.float32


def test_too_few_values_over_every_rank_is_an_error_naming_the_layer():
    def rank_work(communicator):
        layer = SyncBatchNorm(3, process_group=communicator)
        layer(np.ones((communicator.rank, 3), np.float32))  # ranks hold 0 and 1 samples

    with pytest.raises(ValueError, match=r"SyncBatchNorm\(3.*got 1 over the 2 rank"):
        run_on_thread_ranks(2, rank_work)


class Silent(SingleProcess):
    def allgather(self, array):
        raise AssertionError("evaluation must not communicate")

    allreduce = allgather


def test_evaluation_uses_the_running_statistics_without_communicating():
    layer = SyncBatchNorm(2, process_group=Silent()).eval()
    layer.running_mean[:] = [1.0, -1.0]
    layer.running_var[:] = [4.0, 1.0]
    x = np.ones((3, 2), np.float32)
    output = layer(x)
    np.testing.assert_allclose(output[0], [0.0, 2 / np.sqrt(1 + 1e-5)], rtol=1e-6)
    assert layer.backward(np.ones_like(x)).shape == x.shape


def test_convert_sync_batchnorm_replaces_every_batchnorm_and_keeps_their_state():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, bias=False), nn.ReLU(),
                          nn.Sequential(nn.Flatten(), nn.Linear(8, 4), nn.BatchNorm1d(4)))
    model[3][2].eval()
    weight, running_mean = model[1].weight, model[3][2].running_mean
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2, bias=False),
                               torch.nn.ReLU(), torch.nn.Sequential(
                                   torch.nn.Flatten(), torch.nn.Linear(8, 4),
                                   torch.nn.BatchNorm1d(4)))
    group = SingleProcess()
    converted = SyncBatchNorm.convert_sync_batchnorm(model, process_group=group)
    assert converted is model, "children are replaced in place"
    assert repr(converted) == repr(torch.nn.SyncBatchNorm.convert_sync_batchnorm(twin))
    assert converted[1].weight is weight, "the same Parameter: an optimiser keeps updating it"
    assert converted[1].bias is None
    assert converted[3][2].running_mean is running_mean, "the same running statistics"
    assert not converted[3][2].training and converted[1].training, "each layer's mode kept"
    assert converted[1].process_group is group
    alone = SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3))
    assert type(alone) is SyncBatchNorm, "a BatchNorm itself comes back converted"
