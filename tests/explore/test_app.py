"""The explorer's JSON API, through Starlette's TestClient: its numbers are minicnn's own
(``minicnn predict``'s forward, ``model.backward``'s gradients), a unit's products add up to
its value, and a malformed request is a 4xx that leaves the server serving."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicnn.cli import main
from minicnn.data.digit_image import load_digit_image, normalize_frames
from minicnn.data.idx import read_idx
from minicnn.data.transforms import MNIST_MEAN, MNIST_STD
from minicnn.explore.arrays import decode_array
from minicnn.explore.session import SHIPPED_WEIGHTS, Explorer
from minicnn.functional.activation import softmax
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.train.loading import load_trained_model
from tests.helpers import assert_close

LAYERS = ["features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
          "classifier.0", "classifier.1", "classifier.2", "classifier.3", "classifier.4",
          "classifier.5"]


def predict_cli(*argv: str) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["predict", *argv])
    assert status == 0, f"minicnn predict failed with status {status}"
    return stdout.getvalue()


def test_model_describes_lenet5_layer_by_layer(client):
    response = client.get("/api/model")
    assert response.status_code == 200, response.text
    model = response.json()
    assert model["model"] == "LeNet5"
    assert model["parameters"] == 61706, "LeNet-5 has 61,706 parameters"
    assert model["about"]["test_accuracy"] == 0.9921, "the shipped weights' measured accuracy"
    assert model["input"]["shape"] == [1, 28, 28]
    assert model["test_images"]["count"] == 10000
    assert model["training"]["available"] is True
    features, classifier = model["tree"]["children"]
    assert [node["name"] for node in features["children"]] == LAYERS[:6]
    assert [node["explains"] for node in classifier["children"]] == [
        "flatten", "linear", "elementwise", "linear", "elementwise", "linear"]


def test_forward_of_a_drawing_equals_minicnn_predict(client, seven_png, as_input, tmp_path):
    response = client.post("/api/forward", json={"input": as_input(seven_png)})
    assert response.status_code == 200, response.text
    answer = response.json()
    path = tmp_path / "seven.png"
    path.write_bytes(seven_png)
    frame = load_digit_image(path)
    np.testing.assert_array_equal(decode_array(answer["input"]["frame"])[0], frame,
                                  err_msg="the page's preprocessing is minicnn predict's")
    model, _ = load_trained_model(SHIPPED_WEIGHTS)
    expected = softmax(model(normalize_frames(frame[None], np.float32, MNIST_MEAN, MNIST_STD)),
                       dim=1)[0]
    assert_close(np.array(answer["probabilities"], np.float32), expected, np.float32,
                 "softmax of the explorer's forward vs minicnn predict's")
    printed = re.search(r": (\d) \(p=([\d.]+)\)", predict_cli(str(SHIPPED_WEIGHTS), str(path)))
    assert answer["prediction"] == int(printed.group(1)) == 7, "both read the drawing as a 7"
    assert f"{answer['probabilities'][7]:.3f}" == printed.group(2)


def test_forward_outputs_are_every_layers_output(client, mnist_dir):
    answer = client.post("/api/forward", json={"input": {"test_index": 5}}).json()
    assert list(answer["outputs"]) == LAYERS, "every layer, in forward order"
    image = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[5]
    model, _ = load_trained_model(SHIPPED_WEIGHTS)
    x = normalize_frames(image[None], np.float32, MNIST_MEAN, MNIST_STD)
    for name in LAYERS:
        layer = dict(model.named_modules())[name]
        x = layer(x)
        assert_close(decode_array(answer["outputs"][name]), x[0], np.float32, name)
    assert answer["input"]["label"] == int(read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[5])


def test_backward_gradients_equal_model_backward(client, mnist_dir):
    response = client.post("/api/backward", json={"input": {"test_index": 3}, "target": 5,
                                                   "parameters": True})
    assert response.status_code == 200, response.text
    answer = response.json()
    image = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[3]
    model, _ = load_trained_model(SHIPPED_WEIGHTS)
    grad_outputs = {}
    modules = dict(model.named_modules())
    for name in LAYERS:
        modules[name].register_full_backward_hook(
            lambda module, grad_input, grad_output, name=name:
            grad_outputs.__setitem__(name, grad_output[0]))
    loss_fn = CrossEntropyLoss()
    x = normalize_frames(image[None], np.float32, MNIST_MEAN, MNIST_STD)
    loss = loss_fn(model(x), np.array([5]))
    input_grad = model.backward(loss_fn.backward())
    assert answer["loss"] == pytest.approx(float(loss), rel=1e-5)
    assert answer["target"] == 5
    assert_close(decode_array(answer["gradients"]["input"]), input_grad[0], np.float32, "input")
    for name in LAYERS:
        assert_close(decode_array(answer["gradients"][name]), grad_outputs[name][0], np.float32,
                     f"dLoss/d output of {name}")
    for name, parameter in model.named_parameters():
        assert_close(decode_array(answer["parameter_gradients"][name]), parameter.grad,
                     np.float32, f"dLoss/d {name}")
    assert [record["name"] for record in answer["flow"]] == LAYERS
    for record in answer["flow"]:
        magnitude = np.abs(grad_outputs[record["name"]].astype(np.float64))
        assert record["mean_abs"] == pytest.approx(magnitude.mean(), rel=1e-6)
        assert record["zero_fraction"] == pytest.approx(np.mean(magnitude == 0))


def test_backward_targets_the_label_or_the_prediction(client, seven_png, as_input):
    labelled = client.post("/api/backward", json={"input": {"test_index": 0},
                                                  "target": "label"}).json()
    assert labelled["target"] == labelled["label"] == 7, "test image 0 is a 7"
    drawn = client.post("/api/backward", json={"input": as_input(seven_png)}).json()
    assert drawn["target"] == drawn["prediction"], "the default target is the prediction"
    refused = client.post("/api/backward", json={"input": as_input(seven_png),
                                                 "target": "label"})
    assert refused.status_code == 400 and "label" in refused.json()["error"]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_units_products_sum_to_its_value(client, data):
    layer = data.draw(st.sampled_from(["features.0", "features.3", "classifier.1",
                                       "classifier.3", "classifier.5"]), label="layer")
    model = client.get("/api/model").json()
    shape = next(node for group in model["tree"]["children"] for node in group["children"]
                 if node["name"] == layer)["output_shape"]
    index = [data.draw(st.integers(0, size - 1), label="index") for size in shape]
    answer = client.post("/api/unit", json={"input": {"test_index": data.draw(
        st.integers(0, 9999), label="image")}, "layer": layer, "index": index}).json()
    forward = answer["forward"]
    products = np.array(forward["products"], np.float64)
    bias = forward["bias"] or 0.0
    scale = np.abs(products).sum() + abs(bias)
    assert products.sum() == pytest.approx(forward["sum"], rel=1e-12), "the shown sum"
    assert products.sum() + bias == pytest.approx(answer["value"], abs=1e-6 * scale), (
        f"{layer} {index}: the products plus the bias are the layer's output")
    if layer.startswith("features"):
        window = np.array(forward["patch"], np.float64) * np.array(forward["kernel"], np.float64)
        np.testing.assert_allclose(products, window, rtol=1e-6, atol=1e-12,
                                   err_msg="each product is window x kernel")


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_units_gradient_is_the_sum_of_its_parts(client, data):
    layer = data.draw(st.sampled_from(["input", *LAYERS]), label="layer")
    shapes = {"input": [1, 28, 28]}
    for group in client.get("/api/model").json()["tree"]["children"]:
        shapes.update({node["name"]: node["output_shape"] for node in group["children"]})
    index = [data.draw(st.integers(0, size - 1), label="index") for size in shapes[layer]]
    target = data.draw(st.integers(0, 9), label="target")
    answer = client.post("/api/unit", json={"input": {"test_index": 11}, "layer": layer,
                                            "index": index, "target": target}).json()
    backward = answer["backward"]
    assert len(backward["parts"]) == 1, "LeNet-5 never forks: one layer reads each array"
    (part,) = backward["parts"]
    assert part["sum"] == pytest.approx(backward["value"], abs=1e-5 * _magnitude(part) + 1e-30), (
        f"{layer} {index}: the terms add up to the gradient the backward computed")
    assert backward["sum"] == pytest.approx(backward["value"], rel=1e-6, abs=1e-30), (
        "the parts add up to the gradient")


def _magnitude(part: dict) -> float:
    """The sum of the absolute values of a part's terms: the scale of its rounding."""
    if part["kind"] == "conv2d":
        return sum(abs(v) for grid in part["offsets"] for row in grid for v in row if v)
    if part["kind"] == "linear":
        return float(np.abs(np.array(part["products"], np.float64)).sum())
    if part["kind"] == "max_pool2d":
        return sum(abs(window["grad"]) for window in part["windows"] if window["won"])
    return abs(part["sum"])


# ---------------------------------------------------------------- malformed requests
def _png(width: int, height: int, value: int = 0) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height), value).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8)

_bad_inputs = st.one_of(
    _json_values.filter(lambda value: not isinstance(value, dict)),
    st.just({}),
    st.fixed_dictionaries({"png": _json_values.filter(lambda value: not isinstance(value, str))}),
    st.fixed_dictionaries({"png": st.text(max_size=40)}),  # not base64, or not an image
    st.binary(min_size=1, max_size=60).map(
        lambda raw: {"png": base64.b64encode(raw).decode()}),
    st.just({"png": _png(28, 28)}),  # blank
    st.just({"png": _png(4000, 10, 255)}),  # too large
    st.just({"png": _png(64, 64)[:-12]}),  # cut short
    st.fixed_dictionaries({"pixels": _json_values.filter(  # never rows of numbers
        lambda value: not (isinstance(value, list) and value
                           and all(isinstance(row, list) for row in value)))}),
    st.just({"pixels": [[0, 1], [2]]}),
    st.just({"pixels": [[0, 300]]}),
    st.fixed_dictionaries({"test_index": st.one_of(
        st.integers(max_value=-1), st.integers(min_value=10000), st.floats(), st.text(),
        st.booleans())}),
    st.fixed_dictionaries({"test_index": st.just(1), "png": st.just("x")}),
    st.dictionaries(st.text(max_size=6).filter(
        lambda key: key not in ("png", "pixels", "test_index")), _json_values,
        min_size=1, max_size=2),
)
_good_input = {"test_index": 1}


@st.composite
def malformed_requests(draw):
    """``(path, body bytes, content type)``: each with at least one defect."""
    defect = draw(st.sampled_from([
        "not json", "not an object", "wrong content type", "bad input", "unknown field",
        "bad layer", "bad index", "bad target", "bad action", "bad setting", "bad steps",
        "bad parameters"]))
    path = draw(st.sampled_from(["/api/forward", "/api/backward", "/api/unit", "/api/train"]))
    body = {"/api/train": {"action": "pause"}}.get(path, {"input": _good_input})
    if path == "/api/unit":
        body.update(layer="features.0", index=[0, 0, 0])
    content_type = "application/json"
    if defect == "not json":
        raw = draw(st.binary(max_size=30).filter(lambda raw: not _parses(raw)))
        return path, raw, content_type
    if defect == "not an object":
        value = draw(_json_values.filter(lambda value: not isinstance(value, dict)))
        return path, json.dumps(value).encode(), content_type
    if defect == "wrong content type":
        content_type = draw(st.sampled_from(["text/plain", "application/x-www-form-urlencoded",
                                             "multipart/form-data", ""]))
    elif defect == "bad input" and path != "/api/train":
        body["input"] = draw(_bad_inputs)
    elif defect == "bad layer" and path == "/api/unit":
        body["layer"] = draw(st.one_of(
            st.text(max_size=12).filter(lambda name: name not in LAYERS + ["input", "features",
                                                                           "classifier"]),
            _json_values.filter(lambda value: not isinstance(value, str))))
    elif defect == "bad index" and path == "/api/unit":
        body["index"] = draw(st.one_of(
            st.lists(st.integers(), max_size=2), st.lists(st.integers(), min_size=4, max_size=5),
            st.tuples(st.integers(6, 99), st.integers(0, 27), st.integers(0, 27)).map(list),
            st.tuples(st.integers(0, 5), st.integers(28, 99), st.integers(-9, -1)).map(list),
            _json_values.filter(lambda value: not isinstance(value, list))))
    elif defect == "bad target" and path in ("/api/backward", "/api/unit"):
        body["target"] = draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=10),
                                        st.text(max_size=8).filter(
                                            lambda text: text not in ("label", "prediction")),
                                        st.floats(), st.none(), st.lists(st.integers())))
    elif defect == "bad action" and path == "/api/train":
        body["action"] = draw(_json_values.filter(
            lambda value: value not in ("start", "pause", "step", "reset", "configure")))
    elif defect == "bad setting" and path == "/api/train":
        name = draw(st.sampled_from(["lr", "momentum", "batch_size", "weights"]))
        body[name] = draw({
            "lr": st.one_of(st.floats(max_value=0), st.floats(min_value=10.001), st.text()),
            "momentum": st.one_of(st.floats(max_value=-0.001), st.floats(min_value=1), st.none()),
            "batch_size": st.one_of(st.integers(max_value=0), st.integers(min_value=1025),
                                    st.floats()),
            "weights": st.text(max_size=6).filter(lambda text: text not in ("run", "random")),
        }[name])
    elif defect == "bad parameters" and path in ("/api/forward", "/api/backward"):
        body["parameters"] = draw(_json_values.filter(lambda value: not isinstance(value, bool)))
    elif defect == "bad steps" and path == "/api/train":
        body.update(action="step", steps=draw(st.one_of(st.integers(max_value=0),
                                                        st.integers(min_value=1001),
                                                        st.floats(), st.text())))
    else:
        known = {"input", "parameters", "target", "layer", "index", "action", "steps",
                 "weights", "lr", "momentum", "batch_size"}
        unknown = draw(st.text(min_size=1, max_size=8).filter(lambda key: key not in known))
        body[unknown] = draw(_json_values)
    return path, json.dumps(body).encode(), content_type


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
@given(request=malformed_requests())
def test_malformed_requests_get_a_4xx_and_the_server_keeps_serving(client, request):
    path, body, content_type = request
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (
        f"{path} {body[:200]!r}: expected a 4xx, got {response.status_code} {response.text}")
    assert response.json()["error"], "the error says what was wrong"
    assert client.get("/api/train").json()["running"] is False, "nothing started training"


def test_the_server_keeps_serving_after_errors(client):
    assert client.post("/api/unit", json={"input": {"test_index": 0}, "layer": "features.9",
                                          "index": [0]}).status_code == 400
    answer = client.post("/api/forward", json={"input": {"test_index": 0}})
    assert answer.status_code == 200 and answer.json()["prediction"] == 7


def test_limits_and_refusals(client):
    too_big = client.post("/api/forward", content=b"{" + b" " * (4 * 2**20) + b"}",
                          headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413, "a body over 4 MiB is refused"
    assert client.post("/api/save", content=b"{}").status_code == 415, "a save needs JSON"
    assert client.get("/api/forward").status_code == 405
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/api/train?since=x").status_code == 400
    rebinding = client.get("/api/model", headers={"Host": "attacker.example"})
    assert rebinding.status_code == 400, "only the address it serves"
    page = client.get("/")
    assert page.status_code == 200 and "<canvas id=\"draw-canvas\"" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.get("/static/js/main.js").status_code == 200
    assert client.get("/static/../session.py").status_code == 404


def test_without_mnist_the_picker_and_training_are_unavailable(tmp_path, seven_png, as_input):
    from starlette.testclient import TestClient

    from minicnn.explore.app import create_app

    explorer = Explorer.from_run(data_dir=tmp_path, out_dir=tmp_path / "saved")
    try:
        with TestClient(create_app(explorer), base_url="http://127.0.0.1") as client:
            model = client.get("/api/model").json()
            assert model["test_images"]["count"] == 0
            assert "--data-dir" in model["test_images"]["reason"], "says how to get them"
            assert model["training"]["available"] is False
            missing = client.post("/api/forward", json={"input": {"test_index": 0}})
            assert missing.status_code == 409 and "no test images" in missing.json()["error"]
            assert client.post("/api/train", json={"action": "start"}).status_code == 409
            drawn = client.post("/api/forward", json={"input": as_input(seven_png)})
            assert drawn.status_code == 200, "drawing works without any data"
    finally:
        explorer.close()
