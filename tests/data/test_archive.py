"""minicnn.data.archive: tar members are read or extracted only inside the target folder."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from minicnn.data import DataFileError
from minicnn.data.archive import read_members, safe_extract


def write_tar(path, members) -> None:
    """``members``: ``(name, bytes)`` for a file, ``(name, ("symlink" | "hardlink", target))``
    for a link, ``(name, None)`` for a folder."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


def everything_under(folder) -> list[str]:
    return sorted(os.path.relpath(os.path.join(base, name), folder)
                  for base, folders, files in os.walk(folder) for name in folders + files)


def test_named_members_are_extracted_whole_and_nothing_else(tmp_path):
    archive = tmp_path / "good.tar.gz"
    write_tar(archive, [("data", None), ("data/a.bin", b"abc"), ("data/b.bin", b"de"),
                        ("readme.html", b"<html>")])
    target = tmp_path / "out"
    paths = safe_extract(archive, target, ["data/b.bin", "data/a.bin"])
    assert paths == [target / "data" / "b.bin", target / "data" / "a.bin"]
    assert (target / "data" / "a.bin").read_bytes() == b"abc"
    assert everything_under(target) == ["data", "data/a.bin", "data/b.bin"], (
        "only the named members, and no staging folder left behind")
    assert safe_extract(archive, tmp_path / "all")[-1] == tmp_path / "all" / "readme.html"


@pytest.mark.parametrize(("member", "reason"), [
    (("../evil.sh", b"rm -rf"), "a path that leaves the target folder"),
    (("data/../../evil.sh", b"rm -rf"), "a path that leaves the target folder"),
    (("/tmp/evil.sh", b"rm -rf"), "an absolute path"),
    (("data/a.bin", ("symlink", "/etc/passwd")), "a link or special file"),
    (("data/a.bin", ("symlink", "../../outside")), "a link or special file"),
    (("data/a.bin", ("hardlink", "/etc/passwd")), "a link or special file"),
])
def test_an_unsafe_member_refuses_the_whole_archive_before_writing(tmp_path, member, reason):
    archive = tmp_path / "evil.tar.gz"
    write_tar(archive, [("data/ok.bin", b"fine"), member])
    target = tmp_path / "deep" / "out"
    with pytest.raises(DataFileError) as excinfo:
        safe_extract(archive, target)
    message = str(excinfo.value)
    assert message.startswith(f"{archive}: refusing to extract member {member[0]!r}: {reason}")
    assert sorted(os.listdir(tmp_path)) == ["evil.tar.gz"], "nothing at all is written"
    with pytest.raises(DataFileError, match="refusing"):
        read_members(archive, [member[0]])


def test_read_members_reads_in_memory(tmp_path):
    archive = tmp_path / "a.tar.gz"
    write_tar(archive, [("x/one.bin", b"1"), ("x/two.bin", b"22")])
    assert read_members(archive, ["x/two.bin", "x/one.bin"]) == {"x/two.bin": b"22",
                                                                 "x/one.bin": b"1"}
    assert sorted(os.listdir(tmp_path)) == ["a.tar.gz"]


def test_a_missing_member_and_a_broken_archive_are_clear_errors(tmp_path):
    archive = tmp_path / "a.tar.gz"
    write_tar(archive, [("x/one.bin", b"1")])
    with pytest.raises(DataFileError, match=r"the archive has no member 'x/two\.bin'"):
        read_members(archive, ["x/two.bin"])
    (tmp_path / "junk.tar.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(DataFileError, match=r"junk\.tar\.gz: not a readable tar archive"):
        safe_extract(tmp_path / "junk.tar.gz", tmp_path / "out")
    with pytest.raises(FileNotFoundError):
        read_members(tmp_path / "absent.tar.gz", ["x"])
