"""Exercise 12: one whole training step of LeNet-5, by hand, from your own pieces.

LeNet-5 (as ``minicnn.models.LeNet5``), on ``(N, 1, 28, 28)`` images::

    features.0   Conv2d(1, 6, 5, padding=2)   -> (N, 6, 28, 28)   then ReLU
                 MaxPool2d(2)                  -> (N, 6, 14, 14)
    features.3   Conv2d(6, 16, 5)              -> (N, 16, 10, 10)  then ReLU
                 MaxPool2d(2)                  -> (N, 16, 5, 5)
                 flatten                       -> (N, 400)
    classifier.1 Linear(400, 120)  then ReLU
    classifier.3 Linear(120, 84)   then ReLU
    classifier.5 Linear(84, 10)    -> logits, then softmax cross-entropy

Check your answer with ``minicnn exercises check DIR lenet5_step``: it also trains LeNet-5 on
MNIST with your step alone.
"""

import numpy as np

from .conv2d import conv2d_backward, conv2d_forward
from .linear import linear_backward, linear_forward
from .max_pool2d import max_pool2d_backward, max_pool2d_forward
from .relu import relu_backward, relu_forward
from .sgd_momentum import sgd_momentum_update
from .softmax_cross_entropy import softmax_cross_entropy


def lenet5_training_step(params, buffers, images, labels, lr=0.05, momentum=0.9):
    """Forward, loss, backward and an SGD-with-momentum update of every parameter.

    Args:
        params: a dict of LeNet-5's parameters by their ``state_dict`` names:
            ``features.0.weight`` ``(6, 1, 5, 5)``, ``features.0.bias`` ``(6,)``,
            ``features.3.weight`` ``(16, 6, 5, 5)``, ``features.3.bias`` ``(16,)``,
            ``classifier.1.weight`` ``(120, 400)``, ``classifier.1.bias`` ``(120,)``,
            ``classifier.3.weight`` ``(84, 120)``, ``classifier.3.bias`` ``(84,)``,
            ``classifier.5.weight`` ``(10, 84)``, ``classifier.5.bias`` ``(10,)``.
        buffers: a dict of momentum buffers by the same names; empty before the first step.
        images: ``(N, 1, 28, 28)``.
        labels: ``(N,)`` integer classes.
        lr, momentum: the SGD settings (no weight decay, no Nesterov).

    Returns:
        ``(loss, grads, new_params, new_buffers)``: the batch's mean loss (a float), the
        gradients before the update and the updated parameters and buffers, each a dict by
        the same names.

    Hint:
        Keep every cache of the forward in a list, then walk it backwards. Flattening is a
        reshape, and so is its backward. Use :func:`sgd_momentum_update` with
        ``buffers.get(name)``.
    """
    raise NotImplementedError
