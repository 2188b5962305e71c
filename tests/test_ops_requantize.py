"""REQUANTIZE (an int8 QUANTIZE to other parameters, as face_landmarks has before each MAXIMUM):
random scales and zero points against TFLM, the table's hand-derived rounding, the device
backends and the container rules."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite
from micronn.ops import requantize

CODES = np.arange(-128, 128, dtype=np.int8)


def quantize_model(shape, input: tuple, output: tuple) -> bytes:
    tensors = [(shape, *input), (shape, *output)]
    return tflm_models.graph_model(tensors, [("QUANTIZE", [0], [1], None)], [0], [1])


def _quantizations(rng, count):
    for _ in range(count):
        s_in = float(np.float32(10 ** rng.uniform(-3, 0)))
        s_out = float(np.float32(s_in * 10 ** rng.uniform(-2.5, 2.5)))
        z_in, z_out = (int(v) for v in rng.integers(-128, 128, 2))
        yield (s_in, z_in), (s_out, z_out)


def test_every_code_matches_tflm_over_random_scales_and_zero_points():
    rng = np.random.default_rng(91)
    for case, (q_in, q_out) in enumerate(_quantizations(rng, 60)):
        data = quantize_model((1, 256), q_in, q_out)
        model = import_tflite(data, f"q{case}.tflite")
        assert [layer.op for layer in model.layers] == ["REQUANTIZE"]
        x = CODES.reshape(1, 256)
        expected = tflm_models.run(data, x)
        got = reference.run(model, x)
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=f"{q_in}")


def test_hand_derived_rounding():
    # s_in / s_out = 1/2: (q - 1) / 2 rounded as SaturatingRoundingDoublingHighMul rounds,
    # half up (0.5 -> 1, -0.5 -> 0), + 3
    table = requantize.requantize_table((0.5, 1), (1.0, 3))
    layer = requantize.prepare_requantize(4, (0.5, 1), (1.0, 3))
    assert np.array_equal(layer.table, table)
    x = np.array([[2, 0, 4, 127]], np.int8)
    np.testing.assert_array_equal(requantize.evaluate(layer, [x], (4,)), [[4, 3, 5, 66]])


def test_a_table_of_the_wrong_size_is_refused():
    model = import_tflite(quantize_model((1, 8), (0.1, 0), (0.2, 0)), "q.tflite")
    model.layers[0].table = model.layers[0].table[:255]
    with pytest.raises(ContainerError, match="256 entries"):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(92)
    models, rows = [], []
    for q_in, q_out in _quantizations(rng, 4):
        models.append(import_tflite(quantize_model((1, 3, 4, 5), q_in, q_out), "q.tflite"))
        rows.append(rng.integers(-128, 128, (3, 60)).astype(np.int8))
    available, modules, _ = run_backends(models, rows, tmp_path, ("python", "viper", "c"))
    assert "viper" in available
    wanted = {"python": "python_lut", "viper": "viper_lut", "c": "kernels_c"}
    for (_, backend), names in modules.items():
        assert names == [wanted[backend]], (backend, names)
