"""LOOKUP (code 20): HARD_SWISH, LEAKY_RELU, RELU, RELU6, RELU_N1_TO_1 and int8 QUANTIZE (and
DEQUANTIZE -> QUANTIZE pairs) as 256-entry tables: every code, many scales and zero points,
against the TFLM interpreter; imported from .tflite; run by the device backends."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite
from micronn.ops import unary

CODES = np.arange(-128, 128)
ALL_CODES = CODES.astype(np.int8)[np.newaxis]
TFLM_OPS = ("HARD_SWISH", "LEAKY_RELU", "RELU", "RELU6", "QUANTIZE")


def _quantization(rng):
    """(scale, zero point) with float32 scales over 8 decades."""
    return float(np.float32(10.0 ** rng.uniform(-6, 2))), int(rng.integers(-128, 128))


def _options(op, rng):
    if op != "LEAKY_RELU":
        return None, ()
    alpha = float(np.float32(rng.choice([rng.uniform(-2, 2), 0.01, 0.2, 0.3, 1.0, 0.0])))
    return tflm_models.options("LeakyReluOptions", alpha=alpha), (alpha,)


def _table(op, quantization, extra=()):
    if op == "HARD_SWISH":
        return unary.hard_swish_table(*quantization)
    if op == "LEAKY_RELU":
        return unary.leaky_relu_table(*quantization, *extra)
    if op == "QUANTIZE":
        return unary.requantize_table(*quantization)
    return unary.relu_table(op, *quantization)


def _op_model(op, shape, quantization, options=None):
    s_in, z_in, s_out, z_out = quantization
    return tflm_models.single_op_model(
        op, [((1, *shape), s_in, z_in), ((1, *shape), s_out, z_out)], options
    )


@pytest.mark.parametrize("op", TFLM_OPS)
def test_tables_match_tflm_for_every_code(op):
    rng = np.random.default_rng(TFLM_OPS.index(op) + 20)
    checked = 0
    for _ in range(150):
        quantization = (*_quantization(rng), *_quantization(rng))
        options, extra = _options(op, rng)
        try:
            table = _table(op, quantization, extra)
        except ValueError as error:
            assert op == "HARD_SWISH" and "below 1" in str(error)
            continue
        expected = tflm_models.run(_op_model(op, (256,), quantization, options), ALL_CODES)[0]
        np.testing.assert_array_equal(table[CODES & 0xFF], expected, err_msg=str(quantization))
        checked += 1
    assert checked >= 100


@pytest.mark.parametrize("op", TFLM_OPS)
def test_imported_models_match_tflm(op):
    rng = np.random.default_rng(TFLM_OPS.index(op) + 30)
    for case in range(6):
        shape = tuple(int(d) for d in rng.integers(1, 6, rng.integers(1, 4)))
        quantization = (*_quantization(rng), *_quantization(rng))
        if op == "HARD_SWISH":
            quantization = (0.05, int(rng.integers(-20, 20)), 0.03, int(rng.integers(-20, 20)))
        options, _ = _options(op, rng)
        data = _op_model(op, shape, quantization, options)
        model = import_tflite(data, f"{op}{case}.tflite")
        assert [layer.op for layer in model.layers] == ["LOOKUP"]
        assert unary.source_name(model.layers[0].source) == op
        x = rng.integers(-128, 128, (5, *shape)).astype(np.int8)
        expected = tflm_models.run(data, x)
        got = reference.run(model, x.reshape(len(x), -1))
        np.testing.assert_array_equal(got.reshape(expected.shape), expected)


def test_relu_n1_to_1_clamps_to_plus_minus_one():
    # TFLM has no RELU_N1_TO_1 kernel; TFLite's is ReluQuantized with the range -1..1
    table = unary.relu_table("RELU_N1_TO_1", 1 / 64, 3, 1 / 64, 3)[CODES & 0xFF]
    np.testing.assert_array_equal(table, np.clip(CODES, 3 - 64, 3 + 64))
    halved = unary.relu_table("RELU_N1_TO_1", 1 / 64, 0, 1 / 32, -10)[CODES & 0xFF]
    # MultiplyByQuantizedMultiplier by 1/2 rounds ties up: -63 / 2 -> -31
    expected = np.clip(-10 + np.floor(CODES / 2 + 0.5), -42, 22)
    np.testing.assert_array_equal(halved, expected)


def test_relu6_clamps_the_raw_codes_with_the_input_parameters():
    # TFLM's Relu6Quantized ignores the output parameters: clamp(q, zp, zp + round(6 / scale))
    table = unary.relu_table("RELU6", 0.1, -100, 0.5, 7)[CODES & 0xFF]
    np.testing.assert_array_equal(table, np.clip(CODES, -100, -40))


def test_hard_swish_follows_the_real_function():
    scale_in, scale_out = 8 / 256, 7 / 256
    table = unary.hard_swish_table(scale_in, 0, scale_out, -60)[CODES & 0xFF].astype(float)
    x = CODES * scale_in
    real = x * np.clip(x + 3, 0, 6) / 6
    assert (
        np.abs((table + 60) * scale_out - np.clip(real, -68 * scale_out, 187 * scale_out)).max()
        <= 1.5 * scale_out
    )


def test_hard_swish_whose_output_multiplier_reaches_one_is_refused():
    with pytest.raises(ValueError, match="below 1"):
        unary.hard_swish_table(1.0, 0, 1 / 256, 0)


def test_leaky_relu_with_a_negative_alpha():
    table = unary.leaky_relu_table(0.5, 0, 0.5, 0, -1.0)[CODES & 0xFF]
    np.testing.assert_array_equal(table, np.minimum(np.abs(CODES), 127))


def _pair_model(shape, quantization):
    """int8 -> DEQUANTIZE -> float32 -> QUANTIZE -> int8 (and a RELU so the input is computed)."""
    s_in, z_in, s_out, z_out = quantization
    tensors = [
        ((1, *shape), s_in, z_in),
        ((1, *shape), s_in, z_in),
        ((1, *shape), None, 0),
        ((1, *shape), s_out, z_out),
    ]
    operators = [
        ("RELU", [0], [1], None),
        ("DEQUANTIZE", [1], [2], None),
        ("QUANTIZE", [2], [3], None),
    ]
    return tflm_models.graph_model(tensors, operators, [0], [3], float_tensors=(2,))


def test_dequantize_quantize_pairs_match_tflm():
    rng = np.random.default_rng(40)
    for case in range(40):
        quantization = (*_quantization(rng), *_quantization(rng))
        data = _pair_model((256,), quantization)
        model = import_tflite(data, f"pair{case}.tflite")
        assert [layer.op for layer in model.layers] == ["LOOKUP", "LOOKUP"]
        expected = tflm_models.run(data, ALL_CODES)
        np.testing.assert_array_equal(reference.run(model, ALL_CODES), expected)


def test_int8_requantize_inside_a_model_matches_tflm():
    rng = np.random.default_rng(41)
    for case in range(20):
        s_in, z_in = _quantization(rng)
        s_out, z_out = _quantization(rng)
        tensors = [((1, 256), s_in, z_in), ((1, 256), s_in, z_in), ((1, 256), s_out, z_out)]
        operators = [("RELU", [0], [1], None), ("QUANTIZE", [1], [2], None)]
        data = tflm_models.graph_model(tensors, operators, [0], [2])
        model = import_tflite(data, f"requantize{case}.tflite")
        expected = tflm_models.run(data, ALL_CODES)
        np.testing.assert_array_equal(reference.run(model, ALL_CODES), expected)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("source", 256, "source 256"), ("source", -1, "source -1"), ("size", 5, "size mismatch")],
)
def test_container_rules_refuse(key, value, message):
    model = import_tflite(_op_model("RELU", (2, 3), (0.1, 0, 0.05, -3)), "relu.tflite")
    model.layers[0].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_the_container_round_trips_the_source():
    model = import_tflite(_op_model("HARD_SWISH", (4,), (0.05, 1, 0.04, -2)), "hs.tflite")
    read = container.read(container.write(model))
    assert read.layers[0].op == "LOOKUP"
    assert unary.source_name(read.layers[0].source) == "HARD_SWISH"
    assert unary.source_name(200) == "source 200"


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(42)
    models, inputs = [], []
    for index, op in enumerate(TFLM_OPS):
        shape = (3, 4, 5) if index % 2 else (17,)
        quantization = (0.05, int(rng.integers(-20, 20)), 0.04, int(rng.integers(-20, 20)))
        options, _ = _options(op, rng)
        models.append(import_tflite(_op_model(op, shape, quantization, options), f"{op}.tflite"))
        inputs.append(rng.integers(-128, 128, (4, int(np.prod(shape)))).astype(np.int8))
    run_backends(models, inputs, tmp_path, ("python", "viper", "c"))
