"""Tests of minicnn/testing.py: compare_with_torch, PyTorch as the oracle of every layer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from minicnn.cli.gradcheck import CASES, MINICNN_NN
from minicnn.nn.linear import Identity, Linear
from minicnn.nn.normalization import BatchNorm2d
from minicnn.testing import TorchComparison, compare_with_torch, default_tolerances


def _build_pair(case, seed: int = 0):
    """A case of the gradcheck command built in both libraries, with its inputs."""
    rng = np.random.default_rng(seed)
    inputs = case.make_inputs(rng)
    state = case.state(rng) if case.state is not None else {}
    mc_module = case.build(MINICNN_NN).train(case.training)
    torch.manual_seed(seed)
    torch_module = case.build(torch.nn).train(case.training)
    torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    return mc_module, torch_module, inputs


COMPARABLE_CASES = [case for case in CASES if case.torch_comparable]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", COMPARABLE_CASES,
                         ids=[f"{case.layer}({case.config})" for case in COMPARABLE_CASES])
def test_every_layer_agrees_with_torch(case, dtype):
    mc_module, torch_module, inputs = _build_pair(case)
    comparison = compare_with_torch(mc_module, torch_module, *inputs, dtype=dtype)
    assert comparison.passed(), str(comparison)
    names = [entry.name for entry in comparison.tensors]
    assert names[0] in ("output", "output[0]")
    assert "input.grad" in names, "every case differentiates its first input"
    expected_param_grads = [f"{name}.grad" for name, _ in mc_module.named_parameters()]
    assert [name for name in names if name.endswith(".grad") and name != "input.grad"] == \
        expected_param_grads


def test_entries_cover_outputs_buffers_and_gradients():
    mc_module, torch_module = BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    comparison = compare_with_torch(mc_module, torch_module, x)
    assert isinstance(comparison, TorchComparison)
    assert [entry.name for entry in comparison.tensors] == [
        "output", "running_mean", "running_var", "num_batches_tracked", "input.grad",
        "weight.grad", "bias.grad"]
    assert comparison["weight.grad"].shape == (3,)
    text = str(comparison)
    assert "running_mean" in text and "PASS" in text and "float64" in text


def test_modules_passed_in_are_left_untouched():
    mc_module, torch_module = Linear(3, 2), torch.nn.Linear(3, 2)
    mc_weight = mc_module.weight.data.copy()
    torch_weight = torch_module.weight.detach().clone()
    compare_with_torch(mc_module, torch_module, np.ones((4, 3)))
    np.testing.assert_array_equal(mc_module.weight.data, mc_weight)
    assert mc_module.weight.grad is None and mc_module.weight.dtype == np.float32
    assert torch.equal(torch_module.weight, torch_weight) and torch_module.weight.grad is None
    torch_bn = torch.nn.BatchNorm2d(2)
    compare_with_torch(BatchNorm2d(2), torch_bn, np.ones((2, 2, 3, 3)))
    assert torch.equal(torch_bn.running_mean, torch.zeros(2)), "the forward ran on a copy"


class WrongBiasLinear(Linear):
    """A Linear whose bias gradient is off by one per element."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.bias.grad += 1
        return grad_input


def test_a_wrong_gradient_is_reported_by_name():
    comparison = compare_with_torch(WrongBiasLinear(3, 2), torch.nn.Linear(3, 2),
                                    np.random.default_rng(0).standard_normal((4, 3)))
    assert not comparison.passed()
    assert [entry.name for entry in comparison.failures()] == ["bias.grad"]
    assert comparison["bias.grad"].max_abs_error == pytest.approx(1.0)
    assert comparison["output"].max_abs_error < 1e-15
    bias_row = next(line for line in str(comparison).splitlines() if line.startswith("bias"))
    assert bias_row.rstrip().endswith("FAIL")


class SlightlyOff(Identity):
    """``y = x * (1 + 1e-6)``: an output error of exactly 1e-6 relative to the largest entry."""

    def forward(self, x):
        super().forward(x)
        return x * (1 + 1e-6)


def test_errors_and_passed_with_tolerances():
    x = np.array([[0.5, -2.0, 1.0]])
    comparison = compare_with_torch(SlightlyOff(), torch.nn.Identity(), x,
                                    grad_output=np.ones((1, 3)))
    output = comparison["output"]
    assert output.max_abs_error == pytest.approx(2e-6, rel=1e-6)
    assert output.max_rel_error == pytest.approx(1e-6, rel=1e-6)
    assert comparison.max_rel_error == pytest.approx(1e-6, rel=1e-6)
    assert comparison["input.grad"].max_abs_error == 0.0
    assert not comparison.passed(), "1e-6 is above the float64 default rtol=1e-10"
    assert comparison.passed(rtol=1e-5)
    assert comparison.passed(rtol=0.0, atol=3e-6)
    assert not comparison.passed(rtol=0.0, atol=1e-6)


def test_default_tolerances():
    assert default_tolerances(np.float64) == (1e-10, 1e-12)
    assert default_tolerances(np.float32) == (1e-5, 1e-6)
    with pytest.raises(TypeError, match="float32 or float64"):
        default_tolerances(np.int32)


def test_float32_comparison_runs_in_float32():
    comparison = compare_with_torch(Linear(3, 2), torch.nn.Linear(3, 2), np.ones((2, 3)),
                                    dtype=np.float32)
    assert comparison.dtype == np.float32
    assert comparison.passed() and comparison.max_rel_error < 1e-6


class Upcasting(Identity):
    """Returns float64 whatever the input's dtype: the bug float32 users would meet."""

    def forward(self, x):
        super().forward(x)
        return x.astype(np.float64)


def test_dtype_mismatch_is_an_error():
    with pytest.raises(ValueError, match="output has dtype float64 in minicnn, float32 in torch"):
        compare_with_torch(Upcasting(), torch.nn.Identity(), np.ones(3), dtype=np.float32)


def test_mode_mismatch_is_an_error():
    with pytest.raises(ValueError, match="minicnn module is in eval mode, the torch module in "
                                         "training mode"):
        compare_with_torch(BatchNorm2d(2).eval(), torch.nn.BatchNorm2d(2), np.ones((2, 2, 2, 2)))


def test_grad_output_of_the_wrong_shape_is_an_error():
    with pytest.raises(ValueError, match=r"grad_output has shape \(3,\), expected .*\(2, 2\)"):
        compare_with_torch(Linear(3, 2), torch.nn.Linear(3, 2), np.ones((2, 3)),
                           grad_output=np.ones(3))


def test_importing_minicnn_does_not_import_torch():
    code = ("import sys, minicnn, minicnn.gradient_check, minicnn.testing, minicnn.cli; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False", "torch must only be imported when comparing"
