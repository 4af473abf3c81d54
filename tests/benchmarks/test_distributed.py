"""``python -m benchmarks.distributed --smoke`` runs both set-ups end to end (no timing asserts)."""

from __future__ import annotations

import contextlib
import io

from benchmarks.distributed import main


def test_smoke_run_reports_both_setups(mnist_dir, monkeypatch):
    monkeypatch.setenv("MINICNN_MNIST_DIR", str(mnist_dir))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = main(["--smoke"])
    assert sorted(result) == ["1x2", "2x1"], "expected one process of 2 threads, 2 ranks of 1"
    (single,), (ranks,) = result["1x2"], result["2x1"]
    assert single["seconds"] > 0 and ranks["seconds"] > 0
    assert len(ranks["communication"]) == 2, "expected each rank's time in communication"
    assert ranks["gradient_bytes"] == 61706 * 4, "LeNet-5's gradients in float32"
    table = printed.getvalue()
    assert "| 1 x 2 |" in table and "| 2 x 1 |" in table, table
