"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.nn.parameter import Parameter
from minicnn.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, as ``torch.optim.AdamW``: :class:`Adam` with ``decoupled_weight_decay=True``.

    The weight decay shrinks the parameters directly, ``theta <- theta * (1 - lr *
    weight_decay)``, before the Adam step, instead of entering the gradient; so it is not
    rescaled by Adam's per-coordinate step sizes and does not accumulate in the moments.
    The rest of the update is Adam's (see :class:`Adam`).

    Args:
        params: iterable of :class:`Parameter` s or of parameter-group dicts.
        lr: learning rate, ``>= 0``. Default: ``1e-3``.
        betas: ``(beta1, beta2)``, each in ``[0, 1)``. Default: ``(0.9, 0.999)``.
        eps: added to the denominator, ``>= 0``. Default: ``1e-8``.
        weight_decay: decoupled weight decay coefficient, ``>= 0``. Default: ``1e-2``.
        amsgrad: use the AMSGrad variant. Default: ``False``.
        maximize: maximise the objective instead of minimising it. Default: ``False``.
    """

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict) -> None:
        # As in PyTorch: an AdamW stays AdamW whatever the loaded groups say.
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
