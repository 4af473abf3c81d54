"""The page in a real browser: headless Chromium (Debian's ``chromium``, which ``.ci/run``
installs) driven by Playwright, against a real server on 127.0.0.1.

Draw a "1" with the mouse and read the prediction and the bar chart; click a unit of the first
convolution and read its sum; run ten live training steps and watch the loss curve grow. Each
test saves screenshots in its temporary folder. Without Chromium (or Playwright) the tests are
skipped, saying why, except in CI (``CI`` set), where they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from minicnn.explore.session import Explorer

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
TIMEOUT_MS = 60_000  # a busy shared machine


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (the test extra has it)")
    with sync_playwright() as playwright:
        # Debian's Chromium, never a browser downloaded by `playwright install`.
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page_url(mnist_dir, tmp_path_factory):
    """A server of its own explorer (the browser trains it), with MNIST."""
    from minicnn.explore.server import prepare

    explorer = Explorer.from_run(data_dir=mnist_dir, out_dir=tmp_path_factory.mktemp("saved"))
    serving = prepare(explorer, "127.0.0.1", 0, log=lambda line: None)
    yield serving.start()
    serving.stop()
    explorer.close()


@pytest.fixture
def page(browser, page_url, tmp_path):
    # bypass_csp: the page's policy forbids eval, which Playwright's wait_for_function uses.
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console: {message.text}")
            if message.type == "error" else None)
    page.goto(page_url)
    wait_idle(page)
    yield page
    page.screenshot(path=str(tmp_path / "last.png"))
    context.close()
    assert not problems, "the page reported errors:\n" + "\n".join(problems)


def wait_idle(page) -> None:
    """Until the page has shown the answers to everything asked so far."""
    page.wait_for_function("document.body.dataset.idle === 'true'")


def draw(page, points) -> None:
    """A stroke through ``points`` (0-1 coordinates of the drawing pad), with the mouse."""
    box = page.locator("#draw-canvas").bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()


def test_draw_a_one_and_see_the_prediction(page, tmp_path):
    page.screenshot(path=str(tmp_path / "loaded.png"))
    assert page.locator("#prediction").get_attribute("data-class") == "7", (
        "the page opens on test image 0, a 7")
    draw(page, [(0.5, 0.15), (0.49, 0.5), (0.48, 0.85)])
    page.wait_for_function("document.getElementById('prediction').dataset.class === '1'")
    wait_idle(page)
    page.screenshot(path=str(tmp_path / "drawn-one.png"))
    bars = page.locator("#probabilities rect.bar")
    assert bars.count() == 10, "one bar per class"
    predicted = page.locator("#probabilities rect.bar.predicted")
    assert predicted.get_attribute("data-class") == "1"
    heights = [float(bars.nth(k).get_attribute("height")) for k in range(10)]
    assert max(heights) == heights[1], "the tallest bar is the 1's"
    assert "drawing" in page.locator("#input-caption").inner_text()


def test_click_a_unit_of_the_first_convolution_and_read_its_sum(page, tmp_path):
    canvas = page.locator('canvas[data-layer="features.0"][data-channel="2"]')
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
    page.wait_for_selector("#unit-forward .equation")
    wait_idle(page)
    page.screenshot(path=str(tmp_path / "unit.png"))
    text = page.locator("#unit-forward .equation").inner_text()
    number = r"(-?\d[\d.]*(?:e-?\d+)?)"
    found = [re.search(pattern + number, text) for pattern in (
        r"Σ of 25 products = ", r"\+ bias ", r"\n= ", r"float32 output: ")]
    assert all(found), f"the sum, the bias, their total and the unit's value in: {text}"
    products, bias, total, value = (float(match.group(1)) for match in found)
    assert products + bias == pytest.approx(total, abs=1e-6), "the sum plus the bias, as shown"
    assert total == pytest.approx(value, abs=1e-5), (
        "equal to the unit's float32 value, up to rounding")
    assert page.locator('.layer[data-layer="input"]').get_attribute("class").count("source"), (
        "the receptive field is outlined in the layer below: the input")
    assert page.locator("#unit-forward table.numbers").count() == 3, "window, kernel, products"


def test_ten_live_training_steps_grow_the_loss_curve(page, tmp_path):
    assert page.locator("#loss-curve polyline.loss").count() == 0, "no steps yet"
    page.fill("#train-steps", "10")
    page.click("#train-step")
    page.wait_for_function(
        "document.getElementById('train-count').dataset.steps === '10'"
        " && document.querySelector('#loss-curve polyline.loss')?.dataset.points === '10'")
    wait_idle(page)
    points = page.locator("#loss-curve polyline.loss").get_attribute("points").split()
    assert len(points) == 10, "one point per step"
    page.screenshot(path=str(tmp_path / "trained.png"))
    page.click("#mode-backward")
    wait_idle(page)
    assert page.locator("#flow rect.mean").count() == 12, "gradient flow: one bar per layer"
    assert page.locator("#loss-value").inner_text().startswith("loss ")
    page.screenshot(path=str(tmp_path / "backward.png"))
