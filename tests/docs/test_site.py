"""The documentation site builds with ``mkdocs build --strict``: a broken link, a missing page
or a module whose API page cannot be rendered fails the build, and so these tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import REPO_ROOT


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One strict build of the site into a temporary folder: (the process, the site)."""
    site = tmp_path_factory.mktemp("docs") / "site"
    # mkdocs-material's dependency prints a banner about MkDocs 2 on every build; it says
    # nothing about this site.
    environment = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true"}
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO_ROOT, capture_output=True, text=True, env=environment, timeout=600)
    return completed, site


def test_the_site_builds_strictly(build):
    completed, site = build
    assert completed.returncode == 0, (
        f"mkdocs build --strict failed:\n{completed.stdout}\n{completed.stderr}")
    for page in ("index.html", "getting-started/index.html", "exercises/index.html",
                 "benchmarks/index.html", "reference/minicnn/nn/conv/index.html",
                 "tutorials/06-exercises/index.html"):
        assert (site / page).is_file(), f"expected the page {page} in the built site"


def test_every_public_module_has_an_api_page(build):
    _, site = build
    missing = []
    for path in sorted((REPO_ROOT / "minicnn").rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__" or any(part.startswith("_") for part in parts):
            continue
        if not (site / "reference" / Path(*parts) / "index.html").is_file():
            missing.append(".".join(parts))
    assert not missing, f"expected an API page for every public module; missing: {missing}"


def test_torch_style_sections_render(build):
    _, site = build
    page = (site / "reference/minicnn/nn/conv/index.html").read_text()
    # griffe turns a section it does not know ("Shape:") into an admonition, which
    # pymdownx.details renders as an open <details> block titled by the section.
    assert '<details class="shape" open>' in page and "<summary>Shape</summary>" in page, (
        "expected Conv2d's Shape: section rendered as an admonition")
    assert "H_out = floor(" in page, "expected the output-size formula in the Shape section"
    assert "Parameters:" in page and "<code>in_channels</code>" in page, (
        "expected Conv2d's Args: rendered as a parameter table")


def test_the_readme_commands_are_included_not_copied(build):
    _, site = build
    page = re.sub(r"<[^>]+>", "", (site / "getting-started/index.html").read_text())
    assert "python -m pip install torch==2.13.0 -e" in page, "the README's test command"
    assert "--8&lt;--" not in page and "--8<--" not in page, "a snippet marker leaked"
