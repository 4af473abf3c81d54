"""Fixtures shared by every test folder, and MNIST found once for the whole run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers.cifar import write_cifar

# Hypothesis: no per-example deadline (the machines are shared and noisy; timing is the
# benchmark suite's business), and the same examples on every run in CI so a failure repeats.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

_MNIST_FOLDER = pytest.StashKey[Path]()


class _MnistUnavailableErrorItem(pytest.Item):
    """Stands in for every test that needs MNIST when there is none: one failure, one line."""

    def __init__(self, *, reason: str, **kwargs):
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        pytest.fail(self.reason, pytrace=False)

    def reportinfo(self):
        return Path(__file__), None, self.name


@pytest.hookimpl(trylast=True)  # after -k/-m have deselected: fetch only what will run
def pytest_collection_modifyitems(session, config, items) -> None:
    """Find (or download) MNIST once, before any test runs, if a selected test needs it.

    Without it, the tests that need it are deselected and one failing item says what to set,
    instead of each of them erroring with the same message. Under xdist every worker collects
    and so comes here; the download itself takes a lock (see :mod:`tests.helpers.mnist`).
    """
    from tests.helpers.mnist import MnistUnavailableError, mnist_folder

    needing = [item for item in items if "mnist_dir" in item.fixturenames]
    if not needing or config.option.collectonly:
        return
    try:
        config.stash[_MNIST_FOLDER] = mnist_folder()
    except MnistUnavailableError as error:
        config.hook.pytest_deselected(items=needing)
        items[:] = [item for item in items if "mnist_dir" not in item.fixturenames]
        items.append(_MnistUnavailableErrorItem.from_parent(
            session, name="MNIST", reason=f"{error} ({len(needing)} tests need MNIST; not run)"))


@pytest.fixture(scope="session")
def mnist_dir(pytestconfig) -> Path:
    """The folder of MNIST's four IDX files (see :mod:`tests.helpers.mnist`)."""
    folder = pytestconfig.stash.get(_MNIST_FOLDER, None)
    if folder is None:  # asked for at run time only (request.getfixturevalue)
        from tests.helpers.mnist import MnistUnavailableError, mnist_folder

        try:
            folder = mnist_folder()
        except MnistUnavailableError as error:
            pytest.fail(str(error), pytrace=False)
    return folder


@pytest.fixture
def cifar_files(tmp_path):
    """``write(**options) -> CifarFiles``: :func:`write_cifar` into ``tmp_path/<kind>``."""

    def write(root: Path | None = None, **options):
        return write_cifar(root or tmp_path / options.get("kind", "cifar10"), **options)

    return write


@pytest.fixture(scope="session")
def cifar10_dir(tmp_path_factory) -> Path:
    """A fake CIFAR-10 folder for training runs: 5 x 48 training images, 40 test images."""
    return write_cifar(tmp_path_factory.mktemp("cifar10"), per_file=48, test_count=40).root

