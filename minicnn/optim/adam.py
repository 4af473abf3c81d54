"""Adam: adaptive moment estimation, with optional AMSGrad and decoupled weight decay."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from minicnn.nn.parameter import Parameter
from minicnn.optim.optimizer import Optimizer, check_non_negative

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at its step
    :math:`t = 1, 2, \dots` (a parameter's steps count only the updates it took part in)::

        theta <- theta * (1 - lr * weight_decay)      (decoupled_weight_decay, i.e. AdamW)
        g_t   <- g_t + weight_decay * theta           (otherwise, if weight_decay != 0)
        m_t   <- beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t   <- beta2 * v_{t-1} + (1 - beta2) * g_t**2
        v_max <- max(v_max, v_t)                      (amsgrad; then v_max replaces v_t below)
        theta <- theta - lr / (1 - beta1**t) * m_t / (sqrt(v_t) / sqrt(1 - beta2**t) + eps)

    ``eps`` is added *after* the bias correction of ``sqrt(v_t)``, as in PyTorch (not to
    ``v_t``, nor before the correction). ``m``, ``v`` and ``v_max`` start at zero.

    Args:
        params: iterable of :class:`Parameter` s or of parameter-group dicts.
        lr: learning rate, ``>= 0``. Default: ``1e-3``.
        betas: ``(beta1, beta2)``, the decay rates of the moving averages of the gradient
            and of its square, each in ``[0, 1)``. Default: ``(0.9, 0.999)``.
        eps: added to the denominator for numerical stability, ``>= 0``. Default: ``1e-8``.
        weight_decay: L2 penalty, ``>= 0``. Default: 0.
        amsgrad: use the AMSGrad variant (the running maximum of ``v_t``). Default: ``False``.
        maximize: maximise the objective instead of minimising it. Default: ``False``.
        decoupled_weight_decay: decay the weights directly instead of adding the penalty to
            the gradient; ``True`` makes this AdamW. Default: ``False``.

    State (per parameter):
        ``step`` (int), ``exp_avg`` (``m``), ``exp_avg_sq`` (``v``) and, with amsgrad,
        ``max_exp_avg_sq`` (``v_max``): arrays of the parameter's shape and dtype.
    """

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        name = type(self).__name__
        check_non_negative(name, "learning rate", "lr", options["lr"])
        check_non_negative(name, "epsilon value", "eps", options["eps"])
        betas = options["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for index, beta in enumerate(betas):
            if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
                raise TypeError(
                    f"{name}: betas[{index}] must be a real number, got {type(beta).__name__}"
                )
            if not 0.0 <= beta < 1.0:
                raise ValueError(
                    f"{name}: invalid beta parameter at index {index}: {beta!r} (must be in "
                    "[0, 1))"
                )
        check_non_negative(name, "weight_decay value", "weight_decay", options["weight_decay"])

    def _update_parameter(self, param: Parameter, grad: np.ndarray, group: dict) -> None:
        # Python floats keep float32 arithmetic in float32 (NumPy treats them as weak scalars).
        lr = float(group["lr"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])

        state = self.state[param]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]

        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param.data

        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad

        # The averages start at zero, so early on they underestimate the moments by the
        # factors (1 - beta**step); dividing by them removes that bias.
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            second_moment = max_exp_avg_sq
        else:
            second_moment = exp_avg_sq
        denominator = np.sqrt(second_moment) / bias_correction2_sqrt + eps
        param.data -= step_size * (exp_avg / denominator)
