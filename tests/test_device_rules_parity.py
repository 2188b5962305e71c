"""The device reader accepts exactly the files the host reader accepts, for every operator.

One valid single-operator model per operator; then every parameter and the first and last
value of every tensor is set to edge values (CRCs recomputed), and both readers judge the file:
host_tools/micronn/container.read and firmware/micronn/container.read run under CPython.
The device's op table must also be the one generated from the host's registry.
"""

import io
import struct

import numpy as np
import pytest
from conv_factory import layer_input_shape, one_layer_model, random_conv, random_mean, random_pool
from device_package import FIRMWARE, device_module
from mnq_patches import layout, with_crcs
from model_factory import random_dense_layer

from micronn import container
from micronn.device_tables import BEGIN, END, device_ops_source, rule_modules, with_indices
from micronn.model import OPS, Model, TensorSpec
from micronn.ops.add import prepare_add
from micronn.ops.add_broadcast import prepare_add_broadcast
from micronn.ops.concatenation import prepare_concatenation
from micronn.ops.constant import prepare_constant
from micronn.ops.log_softmax import prepare_log_softmax
from micronn.ops.lookup import prepare_lookup
from micronn.ops.maximum_minimum import prepare_maximum_minimum
from micronn.ops.mul import prepare_mul
from micronn.ops.pad import prepare_pad
from micronn.ops.prelu import prepare_prelu
from micronn.ops.reduce import prepare_mean_or_sum, prepare_reduce_max
from micronn.ops.resize import prepare_resize_bilinear, prepare_resize_nearest
from micronn.ops.softmax import prepare_softmax
from micronn.ops.strided import prepare_strided_slice, prepare_transpose
from micronn.ops.sub import prepare_sub
from micronn.ops.unary import hard_swish_table, prepare_table

PARAM_VALUES = (0, 1, -1, 2, 127, 128, -128, -129, 255, 2**22, 2**30, 2**31 - 1, -(2**31))
INT32_VALUES = (0, -1, 1, 2**30, 2**30 - 1, 2**31 - 1, -(2**31), -(2**30))
BYTE_VALUES = (0x00, 0x80, 0xFF, 0x7F, 0x08, 0x88)
KIND_CODES = {"weights": "w", "int32": "i", "int8": "b"}
SHAPE = (2, 3)  # of the elementwise operators' tensors

# A rule only the host checks (docs/format.md, "What a reader checks"): boards do not
# re-derive SOFTMAX's exp table, they check its count, range and order.
REDUCE_OPS = ("REDUCE_MAX", "MEAN_AXES", "SUM")
RESIZE_MODELS = {
    "RESIZE_NEAREST_NEIGHBOR": prepare_resize_nearest,
    "RESIZE_BILINEAR": prepare_resize_bilinear,
}
HOST_ONLY_REFUSAL = "table is not TFLM's"  # SOFTMAX's exp; LOG_SOFTMAX's exp, diff, limit


def _model(op: str, rng) -> Model:
    if op == "FULLY_CONNECTED":
        layer = random_dense_layer(rng, 5, 3, 4, True, "relu")
        return Model(TensorSpec((5,), 0.5, 0), TensorSpec((3,), 0.25, 0), [layer])
    if op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        layer, _ = random_conv(rng, depthwise=op == "DEPTHWISE_CONV_2D", bits=8, max_size=5)
    elif op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        layer = random_pool(rng, op=op, max_size=5)
    elif op == "MEAN":
        layer, _ = random_mean(rng, max_size=5)
    if op in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN"):
        return one_layer_model(layer, layer_input_shape(layer))
    if op == "ADD":
        layer = prepare_add(
            SHAPE[0] * SHAPE[1], 0.1, 3, 0.2, -5, 0.3, 1, "relu", inputs=(0, 0), output=1
        )
    elif op in ("LOGISTIC", "TANH"):
        zero_point = 0 if op == "TANH" else -128
        layer = prepare_lookup(
            op, SHAPE[0] * SHAPE[1], 0.05, 2, 1 / (128 if op == "TANH" else 256), zero_point
        )
    elif op == "MUL":
        layer = prepare_mul(SHAPE, SHAPE, (0.1, 3), (0.1, 3), (0.05, -2), "relu", (0, 0), 1)
    elif op == "CONSTANT":
        values = rng.integers(-128, 128, SHAPE).astype(np.int8)
        constant = prepare_constant(values, output=1)
        layer = prepare_mul(SHAPE, SHAPE, (0.1, 3), (0.2, 0), (0.05, -2), inputs=(0, 1))
        edge = TensorSpec(SHAPE, 0.25, 0)
        return Model(edge, edge, [constant, layer], [SHAPE, SHAPE, SHAPE])
    elif op in REDUCE_OPS:
        shape, axes = (2, 3, 2), (0, 2)
        if op == "REDUCE_MAX":
            layer = prepare_reduce_max(shape, axes, (0.1, 3), (0.1, 3))
        else:
            layer = prepare_mean_or_sum(op, shape, axes, (0.1, 3), (0.05, -2))
        out = layer.spec.output_shape(layer)
        return Model(TensorSpec(shape, 0.1, 3), TensorSpec(out, 0.05, -2), [layer])
    elif op in RESIZE_MODELS:
        layer = RESIZE_MODELS[op]((2, 3, 2), (4, 5), False, True)
        out = layer.spec.output_shape(layer)
        return Model(TensorSpec((2, 3, 2), 0.5, 0), TensorSpec(out, 0.5, 0), [layer])
    elif op == "CONCATENATION":
        layer = prepare_concatenation((1, *SHAPE), (1, *SHAPE), 2, inputs=(0, 0), output_tensor=1)
        wide = (SHAPE[0], 2 * SHAPE[1])
        return Model(TensorSpec(SHAPE, 0.25, 0), TensorSpec(wide, 0.25, 0), [layer], [SHAPE, wide])
    elif op == "PAD":
        layer = prepare_pad((1, *SHAPE), [[0, 0], [1, 0], [2, 1]], -3)
        padded = (SHAPE[0] + 1, SHAPE[1] + 3)
        edge = TensorSpec(SHAPE, 0.25, 0)
        return Model(edge, TensorSpec(padded, 0.25, 0), [layer], [SHAPE, padded])
    elif op == "TRANSPOSE":
        layer = prepare_transpose((1, 2, 3, 2), (0, 3, 1, 2))  # walks 2 x 6: two dims merge
        edge = TensorSpec((2, 3, 2), 0.25, 0)
        return Model(edge, TensorSpec((2, 2, 3), 0.25, 0), [layer], [(2, 3, 2), (2, 2, 3)])
    elif op == "STRIDED_SLICE":
        layer = prepare_strided_slice((1, 4, 5), [(0, 1, 1), (3, 2, -2), (1, 2, 2)])
        edge = TensorSpec((4, 5), 0.25, 0)
        return Model(edge, TensorSpec((2, 2), 0.25, 0), [layer], [(4, 5), (2, 2)])
    elif op == "LOG_SOFTMAX":
        layer = prepare_log_softmax(SHAPE, 0.1, 16 / 256, 127)
    elif op == "LOOKUP":
        table = hard_swish_table(0.05, 2, 0.04, -3)
        layer = prepare_table("HARD_SWISH", SHAPE[0] * SHAPE[1], table)
    elif op == "SUB":
        layer = prepare_sub(SHAPE, SHAPE, (0.1, 3), (0.1, 3), (0.05, -2), "relu", (0, 0), 1)
    elif op == "ADD_BROADCAST":
        layer = prepare_add_broadcast(
            SHAPE, SHAPE, (0.1, 3), (0.1, 3), (0.3, 1), "relu6", (0, 0), 1
        )
    elif op in ("MAXIMUM", "MINIMUM"):
        q = (0.1, 3)
        layer = prepare_maximum_minimum(op, SHAPE, SHAPE, q, q, q, (0, 0), 1)
    elif op == "PRELU":
        layer = prepare_prelu(SHAPE, SHAPE, (0.1, 3), (0.1, 3), (0.05, -2), (0, 0), 1)
    else:
        assert op == "SOFTMAX", f"{op} needs a model here"
        layer = prepare_softmax(SHAPE, 1.0, 0.1, 1 / 256, -128)
    edge = TensorSpec(SHAPE, 0.25, 0)
    return Model(edge, edge, [layer], [SHAPE, SHAPE])


def _verdict(read, data):
    try:
        read(data)
    except ValueError as error:
        return "refused", str(error)
    return "accepted", ""


def _host(data):
    container.read(data)


def _device(data):
    device_module("container").read(io.BytesIO(data))


def _mutations(data):
    """(what, bytes) for every parameter and the first and last value of every tensor."""
    data = bytearray(data)
    record = layout(data)[0]
    n_params = data[record["record"] + 2]
    for i in range(n_params):
        at = record["record"] + 24 + 4 * i
        original = struct.unpack_from("<i", data, at)[0]
        values = {original - 1, original + 1, *PARAM_VALUES} - {original}
        for value in sorted(v for v in values if -(2**31) <= v < 2**31):
            patched = bytearray(data)
            struct.pack_into("<i", patched, at, value)
            yield ("param", i, value), with_crcs(patched)
    for t, tensor in enumerate(record["tensors"]):
        dtype, _, count = struct.unpack_from("<B3xII", data, tensor["descriptor"])
        itemsize = 4 if dtype == 2 else 1
        nbytes = count * itemsize if dtype in (1, 2) else (count * {3: 4, 4: 2}[dtype] + 7) // 8
        for index in {0, nbytes // itemsize - 1}:
            at = tensor["at"] + index * itemsize
            for value in INT32_VALUES if dtype == 2 else BYTE_VALUES:
                patched = bytearray(data)
                struct.pack_into("<i" if dtype == 2 else "<B", patched, at, value)
                if patched != data:
                    yield ("tensor", t, index, value), with_crcs(patched)


def _host_ignores_a_difference(patched) -> bool:
    """True if the host reader accepts bytes it would not write (e.g. unused packed bits)."""
    try:
        return container.write(container.read(patched)) != patched
    except ValueError:
        return False


def test_the_device_op_table_is_generated_from_the_hosts():
    assert (FIRMWARE / "ops.py").read_text() == device_ops_source(), (
        "firmware/micronn/ops.py is stale: run `python -m micronn.device_tables`"
    )


def test_every_operator_family_has_a_python_module_with_the_kernel_contract():
    backends = device_module("backends")
    for op, operator in OPS.items():
        family = device_module("ops").family_of(op)
        assert family == operator.family, op
        assert (FIRMWARE / f"python_{family}.py").is_file(), op
        kernel = backends.python_kernel(op)
        assert callable(kernel.prepare) and callable(kernel.run), family


@pytest.mark.parametrize("op", list(OPS))
def test_the_device_reader_judges_every_file_as_the_host_does(op):
    rng = np.random.default_rng(list(OPS).index(op))
    model = _model(op, rng)
    data = container.write(model)
    assert _verdict(_device, data) == ("accepted", ""), op
    disagreements = []
    cases = 0
    for what, patched in _mutations(data):
        cases += 1
        host, device = _verdict(_host, patched), _verdict(_device, patched)
        if host[0] == device[0] or HOST_ONLY_REFUSAL in host[1]:
            continue
        if host[0] == "accepted" and _host_ignores_a_difference(patched):
            continue  # a host reader gap: tests/test_device_container_rules.py HOST_READER_GAPS
        disagreements.append((what, host, device))
    assert cases >= 4 * len(OPS[op].params)
    assert not disagreements, disagreements[:8]


def test_the_device_rules_read_generated_parameter_indices():
    for rules in rule_modules():
        source = rules.read_text()
        if BEGIN in source:
            assert source == with_indices(source), (
                f"{rules.name}'s parameter indices are stale: run `python -m micronn.device_tables`"
            )
    source = (FIRMWARE / "rules.py").read_text()
    assert "const(14)" in source.split(END)[0]  # DEPTHWISE_CONV_2D's depth_multiplier
