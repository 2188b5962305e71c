"""Graphs, not chains, on the MicroPython VM: the device gives exactly the reference's integers.

Random graphs (graph_factory) of FULLY_CONNECTED layers, and of FULLY_CONNECTED layers joined
by ADDs (residual connections): layers read any earlier tensor, some tensors feed several layers
or none, the output may be written before the last layer runs and tensor ids are shuffled. The
host plans one arena where tensors with disjoint lifetimes share bytes; the device's tensor
views onto it must keep every live value intact. Half the batches rescale the dense layers so
that their outputs spread over the int8 range instead of saturating.
"""

import numpy as np
import pytest
from graph_factory import (
    random_graph_model,
    random_residual_model,
    spread_outputs,
    two_heads_model,
)
from vm import run_models, vm_params

from micronn import reference
from micronn.arena import lifetimes, overlaps, plan_arena

BATCHES = 6
MODELS_PER_BATCH = 20
RESIDUAL_BATCHES = (3, 4, 5)
SPREAD_BATCHES = (1, 2, 4, 5)
ROWS = 6


def _batch(batch: int):
    rng = np.random.default_rng(500 + batch)
    make = random_residual_model if batch in RESIDUAL_BATCHES else random_graph_model
    models = [make(rng) for _ in range(MODELS_PER_BATCH)]
    if batch == 0:
        models[0] = two_heads_model()
    inputs = [
        rng.integers(-128, 128, size=(ROWS, *model.input.shape)).astype(np.int8) for model in models
    ]
    if batch in SPREAD_BATCHES:
        models = [spread_outputs(rng, m, x) for m, x in zip(models, inputs, strict=True)]
    return models, inputs


def _shares_bytes_between_tensors(model) -> bool:
    offsets, _ = plan_arena(model)
    sizes = model.activation_sizes
    return any(
        overlaps(offsets[t], sizes[t], offsets[u], sizes[u])
        for t in range(len(sizes))
        for u in range(t)
    )


@pytest.mark.parametrize("vm", vm_params())
@pytest.mark.parametrize("batch", range(BATCHES))
def test_graphs_on_the_device_match_the_reference(batch, tmp_path, vm):
    models, inputs = _batch(batch)
    arenas = run_models(models, inputs, tmp_path, f" of batch {batch} on {vm}", vm=vm)
    for index, (model, arena_bytes) in enumerate(zip(models, arenas, strict=True)):
        assert arena_bytes == plan_arena(model)[1], f"model {index}"


def test_the_graphs_cover_what_a_chain_cannot():
    batches = [_batch(batch) for batch in range(BATCHES)]
    models = [model for batch_models, _ in batches for model in batch_models]
    assert len(models) == BATCHES * MODELS_PER_BATCH
    adds = [layer for model in models for layer in model.layers if layer.op == "ADD"]
    assert len(adds) >= 80
    assert sum(layer.inputs[0] == layer.inputs[1] for layer in adds) >= 5
    spread = [
        len(np.unique(reference.run(model, x)))
        for batch in SPREAD_BATCHES
        for model, x in zip(*batches[batch], strict=True)
    ]
    assert np.median(spread) >= 6
    last_written = [model.output_tensor != model.layers[-1].output for model in models]
    assert sum(last_written) >= 10  # the output is written before the last layer
    rereads = [
        len({t for layer in model.layers for t in layer.inputs}) < len(model.layers)
        for model in models
    ]
    assert sum(rereads) >= 20  # some tensor feeds two layers
    assert sum(model.input_tensor != 0 for model in models) >= 20  # shuffled ids
    assert sum(_shares_bytes_between_tensors(model) for model in models) >= 40
    assert sum(len(model.shapes[model.output_tensor]) > 1 for model in models) >= 5
    most_live = max(
        sum(first <= k <= last for first, last in lifetimes(model))
        for model in models
        for k in range(len(model.layers))
    )
    assert most_live >= 4
