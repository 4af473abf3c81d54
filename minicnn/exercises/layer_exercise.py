"""The two shapes of layer exercise, so each exercise states only what is its own.

* :class:`InputLayerExercise`: ``forward(x, *settings) -> (out, cache)`` and
  ``backward(grad_output, cache) -> grad_input`` (ReLU, pooling);
* :class:`ParameterLayerExercise`: ``forward(x, weight, bias, *settings) -> (out, cache)`` and
  ``backward(grad_output, cache) -> (grad_input, grad_weight, grad_bias)`` (Linear, Conv2d,
  BatchNorm).

A subclass names its two functions in ``functions``, the case inputs passed after the tensors
in ``settings``, and gives ``torch_forward``: PyTorch's forward of the same layer, whose
autograd supplies the expected gradients.
"""

from __future__ import annotations

from minicnn.exercises.exercise import Case, Exercise, gradcheck_function, unpack

__all__ = ["InputLayerExercise", "ParameterLayerExercise"]


class _LayerExercise(Exercise):
    tensors: tuple[str, ...] = ()
    gradients: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()

    def torch_forward(self, torch, *tensors, case: Case):
        """PyTorch's output for the tensors (with ``requires_grad``) and the case's settings."""
        raise NotImplementedError

    def _settings(self, case: Case) -> list:
        return [case.inputs[name] for name in self.settings]

    def run(self, functions, case):
        forward, backward = (getattr(functions, name) for name in self.functions)
        tensors = [case.inputs[name] for name in self.tensors]
        out, cache = unpack(forward(*tensors, *self._settings(case)), 2, self.functions[0],
                            "(out, cache)")
        grads = backward(case.inputs["grad_output"], cache)
        if len(self.gradients) > 1:
            grads = unpack(grads, len(self.gradients), self.functions[1],
                           f"({', '.join(self.gradients)})")
        else:
            grads = (grads,)
        return {"out": out, **dict(zip(self.gradients, grads))}

    def finite_differences(self, functions, case):
        forward, backward = (getattr(functions, name) for name in self.functions)
        settings = self._settings(case)
        return gradcheck_function(
            lambda *tensors: forward(*tensors, *settings),
            lambda grad, *tensors: backward(grad, forward(*tensors, *settings)[1]),
            [case.inputs[name] for name in self.tensors], list(self.gradients),
            case.inputs["grad_output"])

    def torch_outputs(self, torch, case):
        tensors = [torch.tensor(case.inputs[name], requires_grad=True) for name in self.tensors]
        out = self.torch_forward(torch, *tensors, case=case)
        out.backward(torch.tensor(case.inputs["grad_output"]))
        return {"out": out.detach().numpy(),
                **{name: tensor.grad.numpy() for name, tensor in zip(self.gradients, tensors)}}


class InputLayerExercise(_LayerExercise):
    tensors = ("x",)
    gradients = ("grad_input",)


class ParameterLayerExercise(_LayerExercise):
    tensors = ("x", "weight", "bias")
    gradients = ("grad_input", "grad_weight", "grad_bias")
