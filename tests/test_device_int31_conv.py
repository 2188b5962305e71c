"""The convolution, pool and MEAN kernels stay inside the boards' 31-bit small ints.

As tests/test_device_int31.py, but calling firmware/micronn/python_conv.py and python_pool.py
directly: their predict-time plan, input and output are made of Small ints, which fail the test
the moment any arithmetic result leaves [-2**30, 2**30 - 1]. The layers sit on the container's
bounds: (|bias| + taps * 255 * wmax) * 2**left = 2**30 - 1 for the convolutions, and
count * 255 * 2**left just below 2**30 for MEAN.
"""

import numpy as np
import pytest
from conv_factory import (
    bound_conv,
    layer_input_shape,
    one_layer_model,
    random_conv,
    random_inputs,
    random_mean,
    random_pool,
)
from device_package import device_module
from test_device_int31 import Int31Overflow, Small, _small_copy, assert_small_constants

from micronn import container, reference
from micronn.model import Layer
from micronn.packing import pack


class DeviceOp:
    """What a kernel's prepare() reads of a container layer."""

    def __init__(self, layer: Layer):
        self.name = layer.op
        self.weight_bits = layer.weight_bits
        self.activation = layer.activation


def _device_tensors(layer: Layer):
    """The layer's tensors as the device reader gives them: packed weights as bytes."""
    tensors = []
    for name, kind in layer.spec.tensors:
        values = np.asarray(layer.tensors[name])
        if kind == "weights" and layer.weight_bits != 8:
            tensors.append(bytearray(pack(values, layer.weight_bits)))
        else:
            tensors.append([int(v) for v in values.reshape(-1)])
    return tensors


def checked_run(layer: Layer, x: np.ndarray) -> np.ndarray:
    """prepare() with plain ints (load time may use long ints), run() with Small everywhere."""
    kernel = device_module("python_" + layer.spec.family)
    params = [int(layer.params[name]) for name in layer.spec.params]
    plan = _small_copy(kernel.prepare(DeviceOp(layer), params, _device_tensors(layer)), {})
    source = [Small(int(v)) for v in x.reshape(-1)]
    size = int(np.prod(one_layer_model(layer, layer_input_shape(layer)).output.shape))
    out = [None] * size
    kernel.run(plan, source, None, out)
    assert all(isinstance(v, int) and -128 <= v <= 127 for v in out)  # constants stay int
    return np.array([int(v) for v in out], np.int8)


def _expect_same(layer, xs):
    model = container.read(container.write(one_layer_model(layer, layer_input_shape(layer))))
    for x in xs:
        expected = reference.run(model, x).reshape(-1)
        np.testing.assert_array_equal(checked_run(layer, x), expected)


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv2d", "depthwise"])
@pytest.mark.parametrize("bits", [8, 4, 2])
@pytest.mark.parametrize("multiplier", [2**30, 2**30 + 0x7FFF, 2**31 - 1])
def test_convolutions_on_the_bound_stay_small(depthwise, bits, multiplier):
    rng = np.random.default_rng(bits * 7 + depthwise)
    for _ in range(3):
        layer = bound_conv(rng, depthwise, bits, multiplier)
        shape = layer_input_shape(layer)
        extremes = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
        _expect_same(layer, [*extremes, *random_inputs(rng, shape, 2)])


def test_random_convolutions_and_pools_stay_small():
    rng = np.random.default_rng(3131)
    for _ in range(40):
        layer, _ = random_conv(rng, max_size=6)
        _expect_same(layer, random_inputs(rng, layer_input_shape(layer), 2))
        layer = random_pool(rng)
        _expect_same(layer, random_inputs(rng, layer_input_shape(layer), 2))
        layer, _ = random_mean(rng)
        _expect_same(layer, random_inputs(rng, layer_input_shape(layer), 2))


@pytest.mark.parametrize(
    ("count", "shift", "multiplier"),
    [(4100, 10, 2**31 - 1), (4100, 10, 2**29), (16, 17, 2**31 - 1), (4, -31, 2**30), (1, 0, 1)],
)
def test_means_on_the_bound_stay_small(count, shift, multiplier):
    assert count * 255 << max(shift, 0) < 2**30
    params = {
        "in_height": 1,
        "in_width": count,
        "channels": 2,
        "input_zero_point": 127,
        "output_zero_point": -128,
        "multiplier": multiplier,
        "shift": shift,
    }
    layer = Layer("MEAN", params, {})
    lowest = np.full((1, count, 2), -128, np.int8)
    flipped = Layer("MEAN", params | {"input_zero_point": -128, "output_zero_point": 127}, {})
    _expect_same(layer, [lowest, np.full((1, count, 2), 127, np.int8)])
    _expect_same(flipped, [np.full((1, count, 2), 127, np.int8), lowest])


def test_the_checker_catches_an_accumulator_past_the_bound():
    """A conv with one more unit of bias than the rule allows overflows on the device."""
    layer = bound_conv(np.random.default_rng(0), False, 8, 2**31 - 1)
    left = np.maximum(layer.shift.astype(np.int64), 0)
    widened = np.where(layer.bias >= 0, layer.bias + 1, layer.bias - 1)
    layer.tensors["bias"] = np.where(left == 0, widened, layer.bias).astype(np.int32)
    x = np.full(layer_input_shape(layer), -128, np.int8)
    with pytest.raises(Int31Overflow):
        checked_run(layer, x)


@pytest.mark.parametrize("module", ["python_conv.py", "python_pool.py"])
def test_no_big_int_constants_in_these_kernels(module):
    assert_small_constants(module)
