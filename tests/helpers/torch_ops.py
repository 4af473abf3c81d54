"""PyTorch's answers, the oracle of the functional and kernel tests: outputs and gradients."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["torch_conv2d", "torch_pool"]


def torch_conv2d(x, weight, bias, grad_output, options):
    """Output and (input, weight, bias) gradients from torch autograd."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    bt = None if bias is None else torch.tensor(bias, requires_grad=True)
    out = F.conv2d(xt, wt, bt, **options)
    if grad_output is None:
        return out.detach().numpy(), None
    out.backward(torch.tensor(grad_output))
    grads = (xt.grad.numpy(), wt.grad.numpy(), None if bt is None else bt.grad.numpy())
    return out.detach().numpy(), grads


def torch_pool(function, x: np.ndarray, grad_output_seed: int, **kwargs):
    """Run a torch pooling function and its autograd; returns (output, extras, grad_output, dx).

    ``extras`` is the indices for max pooling with ``return_indices``, else ``None``.
    """
    x_torch = torch.tensor(x, requires_grad=True)
    result = function(x_torch, **kwargs)
    output, extras = result if isinstance(result, tuple) else (result, None)
    rng = np.random.default_rng(grad_output_seed)
    grad_output = rng.standard_normal(output.shape).astype(x.dtype)
    output.backward(torch.tensor(grad_output))
    extras = None if extras is None else extras.numpy()
    return output.detach().numpy(), extras, grad_output, x_torch.grad.numpy()
