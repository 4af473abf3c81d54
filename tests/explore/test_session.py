"""The Explorer: live training changes its copy in memory and never the run directory; a save
writes a new, loadable run directory; resets; networks of any shape."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from minicnn.explore.arrays import decode_array
from minicnn.explore.errors import RequestError, UnavailableError
from minicnn.explore.inputs import InputSpec
from minicnn.explore.session import Explorer
from minicnn.models import SeedNet
from minicnn.random import get_rng_state
from minicnn.train.loading import load_trained_model


def snapshot(directory) -> dict[str, str]:
    """Every file under ``directory`` with the SHA-256 of its bytes."""
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def weights(explorer: Explorer) -> dict[str, np.ndarray]:
    with explorer.lock:
        return {key: value.copy() for key, value in explorer.model.state_dict().items()}


def train_steps(explorer: Explorer, steps: int, **settings) -> dict:
    explorer.train({"action": "step", "steps": steps, **settings})
    assert explorer.trainer.wait_idle(), "the steps finished"
    return explorer.train_status()


def test_from_run_reads_the_run_and_its_config(run_explorer, run_dir):
    info = run_explorer.model_info()
    assert info["source"] == str(run_dir)
    assert info["about"]["weights"].endswith("best.safetensors")
    assert info["about"]["trained"]["epochs"] == 1, "from the run's config.json"
    assert run_explorer.model_name == "lenet5"


def test_live_steps_change_the_copy_in_memory_not_the_run_directory(run_explorer, run_dir):
    before_files = snapshot(run_dir.parent)
    before = weights(run_explorer)
    version = run_explorer.version
    status = train_steps(run_explorer, 5, lr=0.05, batch_size=32)
    assert status["steps"] == 5 and [r["step"] for r in status["records"]] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(r["loss"]) for r in status["records"])
    assert (status["lr"], status["batch_size"]) == (0.05, 32)
    after = weights(run_explorer)
    assert all(not np.array_equal(before[key], after[key]) for key in before), (
        "every parameter moved")
    assert run_explorer.version == version + 5, "the page learns that the weights changed"
    assert snapshot(run_dir.parent) == before_files, "the run directory is untouched"
    forward = run_explorer.forward({"input": {"test_index": 0}, "parameters": True})
    np.testing.assert_array_equal(decode_array(forward["parameters"]["features.0.weight"]),
                                  after["features.0.weight"], "the page sees the trained copy")


def test_running_and_pausing(run_explorer):
    run_explorer.train({"action": "start"})
    records = []
    for _ in range(2000):
        records = run_explorer.train_status()["records"]
        if len(records) >= 3:
            break
        run_explorer.trainer.wait_idle(timeout=0.01)
    run_explorer.train({"action": "pause"})
    assert run_explorer.trainer.wait_idle()
    steps = run_explorer.train_status()["steps"]
    assert steps >= 3 and not run_explorer.train_status()["running"]
    assert run_explorer.train_status(since=steps - 1)["records"][-1]["step"] == steps


def test_reset_puts_back_the_run_weights_or_draws_random_ones(run_explorer):
    initial = weights(run_explorer)
    train_steps(run_explorer, 2)
    rng_state = get_rng_state()
    run_explorer.train({"action": "reset", "weights": "random"})
    random = weights(run_explorer)
    assert not np.array_equal(random["features.0.weight"], initial["features.0.weight"])
    assert get_rng_state()["state"] == rng_state["state"], "minicnn's global RNG is untouched"
    status = run_explorer.train_status()
    assert status["steps"] == 0 and status["records"] == []
    assert status["started_from"] == "random weights"
    run_explorer.train({"action": "reset", "weights": "run"})
    for key, value in weights(run_explorer).items():
        np.testing.assert_array_equal(value, initial[key], err_msg=key)


def test_a_non_finite_loss_pauses_without_changing_the_weights(run_explorer):
    with run_explorer.lock:
        run_explorer.model.classifier[5].bias.data[0] = np.nan
    before = weights(run_explorer)
    status = train_steps(run_explorer, 3)
    assert status["steps"] == 0 and not status["running"]
    assert "the loss is nan" in status["error"]
    for key, value in weights(run_explorer).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_save_writes_a_new_loadable_run_directory(run_explorer, run_dir, tmp_path):
    before_files = snapshot(run_dir)
    train_steps(run_explorer, 3)
    saved = run_explorer.save()
    path = tmp_path / "saved" / saved["path"].rsplit("/", 1)[-1]
    assert saved["path"] == str(path) and path.name.startswith("lenet5-mnist-explore-")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "explore.json", "last.safetensors"]
    assert not list((tmp_path / "saved").glob(".*")), "no temporary directory left"
    model, weights_file = load_trained_model(path)
    assert weights_file.name == "last.safetensors"
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, weights(run_explorer)[key], err_msg=key)
    provenance = json.loads((path / "explore.json").read_text())
    assert provenance["live_steps"] == 3 and len(provenance["history"]) == 3
    assert provenance["source"] == str(run_dir)
    assert snapshot(run_dir) == before_files
    again = Explorer.from_run(path, load_dataset=False)
    try:
        assert again.model_info()["about"]["trained"]["model"] == "lenet5"
        assert again.forward({"input": {"pixels": [[0, 255, 0]] * 3}})["prediction"] in range(10)
    finally:
        again.close()
    second = run_explorer.save()
    assert second["path"] != saved["path"], "each save is a new directory"


def test_a_network_of_any_shape(tmp_path):
    spec = InputSpec((3, 32, 32), (0.5,), (0.25,), np.dtype(np.float32))
    explorer = Explorer(SeedNet(), spec, [str(k) for k in range(10)], source="a SeedNet")
    try:
        info = explorer.model_info()
        assert info["input"]["drawing_matches_training"] is False
        assert info["training"] == {"available": False, "reason": "no dataset was given",
                                    "can_save": False}
        forward = explorer.forward({"input": {"pixels": [[0] * 8, [0, 0, 255, 255] * 2] * 4}})
        assert decode_array(forward["input"]["frame"]).shape == (3, 32, 32)
        unit = explorer.unit({"input": {"pixels": [[0] * 8, [0, 0, 255, 255] * 2] * 4},
                              "layer": "features.0", "index": [4, 16, 16], "target": 2})
        assert unit["forward"]["reads"]["channels"] == [0, 1, 2]
        assert unit["forward"]["total"] == pytest.approx(unit["value"], abs=1e-5)
        with pytest.raises(UnavailableError, match="cannot be saved"):
            explorer.save()
        with pytest.raises(UnavailableError, match="training images"):
            explorer.train({"action": "start"})
    finally:
        explorer.close()


def test_requests_are_checked_before_anything_runs(run_explorer):
    with pytest.raises(RequestError, match="unknown field"):
        run_explorer.forward({"input": {"test_index": 0}, "colour": "red"})
    with pytest.raises(RequestError, match=r"lr must be a number more than 0\.0"):
        run_explorer.train({"action": "start", "lr": 0})
    assert not run_explorer.train_status()["running"], "the refused start did not start"
