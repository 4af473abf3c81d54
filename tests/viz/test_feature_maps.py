"""capture_feature_maps: each conv's output for one image, through hooks that leave no trace."""

from __future__ import annotations

import numpy as np
import pytest

import minicnn
from minicnn.models import LeNet5
from minicnn.nn.activation import ReLU
from minicnn.viz import capture_feature_maps


def test_outputs_equal_running_the_layers_by_hand():
    minicnn.manual_seed(0)
    model = LeNet5().train()
    image = np.random.default_rng(0).standard_normal((1, 28, 28), dtype=np.float32)
    maps = capture_feature_maps(model, image)
    assert list(maps) == ["features.0", "features.3"], "every Conv2d, in forward order"
    x = image[None]
    expected = {}
    for index, layer in enumerate(model.features):
        x = layer(x)
        if index in (0, 3):
            expected[f"features.{index}"] = x[0]
    for name, output in maps.items():
        np.testing.assert_allclose(output, expected[name], rtol=1e-6, atol=1e-6,
                                   err_msg=f"{name}: the hook saw another output")
    assert maps["features.0"].shape == (6, 28, 28) and maps["features.3"].shape == (16, 10, 10)
    assert model.training, "the training mode is restored"
    assert all(not module._forward_hooks for module in model.modules()), "hooks are removed"


def test_other_layer_types_and_a_batched_image():
    minicnn.manual_seed(0)
    model = LeNet5()
    image = np.random.default_rng(1).standard_normal((1, 1, 28, 28)).astype(np.float32)
    maps = capture_feature_maps(model, image, layer_types=(ReLU,))
    assert list(maps) == ["features.1", "features.4", "classifier.2", "classifier.4"]
    assert all(np.all(output >= 0) for output in maps.values())


def test_more_than_one_image_is_refused():
    with pytest.raises(ValueError, match=r"expected one image.*\(2, 1, 28, 28\)"):
        capture_feature_maps(LeNet5(), np.zeros((2, 1, 28, 28), np.float32))
