"""Tar archives, read and extracted safely: nothing is ever written outside the target folder.

A tar member's name is a path chosen by whoever made the archive: ``../../.bashrc``,
``/etc/cron.d/x`` or a symbolic link to one of them would, extracted naively, write anywhere
the user can. :func:`safe_extract` refuses an archive whose members are absolute paths, climb
out of the target folder, or are links or devices, before writing anything; it then extracts
with :mod:`tarfile`'s ``"data"`` filter where the Python has it (3.12, and the security
releases of 3.8-3.11), which enforces the same rules again. Files appear under their final
names only when whole (extracted into a hidden folder, then renamed).

:func:`read_members` reads members into memory without writing anything at all.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath

from minicnn.data.idx import DataFileError

__all__ = ["read_members", "safe_extract"]

_ADVICE = "delete it so that it is downloaded again, or replace it with a good copy"


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise DataFileError(f"{path}: not a readable tar archive ({error}); {_ADVICE}") from None


def _unsafe(member: tarfile.TarInfo) -> str | None:
    """Why extracting ``member`` could write outside its folder, or None if it cannot."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or PureWindowsPath(member.name).anchor:
        return "an absolute path"
    if ".." in name.parts:
        return "a path that leaves the target folder"
    if not (member.isfile() or member.isdir()):
        return "a link or special file"
    return None


def _members(archive: tarfile.TarFile, path: Path, names: Iterable[str] | None):
    """The members called ``names`` (all if None), after checking every one is safe."""
    try:
        if names is None:
            members = archive.getmembers()
        else:
            members = []
            for name in names:
                try:
                    members.append(archive.getmember(name))
                except KeyError:
                    raise DataFileError(f"{path}: the archive has no member {name!r}; it is not "
                                        f"the expected release: {_ADVICE}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataFileError(f"{path}: the archive is truncated or corrupt ({error}); "
                            f"{_ADVICE}") from None
    for member in members:
        reason = _unsafe(member)
        if reason is not None:
            raise DataFileError(f"{path}: refusing to extract member {member.name!r}: "
                                f"{reason}; the archive is not the expected release: {_ADVICE}")
    return members


def read_members(path: str | os.PathLike, names: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the regular-file members ``names`` of the tar archive at ``path``
    (compressed or not), in memory.

    Raises:
        DataFileError: the archive is unreadable, truncated or corrupt, lacks a member, or a
            member is a link or special file.
    """
    path = Path(path)
    with _open(path) as archive:
        members = _members(archive, path, names)
        try:
            contents = {}
            for member in members:
                if not member.isfile():
                    raise DataFileError(f"{path}: member {member.name!r} is not a file; "
                                        f"{_ADVICE}")
                contents[member.name] = archive.extractfile(member).read()
            return contents
        except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise DataFileError(f"{path}: the archive is truncated or corrupt ({error}); "
                                f"{_ADVICE}") from None


def safe_extract(path: str | os.PathLike, target: str | os.PathLike,
                 names: Iterable[str] | None = None) -> list[Path]:
    """Extract the members ``names`` (all if None) of the tar archive at ``path`` into
    ``target``, refusing any member that could land outside it.

    Every member is checked before anything is written: an absolute name, a ``..`` component,
    a symbolic or hard link or a device refuses the whole archive. The members are extracted
    into a hidden folder inside ``target`` (with the ``"data"`` filter where available), then
    each file is renamed into place, replacing any older copy: a crash never leaves a
    half-written file under its final name.

    Returns:
        The paths of the extracted files, in the order of ``names``.

    Raises:
        DataFileError: the archive is unreadable or corrupt, lacks a member, or holds an
            unsafe one.
    """
    path, target = Path(path), Path(target)
    with _open(path) as archive:
        members = _members(archive, path, names)
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target, prefix=".extract-"))
        try:
            options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            try:
                archive.extractall(staging, members=members, **options)
            except (tarfile.TarError, EOFError, zlib.error) as error:
                raise DataFileError(f"{path}: the archive is truncated or corrupt or unsafe "
                                    f"({error}); {_ADVICE}") from None
            extracted = []
            for member in members:
                if member.isfile():
                    final = target / member.name
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging / member.name, final)
                    extracted.append(final)
            return extracted
        finally:
            shutil.rmtree(staging, ignore_errors=True)
