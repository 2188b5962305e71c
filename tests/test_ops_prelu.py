"""PRELU: random shapes of x and alpha (per channel, scalar, full), scales and zero points,
imported from .tflite and run by the reference, the device kernels and TFLM."""

import numpy as np
import pytest
from backend_vm import run_backends
from elementwise_models import (
    binary_model,
    check_against_tflm,
    check_backend_modules,
    device_models,
)

from micronn import container
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite
from micronn.ops import prelu


def test_matches_tflm_over_random_shapes_scales_and_zero_points():
    assert "PRELU" in check_against_tflm("PRELU", 71)


def test_hand_derived_values():
    # s_in = s_out, alpha 0.25 as code 1 at scale 0.25: x >= 0 kept, x < 0 times 0.25 rounded
    layer = prelu.prepare_prelu((1, 4), (1,), (1.0, 0), (0.25, 0), (1.0, 0))
    x = np.array([[7, -7, -2, -128]], np.int8)
    alpha = np.array([[1]], np.int8)
    np.testing.assert_array_equal(prelu.evaluate(layer, [x, alpha], (4,)), [[7, -2, -1, -32]])


def test_a_multiplier_that_would_leave_31_bits_is_refused():
    with pytest.raises(ValueError, match="31-bit"):
        prelu.prepare_prelu((1, 4), (4,), (1.0, 0), (1.0, 0), (2.0**-15, 0))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("alpha_shift", 15, "must be <= 14"),
        ("identity_shift", 23, "must be <= 22"),
        ("input2_stride3", 5, "strides reach"),
        ("alpha_offset", -128, "alpha_offset"),
    ],
)
def test_container_rules_refuse(key, value, message):
    rng = np.random.default_rng(72)
    constant = rng.integers(-128, 128, (1, 1, 1, 4)).astype(np.int8)
    data = binary_model(
        "PRELU", (1, 3, 2, 4), (1, 1, 1, 4), (0.1, 0), (0.02, 0), (0.05, 3), "none", constant
    )
    model = import_tflite(data, "m.tflite")
    model.layers[-1].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    models, rows = device_models("PRELU", 73)
    available, modules, _ = run_backends(models, rows, tmp_path, ("python", "viper", "c"))
    assert "viper" in available
    check_backend_modules(models, modules, "PRELU")
