"""minicnn.data.dataset: ArrayDataset, Subset, random_split and default_collate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data import ArrayDataset, Dataset, Subset, default_collate, random_split


def test_array_dataset_indexes_every_array_together():
    images = np.arange(24, dtype=np.float32).reshape(4, 1, 2, 3)
    labels = np.array([3, 1, 4, 1], dtype=np.int64)
    dataset = ArrayDataset(images, labels)
    assert len(dataset) == 4
    image, label = dataset[2]
    np.testing.assert_array_equal(image, images[2])
    assert label == 4
    batch_images, batch_labels = dataset.get_batch(np.array([3, 0]))
    np.testing.assert_array_equal(batch_images, images[[3, 0]])
    assert batch_images.dtype == np.float32 and batch_labels.tolist() == [1, 3]


def test_array_dataset_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"same first dimension .* got shapes \(3, 2\), \(4,\)"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        ArrayDataset()
    with pytest.raises(ValueError, match=r"got shapes \(\)"):
        ArrayDataset(np.float32(1))


def test_dataset_needs_len_and_getitem():
    class Incomplete(Dataset):
        def __len__(self):
            return 3

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_subset_maps_indices_and_uses_the_parent_fast_path():
    parent = ArrayDataset(np.arange(10) * 10, np.arange(10))
    subset = Subset(parent, [7, 2, 5])
    assert len(subset) == 3
    assert subset[0] == (70, 7)
    values, labels = subset.get_batch(np.array([2, 0]))
    assert values.tolist() == [50, 70] and labels.tolist() == [5, 7]
    nested = Subset(subset, [1])
    assert nested.get_batch(np.array([0]))[1].tolist() == [2]


def test_subset_refuses_bad_indices():
    parent = ArrayDataset(np.arange(5))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\].*got values from 0 to 5"):
        Subset(parent, [0, 5])
    with pytest.raises(ValueError, match="from -1 to 1"):
        Subset(parent, [-1, 1])
    with pytest.raises(TypeError, match=r"1-D sequence of integers.*float64"):
        Subset(parent, [0.5])
    assert len(Subset(parent, [])) == 0


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 12), min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_random_split_partitions_the_dataset(counts, seed):
    total = sum(counts)
    parts = random_split(ArrayDataset(np.arange(total)), counts, generator=seed)
    assert [len(part) for part in parts] == counts
    indices = np.concatenate([part.indices for part in parts]) if parts else np.array([])
    assert sorted(indices.tolist()) == list(range(total)), "every sample in exactly one part"
    again = random_split(ArrayDataset(np.arange(total)), counts, generator=seed)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again)), "seeded"


@pytest.mark.parametrize(
    ("size", "fractions"),
    [(10, [0.5, 0.25, 0.25]), (7, [0.3, 0.3, 0.4]), (5, [1.0]), (3, [0.5, 0.5])],
)
def test_random_split_by_fractions_sizes_parts_as_torch_does(size, fractions):
    parts = random_split(ArrayDataset(np.arange(size)), fractions, generator=0)
    torch_parts = torch.utils.data.random_split(range(size), fractions)
    assert [len(part) for part in parts] == [len(part) for part in torch_parts]


def test_random_split_refuses_lengths_that_do_not_add_up():
    dataset = ArrayDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"sum to the dataset's 10 samples, got \[3, 3\]"):
        random_split(dataset, [3, 3])
    with pytest.raises(ValueError, match="fractions must be non-negative and sum to 1"):
        random_split(dataset, [0.5, 0.6])


def test_default_collate_stacks_field_by_field():
    samples = [(np.full((1, 2), i, np.float32), i, 0.5 * i, np.int16(i)) for i in range(3)]
    images, labels, weights, small = default_collate(samples)
    assert images.shape == (3, 1, 2) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2]
    assert weights.dtype == np.float64 and small.dtype == np.int16
    assert default_collate([True, False]).dtype == np.bool_


def test_default_collate_refuses_what_it_cannot_stack():
    with pytest.raises(ValueError, match="empty list"):
        default_collate([])
    with pytest.raises(TypeError, match="got str; pass a collate_fn"):
        default_collate(["a", "b"])
