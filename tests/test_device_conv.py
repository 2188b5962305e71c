"""CONV_2D, DEPTHWISE_CONV_2D, the pools and MEAN on the MicroPython VM: the device package gives
exactly the reference's integers, allocation-free, for random layers, chains of them, layers on
the 31-bit bound and the committed .tflite fixtures of these operators."""

import json
from pathlib import Path

import numpy as np
import pytest
from conv_factory import (
    bound_conv,
    layer_input_shape,
    one_layer_model,
    random_chain,
    random_conv,
    random_inputs,
    random_mean,
    random_pool,
)
from vm import run_models

from micronn import reference
from micronn.importers.tflite import load_tflite

FIXTURES = Path(__file__).parent / "data" / "tflite"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
OWN_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "PAD"}
PLUMBING = {"RESHAPE", "EXPAND_DIMS", "SQUEEZE", "SHAPE", "STRIDED_SLICE", "PACK"}
OWN_FIXTURES = [
    entry["name"]
    for entry in MANIFEST["fixtures"]
    if "unsupported" not in entry
    and set(entry["ops"]) & OWN_OPS
    and set(entry["ops"]) <= OWN_OPS | PLUMBING | {"FULLY_CONNECTED"}
]
SAMPLES = 3


def _random_models(seed):
    rng = np.random.default_rng(seed)
    models = []
    for depthwise in (False, True):
        for bits in (8, 4, 2):
            for _ in range(4):
                layer, _ = random_conv(rng, depthwise=depthwise, bits=bits, max_size=7)
                models.append(one_layer_model(layer, layer_input_shape(layer)))
    for op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        for _ in range(5):
            layer = random_pool(rng, op)
            models.append(one_layer_model(layer, layer_input_shape(layer)))
    for _ in range(6):
        layer, _ = random_mean(rng)
        models.append(one_layer_model(layer, layer_input_shape(layer)))
    models += [random_chain(rng) for _ in range(8)]
    inputs = [random_inputs(rng, model.input.shape, SAMPLES) for model in models]
    return models, inputs


@pytest.mark.parametrize("seed", [11, 12])
def test_random_layers_on_the_device_match_the_reference(seed, tmp_path):
    run_models(*_random_models(seed), tmp_path)


def test_layers_on_the_31_bit_bound_match_the_reference(tmp_path):
    rng = np.random.default_rng(31)
    models, inputs = [], []
    for depthwise in (False, True):
        for bits in (8, 4, 2):
            for multiplier in (2**30, 2**31 - 1):
                layer = bound_conv(rng, depthwise, bits, multiplier)
                shape = layer_input_shape(layer)
                models.append(one_layer_model(layer, shape))
                extremes = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
                inputs.append(np.stack([*extremes, *random_inputs(rng, shape, 2)]))
    run_models(models, inputs, tmp_path)


def test_fixtures_of_these_operators_match_tflm_on_the_device(tmp_path):
    assert len(OWN_FIXTURES) >= 25
    models, inputs = [], []
    for name in OWN_FIXTURES:
        model = load_tflite(FIXTURES / f"{name}.tflite")
        samples = np.load(FIXTURES / f"{name}.input.npy")
        models.append(model)
        inputs.append(samples.reshape(len(samples), *model.input.shape))
    run_models(models, inputs, tmp_path)
    for name, model, x in zip(OWN_FIXTURES, models, inputs, strict=True):
        expected = np.load(FIXTURES / f"{name}.tflm.npy")
        got = reference.run(model, x)
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=name)
