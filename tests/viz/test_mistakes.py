"""Probabilities, the most confident mistakes and the confusion matrix, by hand on small cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minicnn.viz import confident_mistakes, confusion_matrix, predict_probabilities
from tests.helpers.twins import twin_pair


def test_probabilities_are_the_softmax_of_torchs_logits_in_batches():
    ours, theirs = twin_pair("lenet5", np.float64, seed=0)
    images = np.random.default_rng(0).standard_normal((7, 1, 28, 28))
    probabilities = predict_probabilities(ours.train(), images, batch_size=3)
    with torch.no_grad():
        expected = torch.softmax(theirs(torch.from_numpy(images)), dim=1).numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-10, atol=1e-12)
    assert ours.training, "the training mode is restored"


def test_confident_mistakes_order_and_count():
    probabilities = np.array([
        [0.9, 0.1, 0.0],   # right
        [0.2, 0.7, 0.1],   # wrong (true 0), confidence 0.7
        [0.1, 0.05, 0.85],  # wrong (true 1), 0.85
        [0.6, 0.4, 0.0],   # wrong (true 2), 0.6
        [0.2, 0.7, 0.1],   # wrong (true 2), 0.7: ties keep the dataset order
    ])
    targets = np.array([0, 0, 1, 2, 2])
    np.testing.assert_array_equal(confident_mistakes(probabilities, targets), [2, 1, 4, 3])
    np.testing.assert_array_equal(confident_mistakes(probabilities, targets, count=2), [2, 1])
    assert len(confident_mistakes(probabilities[:1], targets[:1])) == 0


def test_confusion_matrix_counts():
    matrix = confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0], classes=4)
    np.testing.assert_array_equal(matrix, [[1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 2, 0],
                                           [0, 0, 0, 0]])
    assert confusion_matrix([1, 0], [0, 0]).shape == (2, 2), "classes from the labels seen"
    with pytest.raises(ValueError, match="two 1-D arrays of one length"):
        confusion_matrix([0, 1], [0])
