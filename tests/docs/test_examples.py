"""Every ```python block of the documentation pages and of the README runs, so none can rot.

The blocks of one page run in order in one namespace (a later block may use an earlier one's
names), in a temporary working directory (examples that write figures or runs write there). A
block that needs MNIST is preceded by ``<!-- needs: mnist -->`` and runs with
``MINICNN_MNIST_DIR`` pointing at the ``mnist_dir`` fixture.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from tests.helpers.processes import REPO_ROOT

BLOCK = re.compile(r"(?P<marker><!-- needs: (?P<needs>[a-z]+) -->\n)?```python\n(?P<code>.*?)```",
                   re.S)
PAGES = sorted([*(REPO_ROOT / "docs").glob("*.md"), REPO_ROOT / "README.md"])


def python_blocks(page) -> list[tuple[str, str | None, int]]:
    """``(code, needs, line)`` of each ```python block of ``page``."""
    text = page.read_text()
    return [(textwrap.dedent(match["code"]), match["needs"],
             text.count("\n", 0, match.start("code")) + 1) for match in BLOCK.finditer(text)]


PAGES_WITH_EXAMPLES = [page for page in PAGES if python_blocks(page)]


def test_the_pages_have_examples():
    names = {page.name for page in PAGES_WITH_EXAMPLES}
    for name in ("README.md", "getting-started.md", "custom-layers.md", "exercises.md",
                 "training.md", "pytorch-interop.md"):
        assert name in names, f"expected Python examples in {name}; pages with some: {names}"


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: page.name)
def test_every_python_block_runs(page, tmp_path, monkeypatch, mnist_dir):
    blocks = python_blocks(page)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_example_{page.stem}"}
    for code, needs, line in blocks:
        if needs == "mnist":
            monkeypatch.setenv("MINICNN_MNIST_DIR", str(mnist_dir))
        else:
            assert needs is None, f"{page.name}:{line}: unknown marker needs: {needs}"
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"the example at {page.name}, line {line}, failed: "
                                 f"{type(error).__name__}: {error}") from error
