"""See backprop happen: an interactive explorer of a network, in the browser.

``minicnn explore [RUN_DIR]`` serves a page on a trained network (a run directory of
``minicnn train``; without one, the LeNet-5 that ships with minicnn). Draw a digit or pick a
test image and follow it through every layer: each layer's output maps, the softmax; click a
unit to see its window, kernel, products and sum; pick a target class to see ``dLoss/d
output`` of every layer, the filters' gradients, the input's saliency, the gradient flow, and
how one unit's gradient was added up from the windows it took part in; train live and watch
it all change. Every number is computed by minicnn's own layers in the server; the page only
draws.

Modules: :mod:`~minicnn.explore.session` (the :class:`Explorer`: network, data, lock, answers),
:mod:`~minicnn.explore.trace` (one pass with every module watched by hooks),
:mod:`~minicnn.explore.describe` (the model as a tree the page draws),
:mod:`~minicnn.explore.units` (the arithmetic of one unit, per layer type),
:mod:`~minicnn.explore.live` (the training thread), :mod:`~minicnn.explore.inputs` (drawings
and test images), :mod:`~minicnn.explore.arrays` (arrays in JSON), :mod:`~minicnn.explore.app`
(HTTP, limits, errors) and :mod:`~minicnn.explore.server` (uvicorn, Ctrl-C). The page is
``static/``: plain JavaScript modules, no build step.

The JSON API
============

The page uses only this API, so a notebook or a test can use it too (or call the
:class:`Explorer` methods of the same names directly, without HTTP). POST bodies are JSON
(``Content-Type: application/json``, at most 4 MiB); every error is ``{"error": "..."}`` with a
4xx status (see :mod:`minicnn.explore.app`).

**Arrays** are ``{"shape": [...], "dtype": "float32", "data": "<base64>"}``: the raw
little-endian bytes of the array, exactly the values minicnn computed
(:func:`decode_array` reads them back). The batch axis is dropped: a layer's output is
``(C, H, W)`` or ``(F,)``.

**Inputs.** Every request about an image carries ``"input"``, one of:

- ``{"png": "<base64 PNG or JPEG, or a data: URL>"}``: a drawing or photo of a digit, any size
  up to 2048 pixels a side, either polarity; converted as ``minicnn predict`` converts images
  (20x20 box, centred by mass in 28x28) and normalised with the training set's statistics;
- ``{"pixels": [[grey, ...], ...]}``: the same from grey levels 0-255;
- ``{"test_index": n}``: test image ``n`` as the dataset stores it (409 without the dataset).

``GET /api/model``
    ``{"model", "source", "about", "repr", "parameters", "input": {"shape", "mean", "std",
    "drawing_matches_training", "dataset", "dtype"}, "classes", "test_images": {"count",
    "reason"}, "training": {"available", "reason", "can_save"}, "tree", "model_version"}``.
    ``tree`` is
    the network as nodes (see :mod:`minicnn.explore.describe`): ``{"name", "label", "type",
    "repr", "kind": "layer" | "sequence" | "block", "ran", "calls", "input_shape",
    "output_shape", "parameters": {name: shape}}``, plus ``"explains"`` and ``"source"`` for a
    layer, ``"children"`` and ``"own_output"`` for the others.

``POST /api/forward``
    ``{"input": ..., "parameters": false}`` -> ``{"model_version", "input": {"frame": the
    uint8 image (C, H, W), "tensor": the normalised input, "label": int or null, "origin"},
    "outputs": {layer name: array}, "logits", "probabilities", "prediction"}``, and
    ``"parameters": {"features.0.weight": array, ...}`` when asked. ``outputs`` holds every
    layer, and each block whose output is its own.

``POST /api/backward``
    ``{"input": ..., "target": k | "label" | "prediction", "parameters": false}``: the
    cross-entropy loss of class ``target`` (default: the predicted class; ``"label"``: a
    test image's true class) and its gradients: ``{"model_version", "target", "label",
    "loss", "logits", "probabilities", "prediction", "gradients": {"input": dLoss/d input,
    layer name: dLoss/d output}, "saliency": max over channels of |dLoss/d input|, "flow":
    [{"name", "kind", "mean_abs", "max_abs", "zero_fraction"}, ...] (the gradient-flow
    measures of :mod:`minicnn.viz.gradient_flow`, one per layer in forward order)}``, and
    ``"parameter_gradients": {name: dLoss/d parameter}`` when asked.

``POST /api/unit``
    ``{"input": ..., "layer": "features.0" | "input", "index": [c, i, j] or [j], "target":
    optional}``: how one unit of a layer's output was computed: ``{"layer", "index",
    "value", "forward": {"kind", "reads", ...}, "model_version", "target"}``.
    ``forward.kind`` says which breakdown follows (:mod:`minicnn.explore.units`): ``conv2d``
    (``patch``, ``kernel``, ``products``, ``sum``, ``bias``, ``total``, ``value``,
    ``difference``), ``linear`` (the same over ``inputs`` and ``weights``), ``max_pool2d``
    (``patch``, ``winner``), ``avg_pool2d`` (``patch``, ``divisor``), ``elementwise``
    (``input``, ``value``, ``formula``), ``flatten`` (``source``), ``batch_norm``, ``input``
    (``pixel``), or ``values`` (no arithmetic view for that layer type). ``reads`` is the
    window of the layer below (``{"channels", "rows", "cols"}``, ``{"indices"}`` or
    ``{"all": true}``). With a ``target``, ``"backward"`` adds how ``dLoss/d unit`` was
    assembled: ``{"value", "parts", "sum", "difference"}``, one part per layer that read the
    unit (``conv2d``: the sum over the windows it took part in, ``offsets`` per output
    channel; ``max_pool2d``: the windows it won; ``linear``, ``elementwise``, ``flatten``;
    ``cross_entropy`` for the logits; ``block`` for a block whose forward also used it).

``GET /api/train?since=N``
    The live trainer: ``{"available", "reason", "running", "steps", "lr", "momentum",
    "batch_size", "started_from", "error", "records": [{"step", "loss", "accuracy",
    "test_accuracy"}, ...] (the steps after N), "model_version"}``.

``POST /api/train``
    ``{"action": "start" | "pause" | "step" | "reset" | "configure", "steps": n, "weights":
    "run" | "random", "lr", "momentum", "batch_size"}``: start or pause SGD on the training
    set, take ``steps`` steps (1-1000), or reset the weights to the run's or to a fresh
    random initialisation; ``lr``, ``momentum`` and ``batch_size`` may come with any action.
    Answers as ``GET``. Training changes the explorer's copy of the network in memory, never
    the run directory; ``model_version`` changes with every step.

``POST /api/save``
    ``{}``: writes the weights as they are into a NEW run directory under ``--out-dir``,
    atomically: ``{"path", "live_steps"}``. ``minicnn evaluate PATH`` and
    ``minicnn explore PATH`` read it.

Example (a notebook, no server)::

    from minicnn.explore import Explorer, decode_array
    explorer = Explorer.from_run(data_dir="data/mnist")   # the shipped LeNet-5
    answer = explorer.backward({"input": {"test_index": 7}, "target": "label"})
    decode_array(answer["gradients"]["features.0"]).shape   # (6, 28, 28)
"""

from __future__ import annotations

from minicnn.explore.arrays import decode_array, encode_array
from minicnn.explore.errors import RequestError, UnavailableError
from minicnn.explore.session import Explorer

__all__ = ["Explorer", "RequestError", "UnavailableError", "decode_array", "encode_array"]
