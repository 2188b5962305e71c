"""The pending zoo models that use the element-wise operators, cut just before their first
operator micronn lacks (a channel PAD feeding ADD): face_landmarks' MUL by a constant,
QUANTIZE (a LOOKUP) and MAXIMUM (a PReLU written out), palm_detection's PRELU with per-channel
constant alphas. The prefix converts and equals TFLM run on the same prefix, bit for bit."""

from collections import Counter

import flatbuffers
import numpy as np
import pytest
import tflm_models
from zoo_models import ZOO

from micronn import reference
from micronn.importers.tflite import import_tflite

PREFIXES = {
    # model: (operator to cut before, micronn operators the prefix must contain)
    "openmv__face_landmarks_192": ("PAD", {"MUL": 3, "MAXIMUM": 3, "LOOKUP": 6}),
    "openmv__palm_detection_full_192": ("PAD", {"PRELU": 5, "CONSTANT": 5}),
}


def prefix_model(data: bytes, stop: str) -> bytes:
    """The model's operators before the first `stop`, the last one's output the model's."""
    _, schema = tflm_models._modules()
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [model.operatorCodes[op.opcodeIndex] for op in graph.operators]
    ops = [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in codes]
    graph.operators = graph.operators[: ops.index(stop)]
    graph.outputs = np.array([graph.operators[-1].outputs[0]], np.int32)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("name", list(PREFIXES))
def test_the_prefix_before_the_first_missing_operator_equals_tflm(name):
    stop, wanted = PREFIXES[name]
    data = prefix_model((ZOO / f"{name}.tflite").read_bytes(), stop)
    model = import_tflite(data, f"{name}-prefix.tflite")
    ops = Counter(layer.op for layer in model.layers)
    assert all(ops[op] == count for op, count in wanted.items()), ops
    runtime, schema = tflm_models._modules()
    interpreter = runtime.Interpreter.from_bytes(data)
    rng = np.random.default_rng(7)
    kind = model.input.source_dtype
    for _ in range(2):
        if kind == "uint8":
            x = rng.integers(0, 256, (1, *model.input.shape)).astype(np.uint8)
            codes = (x.astype(np.int16) - 128).astype(np.int8)
        else:  # a float edge: micronn quantizes as the model's QUANTIZE does
            x = rng.uniform(-1, 1, (1, *model.input.shape)).astype(np.float32)
            codes = reference.quantize_input(model, x)
        interpreter.set_input(x, 0)
        interpreter.invoke()
        expected = interpreter.get_output(0)
        got = reference.run(model, codes.reshape(1, -1)).reshape(expected.shape)
        np.testing.assert_array_equal(got, expected)
