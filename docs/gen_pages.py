"""Build-time pages: one API page per module of the package, and the notebooks as tutorials.

Run by the ``gen-files`` plugin at every ``mkdocs build``: it walks ``minicnn/`` so a module
added to the package gets its page (``::: minicnn.x.y``, rendered by mkdocstrings from the
docstrings) with no edit here, and ``reference/SUMMARY.md`` lists them all for the navigation.
Private modules (a name starting with ``_``) and ``__main__`` are left out. The notebooks in
``notebooks/`` are copied in as stored (without outputs), and ``tutorials/SUMMARY.md`` lists
them in file order.
"""

from __future__ import annotations

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minicnn"


def module_parts(path: Path) -> tuple[str, ...] | None:
    """``("minicnn", "nn", "conv")`` for ``minicnn/nn/conv.py``; ``None`` if not documented."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts[-1] == "__main__" or any(part.startswith("_") for part in parts):
        return None
    return parts


def api_pages() -> None:
    nav = mkdocs_gen_files.Nav()
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = module_parts(path)
        if parts is None:
            continue
        is_package = path.name == "__init__.py"
        page = Path(*parts, "index.md") if is_package else Path(*parts).with_suffix(".md")
        nav[parts] = page.as_posix()
        with mkdocs_gen_files.open(Path("reference", page), "w") as handle:
            handle.write(f"::: {'.'.join(parts)}\n")
            if is_package:
                handle.write("    options:\n      members: false\n")
        mkdocs_gen_files.set_edit_path(Path("reference", page), path.relative_to(ROOT))
    with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as handle:
        handle.writelines(nav.build_literate_nav())


def tutorial_pages() -> None:
    lines = []
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        with mkdocs_gen_files.open(Path("tutorials", notebook.name), "w") as handle:
            handle.write(notebook.read_text())
        lines.append(f"* [{notebook.stem}]({notebook.name})\n")
    with mkdocs_gen_files.open("tutorials/SUMMARY.md", "w") as handle:
        handle.writelines(lines)


api_pages()
tutorial_pages()
