"""Data-parallel training in real MPI jobs (``mpiexec`` subprocesses of 2 and 3 ranks).

The promise: N ranks sharing each batch of B train to the weights one process does with batch
B. Only the order of the floating-point additions differs (a batch's gradient is summed in N
parts, then across ranks), so the weights agree to rounding: float64 within 1e-12 absolute;
float32 within 2e-5 absolute. Measured: LeNet-5 after its 10 steps 1.5e-8 (2 ranks) and
2.2e-8 (3 ranks); the BatchNorm network after its 4 steps 5.0e-7 and 1.8e-6 (the normalisation
divides by a batch's standard deviation, which magnifies the float32 rounding, 6e-8 relative,
of the statistics); the bound leaves ten times the largest.

Every run's last batch is smaller than the others and does not divide by 3, and with 3 ranks
one rank's share of it is empty: the case a naive "average the ranks' mean gradients" gets
wrong.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minicnn.train.checkpoint import load_weights
from tests.helpers.cli import run_cli
from tests.helpers.mpi_jobs import PROGRAMS, TIMEOUT, launcher
from tests.helpers.processes import subprocess_env

TOLERANCE = {"float64": 1e-12, "float32": 2e-5}
# 290 images in batches of 32: ten steps, the last of 2 images (shares 1, 1, 0 on 3 ranks).
LENET_OPTIONS = ["--limit-train", "290", "--limit-test", "100", "--batch-size", "32",
                 "--threads", "1", "--no-progress", "--seed", "3"]


def assert_same_weights(actual: dict, expected: dict, dtype: str, what: str) -> None:
    assert sorted(actual) == sorted(expected), f"{what}: expected the keys {sorted(expected)}"
    for key in expected:
        difference = float(np.abs(np.asarray(actual[key], np.float64) - expected[key]).max())
        assert difference <= TOLERANCE[dtype], (
            f"{what}: {key} differs by {difference:.3g} from one process's, expected at most "
            f"{TOLERANCE[dtype]:g} ({dtype})")


def single_process_run(tmp_path, mnist_dir, *options, base=LENET_OPTIONS) -> dict:
    """The last weights of ``minicnn train`` in this process with ``base`` and ``options``."""
    out_dir = tmp_path / "single"
    status, stdout, stderr = run_cli(["train", "--data-dir", str(mnist_dir), "--out-dir",
                                      str(out_dir), *base, *options])
    assert status == 0, f"one-process minicnn train failed:\n{stdout}\n{stderr}"
    (run,) = out_dir.iterdir()
    return load_weights(run / "last.safetensors")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ranks", [2, 3])
def test_lenet5_trains_to_the_weights_of_one_process(ranks, dtype, mpi_job, tmp_path,
                                                     mnist_dir):
    expected = single_process_run(tmp_path, mnist_dir, "--epochs", "1", "--dtype", dtype)
    # Both ways of starting it: the plain module, and through mpi4py's runner.
    runner = ["-m", "mpi4py"] if ranks == 3 else []
    job = mpi_job(ranks, [sys.executable, *runner, "-m", "minicnn", "train", "--distributed",
                          "--data-dir", str(mnist_dir), "--out-dir", str(tmp_path / "dp"),
                          *LENET_OPTIONS, "--epochs", "1", "--dtype", dtype])
    assert job.returncode == 0, f"mpiexec -n {ranks} minicnn train failed:\n{job.stderr}"
    assert f"data-parallel on {ranks} ranks" in job.stdout, "expected rank 0's banner"
    assert job.stdout.count("run directory:") == 1, "expected only rank 0 to print"
    (run,) = (tmp_path / "dp").iterdir()
    assert_same_weights(load_weights(run / "last.safetensors"), expected, dtype,
                        f"LeNet-5 on {ranks} ranks")
    metrics = [line for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    assert len(metrics) == 1 and '"ranks": ' + str(ranks) in metrics[0], (
        "expected one epoch's metrics, written once, with the number of ranks")


# 230 fake CIFAR-10 images in batches of 25: nine steps and a last one of 5 (shares 3 and 2).
CIFAR_OPTIONS = ["--dataset", "cifar10", "--model", "seednet", "--limit-train", "230",
                 "--limit-test", "40", "--batch-size", "25", "--lr", "0.01", "--epochs", "1",
                 "--dtype", "float64", "--threads", "1", "--no-progress", "--seed", "3"]


def test_augmented_cifar_trains_to_the_weights_of_one_process(mpi_job, tmp_path, cifar10_dir):
    """CIFAR's random crops and flips (on by default) are drawn for each global batch from the
    batch's generator: each rank augments its share's images as one process augments them, so
    2 ranks reach one process's weights."""
    expected = single_process_run(tmp_path, cifar10_dir, base=CIFAR_OPTIONS)
    job = mpi_job(2, [sys.executable, "-m", "minicnn", "train", "--distributed", "--data-dir",
                      str(cifar10_dir), "--out-dir", str(tmp_path / "dp"), *CIFAR_OPTIONS])
    assert job.returncode == 0, f"mpiexec -n 2 minicnn train failed:\n{job.stderr}"
    (run,) = (tmp_path / "dp").iterdir()
    assert json.loads((run / "config.json").read_text())["augment"] is True, (
        "expected CIFAR's augmentation on")
    assert_same_weights(load_weights(run / "last.safetensors"), expected, "float64",
                        "SeedNet on augmented CIFAR-10, 2 ranks")


def sync_bn_program(out, dtype, *options):
    return [sys.executable, str(PROGRAMS / "sync_bn_steps.py"), str(out), "--dtype", dtype,
            *options]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ranks", [2, 3])
def test_sync_batchnorm_network_trains_to_the_weights_of_one_process(ranks, dtype, mpi_job,
                                                                      tmp_path):
    single = subprocess.run(sync_bn_program(tmp_path / "one.npz", dtype), capture_output=True,
                            text=True, env=subprocess_env(), timeout=TIMEOUT)
    assert single.returncode == 0, single.stderr
    job = mpi_job(ranks, sync_bn_program(tmp_path / "dp.npz", dtype, "--distributed"))
    assert job.returncode == 0, f"the SyncBatchNorm job failed:\n{job.stderr}"
    expected, actual = np.load(tmp_path / "one.npz"), np.load(tmp_path / "dp.npz")
    # The running statistics too: they are the whole batch's on every rank.
    assert "1.running_var" in expected.files and "9.running_mean" in expected.files
    assert_same_weights({key: actual[key] for key in expected.files},
                        {key: expected[key] for key in expected.files}, dtype,
                        f"conv+BN+ReLU network with SyncBatchNorm on {ranks} ranks")


def test_plain_batchnorm_on_two_ranks_is_not_one_process(mpi_job, tmp_path):
    """Why SyncBatchNorm exists: per-rank statistics normalise each half batch by itself."""
    single = subprocess.run(sync_bn_program(tmp_path / "one.npz", "float64", "--samples", "48"),
                            capture_output=True, text=True, env=subprocess_env(), timeout=TIMEOUT)
    assert single.returncode == 0, single.stderr
    job = mpi_job(2, sync_bn_program(tmp_path / "dp.npz", "float64", "--distributed",
                                     "--no-sync", "--samples", "48"))
    assert job.returncode == 0, job.stderr
    expected, actual = np.load(tmp_path / "one.npz"), np.load(tmp_path / "dp.npz")
    difference = max(float(np.abs(actual[key] - expected[key]).max()) for key in expected.files)
    assert difference > 1e-3, (
        f"expected per-rank BatchNorm to train other weights than one process, but they "
        f"differ by only {difference:.3g}")


def _wait_for(path, process, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        if process.poll() is not None:
            stderr = process.stderr.read()
            pytest.fail(f"the job ended (status {process.returncode}) before {what}:\n{stderr}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_killed_rank_ends_the_job_and_the_run_resumes_on_three_ranks(mpi_job, tmp_path,
                                                                       mnist_dir):
    """SIGKILL rank 1 in epoch 2 while rank 0 waits for it in the Allreduce: the job ends
    within seconds with mpiexec naming the rank; the run, resumed on 3 ranks, ends with the
    weights of an uninterrupted one-process run."""
    options = [*LENET_OPTIONS, "--epochs", "2", "--dtype", "float64"]
    expected = single_process_run(tmp_path, mnist_dir, "--epochs", "2", "--dtype", "float64")
    marker, out_dir = tmp_path / "stalled", tmp_path / "dp"
    job = subprocess.Popen(
        [*launcher(2), sys.executable, str(PROGRAMS / "faulty_rank.py"), "train",
         "--distributed", "--data-dir", str(mnist_dir), "--out-dir", str(out_dir), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=subprocess_env(FAULT="stall", FAULT_RANK="1", FAULT_STEP="13",
                        FAULT_MARKER=str(marker)))
    _wait_for(marker, job, "rank 1 stalled in epoch 2")
    os.kill(int(marker.read_text()), signal.SIGKILL)
    killed = time.monotonic()
    try:
        _, stderr = job.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        job.kill()
        pytest.fail("the job hung after rank 1 was killed")
    print(f"the job ended {time.monotonic() - killed:.2f} s after rank 1 was killed")
    assert job.returncode != 0, "expected a failed job"
    assert "rank 1" in stderr and "signal 9" in stderr, (
        f"expected mpiexec to name rank 1 and its signal, got:\n{stderr}")
    (run,) = out_dir.iterdir()
    resumed = mpi_job(3, [sys.executable, "-m", "minicnn", "train", "--distributed",
                          "--resume", str(run), "--no-progress"])
    assert resumed.returncode == 0, f"resuming on 3 ranks failed:\n{resumed.stderr}"
    assert_same_weights(load_weights(run / "last.safetensors"), expected, "float64",
                        "killed on 2 ranks, resumed on 3")
    epochs = [line for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    assert len(epochs) == 2, f"expected the two epochs' metrics once each, got {epochs}"


@pytest.mark.parametrize("launch", [[], ["-m", "mpi4py"]], ids=["python", "mpi4py-runner"])
def test_a_rank_that_raises_ends_the_job_with_one_message_naming_it(launch, mpi_job, tmp_path,
                                                                    mnist_dir):
    job = mpi_job(2, [sys.executable, *launch, str(PROGRAMS / "faulty_rank.py"), "train",
                      "--distributed", "--data-dir", str(mnist_dir), "--out-dir",
                      str(tmp_path), *LENET_OPTIONS, "--epochs", "1"],
                  FAULT="raise", FAULT_RANK="1", FAULT_STEP="3")
    print(f"the job ended after {job.seconds:.1f} s (start-up and two steps included)")
    assert job.returncode != 0, "expected a failed job"
    message = "minicnn train: rank 1 of 2 failed: RuntimeError: injected fault; ending the job"
    assert job.stderr.count(message) == 1, f"expected once {message!r} in:\n{job.stderr}"
    assert "rank 0 of 2 failed" not in job.stderr, "expected rank 0 to stay quiet"
