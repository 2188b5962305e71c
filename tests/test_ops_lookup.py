"""LOGISTIC and TANH tables: every input code, many scales, against TFLM and its transcription."""

import numpy as np
import pytest
import tflm_models
import tflm_scalar_ops as scalar

from micronn.ops import lookup

CODES = np.arange(-128, 128)
OPS = ("LOGISTIC", "TANH")
SCALAR = {"LOGISTIC": scalar.logistic_int8, "TANH": scalar.tanh_int8}


def _random_scales(rng, count):
    """float32 input scales over 9 decades, with random zero points."""
    scales = np.float32(10.0 ** rng.uniform(-7, 2, count))
    return [(float(s), int(z)) for s, z in zip(scales, rng.integers(-128, 128, count), strict=True)]


def _by_code(op, scale, zero_point):
    table = lookup.lookup_table(op, scale, zero_point)
    return table[CODES & 0xFF]


@pytest.mark.parametrize("op", OPS)
def test_tables_match_the_scalar_transcription_for_every_code(op):
    rng = np.random.default_rng(8 if op == "LOGISTIC" else 9)
    cases = _random_scales(rng, 40) + [(0.09577527642250061, -11), (1 / 16, 0), (2.0**-20, 127)]
    for scale, zero_point in cases:
        expected = [SCALAR[op](int(q), scale, zero_point) for q in CODES]
        np.testing.assert_array_equal(_by_code(op, scale, zero_point), expected, err_msg=str(scale))


@pytest.mark.parametrize("op", OPS)
def test_tables_match_tflm_for_every_code(op):
    rng = np.random.default_rng(10 if op == "LOGISTIC" else 11)
    out_scale, out_zero_point = lookup.OUTPUT_PARAMS[op]
    codes = CODES.astype(np.int8)[np.newaxis]
    for scale, zero_point in _random_scales(rng, 150):
        model = tflm_models.lookup_model(op, 256, scale, zero_point, out_scale, out_zero_point)
        expected = tflm_models.run(model, codes)[0]
        np.testing.assert_array_equal(_by_code(op, scale, zero_point), expected, err_msg=str(scale))


@pytest.mark.parametrize("op", OPS)
def test_hand_derived_table_values(op):
    # scale 1/16: scale * 2**27 = 0.5 * 2**24, so multiplier 2**30, left shift 24, and the
    # radius is floor(15 * 2**27 / 2**24) = 120 (real 7.5); inside it d becomes d * 2**23 (Q4.27)
    assert lookup.input_rescaling(1 / 16) == (2**30, 24, 120)
    zero_point = 3
    values = _by_code(op, 1 / 16, zero_point).astype(int)
    assert values[zero_point + 128] == 0  # logistic(0) = 1/2 -> code 0; tanh(0) = 0
    assert np.all(np.diff(values) >= 0)  # both functions are monotonic
    assert values[zero_point + 128 + 120] == 127 and values[zero_point + 128 - 120] == -128
    one = values[zero_point + 128 + 16]  # real input 1.0
    assert one == (
        round(256 / (1 + np.exp(-1))) - 128 if op == "LOGISTIC" else round(128 * np.tanh(1))
    )


def test_logistic_of_a_fine_scale_follows_the_real_sigmoid():
    scale = 1 / 32
    values = _by_code("LOGISTIC", scale, 0).astype(float)
    real = 1 / (1 + np.exp(-CODES * scale))
    assert np.abs((values + 128) / 256 - np.clip(real, 0, 255 / 256)).max() <= 1 / 512 + 1e-9


def test_the_layer_looks_values_up_by_their_bit_pattern():
    layer = lookup.prepare_lookup("TANH", 256, 0.02, -5, 1 / 128, 0)
    x = CODES.astype(np.int8).reshape(1, 256)
    out = lookup.evaluate(layer, [x], (256,))
    np.testing.assert_array_equal(out[0], [scalar.tanh_int8(int(q), 0.02, -5) for q in CODES])


@pytest.mark.parametrize(
    ("op", "output"),
    [("LOGISTIC", (1 / 128, -128)), ("LOGISTIC", (1 / 256, 0)), ("TANH", (1 / 256, -128))],
)
def test_other_output_parameters_are_refused(op, output):
    with pytest.raises(ValueError, match="fixed output parameters"):
        lookup.prepare_lookup(op, 4, 0.1, 0, *output)


def test_a_scale_too_small_for_tflm_is_refused():
    with pytest.raises(ValueError, match="too small"):
        lookup.prepare_lookup("LOGISTIC", 4, 2.0**-30, 0, 1 / 256, -128)
