"""``minicnn train``: the CI training run, its options, its output and ``--resume``."""

from __future__ import annotations

import json
import re

import pytest

from minicnn.train.config import TrainConfig

ACCURACY_LINE = re.compile(r"test accuracy: (\d+\.\d\d)%")


def final_accuracy(stdout: str) -> float:
    """The percentage on the last line, which scripts rely on: ``test accuracy: XX.XX%``."""
    last_line = stdout.strip().splitlines()[-1]
    match = ACCURACY_LINE.fullmatch(last_line)
    assert match, f"the last line is not 'test accuracy: XX.XX%': {last_line!r}"
    return float(match.group(1))


def test_ci_run_learns_mnist_above_90_percent(trained_run):
    accuracy = final_accuracy(trained_run.stdout)
    assert accuracy > 90.0, f"5,000 images, 1 epoch: test accuracy {accuracy}% <= 90%"
    records = [json.loads(line) for line in (trained_run.path / "metrics.jsonl").open()]
    assert len(records) == 1
    assert records[0]["train_accuracy"] > 0.8
    # The printed figure is the one the run recorded, on the 2,000 test images asked for.
    assert accuracy == pytest.approx(100 * records[0]["test_accuracy"], abs=0.0051)
    assert TrainConfig.load(trained_run.path / "config.json").limit_test == 2000


def test_output_names_the_run_the_model_and_each_epoch(trained_run):
    lines = trained_run.stdout.splitlines()
    assert lines[0] == f"run directory: {trained_run.path}"
    assert lines[1] == "LeNet5("
    assert "(0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))" in lines[3]
    epoch_line = next(line for line in lines if line.startswith("epoch 1/1"))
    for field in ("lr", "train loss", "test loss", "img/s"):
        assert field in epoch_line, epoch_line


@pytest.mark.parametrize(("option", "value", "choices"), [
    ("--optimizer", "foo", ["sgd", "adam", "adamw", "rmsprop"]),
    ("--scheduler", "linear", ["none", "step", "multistep", "exponential", "cosine", "onecycle",
                               "plateau"]),
    ("--model", "resnet", ["lenet5", "lenet5-original"]),
    ("--dtype", "float16", ["float32", "float64"]),
    ("--dataset", "imagenet", ["mnist", "fashion-mnist", "cifar10", "cifar100"]),
])
def test_bad_choices_are_rejected_listing_the_valid_ones(cli, option, value, choices):
    status, stdout, stderr = cli(["train", option, value])
    assert status == 2
    assert f"argument {option}: invalid choice: '{value}'" in stderr, stderr
    for choice in choices:
        assert f"'{choice}'" in stderr, stderr
    assert stdout == ""


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--epochs", "0", "must be a positive integer, got 0"),
    ("--batch-size", "-3", "must be a positive integer, got -3"),
    ("--limit-train", "x", "must be a positive integer, got 'x'"),
    ("--lr", "fast", "must be a positive number, got 'fast'"),
    ("--lr", "0", "must be a positive number, got 0"),
    ("--lr", "nan", "must be a positive number, got nan"),
    ("--width", "0", "must be a positive number, got 0"),
    ("--momentum", "-0.5", "must be zero or positive, got -0.5"),
    ("--weight-decay", "-1", "must be zero or positive, got -1"),
])
def test_bad_numbers_are_rejected_with_a_sentence(cli, option, value, message):
    status, _, stderr = cli(["train", option, value])
    assert status == 2
    assert f"argument {option}" in stderr and message in stderr, stderr


def test_help_shows_the_defaults(cli):
    status, stdout, _ = cli(["train", "--help"])
    assert status == 0
    defaults = TrainConfig()
    for option in ("--model", "--epochs", "--batch-size", "--optimizer", "--lr", "--momentum",
                   "--weight-decay", "--scheduler", "--seed", "--data-dir", "--out-dir",
                   "--threads", "--limit-train", "--resume", "--dtype", "--width"):
        assert option in stdout, option
    help_text = " ".join(stdout.split())  # argparse wraps lines
    for default in (defaults.lr, defaults.epochs, defaults.batch_size, defaults.optimizer,
                    defaults.momentum, defaults.weight_decay, defaults.scheduler, defaults.seed,
                    defaults.dtype, defaults.model, defaults.width):
        assert f"(default: {default})" in help_text, default


def test_help_states_each_default_once(cli):
    # Options whose help says its default in words ("(default: all cores)") must not get a
    # second, generated "(default: None)".
    status, stdout, _ = cli(["train", "--help"])
    assert status == 0
    # Each option's entry starts a line with two spaces and a dash; its help may wrap.
    options_section = stdout.split("\noptions:\n", 1)[1]
    entries = [" ".join(entry.split()) for entry in re.split(r"\n(?=  -)", options_section)]
    for entry in entries:
        option = entry.split()[0]
        assert entry.count("default") <= 1, f"{option} states its default twice: {entry!r}"
        assert "(default: None)" not in entry and "(default: False)" not in entry, (
            f"{option}: expected no generated default of None/False, got {entry!r}")
    for option, stated in (("--epochs", "(default: 10)"), ("--threads", "(default: all cores)"),
                           ("--limit-train", "(default: all)")):
        (entry,) = [entry for entry in entries if entry.startswith(option + " ")]
        assert stated in entry, f"{option}: expected {stated!r} in {entry!r}"


def test_resume_continues_the_run(cli, tmp_path, mnist_dir):
    # A step schedule: a cosine one is planned for the run's length and cannot be extended.
    common = ["--data-dir", str(mnist_dir), "--out-dir", str(tmp_path), "--limit-train", "256",
              "--limit-test", "128", "--lr", "0.01", "--scheduler", "step"]
    status, stdout, stderr = cli(["train", "--epochs", "1", "--no-progress", *common])
    assert status == 0, stderr
    (run_path,) = tmp_path.iterdir()
    first_accuracy = final_accuracy(stdout)

    # Progress bar on this time: it goes to stderr and shows loss, accuracy and images/s.
    status, stdout, stderr = cli(["train", "--resume", str(run_path), "--epochs", "2"])
    assert status == 0, stderr
    assert stdout.splitlines()[0] == f"run directory: {run_path}"
    assert "epoch 2/2" in stdout and "epoch 1/2" not in stdout
    for field in ("loss=", "acc=", "img_s="):
        assert field in stderr, stderr
    records = [json.loads(line) for line in (run_path / "metrics.jsonl").open()]
    assert [record["epoch"] for record in records] == [1, 2]
    assert first_accuracy == pytest.approx(100 * records[0]["test_accuracy"], abs=0.0051)
    assert final_accuracy(stdout) == pytest.approx(100 * records[1]["test_accuracy"], abs=0.0051)
    assert list(tmp_path.iterdir()) == [run_path], "resume must not start a new run directory"

    # A finished run resumes to no more epochs and reports where it ended.
    status, stdout, _ = cli(["train", "--resume", str(run_path), "--no-progress"])
    assert status == 0
    assert not any(line.startswith("epoch ") for line in stdout.splitlines()), stdout
    assert final_accuracy(stdout) == pytest.approx(100 * records[1]["test_accuracy"], abs=0.0051)


def test_resume_of_something_that_is_not_a_run_says_so(cli, tmp_path, mnist_dir):
    status, stdout, stderr = cli(["train", "--resume", str(tmp_path / "nowhere")])
    assert status == 2 and stdout == ""
    assert "cannot resume" in stderr and "not a run directory" in stderr, stderr
    config = TrainConfig(data_dir=str(mnist_dir))
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x00" * 10)
    status, _, stderr = cli(["train", "--resume", str(tmp_path)])
    assert status == 1
    assert "checkpoint.safetensors" in stderr and "corrupted" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_resume_cannot_stretch_a_cosine_schedule(cli, tmp_path, mnist_dir):
    status, _, stderr = cli(["train", "--data-dir", str(mnist_dir), "--out-dir", str(tmp_path),
                             "--limit-train", "64", "--limit-test", "64", "--epochs", "1",
                             "--no-progress"])
    assert status == 0, stderr
    (run_path,) = tmp_path.iterdir()
    status, stdout, stderr = cli(["train", "--resume", str(run_path), "--epochs", "3"])
    assert status == 1 and stdout == ""
    assert "cosine schedule of this run was planned for 1 epochs" in stderr, stderr


def test_ctrl_c_says_how_to_resume(cli, tmp_path, mnist_dir, monkeypatch):
    from minicnn.train.trainer import Trainer

    def interrupted(self, on_step=None, should_stop=None):
        raise KeyboardInterrupt  # a second Ctrl-C, mid-step

    monkeypatch.setattr(Trainer, "run_epoch", interrupted)
    status, _, stderr = cli(["train", "--data-dir", str(mnist_dir), "--out-dir", str(tmp_path),
                             "--limit-train", "64", "--limit-test", "64", "--no-progress"])
    (run_path,) = tmp_path.iterdir()
    assert status == 130
    assert (f"interrupted during epoch 1; the last checkpoint is kept; continue with: minicnn "
            f"train --resume {run_path}") in stderr, stderr


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow notes on the way
def test_a_nonfinite_loss_stops_the_run_and_skip_nonfinite_resumes_it(cli, tmp_path, mnist_dir):
    status, stdout, stderr = cli(["train", "--data-dir", str(mnist_dir), "--out-dir",
                                  str(tmp_path), "--limit-train", "256", "--limit-test", "64",
                                  "--batch-size", "32", "--epochs", "1", "--lr", "1e6",
                                  "--scheduler", "none", "--no-progress"])
    (run_path,) = tmp_path.iterdir()
    assert status == 3, stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("minicnn train: ")]
    assert re.match(r"minicnn train: epoch 1: the loss is (nan|inf) at step \d+ \(batch \d+ of "
                    r"the epoch\); NaN/Inf first appeared in (the output of \S+ \w+\(|parameter "
                    r"\S+, which holds)", line), line
    assert line.endswith(f"Stopped; the last good checkpoint is kept in {run_path}: lower --lr "
                         f"in a new run, or skip such batches with: minicnn train --resume "
                         f"{run_path} --skip-nonfinite"), line
    assert "test accuracy" not in stdout

    status, stdout, stderr = cli(["train", "--resume", str(run_path), "--skip-nonfinite",
                                  "--no-progress"])
    assert status == 0, stderr
    (record,) = [json.loads(line) for line in (run_path / "metrics.jsonl").open()]
    assert record["skipped_batches"] > 0
    assert TrainConfig.load(run_path / "config.json").skip_nonfinite is True


def test_a_wider_network_trains_and_evaluates(cli, tmp_path, mnist_dir):
    status, stdout, stderr = cli(["train", "--width", "0.5", "--data-dir", str(mnist_dir),
                                  "--out-dir", str(tmp_path), "--limit-train", "64",
                                  "--limit-test", "64", "--epochs", "1", "--no-progress"])
    assert status == 0, stderr
    assert "(0): Conv2d(1, 3, kernel_size=(5, 5)" in stdout, stdout
    (run_path,) = tmp_path.iterdir()
    assert TrainConfig.load(run_path / "config.json").width == 0.5
    # evaluate finds the width in the weights file: no option needed.
    status, stdout, stderr = cli(["evaluate", str(run_path), "--data-dir", str(mnist_dir),
                                  "--limit-test", "64"])
    assert status == 0, stderr


def test_a_cifar_run_from_the_command_line(cifar_run):
    config = TrainConfig.load(cifar_run.path / "config.json")
    assert config.dataset == "cifar10" and config.model == "seednet"
    assert config.augment is True, "CIFAR is augmented unless --no-augment"
    lines = cifar_run.stdout.splitlines()
    assert lines[1] == "SeedNet(" and "Conv2d(3, 12, kernel_size=(3, 3)" in lines[3]
    final_accuracy(cifar_run.stdout)


def test_augment_options(cli, cifar10_dir, mnist_dir, tmp_path):
    for dataset, data_dir, option, expected in (
            ("cifar10", cifar10_dir, "--no-augment", False),
            ("mnist", mnist_dir, "--augment", True)):
        model = "seednet" if dataset == "cifar10" else "lenet5"
        status, _, stderr = cli(["train", "--dataset", dataset, "--model", model,
                                 "--data-dir", str(data_dir), "--out-dir", str(tmp_path),
                                 "--epochs", "1", "--limit-train", "32", "--limit-test", "32",
                                 "--no-progress", option])
        assert status == 0, stderr
        (run,) = tmp_path.glob(f"{model}-{dataset}-*")
        assert TrainConfig.load(run / "config.json").augment is expected, option


def test_a_network_for_other_images_is_one_line_and_no_run(cli, cifar10_dir, tmp_path):
    status, stdout, stderr = cli(["train", "--dataset", "cifar10", "--data-dir",
                                  str(cifar10_dir), "--out-dir", str(tmp_path)])
    assert status == 2 and stdout == ""
    assert stderr.strip() == (
        "minicnn train: lenet5: LeNet-5 takes 1-channel 28x28 digits (MNIST, Fashion-MNIST), "
        "not 3-channel images; choose a network for colour images, e.g. seednet")
    assert list(tmp_path.iterdir()) == [], "no run directory left behind"
