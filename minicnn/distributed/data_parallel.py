"""Data parallelism: every rank holds the whole model, takes a share of each batch, and the
ranks' gradients are summed in one ``Allreduce`` before every rank takes the same step.

Why the result equals one process training on the whole batch: the loss of a batch of ``B``
samples is their mean, ``L = (1/B) * sum_i l_i``, and a gradient is linear, so

    grad L = (1/B) * sum_ranks ( sum_{i in the rank's share} grad l_i )

Each rank backpropagates the *sum* of its share's losses (``CrossEntropyLoss(reduction='sum')``:
the same as its share's mean gradient weighted by its share size ``n_r``, and still defined
when a share is empty), :meth:`DataParallel.reduce_gradients` adds the ranks' sums together
with the sample counts in one ``Allreduce`` and divides by the total count ``B``. Every rank
then holds the gradient of the whole batch's mean loss, whatever the shares' sizes (the last
batch of an epoch need not divide evenly), and applies the same optimiser step to the same
weights. Only the order of the additions differs from one process, so float64 weights agree
to about 1e-15 per step.

Horovod's "tensor fusion": every parameter's gradient is copied into one flat buffer, so a
step makes one ``Allreduce`` of all of them instead of one per parameter (ten for LeNet-5),
paying the network's latency once. The buffer also carries the step's sample count, loss sum,
correct count and stop request, so the ranks agree on those without another message.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minicnn.distributed.communicator import Communicator, get_world

__all__ = ["DataParallel", "StepTotals"]


class StepTotals(NamedTuple):
    """A step's sums over every rank, from :meth:`DataParallel.reduce_gradients`."""

    count: int  # samples in the global batch
    loss_sum: float  # sum of the per-sample losses (NaN/Inf if any rank's was)
    correct: int  # correctly classified samples
    stop: bool  # whether any rank asked to stop after this step


class DataParallel:
    """Keeps ``model``'s replicas on the ranks of ``communicator`` identical.

    Args:
        model: the Module every rank trains (built the same way on each).
        communicator: the group of ranks; ``None`` for :func:`get_world`.

    Attributes:
        parameters: the parameters whose gradients are averaged (those with
            ``requires_grad``), in ``model.parameters()`` order: the flat buffer's layout.
        gradient_bytes: the size of the gradients in that buffer, what a step sends.

    Example::

        data_parallel = DataParallel(model, communicator)
        data_parallel.broadcast_state()                  # rank 0's weights everywhere
        for images, labels in sharded_loader:            # this rank's share of each batch
            optimizer.zero_grad()
            loss_sum = loss_fn_sum(model(images), labels)
            model.backward(loss_fn_sum.backward())
            totals = data_parallel.reduce_gradients(len(labels), loss_sum)
            optimizer.step()                             # the same step on every rank
    """

    def __init__(self, model, communicator: Communicator | None = None):
        self.model = model
        self.communicator = get_world() if communicator is None else communicator
        self.parameters = [param for param in model.parameters() if param.requires_grad]
        dtypes = {param.dtype for param in self.parameters}
        if len(dtypes) > 1:
            raise TypeError(f"DataParallel: the parameters have several dtypes "
                            f"{sorted(map(str, dtypes))}; convert the model to one with "
                            "model.to(dtype)")
        self.dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
        sizes = [param.size for param in self.parameters]
        self._offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
        self.gradient_bytes = self._offsets[-1] * self.dtype.itemsize

    def broadcast_state(self) -> None:
        """Copy rank 0's parameters and buffers into every rank's model (in place)."""
        state = self.communicator.broadcast(
            {key: np.array(value) for key, value in self.model.state_dict().items()}
            if self.communicator.is_root else None)
        if not self.communicator.is_root:
            self.model.load_state_dict(state)

    def broadcast_buffers(self) -> None:
        """Copy rank 0's buffers (BatchNorm's running statistics) into every rank's model.

        Without SyncBatchNorm each rank's running statistics follow its own shares; rank 0's
        are the ones saved, so evaluating with them everywhere makes every rank agree (what
        PyTorch's DistributedDataParallel does with ``broadcast_buffers=True``).
        """
        named = [(name, buffer) for name, buffer in self.model.named_buffers()
                 if np.issubdtype(buffer.dtype, np.floating)]
        if not named or self.communicator.size == 1:
            return
        values = self.communicator.broadcast(
            [np.array(buffer) for _, buffer in named] if self.communicator.is_root else None)
        for (_, buffer), value in zip(named, values):
            buffer[...] = value

    def reduce_gradients(self, count: int, loss_sum: float = 0.0, correct: int = 0,
                         stop: bool = False) -> StepTotals:
        """Sum every rank's gradients and numbers in one Allreduce; then divide the gradients
        by the global sample count.

        Each rank's ``param.grad`` must hold the gradient of the *sum* of its ``count``
        samples' losses (``None`` counts as zeros). Afterwards every rank's ``param.grad`` is
        the gradient of the mean loss over all ranks' samples, the same array everywhere.

        Returns:
            the step's :class:`StepTotals` over every rank.
        """
        offsets = self._offsets
        size = offsets[-1]
        # A new buffer each step: the optimiser may keep a gradient's array (its momentum
        # starts as the first gradient), so the next step must not write into this one.
        buffer = np.empty(size + 4, dtype=self.dtype)
        for param, start, end in zip(self.parameters, offsets, offsets[1:]):
            if param.grad is None:
                buffer[start:end] = 0
            else:
                buffer[start:end] = param.grad.reshape(-1)
        buffer[size:] = (count, loss_sum, correct, float(stop))
        self.communicator.allreduce(buffer)
        total_count, total_loss, total_correct, stops = (float(value) for value in buffer[size:])
        gradients = buffer[:size]
        if total_count > 0:
            gradients *= np.asarray(1.0 / total_count, dtype=self.dtype)
        for param, start, end in zip(self.parameters, offsets, offsets[1:]):
            param.grad = gradients[start:end].reshape(param.shape)
        return StepTotals(round(total_count), total_loss, round(total_correct), stops > 0)
