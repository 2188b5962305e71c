"""MAX_POOL_2D, AVERAGE_POOL_2D and MEAN: micronn.ops equals scalar transcriptions of TFLM."""

import numpy as np
import pytest
import tflm_loops
from conv_factory import layer_input_shape, one_layer_model, random_inputs, random_mean, random_pool

from micronn import container, reference
from micronn.ops.mean import mean_multiplier, prepare_mean
from micronn.ops.pooling import prepare_pool

CASES = 150


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
def test_random_pools_match_the_tflm_loops(op):
    rng = np.random.default_rng(7 + len(op))
    scalar = tflm_loops.max_pool if op == "MAX_POOL_2D" else tflm_loops.average_pool
    for _ in range(CASES):
        layer = random_pool(rng, op)
        shape = layer_input_shape(layer)
        model = container.read(container.write(one_layer_model(layer, shape)))
        xs = random_inputs(rng, shape, 3)
        for x, y in zip(xs, reference.run(model, xs), strict=True):
            np.testing.assert_array_equal(y, np.array(scalar(x.tolist(), layer.params)))


def test_average_rounds_half_away_from_zero():
    layer = prepare_pool(
        "AVERAGE_POOL_2D",
        input_shape=(1, 2, 1),
        filter_size=(1, 2),
        stride=(1, 2),
        padding="valid",
        scale=0.1,
        zero_point=0,
    )
    model = one_layer_model(layer, (1, 2, 1))
    pairs = [(1, 2), (-1, -2), (0, -1), (3, 4), (-3, -4), (-128, -128), (127, 126)]
    x = np.array(pairs, np.int8).reshape(-1, 1, 2, 1)
    got = reference.run(model, x).reshape(-1)
    assert got.tolist() == [2, -2, -1, 4, -4, -128, 127]  # 1.5 -> 2, -1.5 -> -2, -0.5 -> -1


def test_random_means_match_the_tflm_loops():
    rng = np.random.default_rng(40)
    for _ in range(CASES):
        layer, scales = random_mean(rng)
        shape = layer_input_shape(layer)
        model = container.read(container.write(one_layer_model(layer, shape)))
        xs = random_inputs(rng, shape, 3)
        for x, y in zip(xs, reference.run(model, xs), strict=True):
            expected = tflm_loops.mean(
                x.tolist(),
                layer.input_zero_point,
                scales["input"],
                scales["output"],
                layer.output_zero_point,
            )
            np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 100, 4095, 2**22 - 1])
@pytest.mark.parametrize("ratio", [1.0, 0.37, 3.3, 1e-9, 2.0**-40, 80.0])
def test_mean_multiplier_folds_one_over_count_like_tflm(count, ratio):
    multiplier, shift = tflm_loops.quantize_multiplier(float(np.float32(ratio)))
    k = min(count.bit_length() - 1, 32, 31 + shift)
    expected = (tflm_loops.c_div(multiplier << k, count), shift - k)
    assert mean_multiplier(float(np.float32(ratio)), 1.0, count) == expected
    assert 0 <= expected[0] < 2**31 and -31 <= expected[1] <= 30


def test_mean_rejects_what_it_cannot_average():
    with pytest.raises(ValueError, match="MEAN takes an"):
        prepare_mean(
            input_shape=(4, 4),
            input_scale=0.1,
            input_zero_point=0,
            output_scale=0.1,
            output_zero_point=0,
        )
    with pytest.raises(ValueError, match="supports 1 to"):
        mean_multiplier(0.1, 0.1, 2**22)


def test_a_mean_too_large_for_31_bits_is_refused():
    layer = prepare_mean(
        input_shape=(64, 64, 1),
        input_scale=1.0,
        input_zero_point=0,
        output_scale=1e-7,
        output_zero_point=0,
    )
    with pytest.raises(container.ContainerError, match="31-bit"):
        container.write(one_layer_model(layer, (64, 64, 1)))


def test_large_batches_are_pooled_in_chunks_with_the_same_result(monkeypatch):
    from micronn.ops import window

    rng = np.random.default_rng(9)
    layers = [random_pool(rng, "MAX_POOL_2D"), random_pool(rng, "AVERAGE_POOL_2D")]
    models = [one_layer_model(layer, layer_input_shape(layer)) for layer in layers]
    xs = [random_inputs(rng, model.input.shape, 7) for model in models]
    whole = [reference.run(model, x) for model, x in zip(models, xs, strict=True)]
    monkeypatch.setattr(window, "GATHER_BUDGET", 1)
    for model, x, expected in zip(models, xs, whole, strict=True):
        np.testing.assert_array_equal(reference.run(model, x), expected)
