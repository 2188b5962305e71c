"""reference.py against a scalar transcription of TFLM's int8 FULLY_CONNECTED loop."""

from pathlib import Path

import numpy as np
import pytest
from model_factory import random_dense_model, random_inputs
from test_fixedpoint import mbqm_scalar

from micronn import reference
from micronn.importers.tflite import load_tflite

CONV1D = Path(__file__).parent / "data" / "tflite" / "conv1d_s1_same_relu_d1"


def tflm_fully_connected(layer, x_row):
    """integer_ops/fully_connected.h with the un-folded bias and input offset."""
    weights = layer.weights.astype(int).tolist()
    raw_bias = [
        int(b) + layer.input_zero_point * sum(row)
        for b, row in zip(layer.bias.tolist(), weights, strict=True)
    ]
    out = []
    for o, row in enumerate(weights):
        acc = sum(w * (int(x) - layer.input_zero_point) for w, x in zip(row, x_row, strict=True))
        acc += raw_bias[o]
        channel = o if layer.per_channel else 0
        acc = mbqm_scalar(acc, int(layer.multiplier[channel]), int(layer.shift[channel]))
        acc += layer.output_zero_point
        out.append(min(max(acc, layer.act_min), layer.act_max))
    return out


def test_reference_matches_scalar_tflm_loop():
    rng = np.random.default_rng(5)
    for _ in range(60):
        model = random_dense_model(rng, max_width=16)
        x = random_inputs(rng, model, 4)
        got = reference.run(model, x)
        for row, result in zip(x, got, strict=True):
            activations = row.tolist()
            for layer in model.layers:
                activations = tflm_fully_connected(layer, activations)
            assert result.tolist() == activations


def test_reference_accepts_single_sample_and_checks_input():
    model = random_dense_model(np.random.default_rng(6))
    x = random_inputs(np.random.default_rng(6), model, 2)
    assert reference.run(model, x[0]).tolist() == reference.run(model, x)[0].tolist()
    with pytest.raises(ValueError, match="int8"):
        reference.run(model, x.astype(np.int16))
    with pytest.raises(ValueError, match="shape"):
        reference.run(model, np.zeros((2, model.input.size + 1), np.int8))


def test_conv1d_inputs_may_leave_out_the_leading_height_of_one():
    model = load_tflite(f"{CONV1D}.tflite")
    x = np.load(f"{CONV1D}.input.npy")
    tflm = np.load(f"{CONV1D}.tflm.npy")
    assert model.input.shape == (1, 12, 2) and x.shape == (8, 12, 2)
    assert reference.sample_shapes(model) == [(1, 12, 2), (12, 2), (24,)]
    got = reference.run(model, x)
    assert got.shape == (8, *model.output.shape)
    np.testing.assert_array_equal(got.reshape(tflm.shape), tflm)
    np.testing.assert_array_equal(reference.run(model, x.reshape(8, 1, 12, 2)), got)
    np.testing.assert_array_equal(reference.run(model, x.reshape(8, 24)), got)
    assert reference.run(model, x[0]).shape == tuple(model.output.shape)
    np.testing.assert_array_equal(reference.run(model, x[0]), got[0])
    with pytest.raises(ValueError, match=r"does not match the model's input \(1, 12, 2\) or"):
        reference.run(model, x[:, :6])


def test_edges_quantize_and_dequantize():
    model = random_dense_model(np.random.default_rng(8))
    scale, zp = model.input.scale, model.input.zero_point
    codes = reference.quantize_input(model, np.array([0.0, 1e9, -1e9], np.float32))
    assert codes.tolist() == [zp, 127, -128]
    floats = reference.dequantize_output(model, np.array([model.output.zero_point], np.int8))
    assert floats.tolist() == [0.0]
    assert scale > 0
