"""Fixtures for the data tests: MNIST loaded once, and a local HTTP server to download from.

``mnist_dir`` (the folder of the real IDX files) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
import urllib.request
from pathlib import Path

import pytest

from minicnn.data import MNIST


@pytest.fixture(scope="session")
def mnist_train(mnist_dir) -> MNIST:
    """The MNIST training set, loaded once per session (about 0.2 s)."""
    return MNIST(root=mnist_dir, train=True)


@pytest.fixture(scope="session")
def mnist_test(mnist_dir) -> MNIST:
    return MNIST(root=mnist_dir, train=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files like ``python -m http.server``, without a log line per request."""

    def log_message(self, format, *args):
        pass


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a URL fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected network access: {args[0]!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def start_server():
    """A function ``start(handler_class) -> base URL`` that runs an HTTP server on 127.0.0.1
    (an ephemeral port, in a thread) until the test ends."""
    servers = []

    def start(handler_class) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        # A short poll interval lets shutdown() return at once instead of after up to 0.5 s.
        thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def serve_directory(start_server):
    """A function ``serve(folder) -> base URL`` serving the files of ``folder`` over HTTP."""

    def serve(folder: Path) -> str:
        return start_server(functools.partial(_QuietHandler, directory=str(folder)))

    return serve


@pytest.fixture
def silent_server_url():
    """A URL on 127.0.0.1 that accepts connections but never answers (to exercise timeouts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # the kernel completes connections; nobody ever reads or replies
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
