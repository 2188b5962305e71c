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
from graph_factory import spread_outputs
from model_factory import random_dense_model, random_inputs
from vm import run_models

from micronn import reference

COMBINATIONS = list(itertools.product((8, 4, 2), (False, True), ("none", "relu", "relu6")))
BATCHES = 14
SPREAD_BATCHES = range(10, 14)
ROWS = 8


def _batch_models(batch: int):
    rng = np.random.default_rng(1000 + batch)
    models = [
        random_dense_model(rng, bits=bits, per_channel=per_channel, activation=activation)
        for bits, per_channel, activation in COMBINATIONS
    ]
    models += [random_dense_model(rng) for _ in range(2)]
    inputs = [random_inputs(rng, model, ROWS) for model in models]
    if batch in SPREAD_BATCHES:
        models = [spread_outputs(rng, m, x) for m, x in zip(models, inputs, strict=True)]
    return models, inputs


@pytest.mark.parametrize("batch", range(BATCHES))
def test_device_matches_reference(batch, tmp_path):
    run_models(*_batch_models(batch), tmp_path, f" of batch {batch}")


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
