"""The benchmark suite runs end to end in smoke mode and reports every row (no timing asserts).

One smoke run (``python -m benchmarks --smoke``'s ``main``, in-process; it starts its own
worker processes) is shared by the tests of this module: about a minute on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from benchmarks.data import MNIST_DIR_ENV
from benchmarks.records import VARIANTS
from benchmarks.report import TARGETS, expected_row_ids, write_results_markdown
from benchmarks.settings import Settings
from benchmarks.suite import main
from benchmarks.timing import measure
from benchmarks.variants import KERNELS_MISSING, kernel_switch

KERNELS_IMPORTABLE = kernel_switch() is not None


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, mnist_dir):
    """``(result dict, printed table, JSON path, RESULTS.md path)`` of one smoke run.

    Its processes read MNIST from the folder the tests found (``mnist_dir``).
    """
    folder = tmp_path_factory.mktemp("smoke")
    json_path, results_path = folder / "smoke.json", folder / "RESULTS.md"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stdout(printed):
        monkeypatch.setenv(MNIST_DIR_ENV, str(mnist_dir))
        result = main(["--smoke", "--out", str(json_path), "--write-results", str(results_path)])
    return result, printed.getvalue(), json_path, results_path


def _records_by_key(records):
    return {(record["id"], record["variant"]): record for record in records}


def test_json_has_one_record_per_expected_row_and_variant(smoke):
    _, _, json_path, _ = smoke
    written = json.loads(json_path.read_text())
    expected = {(rid, variant) for rid in expected_row_ids(Settings.smoke())
                for variant in VARIANTS}
    found = _records_by_key(written["records"])
    assert set(found) == expected, (
        f"missing {sorted(expected - set(found))}, unexpected {sorted(set(found) - expected)}"
    )
    assert len(written["records"]) == len(expected), "a row was recorded twice"


def test_torch_and_reference_figures_are_positive_numbers(smoke):
    result, _, _, _ = smoke
    for record in result["records"]:
        if record["variant"] in ("torch", "reference"):
            assert record["available"], f"{record['id']} ({record['variant']}) not measured"
            assert math.isfinite(record["value"]) and record["value"] > 0, (
                f"{record['id']} ({record['variant']}): expected a positive figure, got "
                f"{record['value']}"
            )
            assert record["unit"] in ("s", "MB"), f"{record['id']}: unit {record['unit']!r}"


def test_kernel_figures_are_measured_when_the_kernels_exist(smoke):
    result, _, _, _ = smoke
    for record in result["records"]:
        if record["variant"] != "kernels":
            continue
        if KERNELS_IMPORTABLE:
            assert record["available"], (
                f"{record['id']}: kernels importable but not measured: {record.get('note')}"
            )
            assert record["value"] > 0, f"{record['id']}: kernels figure {record['value']}"
        else:
            assert record["note"] == KERNELS_MISSING, (
                f"{record['id']}: expected the note {KERNELS_MISSING!r}, got {record['note']!r}"
            )


def test_every_target_is_checked(smoke):
    result, _, _, _ = smoke
    assert [t["target"] for t in result["targets"]] == [target.label for target in TARGETS]
    for target in result["targets"]:
        # Only the import target is measurable without kernels (it times `import minicnn`).
        measurable = KERNELS_IMPORTABLE or target["target"].startswith("import")
        expected = {"met", "missed"} if measurable else {"not measured"}
        status = target["status"].removeprefix("not judged (noisy; would be ").removesuffix(")")
        assert status in expected, (
            f"target {target['target']!r}: expected a status in {expected}, got "
            f"{target['status']!r} (measured {target['measured']})"
        )


def test_table_prints_every_group_row_and_the_targets(smoke):
    result, printed, _, _ = smoke
    for heading in ("Layers", "LeNet-5 training step", "One MNIST training epoch", "Start-up",
                    "Peak resident memory", "Targets (issue 4)", "kernels/torch"):
        assert heading in printed, f"the table lacks {heading!r}"
    for record in result["records"]:
        label = (f"{record['name']} {record['phase']}" if record["group"] == "layers"
                 else f"{record['name']}, {record['phase']}")
        assert label in printed, f"the table lacks the row {label!r}"


def test_results_markdown_records_machine_and_keeps_the_analysis(smoke):
    result, _, _, results_path = smoke
    text = results_path.read_text()
    machine = result["meta"]["machine"]
    for expected in ("## Machine", machine["cpu"], "numpy", "torch", "## Targets",
                     "<!-- analysis:start -->", "<!-- analysis:end -->"):
        assert expected in text, f"RESULTS.md lacks {expected!r}"
    assert "thread_pools" not in text and "openblas" in text.lower(), "BLAS line missing"

    edited = text.replace("(No analysis written yet.)", "Conv1 is memory-bound.")
    results_path.write_text(edited)
    write_results_markdown(result, results_path)
    assert "Conv1 is memory-bound." in results_path.read_text(), "the analysis was lost"


def test_measure_takes_min_repeats_then_stops_at_max_repeats():
    calls = {"setup": 0, "run": 0}

    def setup():
        calls["setup"] += 1

    def run():
        calls["run"] += 1

    timing = measure(run, setup=setup, warmup=2, min_repeats=3, max_repeats=5,
                     target_seconds=0.0)
    assert timing.repeats == 3, f"expected exactly min_repeats samples, got {timing.repeats}"
    assert calls == {"setup": 5, "run": 5}, f"warm-up + samples should each set up: {calls}"
    assert timing.minimum <= timing.median <= timing.maximum

    long_timing = measure(run, warmup=0, min_repeats=1, max_repeats=4, target_seconds=3600)
    assert long_timing.repeats == 4, f"expected max_repeats samples, got {long_timing.repeats}"


def test_measure_rejects_impossible_repeat_counts():
    with pytest.raises(ValueError, match="min_repeats"):
        measure(lambda: None, min_repeats=5, max_repeats=2)


def test_settings_survive_the_trip_to_a_worker():
    settings = Settings.smoke(threads=(1,))
    assert Settings.from_json(settings.to_json()) == settings


def test_from_json_reports_an_earlier_run_without_measuring(smoke, tmp_path):
    _, printed, json_path, _ = smoke
    results_path = tmp_path / "RESULTS.md"
    reprinted = io.StringIO()
    with contextlib.redirect_stdout(reprinted):
        reloaded = main(["--from-json", str(json_path), "--write-results", str(results_path)])
    assert reloaded["records"] == json.loads(json_path.read_text())["records"]
    table = printed.split("\nJSON written")[0]
    assert table in reprinted.getvalue(), "the table of the reloaded run differs"
    assert "## Targets" in results_path.read_text()
