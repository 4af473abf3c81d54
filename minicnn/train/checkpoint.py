"""Weights and resumable checkpoints as safetensors files, written atomically.

Two kinds of file, never pickle (loading a pickle runs code):

- a *weights* file holds a model's state_dict and nothing else, under the same key names as
  the ``torch.nn`` twin, so ``safetensors.torch.load_file`` + ``load_state_dict`` reads it;
- a *checkpoint* file holds everything a run needs to continue exactly: the weights under
  ``model.``, every array of the optimiser, scheduler, data-loader and RNG states under their
  own prefixes, and the rest of those states (numbers, strings) as JSON in the metadata.

Both kinds carry a SHA-256 of their tensors in the metadata (``minicnn.sha256``), checked on
loading: a flipped bit in the data, which the safetensors format itself cannot notice, is
reported instead of silently training on (or predicting with) damaged weights.

Every write goes to a temporary file in the same folder, is flushed and fsynced, then renamed
over the target: a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

__all__ = [
    "CheckpointError",
    "atomic_write_bytes",
    "fsync_directory",
    "load_checkpoint",
    "load_weights",
    "read_metadata",
    "save_checkpoint",
    "save_weights",
]

_FORMAT = "minicnn-checkpoint-1"


class CheckpointError(ValueError):
    """A weights or checkpoint file that cannot be read (truncated, corrupted, wrong kind)."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the permissions open() would have.
        os.chmod(temp_name, 0o666 & ~_current_umask())
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    # The rename itself must reach the disk, or a crash could bring back the old directory entry.
    fsync_directory(path.parent)


def fsync_directory(path: str | os.PathLike) -> None:
    """Flush a directory's entries (a rename into it, a new file) to the disk."""
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _current_umask() -> int:
    # The only portable way to read the umask is to set it and put it back.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_CHECKSUM_KEY = "minicnn.sha256"


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.require(arrays[key], requirements="C")
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _contiguous(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # Not np.ascontiguousarray: it turns a 0-d array (an optimiser's step) into shape (1,).
    return {key: np.require(value, requirements="C") for key, value in arrays.items()}


def save_weights(path: str | os.PathLike, state_dict: dict[str, np.ndarray],
                 metadata: dict[str, str] | None = None) -> None:
    """Save a state_dict as a safetensors file that PyTorch can load as it is.

    ``metadata`` (strings) is stored beside the weights, e.g. ``{"minicnn.model": "lenet5"}``
    so that ``minicnn evaluate`` knows which network to build.
    """
    arrays = _contiguous(dict(state_dict))
    header = {"format": "pt", **(metadata or {}), _CHECKSUM_KEY: _checksum(arrays)}
    atomic_write_bytes(path, save(arrays, metadata=header))


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata stored in a safetensors file's header (without the checksum)."""
    metadata = dict(_read(path)[1])
    metadata.pop(_CHECKSUM_KEY, None)
    return metadata


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        arrays = load(raw)
        header_length = int.from_bytes(raw[:8], "little")
        metadata = json.loads(raw[8 : 8 + header_length]).get("__metadata__", {}) or {}
    except (SafetensorError, ValueError, UnicodeDecodeError, AttributeError) as error:
        # AttributeError: a header that is valid JSON but not an object.
        reason = " ".join(str(error).split())  # one line, whatever the library wrote
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({reason}); it may be truncated or "
            "corrupted: use an earlier checkpoint or retrain"
        ) from None
    expected = metadata.get(_CHECKSUM_KEY)
    if expected is not None and _checksum(arrays) != expected:
        raise CheckpointError(
            f"{path}: the tensors do not match the file's checksum; it is corrupted: use an "
            "earlier checkpoint or retrain"
        )
    return arrays, metadata


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The state_dict saved by :func:`save_weights` (or by ``safetensors.torch.save_file``).

    A full checkpoint is accepted too: its ``model.`` entries are returned.
    """
    arrays, metadata = _read(path)
    if metadata.get("format") == _FORMAT:
        return {key[len("model."):]: value for key, value in arrays.items()
                if key.startswith("model.")}
    return arrays


# --------------------------------------------------------------------------- nested states
def _split_arrays(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace every ndarray in a nested state by a reference, collecting the arrays.

    The result is plain JSON. Dicts with non-string keys (an optimiser's ``state`` is keyed by
    parameter index), Counters (MultiStepLR's milestones) and tuples are tagged so that
    :func:`_join_arrays` restores them exactly.
    """
    if isinstance(value, Counter):
        return {"__counter__": _split_arrays(dict(value), prefix, arrays)}
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        items = {str(key): _split_arrays(item, f"{prefix}.{key}", arrays)
                 for key, item in value.items()}
        if all(isinstance(key, str) for key in value):
            return items
        if all(isinstance(key, int) and not isinstance(key, bool) for key in value):
            return {"__int_keys__": items}
        raise TypeError(f"cannot store a dict with keys {list(value)!r} in a checkpoint")
    if isinstance(value, tuple):
        return {"__tuple__": [_split_arrays(item, f"{prefix}.{i}", arrays)
                              for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [_split_arrays(item, f"{prefix}.{i}", arrays) for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} ({prefix}) in a checkpoint")


def _join_arrays(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_join_arrays(item, arrays) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__array__"}:
        return arrays[value["__array__"]]
    if set(value) == {"__tuple__"}:
        return tuple(_join_arrays(item, arrays) for item in value["__tuple__"])
    if set(value) == {"__counter__"}:
        return Counter(_join_arrays(value["__counter__"], arrays))
    if set(value) == {"__int_keys__"}:
        return {int(key): _join_arrays(item, arrays) for key, item in value["__int_keys__"].items()}
    return {key: _join_arrays(item, arrays) for key, item in value.items()}


def save_checkpoint(path: str | os.PathLike, model_state: dict[str, np.ndarray],
                    **states: Any) -> None:
    """Save the model's state_dict and any nested states (optimiser, scheduler, progress...).

    Example: ``save_checkpoint(p, model.state_dict(), optimizer=opt.state_dict(), epoch=3)``.
    """
    arrays = {f"model.{key}": value for key, value in model_state.items()}
    encoded = {name: _split_arrays(state, name, arrays) for name, state in states.items()}
    arrays = _contiguous(arrays)
    metadata = {"format": _FORMAT, "states": json.dumps(encoded), _CHECKSUM_KEY: _checksum(arrays)}
    atomic_write_bytes(path, save(arrays, metadata=metadata))


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(model_state, states)`` as given to :func:`save_checkpoint`."""
    arrays, metadata = _read(path)
    if metadata.get("format") != _FORMAT:
        raise CheckpointError(
            f"{path}: a weights file, not a resumable checkpoint (no optimiser or progress "
            "state); resume from the run's checkpoint.safetensors"
        )
    model_state = {key[len("model."):]: value for key, value in arrays.items()
                   if key.startswith("model.")}
    try:
        states = _join_arrays(json.loads(metadata["states"]), arrays)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(
            f"{path}: the checkpoint's training state is damaged ({type(error).__name__}: "
            f"{error}); use an earlier checkpoint or retrain"
        ) from None
    return model_state, states
