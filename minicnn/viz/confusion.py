"""The confusion matrix: which digits the network takes for which."""

from __future__ import annotations

import numpy as np

from minicnn.viz._figure import new_figure

__all__ = ["confusion_matrix", "plot_confusion_matrix"]


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray,
                     classes: int | None = None) -> np.ndarray:
    """``matrix[t, p]`` counts the samples of true class ``t`` predicted as ``p``.

    ``classes`` defaults to one more than the largest label seen. Rows sum to the class
    counts, the diagonal holds the correct predictions.
    """
    targets = np.asarray(targets, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if targets.shape != predictions.shape or targets.ndim != 1:
        raise ValueError(f"confusion_matrix: expected two 1-D arrays of one length, got shapes "
                         f"{targets.shape} and {predictions.shape}")
    if classes is None:
        classes = int(max(targets.max(initial=-1), predictions.max(initial=-1))) + 1
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (targets, predictions), 1)
    return matrix


def plot_confusion_matrix(matrix: np.ndarray, class_names=None):
    """The matrix as a heat map with every count written in, ``6.5 x 6`` inches.

    The colour is the fraction of each *row* (each true class), so a class with few samples
    shows its errors as clearly as a common one; the numbers are the counts.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square matrix, got shape "
                         f"{matrix.shape}")
    classes = matrix.shape[0]
    names = [str(c) for c in range(classes)] if class_names is None else list(class_names)
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure = new_figure(6.5, 6)
    axes = figure.subplots()
    image = axes.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    for true_class in range(classes):
        for predicted in range(classes):
            count = matrix[true_class, predicted]
            if count:
                dark = fractions[true_class, predicted] > 0.5
                axes.text(predicted, true_class, str(count), ha="center", va="center",
                          fontsize=7, color="white" if dark else "black")
    axes.set_xticks(range(classes), names)
    axes.set_yticks(range(classes), names)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axes.set(xlabel="predicted", ylabel="true",
             title=f"confusion matrix: {matrix.sum()} images, accuracy {100 * accuracy:.2f}%")
    figure.colorbar(image, ax=axes, shrink=0.8, label="fraction of the true class")
    return figure
