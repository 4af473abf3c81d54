"""``minicnn explore``: a real process serving the page on 127.0.0.1, stopped by Ctrl-C (or
SIGTERM) cleanly, never touching the run directory it reads."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest

from minicnn.explore.session import SHIPPED_WEIGHTS
from tests.helpers.processes import REPO_ROOT

TIMEOUT = 180  # seconds: the kernels may compile at start-up on a busy machine


def _start(args, tmp_path) -> tuple[subprocess.Popen, str, queue.Queue]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("MINICNN_MNIST_DIR", None)
    env["MINICNN_CACHE_DIR"] = str(tmp_path / "empty-cache")  # no MNIST to find: offline
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen([sys.executable, "-m", "minicnn", "explore", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=tmp_path)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            process.kill()
            pytest.fail(f"no address printed in {TIMEOUT} s: {''.join(seen)}")
        seen.append(line)
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if found:
            return process, found.group(1), lines
        assert process.poll() is None or not lines.empty(), f"exited: {''.join(seen)}"


def _rest(lines: queue.Queue) -> str:
    text = []
    while not lines.empty():
        text.append(lines.get())
    return "".join(text)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_explore_serves_the_shipped_network_and_stops_cleanly(tmp_path, stop):
    process, url, lines = _start(["--no-browser", "--port", "0"], tmp_path)
    try:
        with urllib.request.urlopen(url + "api/model", timeout=60) as response:
            model = json.loads(response.read())
        assert model["source"] == "the LeNet-5 that ships with minicnn"
        assert model["test_images"]["count"] == 0 and "--data-dir" in model["test_images"][
            "reason"], "offline, without MNIST: the picker is hidden, and the page says why"
        process.send_signal(stop)
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    output = _rest(lines)
    assert status == 0, f"a clean stop exits 0, got {status}: {output}"
    assert "minicnn explore: stopped" in output
    assert "Traceback" not in output


def test_explore_reads_a_run_directory_and_writes_nothing_there(tmp_path):
    run = tmp_path / "runs" / "lenet5-mnist-20261204-000000"
    run.mkdir(parents=True)
    (run / "best.safetensors").write_bytes(SHIPPED_WEIGHTS.read_bytes())
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()}
    process, url, _ = _start([str(run), "--no-browser", "--port", "0"], tmp_path)
    try:
        request = urllib.request.Request(url + "api/forward", headers={
            "Content-Type": "application/json"}, data=json.dumps(
            {"input": {"pixels": [[0, 0, 0], [0, 255, 0], [0, 255, 0], [0, 0, 0]]}}).encode())
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read())["prediction"] in range(10)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()}
    assert after == before, "the run directory is only read"


def test_a_port_in_use_is_one_line_and_status_1(tmp_path, cli):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, stderr = cli(["explore", "--no-browser", "--port", str(port),
                                      "--data-dir", str(tmp_path)])
    assert status == 1
    assert f"cannot listen on 127.0.0.1:{port}" in stderr and "--port" in stderr
