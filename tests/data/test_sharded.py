"""minicnn.data.sharded: each rank's share of every global batch, for data parallelism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data import (
    CIFAR10,
    ArrayDataset,
    DataLoader,
    ShardedDataLoader,
    Subset,
    shard_bounds,
)
from minicnn.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip


def numbered_dataset(size: int) -> ArrayDataset:
    """Sample i is ``(features [i, -i] float32, label i)``."""
    labels = np.arange(size, dtype=np.int64)
    return ArrayDataset(np.stack([labels, -labels], axis=1).astype(np.float32), labels)


@given(count=st.integers(0, 200), ranks=st.integers(1, 9))
def test_shares_are_contiguous_in_rank_order_and_differ_by_at_most_one(count, ranks):
    bounds = [shard_bounds(count, rank, ranks) for rank in range(ranks)]
    assert bounds[0][0] == 0 and bounds[-1][1] == count, "the shares cover the batch"
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(bounds)), (
        "each share starts where the previous one ends")
    sizes = [end - start for start, end in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True), (
        f"expected sizes within one, larger first, got {sizes}")
    assert sizes == [len(part) for part in np.array_split(np.arange(count), ranks)]


@settings(max_examples=40)
@given(size=st.integers(1, 60), batch_size=st.integers(1, 16), ranks=st.integers(1, 5),
       seed=st.integers(0, 2**32), drop_last=st.booleans())
def test_the_ranks_shares_put_together_are_the_one_process_batches(size, batch_size, ranks,
                                                                   seed, drop_last):
    dataset = numbered_dataset(size)
    whole = list(DataLoader(dataset, batch_size, shuffle=True, drop_last=drop_last,
                            generator=seed))
    shares = [list(ShardedDataLoader(dataset, batch_size, shuffle=True, drop_last=drop_last,
                                     generator=seed, rank=rank, num_replicas=ranks))
              for rank in range(ranks)]
    assert all(len(rank_batches) == len(whole) for rank_batches in shares), (
        "every rank takes every step")
    for step, (_features, labels) in enumerate(whole):
        joined = np.concatenate([shares[rank][step][1] for rank in range(ranks)])
        np.testing.assert_array_equal(joined, labels, f"step {step}: shares in rank order")
        for rank in range(ranks):
            share_features, share_labels = shares[rank][step]
            assert share_features.shape == (len(share_labels), 2)
            assert share_features.dtype == np.float32 and share_labels.dtype == np.int64


def test_an_empty_share_keeps_the_fields_shapes_and_dtypes():
    # 7 samples in batches of 5 on 3 ranks: the last batch (2) leaves rank 2 without any.
    loader = ShardedDataLoader(numbered_dataset(7), batch_size=5, rank=2, num_replicas=3)
    (_, first), (features, labels) = list(loader)
    assert len(first) == 1
    assert features.shape == (0, 2) and features.dtype == np.float32
    assert labels.shape == (0,) and labels.dtype == np.int64


def test_an_empty_share_through_a_collate_function():
    dataset = [(np.full(3, i, np.float32), i) for i in range(4)]
    loader = ShardedDataLoader(dataset, batch_size=4, rank=4, num_replicas=5,
                               collate_fn=lambda samples: (np.stack([s[0] for s in samples]),
                                                           np.array([s[1] for s in samples])))
    ((features, labels),) = list(loader)
    assert features.shape == (0, 3) and labels.shape == (0,)


@pytest.mark.parametrize("ranks", [2, 3])
def test_augmented_shares_put_together_are_the_one_process_batches(ranks, cifar_files):
    """Each rank's crops and flips are those one process draws for the same images: the
    parameters are drawn for the global batch from its generator, whatever the share. 22
    images in batches of 8 end with a batch of 6: on 3 ranks, shares of 3, 3, 2 and 2, 2, 2."""
    root = cifar_files(per_file=5, test_count=2).root
    augment = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(),
                       Normalize((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))])
    dataset = Subset(CIFAR10(root, train=True, transform=augment, dtype=np.float64),
                     np.arange(22))
    assert dataset.needs_generator

    def epochs(loader):
        return [[tuple(field.copy() for field in batch) for batch in loader] for _ in range(2)]

    whole = epochs(DataLoader(dataset, 8, shuffle=True, generator=4))
    shares = [epochs(ShardedDataLoader(dataset, 8, shuffle=True, generator=4, rank=rank,
                                       num_replicas=ranks))
              for rank in range(ranks)]
    for epoch, batches in enumerate(whole):
        for step, (images, labels) in enumerate(batches):
            joined = [np.concatenate([shares[rank][epoch][step][field] for rank in range(ranks)])
                      for field in (0, 1)]
            np.testing.assert_array_equal(joined[1], labels, f"epoch {epoch} step {step}")
            np.testing.assert_array_equal(
                joined[0], images, f"epoch {epoch} step {step}: expected the {ranks} ranks' "
                "augmented images to be one process's")


def test_state_is_the_global_loaders_so_another_rank_count_resumes_it():
    dataset = numbered_dataset(40)
    two = ShardedDataLoader(dataset, 8, shuffle=True, generator=5, rank=1, num_replicas=2)
    iterator = iter(two)
    next(iterator), next(iterator)
    state = two.state_dict()
    plain = DataLoader(dataset, 8, shuffle=True, generator=5)
    plain_iterator = iter(plain)
    next(plain_iterator), next(plain_iterator)
    assert state["batches_done"] == plain.state_dict()["batches_done"] == 2
    three = ShardedDataLoader(dataset, 8, shuffle=True, generator=0, rank=0, num_replicas=3)
    three.load_state_dict(state)
    rest = [labels for _, labels in three]
    expected = [labels[:3] for _, labels in plain_iterator]
    assert len(rest) == len(expected) == 3
    for got, want in zip(rest, expected):
        np.testing.assert_array_equal(got, want, "rank 0 of 3 resumes with its share")


@pytest.mark.parametrize("rank, ranks, error", [(2, 2, ValueError), (-1, 2, ValueError),
                                                (0, 0, ValueError), (0.0, 2, TypeError),
                                                (0, True, TypeError)])
def test_bad_rank_arguments_raise_sentences(rank, ranks, error):
    with pytest.raises(error, match="ShardedDataLoader"):
        ShardedDataLoader(numbered_dataset(4), 2, rank=rank, num_replicas=ranks)


def test_repr_names_the_share():
    loader = ShardedDataLoader(numbered_dataset(4), 2, rank=1, num_replicas=3)
    assert repr(loader).endswith("batch_size=2, rank=1, num_replicas=3)")
