"""RMSprop: gradient descent scaled by a running root-mean-square of the gradient."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minicnn.nn.parameter import Parameter
from minicnn.optim.optimizer import Optimizer, check_non_negative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop``.

    For each parameter :math:`\theta` with gradient :math:`g_t`::

        g_t   <- g_t + weight_decay * theta                    (if weight_decay != 0)
        v_t   <- alpha * v_{t-1} + (1 - alpha) * g_t**2
        avg_t <- sqrt(v_t) + eps
        # centered: subtract the squared running mean of the gradient, so the scale is
        # the gradient's standard deviation rather than its root-mean-square
        a_t   <- alpha * a_{t-1} + (1 - alpha) * g_t;  avg_t <- sqrt(v_t - a_t**2) + eps
        b_t   <- momentum * b_{t-1} + g_t / avg_t;      theta <- theta - lr * b_t   (momentum > 0)
        theta <- theta - lr * g_t / avg_t                                           (otherwise)

    ``v``, ``a`` and ``b`` start at zero; there is no bias correction.

    Args:
        params: iterable of :class:`Parameter` s or of parameter-group dicts.
        lr: learning rate, ``>= 0``. Default: ``1e-2``.
        alpha: smoothing constant of the running averages, ``>= 0``. Default: 0.99.
        eps: added to the denominator, ``>= 0``. Default: ``1e-8``.
        weight_decay: L2 penalty, ``>= 0``. Default: 0.
        momentum: momentum factor, ``>= 0``. Default: 0.
        centered: normalise by the gradient's estimated variance. Default: ``False``.
        maximize: maximise the objective instead of minimising it. Default: ``False``.

    State (per parameter):
        ``step`` (int), ``square_avg`` (``v``), ``momentum_buffer`` (``b``, if
        ``momentum > 0``), ``grad_avg`` (``a``, if centered): arrays of the parameter's
        shape and dtype.
    """

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        check_non_negative("RMSprop", "learning rate", "lr", options["lr"])
        check_non_negative("RMSprop", "epsilon value", "eps", options["eps"])
        check_non_negative("RMSprop", "momentum value", "momentum", options["momentum"])
        check_non_negative(
            "RMSprop", "weight_decay value", "weight_decay", options["weight_decay"]
        )
        check_non_negative("RMSprop", "alpha value", "alpha", options["alpha"])

    def _update_parameter(self, param: Parameter, grad: np.ndarray, group: dict) -> None:
        # Python floats keep float32 arithmetic in float32 (NumPy treats them as weak scalars).
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        momentum = float(group["momentum"])

        state = self.state[param]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.data)
        # Created when first needed rather than at the first step, so that momentum or
        # centering switched on later (by a scheduler, or by hand) starts from zero.
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(param.data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(param.data)
        state["step"] += 1

        if weight_decay != 0:
            grad = grad + weight_decay * param.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps

        if momentum > 0:
            buffer = state["momentum_buffer"]
            buffer *= momentum
            buffer += grad / avg
            param.data -= lr * buffer
        else:
            param.data -= lr * (grad / avg)
