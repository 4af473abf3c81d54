"""Fixtures of the tuning tests: a real PostgreSQL server.

The PostgreSQL server is Debian's (``.ci/run`` installs it), started for the test session
in a temporary folder on 127.0.0.1 and a free port, with a fresh database, and stopped at the
end. ``initdb`` refuses to run as root, so as root the server runs as the ``postgres``
system user (through ``runuser``), in a folder that user owns.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


# --------------------------------------------------------------------------- PostgreSQL
def _postgres_bin() -> Path:
    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parts[-3]))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=version)
    if not found:
        pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): "
                    "install Debian's package, `apt-get install postgresql`, as .ci/run does")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_as_server_user(command: list[str], cwd: Path) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
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
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    port = _free_port()
    _run_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                         "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"], cwd=base)
    # TCP on 127.0.0.1 only, the socket file in our folder, no fsync: a throwaway server.
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    _run_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"),
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
        _run_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                             "-w", "stop"], cwd=base)
        shutil.rmtree(base, ignore_errors=True)
