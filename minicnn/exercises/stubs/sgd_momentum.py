"""Exercise 10: one step of SGD with momentum, by PyTorch's rule (``torch.optim.SGD``).

Check your answer with ``minicnn exercises check DIR sgd_momentum``.
"""

import numpy as np


def sgd_momentum_update(param, grad, buffer, lr, momentum, weight_decay=0.0, nesterov=False):
    """One SGD step of one parameter, returning new arrays (write into none of the arguments).

    PyTorch's rule, with ``b`` the momentum buffer::

        g <- grad + weight_decay * param        (if weight_decay != 0)
        b <- g                                   (first step: buffer is None)
        b <- momentum * b + g                    (later steps)
        g <- g + momentum * b  if nesterov  else  b
        param <- param - lr * g

    Args:
        param: the parameter, any shape.
        grad: its gradient, same shape.
        buffer: the momentum buffer the previous step returned, or ``None`` at the first step.
        lr, momentum, weight_decay: floats.
        nesterov: use Nesterov momentum.

    Returns:
        ``(new_param, new_buffer)``, both of ``param``'s shape and dtype.

    Hint:
        The learning rate multiplies only the last line: it is not inside the buffer (the
        other common form, ``v <- momentum * v + lr * g``, agrees with PyTorch only while the
        learning rate never changes).
    """
    raise NotImplementedError
