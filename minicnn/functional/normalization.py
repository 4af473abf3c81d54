"""Batch and group normalisation as pure functions: forward passes and their backwards.

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

Group normalisation (:func:`group_norm`) takes the statistics over other sets of values: for
each sample, over a group of ``C/G`` channels and all their positions, so it needs no batch,
behaves the same in training and evaluation, and keeps no running statistics. Its backward is
batch normalisation's training-mode formula with the sums taken over each group instead of
each channel.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "batch_norm",
    "batch_norm_backward",
    "batch_norm_backward_from_sums",
    "batch_norm_forward",
    "batch_norm_forward_with_statistics",
    "batch_norm_grad_sums",
    "batch_norm_statistics",
    "combine_batch_statistics",
    "group_norm",
    "group_norm_backward",
    "group_norm_forward",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _reduce_axes(ndim: int) -> tuple[int, ...]:
    """Every axis but the channel axis 1: ``(0,)``, ``(0, 2)`` or ``(0, 2, 3)``."""
    return (0, *range(2, ndim))


def _per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    """View a ``(C,)`` vector as ``(1, C, 1, ...)`` so it broadcasts along axis 1 of an input."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _scale_and_shift(x_hat: np.ndarray, weight: np.ndarray | None,
                     bias: np.ndarray | None) -> np.ndarray:
    """The affine map after a normalisation: ``x_hat * weight[c] + bias[c]`` (each optional)."""
    output = x_hat
    if weight is not None:
        output = output * _per_channel(weight, x_hat.ndim)
    if bias is not None:
        output = output + _per_channel(bias, x_hat.ndim)
    return output


def _values_per_channel(shape: tuple[int, ...]) -> int:
    """``m``, the number of values each channel's statistics are taken over: ``N * L`` etc."""
    return shape[0] * int(np.prod(shape[2:]))


def _check_input_and_per_channel(owner: str, x, per_channel: dict) -> None:
    """``x`` a float ``(N, C, *)`` array; each array of ``per_channel`` None or ``(C,)`` of
    ``x``'s dtype. Shared by batch and group normalisation."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: expected a numpy.ndarray input, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{owner}: expected a float32 or float64 input, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(
            f"{owner}: expected an input of shape (N, C, *) with at least 2 dimensions, "
            f"got shape {x.shape}"
        )
    channels = x.shape[1]
    for name, array in per_channel.items():
        if array is None:
            continue
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{owner}: expected {name} as a numpy.ndarray, "
                            f"got {type(array).__name__}")
        if array.shape != (channels,):
            raise ValueError(f"{owner}: expected {name} of shape ({channels},) for an input "
                             f"with {channels} channels, got shape {array.shape}")
        if array.dtype != x.dtype:
            raise TypeError(f"{owner}: {name} has dtype {array.dtype} but the input has "
                            f"dtype {x.dtype}; they must match")


def _check_arguments(x, per_channel: dict, training: bool, momentum: float, eps: float,
                     count: int | None = None) -> None:
    """``count``: the values per channel the training statistics span (default: ``x``'s)."""
    _check_input_and_per_channel("batch_norm", x, per_channel)
    if training:
        if (_values_per_channel(x.shape) if count is None else count) < 2:
            raise ValueError(
                "batch_norm: expected more than 1 value per channel when training, "
                f"got input size {x.shape}"
                + ("" if count is None else f" ({count} over every process)")
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
        _update_running_statistics(running_mean, running_var, mean, biased_var,
                                   _values_per_channel(x.shape), momentum)
    else:
        centered = x - _per_channel(running_mean, x.ndim)
        inv_std = 1.0 / np.sqrt(running_var + eps)
    x_hat = centered * _per_channel(inv_std, x.ndim)
    return _scale_and_shift(x_hat, weight, bias), x_hat, inv_std


def _update_running_statistics(running_mean, running_var, mean, biased_var, count: int,
                               momentum: float) -> None:
    # The running variance estimates the population's, hence the unbiased m/(m-1) factor;
    # the normalisation itself uses the batch's biased variance, as the paper does.
    unbiased_var = biased_var * (count / (count - 1))
    if running_mean is not None:
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean
    if running_var is not None:
        running_var *= 1.0 - momentum
        running_var += momentum * unbiased_var


def batch_norm_statistics(x: np.ndarray) -> np.ndarray:
    """One process's share of the batch statistics, for SyncBatchNorm to combine.

    Returns:
        a ``(3, C)`` float64 array: the number ``m`` of values of each channel, their mean and
        ``M2``, the sum of their squared deviations from that mean (all zero for an empty
        input). float64 carries the counts exactly and a float32 input's sums without loss.
    """
    axes = _reduce_axes(x.ndim)
    statistics = np.zeros((3, x.shape[1]), dtype=np.float64)
    count = _values_per_channel(x.shape)
    if count:
        mean = x.mean(axis=axes)
        centered = x - _per_channel(mean, x.ndim)
        statistics[0] = count
        statistics[1] = mean
        statistics[2] = (centered * centered).sum(axis=axes)
    return statistics


def combine_batch_statistics(statistics: np.ndarray, dtype) -> tuple[int, np.ndarray, np.ndarray]:
    """The whole batch's ``(m, mean, biased variance)`` from every process's
    :func:`batch_norm_statistics`, stacked ``(processes, 3, C)``.

    Chan, Golub and LeVeque's pairwise update, applied in process order (so every process
    gets the same bits): joining parts ``a`` and ``b`` with ``delta = mean_b - mean_a``::

        m    = m_a + m_b
        mean = mean_a + delta * m_b / m
        M2   = M2_a + M2_b + delta^2 * m_a * m_b / m

    It never subtracts two large sums of squares (``sum x^2 - m mean^2``), which in float32
    would cancel away the variance of data far from zero. The mean and variance are returned
    in ``dtype``, the input's.
    """
    count, mean, m2 = 0.0, None, None
    for part_count, part_mean, part_m2 in statistics:
        part_count = float(part_count[0])
        if part_count == 0:
            continue
        if count == 0:
            count, mean, m2 = part_count, part_mean, part_m2
            continue
        joined = count + part_count
        delta = part_mean - mean
        mean = mean + delta * (part_count / joined)
        m2 = m2 + part_m2 + delta * delta * (count * part_count / joined)
        count = joined
    if count == 0:
        channels = statistics.shape[-1]
        return 0, np.zeros(channels, dtype), np.zeros(channels, dtype)
    return int(count), mean.astype(dtype), (m2 / count).astype(dtype)


def batch_norm_forward_with_statistics(
    x: np.ndarray,
    count: int,
    mean: np.ndarray,
    biased_var: np.ndarray,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode :func:`batch_norm_forward` with statistics taken over a larger batch than
    ``x`` (SyncBatchNorm: the union of every process's input; ``count`` values per channel).

    Normalises ``x`` with ``mean`` and ``biased_var``, records them in the running statistics
    (the variance unbiased by ``count / (count - 1)``) and returns ``(output, x_hat,
    inv_std)`` as :func:`batch_norm_forward` does.
    """
    _check_arguments(x, {"running_mean": running_mean, "running_var": running_var,
                         "weight": weight, "bias": bias, "mean": mean, "biased_var": biased_var},
                     True, momentum, eps, count=count)
    inv_std = 1.0 / np.sqrt(biased_var + eps)
    _update_running_statistics(running_mean, running_var, mean, biased_var, count, momentum)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)
    return _scale_and_shift(x_hat, weight, bias), x_hat, inv_std


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
    grad_bias, grad_weight = batch_norm_grad_sums(grad_output, x_hat)
    if training:
        grad_input = batch_norm_backward_from_sums(
            grad_output, x_hat, inv_std, weight, grad_bias, grad_weight,
            _values_per_channel(x_hat.shape))
    else:
        scale = inv_std if weight is None else weight * inv_std
        grad_input = grad_output * _per_channel(scale, ndim)
    return grad_input, grad_weight, grad_bias


def batch_norm_grad_sums(grad_output: np.ndarray,
                         x_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sum(g), sum(g * x_hat))`` per channel: the bias's and the weight's gradients, and
    the two sums the training-mode input gradient needs (SyncBatchNorm adds them over every
    process)."""
    axes = _reduce_axes(x_hat.ndim)
    return grad_output.sum(axis=axes), (grad_output * x_hat).sum(axis=axes)


def batch_norm_backward_from_sums(grad_output: np.ndarray, x_hat: np.ndarray,
                                  inv_std: np.ndarray, weight: np.ndarray | None,
                                  sum_grad: np.ndarray, sum_grad_x_hat: np.ndarray,
                                  count: int) -> np.ndarray:
    """The training-mode input gradient, given the sums of :func:`batch_norm_grad_sums` over
    the ``count`` values of each channel the statistics were taken over::

        grad_input = weight * inv_std * (g - sum_grad / m - x_hat * sum_grad_x_hat / m)

    With sums over every process's share of the batch (SyncBatchNorm), each process gets
    its share of the gradient one process holding the whole batch would compute.
    """
    ndim = x_hat.ndim
    scale = inv_std if weight is None else weight * inv_std
    return _per_channel(scale, ndim) * (
        grad_output
        - _per_channel(sum_grad / count, ndim)
        - x_hat * _per_channel(sum_grad_x_hat / count, ndim)
    )


# ---------------------------------------------------------------------------- group norm
def _check_group_norm_arguments(x, num_groups, weight, bias, eps) -> None:
    owner = "group_norm"
    _check_input_and_per_channel(owner, x, {"weight": weight, "bias": bias})
    if not isinstance(num_groups, numbers.Integral) or isinstance(num_groups, bool) \
            or num_groups < 1:
        raise ValueError(f"{owner}: num_groups must be a positive integer, got {num_groups!r}")
    if x.shape[1] % num_groups != 0:
        raise ValueError(
            f"{owner}: Expected number of channels in input to be divisible by num_groups, but "
            f"got input of shape {x.shape} and num_groups={num_groups}"
        )
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not eps > 0:
        raise ValueError(f"{owner}: eps must be a positive number, got {eps!r}")


def _grouped(x: np.ndarray, num_groups: int) -> np.ndarray:
    """View a non-empty ``(N, C, *)`` as ``(N, G, m)``: each row holds one group's
    ``m = C/G * prod(*)`` values, the ones its statistics are taken over."""
    return x.reshape(x.shape[0], num_groups, -1)


def group_norm_forward(
    x: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`group_norm`, also returning what :func:`group_norm_backward` needs.

    Returns:
        ``(output, x_hat, inv_std)``: ``output`` and ``x_hat`` (the normalised input, before
        the affine map) have the input's shape; ``inv_std = 1 / sqrt(var + eps)`` has shape
        ``(N, G)``. All three have the input's dtype.
    """
    _check_group_norm_arguments(x, num_groups, weight, bias, eps)
    if x.size == 0:  # an empty batch (or empty groups): nothing to take statistics of
        return x.copy(), x.copy(), np.ones((x.shape[0], num_groups), x.dtype)
    groups = _grouped(x, num_groups)
    centered = groups - groups.mean(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt(np.mean(centered * centered, axis=2) + eps)
    x_hat = (centered * inv_std[:, :, None]).reshape(x.shape)
    return _scale_and_shift(x_hat, weight, bias), x_hat, inv_std


def group_norm(
    x: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """Group normalisation, as ``torch.nn.functional.group_norm``.

    The ``C`` channels are split into ``num_groups`` groups of ``C/G`` consecutive channels;
    each sample's group is normalised with its own mean and biased variance, taken over its
    ``m = C/G * prod(*)`` values, then each channel is scaled and shifted::

        y = (x - mean[n, g]) / sqrt(var[n, g] + eps) * weight[c] + bias[c]

    Args:
        x: input of shape ``(N, C, *)`` (at least 2 dimensions).
        num_groups: ``G``, which must divide ``C``. ``G = 1`` normalises each sample as a
            whole (as LayerNorm over ``(C, *)``); ``G = C`` each channel of each sample (as
            InstanceNorm).
        weight, bias: optional ``(C,)`` scale and shift.
        eps: added to the variance before the square root; positive.

    Returns:
        The input's shape and dtype.
    """
    output, _, _ = group_norm_forward(x, num_groups, weight, bias, eps)
    return output


def group_norm_backward(
    grad_output: np.ndarray,
    x_hat: np.ndarray,
    inv_std: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of group normalisation from what :func:`group_norm_forward` returned.

    With ``g = grad_output``::

        grad_bias[c]   = sum over n and * of g[n, c]
        grad_weight[c] = sum over n and * of g[n, c] * x_hat[n, c]

    The affine map scales the gradient reaching ``x_hat`` by ``weight[c]``: ``d = g * weight``.
    Each group's mean and variance depend on every value of the group, so, exactly as in
    batch normalisation's training mode with group sums ``sum_g`` over its ``m`` values::

        grad_input = inv_std[n, g] * (d - sum_g(d) / m - x_hat * sum_g(d * x_hat) / m)

    Args:
        grad_output: gradient of the output, the input's shape ``(N, C, *)``.
        x_hat: the normalised input from the forward, same shape.
        inv_std: ``(N, G)`` from the forward.
        num_groups: ``G``, as in the forward.
        weight: the ``(C,)`` scale used in the forward, ``None`` for none (a scale of 1).

    Returns:
        ``(grad_input, grad_weight, grad_bias)``: the input's shape, then ``(C,)`` twice
        (computed even when the forward had no weight or bias; a caller without those
        parameters ignores them).
    """
    if grad_output.shape != x_hat.shape:
        raise ValueError(
            f"group_norm_backward: expected grad_output of shape {x_hat.shape} (the forward "
            f"output's shape), got {grad_output.shape}"
        )
    axes = _reduce_axes(x_hat.ndim)
    grad_bias = grad_output.sum(axis=axes)
    grad_weight = (grad_output * x_hat).sum(axis=axes)
    if x_hat.size == 0:
        return grad_output.copy(), grad_weight, grad_bias
    grad_x_hat = grad_output if weight is None else grad_output * _per_channel(weight, x_hat.ndim)
    d = _grouped(grad_x_hat, num_groups)
    groups_hat = _grouped(x_hat, num_groups)
    grad_input = inv_std[:, :, None] * (
        d
        - d.mean(axis=2, keepdims=True)
        - groups_hat * (d * groups_hat).mean(axis=2, keepdims=True)
    )
    return grad_input.reshape(x_hat.shape), grad_weight, grad_bias
