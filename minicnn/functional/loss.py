"""Loss functions as pure functions, each with its backward twin returning the input gradient.

Every loss follows ``torch.nn.functional``: it returns the per-element losses
(``reduction='none'``), their sum (``'sum'``) or their mean (``'mean'``). The ``*_backward``
twins take the gradient of that result (``grad_output``: a scalar for ``'mean'``/``'sum'``, an
array of the per-element losses' shape for ``'none'``) followed by the forward's own arguments,
and return the gradient with respect to ``input`` (shape and dtype of ``input``).

Cross-entropy with softmax has the famous gradient ``softmax(x) - onehot(target)``. Written for
any soft target distribution ``q`` (class weights, label smoothing and probability targets all
reduce to one), ``loss = -sum_c q_c * log_softmax(x)_c`` and ::

    d loss / d x_c = softmax(x)_c * sum_k q_k - q_c

which is the formula every backward below uses.

Dtypes: the input must be float32 or float64; the result and the gradient keep the input's
dtype. Class weights, ``pos_weight`` and float targets are cast to the input's dtype (they are
constants of the loss), so a float64 weight never turns a float32 loss into float64. Reduced
losses are NumPy scalars of the input's dtype; ``'none'`` returns an ndarray.

Each public function is a thin wrapper of a private twin whose first argument, ``name``, is what
error messages start with; ``minicnn.nn.loss`` calls the twins with the layer's own name, so
``CrossEntropyLoss()`` reports a bad target as ``CrossEntropyLoss(): Target 10 is out of ...``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "mse_loss",
    "mse_loss_backward",
    "nll_loss",
    "nll_loss_backward",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------- shared checks
def check_reduction(name: str, reduction) -> None:
    """Raise ``ValueError`` unless ``reduction`` is ``'mean'``, ``'sum'`` or ``'none'``."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"{name}: {reduction} is not a valid value for reduction; "
            "expected 'mean', 'sum' or 'none'"
        )


def check_ignore_index(name: str, ignore_index) -> int:
    """``ignore_index`` as an int; any integer is allowed (PyTorch's default is -100)."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    return int(ignore_index)


def _check_float_input(name: str, input, min_ndim: int = 0) -> None:
    if not isinstance(input, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray input, got {type(input).__name__}")
    if input.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name}: expected a float32 or float64 input, got dtype {input.dtype}")
    if input.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected an input with at least {min_ndim} dimension(s), "
            f"got shape {input.shape}"
        )


def _float_target(name: str, input: np.ndarray, target) -> np.ndarray:
    """A float target of exactly the input's shape, cast to the input's dtype."""
    target = np.asarray(target)
    if not np.issubdtype(target.dtype, np.floating):
        raise TypeError(f"{name}: expected a floating-point target, got dtype {target.dtype}")
    if target.shape != input.shape:
        raise ValueError(
            f"{name}: expected a target of the input's shape {input.shape}, "
            f"got shape {target.shape}"
        )
    return target.astype(input.dtype, copy=False)


def _constant(name: str, what: str, value, input: np.ndarray) -> np.ndarray | None:
    """``weight``/``pos_weight`` as an ndarray of the input's dtype (``None`` stays ``None``)."""
    if value is None:
        return None
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name}: expected a numeric {what}, got dtype {array.dtype}")
    return array.astype(input.dtype, copy=False)


def _class_axis(input: np.ndarray) -> int:
    """Axis of the classes: 0 for an unbatched ``(C,)`` input, else 1 (``(N, C, d1, ...)``)."""
    return 0 if input.ndim == 1 else 1


def _per_class(values: np.ndarray, ndim: int, class_axis: int) -> np.ndarray:
    """View a ``(C,)`` vector so it broadcasts along the class axis of an ``ndim`` input."""
    return values.reshape((-1,) + (1,) * (ndim - class_axis - 1))


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """``log(softmax(x))`` along ``axis``, computed stably.

    Subtracting the maximum first keeps ``exp`` from overflowing; ``x - logsumexp(x)`` keeps
    the log of tiny probabilities finite where ``log(softmax(x))`` would give ``-inf``.
    """
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _class_weights(name: str, weight, input: np.ndarray, class_axis: int) -> np.ndarray | None:
    weight = _constant(name, "weight", weight, input)
    num_classes = input.shape[class_axis]
    if weight is not None and weight.shape != (num_classes,):
        raise ValueError(
            f"{name}: expected a weight of shape ({num_classes},), one per class, "
            f"got shape {weight.shape}"
        )
    return weight


def _class_indices(name: str, input: np.ndarray, target, class_axis: int,
                   ignore_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Check class-index targets; return ``(safe_target, ignored)`` of the loss's shape.

    ``ignored`` marks the positions whose target equals ``ignore_index``; ``safe_target`` is the
    target with those positions set to class 0, so it can index arrays without going out of
    bounds (their contribution is masked out afterwards).
    """
    target = np.asarray(target)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(
            f"{name}: expected integer class indices as target, got dtype {target.dtype} "
            f"(class probabilities need a float target of the input's shape {input.shape})"
        )
    loss_shape = input.shape[:class_axis] + input.shape[class_axis + 1:]
    if target.shape != loss_shape:
        raise ValueError(
            f"{name}: expected a target of shape {loss_shape} for an input of shape "
            f"{input.shape}, got shape {target.shape}"
        )
    num_classes = input.shape[class_axis]
    ignored = target == ignore_index
    out_of_range = ~ignored & ((target < 0) | (target >= num_classes))
    if out_of_range.any():
        bad = target[out_of_range][0]
        raise ValueError(
            f"{name}: Target {bad} is out of bounds: class indices must lie in "
            f"[0, {num_classes}) or equal ignore_index={ignore_index}"
        )
    return np.where(ignored, 0, target), ignored


def _grad_scale(name: str, grad_output, reduction: str, loss_shape: tuple[int, ...],
                denominator, dtype: np.dtype) -> np.ndarray:
    """How much each per-element loss's gradient counts: ``grad_output`` spread over the elements.

    ``'none'``: ``grad_output`` itself (one value per element); ``'sum'``: the scalar on every
    element; ``'mean'``: the scalar divided by the mean's denominator.
    """
    grad_output = np.asarray(grad_output)
    if not (np.issubdtype(grad_output.dtype, np.floating)
            or np.issubdtype(grad_output.dtype, np.integer)):
        raise TypeError(f"{name}: expected a numeric grad_output, got dtype {grad_output.dtype}")
    expected = loss_shape if reduction == "none" else ()
    if grad_output.shape != expected:
        raise ValueError(
            f"{name}: expected grad_output of shape {expected} (the shape of the loss with "
            f"reduction={reduction!r}), got shape {grad_output.shape}"
        )
    grad_output = grad_output.astype(dtype, copy=False)
    if reduction == "mean":
        # An empty or fully ignored batch has denominator 0: its mean is NaN, as in PyTorch.
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_output = grad_output / dtype.type(denominator)
    return np.broadcast_to(grad_output, loss_shape)


def _reduce(losses: np.ndarray, reduction: str, denominator):
    """Per-element ``losses`` as ``'none'`` (an ndarray), ``'sum'`` or ``'mean'`` (scalars)."""
    if reduction == "none":
        return np.asarray(losses)
    total = losses.sum(dtype=losses.dtype)
    if reduction == "sum":
        return total
    with np.errstate(divide="ignore", invalid="ignore"):
        return total / losses.dtype.type(denominator)


def check_label_smoothing(name: str, label_smoothing) -> float:
    """``label_smoothing`` as a float in ``[0, 1]`` (PyTorch ignores negative values; we refuse
    them, as a negative smoothing is surely a mistake)."""
    label_smoothing = float(label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"{name}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
        )
    return label_smoothing


# ---------------------------------------------------------------------------- cross-entropy
def _soft_target(name, input, target, weight, ignore_index, reduction, label_smoothing):
    """Reduce every form of cross-entropy to one soft target distribution ``q``.

    Returns ``(log_probs, q, ignored, denominator)`` with ``loss = -sum_c q_c log_probs_c``
    per element. Class indices ``t`` with weights ``w`` and smoothing ``eps`` give
    ``q = (1 - eps) * w[t] * onehot(t) + (eps / C) * w`` (zero where ignored), and the mean
    divides by ``sum(w[t])`` over the non-ignored elements; probability targets ``p`` give
    ``q = w * ((1 - eps) * p + eps / C)``, and the mean divides by the number of elements.
    This is PyTorch's definition, written as one distribution so one backward serves all.
    """
    check_reduction(name, reduction)
    _check_float_input(name, input, min_ndim=1)
    label_smoothing = check_label_smoothing(name, label_smoothing)
    ignore_index = check_ignore_index(name, ignore_index)
    class_axis = _class_axis(input)
    num_classes = input.shape[class_axis]
    if num_classes == 0:
        raise ValueError(f"{name}: expected at least one class, got input shape {input.shape}")
    weight = _class_weights(name, weight, input, class_axis)
    target = np.asarray(target)

    if target.shape == input.shape:  # probabilities, one distribution per element
        if ignore_index >= 0:
            raise ValueError(
                f"{name}: ignore_index is not supported for class-probability targets, "
                f"got ignore_index={ignore_index}"
            )
        q = _float_target(name, input, target)
        if label_smoothing > 0:
            q = q * (1 - label_smoothing) + label_smoothing / num_classes
        if weight is not None:
            q = q * _per_class(weight, input.ndim, class_axis)
        ignored = np.zeros(q.shape[:class_axis] + q.shape[class_axis + 1:], dtype=bool)
        return _log_softmax(input, class_axis), q, ignored, input.size // num_classes

    safe_target, ignored = _class_indices(name, input, target, class_axis, ignore_index)
    kept = ~ignored
    target_weight = (np.ones(safe_target.shape, input.dtype) if weight is None
                     else weight[safe_target]) * kept
    q = np.zeros_like(input)
    np.put_along_axis(q, np.expand_dims(safe_target, class_axis),
                      np.expand_dims(target_weight * (1 - label_smoothing), class_axis),
                      axis=class_axis)
    if label_smoothing > 0:
        spread = (np.ones(num_classes, input.dtype) if weight is None else weight)
        q += (_per_class(spread, input.ndim, class_axis) * (label_smoothing / num_classes)
              * np.expand_dims(kept, class_axis))
    return _log_softmax(input, class_axis), q, ignored, target_weight.sum(dtype=input.dtype)


def cross_entropy(input: np.ndarray, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy between ``softmax(input)`` over the class axis and the target.

    Args:
        input: unnormalised logits, ``(C,)``, ``(N, C)`` or ``(N, C, d1, d2, ...)``.
        target: either class indices (integer dtype), ``()`` / ``(N,)`` / ``(N, d1, ...)``,
            each in ``[0, C)`` or equal to ``ignore_index``; or class probabilities, a float
            array of the input's shape.
        weight: optional ``(C,)`` rescaling weight of each class.
        ignore_index: class-index targets equal to it contribute neither loss nor gradient
            and are left out of the mean's denominator (class-index targets only).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``(1 - eps) * target +
            eps / C`` (for class indices, ``target`` being the one-hot vector).

    Returns:
        ``'none'``: the loss of each element, shape ``()`` / ``(N,)`` / ``(N, d1, ...)``;
        ``'sum'``: their sum; ``'mean'``: with class indices, their sum divided by the sum of
        the weights ``weight[target]`` of the non-ignored elements (their count without
        ``weight``), NaN when every element is ignored or the batch is empty; with
        probabilities, their sum divided by the number of elements ``N * d1 * ...``.
    """
    return _cross_entropy("cross_entropy", input, target, weight, ignore_index, reduction,
                          label_smoothing)


def _cross_entropy(name, input, target, weight, ignore_index, reduction, label_smoothing):
    log_probs, q, _, denominator = _soft_target(
        name, input, target, weight, ignore_index, reduction, label_smoothing)
    losses = -(q * log_probs).sum(axis=_class_axis(input))
    return _reduce(losses, reduction, denominator)


def cross_entropy_backward(grad_output, input: np.ndarray, target, weight=None,
                           ignore_index: int = -100, reduction: str = "mean",
                           label_smoothing: float = 0.0) -> np.ndarray:
    """Gradient of :func:`cross_entropy` with respect to ``input``; shape of ``input``.

    ``grad_input = (softmax(input) * sum_c q_c - q) * scale`` with ``q`` the soft target
    distribution (see the module docstring) and ``scale`` the element's share of
    ``grad_output``. Ignored elements get exactly zero gradient.
    """
    return _cross_entropy_backward("cross_entropy_backward", grad_output, input, target, weight,
                                   ignore_index, reduction, label_smoothing)


def _cross_entropy_backward(name, grad_output, input, target, weight, ignore_index, reduction,
                            label_smoothing):
    log_probs, q, ignored, denominator = _soft_target(
        name, input, target, weight, ignore_index, reduction, label_smoothing)
    class_axis = _class_axis(input)
    scale = _grad_scale(name, grad_output, reduction, ignored.shape, denominator, input.dtype)
    # Where the mean's denominator is 0, ``scale`` is inf; an ignored element's gradient is
    # still exactly 0 (PyTorch skips it), so mask the scale rather than the product.
    scale = np.where(ignored, 0, scale)
    probs = np.exp(log_probs)
    with np.errstate(invalid="ignore"):
        return (probs * q.sum(axis=class_axis, keepdims=True) - q) * np.expand_dims(
            scale, class_axis)


# ---------------------------------------------------------------------------- nll
def _nll_parts(name, input, target, weight, ignore_index, reduction):
    """Checks for :func:`nll_loss`.

    Returns ``(class_axis, safe_target, ignored, target_weight, denominator)``, with
    ``target_weight = weight[target]`` (0 where ignored) and ``denominator`` its sum.
    """
    check_reduction(name, reduction)
    _check_float_input(name, input, min_ndim=1)
    ignore_index = check_ignore_index(name, ignore_index)
    class_axis = _class_axis(input)
    weight = _class_weights(name, weight, input, class_axis)
    safe_target, ignored = _class_indices(name, input, target, class_axis, ignore_index)
    target_weight = (np.ones(safe_target.shape, input.dtype) if weight is None
                     else weight[safe_target]) * ~ignored
    return (class_axis, safe_target, ignored, target_weight,
            target_weight.sum(dtype=input.dtype))


def nll_loss(input: np.ndarray, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean"):
    """Negative log-likelihood: ``loss = -weight[t] * input[t]`` for each element.

    Args:
        input: log-probabilities (e.g. from ``log_softmax``), ``(C,)``, ``(N, C)`` or
            ``(N, C, d1, ...)``.
        target: integer class indices, ``()`` / ``(N,)`` / ``(N, d1, ...)``, each in
            ``[0, C)`` or equal to ``ignore_index``.
        weight: optional ``(C,)`` rescaling weight of each class.
        ignore_index: targets equal to it contribute neither loss nor gradient and are left
            out of the mean's denominator.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` divides the sum by
            ``sum(weight[t])`` over the non-ignored elements (NaN when there are none).

    Returns:
        The per-element losses (``'none'``, shape of ``target``) or a scalar.
    """
    return _nll_loss("nll_loss", input, target, weight, ignore_index, reduction)


def _nll_loss(name, input, target, weight, ignore_index, reduction):
    class_axis, safe_target, _, target_weight, denominator = _nll_parts(
        name, input, target, weight, ignore_index, reduction)
    picked = np.take_along_axis(input, np.expand_dims(safe_target, class_axis), axis=class_axis)
    losses = -target_weight * picked.squeeze(class_axis)
    return _reduce(losses, reduction, denominator)


def nll_loss_backward(grad_output, input: np.ndarray, target, weight=None,
                      ignore_index: int = -100, reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`nll_loss` w.r.t. ``input``: ``-weight[t] * scale`` at each target
    class, zero elsewhere and at ignored elements; shape of ``input``."""
    return _nll_loss_backward("nll_loss_backward", grad_output, input, target, weight,
                              ignore_index, reduction)


def _nll_loss_backward(name, grad_output, input, target, weight, ignore_index, reduction):
    class_axis, safe_target, ignored, target_weight, denominator = _nll_parts(
        name, input, target, weight, ignore_index, reduction)
    scale = _grad_scale(name, grad_output, reduction, safe_target.shape, denominator,
                        input.dtype)
    # As in cross_entropy_backward: ignored elements get exactly 0 even when scale is inf.
    scale = np.where(ignored, 0, scale)
    grad_input = np.zeros_like(input)
    with np.errstate(invalid="ignore"):
        picked_grad = -target_weight * scale
    np.put_along_axis(grad_input, np.expand_dims(safe_target, class_axis),
                      np.expand_dims(picked_grad, class_axis), axis=class_axis)
    return grad_input


# ---------------------------------------------------------------------------- mse
def _mse_parts(name, input, target, reduction):
    check_reduction(name, reduction)
    _check_float_input(name, input)
    return _float_target(name, input, target)


def mse_loss(input: np.ndarray, target, reduction: str = "mean"):
    """Squared error ``(input - target) ** 2`` of each element, reduced.

    Args:
        input: any shape ``(*)``, float32 or float64.
        target: a float array of the input's shape. (PyTorch broadcasts a differently shaped
            target with a warning that the result is likely wrong; minicnn refuses it.)
        reduction: ``'none'`` | ``'mean'`` (over every element; NaN for an empty input) |
            ``'sum'``.
    """
    return _mse_loss("mse_loss", input, target, reduction)


def _mse_loss(name, input, target, reduction):
    target = _mse_parts(name, input, target, reduction)
    difference = input - target
    return _reduce(difference * difference, reduction, input.size)


def mse_loss_backward(grad_output, input: np.ndarray, target,
                      reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`mse_loss` w.r.t. ``input``: ``2 * (input - target) * scale``."""
    return _mse_loss_backward("mse_loss_backward", grad_output, input, target, reduction)


def _mse_loss_backward(name, grad_output, input, target, reduction):
    target = _mse_parts(name, input, target, reduction)
    scale = _grad_scale(name, grad_output, reduction, input.shape, input.size, input.dtype)
    return 2 * (input - target) * scale


# ---------------------------------------------------------------------------- bce with logits
def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``: no overflow for any ``x``."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` written with ``exp(-|x|)`` so it never overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _broadcasts_to(shape: tuple[int, ...], target_shape: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target_shape`` without growing it."""
    try:
        return np.broadcast_shapes(shape, target_shape) == target_shape
    except ValueError:
        return False


def _bce_parts(name, input, target, weight, reduction, pos_weight):
    check_reduction(name, reduction)
    _check_float_input(name, input)
    target = _float_target(name, input, target)
    constants = []
    for what, value in (("weight", weight), ("pos_weight", pos_weight)):
        value = _constant(name, what, value, input)
        if value is not None and not _broadcasts_to(value.shape, input.shape):
            raise ValueError(
                f"{name}: {what} of shape {value.shape} does not broadcast to the input's "
                f"shape {input.shape}"
            )
        constants.append(value)
    return target, constants[0], constants[1]


def binary_cross_entropy_with_logits(input: np.ndarray, target, weight=None,
                                     reduction: str = "mean", pos_weight=None):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target``, computed from logits.

    ``loss = weight * ((1 - t) * x - (1 + (pos_weight - 1) * t) * log_sigmoid(x))``, which
    equals ``-weight * (pos_weight * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x)))``
    but never takes the log of a sigmoid that rounded to 0 or 1: finite for logits of any
    size.

    Args:
        input: logits, any shape ``(*)``.
        target: float array of the input's shape, values usually in ``[0, 1]``.
        weight: optional rescaling of each element, broadcast to the input's shape.
        reduction: ``'none'`` | ``'mean'`` (over every element) | ``'sum'``.
        pos_weight: optional weight of the positive term, broadcast to the input's shape
            (typically ``(C,)`` for an ``(N, C)`` multi-label input, one per class).
    """
    return _bce_with_logits("binary_cross_entropy_with_logits", input, target, weight,
                            reduction, pos_weight)


def _bce_with_logits(name, input, target, weight, reduction, pos_weight):
    target, weight, pos_weight = _bce_parts(name, input, target, weight, reduction, pos_weight)
    log_sigmoid = _log_sigmoid(input)
    if pos_weight is not None:
        log_sigmoid = log_sigmoid * (1 + (pos_weight - 1) * target)
    losses = (1 - target) * input - log_sigmoid
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction, input.size)


def binary_cross_entropy_with_logits_backward(grad_output, input: np.ndarray, target,
                                              weight=None, reduction: str = "mean",
                                              pos_weight=None) -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy_with_logits` w.r.t. ``input``.

    ``grad_input = weight * ((1 + (pos_weight - 1) * t) * sigmoid(x) - pos_weight * t) *
    scale``, which is ``weight * (sigmoid(x) - t) * scale`` without ``pos_weight``.
    """
    return _bce_with_logits_backward("binary_cross_entropy_with_logits_backward", grad_output,
                                     input, target, weight, reduction, pos_weight)


def _bce_with_logits_backward(name, grad_output, input, target, weight, reduction, pos_weight):
    target, weight, pos_weight = _bce_parts(name, input, target, weight, reduction, pos_weight)
    scale = _grad_scale(name, grad_output, reduction, input.shape, input.size, input.dtype)
    if pos_weight is None:
        grad_input = _sigmoid(input) - target
    else:
        positive = pos_weight * target
        grad_input = (1 + positive - target) * _sigmoid(input) - positive
    if weight is not None:
        grad_input = grad_input * weight
    return grad_input * scale
