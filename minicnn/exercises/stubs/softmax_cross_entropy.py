"""Exercise 3: softmax and cross-entropy together, as ``torch.nn.CrossEntropyLoss``.

Check your answer with ``minicnn exercises check DIR softmax_cross_entropy``.
"""

import numpy as np


def softmax_cross_entropy(logits, labels):
    """The mean cross-entropy of a batch of logits, and its gradient.

    ``p = softmax(logits)`` row by row, and ``loss = -(1/N) sum_n log p[n, labels[n]]``.

    Args:
        logits: ``(N, C)`` unnormalised scores, float32 or float64.
        labels: ``(N,)`` integer classes in ``[0, C)``.

    Returns:
        ``(loss, grad_logits)``: ``loss`` a scalar (a Python float or a 0-d array) and
        ``grad_logits = dloss/dlogits`` of shape ``(N, C)`` in ``logits``' dtype.

    Shape:
        ``(N, C)``, ``(N,)`` -> ``()``, ``(N, C)``

    Hint:
        Subtract each row's maximum before ``np.exp`` (it cancels in the ratio and keeps exp
        from overflowing). The gradient of one sample's loss is ``p - onehot(label)``; the
        loss is a mean over the batch.
    """
    raise NotImplementedError
