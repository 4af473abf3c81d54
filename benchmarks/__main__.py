"""``python -m benchmarks``: run the whole suite (``--smoke`` for a quick proof it works)."""

from benchmarks.suite import main

main()
