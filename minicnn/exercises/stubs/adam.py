"""Exercise 11: one step of Adam, by PyTorch's rule (``torch.optim.Adam``).

Check your answer with ``minicnn exercises check DIR adam``.
"""

import numpy as np


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                eps=1e-8, weight_decay=0.0):
    """One Adam step of one parameter, returning new arrays (write into none of the arguments).

    PyTorch's rule, at step ``t = step`` (1 for the first update)::

        g <- grad + weight_decay * param            (if weight_decay != 0)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        param <- param - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        param, grad: the parameter and its gradient, same shape.
        exp_avg, exp_avg_sq: ``m`` and ``v`` from the previous step (zeros before the first).
        step: ``t``, the number of this update, starting at 1.
        lr, betas, eps, weight_decay: as ``torch.optim.Adam``.

    Returns:
        ``(new_param, new_exp_avg, new_exp_avg_sq)``, each of ``param``'s shape and dtype.

    Hint:
        The averages start at zero, so early on they are too small by a factor
        ``(1 - beta**t)``: that is what the two corrections undo. ``eps`` is added after
        ``sqrt(v)`` has been corrected, not inside the square root.
    """
    raise NotImplementedError
