"""The maths of every layer as pure functions on arrays: the readable NumPy reference.

Each forward function has ``torch.nn.functional``'s signature and returns the output; its
``*_backward`` twin returns the gradients. The layers in :mod:`minicnn.nn` call these, and
the optimisers in :mod:`minicnn.optim` call :func:`sgd_update` (one parameter's SGD step).
"""

from minicnn.functional.activation import (
    gelu,
    gelu_backward,
    leaky_relu,
    leaky_relu_backward,
    log_softmax,
    log_softmax_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    silu,
    silu_backward,
    softmax,
    softmax_backward,
    tanh,
    tanh_backward,
)
from minicnn.functional.conv import (
    col2im,
    conv2d,
    conv2d_backward,
    conv2d_direct,
    conv2d_forward,
    conv2d_input_grad,
    conv2d_weight_grad,
    im2col,
    pad2d,
    pad2d_backward,
)
from minicnn.functional.conv_transpose import (
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose2d_direct,
)
from minicnn.functional.dropout import dropout, dropout2d, dropout2d_backward, dropout_backward
from minicnn.functional.linear import linear, linear_backward
from minicnn.functional.loss import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
    cross_entropy,
    cross_entropy_backward,
    mse_loss,
    mse_loss_backward,
    nll_loss,
    nll_loss_backward,
)
from minicnn.functional.normalization import (
    batch_norm,
    batch_norm_backward,
    group_norm,
    group_norm_backward,
)
from minicnn.functional.optim import sgd_update
from minicnn.functional.pooling import (
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "batch_norm",
    "batch_norm_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "col2im",
    "conv2d",
    "conv2d_backward",
    "conv2d_direct",
    "conv2d_forward",
    "conv2d_input_grad",
    "conv2d_weight_grad",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose2d_direct",
    "cross_entropy",
    "cross_entropy_backward",
    "dropout",
    "dropout2d",
    "dropout2d_backward",
    "dropout_backward",
    "gelu",
    "gelu_backward",
    "group_norm",
    "group_norm_backward",
    "im2col",
    "leaky_relu",
    "leaky_relu_backward",
    "linear",
    "linear_backward",
    "log_softmax",
    "log_softmax_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "mse_loss",
    "mse_loss_backward",
    "nll_loss",
    "nll_loss_backward",
    "pad2d",
    "pad2d_backward",
    "relu",
    "relu_backward",
    "sgd_update",
    "sigmoid",
    "sigmoid_backward",
    "silu",
    "silu_backward",
    "softmax",
    "softmax_backward",
    "tanh",
    "tanh_backward",
]
