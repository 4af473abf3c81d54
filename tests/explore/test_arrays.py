"""Arrays in the API's JSON: the exact bytes, read back bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minicnn.explore.arrays import decode_array, encode_array


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_round_trip_is_exact(dtype):
    array = (np.random.default_rng(0).standard_normal((2, 3, 4)) * 100).astype(dtype)
    array.flat[0] = np.nan if dtype != np.uint8 else 7
    encoded = json.loads(json.dumps(encode_array(array)))
    assert encoded["shape"] == [2, 3, 4] and encoded["dtype"] == np.dtype(dtype).name
    back = decode_array(encoded)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, array)


def test_non_contiguous_and_zero_size_arrays():
    array = np.arange(12, dtype=np.float32).reshape(3, 4).T
    np.testing.assert_array_equal(decode_array(encode_array(array)), array)
    assert decode_array(encode_array(np.zeros((0, 5), np.float32))).shape == (0, 5)


def test_other_dtypes_are_refused():
    with pytest.raises(TypeError, match="float32, float64 or uint8"):
        encode_array(np.arange(3))
