"""Normalisation layers, as ``torch.nn.BatchNorm1d``, ``BatchNorm2d`` and ``GroupNorm``.

The maths lives in :mod:`minicnn.functional.normalization`; these layers own the state (the
affine parameters, and for batch normalisation the running statistics) and decide, from
``training`` and ``track_running_stats``, which statistics normalise the input and whether to
record them. Group normalisation uses each sample's own statistics in every mode.
"""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.functional.normalization import (
    batch_norm_backward,
    batch_norm_forward,
    group_norm_backward,
    group_norm_forward,
)
from minicnn.nn import init
from minicnn.nn._checks import check_backward_ready, check_input, layer_name
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _register_affine(module: Module, num_features: int, affine: bool, bias: bool,
                     dtype: np.dtype) -> None:
    """Register ``weight`` and ``bias`` as PyTorch's normalisation layers do: ``(C,)``
    parameters, ``None`` when not ``affine`` (``bias`` also when not ``bias``)."""
    if affine:
        module.weight = Parameter(np.empty(num_features, dtype))
        if bias:
            module.bias = Parameter(np.empty(num_features, dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module: Module) -> None:
    """``weight`` to ones and ``bias`` to zeros, where the layer has them."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


def _check_flags_and_dtype(name: str, dtype, **flags) -> np.dtype:
    """Raise unless each flag is a bool and ``dtype`` float32/float64 (None: float32);
    return the dtype."""
    for flag_name, flag in flags.items():
        if not isinstance(flag, bool):
            raise TypeError(f"{name}: {flag_name} must be a bool, got {flag!r}")
    resolved = np.dtype(np.float32) if dtype is None else np.dtype(dtype)
    if resolved not in _FLOAT_DTYPES:
        raise TypeError(f"{name}: dtype must be float32 or float64, got {resolved}")
    return resolved


class _NormBase(Module):
    """State shared by normalisation layers: affine parameters and running statistics.

    Registers exactly what PyTorch's ``_NormBase`` registers, under the same names and in the
    same order, so state dicts load both ways: parameters ``weight`` and ``bias`` (``None``
    when ``affine=False``; ``bias`` also ``None`` when ``bias=False``), then buffers
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` (all ``None`` when
    ``track_running_stats=False``).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        dtype = self._check_arguments(num_features, eps, momentum, affine, track_running_stats,
                                      dtype, bias)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _register_affine(self, num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            # An integer count, 0-d like PyTorch's tensor(0): Module.to(dtype) leaves it int64.
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def _check_arguments(self, num_features, eps, momentum, affine, track_running_stats, dtype,
                         bias) -> np.dtype:
        """Raise on a bad constructor argument; return the parameters' dtype."""
        name = type(self).__name__
        if not isinstance(num_features, numbers.Integral) or isinstance(num_features, bool):
            raise TypeError(f"{name}: num_features must be an int, got {num_features!r}")
        if num_features < 1:
            raise ValueError(f"{name}: num_features must be positive, got {num_features}")
        if not _is_real(eps) or not eps > 0:
            raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
        if momentum is not None and not (_is_real(momentum) and 0 <= momentum <= 1):
            raise ValueError(
                f"{name}: momentum must be a number in [0, 1], or None for a cumulative "
                f"average, got {momentum!r}"
            )
        return _check_flags_and_dtype(name, dtype, affine=affine,
                                      track_running_stats=track_running_stats, bias=bias)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen (when stats are tracked)."""
        if self.track_running_stats:
            # In place, so arrays handed out earlier (a state_dict) keep seeing the layer's state.
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, then ``weight`` to ones and ``bias`` to zeros."""
        self.reset_running_stats()
        _reset_affine(self)

    def _state_dtype(self) -> np.dtype | None:
        """The dtype inputs must have: the parameters', else the running statistics', else any."""
        if self.weight is not None:
            return self.weight.dtype
        if self.running_mean is not None:
            return self.running_mean.dtype
        return None

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Batch normalisation over axis 1; subclasses fix the input ranks (``_input_ndims``).

    Which statistics are used, as in PyTorch:

    ============================= ============================ ===============================
    mode                          normalise with               running statistics
    ============================= ============================ ===============================
    ``train()``, tracked          the batch's                  updated, ``num_batches_tracked``
                                                               += 1
    ``train()``, not tracked      the batch's                  none
    ``eval()``, tracked           the running ones             unchanged
    ``eval()``, not tracked       the batch's                  none
    ============================= ============================ ===============================

    The update is ``running = (1 - f) * running + f * batch_stat`` with ``f = momentum``, or
    ``f = 1 / num_batches_tracked`` (a plain average of every batch so far) when
    ``momentum=None``; the variance recorded is the unbiased one.
    """

    _input_ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         bias=bias)
        # Filled by forward, freed by backward.
        self._x_hat: np.ndarray | None = None  # normalised input, the input's shape
        self._inv_std: np.ndarray | None = None  # (C,) 1 / sqrt(var + eps)
        self._used_batch_stats: bool | None = None  # selects backward's formula

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, self._input_ndims, channels=self.num_features,
                    dtype=self._state_dtype())
        # Batch statistics in training, and in evaluation when there are no running ones.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        values_per_channel = x.size // self.num_features
        if use_batch_stats and values_per_channel < 2:
            raise ValueError(
                f"{layer_name(self)}: expected more than 1 value per channel when training "
                f"(a variance needs two), got input size {x.shape}"
            )
        factor = self._momentum_factor()
        # The running statistics are handed over to be read (evaluation) or updated (training
        # while tracking); training without tracking must leave them alone.
        pass_running_stats = not self.training or self.track_running_stats
        output, self._x_hat, self._inv_std = batch_norm_forward(
            x,
            self.running_mean if pass_running_stats else None,
            self.running_var if pass_running_stats else None,
            None if self.weight is None else self.weight.data,
            None if self.bias is None else self.bias.data,
            training=use_batch_stats,
            momentum=factor,
            eps=self.eps,
        )
        self._used_batch_stats = use_batch_stats
        return output

    def _momentum_factor(self) -> float:
        """Count a training batch (when tracking) and return the running statistics' update
        factor: ``momentum``, or ``1 / num_batches_tracked`` for a cumulative average."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        return factor

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        expected_shape = () if self._x_hat is None else self._x_hat.shape
        check_backward_ready(self, self._x_hat, grad_output, expected_shape,
                             None if self._x_hat is None else self._x_hat.dtype)
        grad_input, grad_weight, grad_bias = batch_norm_backward(
            grad_output,
            self._x_hat,
            self._inv_std,
            None if self.weight is None else self.weight.data,
            training=self._used_batch_stats,
        )
        if self.weight is not None:
            self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        self._x_hat = self._inv_std = self._used_batch_stats = None
        return grad_input


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of a 2D ``(N, C)`` or 3D ``(N, C, L)`` input, per channel ``C``.

    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias``, with ``E`` and ``Var`` over the
    ``N`` (and ``L``) values of each channel: the batch's in training (biased variance), the
    running estimates in evaluation. See :class:`_BatchNorm` for the mode table.

    Args:
        num_features: ``C``, the number of channels (features).
        eps: added to the variance for numerical stability. Default: 1e-5
        momentum: the running statistics' update factor, or ``None`` for a cumulative
            average. Default: 0.1 (unlike an optimiser's momentum, it weights the new batch).
        affine: learn a per-channel ``weight`` and ``bias``. Default: True
        track_running_stats: keep running estimates for evaluation; without them batch
            statistics are used in both modes. Default: True
        dtype: the parameters' and running statistics' dtype. Default: float32
        bias: (keyword only) learn ``bias`` too, when ``affine``. Default: True

    Shape:
        - Input: ``(N, C)`` or ``(N, C, L)``
        - Output: same shape as the input

    Attributes:
        weight: ``(C,)`` scale, initialised to 1 (``None`` when not ``affine``).
        bias: ``(C,)`` shift, initialised to 0 (``None`` when not ``affine`` or not ``bias``).
        running_mean: ``(C,)`` buffer, initialised to 0 (``None`` when not tracking).
        running_var: ``(C,)`` buffer, initialised to 1 (``None`` when not tracking).
        num_batches_tracked: 0-d int64 buffer counting the training batches seen.
    """

    _input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of a 4D ``(N, C, H, W)`` input, per channel ``C``.

    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias``, with ``E`` and ``Var`` over the
    ``N*H*W`` values of each channel: the batch's in training (biased variance), the running
    estimates in evaluation. See :class:`_BatchNorm` for the mode table.

    Args:
        num_features: ``C``, the number of channels.
        eps: added to the variance for numerical stability. Default: 1e-5
        momentum: the running statistics' update factor, or ``None`` for a cumulative
            average. Default: 0.1 (unlike an optimiser's momentum, it weights the new batch).
        affine: learn a per-channel ``weight`` and ``bias``. Default: True
        track_running_stats: keep running estimates for evaluation; without them batch
            statistics are used in both modes. Default: True
        dtype: the parameters' and running statistics' dtype. Default: float32
        bias: (keyword only) learn ``bias`` too, when ``affine``. Default: True

    Shape:
        - Input: ``(N, C, H, W)``
        - Output: ``(N, C, H, W)`` (same shape as the input)

    Attributes:
        weight: ``(C,)`` scale, initialised to 1 (``None`` when not ``affine``).
        bias: ``(C,)`` shift, initialised to 0 (``None`` when not ``affine`` or not ``bias``).
        running_mean: ``(C,)`` buffer, initialised to 0 (``None`` when not tracking).
        running_var: ``(C,)`` buffer, initialised to 1 (``None`` when not tracking).
        num_batches_tracked: 0-d int64 buffer counting the training batches seen.
    """

    _input_ndims = (4,)


class GroupNorm(Module):
    """Group normalisation of an ``(N, C, *)`` input: each sample's channels are split into
    ``num_groups`` groups, and each group is normalised with its own statistics.

    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias``, with ``E`` and ``Var`` (biased)
    over the ``C/G * prod(*)`` values of one sample's group of ``C/G`` consecutive channels,
    and ``weight``, ``bias`` per channel. Nothing is averaged over the batch, so the layer
    does the same in training and evaluation, works for a batch of one, and keeps no running
    statistics (Wu and He, 2018, "Group Normalization"). The backward pass is in
    :func:`minicnn.functional.normalization.group_norm_backward`.

    Args:
        num_groups: ``G``, the number of groups; must divide ``num_channels``. ``1`` is a
            LayerNorm over ``(C, *)``, ``num_channels`` an InstanceNorm with affine.
        num_channels: ``C``, the number of channels the input must have.
        eps: added to the variance for numerical stability; positive. Default: 1e-5
        affine: learn a per-channel ``weight`` and ``bias``. Default: True
        dtype: the parameters' dtype. Default: float32
        bias: (keyword only) learn ``bias`` too, when ``affine``. Default: True

    Shape:
        - Input: ``(N, C, *)`` with ``C = num_channels``
        - Output: ``(N, C, *)`` (same shape as the input)

    Attributes:
        weight: ``(C,)`` scale, initialised to 1 (``None`` when not ``affine``).
        bias: ``(C,)`` shift, initialised to 0 (``None`` when not ``affine`` or not ``bias``).

    Example::

        >>> norm = GroupNorm(4, 32)
        >>> norm(np.zeros((2, 32, 8, 8), np.float32)).shape
        (2, 32, 8, 8)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype=None, *, bias: bool = True):
        super().__init__()
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError(f"GroupNorm: {name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"GroupNorm: {name} must be positive, got {value}")
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        if not _is_real(eps) or not eps > 0:
            raise ValueError(f"GroupNorm: eps must be a positive number, got {eps!r}")
        dtype = _check_flags_and_dtype("GroupNorm", dtype, affine=affine, bias=bias)
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        _register_affine(self, num_channels, affine, bias, dtype)
        self.reset_parameters()
        # Filled by forward, freed by backward.
        self._x_hat: np.ndarray | None = None  # normalised input, the input's shape
        self._inv_std: np.ndarray | None = None  # (N, G) 1 / sqrt(var + eps)

    def reset_parameters(self) -> None:
        """``weight`` to ones and ``bias`` to zeros (when ``affine``)."""
        _reset_affine(self)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=range(0, 65),
                    dtype=None if self.weight is None else self.weight.dtype)
        if x.ndim < 2:
            raise ValueError(f"{layer_name(self)}: expected an input of shape (N, C, *) with at "
                             f"least 2 dimensions, got shape {x.shape}")
        check_input(self, x, ndims=(x.ndim,), channels=self.num_channels)
        values_per_group = x.size // self.num_groups  # over the whole batch, as PyTorch checks
        if values_per_group == 1:
            raise ValueError(
                f"{layer_name(self)}: expected more than 1 value per group (a variance needs "
                f"two), got input size {x.shape}"
            )
        output, self._x_hat, self._inv_std = group_norm_forward(
            x, self.num_groups, None if self.weight is None else self.weight.data,
            None if self.bias is None else self.bias.data, self.eps)
        return output

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        expected_shape = () if self._x_hat is None else self._x_hat.shape
        check_backward_ready(self, self._x_hat, grad_output, expected_shape,
                             None if self._x_hat is None else self._x_hat.dtype)
        grad_input, grad_weight, grad_bias = group_norm_backward(
            grad_output, self._x_hat, self._inv_std, self.num_groups,
            None if self.weight is None else self.weight.data)
        if self.weight is not None:
            self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        self._x_hat = self._inv_std = None
        return grad_input

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")
