"""Graphs that are not chains: layers read any earlier tensor, some tensors feed several
layers or none, ADD joins two branches (residual connections), the output need not be the last
tensor written, and tensor ids are shuffled. They exercise the host's arena planner and the
device's tensor views."""

import numpy as np
from model_factory import random_dense_layer

from micronn.fixedpoint import quantize_multiplier
from micronn.model import Model, TensorSpec
from micronn.ops import KERNELS
from micronn.ops.add import prepare_add


def _scale(rng) -> float:
    return float(np.float32(10.0 ** rng.uniform(-6, 3)))


def _zero_point(rng) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _shape(rng, size: int) -> tuple:
    """size as 1-D, or as 2-D / 3-D when it factors."""
    factors = [d for d in range(2, size) if size % d == 0]
    if not factors or rng.random() < 0.5:
        return (size,)
    d = int(rng.choice(factors))
    return (d, size // d) if rng.random() < 0.6 else (1, d, size // d)


def graph_model(rng, sources, widths, output, options, input_shape) -> Model:
    """Layer k reads tensor sources[k] and writes tensor k + 1 with widths[k] features.

    options[k] = (weight bits, per_channel, activation); tensor 0 is the input.
    """
    shapes = [tuple(input_shape)]
    layers = []
    for k, (source, width) in enumerate(zip(sources, widths, strict=True)):
        in_features = int(np.prod(shapes[source]))
        layer = random_dense_layer(rng, in_features, width, *options[k])
        layer.inputs, layer.output = (source,), k + 1
        layers.append(layer)
        shapes.append(_shape(rng, width))
    edge_in = TensorSpec(shapes[0], _scale(rng), _zero_point(rng))
    edge_out = TensorSpec(shapes[output], _scale(rng), _zero_point(rng))
    return Model(edge_in, edge_out, layers, shapes, 0, output)


def shuffle_ids(rng, model: Model) -> Model:
    """The same graph with its activation tensors renumbered at random."""
    order = rng.permutation(len(model.shapes))  # new id -> old id
    new_id = {int(old): new for new, old in enumerate(order)}
    for layer in model.layers:
        layer.inputs = tuple(new_id[t] for t in layer.inputs)
        layer.output = new_id[layer.output]
    shapes = [model.shapes[int(old)] for old in order]
    return Model(
        model.input,
        model.output,
        model.layers,
        shapes,
        new_id[model.input_tensor],
        new_id[model.output_tensor],
    )


def random_graph_model(rng, max_layers=6, max_width=24) -> Model:
    count = int(rng.integers(2, max_layers + 1))
    sources = [int(rng.integers(0, k + 1)) for k in range(count)]
    if rng.random() < 0.5:
        sources[-1] = int(rng.integers(0, count))  # often a late layer reads an early tensor
    widths = [int(w) for w in rng.integers(1, max_width + 1, size=count)]
    output = int(rng.integers(1, count + 1))
    options = [
        (
            int(rng.choice([8, 4, 2])),
            bool(rng.integers(2)),
            str(rng.choice(["none", "relu", "relu6"])),
        )
        for _ in range(count)
    ]
    input_shape = _shape(rng, int(rng.integers(1, max_width + 1)))
    model = graph_model(rng, sources, widths, output, options, input_shape)
    return shuffle_ids(rng, model) if rng.random() < 0.7 else model


def two_heads_model(seed=7) -> Model:
    """input t0 -> t1 -> t2 -> t4 (a dead end); t0 -> t3, the output, read again by nobody.

    Four layers and five tensors: the input is read by layers 0 and 2, the output is written
    before the last layer runs, so up to four tensors are live at once.
    """
    rng = np.random.default_rng(seed)
    options = [(4, True, "relu"), (2, False, "relu6"), (8, True, "none"), (8, False, "relu")]
    return graph_model(rng, [0, 1, 0, 2], [5, 4, 2, 3], 3, options, (3,))


def random_residual_model(rng, max_blocks=4, max_width=16) -> Model:
    """FULLY_CONNECTED layers and ADDs: each block adds an earlier tensor u to a new FC branch
    (read from any earlier tensor) of u's size, or to itself."""
    shapes = [_shape(rng, int(rng.integers(1, max_width + 1)))]
    layers = []

    def dense(source, width):
        in_features = int(np.prod(shapes[source]))
        activation = str(rng.choice(["none", "relu", "relu6"]))
        options = (int(rng.choice([8, 4, 2])), bool(rng.integers(2)), activation)
        layer = random_dense_layer(rng, in_features, width, *options)
        layer.inputs, layer.output = (source,), len(shapes)
        layers.append(layer)
        shapes.append(_shape(rng, width))
        return layer.output

    for _ in range(int(rng.integers(1, max_blocks + 1))):
        u = int(rng.integers(0, len(shapes)))
        size = int(np.prod(shapes[u]))
        v = u if rng.random() < 0.15 else dense(int(rng.integers(0, len(shapes))), size)
        scales = [float(10.0 ** rng.uniform(-2, 0)) for _ in range(2)]
        scales.append(sum(scales) * float(rng.uniform(0.7, 2.5)))  # sums rarely saturate
        activation = str(rng.choice(["none", "relu", "relu6"]))
        add = prepare_add(
            size,
            scales[0],
            _zero_point(rng),
            scales[1],
            _zero_point(rng),
            scales[2],
            int(rng.integers(-40, 41)),
            activation,
            inputs=(u, v),
            output=len(shapes),
        )
        layers.append(add)
        shapes.append(shapes[u] if rng.random() < 0.5 else (size,))
        if rng.random() < 0.3:
            dense(len(shapes) - 1, int(rng.integers(1, max_width + 1)))
    output = int(rng.integers(len(shapes) // 2, len(shapes)))
    output = max(output, 1)
    edge_in = TensorSpec(shapes[0], _scale(rng), _zero_point(rng))
    edge_out = TensorSpec(shapes[output], _scale(rng), _zero_point(rng))
    model = Model(edge_in, edge_out, layers, shapes, 0, output)
    return shuffle_ids(rng, model) if rng.random() < 0.7 else model


def spread_outputs(rng, model: Model, x: np.ndarray) -> Model:
    """Rescale every FULLY_CONNECTED layer's bias and multipliers from its accumulators on x
    ([batch, *input shape]) so that its outputs spread over about +-100 instead of saturating."""
    values = {model.input_tensor: x}
    for layer in model.layers:
        inputs = [values[t] for t in layer.inputs]
        if layer.op == "FULLY_CONNECTED":
            flat = inputs[0].reshape(len(x), -1).astype(np.int64)
            spread = np.abs(flat @ layer.weights.astype(np.int64).T).max(axis=0) + 1
            layer.tensors["bias"] = rng.integers(-spread, spread + 1).astype(np.int32)
            if not layer.per_channel:
                spread = np.array([np.median(spread)])
            pairs = [quantize_multiplier(min(100.0 / float(s), 0.99)) for s in spread]
            layer.tensors["multiplier"] = np.array([p[0] for p in pairs], np.int32)
            layer.tensors["shift"] = np.array([p[1] for p in pairs], np.int32)
        shape = tuple(model.shapes[layer.output])
        values[layer.output] = KERNELS[layer.op](layer, inputs, shape)
    return model


def small_residual_model() -> Model:
    """Five layers (two ADDs, one adding the input to a dense branch), six shuffled tensors."""
    return random_residual_model(np.random.default_rng(1), max_blocks=2, max_width=6)
