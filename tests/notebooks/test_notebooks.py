"""The notebooks run from top to bottom in small mode, so they can never silently rot.

Each is executed by nbclient in a fresh IPython kernel (the interpreter running the tests),
with ``MINICNN_NOTEBOOK_SMALL=1`` (a few hundred images, one epoch, the benchmarks' smoke
settings) and MNIST read from the ``mnist_dir`` fixture. A failing cell (every notebook
asserts its parity checks against PyTorch) fails the test with the cell's traceback. The
notebooks are stored without outputs: a stored output would go stale silently.
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers.processes import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
# name -> figures it must display (as PNG, not as "<Figure ...>" text)
NOTEBOOKS = {
    "01-backprop-by-hand": 0,
    "02-convolution": 1,
    "03-lenet5-mnist": 6,
    "04-speed": 1,
    "06-exercises": 0,
}


def test_the_notebooks_are_the_ones_expected():
    assert sorted(path.stem for path in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name}, cell {index}: stored with outputs; clear them before committing")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_in_small_mode(name, mnist_dir, monkeypatch):
    monkeypatch.setenv("MINICNN_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MINICNN_MNIST_DIR", str(mnist_dir))
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    # The kernel starts in notebooks/, as when a user opens the notebook there.
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "data" in o and "image/png" in o.data]
    assert len(images) == NOTEBOOKS[name], (
        f"{name}: expected {NOTEBOOKS[name]} figures displayed, got {len(images)}")
    stray = [o.data["text/plain"] for o in outputs if "data" in o
             and "image/png" not in o.data and "<Figure" in o.data.get("text/plain", "")]
    assert not stray, f"{name}: figures shown as text, not drawn: {stray}"
    printed = "".join(o.text for o in outputs if o.output_type == "stream")
    assert printed, f"{name}: the notebook printed nothing"
