"""Batch normalisation as pure functions: the forward pass, and its backward in both modes.

For an input ``x`` of shape ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)`` every channel ``c``
is normalised with a mean and a variance taken over every axis but 1 (the batch and the
spatial axes), then scaled and shifted::

    x_hat = (x - mean[c]) * inv_std[c]          inv_std[c] = 1 / sqrt(var[c] + eps)
    y     = weight[c] * x_hat + bias[c]

In training mode ``mean`` and ``var`` are the batch's own (``var`` the biased variance, divided
by the ``m = N*L`` or ``N*H*W`` values of a channel), so each ``x_hat`` depends on every value of
its channel and the backward pass has to go through the statistics. In evaluation mode they
are the running statistics, constants, and the layer is a per-channel affine map.

The forward caches ``x_hat`` (shape of ``x``) and ``inv_std`` (shape ``(C,)``): with them the
backward needs neither ``x`` nor the mean, and the training-mode input gradient takes one line.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["batch_norm", "batch_norm_backward", "batch_norm_forward"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _reduce_axes(ndim: int) -> tuple[int, ...]:
    """Every axis but the channel axis 1: ``(0,)``, ``(0, 2)`` or ``(0, 2, 3)``."""
    return (0, *range(2, ndim))


def _per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    """View a ``(C,)`` vector as ``(1, C, 1, ...)`` so it broadcasts along axis 1 of an input."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _values_per_channel(shape: tuple[int, ...]) -> int:
    """``m``, the number of values each channel's statistics are taken over: ``N * L`` etc."""
    return shape[0] * int(np.prod(shape[2:]))


def _check_arguments(x, per_channel: dict, training: bool, momentum: float, eps: float) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"batch_norm: expected a numpy.ndarray input, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"batch_norm: expected a float32 or float64 input, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input of shape (N, C, *) with at least 2 dimensions, "
            f"got shape {x.shape}"
        )
    channels = x.shape[1]
    for name, array in per_channel.items():
        if array is None:
            continue
        if not isinstance(array, np.ndarray):
            raise TypeError(f"batch_norm: expected {name} as a numpy.ndarray, "
                            f"got {type(array).__name__}")
        if array.shape != (channels,):
            raise ValueError(f"batch_norm: expected {name} of shape ({channels},) for an input "
                             f"with {channels} channels, got shape {array.shape}")
        if array.dtype != x.dtype:
            raise TypeError(f"batch_norm: {name} has dtype {array.dtype} but the input has "
                            f"dtype {x.dtype}; they must match")
    if training:
        if _values_per_channel(x.shape) < 2:
            raise ValueError(
                "batch_norm: expected more than 1 value per channel when training, "
                f"got input size {x.shape}"
            )
        if eps <= 0:
            raise ValueError(f"batch_norm: eps must be positive during training, got {eps}")
        if not isinstance(momentum, numbers.Real) or isinstance(momentum, bool):
            raise TypeError(
                f"batch_norm: momentum must be a number, got {momentum!r} (a layer built with "
                "momentum=None passes 1 / num_batches_tracked)"
            )
    else:
        if eps < 0:
            raise ValueError(f"batch_norm: eps must be non-negative, got {eps}")
        if per_channel["running_mean"] is None or per_channel["running_var"] is None:
            raise ValueError(
                "batch_norm: running_mean and running_var are required when training=False "
                "(evaluation normalises with them)"
            )


def batch_norm_forward(
    x: np.ndarray,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`batch_norm`, also returning what :func:`batch_norm_backward` needs.

    Returns:
        ``(output, x_hat, inv_std)``: ``output`` and ``x_hat`` (the normalised input, before
        the affine map) have the input's shape; ``inv_std = 1 / sqrt(var + eps)`` has shape
        ``(C,)``, with ``var`` the batch's biased variance in training and ``running_var``
        otherwise. All three have the input's dtype.
    """
    _check_arguments(
        x,
        {"running_mean": running_mean, "running_var": running_var, "weight": weight,
         "bias": bias},
        training,
        momentum,
        eps,
    )
    axes = _reduce_axes(x.ndim)
    if training:
        mean = x.mean(axis=axes)
        centered = x - _per_channel(mean, x.ndim)
        biased_var = np.mean(centered * centered, axis=axes)
        inv_std = 1.0 / np.sqrt(biased_var + eps)
        # The running variance estimates the population's, hence the unbiased m/(m-1) factor;
        # the normalisation itself uses the batch's biased variance, as the paper does.
        values_per_channel = _values_per_channel(x.shape)
        unbiased_var = biased_var * (values_per_channel / (values_per_channel - 1))
        if running_mean is not None:
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1.0 - momentum
            running_var += momentum * unbiased_var
    else:
        centered = x - _per_channel(running_mean, x.ndim)
        inv_std = 1.0 / np.sqrt(running_var + eps)
    x_hat = centered * _per_channel(inv_std, x.ndim)
    output = x_hat
    if weight is not None:
        output = output * _per_channel(weight, x.ndim)
    if bias is not None:
        output = output + _per_channel(bias, x.ndim)
    return output, x_hat, inv_std


def batch_norm(
    x: np.ndarray,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> np.ndarray:
    """Batch normalisation over axis 1, as ``torch.nn.functional.batch_norm``.

    Args:
        x: input of shape ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)`` (any ``(N, C, *)``).
        running_mean, running_var: ``(C,)`` arrays or ``None``. With ``training=False`` they
            are required and normalise the input. With ``training=True`` the batch's statistics
            normalise it and, when given, these arrays are updated **in place**::

                running_mean = (1 - momentum) * running_mean + momentum * batch_mean
                running_var  = (1 - momentum) * running_var  + momentum * batch_var_unbiased

        weight, bias: optional ``(C,)`` scale ``gamma`` and shift ``beta``.
        training: use (and record) the batch's statistics rather than the running ones.
        momentum: the running statistics' update factor, a float. (A layer with
            ``momentum=None`` passes ``1 / num_batches_tracked``, a cumulative average.)
        eps: added to the variance before the square root; positive in training.

    Returns:
        ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel, the input's shape and
        dtype.

    Raises:
        ValueError: in training, when a channel has a single value (its variance is
            undefined), as PyTorch does.
    """
    output, _, _ = batch_norm_forward(
        x, running_mean, running_var, weight, bias, training, momentum, eps
    )
    return output


def batch_norm_backward(
    grad_output: np.ndarray,
    x_hat: np.ndarray,
    inv_std: np.ndarray,
    weight: np.ndarray | None = None,
    training: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch normalisation from what :func:`batch_norm_forward` returned.

    With ``g = grad_output`` and sums ``sum_c`` over the ``m`` values of channel ``c``::

        grad_bias[c]   = sum_c(g)
        grad_weight[c] = sum_c(g * x_hat)

    Evaluation mode (``training=False``): the mean and variance are constants, so
    ``grad_input = g * weight * inv_std``.

    Training mode: the batch mean and variance depend on every input of the channel. Chaining
    through them (``d mean/dx = 1/m``, ``d var/dx = 2 (x - mean) / m``) collapses to::

        grad_input = weight * inv_std * (g - grad_bias / m - x_hat * grad_weight / m)

    i.e. ``g`` minus its channel mean, minus its projection on ``x_hat``: the two directions
    in which the normalisation cannot move its output.

    Args:
        grad_output: gradient of the output, the input's shape ``(N, C, *)``.
        x_hat: the normalised input from the forward, same shape.
        inv_std: ``(C,)`` from the forward.
        weight: the ``(C,)`` scale used in the forward, ``None`` for none (a scale of 1).
        training: whether the forward used the batch's statistics (``training=True``).

    Returns:
        ``(grad_input, grad_weight, grad_bias)``: the input's shape, then ``(C,)`` twice.
        ``grad_weight`` and ``grad_bias`` are computed even when the forward had no weight or
        bias (the training formula needs them); a caller without those parameters ignores them.
    """
    if grad_output.shape != x_hat.shape:
        raise ValueError(
            f"batch_norm_backward: expected grad_output of shape {x_hat.shape} (the forward "
            f"output's shape), got {grad_output.shape}"
        )
    ndim = x_hat.ndim
    axes = _reduce_axes(ndim)
    grad_bias = grad_output.sum(axis=axes)
    grad_weight = (grad_output * x_hat).sum(axis=axes)
    scale = inv_std if weight is None else weight * inv_std
    if training:
        values_per_channel = _values_per_channel(x_hat.shape)
        grad_input = _per_channel(scale, ndim) * (
            grad_output
            - _per_channel(grad_bias / values_per_channel, ndim)
            - x_hat * _per_channel(grad_weight / values_per_channel, ndim)
        )
    else:
        grad_input = grad_output * _per_channel(scale, ndim)
    return grad_input, grad_weight, grad_bias
