"""SyncBatchNorm: batch normalisation over the whole batch of a data-parallel step.

In data-parallel training each process (rank) holds a share of the batch. A plain BatchNorm
normalises each share with its own mean and variance, so a network with BatchNorm trained on
N ranks of B/N samples is not the network one process trains on B samples (each share's
statistics are noisier, and differ from the batch's). SyncBatchNorm takes the statistics over
every rank's share, as one process would over the whole batch:

* forward: each rank computes its share's count, mean and sum of squared deviations
  (:func:`~minicnn.functional.normalization.batch_norm_statistics`), the ranks exchange them
  (one ``Allgather`` of ``3 * C`` numbers) and every rank combines them in rank order
  (:func:`~minicnn.functional.normalization.combine_batch_statistics`);
* backward: the input gradient needs ``sum(g)`` and ``sum(g * x_hat)`` over the whole batch,
  so the ranks add theirs (one ``Allreduce`` of ``2 * C`` numbers). The weight and bias
  gradients stay each rank's own sums: the data-parallel step adds them with every other
  gradient.

Outside training (``eval()``) it is a BatchNorm: the running statistics normalise and nothing
is exchanged. In one process (no distributed job) it is a BatchNorm in every mode.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional.normalization import (
    batch_norm_backward_from_sums,
    batch_norm_forward_with_statistics,
    batch_norm_grad_sums,
    batch_norm_statistics,
    combine_batch_statistics,
)
from minicnn.nn._checks import check_backward_ready, check_input, layer_name
from minicnn.nn.module import Module
from minicnn.nn.normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]

_AT_LEAST_2D = range(2, 65)


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of an ``(N, C, *)`` input with statistics over every rank's batch.

    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` per channel, where in training
    ``E`` and ``Var`` (biased) are taken over the values of the channel on *every* rank of
    ``process_group``, exactly those one process would see with the whole batch; the running
    statistics record them, so they agree on every rank. In evaluation it is
    :class:`~minicnn.nn.BatchNorm2d` (running statistics, no communication).

    Args:
        num_features: ``C``, the number of channels.
        eps: added to the variance for numerical stability. Default: 1e-5
        momentum: the running statistics' update factor, or ``None`` for a cumulative
            average. Default: 0.1
        affine: learn a per-channel ``weight`` and ``bias``. Default: True
        track_running_stats: keep running estimates for evaluation. Default: True
        process_group: the :class:`~minicnn.distributed.Communicator` whose ranks share the
            batch; ``None`` (default) for :func:`minicnn.distributed.get_world` at each
            forward, the whole job once :func:`minicnn.distributed.init` ran (else the
            process alone).
        dtype: the parameters' and running statistics' dtype. Default: float32
        bias: (keyword only) learn ``bias`` too, when ``affine``. Default: True

    Shape:
        - Input: ``(N, C, *)``, at least 2 dimensions; ``N`` may differ between ranks, even
          be 0 on some, as long as the ranks together have 2 values per channel
        - Output: same shape as the input

    Attributes:
        weight: ``(C,)`` scale, initialised to 1 (``None`` when not ``affine``).
        bias: ``(C,)`` shift, initialised to 0 (``None`` when not ``affine`` or not ``bias``).
        running_mean: ``(C,)`` buffer, initialised to 0 (``None`` when not tracking).
        running_var: ``(C,)`` buffer, initialised to 1 (``None`` when not tracking).
        num_batches_tracked: 0-d int64 buffer counting the training batches seen.

    Every rank must call ``forward`` and ``backward`` in training together (they communicate),
    as every rank of a data-parallel step does.

    Example::

        model = SyncBatchNorm.convert_sync_batchnorm(model)   # every BatchNorm*d replaced
    """

    _input_ndims = _AT_LEAST_2D

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         bias=bias)
        self.process_group = process_group
        # Filled by a synchronised forward, freed by backward.
        self._synced_count: int | None = None  # values per channel over every rank
        self._synced_group = None

    def _group(self):
        if self.process_group is not None:
            return self.process_group
        from minicnn.distributed.communicator import get_world

        return get_world()

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training:
            # As torch's: only training synchronises; evaluation is a local BatchNorm.
            self._synced_count = None
            return super().forward(x)
        check_input(self, x, self._input_ndims, channels=self.num_features,
                    dtype=self._state_dtype())
        group = self._group()
        statistics = group.allgather(batch_norm_statistics(x))
        count, mean, biased_var = combine_batch_statistics(statistics, x.dtype)
        if count < 2:
            raise ValueError(
                f"{layer_name(self)}: expected more than 1 value per channel when training "
                f"(a variance needs two), got {count} over the {group.size} rank(s) (this "
                f"rank's input size {x.shape})")
        factor = self._momentum_factor()
        output, self._x_hat, self._inv_std = batch_norm_forward_with_statistics(
            x, count, mean, biased_var,
            self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None,
            None if self.weight is None else self.weight.data,
            None if self.bias is None else self.bias.data,
            momentum=factor, eps=self.eps)
        self._used_batch_stats = True
        self._synced_count, self._synced_group = count, group
        return output

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        if self._synced_count is None:
            return super().backward(grad_output)
        check_backward_ready(self, self._x_hat, grad_output, self._x_hat.shape,
                             self._x_hat.dtype)
        grad_bias, grad_weight = batch_norm_grad_sums(grad_output, self._x_hat)
        # The whole batch's sums, for the input gradient; the parameters keep this rank's.
        sums = self._synced_group.allreduce(np.stack([grad_bias, grad_weight]))
        grad_input = batch_norm_backward_from_sums(
            grad_output, self._x_hat, self._inv_std,
            None if self.weight is None else self.weight.data, sums[0], sums[1],
            self._synced_count)
        if self.weight is not None:
            self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        self._x_hat = self._inv_std = self._used_batch_stats = None
        self._synced_count = self._synced_group = None
        return grad_input

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every ``BatchNorm1d``/``BatchNorm2d`` in it replaced by a
        SyncBatchNorm sharing its parameters and running statistics, as torch's.

        The replacement keeps the layer's settings and training mode and holds the *same*
        Parameter objects and buffers (an optimiser built earlier still updates them).
        Children are replaced in place; the converted module is returned (a new object when
        ``module`` itself is a BatchNorm).
        """
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            dtype = module._state_dtype()
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group,
                            dtype=np.float32 if dtype is None else dtype,
                            bias=module.bias is not None)
            if module.affine:
                converted.weight = module.weight
                if module.bias is not None:
                    converted.bias = module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(converted, name, getattr(module, name))
            converted.train(module.training)
        for name, child in list(module._modules.items()):
            if child is not None:
                converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
