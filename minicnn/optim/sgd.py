"""SGD: stochastic gradient descent, optionally with (Nesterov) momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minicnn.kernels import backend
from minicnn.nn.parameter import Parameter
from minicnn.optim.optimizer import Optimizer, check_non_negative

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, as ``torch.optim.SGD``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g_t <- g_t + weight_decay * theta                       (if weight_decay != 0)
        b_1 <- g_1                                               (first step: no dampening)
        b_t <- momentum * b_{t-1} + (1 - dampening) * g_t        (later steps)
        g_t <- g_t + momentum * b_t   if nesterov   else   b_t   (if momentum != 0)
        theta <- theta - lr * g_t

    With ``maximize=True`` the gradient is negated first (gradient ascent).

    Args:
        params: iterable of :class:`Parameter` s or of parameter-group dicts.
        lr: learning rate, ``>= 0``. Default: ``1e-3`` (PyTorch's default since 2.x).
        momentum: momentum factor, ``>= 0``. Default: 0.
        dampening: dampening of the gradient added to the momentum buffer. Default: 0.
        weight_decay: L2 penalty added to the gradient, ``>= 0``. Default: 0.
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximise the objective instead of minimising it. Default: ``False``.

    State (per parameter, only when ``momentum != 0``):
        ``momentum_buffer``: array of the parameter's shape and dtype.
    """

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        check_non_negative("SGD", "learning rate", "lr", options["lr"])
        check_non_negative("SGD", "momentum value", "momentum", options["momentum"])
        check_non_negative("SGD", "weight_decay value", "weight_decay", options["weight_decay"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                f"momentum={options['momentum']!r} and dampening={options['dampening']!r}"
            )

    def _update_parameter(self, param: Parameter, grad: np.ndarray, group: dict) -> None:
        momentum = float(group["momentum"])
        state = self.state[param] if momentum != 0 else None
        buffer = backend("optim").sgd_update(
            param.data, grad, None if state is None else state.get("momentum_buffer"),
            lr=float(group["lr"]), momentum=momentum, dampening=float(group["dampening"]),
            weight_decay=float(group["weight_decay"]), nesterov=bool(group["nesterov"]))
        if state is not None:
            state["momentum_buffer"] = buffer
