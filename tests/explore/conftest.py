"""Fixtures of the explorer's tests: explorers on the shipped LeNet-5, a run directory, an API
client, and drawings of digits."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import minicnn
from minicnn import nn
from minicnn.explore.session import SHIPPED_WEIGHTS, Explorer
from minicnn.train.config import TrainConfig
from minicnn.train.run_dir import RunDir


@pytest.fixture(scope="session")
def shipped_explorer(mnist_dir, tmp_path_factory):
    """The explorer of ``minicnn explore`` without RUN_DIR, with MNIST; shared, so tests that
    train or reset it use :func:`run_explorer` instead."""
    explorer = Explorer.from_run(data_dir=mnist_dir, out_dir=tmp_path_factory.mktemp("saved"))
    yield explorer
    explorer.close()


@pytest.fixture
def client(shipped_explorer):
    from starlette.testclient import TestClient

    from minicnn.explore.app import create_app

    # 127.0.0.1, the host the server answers; server errors as 500s, not raised, so that a
    # test sees what a browser would.
    with TestClient(create_app(shipped_explorer), base_url="http://127.0.0.1",
                    raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A run directory as ``minicnn train`` leaves it (config and best weights; the weights
    are the shipped LeNet-5's, so the network is a trained one)."""
    run = RunDir(tmp_path / "runs" / "lenet5-mnist-20261204-120000")
    run.path.mkdir(parents=True)
    TrainConfig(epochs=1).save(run.config)
    shutil.copyfile(SHIPPED_WEIGHTS, run.best_weights)
    return run.path


@pytest.fixture
def run_explorer(run_dir, mnist_dir, tmp_path):
    """An explorer of :func:`run_dir` of its own (to train, reset and save)."""
    explorer = Explorer.from_run(run_dir, data_dir=mnist_dir, out_dir=tmp_path / "saved")
    yield explorer
    explorer.close()


def draw_digit(strokes, size: int = 224, width: int = 18) -> bytes:
    """A PNG of white strokes on black, as the page's pad makes them; ``strokes`` are
    polylines in 0-1 coordinates."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    for line in strokes:
        points = [(x * size, y * size) for x, y in line]
        pen.line(points, fill=255, width=width, joint="curve")
        for x, y in points:
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


SEVEN = [[(0.25, 0.22), (0.75, 0.22), (0.45, 0.85)]]
ONE = [[(0.5, 0.15), (0.5, 0.85)]]


@pytest.fixture
def seven_png() -> bytes:
    return draw_digit(SEVEN)


@pytest.fixture
def one_png() -> bytes:
    return draw_digit(ONE)


@pytest.fixture
def as_input():
    """``as_input(png_bytes)`` -> the ``"input"`` of an API request."""
    import base64

    return lambda png: {"png": "data:image/png;base64," + base64.b64encode(png).decode()}



class Residual(nn.Module):
    """``x -> relu2(conv2(relu1(conv1(x))) + x)``: a residual block whose shortcut is added in
    plain code, as torchvision's BasicBlock does; the explorer has never seen it."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.conv2(self.relu1(self.conv1(x))) + x)

    def backward(self, grad_output):
        grad = self.relu2.backward(grad_output)
        # Where the path forks, the gradients add: the main path's and the shortcut's.
        return self.conv1.backward(self.relu1.backward(self.conv2.backward(grad))) + grad


class SumBlock(nn.Module):
    """``x -> conv(x) + x``: a block whose output no layer of its own produced."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(x) + x

    def backward(self, grad_output):
        return self.conv.backward(grad_output) + grad_output


@pytest.fixture
def residual_net():
    """A small network with residual blocks: conv, Residual, SumBlock, then a classifier of
    3 classes, float64, on (1, 6, 6) images."""
    minicnn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), Residual(4), SumBlock(4), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 3)).double()


@pytest.fixture
def serve_explorer():
    """``serve_explorer(explorer)`` -> the URL of a real uvicorn server of ``explorer`` on
    127.0.0.1 (any free port), stopped after the test."""
    from minicnn.explore.server import prepare

    servers = []

    def start(explorer: Explorer) -> str:
        servers.append(prepare(explorer, "127.0.0.1", 0, log=lambda line: None))
        return servers[-1].start()

    yield start
    for serving in servers:
        serving.stop()
