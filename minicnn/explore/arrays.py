"""Arrays in the explorer's JSON: the raw little-endian bytes, base64-encoded, with the shape.

An activation map of LeNet-5's first layer is 4,704 numbers; as JSON text each float32 would
take about 19 characters to be read back exactly, as base64 bytes it takes 5.3. The page
decodes them with ``new Float32Array(bytes)``, a notebook with :func:`decode_array`, and both
get the very float32 values the layers computed.

The encoded form::

    {"shape": [6, 28, 28], "dtype": "float32", "data": "<base64 of the C-order bytes>"}

``dtype`` is ``float32``, ``float64`` (a float64 network) or ``uint8`` (images as stored).
"""

from __future__ import annotations

import base64

import numpy as np

__all__ = ["decode_array", "encode_array"]

_DTYPES = {"float32": "<f4", "float64": "<f8", "uint8": "u1"}


def encode_array(array: np.ndarray) -> dict:
    """``{"shape", "dtype", "data"}`` for a float32, float64 or uint8 array (any shape)."""
    array = np.asarray(array)
    name = array.dtype.name
    if name not in _DTYPES:
        raise TypeError(f"encode_array: expected float32, float64 or uint8, got {array.dtype}")
    raw = np.ascontiguousarray(array, dtype=_DTYPES[name]).tobytes()
    return {"shape": list(array.shape), "dtype": name, "data": base64.b64encode(raw).decode()}


def decode_array(encoded: dict) -> np.ndarray:
    """The array :func:`encode_array` encoded (for notebooks and tests reading the API)."""
    dtype = _DTYPES[encoded["dtype"]]
    flat = np.frombuffer(base64.b64decode(encoded["data"]), dtype=dtype)
    return flat.reshape(encoded["shape"]).astype(encoded["dtype"])
