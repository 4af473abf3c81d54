"""check_workbook on the stubs, on minicnn's own reference functions, and on the ways a
learner's code can break: every stub fails as "not implemented yet", the reference passes
every stage (LeNet-5 included), errors name the learner's line."""

from __future__ import annotations

import io

from minicnn.exercises import (
    EXERCISES,
    STAGES,
    TrainingSettings,
    check_workbook,
    format_results,
)

FEW_STEPS = TrainingSettings(steps=8, batch_size=16, progress=False)


def test_every_stub_fails_as_not_implemented_yet(stub_workbook):
    out = io.StringIO()
    results = check_workbook(stub_workbook, training=None, out=out)
    assert [result.name for result in results] == [exercise.name for exercise in EXERCISES]
    for result in results:
        assert result.status == "not implemented yet", f"{result.name}: {result.describe()}"
        assert "not implemented yet" in result.message and "raises NotImplementedError" in (
            result.message), result.message
    table = format_results(results)
    assert f"0/{len(EXERCISES)} passed; next: relu.py" in table, table


def test_the_reference_solutions_pass_every_check(solved_workbook, mnist_dir):
    settings = TrainingSettings(steps=8, batch_size=16, data_dir=str(mnist_dir),
                                progress=False)
    results = check_workbook(solved_workbook, training=settings)
    for result in results:
        assert result.passed, result.describe()
        for stage in STAGES[:3]:
            assert result.stages[stage] in ("ok", "n/a"), f"{result.name}: {result.stages}"
        assert result.stages["PyTorch"] == "ok", f"{result.name}: {result.stages}"
        mine, twin = result.training
        assert mine.steps == twin.steps == 8, f"{result.name}: {mine}, {twin}"
        assert result.stages["LeNet-5 on MNIST"].endswith("%"), result.stages
    assert f"{len(EXERCISES)}/{len(EXERCISES)} passed" in format_results(results)


def test_without_mnist_only_the_training_stage_is_skipped(solved_workbook, tmp_path):
    settings = TrainingSettings(steps=5, data_dir=str(tmp_path), progress=False)
    (result,) = check_workbook(solved_workbook, ["relu"], training=settings)
    assert result.passed and result.stages["LeNet-5 on MNIST"] == "skipped", result.describe()
    assert any("MNIST is not available" in note for note in result.notes), result.notes


def test_the_time_budget_stops_a_slow_function(solved_workbook, mnist_dir):
    settings = TrainingSettings(steps=50, batch_size=8, time_budget=1e-9,
                                data_dir=str(mnist_dir), progress=False)
    (result,) = check_workbook(solved_workbook, ["relu"], training=settings)
    mine, twin = result.training
    assert mine.steps == twin.steps == 1, f"expected one step, got {mine.steps}"
    assert any("time budget after 1 of 50 steps" in note for note in result.notes), result.notes


def test_writing_into_an_argument_is_caught(stub_workbook):
    (stub_workbook / "relu.py").write_text(
        "import numpy as np\n\n"
        "def relu_forward(x):\n    return np.maximum(x, 0), x\n\n"
        "def relu_backward(grad_output, cache):\n"
        "    grad_output[cache <= 0] = 0\n    return grad_output\n")
    (result,) = check_workbook(stub_workbook, ["relu"], training=None)
    assert result.status == "failed" and result.failure.stage == "shapes", result.describe()
    assert "wrote into its argument 'grad_output'" in result.failure.message, result.describe()


def test_an_exception_names_the_learners_line(stub_workbook):
    (stub_workbook / "relu.py").write_text(
        "import numpy as np\n\n"
        "def relu_forward(x):\n    return np.maximum(x, 0), x\n\n"
        "def relu_backward(grad_output, cache):\n    return grad_output * mask\n")
    (result,) = check_workbook(stub_workbook, ["relu"], training=None)
    assert result.status == "error", result.describe()
    assert "NameError" in result.message and "relu_backward in relu.py, line 7" in (
        result.message), result.message


def test_a_wrong_return_form_is_explained(stub_workbook):
    (stub_workbook / "relu.py").write_text(
        "import numpy as np\n\n"
        "def relu_forward(x):\n    return np.maximum(x, 0)\n\n"
        "def relu_backward(grad_output, cache):\n    return grad_output\n")
    (result,) = check_workbook(stub_workbook, ["relu"], training=None)
    assert result.status == "failed", result.describe()
    assert "relu_forward must return (out, cache), got ndarray" in result.failure.message


def test_a_float64_result_for_float32_input_is_caught(stub_workbook):
    (stub_workbook / "relu.py").write_text(
        "import numpy as np\n\n"
        "def relu_forward(x):\n    return np.maximum(x, 0), x\n\n"
        "def relu_backward(grad_output, cache):\n"
        "    return grad_output * (cache > 0).astype(np.float64)\n")
    (result,) = check_workbook(stub_workbook, ["relu"], training=None)
    assert result.failure.stage == "shapes" and result.failure.mismatch.problem == "dtype", (
        result.describe())
    assert "expected dtype float32" in result.describe(), result.describe()


def test_without_pytorch_its_stage_alone_is_skipped(solved_workbook):
    (result,) = check_workbook(solved_workbook, ["linear"], training=None, use_torch=False)
    assert result.passed and result.stages["PyTorch"] == "skipped", result.describe()
    assert result.stages["finite differences"] == "ok", result.stages
    assert any("comparison with it was skipped" in note for note in result.notes), result.notes
