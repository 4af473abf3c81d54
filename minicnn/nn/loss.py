"""Loss modules, mirroring ``torch.nn``'s: CrossEntropyLoss, NLLLoss, MSELoss, BCEWithLogitsLoss.

A loss is called like any module, ``loss = loss_fn(input, target)``; it caches the input and the
target, and ``loss_fn.backward()`` returns the gradient of the loss with respect to ``input``,
ready to be passed to the model's ``backward``::

    loss = criterion(model(x), y)
    model.backward(criterion.backward())

``backward(grad_output=None)``: for ``reduction='mean'`` or ``'sum'`` the gradient of the scalar
loss, 1 by default; for ``'none'`` it is required, one value per element of the loss. It returns
a single ndarray (the target has no gradient); backward hooks receive it as the 1-tuple
``(grad_input,)``.

An empty batch with ``reduction='mean'`` raises ``ValueError`` (PyTorch returns nan, which a
training loop would silently average in); the functions of :mod:`minicnn.functional.loss`
keep PyTorch's nan. In debug mode (:func:`minicnn.set_debug`) the input is checked for NaN/Inf.

The deprecated ``size_average`` and ``reduce`` arguments are accepted and mapped to
``reduction`` exactly as PyTorch's ``_Reduction.legacy_get_string`` does, with the same warning.

The maths lives in :mod:`minicnn.functional.loss`.
"""

from __future__ import annotations

import warnings

import numpy as np

from minicnn import debug
from minicnn.functional import loss as loss_functions
from minicnn.kernels import backend
from minicnn.nn._checks import check_backward_ready, check_finite, layer_name
from minicnn.nn.module import Module

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss", "NLLLoss"]


def _legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` pair to ``reduction``."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        reduction = "mean"
    elif reduce:
        reduction = "sum"
    else:
        reduction = "none"
    warnings.warn(
        "size_average and reduce args will be deprecated, please use "
        f"reduction='{reduction}' instead.",
        stacklevel=4,
    )
    return reduction


class _Loss(Module):
    """Base of every loss: the ``reduction`` argument, the forward cache and ``backward``.

    Subclasses implement :meth:`_loss` (the forward maths) and :meth:`_input_gradient`.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        loss_functions.check_reduction(layer_name(self), reduction)
        self.reduction = reduction
        # (input, target, shape of the unreduced loss) of the last forward, for backward.
        self._cache: tuple[np.ndarray, np.ndarray, tuple[int, ...]] | None = None

    def forward(self, input: np.ndarray, target):
        """The loss of ``input`` against ``target``; caches both for :meth:`backward`."""
        self._cache = None  # a failed call must not leave the previous call's cache behind
        if isinstance(input, np.ndarray):
            if input.size == 0 and self.reduction == "mean":
                # PyTorch returns nan here; a learner is better served by the reason.
                raise ValueError(
                    f"{layer_name(self)}: empty batch (input shape {input.shape}): the mean of "
                    "no losses is undefined (PyTorch returns nan); skip empty batches, or use "
                    "reduction='sum'"
                )
            if debug._enabled and input.dtype.kind == "f":
                check_finite(self, "input", input)
        loss = self._loss(input, target)
        loss_shape = np.shape(loss) if self.reduction == "none" else ()
        self._cache = (input, np.asarray(target), loss_shape)
        return loss

    def _loss(self, input: np.ndarray, target):
        raise NotImplementedError(f"{type(self).__name__} is missing _loss()")

    def _as_buffer(self, what: str, value) -> np.ndarray | None:
        """``weight``/``pos_weight`` as a float ndarray (integers become float32), or None."""
        if value is None:
            return None
        array = np.asarray(value)
        if np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.float32)
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"{layer_name(self)}: expected a numeric {what}, "
                            f"got dtype {array.dtype}")
        return array

    def backward(self, grad_output=None) -> np.ndarray:
        """Gradient of the loss with respect to the last forward's ``input`` (its shape).

        ``grad_output``: for ``'mean'``/``'sum'`` a scalar (default 1); for ``'none'`` an
        ndarray of the loss's shape (required).
        """
        if self._cache is None:  # no forward since the last backward: this raises
            check_backward_ready(self, None, grad_output, ())
        input, target, loss_shape = self._cache
        if grad_output is None:
            if self.reduction == "none":
                raise ValueError(
                    f"{layer_name(self)}: backward() needs grad_output when reduction='none': "
                    f"an ndarray of the loss's shape {loss_shape}"
                )
            grad_output = np.ones((), dtype=input.dtype)
        elif self.reduction != "none" and np.isscalar(grad_output):
            grad_output = np.asarray(grad_output, dtype=input.dtype)
        check_backward_ready(self, self._cache, grad_output, loss_shape)
        grad_input = self._input_gradient(grad_output, input, target)
        self._cache = None
        return grad_input

    def _input_gradient(self, grad_output: np.ndarray, input: np.ndarray,
                        target: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} is missing _input_gradient()")


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` of shape ``(C,)``, registered as a buffer."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        weight = self._as_buffer("weight", weight)
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"{layer_name(self)}: expected a 1-D weight with one value per "
                             f"class, got shape {weight.shape}")
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy between ``softmax(input)`` along the class axis and the target.

    For a class-index target ``t`` with weights ``w`` and no smoothing, each element's loss is
    ``-w[t] * log_softmax(input)[t]``; see :func:`minicnn.functional.loss.cross_entropy` for
    label smoothing and probability targets.

    Args:
        weight: optional ``(C,)`` rescaling weight of each class (a buffer: in state_dict).
        size_average, reduce: deprecated, mapped to ``reduction`` as PyTorch does.
        ignore_index: class-index targets equal to it contribute neither loss nor gradient.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. With class indices ``'mean'``
            divides by the sum of ``weight[t]`` over the non-ignored elements (NaN if none).
        label_smoothing: in ``[0, 1]``; mixes the target with the uniform distribution.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d1, d2, ...)``, float32 or float64 logits.
        - Target: class indices (integer), ``()``, ``(N,)`` or ``(N, d1, d2, ...)`` with values
          in ``[0, C)``; or class probabilities (float) of the input's shape.
        - Output: a scalar of the input's dtype; with ``'none'`` the target's shape
          (``(N, d1, ...)``, or ``()`` unbatched).
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        # Checked now rather than at the first call (where PyTorch checks them).
        loss_functions.check_ignore_index(layer_name(self), ignore_index)
        loss_functions.check_label_smoothing(layer_name(self), label_smoothing)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def _loss(self, input: np.ndarray, target):
        return backend("loss")._cross_entropy(
            layer_name(self), input, target, self.weight, self.ignore_index, self.reduction,
            self.label_smoothing)

    def _input_gradient(self, grad_output, input, target):
        return backend("loss")._cross_entropy_backward(
            layer_name(self), grad_output, input, target, self.weight, self.ignore_index,
            self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities: ``-weight[t] * input[t]`` per element.

    Use after :func:`log_softmax`; ``CrossEntropyLoss`` is ``log_softmax`` followed by this.

    Args:
        weight: optional ``(C,)`` rescaling weight of each class (a buffer: in state_dict).
        size_average, reduce: deprecated, mapped to ``reduction`` as PyTorch does.
        ignore_index: targets equal to it contribute neither loss nor gradient.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` divides by the sum of
            ``weight[t]`` over the non-ignored elements (NaN if none).

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d1, d2, ...)``, float32 or float64.
        - Target: integer class indices, ``()``, ``(N,)`` or ``(N, d1, d2, ...)``, in ``[0, C)``.
        - Output: a scalar of the input's dtype; with ``'none'`` the target's shape.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        loss_functions.check_ignore_index(layer_name(self), ignore_index)
        self.ignore_index = ignore_index

    def _loss(self, input: np.ndarray, target):
        return loss_functions._nll_loss(layer_name(self), input, target, self.weight,
                                        self.ignore_index, self.reduction)

    def _input_gradient(self, grad_output, input, target):
        return loss_functions._nll_loss_backward(
            layer_name(self), grad_output, input, target, self.weight, self.ignore_index,
            self.reduction)


class MSELoss(_Loss):
    """Mean squared error: ``(input - target) ** 2`` per element, reduced.

    Args:
        size_average, reduce: deprecated, mapped to ``reduction`` as PyTorch does.
        reduction: ``'none'`` | ``'mean'`` (over every element) | ``'sum'``.

    Shape:
        - Input: ``(*)``, any shape, float32 or float64.
        - Target: ``(*)``, the input's shape, floating point (PyTorch broadcasts another shape
          with a warning; minicnn refuses it).
        - Output: a scalar of the input's dtype; with ``'none'`` the input's shape.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)

    def _loss(self, input: np.ndarray, target):
        return loss_functions._mse_loss(layer_name(self), input, target, self.reduction)

    def _input_gradient(self, grad_output, input, target):
        return loss_functions._mse_loss_backward(layer_name(self), grad_output, input, target,
                                                 self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits: a sigmoid and ``BCELoss`` in one, numerically stable.

    ``loss = weight * ((1 - t) * x - (1 + (pos_weight - 1) * t) * log_sigmoid(x))`` per
    element, finite for logits of any magnitude.

    Args:
        weight: optional rescaling of each element, broadcast to the input's shape (a buffer).
        size_average, reduce: deprecated, mapped to ``reduction`` as PyTorch does.
        reduction: ``'none'`` | ``'mean'`` (over every element) | ``'sum'``.
        pos_weight: optional weight of the positive term, broadcast to the input's shape;
            typically ``(C,)`` (one per class) for an ``(N, C)`` input (a buffer).

    Shape:
        - Input: ``(*)``, any shape, float32 or float64 logits.
        - Target: ``(*)``, the input's shape, floating point, usually in ``[0, 1]``.
        - Output: a scalar of the input's dtype; with ``'none'`` the input's shape.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", self._as_buffer("weight", weight))
        self.register_buffer("pos_weight", self._as_buffer("pos_weight", pos_weight))

    def _loss(self, input: np.ndarray, target):
        return loss_functions._bce_with_logits(layer_name(self), input, target, self.weight,
                                               self.reduction, self.pos_weight)

    def _input_gradient(self, grad_output, input, target):
        return loss_functions._bce_with_logits_backward(
            layer_name(self), grad_output, input, target, self.weight, self.reduction,
            self.pos_weight)
