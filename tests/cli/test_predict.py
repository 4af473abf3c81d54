"""``minicnn predict``: digits drawn from MNIST test images, saved the ways people save them.

A digit reaches ``predict`` as a PNG or JPEG of any size, black on white as often as white
on black, sometimes with a transparent background. Each kind below is made from MNIST test
images (never seen in training) and most must come back with their label.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from minicnn.data.idx import read_idx

COUNT = 12
OUTPUT_LINE = re.compile(r"(?P<path>.+): (?P<digit>\d) \(p=(?P<p>[01]\.\d{3})\)")


@pytest.fixture(scope="module")
def test_digits(mnist_dir):
    """The last ``COUNT`` MNIST test images (outside the 2,000 used for accuracy) and labels."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[-COUNT:]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[-COUNT:]
    return images, labels


def save_as(kind: str, image: np.ndarray, path) -> None:
    """Save a 28x28 MNIST digit as a user might: other size, polarity, format, background."""
    digit = Image.fromarray(image)
    if kind == "png-large":  # white on black, 4x bigger
        digit.resize((112, 112), Image.Resampling.BICUBIC).save(path)
    elif kind == "jpeg-inverted":  # black ink on white paper, a wide canvas, JPEG artefacts
        ink = digit.resize((90, 90), Image.Resampling.BILINEAR)
        paper = Image.new("L", (200, 140), 255)
        paper.paste(Image.fromarray(255 - np.asarray(ink)), (70, 30))
        paper.convert("RGB").save(path, quality=85)
    elif kind == "png-transparent":  # black ink whose opacity is the stroke, on nothing
        ink = np.asarray(digit.resize((56, 56), Image.Resampling.BICUBIC))
        rgba = np.zeros((56, 56, 4), np.uint8)
        rgba[..., 3] = ink
        Image.fromarray(rgba, "RGBA").save(path)
    elif kind == "png-small":  # a thumbnail, grey on grey
        small = np.asarray(digit.resize((20, 20), Image.Resampling.LANCZOS), np.float64)
        Image.fromarray((60 + small * 0.6).astype(np.uint8)).save(path)
    else:
        raise ValueError(kind)


@pytest.mark.parametrize(("kind", "suffix"), [
    ("png-large", ".png"), ("jpeg-inverted", ".jpg"), ("png-transparent", ".png"),
    ("png-small", ".png"),
])
def test_predict_recognises_most_digits(cli, trained_run, test_digits, tmp_path, kind, suffix):
    images, labels = test_digits
    paths = [tmp_path / f"{kind}-{i}-label{label}{suffix}" for i, label in enumerate(labels)]
    for image, path in zip(images, paths):
        save_as(kind, image, path)
    status, stdout, stderr = cli(["predict", str(trained_run.path), *map(str, paths)])
    assert status == 0, stderr
    lines = stdout.splitlines()
    assert len(lines) == COUNT, stdout
    predicted = []
    for line, path in zip(lines, paths):
        match = OUTPUT_LINE.fullmatch(line)
        assert match and match["path"] == str(path), line
        assert 0.1 <= float(match["p"]) <= 1.0, line
        predicted.append(int(match["digit"]))
    correct = int(np.sum(np.array(predicted) == labels))
    assert correct >= COUNT - 2, f"{kind}: {correct}/{COUNT} right: {predicted} vs {list(labels)}"


def test_predict_explains_a_file_that_is_not_an_image(cli, trained_run, tmp_path):
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    status, stdout, stderr = cli(["predict", str(trained_run.path), str(text_file)])
    assert status == 1 and stdout == ""
    assert f"{text_file}: not an image" in stderr, stderr
    status, _, stderr = cli(["predict", str(trained_run.path), str(tmp_path / "missing.png")])
    assert status == 1 and "no such image file" in stderr, stderr


def test_predict_needs_an_image(cli, trained_run):
    status, _, stderr = cli(["predict", str(trained_run.path)])
    assert status == 2 and "IMAGE" in stderr, stderr


CLASS_LINE = re.compile(r"(?P<path>.+): (?P<name>[a-z]+) \(p=(?P<p>[01]\.\d{3})\)")


def test_predict_photos_with_a_cifar_network(cli, cifar_run, cifar10_dir, tmp_path):
    from minicnn.data import CIFAR10
    from minicnn.train.datasets import load_split
    from minicnn.train.loading import load_trained_model, trained_statistics
    from minicnn.viz import predict_probabilities

    test_set = CIFAR10(cifar10_dir, train=False)
    paths = []
    for index, image in enumerate(test_set.images[:6]):  # (3, 32, 32) RGB
        picture = Image.fromarray(image.transpose(1, 2, 0))
        paths.append(tmp_path / f"photo-{index}.png")
        picture.save(paths[-1])
    big = Image.fromarray(test_set.images[0].transpose(1, 2, 0)).resize((96, 128))
    big.save(tmp_path / "tall.jpg", quality=90)
    rgba = np.dstack([test_set.images[1].transpose(1, 2, 0), np.full((32, 32), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    status, stdout, stderr = cli(["predict", str(cifar_run.path), *map(str, paths),
                                  str(tmp_path / "tall.jpg"), str(tmp_path / "opaque.png")])
    assert status == 0, stderr
    matches = [CLASS_LINE.fullmatch(line) for line in stdout.splitlines()]
    assert len(matches) == 8 and all(matches), stdout
    assert all(match["name"] in CIFAR10.classes for match in matches)
    # A 32x32 photo is the image itself: the network's answer on the normalised test image.
    model, weights = load_trained_model(cifar_run.path)
    normalised = load_split("cifar10", str(cifar10_dir), False, np.float32,
                            statistics=trained_statistics(weights))
    expected = predict_probabilities(model, normalised.get_batch(np.arange(6))[0])
    assert [match["name"] for match in matches[:6]] == [
        CIFAR10.classes[label] for label in expected.argmax(axis=1)]
    for match, row in zip(matches[:6], expected):
        assert float(match["p"]) == pytest.approx(row.max(), abs=5e-4)
    assert matches[7]["name"] == matches[1]["name"], "an opaque RGBA PNG reads as its RGB"
