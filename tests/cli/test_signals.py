"""Real ``minicnn train`` processes, killed (SIGKILL) or interrupted (SIGINT), then resumed.

Each run is a small MNIST subset in its own process, started as ``python -m minicnn``, so
the signals reach the code a user runs. To kill a process *while it writes a checkpoint*,
the SIGKILL test starts it through a small wrapper that makes one checkpoint write stop half
way (it writes half the bytes into the temporary file, flushes them to disk, leaves a marker
file and sleeps); the test waits for the marker and kills the process there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from minicnn.train.checkpoint import load_checkpoint, load_weights
from tests.helpers.processes import minicnn_command, subprocess_env

# Two threads, as the determinism promise is per thread count; 16 steps of 32 per epoch.
COMMON = ["--limit-train", "512", "--limit-test", "128", "--batch-size", "32", "--epochs", "2",
          "--lr", "0.02", "--threads", "2", "--no-progress"]
TIMEOUT = 120  # seconds; a run takes about two

# Runs `python -m minicnn ARGS` with the N-th write of checkpoint.safetensors (N from
# $TEST_STALL_AT_WRITE) stalled half way; $TEST_MARKER is created when it stalls.
STALLING_WRAPPER = r"""
import os, sys, tempfile, time
from minicnn.train import checkpoint

stall_at, marker = int(os.environ["TEST_STALL_AT_WRITE"]), os.environ["TEST_MARKER"]
names, writes = {}, [0]

class HalfWrite:
    def __init__(self, file):
        self.file = file
    def __enter__(self):
        return self
    def __exit__(self, *exc_info):
        return self.file.__exit__(*exc_info)
    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        os.fsync(self.file.fileno())
        open(marker, "w").close()
        time.sleep(600)

class Tempfile:
    def __getattr__(self, name):
        return getattr(tempfile, name)
    def mkstemp(self, **kwargs):
        handle, name = tempfile.mkstemp(**kwargs)
        names[handle] = name
        return handle, name

class Os:
    def __getattr__(self, name):
        return getattr(os, name)
    def fdopen(self, handle, *args, **kwargs):
        file = os.fdopen(handle, *args, **kwargs)
        if os.path.basename(names.pop(handle, "")).startswith(".checkpoint.safetensors."):
            writes[0] += 1
            if writes[0] == stall_at:
                return HalfWrite(file)
        return file

checkpoint.os, checkpoint.tempfile = Os(), Tempfile()
from minicnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _environment(**extra) -> dict:
    return subprocess_env(PYTHONUNBUFFERED="1", **extra)


def _minicnn(args, **extra_env) -> subprocess.CompletedProcess:
    return subprocess.run(minicnn_command(*args), capture_output=True, text=True,
                          timeout=TIMEOUT, env=_environment(**extra_env))


def _only_run(out_dir: Path) -> Path:
    (run,) = out_dir.iterdir()
    return run


def _wait_for(condition, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert process.poll() is None, f"the run ended (status {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _assert_same_weights(run: Path, reference: Path) -> None:
    ours, theirs = load_weights(run / "last.safetensors"), load_weights(
        reference / "last.safetensors")
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert np.array_equal(ours[key], value), f"{key} differs from the uninterrupted run"


def _epochs_logged(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").open()]


def test_sigkill_while_writing_a_checkpoint_loses_nothing(tmp_path, mnist_dir):
    data = ["--data-dir", str(mnist_dir)]
    straight = subprocess.Popen(
        [sys.executable, "-m", "minicnn", "train", *data, *COMMON, "--out-dir",
         str(tmp_path / "straight")], env=_environment(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)

    # Checkpoints at the start, then every 4 steps: after steps 4, 8, 12 of epoch 1, ... The
    # fourth write (after step 12) stalls half way, and the process is killed there.
    marker = tmp_path / "stalled"
    killed = subprocess.Popen(
        [sys.executable, "-c", STALLING_WRAPPER, "train", *data, *COMMON, "--checkpoint-every",
         "4", "--out-dir", str(tmp_path / "killed")],
        env=_environment(TEST_STALL_AT_WRITE="4", TEST_MARKER=str(marker)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker.exists, "the fourth checkpoint write", killed)
        run = _only_run(tmp_path / "killed")
        (partial,) = run.glob(".checkpoint.safetensors.*.tmp")
        assert partial.stat().st_size > 0, "the stalled write should have left half a file"
    finally:
        killed.kill()
        killed.communicate(timeout=TIMEOUT)
    assert killed.returncode == -signal.SIGKILL

    # The checkpoint on disk is the previous one, whole and readable: 8 steps into epoch 1.
    _, states = load_checkpoint(run / "checkpoint.safetensors")
    assert states["progress"]["epochs_done"] == 0
    assert states["epoch_progress"]["steps"] == 8

    resumed = _minicnn(["train", "--resume", str(run)])
    assert resumed.returncode == 0, resumed.stderr
    assert list(run.glob(".*.tmp")) == [], "resuming clears the killed write's temporary file"
    assert _epochs_logged(run) == [1, 2]

    _, straight_err = straight.communicate(timeout=TIMEOUT)
    assert straight.returncode == 0, straight_err
    _assert_same_weights(run, _only_run(tmp_path / "straight"))


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_finishes_the_step_saves_and_says_how_to_resume(tmp_path, mnist_dir, signum,
                                                              status):
    # Long enough (500 steps per epoch) that the interrupt lands mid-epoch.
    args = ["train", "--data-dir", str(mnist_dir), "--limit-train", "4000", "--limit-test",
            "128", "--batch-size", "8", "--epochs", "2", "--threads", "2", "--out-dir",
            str(tmp_path)]
    process = subprocess.Popen([sys.executable, "-m", "minicnn", *args], env=_environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = bytearray()

    def read_stderr():  # the progress bar rewrites its line with \r: read raw bytes
        while chunk := os.read(process.stderr.fileno(), 4096):
            stderr.extend(chunk)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        _wait_for(lambda: b"loss=" in stderr, "the first training step", process)
        process.send_signal(signum)
        process.wait(timeout=TIMEOUT)  # stdout holds a few lines: its pipe cannot fill up
    finally:
        process.kill()
    reader.join(timeout=TIMEOUT)
    stdout = process.stdout.read()
    process.stdout.close()
    process.stderr.close()
    message = stderr.decode().replace("\r", "\n").strip().splitlines()[-1]
    run = _only_run(tmp_path)
    assert process.returncode == status, message
    assert "Traceback" not in stderr.decode()
    assert message.startswith("stopped after ") and message.endswith(
        f"and saved a checkpoint; continue with: minicnn train --resume {run}"), message

    # The checkpoint holds the steps finished before the signal, mid-epoch.
    steps = int(message.split()[2])
    _, states = load_checkpoint(run / "checkpoint.safetensors")
    assert 0 < steps < 500
    assert states["epoch_progress"]["steps"] == steps
    assert states["train_loader"]["batches_done"] == steps
    assert "test accuracy" not in stdout.decode()

    resumed = _minicnn(message.split("continue with: minicnn ")[1].split() + ["--no-progress"])
    assert resumed.returncode == 0, resumed.stderr
    assert _epochs_logged(run) == [1, 2]
    assert resumed.stdout.strip().splitlines()[-1].startswith("test accuracy: ")
