"""ADD, LOGISTIC, TANH and SOFTMAX on the MicroPython VM: the device package gives exactly the
reference's integers, allocation-free, for random layers and graphs and for the committed .tflite
fixtures that use these operators (two VM runs in all)."""

import json
from pathlib import Path

import numpy as np
import pytest
from vm import run_models

from micronn import reference
from micronn.importers.tflite import load_tflite
from micronn.model import FullyConnected, Model, TensorSpec
from micronn.ops import add, lookup, softmax

FIXTURES = Path(__file__).parent / "data" / "tflite"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
OWN_OPS = {"ADD", "LOGISTIC", "TANH", "SOFTMAX"}
OWN_FIXTURES = [
    entry["name"]
    for entry in MANIFEST["fixtures"]
    if "unsupported" not in entry and set(entry["ops"]) & OWN_OPS
]


def _scale(rng, low=-3, high=0.5):
    return float(np.float32(10 ** rng.uniform(low, high)))


def _dense(rng, in_features, out_features, inputs, output):
    layer = FullyConnected(
        rng.integers(-127, 128, (out_features, in_features)),
        rng.integers(-2000, 2000, out_features),
        rng.integers(2**30, 2**31, out_features),
        rng.integers(-12, -6, out_features),
        0,
        int(rng.integers(-20, 20)),
        -128,
        127,
    )
    layer.inputs, layer.output = inputs, output
    return layer


def _lookup_model(rng, op):
    size = int(rng.integers(1, 300))
    scale, zero_point = _scale(rng), int(rng.integers(-128, 128))
    layer = lookup.prepare_lookup(op, size, scale, zero_point, *lookup.OUTPUT_PARAMS[op])
    return Model(
        TensorSpec((size,), scale, zero_point),
        TensorSpec((size,), *lookup.OUTPUT_PARAMS[op]),
        [layer],
    )


def _softmax_model(rng):
    shape = (int(rng.integers(1, 5)), int(rng.choice([1, 2, 3, 10, 64, 300])))
    beta = 1.0 if rng.random() < 0.5 else _scale(rng, -1, 1)
    scale = _scale(rng, -4, 0.5)
    layer = softmax.prepare_softmax(shape, beta, scale, 1 / 256, -128)
    spec_in, spec_out = TensorSpec(shape, scale, 0), TensorSpec(shape, 1 / 256, -128)
    return Model(spec_in, spec_out, [layer], shapes=[shape, shape])


def _residual_model(rng):
    """x -> FC -> ADD(x, FC(x)) -> ADD(that, that) -> TANH -> FC -> SOFTMAX: a small graph."""
    n = int(rng.integers(2, 40))
    s = [_scale(rng) for _ in range(4)]
    z = [int(v) for v in rng.integers(-128, 128, 4)]
    activation = ("none", "relu", "relu6")[int(rng.integers(0, 3))]
    layers = [
        _dense(rng, n, n, (0,), 1),
        add.prepare_add(n, s[0], z[0], s[1], z[1], s[2], z[2], activation, (0, 1), 2),
        add.prepare_add(n, s[2], z[2], s[2], z[2], s[3], z[3], "none", (2, 2), 3),
        lookup.prepare_lookup("TANH", n, s[3], z[3], 1 / 128, 0, (3,), 4),
        _dense(rng, n, 10, (4,), 5),
        softmax.prepare_softmax((10,), 1.0, _scale(rng, -2, 0), 1 / 256, -128, (5,), 6),
    ]
    shapes = [(n,)] * 5 + [(10,), (10,)]
    return Model(TensorSpec((n,), s[0], z[0]), TensorSpec((10,), 1 / 256, -128), layers, shapes)


def _inputs(rng, model, count=6):
    x = rng.integers(-128, 128, (count, *model.input.shape))
    x[0] = 127
    x[1] = -128
    return x.astype(np.int8)


def test_random_layers_and_graphs_match_the_reference(tmp_path):
    rng = np.random.default_rng(4242)
    models = []
    for _ in range(8):
        models += [_lookup_model(rng, "LOGISTIC"), _lookup_model(rng, "TANH")]
        models += [_softmax_model(rng), _residual_model(rng)]
    run_models(models, [_inputs(rng, model) for model in models], tmp_path)


def test_the_fixtures_of_these_operators_match_tflm(tmp_path):
    models, inputs, expected = [], [], []
    for name in OWN_FIXTURES:
        model = load_tflite(FIXTURES / f"{name}.tflite")
        x = np.load(FIXTURES / f"{name}.input.npy")
        if x.dtype != np.int8:  # float edges: quantize on the host, compare the dequantized
            x = reference.quantize_input(model, x.reshape(len(x), *model.input.shape))
        models.append(model)
        inputs.append(x.reshape(len(x), *model.input.shape).astype(np.int8))
        expected.append(np.load(FIXTURES / f"{name}.tflm.npy"))
    assert len(models) >= 10
    run_models(models, inputs, tmp_path)  # device == reference, allocation-free
    for name, model, x, tflm in zip(OWN_FIXTURES, models, inputs, expected, strict=True):
        got = reference.run(model, x)
        if tflm.dtype != np.int8:
            got = reference.dequantize_output(model, got)
        np.testing.assert_array_equal(got.reshape(tflm.shape), tflm, err_msg=name)


@pytest.mark.parametrize("name", OWN_FIXTURES)
def test_fixture_imports_to_these_layers(name):
    model = load_tflite(FIXTURES / f"{name}.tflite")
    entry = next(e for e in MANIFEST["fixtures"] if e["name"] == name)
    assert [layer.op for layer in model.layers if layer.op in OWN_OPS] == [
        op for op in entry["ops"] if op in OWN_OPS
    ]
