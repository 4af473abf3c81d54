"""Optimisers and learning-rate schedulers, mirroring ``torch.optim``.

Each optimiser updates :class:`~minicnn.nn.Parameter` s in place from their ``.grad``, with
PyTorch's constructor arguments, defaults and update rules, so the same hyperparameters give
the same training run. Schedulers live in :mod:`minicnn.optim.lr_scheduler`, as in PyTorch::

    from minicnn import optim
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30)
"""

from minicnn.optim import lr_scheduler
from minicnn.optim.adam import Adam
from minicnn.optim.adamw import AdamW
from minicnn.optim.optimizer import Optimizer
from minicnn.optim.rmsprop import RMSprop
from minicnn.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
