"""``minicnn evaluate``: accuracy, per-class accuracy and a confusion matrix that add up."""

from __future__ import annotations

import re

import numpy as np
import pytest

from minicnn.cli.evaluate import format_report
from minicnn.data import CIFAR10
from minicnn.models import LeNet5
from minicnn.train.checkpoint import save_weights
from minicnn.viz.confusion import confusion_matrix


def parse_report(stdout: str) -> tuple[float, np.ndarray, np.ndarray]:
    """(accuracy %, per-class accuracies, confusion matrix) from ``minicnn evaluate``'s output."""
    lines = stdout.splitlines()
    per_class = np.array([float(re.match(r"\s+\d: (\d\.\d{4})", line).group(1))
                          for line in lines[lines.index("per-class accuracy:") + 1 :][:10]])
    start = next(i for i, line in enumerate(lines) if line.startswith("confusion matrix")) + 2
    matrix = np.array([[int(count) for count in line.split()[1:]]
                       for line in lines[start : start + 10]])
    accuracy = float(re.fullmatch(r"test accuracy: (\d+\.\d\d)%", lines[-1]).group(1))
    return accuracy, per_class, matrix


def test_evaluate_run_directory_reports_consistent_numbers(cli, trained_run, mnist_dir):
    status, stdout, stderr = cli(["evaluate", str(trained_run.path), "--data-dir",
                                  str(mnist_dir), "--limit-test", "2000"])
    assert status == 0, stderr
    assert f"weights: {trained_run.path / 'best.safetensors'}" in stdout
    accuracy, per_class, matrix = parse_report(stdout)
    assert matrix.shape == (10, 10)
    assert matrix.sum() == 2000, "every test image appears once in the confusion matrix"
    assert accuracy == pytest.approx(100 * np.trace(matrix) / matrix.sum(), abs=0.0051)
    np.testing.assert_allclose(per_class, np.diag(matrix) / matrix.sum(axis=1), atol=5.1e-5)
    # The rows count the true labels of the first 2,000 test images.
    from minicnn.data.idx import read_idx

    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[:2000]
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    # The same weights, the same images: the figure training printed.
    train_accuracy = float(trained_run.stdout.strip().splitlines()[-1].split()[-1][:-1])
    assert accuracy == train_accuracy


@pytest.mark.parametrize("name", ["last.safetensors", "checkpoint.safetensors"])
def test_evaluate_weights_file_or_checkpoint(cli, trained_run, mnist_dir, name):
    status, stdout, stderr = cli(["evaluate", str(trained_run.path / name), "--data-dir",
                                  str(mnist_dir), "--limit-test", "300"])
    assert status == 0, stderr
    accuracy, _, matrix = parse_report(stdout)
    assert matrix.sum() == 300 and accuracy > 85


def test_weights_without_model_name_need_model_option(cli, tmp_path, mnist_dir):
    path = tmp_path / "bare.safetensors"
    save_weights(path, LeNet5(variant="original").state_dict())
    status, stdout, stderr = cli(["evaluate", str(path), "--data-dir", str(mnist_dir)])
    assert status == 1 and stdout == ""
    assert "does not say which network" in stderr and "--model" in stderr, stderr
    status, stdout, stderr = cli(["evaluate", str(path), "--model", "lenet5-original",
                                  "--data-dir", str(mnist_dir), "--limit-test", "100"])
    assert status == 0, stderr
    assert parse_report(stdout)[2].sum() == 100


def test_missing_or_damaged_files_are_one_line_errors(cli, tmp_path):
    status, _, stderr = cli(["evaluate", str(tmp_path / "nothing.safetensors")])
    assert status == 1 and "no such checkpoint file or run directory" in stderr, stderr
    status, _, stderr = cli(["evaluate", str(tmp_path)])
    assert status == 1 and "no best.safetensors" in stderr, stderr
    (tmp_path / "bad.safetensors").write_bytes(b"not a tensor file at all")
    status, _, stderr = cli(["evaluate", str(tmp_path / "bad.safetensors"), "--model",
                             "lenet5"])
    assert status == 1 and "bad.safetensors" in stderr and "corrupted" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1


def test_confusion_matrix_counts_and_report_format():
    targets = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])
    matrix = confusion_matrix(targets, predictions, 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    report = format_report(matrix)
    assert "  0: 0.5000  (2 images)" in report and "  2: 0.6667  (3 images)" in report
    assert report.splitlines()[-1] == "test accuracy: 66.67%"


def test_weights_of_another_network_are_refused(cli, tmp_path):
    from minicnn.models import SeedNet

    path = tmp_path / "seednet.safetensors"
    save_weights(path, SeedNet().state_dict(), {"minicnn.model": "lenet5"})
    status, _, stderr = cli(["evaluate", str(path)])
    assert status == 1
    assert f"{path}: not weights of minicnn's lenet5 (Error(s) in loading" in stderr, stderr
    assert "Missing key(s)" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_evaluate_a_cifar_run_names_its_classes(cli, cifar_run, cifar10_dir):
    status, stdout, stderr = cli(["evaluate", str(cifar_run.path), "--data-dir",
                                  str(cifar10_dir)])
    assert status == 0, stderr
    lines = stdout.splitlines()
    per_class = lines[lines.index("per-class accuracy:") + 1 :][:10]
    assert [line.split(":")[0].strip() for line in per_class] == [
        f"{label} {name}" for label, name in enumerate(CIFAR10.classes)], "dataset's names"
    assert sum(int(re.search(r"\((\d+) images\)", line).group(1)) for line in per_class) == 40
    # The statistics recorded in the weights normalise the test images as in training.
    train_accuracy = float(cifar_run.stdout.strip().splitlines()[-1].split()[-1][:-1])
    assert lines[-1] == f"test accuracy: {train_accuracy:.2f}%"
