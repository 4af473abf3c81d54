"""What the test modules share: helpers here, fixtures in the ``conftest.py`` files.

No test module imports another; whatever two of them need lives in one of these modules:

- :mod:`tests.helpers.tolerances`: :func:`assert_close` and the tolerances (re-exported here:
  ``from tests.helpers import assert_close``);
- :mod:`tests.helpers.twins`: the torch twins of minicnn's models (``TorchLeNet5``,
  ``twin_pair``) and one training step of each, for parity tests;
- :mod:`tests.helpers.torch_ops`: PyTorch's results for a convolution or a pooling, the oracle
  of the functional and kernel tests;
- :mod:`tests.helpers.strategies`: hypothesis strategies (convolution and pooling
  configurations, optimiser options);
- :mod:`tests.helpers.training`: the tiny training settings, trainer configurations and the
  comparisons of two runs;
- :mod:`tests.helpers.mnist`: where the tests find MNIST (``$MINICNN_MNIST_DIR`` or the
  download cache);
- :mod:`tests.helpers.processes`: the repository's root and ``minicnn`` subprocesses;
- :mod:`tests.helpers.cli`: ``minicnn`` run in the test's own process, its output captured;
- :mod:`tests.helpers.thread_ranks`: a group of ranks made of threads, for data-parallel
  tests without MPI;
- :mod:`tests.helpers.mpi_jobs`: ``mpiexec`` jobs run as subprocesses;
- :mod:`tests.helpers.png`: checks that a PNG is a real picture;
- :mod:`tests.helpers.cifar`: fake CIFAR files in the official binary layout.

Importing this package imports neither torch nor minicnn.
"""

from tests.helpers.tolerances import ATOL, RTOL, assert_close

__all__ = ["ATOL", "RTOL", "assert_close"]
