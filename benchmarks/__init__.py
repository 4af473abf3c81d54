"""minicnn's benchmark suite: minicnn's Numba kernels and NumPy reference against PyTorch.

Run everything with ``python -m benchmarks`` (about 3-4 minutes on a quiet 2-core machine, up
to 10 on a busy one), or ``python -m benchmarks --smoke`` to prove the suite works in under a
minute. See ``benchmarks/RESULTS.md`` for the latest figures and ``python -m benchmarks --help``.

Modules: :mod:`~benchmarks.timing` (the timer), :mod:`~benchmarks.layers`,
:mod:`~benchmarks.step`, :mod:`~benchmarks.epoch`, :mod:`~benchmarks.startup`,
:mod:`~benchmarks.memory` (what is measured), :mod:`~benchmarks.machine` (on what),
:mod:`~benchmarks.report` (table, targets, JSON, RESULTS.md) and :mod:`~benchmarks.suite`
(the whole run, each framework in its own processes).

This package imports nothing at import time: the startup benchmark's children run from it
and must not have NumPy loaded before they time ``import minicnn``.
"""
