"""Exercise ``residual``: a residual block's backward, where the gradient forks and adds."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.exercise import Case, Exercise, unpack
from minicnn.exercises.layers import ResidualBlock
from minicnn.exercises.mistakes import SIGN_FLIPPED, Mistake, matches
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import activation
from minicnn.gradient_check import gradcheck
from minicnn.models.lenet import LeNet5
from minicnn.nn.activation import ReLU
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.random import manual_seed

__all__ = ["ResidualExercise", "main_path", "residual_backward", "residual_forward"]


def residual_forward(x, main):
    """Reference: ``relu(main(x) + x)``; the cache is the output (ReLU's mask)."""
    out = activation.relu(main(x) + x)
    return out, out


def residual_backward(grad_output, cache, main):
    """Reference: through the ReLU, then the same gradient down both paths, added."""
    grad_sum = activation.relu_backward(grad_output, cache)
    return main.backward(grad_sum) + grad_sum


def main_path(channels: int) -> Sequential:
    """The block's main path: 3x3 convolution, ReLU, 3x3 convolution (sizes kept)."""
    return Sequential(Conv2d(channels, channels, 3, padding=1), ReLU(),
                      Conv2d(channels, channels, 3, padding=1))


def _build_main(case: Case) -> Sequential:
    x = case.inputs["x"]
    main = main_path(x.shape[1]).to(x.dtype)
    main.load_state_dict(case.inputs["main_state"])
    return main


def _variants(case: Case) -> dict[str, np.ndarray]:
    """The input gradient without the shortcut's share, and without the ReLU."""
    x, grad = case.inputs["x"], case.inputs["grad_output"]
    main = _build_main(case)
    out, _ = residual_forward(x, main)
    grad_sum = activation.relu_backward(grad, out)
    without_shortcut = main.backward(grad_sum)
    main(x)
    without_relu = main.backward(grad) + grad
    return {"no shortcut": without_shortcut, "no relu": without_relu}


class ResidualExercise(Exercise):
    name = "residual"
    title = "a residual block's backward: out = relu(main(x) + x)"
    functions = ("residual_forward", "residual_backward")
    reference = sys.modules[__name__]
    mistakes = (
        Mistake("the shortcut's gradient is missing",
                "x reaches the sum along two paths, the main path and the shortcut; its "
                "gradient is the sum of both: main.backward(g) + g, with g the gradient after "
                "the ReLU",
                ("grad_input",),
                lambda actual, expected, case, tensor: matches(
                    actual, _variants(case)["no shortcut"])),
        Mistake("the ReLU was skipped in the backward",
                "the block ends with a ReLU: first multiply grad_output by (out > 0), then "
                "send that same gradient down both paths",
                ("grad_input",),
                lambda actual, expected, case, tensor: matches(
                    actual, _variants(case)["no relu"])),
        Mistake("main.backward called more than once",
                "each call adds the main path's parameter gradients into .grad again: call "
                "main.backward exactly once per forward",
                (), lambda actual, expected, case, tensor: tensor.startswith("main.") and any(
                    matches(actual, expected * times) for times in (2, 3))),
        Mistake("main.backward never called",
                "the main path's parameters get their gradients only through main.backward(g): "
                "call it (once) and use what it returns",
                (), lambda actual, expected, case, tensor: actual.dtype == object),
        SIGN_FLIPPED,
    )

    def _case(self, label: str, rng: np.random.Generator, shape) -> Case:
        manual_seed(int(rng.integers(2**31)))
        main = main_path(shape[1]).double()
        state = {key: np.array(value) for key, value in main.state_dict().items()}
        # Bias shifts that keep the block's ReLU away from its kink.
        x = rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        return Case(label, {"x": x, "main_state": state,
                            "grad_output": rng.standard_normal(shape)}, shape[0])

    def fixed_cases(self):
        rng = np.random.default_rng(37)
        return [self._case("fixed: N=2, 3 channels, 4x4", rng, (2, 3, 4, 4))]

    def random_cases(self, rng):
        return [self._case(f"random {index + 1}: {shape}", rng, shape)
                for index, shape in enumerate(
                    (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                     int(rng.integers(2, 6)), int(rng.integers(2, 6))) for _ in range(2))]

    def run(self, functions, case):
        main = _build_main(case)
        out, cache = unpack(functions.residual_forward(case.inputs["x"], main), 2,
                            "residual_forward", "(out, cache)")
        grad_input = functions.residual_backward(case.inputs["grad_output"], cache, main)
        results = {"out": out, "grad_input": grad_input}
        results.update({f"main.{name}.grad": param.grad
                        for name, param in main.named_parameters()})
        return results

    def finite_differences(self, functions, case):
        block = ResidualBlock(_build_main(case), functions.residual_forward,
                              functions.residual_backward)
        report = gradcheck(block, case.inputs["x"], grad_output=case.inputs["grad_output"],
                           raise_exception=False)
        return {("grad_input" if check.name == "input" else f"{check.name}.grad"):
                (check.analytic, check.numeric) for check in report.tensors}

    def torch_outputs(self, torch, case):
        nn = torch.nn
        x_array = case.inputs["x"]
        channels = x_array.shape[1]
        main = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(channels, channels, 3, padding=1)).double()
        main.load_state_dict({key: torch.from_numpy(np.array(value))
                              for key, value in case.inputs["main_state"].items()})
        x = torch.tensor(x_array, requires_grad=True)
        out = torch.relu(main(x) + x)
        out.backward(torch.tensor(case.inputs["grad_output"]))
        results = {"out": out.detach().numpy(), "grad_input": x.grad.numpy()}
        results.update({f"main.{name}.grad": param.grad.numpy()
                        for name, param in main.named_parameters()})
        return results

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        conv1, relu1, pool1, conv2, relu2, pool2 = model.features
        functions = functions if functions is not None else self.reference
        block = ResidualBlock(main_path(6), functions.residual_forward,
                              functions.residual_backward)
        model.features = Sequential(conv1, relu1, pool1, block, conv2, relu2, pool2)
        return ModuleTrainee(model)
