"""Where a NaN or Inf came from, when a training step's loss is not finite.

A non-finite loss is the end of a chain: a parameter that an earlier step blew up, an input
batch holding NaN, or one layer whose output overflowed. :func:`locate_nonfinite` finds the
first link: it checks the batch and the parameters, then runs the forward pass once more with
a forward hook on every layer and names the first layer whose output is not finite.

It runs only after a loss has come out non-finite, so training pays nothing for it (hooks on
every layer would also switch off :class:`~minicnn.nn.Sequential`'s fused kernels). The
re-run sees the same parameters and batch as the failed step; only dropout draws new masks.
"""

from __future__ import annotations

import numpy as np

from minicnn.debug import NonFiniteError
from minicnn.nn._checks import layer_name

__all__ = ["NonFiniteLossError", "locate_nonfinite"]


class NonFiniteLossError(NonFiniteError):
    """A training step's loss was NaN or infinite; the message says at which step and where
    the first non-finite value appeared. Training stopped before the step changed anything."""


def _count_nonfinite(array: np.ndarray) -> int:
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def _nonfinite_arrays(value) -> bool:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return any(isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.isfinite(v).all()
               for v in values)


def locate_nonfinite(model, loss_fn, images: np.ndarray, labels) -> str:
    """A phrase naming where the first NaN/Inf of this batch's forward pass appears.

    In order: the batch itself; a parameter (named as in ``state_dict``); the output of the
    first layer, in call order, that made one (named by its path in the model and its repr);
    else the loss.
    """
    names = {id(module): name for name, module in model.named_modules()}
    first = []

    def record(module, args, output):
        if not first and _nonfinite_arrays(output) and not _nonfinite_arrays(args):
            first.append(module)

    # Leaves only: a container's output is its last child's, which would hide the culprit.
    handles = [module.register_forward_hook(record) for module in model.modules()
               if not module._modules]
    try:
        logits = model(images)
    finally:
        for handle in handles:
            handle.remove()
    # Checked after the forward pass, which runs in every case: in data-parallel training
    # every rank must run it (SyncBatchNorm communicates), whatever its own batch holds.
    if _nonfinite_arrays(images):
        return (f"the input batch itself ({_count_nonfinite(images)} NaN/Inf values): check "
                "the data and its transforms")
    for name, param in model.named_parameters():
        if not np.isfinite(param.data).all():
            return (f"parameter {name}, which holds {_count_nonfinite(param.data)} NaN/Inf "
                    "values (an earlier step blew it up: lower the learning rate)")
    if first:
        module = first[0]
        return f"the output of {names[id(module)]} {layer_name(module)} (its input was finite)"
    if _nonfinite_arrays(logits):  # a model that is a single layer, or not made of modules
        return f"the output of the model {layer_name(model)}"
    return f"the loss {layer_name(loss_fn)} (the model's output was finite)"
