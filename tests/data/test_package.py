"""minicnn.data as a package: what it exports, and that importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import minicnn.data


def test_every_exported_name_exists():
    missing = [name for name in minicnn.data.__all__ if not hasattr(minicnn.data, name)]
    assert missing == [], f"names in __all__ but not in the package: {missing}"


def test_importing_data_loads_no_heavy_or_upward_dependency():
    # A fresh interpreter: this test process has long since imported torch.
    probe = (
        "import sys, minicnn.data; "
        "print(sorted(m for m in ('torch', 'numba', 'minicnn.nn', 'urllib.request') "
        "if m in sys.modules))"
    )
    repository = Path(minicnn.data.__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=repository
    )
    assert result.stdout.strip() == "[]", (
        f"import minicnn.data should not import these modules: {result.stdout.strip()}"
    )
