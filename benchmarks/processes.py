"""Running measurements in child processes, each with a clean, stated environment.

Why children: PyTorch and minicnn each bring OpenMP thread pools, and settings that help one
hurt the other (``OMP_WAIT_POLICY=PASSIVE`` calms Numba's spinning workers next to BLAS,
but slows PyTorch's OpenMP when set for its whole process). So each framework's figures come
from its own process, started with the same thread count:

- PyTorch's environment has no OpenMP wait policy of minicnn's.
- minicnn's environment drops ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (unless asked
  to keep them): some machines here set them for old OpenBLAS builds, and they hold a current
  NumPy's OpenBLAS to an older, slower kernel. Which kernel runs is recorded (threadpoolctl).
- ``MINICNN_KERNELS`` is removed: each worker selects minicnn's path through the switch.

A one-shot child writes its results as JSON into a file named by the parent
(:func:`run_child`); a :class:`Worker` stays up and answers requests, one JSON line each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.data import REPO_ROOT

__all__ = ["ChildFailedError", "Worker", "child_env", "run_child"]

_OPENMP_POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
_OPENBLAS_MACHINE_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class ChildFailedError(RuntimeError):
    """A benchmark child process exited with an error."""


def child_env(framework: str, *, keep_openblas_env: bool = False,
              changes: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment of a child measuring ``framework`` (``"minicnn"`` or ``"torch"``).

    Args:
        framework: whose figures the child measures.
        keep_openblas_env: keep ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` for minicnn.
        changes: variables to set (a string) or remove (``None``) on top.
    """
    if framework not in ("minicnn", "torch"):
        raise ValueError(f"child_env: framework must be 'minicnn' or 'torch', got {framework!r}")
    env = dict(os.environ)
    env.pop("MINICNN_KERNELS", None)
    if framework == "torch":
        for name in _OPENMP_POLICY_VARIABLES:
            env.pop(name, None)
    elif not keep_openblas_env:
        for name in _OPENBLAS_MACHINE_VARIABLES:
            env.pop(name, None)
    paths = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    for name, value in (changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_child(module: str, args: list[str], env: dict[str, str], timeout: float = 1800):
    """Run ``python -m module args... --out FILE`` in ``env``; return the JSON it wrote.

    Raises:
        ChildFailedError: the child exited non-zero or wrote no JSON (its stderr is quoted).
    """
    with tempfile.TemporaryDirectory(prefix="minicnn-bench-") as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, "-m", module, *args, "--out", str(out)]
        completed = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True,
                                   text=True, timeout=timeout, check=False)
        if completed.returncode != 0 or not out.exists():
            raise ChildFailedError(
                f"benchmark child {' '.join(command[2:])} failed with exit code "
                f"{completed.returncode}:\n{completed.stderr[-4000:]}"
            )
        return json.loads(out.read_text())


class Worker:
    """A running :mod:`benchmarks.worker` process for one framework and thread count.

    Use as a context manager; :meth:`request` sends one request and waits for its answer.
    """

    def __init__(self, framework: str, threads: int, settings_json: str, env: dict[str, str]):
        self.framework = framework
        self.threads = threads
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        command = [sys.executable, "-m", "benchmarks.worker", "--framework", framework,
                   "--threads", str(threads), "--settings", settings_json]
        self._process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, text=True,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr)
        self._receive()  # {"ready": true}

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _failure(self, what: str) -> ChildFailedError:
        self._stderr.seek(0)
        return ChildFailedError(
            f"benchmark worker ({self.framework}, {self.threads} threads) {what}:\n"
            f"{self._stderr.read()[-4000:]}"
        )

    def _receive(self) -> dict:
        line = self._process.stdout.readline()
        if not line:
            self._process.wait()
            raise self._failure(f"exited with code {self._process.returncode}")
        message = json.loads(line)
        if "error" in message:
            raise self._failure(f"failed:\n{message['error']}")
        return message

    @property
    def pid(self) -> int:
        return self._process.pid

    def request(self, message: dict) -> dict:
        """Send ``message`` and return the worker's answer.

        Raises:
            ChildFailedError: the worker died or reported an error (its traceback is quoted).
        """
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        return self._receive()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait(timeout=60)
        self._process.stdout.close()
        self._stderr.close()
