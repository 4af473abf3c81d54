"""minicnn.data.digit_image: any picture of a digit -> an MNIST-style 28x28 frame.

MNIST's recipe: white on black, the digit scaled into a 20x20 box keeping its aspect ratio,
placed in 28x28 with its centre of mass at the centre. Real MNIST digits, re-saved at other
sizes and polarities, must come back close to what they were.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from minicnn.data.digit_image import load_digit_image, to_mnist_frame
from minicnn.data.idx import read_idx


@pytest.fixture(scope="module")
def mnist_digits(mnist_dir):
    return read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:200]


def centre_of_mass(frame: np.ndarray) -> tuple[float, float]:
    weights = frame.astype(np.float64)
    rows, cols = np.indices(frame.shape)
    return (rows * weights).sum() / weights.sum(), (cols * weights).sum() / weights.sum()


def ink_box(frame: np.ndarray, threshold: int = 0) -> tuple[int, int]:
    rows = np.flatnonzero((frame > threshold).any(axis=1))
    cols = np.flatnonzero((frame > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


def upscale(digit: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(digit).resize(size, Image.Resampling.BICUBIC))


@settings(max_examples=30)
@given(index=st.integers(0, 199), scale=st.integers(2, 12), inverted=st.booleans(),
       stretch=st.sampled_from([1.0, 0.8, 1.25]))
def test_an_upscaled_mnist_digit_comes_back_as_mnist(mnist_digits, index, scale, inverted,
                                                      stretch):
    digit = mnist_digits[index]
    picture = upscale(digit, (28 * scale, round(28 * scale * stretch)))
    if inverted:
        picture = 255 - picture
    frame = to_mnist_frame(picture)
    assert frame.shape == (28, 28) and frame.dtype == np.uint8
    row, col = centre_of_mass(frame)
    # MNIST's own: whole-pixel shifts that bring the centre of mass nearest to (14, 14).
    assert 13.4 <= row <= 14.6 and 13.4 <= col <= 14.6, (row, col)
    height, width = ink_box(frame, threshold=30)
    assert max(height, width) <= 21, (height, width)
    assert max(height, width) >= 17, (height, width)
    # Light digit on a dark ground whichever way it came in, and like the original (a digit
    # narrower than 20 pixels is scaled by its height, so a stretch changes it a little).
    assert frame[0].max() == 0 and frame[:, 0].max() == 0
    assert frame.max() >= 200
    assert correlation(frame, digit) > (0.65 if stretch == 1.0 else 0.4)


def test_mnist_digits_survive_the_round_trip(mnist_digits):
    """MNIST digits already follow the recipe, so re-framing a 2x copy nearly reproduces them."""
    correlations = [correlation(to_mnist_frame(upscale(digit, (56, 56))), digit)
                    for digit in mnist_digits[:100]]
    assert np.median(correlations) > 0.9, np.median(correlations)
    assert np.min(correlations) > 0.6, np.min(correlations)


def test_centre_of_mass_matches_mnist(mnist_digits):
    frames = np.stack([to_mnist_frame(upscale(digit, (84, 84))) for digit in mnist_digits[:100]])
    ours = np.array([centre_of_mass(frame) for frame in frames])
    theirs = np.array([centre_of_mass(digit) for digit in mnist_digits[:100]])
    np.testing.assert_allclose(ours.mean(axis=0), theirs.mean(axis=0), atol=0.15)


def test_polarity_does_not_matter(mnist_digits):
    picture = upscale(mnist_digits[3], (84, 84))
    np.testing.assert_array_equal(to_mnist_frame(picture), to_mnist_frame(255 - picture))


def test_float_images_in_any_range_and_a_single_dot(mnist_digits):
    picture = upscale(mnist_digits[0], (56, 56)).astype(np.float64) / 255
    np.testing.assert_array_equal(to_mnist_frame(picture * 1000),
                                  to_mnist_frame(picture * 255))
    dot = np.zeros((9, 9))
    dot[4, 4] = 1.0
    frame = to_mnist_frame(dot)
    assert frame.shape == (28, 28) and frame.max() == 255
    assert centre_of_mass(frame) == pytest.approx((14.0, 14.0), abs=0.5)


def test_a_long_thin_stroke_keeps_its_aspect_ratio():
    stroke = np.zeros((100, 300), np.uint8)
    stroke[45:55, 20:280] = 255  # a 10x260 horizontal bar: a "1" lying down
    frame = to_mnist_frame(stroke)
    height, width = ink_box(frame, threshold=60)
    assert width == 20 and height <= 2, (height, width)


@pytest.mark.parametrize("blank", [np.zeros((30, 30)), np.full((5, 8), 200.0)])
def test_a_blank_image_is_an_error(blank):
    with pytest.raises(ValueError, match="to_mnist_frame: the image is blank"):
        to_mnist_frame(blank)


@pytest.mark.parametrize("shape", [(28,), (28, 28, 3), (0, 5)])
def test_not_a_2d_grey_image_is_an_error(shape):
    with pytest.raises(ValueError, match=r"to_mnist_frame: expected a 2D grey image, got shape"):
        to_mnist_frame(np.zeros(shape))


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("form", ["png-L", "png-RGB", "jpeg", "png-RGBA", "png-LA"])
def test_image_files_of_every_common_form_load_alike(mnist_digits, tmp_path, form):
    digit = mnist_digits[7]
    picture = upscale(digit, (70, 70))
    ink_on_paper = 255 - picture
    path = tmp_path / ("digit.jpg" if form == "jpeg" else "digit.png")
    if form == "png-L":
        Image.fromarray(picture).save(path)
    elif form == "png-RGB":
        Image.fromarray(np.stack([ink_on_paper] * 3, axis=-1)).save(path)
    elif form == "jpeg":
        Image.fromarray(ink_on_paper).convert("RGB").save(path, quality=80)
    elif form == "png-RGBA":  # black ink, the stroke in the alpha channel, no background
        rgba = np.zeros((70, 70, 4), np.uint8)
        rgba[..., 3] = picture
        Image.fromarray(rgba, "RGBA").save(path)
    else:  # grey + alpha, ink colour black
        la = np.stack([np.zeros_like(picture), picture], axis=-1)
        Image.fromarray(la, "LA").save(path)
    frame = load_digit_image(path)
    assert frame.shape == (28, 28) and frame.dtype == np.uint8
    reference = to_mnist_frame(picture)
    assert correlation(frame, reference) > 0.97, form
    assert correlation(frame, digit) > 0.8, form


def test_a_file_that_is_not_an_image_is_a_value_error(tmp_path):
    path = tmp_path / "digit.png"
    path.write_text("hello, I am text")
    with pytest.raises(ValueError, match=r"digit\.png: not an image Pillow can read"):
        load_digit_image(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.png: no such image file"):
        load_digit_image(tmp_path / "missing.png")


def test_a_blank_image_file_is_an_error(tmp_path):
    Image.new("L", (40, 40), 255).save(tmp_path / "white.png")
    with pytest.raises(ValueError, match="blank"):
        load_digit_image(tmp_path / "white.png")
