"""minicnn.train.checkpoint: safetensors weights that PyTorch reads, resumable checkpoints.

Weights files go both ways between minicnn and PyTorch (``safetensors.torch``) with the same
logits; checkpoints bring back every nested state a run has (optimisers, every scheduler,
the data loader, the RNG) so that training continues identically; damaged files raise a
one-line ``CheckpointError`` naming the file; a failed write leaves the old file as it was.
"""

from __future__ import annotations

import math
import os
import stat
from collections import Counter

import numpy as np
import pytest
import safetensors.torch
import torch

from minicnn import random as minicnn_random
from minicnn.data import ArrayDataset, DataLoader
from minicnn.models import LeNet5
from minicnn.nn.parameter import Parameter
from minicnn.optim import SGD, Adam, AdamW, RMSprop, lr_scheduler
from minicnn.train.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    load_checkpoint,
    load_weights,
    read_metadata,
    save_checkpoint,
    save_weights,
)
from tests.helpers.training import assert_same_state
from tests.helpers.twins import TorchLeNet5

SHAPES = ((4, 3), (4,), (2, 1, 3, 3))


def digits(seed: int = 0, batch: int = 5, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 1, 28, 28)).astype(dtype)


def trained_lenet(dtype=np.float32, seed: int = 0) -> LeNet5:
    """A LeNet5 whose weights are not the initial ones (every entry distinct from a reset)."""
    minicnn_random.manual_seed(seed)
    model = LeNet5().to(dtype)
    rng = np.random.default_rng(seed)
    for param in model.parameters():
        param.data += rng.standard_normal(param.data.shape).astype(dtype) * 0.01
    return model


# --------------------------------------------------------------------------- weights
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_round_trip_exactly_with_metadata(tmp_path, dtype):
    model = trained_lenet(dtype)
    path = tmp_path / "weights.safetensors"
    save_weights(path, model.state_dict(), {"minicnn.model": "lenet5"})
    loaded = load_weights(path)
    # safetensors stores tensors sorted by name; load_state_dict goes by key, not order.
    assert sorted(loaded) == sorted(model.state_dict())
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == dtype, key
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    assert read_metadata(path) == {"format": "pt", "minicnn.model": "lenet5"}
    fresh = LeNet5().to(dtype)
    fresh.load_state_dict(loaded)
    np.testing.assert_array_equal(fresh(digits(dtype=dtype)), model(digits(dtype=dtype)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minicnn_weights_load_into_torch_with_safetensors(tmp_path, dtype):
    model = trained_lenet(dtype)
    path = tmp_path / "weights.safetensors"
    save_weights(path, model.state_dict())
    torch_model = TorchLeNet5().to(torch.float32 if dtype == np.float32 else torch.float64)
    torch_model.load_state_dict(safetensors.torch.load_file(path))
    x = digits(dtype=dtype)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-13)


def test_torch_safetensors_file_loads_into_minicnn(tmp_path):
    torch.manual_seed(1)
    torch_model = TorchLeNet5()
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(torch_model.state_dict(), path)
    model = LeNet5()
    model.load_state_dict(load_weights(path))
    x = digits(1)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_also_serves_as_weights(tmp_path):
    model = trained_lenet()
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, model.state_dict(), progress={"epochs_done": 1})
    loaded = load_weights(path)
    # safetensors stores tensors sorted by name; load_state_dict goes by key, not order.
    assert sorted(loaded) == sorted(model.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


def test_written_files_have_ordinary_permissions(tmp_path):
    # tempfile.mkstemp creates 0600 files; a weights file should be as readable as any other.
    save_weights(tmp_path / "weights.safetensors", {"w": np.zeros(2, np.float32)})
    (tmp_path / "plain").write_bytes(b"")
    mode = stat.S_IMODE(os.stat(tmp_path / "weights.safetensors").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain").st_mode), oct(mode)


# --------------------------------------------------------------------------- nested states
def make_params(dtype=np.float64) -> list[Parameter]:
    rng = np.random.default_rng(0)
    return [Parameter(rng.standard_normal(shape).astype(dtype)) for shape in SHAPES]


def take_steps(params, optimizer, steps: int, seed: int, scheduler=None):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for param in params:
            param.grad = rng.standard_normal(param.data.shape).astype(param.data.dtype)
        optimizer.step()
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(1.0)  # a plateau: the metric never improves after the first
        elif scheduler is not None:
            scheduler.step()


OPTIMIZERS = {
    "sgd": lambda params: SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda params: Adam(params, lr=0.01, amsgrad=True),
    "adamw": lambda params: AdamW(params, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda params: RMSprop(params, lr=0.01, momentum=0.5, centered=True),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_round_trips_and_training_continues_identically(tmp_path, name):
    params = make_params()
    optimizer = OPTIMIZERS[name](params)
    take_steps(params, optimizer, 3, seed=0)
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {}, optimizer=optimizer.state_dict())
    _, states = load_checkpoint(path)
    assert_same_state(states["optimizer"], optimizer.state_dict(), "optimizer")

    copies = [Parameter(param.data.copy()) for param in params]
    restored = OPTIMIZERS[name](copies)
    restored.load_state_dict(states["optimizer"])
    take_steps(params, optimizer, 3, seed=1)
    take_steps(copies, restored, 3, seed=1)
    for original, copy in zip(params, copies):
        np.testing.assert_array_equal(copy.data, original.data)


SCHEDULERS = {
    "step": lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "multistep": lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2, 4, 4], gamma=0.5),
    "exponential": lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.9),
    "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=1e-4),
    "onecycle": lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=12),
    "plateau": lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_state_round_trips_and_continues_identically(tmp_path, name):
    params = make_params()
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    scheduler = SCHEDULERS[name](optimizer)
    take_steps(params, optimizer, 4, seed=0, scheduler=scheduler)
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {}, optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict())
    _, states = load_checkpoint(path)
    assert_same_state(states["scheduler"], scheduler.state_dict(), "scheduler")

    copies = [Parameter(param.data.copy()) for param in params]
    restored_optimizer = SGD(copies, lr=0.1, momentum=0.9)
    restored = SCHEDULERS[name](restored_optimizer)
    restored_optimizer.load_state_dict(states["optimizer"])
    restored.load_state_dict(states["scheduler"])
    take_steps(params, optimizer, 5, seed=1, scheduler=scheduler)
    take_steps(copies, restored_optimizer, 5, seed=1, scheduler=restored)
    assert restored.get_last_lr() == scheduler.get_last_lr()
    for original, copy in zip(params, copies):
        np.testing.assert_array_equal(copy.data, original.data)


def test_multistep_milestones_stay_a_counter_and_plateau_best_stays_infinite(tmp_path):
    params = make_params()
    multistep = lr_scheduler.MultiStepLR(SGD(params, lr=0.1), milestones=[3, 3, 5])
    plateau = lr_scheduler.ReduceLROnPlateau(SGD(make_params(), lr=0.1), mode="max")
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {}, multistep=multistep.state_dict(), plateau=plateau.state_dict())
    _, states = load_checkpoint(path)
    assert states["multistep"]["milestones"] == Counter({3: 2, 5: 1})
    assert isinstance(states["multistep"]["milestones"], Counter)
    assert states["plateau"]["best"] == -math.inf
    # The closed form (step with an epoch) counts milestones with Counter.elements().
    multistep.load_state_dict(states["multistep"])
    with pytest.warns(UserWarning):
        multistep.step(4)
    assert multistep.get_last_lr() == pytest.approx([0.1 * 0.1**2])


def test_data_loader_and_rng_states_resume_the_same_batches(tmp_path):
    dataset = ArrayDataset(np.arange(23.0)[:, None], np.arange(23))
    loader = DataLoader(dataset, batch_size=4, shuffle=True, generator=7)
    list(loader)  # one whole epoch: the next order is drawn from an advanced generator
    iterator = iter(loader)
    next(iterator), next(iterator)
    minicnn_random.manual_seed(5)
    minicnn_random.default_generator().standard_normal(3)
    path = tmp_path / "checkpoint.safetensors"
    loader_state, rng_state = loader.state_dict(), minicnn_random.get_rng_state()
    save_checkpoint(path, {}, loader=loader_state, rng=rng_state)
    expected_batches = [labels.tolist() for _, labels in iterator]
    expected_draw = minicnn_random.default_generator().standard_normal(4)

    _, states = load_checkpoint(path)
    assert_same_state(states["loader"], loader_state, "loader")
    assert (states["loader"]["epoch"], states["loader"]["batches_done"]) == (1, 2)
    assert_same_state(states["rng"], rng_state, "rng")
    restored = DataLoader(dataset, batch_size=4, shuffle=True, generator=0)
    restored.load_state_dict(states["loader"])
    minicnn_random.manual_seed(123)
    minicnn_random.set_rng_state(states["rng"])
    assert [labels.tolist() for _, labels in restored] == expected_batches
    np.testing.assert_array_equal(minicnn_random.default_generator().standard_normal(4),
                                  expected_draw)


def test_plain_values_tuples_and_integer_keys_round_trip(tmp_path):
    states = {
        "progress": {"epochs_done": 3, "best_accuracy": 0.9912, "name": "run", "done": False,
                     "missing": None, "nan": float("nan"), "big": 2**100},
        "nested": {"pair": (1, np.arange(3, dtype=np.int64)), "list": [np.float32(2.5), [1]],
                   "by_index": {0: {"x": np.zeros((), np.float32)}, 12: {}}},
    }
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {"w": np.ones((2, 2), np.float64)}, **states)
    model_state, loaded = load_checkpoint(path)
    np.testing.assert_array_equal(model_state["w"], np.ones((2, 2)))
    expected = dict(states)
    expected["nested"] = dict(states["nested"], list=[2.5, [1]])  # NumPy scalars become floats
    assert_same_state(loaded, expected)
    assert loaded["nested"]["by_index"][0]["x"].shape == ()


@pytest.mark.parametrize("value", [{1, 2}, {"a": object()}, {1: 0, "b": 1}])
def test_values_a_checkpoint_cannot_hold_are_refused_by_name(tmp_path, value):
    with pytest.raises(TypeError, match="checkpoint"):
        save_checkpoint(tmp_path / "checkpoint.safetensors", {}, extra=value)
    assert not (tmp_path / "checkpoint.safetensors").exists()


# --------------------------------------------------------------------------- damaged files
def damaged_files(good: bytes) -> dict[str, bytes]:
    header_length = int.from_bytes(good[:8], "little")
    header_garbled = bytearray(good)
    header_garbled[8 : 8 + 20] = b"\xff" * 20
    return {
        "empty": b"",
        "truncated-in-length": good[:5],
        "truncated-in-header": good[: 8 + header_length // 2],
        "truncated-in-data": good[: len(good) - 100],
        "garbled-header": bytes(header_garbled),
        "huge-header-length": (2**40).to_bytes(8, "little") + good[8:],
        "not-safetensors": b"PK\x03\x04 this is a zip file, or anything else" * 10,
    }


def test_a_flipped_bit_in_the_tensors_is_caught_by_the_checksum(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, trained_lenet().state_dict(), progress={"epochs_done": 1})
    damaged = bytearray(path.read_bytes())
    damaged[-1000] ^= 0x10  # inside the last tensor's bytes: the format itself cannot tell
    path.write_bytes(bytes(damaged))
    for reader in (load_weights, load_checkpoint):
        with pytest.raises(CheckpointError, match="do not match the file's checksum"):
            reader(path)


@pytest.mark.parametrize("kind", list(damaged_files(b"\0" * 200)))
def test_damaged_files_raise_a_one_line_error_naming_the_file(tmp_path, kind):
    good_path = tmp_path / "good.safetensors"
    save_checkpoint(good_path, trained_lenet().state_dict(), progress={"epochs_done": 1})
    path = tmp_path / f"{kind}.safetensors"
    path.write_bytes(damaged_files(good_path.read_bytes())[kind])
    for reader in (load_weights, load_checkpoint, read_metadata):
        with pytest.raises(CheckpointError) as caught:
            reader(path)
        message = str(caught.value)
        assert str(path) in message, message
        assert "\n" not in message, message
        assert isinstance(caught.value, ValueError)


def test_missing_file_and_weights_file_as_checkpoint_are_explained(tmp_path):
    with pytest.raises(CheckpointError, match=r"nowhere\.safetensors: no such file"):
        load_weights(tmp_path / "nowhere.safetensors")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_weights(tmp_path)  # a directory
    save_weights(tmp_path / "weights.safetensors", trained_lenet().state_dict())
    with pytest.raises(CheckpointError, match="weights file, not a resumable checkpoint"):
        load_checkpoint(tmp_path / "weights.safetensors")


# --------------------------------------------------------------------------- atomic writes
def leftovers(folder) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".tmp"))


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_a_failed_write_keeps_the_previous_file_and_no_temporary_file(tmp_path, monkeypatch,
                                                                      failing):
    path = tmp_path / "checkpoint.safetensors"
    old_model = trained_lenet(seed=0)
    save_checkpoint(path, old_model.state_dict(), progress={"epochs_done": 1})
    before = path.read_bytes()

    def fail(*args, **kwargs):
        # The temporary file exists by now: the failure must clean it up.
        assert len(leftovers(tmp_path)) == 1
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr("minicnn.train.checkpoint.os.fdopen",
                            lambda fd, mode: _FailingFile(real_fdopen(fd, mode), fail))
    else:
        monkeypatch.setattr(f"minicnn.train.checkpoint.os.{failing}", fail)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, trained_lenet(seed=1).state_dict(), progress={"epochs_done": 2})
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    _, states = load_checkpoint(path)
    assert states["progress"] == {"epochs_done": 1}


class _FailingFile:
    """A file object whose ``write`` fails (after writing part of the data, like a full disk)."""

    def __init__(self, file, fail):
        self._file, self._fail = file, fail

    def write(self, data):
        self._file.write(data[: len(data) // 2])
        self._fail()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._file.close()

    def __getattr__(self, name):
        return getattr(self._file, name)


def test_atomic_write_creates_folders_and_replaces_content(tmp_path):
    path = tmp_path / "deep" / "er" / "file.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert leftovers(path.parent) == []
