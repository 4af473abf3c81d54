"""Serve the explorer with uvicorn until Ctrl-C, and open the page in a browser."""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import sys
import threading
import time
import webbrowser

from minicnn.explore.app import LOOPBACK_HOSTS, create_app
from minicnn.explore.session import Explorer

__all__ = ["DEFAULT_PORT", "bind", "serve"]

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


def serve(explorer: Explorer, host: str = "127.0.0.1", port: int | None = None,
          open_browser: bool = True, log=print) -> None:
    """Serve ``explorer`` on ``host:port`` until Ctrl-C (or SIGTERM), then stop cleanly: the
    requests in flight finish, the live trainer's thread stops, nothing is written.

    ``log`` receives the lines for the person who started it (the address to open).
    """
    import uvicorn

    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown_host}:{bound_port}/"
    allowed = (list(LOOPBACK_HOSTS) if _is_loopback(host)
               else ["*"] if host in ("0.0.0.0", "::", "") else [*LOOPBACK_HOSTS, host])
    if not _is_loopback(host):
        log(f"warning: serving on {host}, not only this machine: anyone who can reach it can "
            "use the explorer (there is no password)")
    app = create_app(explorer, allowed_hosts=allowed)
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5, lifespan="off")
    server = uvicorn.Server(config)

    def announce():
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            log(f"minicnn explore: {explorer.source} at {url}  (Ctrl-C to stop)")
            sys.stdout.flush()
            if open_browser:
                webbrowser.open(url)

    threading.Thread(target=announce, name="minicnn-explore-announce", daemon=True).start()
    # uvicorn turns SIGINT and SIGTERM into a graceful shutdown, then raises the signal again:
    # SIGTERM as a KeyboardInterrupt too, so both end the same way, here.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        explorer.close()
        sock.close()
    log("minicnn explore: stopped")
