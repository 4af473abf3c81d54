"""Exercise ``softmax_cross_entropy``: the loss and its gradient with respect to the logits."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.exercise import Case, Exercise, gradcheck_function, unpack
from minicnn.exercises.layers import FunctionLoss
from minicnn.exercises.mistakes import BATCH_SIZE, SIGN_FLIPPED, Mistake
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import loss as functional
from minicnn.models.lenet import LeNet5
from minicnn.random import manual_seed

__all__ = ["SoftmaxCrossEntropyExercise", "softmax_cross_entropy"]


def softmax_cross_entropy(logits, labels):
    """Reference: minicnn's :func:`~minicnn.functional.cross_entropy` and its backward."""
    loss = functional.cross_entropy(logits, labels)
    return loss, functional.cross_entropy_backward(np.ones((), logits.dtype), logits, labels)


def _overflowed(actual, expected, case, tensor) -> bool:
    return bool(np.all(np.isfinite(expected)) and not np.all(np.isfinite(actual)))


def logits_case(label: str, rng: np.random.Generator, n: int, classes: int,
                scale: float = 1.0) -> Case:
    return Case(label, {"logits": rng.standard_normal((n, classes)) * scale,
                        "labels": rng.integers(0, classes, n)}, n)


class SoftmaxCrossEntropyExercise(Exercise):
    name = "softmax_cross_entropy"
    title = "softmax cross-entropy loss and its gradient"
    functions = ("softmax_cross_entropy",)
    reference = sys.modules[__name__]
    mistakes = (
        Mistake("exp overflowed",
                "a large logit makes np.exp return inf (and inf/inf is nan): subtract each "
                "row's maximum before exponentiating; it cancels in the ratio",
                (), _overflowed),
        BATCH_SIZE, SIGN_FLIPPED)

    def fixed_cases(self):
        rng = np.random.default_rng(3)
        return [logits_case("fixed: N=4, 3 classes", rng, 4, 3),
                logits_case("fixed: N=3, 5 classes, logits near 1000", rng, 3, 5, 1000.0)]

    def random_cases(self, rng):
        return [logits_case(f"random {index + 1}: N={n}, {c} classes", rng, n, c, 3.0)
                for index, (n, c) in enumerate(
                    (int(rng.integers(1, 9)), int(rng.integers(2, 11))) for _ in range(3))]

    def run(self, functions, case):
        loss, grad = unpack(functions.softmax_cross_entropy(case.inputs["logits"],
                                                            case.inputs["labels"]),
                            2, "softmax_cross_entropy", "(loss, grad_logits)")
        return {"loss": loss, "grad_logits": grad}

    def finite_differences(self, functions, case):
        logits, labels = case.inputs["logits"], case.inputs["labels"]
        if np.abs(logits).max() > 100:
            return {}  # a difference of 1e-6 on logits near 1000 is lost in rounding
        return gradcheck_function(
            functions.softmax_cross_entropy,
            lambda grad, logits, labels: grad * functions.softmax_cross_entropy(logits,
                                                                                labels)[1],
            [logits, labels], ["grad_logits"], np.array(1.3))

    def torch_outputs(self, torch, case):
        logits = torch.tensor(case.inputs["logits"], requires_grad=True)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(case.inputs["labels"]))
        loss.backward()
        return {"loss": loss.detach().numpy(), "grad_logits": logits.grad.numpy()}

    def trainee(self, functions, seed):
        manual_seed(seed)
        loss = None if functions is None else FunctionLoss(functions.softmax_cross_entropy)
        return ModuleTrainee(LeNet5(), loss)
