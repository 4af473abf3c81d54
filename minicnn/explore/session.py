"""The explorer itself: one network in memory and the questions the page asks of it.

:class:`Explorer` holds the network (a copy of the weights it was started from: the run
directory is read once and never written), the test images and the live trainer when a
dataset is at hand, and a lock: a minicnn layer caches its input between forward and
backward, so only one pass may use the network at a time. Each pass runs BLAS on one thread
in whichever thread serves it (:mod:`minicnn.explore.threads` says why). Each public method
answers one API request with a JSON-ready ``dict`` and raises
:class:`~minicnn.explore.errors.RequestError` (a malformed request) or
:class:`~minicnn.explore.errors.UnavailableError` (no data, say); the HTTP layer
(:mod:`minicnn.explore.app`) only adds the transport. A notebook can call the methods
directly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minicnn import random as minicnn_random
from minicnn.explore.arrays import encode_array
from minicnn.explore.describe import describe_model
from minicnn.explore.errors import RequestError, UnavailableError
from minicnn.explore.inputs import InputSpec, decode_png, pixels_array
from minicnn.explore.live import LiveTrainer
from minicnn.explore.threads import thread_blas
from minicnn.explore.trace import Trace, run_trace
from minicnn.explore.units import explain_unit
from minicnn.functional.activation import softmax
from minicnn.nn.conv import Conv2d
from minicnn.nn.module import Module
from minicnn.viz.gradient_flow import LayerGradient

__all__ = ["SHIPPED_WEIGHTS", "DataSplits", "Explorer", "load_data"]

SHIPPED_WEIGHTS = Path(__file__).parent / "pretrained" / "lenet5-mnist.safetensors"
"""The LeNet-5 that ships with minicnn: the explorer's network when no run is given. Its
accuracy and the command that trained it are in ``lenet5-mnist.json`` beside it."""

EVALUATION_IMAGES = 1000
"""Test images the live trainer scores every few steps (the first ones of the test set)."""

MAX_STEPS_PER_REQUEST = 1000


@dataclass
class DataSplits:
    """What the explorer found of the network's dataset (each part None when missing).

    Attributes:
        test_images: uint8 ``(N, H, W)`` or ``(N, C, H, W)``, as the dataset stores them.
        test_labels: int64 ``(N,)``.
        train_set: the normalised training split, for live training.
        reason: why something is missing, for the page.
    """

    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    train_set: object | None = None
    reason: str | None = None


def load_data(dataset: str, data_dir: str | os.PathLike | None, dtype) -> DataSplits:
    """The test images and the training split of ``dataset`` from ``data_dir`` (or minicnn's
    cache when None), never downloading: the explorer works offline, and without data it hides
    the test-image picker and live training instead of failing."""
    from minicnn.data import DataFileError
    from minicnn.train.datasets import dataset_spec, normalization_statistics, prepare_split

    dataset_class = dataset_spec(dataset).dataset_class
    try:
        test = dataset_class(root=data_dir, train=False, download=False)
        train_split = dataset_class(root=data_dir, train=True, download=False, dtype=dtype)
        statistics = normalization_statistics(dataset, data_dir, train_split)
        train_set = prepare_split(train_split, dataset, statistics)
    except (FileNotFoundError, DataFileError, OSError) as error:
        where = data_dir if data_dir is not None else "minicnn's cache"
        return DataSplits(reason=f"no {dataset} files found in {where} ({error}); pass "
                                 "--data-dir to pick test images and train live")
    return DataSplits(np.asarray(test.images), np.asarray(test.targets), train_set)


def _shipped_about() -> dict:
    return json.loads(SHIPPED_WEIGHTS.with_suffix(".json").read_text())


def _guess_input_shape(model: Module) -> tuple[int, int, int]:
    """``(C, H, W)``: MNIST's 28x28 for one channel, CIFAR's 32x32 for more."""
    first_conv = next((module for module in model.modules() if isinstance(module, Conv2d)),
                      None)
    channels = 1 if first_conv is None else first_conv.in_channels
    return (channels, 28, 28) if channels == 1 else (channels, 32, 32)


def _per_channel(value) -> tuple[float, ...]:
    return tuple(float(v) for v in np.atleast_1d(value))


def _as_int(value, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RequestError(f"{what} must be an integer from {low} to {high}, got {value!r}")
    return value


def _as_float(value, what: str, low: float, high: float, low_open: bool = False) -> float:
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not math.isfinite(value) or value > high or value < low
            or (low_open and value == low)):
        bound = f"more than {low}" if low_open else f"at least {low}"
        raise RequestError(f"{what} must be a number {bound} and at most {high}, got {value!r}")
    return float(value)


def _known_keys(request: dict, allowed: set[str], what: str) -> None:
    unknown = set(request) - allowed
    if unknown:
        raise RequestError(f"{what}: unknown field(s) {sorted(unknown)}; expected some of "
                           f"{sorted(allowed)}")
    if not isinstance(request.get("parameters", False), bool):
        raise RequestError(f'{what}: "parameters" must be true or false, got '
                           f"{request['parameters']!r}")


class Explorer:
    """A network to explore, and the answers to the page's requests.

    Args:
        model: the network. It is copied: the explorer trains and changes only its copy.
        input_spec: the input the network takes and its normalisation.
        classes: the class names, in output order.
        source: where the network came from (a path or a sentence), shown on the page.
        about: facts about the network worth showing (accuracy, the command that trained it).
        model_name, width, dataset: how :func:`minicnn.models.build_model` rebuilds it and
            what it was trained on; needed to save a run (None: saving is refused).
        data: test images and the training split (see :func:`load_data`).
        out_dir: where :meth:`save` creates the new run directory.
        seed: of the live trainer's batch order and of random re-initialisation.

    Example::

        explorer = Explorer.from_run("runs/lenet5-mnist-20261123-101500",
                                     data_dir="data/mnist")
        answer = explorer.forward({"input": {"test_index": 0}})
        answer["prediction"], answer["probabilities"]
    """

    def __init__(self, model: Module, input_spec: InputSpec, classes: list[str], *,
                 source: str, about: dict | None = None, model_name: str | None = None,
                 width: float = 1.0, dataset: str | None = None,
                 data: DataSplits | None = None, out_dir: str | os.PathLike = "runs",
                 seed: int = 0):
        self.model = copy.deepcopy(model).eval()
        self._initial_state = {key: np.array(value, copy=True)
                               for key, value in self.model.state_dict().items()}
        self.input_spec = input_spec
        self.classes = list(classes)
        self.source = source
        self.about = about or {}
        self.model_name, self.width, self.dataset = model_name, width, dataset
        self.data = data or DataSplits(reason="no dataset was given")
        self.out_dir = Path(out_dir)
        self.seed = seed
        self.lock = threading.Lock()
        self._resets = 0
        self._started_from = "the run's weights"
        self.trainer: LiveTrainer | None = None
        if self.data.train_set is not None:
            self.trainer = LiveTrainer(self.model, self.lock, self.data.train_set,
                                       self._evaluation_set(), seed=seed)
        with self.lock, thread_blas():
            # Also compiles the kernels of every layer, before the first request waits for it.
            self._tree = describe_model(self._trace(self._blank_batch(), target=0))

    @classmethod
    def from_run(cls, path: str | os.PathLike | None = None,
                 data_dir: str | os.PathLike | None = None, out_dir: str | os.PathLike = "runs",
                 load_dataset: bool = True) -> Explorer:
        """The network of a run directory or weights file of ``minicnn train``; without
        ``path``, the LeNet-5 that ships with minicnn. Only ``path`` is read (and the dataset
        from ``data_dir``, or the cache, when ``load_dataset``)."""
        from minicnn.train.checkpoint import read_metadata
        from minicnn.train.config import TrainConfig
        from minicnn.train.datasets import dataset_spec
        from minicnn.train.loading import load_trained_model, trained_dataset, trained_statistics

        model, weights = load_trained_model(SHIPPED_WEIGHTS if path is None else path)
        config_path = weights.parent / "config.json"
        config = TrainConfig.load(config_path) if path is not None and config_path.is_file() \
            else None
        dataset = config.dataset if config is not None else trained_dataset(weights)
        dtype = next(model.parameters()).dtype
        data = load_data(dataset, data_dir, dtype) if load_dataset else None
        dataset_type = dataset_spec(dataset).dataset_class
        mean, std = trained_statistics(weights) or (dataset_type.mean, dataset_type.std)
        if data is not None and data.test_images is not None:
            shape = data.test_images.shape[1:]
            shape = (1, *shape) if len(shape) == 2 else shape
        else:
            shape = _guess_input_shape(model)
        spec = InputSpec(tuple(shape), _per_channel(mean), _per_channel(std), np.dtype(dtype))
        if path is None:
            about = _shipped_about()
            source = "the LeNet-5 that ships with minicnn"
        else:
            about = {"weights": str(weights)}
            if config is not None:
                about["trained"] = {key: value for key, value in config.to_dict().items()
                                    if key in ("model", "width", "dataset", "epochs",
                                               "batch_size", "optimizer", "lr", "seed")}
            source = str(Path(path))
        metadata = read_metadata(weights)
        name = metadata.get("minicnn.model") or (config.model if config else None)
        width = float(metadata.get("minicnn.width") or (config.width if config else 1.0))
        return cls(model, spec, list(dataset_type.classes), source=source, about=about,
                   model_name=name, width=width, dataset=dataset, data=data, out_dir=out_dir)

    def close(self) -> None:
        """Stop the live trainer's thread."""
        if self.trainer is not None:
            self.trainer.close()

    # ------------------------------------------------------------------ helpers
    @property
    def version(self) -> int:
        """Changes whenever the weights change (a training step, a reset)."""
        return self._resets + (0 if self.trainer is None else self.trainer.version)

    def _evaluation_set(self):
        if self.data.test_images is None:
            return None
        images = self.data.test_images[:EVALUATION_IMAGES]
        frames = images[:, None] if images.ndim == 3 else images
        batch = np.concatenate([self.input_spec.normalize(frame) for frame in frames])
        return batch, self.data.test_labels[:EVALUATION_IMAGES]

    def _blank_batch(self) -> np.ndarray:
        return self.input_spec.normalize(np.zeros(self.input_spec.shape, np.uint8))

    def _trace(self, batch: np.ndarray, target: int | None = None) -> Trace:
        return run_trace(self.model, batch, target)

    def _read_input(self, request: dict) -> tuple[np.ndarray, int | None, str]:
        """The uint8 frame ``(C, H, W)`` a request asks about, its label (test images) and a
        few words on where it came from."""
        spec = request.get("input")
        if not isinstance(spec, dict) or len(spec) != 1:
            raise RequestError('"input" must be an object with one of "png" (a base64 image), '
                               '"pixels" (rows of grey levels) or "test_index"')
        (kind, value), = spec.items()
        if kind == "png":
            return self.input_spec.frame_from_gray(decode_png(value)), None, "drawing"
        if kind == "pixels":
            return self.input_spec.frame_from_gray(pixels_array(value)), None, "pixels"
        if kind == "test_index":
            if self.data.test_images is None:
                raise UnavailableError(f"no test images: {self.data.reason}")
            index = _as_int(value, "input.test_index", 0, len(self.data.test_images) - 1)
            frame = self.data.test_images[index]
            frame = frame[None] if frame.ndim == 2 else frame
            return frame, int(self.data.test_labels[index]), f"test image {index}"
        raise RequestError(f'unknown input kind {kind!r}: use "png", "pixels" or "test_index"')

    def _target(self, request: dict, label: int | None, batch: np.ndarray) -> int:
        """The class the loss targets; the lock must be held (the prediction needs a pass)."""
        target = request.get("target", "prediction")
        if target == "prediction":
            return int(self._trace(batch).output[0].argmax())
        if target == "label":
            if label is None:
                raise RequestError('target "label" needs a test image (a drawing has no '
                                   "label): pick a class instead")
            return label
        return _as_int(target, "target", 0, len(self.classes) - 1)

    def _shown_calls(self, trace: Trace):
        """The nodes whose arrays the page draws: every layer, and each block whose output is
        its own (not simply its last layer's)."""
        for name, call in trace.calls.items():
            if not name or call.output is None:
                continue
            if call.is_leaf or not any(p.is_leaf for p in trace.producers_of(call.output)):
                yield name, call

    def _parameters(self, gradients: dict | None = None) -> dict:
        if gradients is not None:
            return {name: encode_array(grad) for name, grad in gradients.items()}
        return {name: encode_array(parameter.data)
                for name, parameter in self.model.named_parameters()}

    def _prediction(self, trace: Trace) -> dict:
        probabilities = softmax(trace.output, dim=1)[0]
        return {"logits": [float(v) for v in trace.output[0]],
                "probabilities": [float(v) for v in probabilities],
                "prediction": int(probabilities.argmax())}

    # ------------------------------------------------------------------ the API
    def model_info(self) -> dict:
        """``GET /api/model``: the network's tree, input, classes and what is available."""
        trainer = self.trainer
        return {
            "model": type(self.model).__name__,
            "source": self.source,
            "about": self.about,
            "repr": repr(self.model),
            "parameters": int(sum(p.data.size for p in self.model.parameters())),
            "input": {"shape": list(self.input_spec.shape), "mean": list(self.input_spec.mean),
                      "std": list(self.input_spec.std),
                      "drawing_matches_training": self.input_spec.drawable_as_is,
                      "dataset": self.dataset, "dtype": self.input_spec.dtype.name},
            "classes": self.classes,
            "test_images": {"count": 0 if self.data.test_images is None
                            else len(self.data.test_images),
                            "reason": None if self.data.test_images is not None
                            else self.data.reason},
            "training": {"available": trainer is not None,
                         "reason": None if trainer is not None else self.data.reason,
                         "can_save": self.model_name is not None},
            "tree": self._tree,
            "model_version": self.version,
        }

    def forward(self, request: dict) -> dict:
        """``POST /api/forward``: every layer's output for one image, and the prediction.

        Request: ``{"input": {...}, "parameters": false}``; with ``parameters`` the weights
        are sent too (the page asks when ``model_version`` has changed).
        """
        _known_keys(request, {"input", "parameters"}, "/api/forward")
        frame, label, origin = self._read_input(request)
        batch = self.input_spec.normalize(frame)
        with self.lock, thread_blas():
            trace = self._trace(batch)
            answer = {
                "model_version": self.version,
                "input": {"frame": encode_array(frame), "tensor": encode_array(batch[0]),
                          "label": label, "origin": origin},
                "outputs": {name: encode_array(call.output[0])
                            for name, call in self._shown_calls(trace)},
                **self._prediction(trace),
            }
            if request.get("parameters"):
                answer["parameters"] = self._parameters()
        return answer

    def backward(self, request: dict) -> dict:
        """``POST /api/backward``: the loss of a target class and every gradient.

        Request: ``{"input": {...}, "target": 3 | "label" | "prediction", "parameters":
        false}``; with ``parameters``, ``dLoss/d parameter`` of every parameter is sent too.
        """
        _known_keys(request, {"input", "target", "parameters"}, "/api/backward")
        frame, label, _ = self._read_input(request)
        batch = self.input_spec.normalize(frame)
        with self.lock, thread_blas():
            target = self._target(request, label, batch)
            trace = self._trace(batch, target)
            gradients = {name: encode_array(call.grad_output[0])
                         for name, call in self._shown_calls(trace)
                         if call.grad_output is not None}
            input_grad = trace.input_grad
            if input_grad is not None:
                gradients["input"] = encode_array(input_grad[0])
            flow = [dataclasses.asdict(LayerGradient.from_gradient(
                        name, type(call.module).__name__, call.grad_output))
                    for name, call in trace.calls.items()
                    if call.is_leaf and call.grad_output is not None]
            answer = {
                "model_version": self.version,
                "target": target,
                "label": label,
                "loss": trace.loss,
                **self._prediction(trace),
                "gradients": gradients,
                "saliency": None if input_grad is None
                else encode_array(np.abs(input_grad[0]).max(axis=0)),
                "flow": flow,
            }
            if request.get("parameters"):
                answer["parameter_gradients"] = self._parameters(trace.parameter_grads)
        return answer

    def unit(self, request: dict) -> dict:
        """``POST /api/unit``: how one unit's value was computed and, with a ``target``, how
        its gradient was assembled.

        Request: ``{"input": {...}, "layer": "features.0" | "input", "index": [c, i, j],
        "target": optional}``.
        """
        _known_keys(request, {"input", "layer", "index", "target"}, "/api/unit")
        layer = request.get("layer")
        if not isinstance(layer, str):
            raise RequestError(f'"layer" must be a layer name (a string), got {layer!r}')
        frame, label, _ = self._read_input(request)
        batch = self.input_spec.normalize(frame)
        with self.lock, thread_blas():
            target = None
            if "target" in request:
                target = self._target(request, label, batch)
            trace = self._trace(batch, target)
            answer = explain_unit(trace, layer, request.get("index"))
        if layer == "input":
            answer["forward"]["pixel"] = int(frame[tuple(answer["index"])])
            answer["forward"]["formula"] = "(pixel / 255 - mean) / std"
        answer.update(model_version=self.version, target=target)
        return answer

    def train_status(self, since: int = 0) -> dict:
        """``GET /api/train?since=N``: the live trainer's state and the steps after ``N``."""
        trainer = self.trainer
        if trainer is None:
            return {"available": False, "reason": self.data.reason, "running": False,
                    "steps": 0, "records": [], "model_version": self.version}
        # Running first: a step that ends between the two looks is then in the records.
        running = trainer.running
        records = trainer.records_since(since)
        return {
            "available": True,
            "running": running,
            "steps": trainer.steps,
            "lr": trainer.lr,
            "momentum": trainer.momentum,
            "batch_size": trainer.batch_size,
            "started_from": self._started_from,
            "error": trainer.error,
            "records": [dataclasses.asdict(record) for record in records],
            "model_version": self.version,
        }

    def train(self, request: dict) -> dict:
        """``POST /api/train``: control the live trainer.

        Request: ``{"action": "start" | "pause" | "step" | "reset" | "configure", "steps": n
        (step), "weights": "run" | "random" (reset), "lr", "momentum", "batch_size"}``; the
        settings may come with any action. Answers :meth:`train_status`.
        """
        _known_keys(request, {"action", "steps", "weights", "lr", "momentum", "batch_size"},
                    "/api/train")
        action = request.get("action")
        if action not in ("start", "pause", "step", "reset", "configure"):
            raise RequestError('"action" must be "start", "pause", "step", "reset" or '
                               f'"configure", got {action!r}')
        settings = {
            "lr": None if "lr" not in request
            else _as_float(request["lr"], "lr", 0.0, 10.0, low_open=True),
            "momentum": None if "momentum" not in request
            else _as_float(request["momentum"], "momentum", 0.0, 0.999),
            "batch_size": None if "batch_size" not in request
            else _as_int(request["batch_size"], "batch_size", 1, 1024),
        }
        steps = _as_int(request.get("steps", 1), "steps", 1, MAX_STEPS_PER_REQUEST)
        weights = request.get("weights", "run")
        if weights not in ("run", "random"):
            raise RequestError(f'"weights" must be "run" or "random", got {weights!r}')
        trainer = self.trainer
        if trainer is None:
            raise UnavailableError(f"live training needs the training images: {self.data.reason}")
        trainer.configure(**settings)
        if action == "start":
            trainer.start()
        elif action == "pause":
            trainer.pause()
        elif action == "step":
            trainer.step(steps)
        elif action == "reset":
            self.reset_weights(weights)
        return self.train_status(since=trainer.steps)

    def reset_weights(self, weights: str = "run") -> None:
        """Put back the weights the explorer started from (``"run"``) or draw new ones as a
        freshly built network would (``"random"``, seeded), and forget the training."""
        if self.trainer is not None:
            self.trainer.pause()
        with self.lock:
            if weights == "run":
                self.model.load_state_dict(self._initial_state)
                self._started_from = "the run's weights"
            else:
                state = minicnn_random.get_rng_state()
                try:
                    minicnn_random.manual_seed(self.seed + self._resets)
                    for module in self.model.modules():
                        if hasattr(module, "reset_parameters"):
                            module.reset_parameters()
                finally:
                    minicnn_random.set_rng_state(state)
                self._started_from = "random weights"
            self._resets += 1
        if self.trainer is not None:
            self.trainer.reset()

    def save(self) -> dict:
        """``POST /api/save``: write the weights as they are now into a NEW run directory.

        The directory, ``OUT_DIR/<model>-<dataset>-explore-<time>``, appears whole or not at
        all (:meth:`minicnn.train.run_dir.RunDir.create_complete`); it holds ``config.json``,
        ``last.safetensors`` (so ``minicnn evaluate`` and ``minicnn explore`` read it) and
        ``explore.json`` (where the weights came from and how they were trained here).
        """
        from minicnn.train.checkpoint import atomic_write_bytes, save_weights
        from minicnn.train.config import TrainConfig
        from minicnn.train.run_dir import RunDir

        if self.model_name is None:
            raise UnavailableError("this network was not loaded from a run of minicnn train, so it "
                              "cannot be saved as one: save model.state_dict() yourself")
        trainer = self.trainer
        with self.lock:
            state = {key: np.array(value, copy=True)
                     for key, value in self.model.state_dict().items()}
            steps = 0 if trainer is None else trainer.steps
            history = [] if trainer is None else [dataclasses.asdict(r) for r in trainer.history]
        config = TrainConfig(model=self.model_name, width=self.width,
                             dataset=self.dataset or "mnist",
                             batch_size=64 if trainer is None else trainer.batch_size,
                             lr=0.01 if trainer is None else trainer.lr,
                             momentum=0.9 if trainer is None else trainer.momentum,
                             weight_decay=0.0, scheduler="none", epochs=1,
                             dtype=self.input_spec.dtype.name, seed=self.seed)
        metadata = {"minicnn.model": self.model_name}
        if self.width != 1:
            metadata["minicnn.width"] = repr(float(self.width))
        provenance = {"saved": time.strftime("%Y-%m-%d %H:%M:%S"), "source": self.source,
                      "started_from": self._started_from, "live_steps": steps,
                      "history": history}

        def fill(run_dir: RunDir) -> None:
            config.save(run_dir.config)
            save_weights(run_dir.last_weights, state, metadata)
            atomic_write_bytes(run_dir.path / "explore.json",
                               (json.dumps(provenance, indent=1) + "\n").encode())

        run_dir = RunDir.create_complete(
            self.out_dir, f"{self.model_name}-{self.dataset or 'mnist'}-explore", fill)
        return {"path": str(run_dir.path), "live_steps": steps}
