"""Each classic mistake, planted in an otherwise right solution, is caught and named.

The planted files are written as a learner would get them wrong, not as transformations of
the right answer, so the diagnosis is tested on the numbers real mistakes produce.
"""

from __future__ import annotations

import pytest

from minicnn.exercises import check_workbook

RELU_FORWARD = """
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0), x
"""

PLANTED = {
    "sign flipped": ("relu", RELU_FORWARD + """

def relu_backward(grad_output, cache):
    return -grad_output * (cache > 0)
"""),
    "gradient off by the batch size": ("softmax_cross_entropy", """
import numpy as np


def softmax_cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = -np.log(p[rows, labels]).mean()
    grad = p.copy()
    grad[rows, labels] -= 1
    return loss, grad  # the mean's 1/N forgotten
"""),
    "transposed weight gradient": ("linear", """
import numpy as np


def linear_forward(x, weight, bias):
    return x @ weight.T + bias, (x, weight)


def linear_backward(grad_output, cache):
    x, weight = cache
    return grad_output @ weight, x.T @ grad_output, grad_output.sum(axis=0)
"""),
    "overlapping windows overwritten instead of added": ("im2col", """
import numpy as np

from minicnn.exercises.checks.im2col import im2col  # noqa: F401


def col2im(cols, padded_shape, stride):
    _, _, k, _, out_h, out_w = cols.shape
    image = np.zeros(padded_shape, dtype=cols.dtype)
    for ky in range(k):
        for kx in range(k):
            image[:, :, ky:ky + stride * (out_h - 1) + 1:stride,
                  kx:kx + stride * (out_w - 1) + 1:stride] = cols[:, :, ky, kx]
    return image
"""),
    "ties routed to the wrong maximum": ("max_pool2d", """
import numpy as np

from minicnn.exercises.checks.im2col import col2im, im2col


def max_pool2d_forward(x, kernel_size, stride):
    windows = im2col(x, kernel_size, stride)
    out = windows.max(axis=(2, 3))
    return out, (windows, x.shape, stride)


def max_pool2d_backward(grad_output, cache):
    windows, shape, stride = cache
    mask = windows == windows.max(axis=(2, 3), keepdims=True)  # every tied maximum
    return col2im(mask * grad_output[:, :, None, None], shape, stride)
"""),
    "bias gradient not summed over positions": ("conv2d", """
from minicnn.exercises.checks.conv2d import conv2d_backward as right_backward
from minicnn.exercises.checks.conv2d import conv2d_forward  # noqa: F401


def conv2d_backward(grad_output, cache):
    grad_input, grad_weight, _ = right_backward(grad_output, cache)
    return grad_input, grad_weight, grad_output.sum(axis=0)
"""),
}

MORE = {
    "gradient passed where x == 0": ("relu", RELU_FORWARD + """

def relu_backward(grad_output, cache):
    return grad_output * (cache >= 0)
"""),
    "kernel flipped": ("conv2d", """
from minicnn.exercises.checks.conv2d import conv2d_backward  # noqa: F401
from minicnn.exercises.checks.conv2d import conv2d_forward as right_forward


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    return right_forward(x, weight[:, :, ::-1, ::-1], bias, stride, padding)
"""),
    "batch statistics treated as constants": ("batch_norm", """
from minicnn.exercises.checks.batch_norm import batch_norm_backward as right_backward
from minicnn.exercises.checks.batch_norm import batch_norm_forward  # noqa: F401


def batch_norm_backward(grad_output, cache):
    x_hat, inv_std, weight = cache
    _, grad_weight, grad_bias = right_backward(grad_output, cache)
    grad_input = grad_output * (weight * inv_std).reshape(1, -1, 1, 1)
    return grad_input, grad_weight, grad_bias
"""),
    "the shortcut's gradient is missing": ("residual", """
import numpy as np


def residual_forward(x, main):
    out = np.maximum(main(x) + x, 0)
    return out, out


def residual_backward(grad_output, cache, main):
    return main.backward(grad_output * (cache > 0))
"""),
    "learning rate inside the momentum buffer": ("sgd_momentum", """
def sgd_momentum_update(param, grad, buffer, lr, momentum, weight_decay=0.0, nesterov=False):
    grad = grad + weight_decay * param
    buffer = lr * grad if buffer is None else momentum * buffer + lr * grad
    step = lr * grad + momentum * buffer if nesterov else buffer
    return param - step, buffer
"""),
    "no bias correction": ("adam", """
import numpy as np


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                eps=1e-8, weight_decay=0.0):
    grad = grad + weight_decay * param
    exp_avg = betas[0] * exp_avg + (1 - betas[0]) * grad
    exp_avg_sq = betas[1] * exp_avg_sq + (1 - betas[1]) * grad**2
    return param - lr * exp_avg / (np.sqrt(exp_avg_sq) + eps), exp_avg, exp_avg_sq
"""),
}


def plant(workbook, exercise: str, source: str):
    (workbook / f"{exercise}.py").write_text(source)
    (result,) = check_workbook(workbook, [exercise], training=None)
    return result


@pytest.mark.parametrize("mistake", PLANTED)
def test_each_listed_mistake_is_caught_and_named(stub_workbook, mistake):
    exercise, source = PLANTED[mistake]
    result = plant(stub_workbook, exercise, source)
    assert result.status == "failed", f"the planted mistake passed: {result.describe()}"
    assert result.failure.mistake is not None and result.failure.mistake.name == mistake, (
        f"expected the diagnosis {mistake!r}, got:\n{result.describe()}")
    report = result.describe()
    assert f"looks like: {mistake}" in report and "expected" in report, report


@pytest.mark.parametrize("mistake", MORE)
def test_other_known_mistakes_are_named(stub_workbook, mistake):
    exercise, source = MORE[mistake]
    result = plant(stub_workbook, exercise, source)
    assert result.failure is not None and result.failure.mistake is not None, result.describe()
    assert result.failure.mistake.name == mistake, result.describe()


def test_the_first_wrong_element_is_named_with_both_values(stub_workbook):
    exercise, source = PLANTED["sign flipped"]
    result = plant(stub_workbook, exercise, source)
    # The fixed case's first row is x = [-2, -0.5, 0, 0.5, 2], grad_output's [0.1, ..., 0.5]:
    # the first element passed through ReLU is (0, 3), whose gradient is -0.4.
    assert "grad_input[0, 3]: expected -0.4, got 0.4" in result.describe(), result.describe()


def test_ties_to_the_last_maximum_are_named_too(stub_workbook):
    source = """
import numpy as np

from minicnn.exercises.checks.im2col import col2im, im2col


def max_pool2d_forward(x, kernel_size, stride):
    windows = im2col(x, kernel_size, stride)
    n, c, k, _, out_h, out_w = windows.shape
    flat = windows.reshape(n, c, k * k, out_h, out_w)[:, :, ::-1]
    last = k * k - 1 - flat.argmax(axis=2)  # the last maximum in row-major order
    return windows.max(axis=(2, 3)), (last, windows.shape, x.shape, stride)


def max_pool2d_backward(grad_output, cache):
    last, windows_shape, shape, stride = cache
    n, c, k, _, out_h, out_w = windows_shape
    grad_windows = np.zeros((n, c, k * k, out_h, out_w), grad_output.dtype)
    np.put_along_axis(grad_windows, last[:, :, None], grad_output[:, :, None], axis=2)
    return col2im(grad_windows.reshape(windows_shape), shape, stride)
"""
    result = plant(stub_workbook, "max_pool2d", source)
    assert result.failure.mistake.name == "ties routed to the wrong maximum", result.describe()
