"""Exercise 2: a fully connected layer, ``out = x @ weight.T + bias``, as ``torch.nn.Linear``.

Check your answer with ``minicnn exercises check DIR linear``.
"""

import numpy as np


def linear_forward(x, weight, bias):
    """The affine map of ``torch.nn.Linear``.

    Args:
        x: ``(N, in_features)``, a batch of N samples.
        weight: ``(out_features, in_features)``, PyTorch's layout (one row per output).
        bias: ``(out_features,)``.

    Returns:
        ``(out, cache)``: ``out = x @ weight.T + bias`` of shape ``(N, out_features)``, in
        ``x``'s dtype; ``cache`` is what :func:`linear_backward` needs.

    Shape:
        ``(N, in_features)`` -> ``(N, out_features)``
    """
    raise NotImplementedError


def linear_backward(grad_output, cache):
    """Gradients of :func:`linear_forward`'s output with respect to ``x``, ``weight``, ``bias``.

    Args:
        grad_output: ``dL/d out``, ``(N, out_features)``.
        cache: what :func:`linear_forward` returned.

    Returns:
        ``(grad_input, grad_weight, grad_bias)`` shaped like ``x`` ``(N, in_features)``,
        ``weight`` ``(out_features, in_features)`` and ``bias`` ``(out_features,)``.

    Hint:
        Write ``out[n, o] = sum_i x[n, i] * weight[o, i] + bias[o]`` and differentiate one
        entry at a time. Every sample uses the same ``weight`` and ``bias``, so their gradients
        are sums over the batch (not means: the loss's own gradient already divided by N).
        Each gradient has the shape of the thing it is the gradient of: let that pick the
        order of the matrix product.
    """
    raise NotImplementedError
