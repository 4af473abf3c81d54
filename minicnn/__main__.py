"""``python -m minicnn <command>``: the same as the ``minicnn`` script."""

from minicnn.cli import main

raise SystemExit(main())
