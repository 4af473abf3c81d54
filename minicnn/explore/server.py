"""Serve the explorer with uvicorn until Ctrl-C, and open the page in a browser."""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import threading
import time
import webbrowser
from dataclasses import dataclass

from minicnn.explore.app import LOOPBACK_HOSTS, create_app
from minicnn.explore.session import Explorer

__all__ = ["DEFAULT_PORT", "Serving", "bind", "prepare", "serve"]

DEFAULT_PORT = 8765


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int | None) -> socket.socket:
    """A socket bound to ``host:port``. ``port=None`` means :data:`DEFAULT_PORT`, or any free
    port if that one is taken (a second explorer should just start); a port given and taken
    is an ``OSError`` naming it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in ([DEFAULT_PORT, 0] if port is None else [port]):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
            return sock
        except OSError as error:
            sock.close()
            if port is None and error.errno == errno.EADDRINUSE:
                continue
            raise OSError(error.errno, f"cannot listen on {host}:{candidate} "
                                       f"({error.strerror}); choose another --port "
                                       "(0: any free port)") from None
    raise AssertionError("unreachable: port 0 is always free")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@dataclass
class Serving:
    """A uvicorn server ready to run on a bound socket, and the address of its page.

    Example (the page beside a notebook)::

        serving = prepare(Explorer.from_run("runs/my-run"))
        serving.start()   # 'http://127.0.0.1:8765/'
        ...
        serving.stop()
    """

    server: object  # uvicorn.Server
    socket: socket.socket
    url: str
    _thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until ``server.should_exit`` is set (or, in the main thread, Ctrl-C)."""
        self.server.run(sockets=[self.socket])

    def start(self, timeout: float = 60.0) -> str:
        """Serve from a daemon thread (beside a notebook, or a test) and return the page's
        address once the server answers."""
        self._thread = threading.Thread(target=self.run, name="minicnn-explore-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the explorer's server did not start in {timeout} s")
            time.sleep(0.02)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a server started by :meth:`start` (requests in flight finish first)."""
        self.server.should_exit = True
        self._thread.join(timeout)
        self.socket.close()


def prepare(explorer: Explorer, host: str = "127.0.0.1", port: int | None = None,
            log=print) -> Serving:
    """Bind ``host:port`` (see :func:`bind`) and build the server of ``explorer`` on it,
    answering only requests addressed to that host (a loopback address by default)."""
    import uvicorn

    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    if _is_loopback(host):
        allowed = list(LOOPBACK_HOSTS)
    else:
        log(f"warning: serving on {host}, not only this machine: anyone who can reach it can "
            "use the explorer (there is no password)")
        allowed = ["*"] if host in ("0.0.0.0", "::", "") else [*LOOPBACK_HOSTS, host]
    config = uvicorn.Config(create_app(explorer, allowed_hosts=allowed), log_level="warning",
                            access_log=False, timeout_graceful_shutdown=5, lifespan="off")
    return Serving(uvicorn.Server(config), sock, f"http://{shown_host}:{bound_port}/")


def serve(explorer: Explorer, host: str = "127.0.0.1", port: int | None = None,
          open_browser: bool = True, log=print) -> None:
    """Serve ``explorer`` on ``host:port`` until Ctrl-C (or SIGTERM), then stop cleanly: the
    requests in flight finish, the live trainer's thread stops, nothing is written.

    ``log`` receives the lines for the person who started it (the address to open).
    """
    serving = prepare(explorer, host, port, log)
    server = serving.server

    def announce():
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            log(f"minicnn explore: {explorer.source} at {serving.url}  (Ctrl-C to stop)")
            if open_browser:
                webbrowser.open(serving.url)

    threading.Thread(target=announce, name="minicnn-explore-announce", daemon=True).start()
    # uvicorn turns SIGINT and SIGTERM into a graceful shutdown, then raises the signal again:
    # SIGTERM as a KeyboardInterrupt too, so both end the same way, here.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main else None
    try:
        serving.run()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        explorer.close()
        serving.socket.close()
    log("minicnn explore: stopped")
