"""SOFTMAX: the table-driven reference against TFLM and its scalar transcription, random rows,
betas and input scales; hand-derived rows; the parameters' rules."""

import numpy as np
import pytest
import tflm_models
import tflm_scalar_ops as scalar

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.model import Model, TensorSpec
from micronn.ops import softmax


def _layer(shape, beta=1.0, scale=0.1):
    return softmax.prepare_softmax(shape, beta, scale, 1 / 256, -128)


def _evaluate(layer, x):
    return softmax.evaluate(layer, [x], x.shape[1:])


def _random_case(rng):
    """A shape, beta and input scale, and rows of every kind: spread, crowded near the max, all
    equal, one dominant value."""
    depth = int(rng.choice([1, 2, 3, 5, 10, 33, 100, 300, 511]))
    shape = (int(rng.integers(1, 4)), depth)
    beta = 1.0 if rng.random() < 0.4 else float(np.float32(10 ** rng.uniform(-1, 1)))
    scale = float(np.float32(10 ** rng.uniform(-4, 0.7)))
    x = rng.integers(-128, 128, size=(5, *shape))
    x[1] = 127 - rng.integers(0, 8, size=shape)
    x[2] = rng.integers(-128, 128)
    x[3] = rng.integers(-128, -120, size=shape)
    x[4, :, 0] = 127
    return shape, beta, scale, x.astype(np.int8)


def test_matches_the_scalar_transcription():
    rng = np.random.default_rng(256)
    for _ in range(60):
        shape, beta, scale, x = _random_case(rng)
        got = _evaluate(_layer(shape, beta, scale), x)
        for sample, out in zip(x, got, strict=True):
            for row, out_row in zip(sample, out, strict=True):
                expected = scalar.softmax_int8_row([int(q) for q in row], beta, scale)
                np.testing.assert_array_equal(out_row, expected, err_msg=f"{beta} {scale}")


def test_matches_tflm():
    rng = np.random.default_rng(257)
    for _ in range(150):
        shape, beta, scale, x = _random_case(rng)
        zero_point = int(rng.integers(-128, 128))  # differences do not depend on it
        expected = tflm_models.run(tflm_models.softmax_model(shape, beta, scale, zero_point), x)
        np.testing.assert_array_equal(_evaluate(_layer(shape, beta, scale), x), expected)


@pytest.mark.parametrize(("depth", "code"), [(1, 127), (2, 0), (4, -64), (8, -96), (256, -127)])
def test_equal_values_share_the_probability(depth, code):
    # sum = depth * 2**19 (each exp(0) is 2**31 - 1, its Q12.19 term 2**19): a power of two, so
    # the reciprocal is 2**31 - 1 and each output rounds 256 / depth (127 for 256, clamped)
    x = np.full((1, 1, depth), 17, np.int8)
    np.testing.assert_array_equal(_evaluate(_layer((1, depth)), x), code)


def test_differences_below_diff_min_give_minus_128():
    # beta * scale * 2**26 = 2**26 = 0.5 * 2**27: multiplier 2**30, left shift 27, and
    # diff_min = -floor(31 * 2**26 / 2**27) = -15
    layer = _layer((1, 4), beta=1.0, scale=1.0)
    assert (layer.input_multiplier, layer.input_left_shift, layer.diff_min) == (2**30, 27, -15)
    x = np.array([[[100, 85, 84, -128]]], np.int8)
    out = _evaluate(layer, x)[0, 0]
    assert out[0] == 127 and out[1] == -128 and out[2] == out[3] == -128
    assert layer.exp[15] > 0 and not layer.exp[16:].any()


def test_a_sum_past_tflm_check_gives_minus_128():
    """TFLM stops with a failed check when the Q12.19 sum reaches 2**28 (512 equal values)."""
    x = np.full((1, 1, 600), 5, np.int8)
    assert scalar.softmax_int8_row([5] * 600, 1.0, 0.1) is None
    np.testing.assert_array_equal(_evaluate(_layer((1, 600)), x), -128)


def test_exp_table_matches_the_scalar_exp():
    for beta, scale in ((1.0, 0.07183144986629486), (2.5, 0.001), (0.3, 4.0)):
        multiplier, left_shift, diff_min = softmax.input_rescaling(beta, scale)
        assert (multiplier, left_shift, diff_min) == scalar.softmax_prepare(beta, scale)
        table = softmax.exp_table(multiplier, left_shift, diff_min)
        for i in range(256):
            expected = 0
            if -i >= diff_min:
                expected = scalar.exp_on_negative_values(
                    scalar.srdhm(-i << left_shift, multiplier), 5
                )
            assert table[i] == expected


def test_a_large_beta_caps_the_multiplier_as_tflm_does():
    multiplier, left_shift, diff_min = softmax.input_rescaling(1000.0, 100.0)
    assert (multiplier, left_shift, diff_min) == (2**31 - 1, 31, 0)
    x = np.array([[[3, 2, 3]]], np.int8)
    np.testing.assert_array_equal(_evaluate(_layer((1, 3), 1000.0, 100.0), x), [[[0, -128, 0]]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_scale": 1 / 128}, "output scale 1/256"),
        ({"output_zero_point": 0}, "output scale 1/256"),
        ({"beta": 1e-9}, "above 2\\^-26"),
        ({"shape": (1, 2048)}, "too wide"),
    ],
)
def test_prepare_refuses(kwargs, message):
    arguments = {"shape": (1, 4), "beta": 1.0, "input_scale": 0.1}
    arguments |= {"output_scale": 1 / 256, "output_zero_point": -128} | kwargs
    with pytest.raises(ValueError, match=message):
        softmax.prepare_softmax(**arguments)


def _model(layer, shape):
    spec_in = TensorSpec(shape, 0.1, 0)
    spec_out = TensorSpec(shape, 1 / 256, -128)
    return Model(spec_in, spec_out, [layer], shapes=[shape, shape])


def test_round_trips_through_the_container():
    layer = _layer((3, 7), 1.7, 0.03)
    model = _model(layer, (3, 7))
    again = container.read(container.write(model))
    x = np.random.default_rng(5).integers(-128, 128, (4, 3, 7)).astype(np.int8)
    np.testing.assert_array_equal(reference.run(again, x), reference.run(model, x))
    np.testing.assert_array_equal(again.layers[0].exp, layer.exp)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda layer: layer.tensors["exp"].__setitem__(3, 5), "exp table"),
        (lambda layer: layer.params.__setitem__("diff_min", -7), "diff_min"),
        (lambda layer: layer.params.__setitem__("input_left_shift", 32), "input_left_shift"),
        (lambda layer: layer.params.__setitem__("rows", 2), "size mismatch"),
    ],
)
def test_container_rules_refuse_inconsistent_layers(change, message):
    layer = _layer((1, 6))
    change(layer)
    with pytest.raises(ContainerError, match=message):
        container.write(_model(layer, (6,)))
