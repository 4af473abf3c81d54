"""The same LeNet-5 training step in minicnn and in PyTorch, shared by every whole-model bench.

A step is what ``minicnn.train.loop.train_epoch`` does per batch: zero the gradients,
forward, cross-entropy loss, backward, SGD step (lr 0.01, momentum 0.9), and read the loss
and the number of correct predictions back as Python numbers. The PyTorch twin is the same
``nn.Sequential`` (modern LeNet-5: ReLU, max-pooling, first conv padded by 2), float32.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LEARNING_RATE", "MOMENTUM", "MinicnnTrainer", "TorchTrainer", "random_batch"]

LEARNING_RATE = 0.01
MOMENTUM = 0.9


def random_batch(batch: int) -> tuple[np.ndarray, np.ndarray]:
    """A float32 ``(batch, 1, 28, 28)`` image batch and int64 ``(batch,)`` labels in [0, 10)."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    return images, rng.integers(0, 10, size=batch)


class MinicnnTrainer:
    """minicnn's LeNet-5, loss and SGD; build it inside the variant (kernels or reference)."""

    def __init__(self):
        from minicnn.models.lenet import LeNet5
        from minicnn.nn.loss import CrossEntropyLoss
        from minicnn.optim.sgd import SGD

        self.model = LeNet5()
        # The images need no gradient, so the first convolution skips computing it, as
        # minicnn's Trainer does and as PyTorch does for an input without requires_grad.
        self.model.features[0].needs_input_grad = False
        self.loss_fn = CrossEntropyLoss()
        self.optimizer = SGD(self.model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    @staticmethod
    def prepare(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch as :meth:`step` takes it: NumPy arrays, as they are."""
        return images, labels

    def step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """One training step on ``images (B, 1, 28, 28)``; returns (loss, correct count)."""
        self.optimizer.zero_grad()
        logits = self.model(images)
        loss = float(self.loss_fn(logits, labels))
        self.model.backward(self.loss_fn.backward())
        self.optimizer.step()
        return loss, int(np.count_nonzero(logits.argmax(axis=1) == labels))


def torch_lenet5():
    """PyTorch's LeNet-5, layer for layer minicnn's ``LeNet5()``."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


class TorchTrainer:
    """PyTorch's LeNet-5, loss and SGD, stepping on tensors."""

    def __init__(self):
        import torch

        self.torch = torch
        self.model = torch_lenet5()
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LEARNING_RATE,
                                         momentum=MOMENTUM)

    def prepare(self, images: np.ndarray, labels: np.ndarray):
        """The batch as :meth:`step` takes it: tensors sharing the arrays' memory."""
        return self.torch.from_numpy(images), self.torch.from_numpy(labels)

    def step(self, images, labels) -> tuple[float, int]:
        """One training step on tensors; returns (loss, correct count) as Python numbers."""
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(images)
        loss = self.loss_fn(logits, labels)
        loss.backward()
        self.optimizer.step()
        return loss.item(), int((logits.argmax(dim=1) == labels).sum())
