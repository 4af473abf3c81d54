"""A broken file or no network: every command answers with one line, not a traceback.

Each message names the file, says what is wrong and what to do; the status is 1. In debug
mode (``MINICNN_DEBUG=1``) the traceback is kept, for whoever debugs minicnn itself.
"""

from __future__ import annotations

import gzip
import shutil

import pytest

from minicnn.data import DataFileError
from minicnn.debug import set_debug
from minicnn.models import LeNet5
from minicnn.train.checkpoint import save_weights

TRAIN = ["train", "--limit-train", "64", "--limit-test", "64", "--epochs", "1", "--no-progress"]


def one_line_error(status: int, stdout: str, stderr: str, command: str) -> str:
    assert status == 1, (status, stdout, stderr)
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("Downloading ")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"minicnn {command}: "), lines[0]
    return lines[0]


@pytest.fixture
def corrupt_data_dir(tmp_path, mnist_dir):
    """A copy of MNIST whose test labels lost their last 10 bytes."""
    folder = tmp_path / "mnist"
    shutil.copytree(mnist_dir, folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-10]))
    return folder


@pytest.fixture
def weights_file(tmp_path):
    path = tmp_path / "lenet.safetensors"
    save_weights(path, LeNet5().state_dict(), {"minicnn.model": "lenet5"})
    return path


def test_train_with_a_corrupt_data_file(cli, tmp_path, corrupt_data_dir):
    line = one_line_error(*cli([*TRAIN, "--data-dir", str(corrupt_data_dir), "--out-dir",
                                str(tmp_path / "runs")]), "train")
    assert f"{corrupt_data_dir}/t10k-labels-idx1-ubyte.gz: MD5 mismatch" in line
    assert "delete it so that it is downloaded again (or replace it with a good copy)" in line
    assert list((tmp_path / "runs").iterdir()) == [], "no run directory is left behind"


def test_train_with_a_missing_data_dir(cli, tmp_path):
    line = one_line_error(*cli([*TRAIN, "--data-dir", str(tmp_path / "nowhere"), "--out-dir",
                                str(tmp_path / "runs")]), "train")
    assert f"train-images-idx3-ubyte.gz is not in {tmp_path / 'nowhere'}" in line
    assert "--data-dir that folder, or no --data-dir to download into the cache" in line


def test_train_with_no_data_and_no_network(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    # Port 9 (discard) on the loopback: refused at once, like a machine with no network.
    monkeypatch.setenv("MINICNN_MNIST_MIRRORS", "http://127.0.0.1:9/")
    line = one_line_error(*cli([*TRAIN, "--out-dir", str(tmp_path / "runs")]), "train")
    assert "Could not download train-images-idx3-ubyte.gz into" in line
    assert "unreachable" in line and "check the network connection" in line
    assert "(--data-dir on the command line)" in line
    assert list((tmp_path / "cache" / "mnist").iterdir()) == [], "no partial download is left"


def test_evaluate_with_a_corrupt_data_file(cli, weights_file, corrupt_data_dir):
    line = one_line_error(*cli(["evaluate", str(weights_file), "--data-dir",
                                str(corrupt_data_dir)]), "evaluate")
    assert "t10k-labels-idx1-ubyte.gz: MD5 mismatch" in line


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "empty"])
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_damaged_weights_file(cli, tmp_path, weights_file, mnist_dir, damage, command):
    data = bytearray(weights_file.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped byte":
        data[-100] ^= 0xFF  # in the tensors: only the checksum can notice
    else:
        data = bytearray()
    weights_file.write_bytes(bytes(data))
    args = [command, str(weights_file)]
    args += ["--data-dir", str(mnist_dir)] if command == "evaluate" else [str(tmp_path / "x.png")]
    line = one_line_error(*cli(args), command)
    assert str(weights_file) in line
    assert "truncated or corrupted" in line or "checksum; it is corrupted" in line, line
    assert "use an earlier checkpoint or retrain" in line


def test_debug_mode_keeps_the_traceback(cli, weights_file, corrupt_data_dir):
    with set_debug(True), pytest.raises(DataFileError, match="MD5 mismatch"):
        cli(["evaluate", str(weights_file), "--data-dir", str(corrupt_data_dir)])


@pytest.mark.parametrize(("argv", "message"), [
    (["evaluate", "x", "--batch-size", "many"], "argument --batch-size: must be a positive "
                                                "integer, got 'many'"),
    (["train", "--lr", "fast"], "argument --lr: must be a positive number, got 'fast'"),
    (["train", "--checkpoint-every", "0"], "argument --checkpoint-every: must be a positive "
                                           "integer, got 0"),
    (["evaluate", "x", "--model", "vgg"], "argument --model: invalid choice: 'vgg' (choose "
                                          "from 'lenet5', 'lenet5-original', 'seednet')"),
    (["evaluate", "x", "--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar' "
                                              "(choose from 'mnist', 'fashion-mnist', "
                                              "'cifar10', 'cifar100')"),
    (["predict", "x", "y.png", "--model", "vgg"], "argument --model: invalid choice: 'vgg'"),
    (["import-torch", "a.pt", "b.safetensors", "--model", "vgg"],
     "argument --model: invalid choice: 'vgg' (choose from 'lenet5', 'lenet5-original', "
     "'seednet')"),
    (["fit"], "argument command: invalid choice: 'fit' (choose from 'train', 'evaluate', "
              "'predict', 'import-torch', 'gradcheck'"),
])
def test_the_parser_rejects_bad_arguments_listing_what_is_valid(cli, argv, message):
    status, stdout, stderr = cli(argv)
    assert status == 2 and stdout == ""
    assert message in " ".join(stderr.split()), stderr
