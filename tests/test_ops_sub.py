"""SUB: random shapes (broadcasting, constant operands on either side), scales, zero points and
fused activations, imported from .tflite and run by the reference, the device kernels and TFLM."""

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
from micronn.fixedpoint import quantize_multiplier
from micronn.importers.tflite import import_tflite
from micronn.ops import sub


def test_matches_tflm_over_random_shapes_scales_and_zero_points():
    check_against_tflm("SUB", 41)


def test_the_multipliers_are_derived_in_float32_as_tflm_does():
    # sub_common.cc divides float32 scales in float32; add_common.cc in double: they differ
    q1, q2, q_out = (0.08144886791706085, 0), (0.006447036750614643, 0), (0.0398145, 0)
    layer = sub.prepare_sub((1, 4), (1, 4), q1, q2, q_out)
    double = sub.prepare_rescaled("SUB", (1, 4), (1, 4), q1, q2, q_out, float32=False)
    twice = np.float32(2) * np.float32(q1[0])
    real2 = float(np.float32(q2[0]) / twice)
    assert layer.params["input2_multiplier"] == quantize_multiplier(real2)[0] == 1359862400
    assert double.params["input2_multiplier"] == 1359862339


def test_hand_derived_values():
    # equal scales, output scale 2x: (a - b) / 2, ties away from zero (-0.5 -> -1) by the
    # rounding of the three requantizations
    layer = sub.prepare_sub((1, 4), (1, 1), (0.5, 0), (0.5, 0), (1.0, 0))
    a = np.array([[10, -10, 3, 127]], np.int8)
    b = np.array([[4]], np.int8)
    np.testing.assert_array_equal(sub.evaluate(layer, [a, b], (4,)), [[3, -7, -1, 62]])


def test_an_output_scale_tflm_refuses_is_refused():
    with pytest.raises(ValueError, match=r"SUB output multiplier .* not in \(0, 1\)"):
        sub.prepare_sub((1, 4), (1, 4), (1.0, 0), (1.0, 0), (1e-7, 0))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("output_shift", 1, "right shift"),
        ("left_shift", 21, "left_shift"),
        ("input2_stride3", 5, "strides reach"),
        ("out_dim3", 9, "output tensor size"),
        ("input1_offset", -128, "input1_offset"),
    ],
)
def test_container_rules_refuse(key, value, message):
    rng = np.random.default_rng(42)
    shape1, shape2 = (1, 6, 5, 4), (1, 1, 1, 4)
    constant = rng.integers(-128, 128, shape2).astype(np.int8)
    data = binary_model("SUB", shape1, shape2, (0.1, 0), (0.02, 0), (0.2, 3), "none", constant)
    model = import_tflite(data, "m.tflite")
    layer = next(layer for layer in model.layers if layer.op == "SUB")
    layer.params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    models, rows = device_models("SUB", 43)
    available, modules, _ = run_backends(models, rows, tmp_path, ("python", "viper", "c"))
    assert "viper" in available
    check_backend_modules(models, modules, "SUB")
