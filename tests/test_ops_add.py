"""ADD: random scales, zero points and fused activations against TFLM and its transcription."""

import numpy as np
import pytest
import tflm_models
import tflm_scalar_ops as scalar

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.model import FullyConnected, Model, TensorSpec
from micronn.ops import add

ACTIVATIONS = ("none", "relu", "relu6")
ALL_PAIRS = np.stack(np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)), -1).reshape(-1, 2)


def _random_quantization(rng, case):
    """Scales over 4.5 decades; equal input scales every 4th case, tight outputs every 5th."""
    s1, s2, so = (float(np.float32(10 ** rng.uniform(-3.5, 1))) for _ in range(3))
    if case % 4 == 0:
        s2 = s1
    if case % 5 == 0:
        so = float(np.float32(max(s1, s2) * 2.0**-19 * rng.uniform(1.01, 3)))
    z1, z2, zo = (int(v) for v in rng.integers(-128, 128, 3))
    return (s1, z1, s2, z2, so, zo), ACTIVATIONS[case % 3]


def _evaluate(layer, a, b):
    return add.evaluate(layer, [a, b], a.shape[1:])


def test_matches_the_scalar_transcription_on_every_pair_of_codes():
    rng = np.random.default_rng(21)
    a, b = ALL_PAIRS[:, 0].astype(np.int8), ALL_PAIRS[:, 1].astype(np.int8)
    for case in range(12):
        quantization, activation = _random_quantization(rng, case)
        layer = add.prepare_add(a.size, *quantization, activation=activation)
        prepared = scalar.add_prepare(*quantization)
        expected = [
            scalar.add_int8(int(x), int(y), prepared, layer.act_min, layer.act_max)
            for x, y in zip(a, b, strict=True)
        ]
        np.testing.assert_array_equal(_evaluate(layer, a[None], b[None])[0], expected)


def test_matches_tflm():
    rng = np.random.default_rng(22)
    refused = 0
    for case in range(300):
        quantization, activation = _random_quantization(rng, case)
        s1, z1, s2, z2, so, zo = quantization
        model = tflm_models.add_model(64, (s1, z1), (s2, z2), (so, zo), activation)
        a = rng.integers(-128, 128, (2, 64)).astype(np.int8)
        b = rng.integers(-128, 128, (2, 64)).astype(np.int8)
        a[0, :2], b[0, :2] = (-128, 127), (-128, 127)
        try:
            layer = add.prepare_add(64, *quantization, activation=activation)
        except ValueError:
            with pytest.raises(RuntimeError, match="failed to allocate"):
                tflm_models.run(model, a, b)  # TFLM's Prepare refuses the same layers
            refused += 1
            continue
        expected = tflm_models.run(model, a, b)
        np.testing.assert_array_equal(_evaluate(layer, a, b), expected, err_msg=str(quantization))
    assert 0 < refused < 30


def test_hand_derived_rounding():
    # equal input scales s, zero points 0, output scale 2s: the input multipliers are exactly
    # 1/2 (2**30, shift 0) and the output one 2**-20 (2**30, shift -19), so
    # out = round_half_away((a + b) / 2)
    layer = add.prepare_add(6, 0.5, 0, 0.5, 0, 1.0, 0)
    p = layer.params
    assert (p["input1_multiplier"], p["input1_shift"]) == (2**30, 0)
    assert (p["output_multiplier"], p["output_shift"]) == (2**30, -19)
    a = np.array([[1, -1, 3, -3, 127, -128]], np.int8)
    b = np.array([[2, -2, 0, 0, 127, -128]], np.int8)
    np.testing.assert_array_equal(_evaluate(layer, a, b), [[2, -2, 2, -2, 127, -128]])


def test_fused_relu6_clamps_at_six():
    layer = add.prepare_add(3, 0.1, 0, 0.1, 0, 0.1, -128, activation="relu6")
    assert (layer.act_min, layer.act_max) == (-128, -68)
    a = np.array([[-50, 20, 100]], np.int8)
    np.testing.assert_array_equal(_evaluate(layer, a, np.zeros_like(a)), [[-128, -108, -68]])


def test_an_output_scale_below_tflm_limit_is_refused():
    with pytest.raises(ValueError, match="output multiplier"):
        add.prepare_add(4, 1.0, 0, 1.0, 0, 2.0**-20, 0)


def _residual_model(rng):
    """x -> FC -> ADD(x, FC(x)): the ADD reads the model input and an intermediate tensor."""
    dense = FullyConnected(
        rng.integers(-127, 128, (6, 6)),
        rng.integers(-500, 500, 6),
        [1_500_000_000],
        [-10],
        0,
        3,
        -128,
        127,
    )
    dense.inputs, dense.output = (0,), 1
    residual = add.prepare_add(6, 0.05, 0, 0.08, 3, 0.1, -7, activation="relu", inputs=(0, 1))
    shapes = [(6,), (6,), (6,)]
    return Model(TensorSpec((6,), 0.05, 0), TensorSpec((6,), 0.1, -7), [dense, residual], shapes)


def test_a_residual_add_runs_in_the_reference_and_round_trips():
    rng = np.random.default_rng(23)
    model = _residual_model(rng)
    x = rng.integers(-128, 128, (5, 6)).astype(np.int8)
    hidden = reference.run(Model(model.input, TensorSpec((6,), 0.08, 3), [model.layers[0]]), x)
    expected = _evaluate(model.layers[1], x, hidden)
    np.testing.assert_array_equal(reference.run(model, x), expected)
    np.testing.assert_array_equal(
        reference.run(container.read(container.write(model)), x), expected
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("output_shift", 1, "output_shift must be <= 0"),
        ("left_shift", 21, "left_shift"),
        ("input1_offset", -128, "input1_offset"),
        ("size", 5, "same size"),
    ],
)
def test_container_rules_refuse(key, value, message):
    model = _residual_model(np.random.default_rng(24))
    model.layers[1].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)
