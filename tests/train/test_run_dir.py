"""RunDir.create_complete: a new run directory appears with all its files, or not at all."""

from __future__ import annotations

import pytest

from minicnn.train.run_dir import RunDir


def test_a_complete_directory_appears_under_its_name(tmp_path):
    finished: set[str] = set()

    def fill(run_dir: RunDir) -> None:
        assert run_dir.path.name.startswith(".model-"), "written in a hidden directory first"
        visible = {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")}
        assert visible == finished, "nothing appears before it is complete"
        (run_dir.path / "a.txt").write_text("a")

    created = RunDir.create_complete(tmp_path, "model", fill)
    assert created.path.parent == tmp_path and created.path.name.startswith("model-")
    assert (created.path / "a.txt").read_text() == "a"
    assert [p.name for p in tmp_path.iterdir()] == [created.path.name], "no leftovers"
    finished.add(created.path.name)
    second = RunDir.create_complete(tmp_path, "model", fill)
    assert second.path != created.path and second.path.name.startswith(created.path.name)


def test_a_failed_fill_leaves_nothing(tmp_path):
    def fill(run_dir: RunDir) -> None:
        (run_dir.path / "half.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        RunDir.create_complete(tmp_path / "out", "model", fill)
    assert list((tmp_path / "out").iterdir()) == []
