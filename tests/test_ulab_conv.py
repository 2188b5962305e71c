"""The ulab backend's CONV_2D and DEPTHWISE_CONV_2D (ulab_conv) give exactly the reference's
integers: random convolution chains, every padding / stride / dilation the factory draws,
int8 / int4 / int2, accumulators beyond 2**24, ties that need the exact path, and the layers
ulab_conv hands to python_conv (depth multiplier > 1).

Runs on a MicroPython built with ulab ($MICRONN_MICROPYTHON) and skips otherwise.
"""

import json

import numpy as np
import pytest
import vm
from conv_factory import (
    layer_input_shape,
    one_layer_model,
    random_chain,
    random_conv,
    random_inputs,
)
from model_factory import random_dense_model
from test_ulab_backend import ULAB_SKIP

from micronn import container, reference
from micronn.ops.conv import prepare_conv2d, prepare_depthwise_conv2d

pytestmark = ULAB_SKIP

SCRIPT = (
    vm.PREDICT_FILE
    + """
import json
import micronn
from micronn import ulab_conv, ulab_requant

requantize = ulab_requant.requantize
seen = {"calls": 0, "redone": 0}


def counted(*args):
    redo = requantize(*args)
    seen["calls"] += 1
    if redo is not None:
        seen["redone"] += len(redo[0])
    return redo


def unchecked(*args):
    requantize(*args)
    return None


for index in range({count}):
    net = micronn.load("m%d.mnq" % index, backend="ulab", weights="ram")
    ulab = [type(step[1]) is not tuple for step in net._plan if step[0] is ulab_conv.run]
    for name, hook in (("y", counted), ("u", unchecked)):
        ulab_requant.requantize = hook
        predict_file(net, "x%d.bin" % index, "%s%d.bin" % (name, index))
    print(json.dumps([index, net.backend, ulab, seen["calls"], seen["redone"]]))
    seen["calls"] = seen["redone"] = 0
"""
)


def _run(models, inputs, folder, heapsize="8M"):
    """Each model on the VM with backend "ulab"; asserts exact outputs. Per model: (which conv
    layers ran with ulab, vectorized requantizations, exact recomputations, wrong without)."""
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        (folder / f"m{index}.mnq").write_bytes(container.write(model))
        (folder / f"x{index}.bin").write_bytes(np.ascontiguousarray(x, np.int8).tobytes())
    out = vm.run(SCRIPT.replace("{count}", str(len(models))), cwd=folder, heapsize=heapsize)
    results = {}
    for index, backend, ulab, calls, redone in map(json.loads, out.splitlines()):
        assert backend == "ulab"
        expected = reference.run(models[index], inputs[index])
        got = np.frombuffer((folder / f"y{index}.bin").read_bytes(), np.int8)
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=f"{index}")
        unchecked = np.frombuffer((folder / f"u{index}.bin").read_bytes(), np.int8)
        wrong = int(np.sum(unchecked.reshape(expected.shape) != expected))
        results[index] = (ulab, calls, redone, wrong)
    assert len(results) == len(models)
    return results


def test_random_convolution_chains_are_exact(tmp_path):
    rng = np.random.default_rng(31)
    models = [random_chain(rng) for _ in range(24)]
    inputs = [random_inputs(rng, models[i].input.shape, 4) for i in range(len(models))]
    results = _run(models, inputs, tmp_path)
    ulab_layers = [flag for ulab, _, _, _ in results.values() for flag in ulab]
    assert any(ulab_layers) and not all(ulab_layers)  # depth multipliers > 1 use python_conv


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("bits", [8, 4, 2])
def test_single_convolutions_are_exact(tmp_path, depthwise, bits):
    rng = np.random.default_rng(40 + bits + depthwise)
    models = []
    while len(models) < 12:
        layer, _ = random_conv(rng, depthwise=depthwise, bits=bits, max_size=12)
        if depthwise and layer.params["depth_multiplier"] != 1:
            continue
        models.append(one_layer_model(layer, layer_input_shape(layer)))
    inputs = [random_inputs(rng, m.input.shape, 5) for m in models]
    results = _run(models, inputs, tmp_path)
    assert all(ulab == [True] for ulab, _, _, _ in results.values())
    assert all(calls == 5 for _, calls, _, _ in results.values())  # one per row


def _conv(rng, in_shape, out_channels, kernel, depthwise=False, padding="same", stride=(1, 1)):
    """A prepared convolution (int8) with weights of the widest magnitudes."""
    channels = in_shape[2]
    shape = (*kernel, channels) if depthwise else (out_channels, *kernel, channels)
    prepare = prepare_depthwise_conv2d if depthwise else prepare_conv2d
    return prepare(
        rng.choice([-127, -100, 99, 127], size=shape).astype(np.int8),
        np.full(channels if depthwise else out_channels, 0.01, np.float32),
        np.zeros(channels if depthwise else out_channels, np.int64),
        input_shape=in_shape,
        input_scale=0.05,
        input_zero_point=int(rng.integers(-128, 128)),
        output_scale=0.5,
        output_zero_point=int(rng.integers(-128, 128)),
        stride=stride,
        dilation=(1, 1),
        padding=padding,
        activation="none",
        weight_bits=8,
    )


@pytest.mark.parametrize("depthwise", [False, True])
def test_ties_and_double_rounding_are_exact(tmp_path, depthwise):
    """Power-of-two scales put t on half-integers; the exact path must fix the outputs that
    one float rounding gets wrong (and there are some: the check has teeth)."""
    rng = np.random.default_rng(50 + depthwise)
    in_shape = (5, 6, 12)
    layer = _conv(rng, in_shape, 12, (2, 3), depthwise)
    shifts = np.array([1, 0, -1, -2, -3, -4, -6, -8, -12, -16, -30, -31], np.int32)
    layer.tensors["multiplier"] = np.full(12, 2**30, np.int32)
    layer.tensors["shift"] = shifts
    layer.tensors["bias"] = rng.integers(-(2**16), 2**16, size=12).astype(np.int32)
    model = one_layer_model(layer, in_shape)
    x = random_inputs(rng, in_shape, 30)
    ((ulab, _, redone, wrong),) = _run([model], [x], tmp_path).values()
    assert ulab == [True]
    assert redone > 0
    assert wrong > 0, "no output needed the exact path: the test has no teeth"


def test_wide_channels_and_large_accumulators_are_exact(tmp_path):
    """600 input channels: two chunks per tap; biases near 2**29 make the float sums round, so
    flagged outputs are recomputed from the input with integers."""
    rng = np.random.default_rng(60)
    in_shape = (4, 4, 600)
    layer = _conv(rng, in_shape, 6, (3, 3), padding="valid")
    bound = 9 * 600 * 255 * 127
    layer.tensors["bias"] = (rng.choice([-1, 1], size=6) * (2**29 - bound)).astype(np.int32)
    layer.tensors["multiplier"] = rng.integers(2**30, 2**31, size=6).astype(np.int32)
    layer.tensors["shift"] = np.array([-14, -16, -18, -20, -22, -24], np.int32)
    model = one_layer_model(layer, in_shape)
    x = random_inputs(rng, in_shape, 12)
    ((ulab, calls, _, _),) = _run([model], [x], tmp_path).values()
    assert ulab == [True] and calls == 12


OLD_ULAB_SCRIPT = (
    vm.PREDICT_FILE
    + """
import micronn
from micronn import ulab_conv, ulab_dense, ulab_requant

ulab_conv.HAS_TAKE = {has_take}  # False: as on ulab < 6.6
ulab_requant.SUPPORTED = {supported}  # False: as on a ulab without around / clip / nonzero
for index in range(2):
    net = micronn.load("m%d.mnq" % index, backend="ulab", weights="ram")
    conv = [type(step[1]) is tuple for step in net._plan if step[0] is ulab_conv.run]
    dense = [not step[1].requantizer.vectorized for step in net._plan if step[0] is ulab_dense.run]
    print(conv + dense)
    predict_file(net, "x%d.bin" % index, "y%d.bin" % index)
"""
)


@pytest.mark.parametrize(("has_take", "supported"), [(False, True), (True, False)])
def test_older_ulab_falls_back_exactly(tmp_path, has_take, supported):
    """Without np.take, or without around / clip / nonzero, the convolutions run with
    python_conv; without the latter the dense layers requantize per output with integers
    too: still exact."""
    rng = np.random.default_rng(70)
    conv, _ = random_conv(rng, depthwise=False, bits=8, max_size=6)
    models = [one_layer_model(conv, layer_input_shape(conv)), random_dense_model(rng)]
    inputs = []
    for index, model in enumerate(models):
        x = random_inputs(rng, model.input.shape, 4)
        inputs.append(x)
        (tmp_path / f"m{index}.mnq").write_bytes(container.write(model))
        (tmp_path / f"x{index}.bin").write_bytes(x.tobytes())
    script = OLD_ULAB_SCRIPT.replace("{has_take}", str(has_take))
    flags = vm.run(script.replace("{supported}", str(supported)), cwd=tmp_path).splitlines()
    assert flags == ["[True]", str([not supported] * len(models[1].layers))]
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        got = np.frombuffer((tmp_path / f"y{index}.bin").read_bytes(), np.int8)
        expected = reference.run(model, x)
        np.testing.assert_array_equal(got.reshape(expected.shape), expected)


HEAP_SCRIPT = """
from array import array
import micronn
from micronn import ulab_conv

net = micronn.load("m.mnq", backend="ulab", weights="ram")
print([type(step[1]) is not tuple for step in net._plan if step[0] is ulab_conv.run])
y = array("b", bytes(len(net._result)))
with open("x.bin", "rb") as f:
    net.predict(f.read(), y)
with open("y.bin", "wb") as f:
    f.write(y)
"""


@pytest.mark.parametrize(("heapsize", "ulab"), [("512K", False), ("16M", True)])
def test_a_working_set_beyond_half_the_heap_uses_python_conv(tmp_path, heapsize, ulab):
    """A 64x64x4 image, 8 filters: about 160 K floats of working set. On a small heap the
    layer falls back to python_conv instead of failing to load; both are exact."""
    rng = np.random.default_rng(80)
    in_shape = (64, 64, 4)
    layer = _conv(rng, in_shape, 8, (3, 3))
    model = one_layer_model(layer, in_shape)
    x = random_inputs(rng, in_shape, 1)
    (tmp_path / "m.mnq").write_bytes(container.write(model))
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    assert vm.run(HEAP_SCRIPT, cwd=tmp_path, heapsize=heapsize).strip() == str([ulab])
    got = np.frombuffer((tmp_path / "y.bin").read_bytes(), np.int8)
    np.testing.assert_array_equal(got.reshape(1, -1), reference.run(model, x).reshape(1, -1))
