"""Exercise ``lenet5_step``: a whole LeNet-5 training step by hand, from the learner's pieces."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.checks.sgd_momentum import sgd_momentum_update
from minicnn.exercises.exercise import Case, ContractError, Exercise, gradcheck_function, unpack
from minicnn.exercises.mistakes import BATCH_SIZE, SIGN_FLIPPED
from minicnn.exercises.training import LR, MOMENTUM, ModuleTrainee
from minicnn.models.lenet import LeNet5
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.random import manual_seed

__all__ = ["PARAMETER_NAMES", "LeNet5StepExercise", "lenet5_training_step"]

PARAMETER_NAMES = (
    "features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
    "classifier.1.weight", "classifier.1.bias", "classifier.3.weight", "classifier.3.bias",
    "classifier.5.weight", "classifier.5.bias",
)
STEPS = 2
"""Steps per case: the second uses the momentum buffers the first returned."""


def lenet5_training_step(params, buffers, images, labels, lr=0.05, momentum=0.9):
    """Reference: minicnn's LeNet5 and CrossEntropyLoss, then the reference SGD update."""
    model = LeNet5().to(images.dtype)
    model.load_state_dict(params)
    loss_fn = CrossEntropyLoss()
    loss = loss_fn(model(images), labels)
    model.backward(loss_fn.backward())
    grads = {name: param.grad for name, param in model.named_parameters()}
    new_params, new_buffers = {}, {}
    for name in PARAMETER_NAMES:
        new_params[name], new_buffers[name] = sgd_momentum_update(
            params[name], grads[name], buffers.get(name), lr, momentum)
    return float(loss), grads, new_params, new_buffers


def _named(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise ContractError(f"lenet5_training_step must return {what} as a dict by parameter "
                            f"name, got {type(value).__name__}")
    return value


class StepTrainee:
    """LeNet-5 trained by the learner's step function alone; scored through minicnn's LeNet5."""

    def __init__(self, step, seed: int):
        manual_seed(seed)
        self.model = LeNet5()
        self.params = {name: param.data.copy() for name, param in self.model.named_parameters()}
        self.buffers: dict = {}
        self._step = step

    def step(self, images, labels) -> float:
        loss, _, params, buffers = unpack(
            self._step(self.params, self.buffers, images, labels, LR, MOMENTUM), 4,
            "lenet5_training_step", "(loss, grads, new_params, new_buffers)")
        self.params, self.buffers = _named(params, "new_params"), _named(buffers, "new_buffers")
        return float(loss)

    def predict(self, images):
        self.model.load_state_dict(self.params)
        return self.model(images)


class LeNet5StepExercise(Exercise):
    name = "lenet5_step"
    title = "one LeNet-5 training step by hand, from your pieces"
    functions = ("lenet5_training_step",)
    reference = sys.modules[__name__]
    mistakes = (SIGN_FLIPPED, BATCH_SIZE)

    def _case(self, label: str, rng: np.random.Generator, n: int) -> Case:
        manual_seed(int(rng.integers(2**31)))
        params = {name: param.data.astype(np.float64)
                  for name, param in LeNet5().named_parameters()}
        return Case(label, {"params": params, "images": rng.standard_normal((n, 1, 28, 28)),
                            "labels": rng.integers(0, 10, n), "lr": 0.05, "momentum": 0.9}, n)

    def fixed_cases(self):
        return [self._case("fixed: 3 images, two steps", np.random.default_rng(47), 3)]

    def random_cases(self, rng):
        return [self._case("random 1: 2 images, two steps", rng, 2)]

    def run(self, functions, case):
        inputs = case.inputs
        params, buffers = inputs["params"], {}
        results = {}
        for step in range(1, STEPS + 1):
            loss, grads, params, buffers = unpack(functions.lenet5_training_step(
                params, buffers, inputs["images"], inputs["labels"], inputs["lr"],
                inputs["momentum"]), 4, "lenet5_training_step",
                "(loss, grads, new_params, new_buffers)")
            grads, params = _named(grads, "grads"), _named(params, "new_params")
            buffers = _named(buffers, "new_buffers")
            results[f"loss (step {step})"] = loss
            for name in PARAMETER_NAMES:
                results[f"grad {name} (step {step})"] = grads.get(name)
                results[f"param {name} after step {step}"] = params.get(name)
                results[f"buffer {name} after step {step}"] = buffers.get(name)
        return results

    def finite_differences(self, functions, case):
        inputs = case.inputs
        images, labels = inputs["images"], inputs["labels"]

        def step(arrays):
            return functions.lenet5_training_step(dict(zip(PARAMETER_NAMES, arrays)), {},
                                                  images, labels)

        return gradcheck_function(
            lambda *arrays: step(arrays)[0],
            lambda grad, *arrays: tuple(grad * step(arrays)[1][name] for name in PARAMETER_NAMES),
            [inputs["params"][name] for name in PARAMETER_NAMES],
            [f"grad {name} (step 1)" for name in PARAMETER_NAMES], np.array(1.0),
            max_elements=6)

    def torch_outputs(self, torch, case):
        nn = torch.nn
        inputs = case.inputs
        model = nn.Module()
        model.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                       nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        model.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                                         nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        model.double().load_state_dict({name: torch.from_numpy(value.copy())
                                        for name, value in inputs["params"].items()})
        parameters = dict(model.named_parameters())
        optimizer = torch.optim.SGD(model.parameters(), lr=inputs["lr"],
                                    momentum=inputs["momentum"])
        images, labels = torch.tensor(inputs["images"]), torch.tensor(inputs["labels"])
        results = {}
        for step in range(1, STEPS + 1):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model.classifier(model.features(images)), labels)
            loss.backward()
            results[f"loss (step {step})"] = loss.detach().numpy()
            grads = {name: param.grad.numpy().copy() for name, param in parameters.items()}
            optimizer.step()
            for name in PARAMETER_NAMES:
                results[f"grad {name} (step {step})"] = grads[name]
                results[f"param {name} after step {step}"] = (
                    parameters[name].detach().numpy().copy())
                results[f"buffer {name} after step {step}"] = (
                    optimizer.state[parameters[name]]["momentum_buffer"].numpy().copy())
        return results

    def trainee(self, functions, seed):
        if functions is None:
            manual_seed(seed)
            return ModuleTrainee(LeNet5())
        return StepTrainee(functions.lenet5_training_step, seed)
