"""A per-tensor FULLY_CONNECTED's multiplier is in_s * w_s / out_s in double, as TFLM computes it.

The scales below make a float32 product in_s * w_s give a multiplier 53 units below the double
one; with weight 127 and bias -171120, input code 127 lands on a rounding step where the two
disagree (-17 against TFLM's -18). MLPerf Tiny's ad01 hit this on 11 of 1,280,000 outputs.
"""

import numpy as np
from tflm_models import graph_model, options, run

import micronn
from micronn import container, reference, tflite_int8
from micronn.fixedpoint import quantize_multiplier

IN_SCALE, WEIGHT_SCALE, OUT_SCALE = (np.float32(s) for s in (0.0049196947, 0.053330336, 2.3237126))
WEIGHT, BIAS = 127, -171120


def tie_model() -> bytes:
    tensors = [
        ((1, 1), float(IN_SCALE), 0),
        ((1, 1), float(WEIGHT_SCALE), 0, np.array([[WEIGHT]], np.int8)),
        ((1,), float(IN_SCALE) * float(WEIGHT_SCALE), 0, np.array([BIAS], np.int32)),
        ((1, 1), float(OUT_SCALE), 0),
    ]
    fc = ("FULLY_CONNECTED", [0, 1, 2], [3], options("FullyConnectedOptions"))
    return graph_model(tensors, [fc], [0], [3])


def test_the_case_separates_float32_and_double_products():
    float32_product = float(np.float32(IN_SCALE * WEIGHT_SCALE)) / float(OUT_SCALE)
    multiplier, shift = tflite_int8.output_multipliers(IN_SCALE, [WEIGHT_SCALE], OUT_SCALE)
    assert (int(multiplier[0]), int(shift[0])) == (1986323006, -13)
    assert quantize_multiplier(float32_product) == (1986322953, -13)


def test_per_tensor_fully_connected_equals_tflm_at_the_tie(tmp_path):
    model = tie_model()
    path = tmp_path / "fc_tie.tflite"
    path.write_bytes(model)
    codes = np.arange(-128, 128, dtype=np.int8)[:, np.newaxis]
    expected = run(model, codes)
    assert expected[-1, 0] == -18
    got = reference.run(container.read(micronn.convert(str(path))), codes)
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
