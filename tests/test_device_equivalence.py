"""The device package on the MicroPython VM gives exactly the reference's integers.

280 random dense stacks (1-4 layers, widths 1-40), 20 per VM run, each batch covering every
combination of int8/int4/int2 weights x per-tensor/per-channel x none/relu/relu6 plus two mixed
stacks. Most batches take the factory's models as they are (multipliers over ~10 orders of
magnitude, extreme zero points, biases at the 31-bit limit), where many outputs saturate; the
last batches rescale each layer's multipliers from its actual accumulators so that the outputs
spread over the int8 range and the rounding of every layer matters.
"""

import itertools

import numpy as np
import pytest
from model_factory import random_dense_model, random_inputs
from vm import run

from micronn import container, reference
from micronn.fixedpoint import quantize_multiplier
from micronn.ops import fully_connected

COMBINATIONS = list(itertools.product((8, 4, 2), (False, True), ("none", "relu", "relu6")))
BATCHES = 14
SPREAD_BATCHES = range(10, 14)
ROWS = 8

VM_SCRIPT = """
from array import array
import micronn

for index in range({count}):
    net = micronn.load("m%d.mnq" % index)
    n = len(net._x)
    with open("x%d.bin" % index, "rb") as f:
        rows = f.read()
    outputs = bytearray()
    for r in range(len(rows) // n):
        raw = rows[r * n:(r + 1) * n]
        kind = r % 4
        if kind == 0:
            y = net.predict(raw)
        elif kind == 1:
            y = net.predict(array("b", raw), array("b", bytes(len(net._y))))
        elif kind == 2:
            y = net.predict(memoryview(raw), bytearray(len(net._y)))
        else:
            y = net.predict([v - 256 if v > 127 else v for v in raw])
        outputs.extend(bytes(y) if type(y) is bytearray else bytes(array("b", y)))
    with open("y%d.bin" % index, "wb") as f:
        f.write(outputs)
print("done")
"""


def _spread_outputs(rng, model, x):
    """Small biases and multipliers that map each layer's accumulators onto about +-100."""
    activations = x.astype(np.int64)
    for layer in model.layers:
        weights = layer.weights.astype(np.int64)
        dot = activations @ weights.T
        spread = np.abs(dot).max(axis=0) + 1
        layer.tensors["bias"] = rng.integers(-spread, spread + 1).astype(np.int32)
        if not layer.per_channel:
            spread = np.array([np.median(spread)])
        pairs = [quantize_multiplier(min(100.0 / float(s), 0.99)) for s in spread]
        layer.tensors["multiplier"] = np.array([p[0] for p in pairs], np.int32)
        layer.tensors["shift"] = np.array([p[1] for p in pairs], np.int32)
        out = fully_connected.evaluate(layer, [activations], (layer.out_features,))
        activations = out.astype(np.int64)
    return model


def _batch_models(batch: int):
    rng = np.random.default_rng(1000 + batch)
    models = [
        random_dense_model(rng, bits=bits, per_channel=per_channel, activation=activation)
        for bits, per_channel, activation in COMBINATIONS
    ]
    models += [random_dense_model(rng) for _ in range(2)]
    inputs = [random_inputs(rng, model, ROWS) for model in models]
    if batch in SPREAD_BATCHES:
        models = [_spread_outputs(rng, m, x) for m, x in zip(models, inputs, strict=True)]
    return models, inputs


@pytest.mark.parametrize("batch", range(BATCHES))
def test_device_matches_reference(batch, tmp_path):
    models, inputs = _batch_models(batch)
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        (tmp_path / f"m{index}.mnq").write_bytes(container.write(model))
        (tmp_path / f"x{index}.bin").write_bytes(x.tobytes())
    assert run(VM_SCRIPT.format(count=len(models)), cwd=tmp_path).split() == ["done"]
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        got = np.frombuffer((tmp_path / f"y{index}.bin").read_bytes(), np.int8)
        expected = reference.run(model, x)
        np.testing.assert_array_equal(
            got.reshape(expected.shape), expected, err_msg=f"model {index} of batch {batch}"
        )


def test_batches_cover_every_combination_and_many_magnitudes():
    layers = [
        layer
        for batch in range(BATCHES)
        for model in _batch_models(batch)[0]
        for layer in model.layers
    ]
    models = BATCHES * (len(COMBINATIONS) + 2)
    assert models >= 200
    seen = {(layer.weight_bits, layer.per_channel, layer.activation) for layer in layers}
    assert seen == set(COMBINATIONS)
    shifts = {int(s) for layer in layers for s in layer.shift}
    assert min(shifts) <= -25 and max(shifts) >= 3
    zero_points = {layer.output_zero_point for layer in layers}
    assert {-128, 127} <= zero_points
    spread = [_batch_models(batch) for batch in SPREAD_BATCHES]
    distinct = [
        len(np.unique(reference.run(model, x)))
        for models, inputs in spread
        for model, x in zip(models, inputs, strict=True)
    ]
    assert np.median(distinct) >= 8
