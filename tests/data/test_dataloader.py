"""minicnn.data.dataloader: batching, seeded shuffling and exact resumption mid-epoch."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import random as minicnn_random
from minicnn.data import MNIST, ArrayDataset, DataLoader, Dataset, ImageDataset, Subset
from minicnn.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip


def numbered_dataset(size: int) -> ArrayDataset:
    """Sample i is ``(features [i, -i] float32, label i)``: batches show which samples they hold."""
    labels = np.arange(size, dtype=np.int64)
    features = np.stack([labels, -labels], axis=1).astype(np.float32)
    return ArrayDataset(features, labels)


def epoch_labels(loader) -> list[int]:
    """Run one epoch; the sample numbers in the order they came."""
    return [int(label) for _, labels in loader for label in labels]


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 50),
    batch_size=st.integers(1, 20),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_batches_partition_the_dataset(size, batch_size, shuffle, drop_last, seed):
    loader = DataLoader(numbered_dataset(size), batch_size, shuffle, drop_last, generator=seed)
    batches = list(loader)
    full, remainder = divmod(size, batch_size)
    expected_sizes = [batch_size] * full + ([remainder] if remainder and not drop_last else [])
    assert [len(labels) for _, labels in batches] == expected_sizes
    assert len(loader) == len(expected_sizes)
    order = [int(label) for _, labels in batches for label in labels]
    if drop_last:
        assert len(set(order)) == len(order) == full * batch_size, "no sample twice"
    else:
        assert sorted(order) == list(range(size)), "each sample exactly once"
    if not shuffle:
        assert order == list(range(len(order))), "without shuffle, the dataset's order"
    for features, labels in batches:
        assert features.dtype == np.float32 and labels.dtype == np.int64
        np.testing.assert_array_equal(features[:, 0], labels, "features travel with labels")


def test_len_is_the_number_of_batches():
    assert len(DataLoader(numbered_dataset(10), batch_size=3)) == math.ceil(10 / 3) == 4
    assert len(DataLoader(numbered_dataset(10), batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(numbered_dataset(2), batch_size=3, drop_last=True)) == 0


def test_a_seed_gives_the_same_orders_and_each_epoch_a_new_one():
    first = DataLoader(numbered_dataset(50), batch_size=8, shuffle=True, generator=7)
    second = DataLoader(numbered_dataset(50), batch_size=8, shuffle=True, generator=7)
    first_orders = [epoch_labels(first) for _ in range(3)]
    assert first_orders == [epoch_labels(second) for _ in range(3)]
    assert first_orders[0] != first_orders[1] != first_orders[2], "each epoch reshuffles"
    assert first.epoch == 3
    other_seed = DataLoader(numbered_dataset(50), batch_size=8, shuffle=True, generator=8)
    assert epoch_labels(other_seed) != first_orders[0]


def test_manual_seed_makes_a_loader_without_generator_repeat():
    minicnn_random.manual_seed(123)
    first = epoch_labels(DataLoader(numbered_dataset(40), batch_size=5, shuffle=True))
    minicnn_random.manual_seed(123)
    second = epoch_labels(DataLoader(numbered_dataset(40), batch_size=5, shuffle=True))
    assert first == second


def test_a_given_generator_is_used_and_advanced():
    generator = np.random.default_rng(5)
    expected = np.random.default_rng(5).permutation(30).tolist()
    loader = DataLoader(numbered_dataset(30), batch_size=4, shuffle=True, generator=generator)
    assert epoch_labels(loader) == expected
    assert generator.bit_generator.state == loader.generator.bit_generator.state


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 40),
    batch_size=st.integers(1, 12),
    drop_last=st.booleans(),
    epochs_before=st.integers(0, 2),
    data=st.data(),
)
def test_state_dict_resumes_with_the_same_remaining_batches(
    size, batch_size, drop_last, epochs_before, data
):
    def make_loader(seed):
        return DataLoader(
            numbered_dataset(size), batch_size, shuffle=True, drop_last=drop_last, generator=seed
        )

    reference = make_loader(2024)
    reference_epochs = [epoch_labels(reference) for _ in range(epochs_before + 2)]
    batches_done = data.draw(st.integers(0, len(reference)), label="batches_done")

    interrupted = make_loader(2024)
    for _ in range(epochs_before):
        epoch_labels(interrupted)
    iterator = iter(interrupted)
    seen = [int(label) for _ in range(batches_done) for label in next(iterator)[1]]
    # A checkpoint goes through JSON (or any plain-value format) and comes back equal.
    state = json.loads(json.dumps(interrupted.state_dict()))
    assert state["epoch"] == epochs_before and state["batches_done"] == batches_done

    resumed = make_loader(999)  # a different seed: the state alone must decide the order
    resumed.load_state_dict(state)
    rest = epoch_labels(resumed)
    assert seen + rest == reference_epochs[epochs_before], "the interrupted epoch, completed"
    assert epoch_labels(resumed) == reference_epochs[epochs_before + 1], "then the next epoch"
    assert resumed.epoch == epochs_before + 2


class Augmented(ImageDataset):
    """Random 6x6 colour images, sample ``i`` labelled ``i``, cropped and flipped at random."""

    dataset_name = "Augmented"

    def __init__(self, size: int, transform=None):
        if transform is None:
            transform = Compose([RandomCrop(6, padding=2), RandomHorizontalFlip(),
                                 Normalize((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))])
        super().__init__(".", True, transform, np.float32)
        self.images = np.random.default_rng(size).integers(0, 256, size=(size, 3, 6, 6),
                                                           dtype=np.uint8)
        self.targets = np.arange(size, dtype=np.int64)


def epoch_batches(loader) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(images.copy(), labels.copy()) for images, labels in loader]


def assert_same_batches(ours, theirs, what: str) -> None:
    assert len(ours) == len(theirs), what
    for (images, labels), (their_images, their_labels) in zip(ours, theirs):
        np.testing.assert_array_equal(labels, their_labels, what)
        assert images.tobytes() == their_images.tobytes(), f"{what}: augmented images differ"


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(1, 30),
    batch_size=st.integers(1, 8),
    epochs_before=st.integers(0, 2),
    data=st.data(),
)
def test_an_interrupted_augmented_epoch_resumes_with_the_same_crops_and_flips(
    size, batch_size, epochs_before, data
):
    dataset = Augmented(size)

    def make_loader(seed):
        return DataLoader(dataset, batch_size, shuffle=True, generator=seed)

    reference = make_loader(31)
    reference_epochs = [epoch_batches(reference) for _ in range(epochs_before + 2)]
    batches_done = data.draw(st.integers(0, len(reference)), label="batches_done")

    interrupted = make_loader(31)
    for _ in range(epochs_before):
        epoch_batches(interrupted)
    iterator = iter(interrupted)
    seen = [tuple(array.copy() for array in next(iterator)) for _ in range(batches_done)]
    state = json.loads(json.dumps(interrupted.state_dict()))

    resumed = make_loader(5)  # another seed: the state alone decides order and augmentation
    resumed.load_state_dict(state)
    assert_same_batches(seen + epoch_batches(resumed), reference_epochs[epochs_before],
                        "the interrupted epoch, completed")
    assert_same_batches(epoch_batches(resumed), reference_epochs[epochs_before + 1],
                        "then the next epoch")


def test_augmentation_changes_with_the_epoch_and_repeats_with_the_seed():
    dataset = Augmented(8, RandomCrop(6, padding=2))
    loader = DataLoader(dataset, batch_size=8, generator=3)  # no shuffle: same samples each time
    first, second = epoch_batches(loader), epoch_batches(loader)
    assert not np.array_equal(first[0][0], second[0][0]), "each epoch draws new crops"
    assert_same_batches(epoch_batches(DataLoader(dataset, batch_size=8, generator=3)), first,
                        "the same seed")
    # Each batch has a generator of its own: batch 1's crops do not depend on batch 0's.
    halves = DataLoader(dataset, batch_size=4, generator=3)
    iterator = iter(halves)
    next(iterator)
    state = halves.state_dict()
    later = DataLoader(dataset, batch_size=4, generator=0)
    later.load_state_dict(state)
    np.testing.assert_array_equal(next(iter(later))[0], next(iterator)[0])


def test_a_subset_of_an_augmented_dataset_is_augmented_through_the_loader():
    dataset = Augmented(10, RandomHorizontalFlip(1.0))
    subset = Subset(dataset, [4, 2])
    assert subset.needs_generator
    images, labels = next(iter(DataLoader(subset, batch_size=2)))
    assert labels.tolist() == [4, 2]
    np.testing.assert_array_equal(images, dataset.images[[4, 2], ..., ::-1] / np.float32(255))


def test_without_random_batches_the_loader_draws_only_the_permutation():
    loader = DataLoader(numbered_dataset(20), batch_size=6, shuffle=True, generator=11)
    epoch_labels(loader)
    expected = np.random.default_rng(11)
    expected.permutation(20)
    assert loader.generator.bit_generator.state == expected.bit_generator.state, (
        "shuffling without augmentation is what it was before augmentation existed")
    augmented = DataLoader(Augmented(20), batch_size=6, shuffle=True, generator=11)
    epoch_batches(augmented)
    expected.integers(2**63)  # the epoch's batch seed, drawn after the permutation
    assert augmented.generator.bit_generator.state == expected.bit_generator.state


def test_an_abandoned_iteration_counts_as_an_epoch():
    loader = DataLoader(numbered_dataset(20), batch_size=4, shuffle=True, generator=0)
    reference = DataLoader(numbered_dataset(20), batch_size=4, shuffle=True, generator=0)
    for batch_number, _ in enumerate(loader):
        if batch_number == 1:
            break
    assert loader.state_dict()["batches_done"] == 2
    epoch_labels(reference)
    assert epoch_labels(loader) == epoch_labels(reference), "a new iter starts a fresh epoch"
    assert loader.epoch == 2


def test_an_older_iterator_stops_when_a_newer_one_starts():
    loader = DataLoader(numbered_dataset(12), batch_size=3)
    old = iter(loader)
    next(old)
    new = iter(loader)
    assert len(list(new)) == 4
    assert list(old) == [], "the superseded iterator must not disturb the bookkeeping"
    assert loader.epoch == 2


class ItemsOnly(Dataset):
    """A dataset without get_batch of its own: the base class stacks its samples."""

    def __len__(self):
        return 7

    def __getitem__(self, index):
        return np.full((2, 2), index, dtype=np.float64), index


def test_datasets_without_fast_path_are_stacked_sample_by_sample():
    images, labels = next(iter(DataLoader(ItemsOnly(), batch_size=5)))
    assert images.shape == (5, 2, 2) and images.dtype == np.float64
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2, 3, 4]
    plain_list = [(np.ones(3, np.float32), 1), (np.zeros(3, np.float32), 0)]
    features, targets = next(iter(DataLoader(plain_list, batch_size=2)))
    assert features.dtype == np.float32 and targets.tolist() == [1, 0]


def test_a_collate_fn_replaces_the_fast_path():
    def count_only(samples):
        return len(samples)

    loader = DataLoader(numbered_dataset(10), batch_size=4, collate_fn=count_only)
    assert list(loader) == [4, 4, 2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batches_keep_the_dataset_dtype(mnist_dir, dtype):
    loader = DataLoader(MNIST(mnist_dir, train=False, dtype=dtype), batch_size=256, drop_last=True)
    images, labels = next(iter(loader))
    assert images.dtype == dtype and images.shape == (256, 1, 28, 28)
    assert labels.dtype == np.int64
    assert images.min() >= 0 and images.max() <= 1, "images are scaled to [0, 1]"


def test_bad_arguments_are_refused():
    dataset = numbered_dataset(5)
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        DataLoader(dataset, batch_size=0)
    with pytest.raises(TypeError, match=r"batch_size must be an int, got 2\.5"):
        DataLoader(dataset, batch_size=2.5)
    with pytest.raises(TypeError, match="generator must be None, an int seed or a numpy"):
        DataLoader(dataset, shuffle=True, generator="seed")
    loader = DataLoader(dataset, batch_size=2)
    with pytest.raises(ValueError, match=r"state is missing \['generator_state'\]"):
        loader.load_state_dict({"epoch": 0, "batches_done": 0})
    state = loader.state_dict() | {"batches_done": 4}
    with pytest.raises(ValueError, match=r"batches_done must lie in \[0, 3\].*got 4"):
        loader.load_state_dict(state)


def test_repr_shows_the_non_default_options():
    loader = DataLoader(numbered_dataset(3), batch_size=2, shuffle=True, drop_last=True)
    assert repr(loader) == (
        "DataLoader(ArrayDataset(float32[3, 2], int64[3]), batch_size=2, shuffle=True, "
        "drop_last=True)"
    )
