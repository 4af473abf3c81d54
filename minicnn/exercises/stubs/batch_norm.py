"""Exercise 8: batch normalisation in training mode, as ``torch.nn.BatchNorm2d``.

Check your answer with ``minicnn exercises check DIR batch_norm``.
"""

import numpy as np


def batch_norm_forward(x, weight, bias, eps=1e-5):
    """Normalise every channel with the batch's own mean and variance, then scale and shift.

    For channel ``c``, with ``mean[c]`` and ``var[c]`` taken over the ``m = N*H*W`` values of
    that channel (``var`` the biased variance, dividing by ``m``)::

        x_hat = (x - mean[c]) / sqrt(var[c] + eps)
        out   = weight[c] * x_hat + bias[c]

    Args:
        x: ``(N, C, H, W)``.
        weight: ``(C,)``, the scale gamma.
        bias: ``(C,)``, the shift beta.
        eps: added to the variance.

    Returns:
        ``(out, cache)``: ``out`` of ``x``'s shape and dtype.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``
    """
    raise NotImplementedError


def batch_norm_backward(grad_output, cache):
    """Gradients of :func:`batch_norm_forward` with respect to ``x``, ``weight`` and ``bias``.

    Args:
        grad_output: ``(N, C, H, W)``.
        cache: what :func:`batch_norm_forward` returned.

    Returns:
        ``(grad_input, grad_weight, grad_bias)`` shaped ``(N, C, H, W)``, ``(C,)``, ``(C,)``.

    Hint:
        ``grad_bias`` and ``grad_weight`` are sums over N, H and W. The mean and variance are
        functions of every ``x`` of the channel, so ``grad_input`` has three terms; written
        with ``g = grad_output * weight`` and sums over the channel's m values, it collapses to
        ``(g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)``. Derive it: treating
        the mean and variance as constants gives the evaluation-mode gradient, not this one.
    """
    raise NotImplementedError
