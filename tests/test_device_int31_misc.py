"""ADD, LOGISTIC/TANH and SOFTMAX device kernels stay inside the boards' 31-bit small ints.

As tests/test_device_int31.py: firmware/micronn/python_add.py, python_lut.py, python_softmax.py
(with reciprocal.py) run under CPython with every predict-time integer a Small, which fails the
test the moment an arithmetic result leaves [-2**30, 2**30 - 1], and must give the reference's
integers. The layers sit on the bounds: ADD inputs (q + offset) << 20 of +-255 * 2**20 with the
largest multipliers, SOFTMAX rows of 2047 equal values (a Q12.19 sum of 2047 * 2**19), exp tables
that reach 2**31 - 1, every reachable reciprocal operand.
"""

import numpy as np
import pytest
from device_package import device_module
from test_device_int31 import Small, _small_copy, assert_small_constants

from micronn import gemmlowp
from micronn.model import Layer
from micronn.ops import KERNELS, add, lookup, softmax

MODULES = {"ADD": "python_add", "LOGISTIC": "python_lut", "TANH": "python_lut"}
MODULES["SOFTMAX"] = "python_softmax"


class DeviceOp:
    """What a kernel's prepare() reads of a container layer."""

    def __init__(self, layer: Layer):
        self.name = layer.op
        self.weight_bits = layer.weight_bits
        self.activation = layer.activation


def checked_run(layer: Layer, *inputs) -> np.ndarray:
    """prepare() with plain ints (load time may use long ints), run() with Small everywhere."""
    kernel = device_module(MODULES[layer.op])
    params = [int(layer.params[name]) for name in layer.spec.params]
    tensors = [
        [int(v) for v in np.asarray(layer.tensors[name]).reshape(-1)]
        for name, _ in layer.spec.tensors
    ]
    plan = _small_copy(kernel.prepare(DeviceOp(layer), params, tensors), {})
    sources = [[Small(int(v)) for v in x.reshape(-1)] for x in inputs]
    out = [None] * inputs[0].size
    kernel.run(plan, sources[0], sources[1] if len(sources) > 1 else None, out)
    assert all(isinstance(v, int) and -128 <= v <= 127 for v in out)
    return np.array([int(v) for v in out], np.int8)


def _expect_same(layer, *inputs):
    expected = KERNELS[layer.op](layer, [x[np.newaxis] for x in inputs], inputs[0].shape)[0]
    np.testing.assert_array_equal(checked_run(layer, *inputs), expected.reshape(-1))


CODES = np.arange(-128, 128).astype(np.int8)


def test_lookup_tables_stay_small():
    rng = np.random.default_rng(1)
    for op in ("LOGISTIC", "TANH"):
        for _ in range(5):
            scale, zero_point = float(10 ** rng.uniform(-4, 1)), int(rng.integers(-128, 128))
            layer = lookup.prepare_lookup(op, 256, scale, zero_point, *lookup.OUTPUT_PARAMS[op])
            _expect_same(layer, rng.permutation(CODES))


@pytest.mark.parametrize("multiplier", [2**30, 2**30 + 0x7FFF, 2**31 - 1])
@pytest.mark.parametrize("output_shift", [0, -1, -19, -31])
def test_adds_on_the_bound_stay_small(multiplier, output_shift):
    params = {
        "size": 4,
        "input1_offset": 128,
        "input2_offset": -127,
        "output_offset": -3,
        "left_shift": 20,
        "input1_multiplier": multiplier,
        "input1_shift": 0,
        "input2_multiplier": multiplier,
        "input2_shift": 0,
        "output_multiplier": multiplier,
        "output_shift": output_shift,
        "act_min": -128,
        "act_max": 127,
    }
    layer = Layer("ADD", params, {}, (0, 1), 2)
    a = np.array([127, -128, 127, 0], np.int8)
    b = np.array([-128, 127, 127, 0], np.int8)
    _expect_same(layer, a, b)
    flipped = Layer("ADD", params | {"input1_offset": -127, "input2_offset": 128}, {}, (0, 1), 2)
    _expect_same(flipped, a, b)


def test_random_adds_stay_small():
    rng = np.random.default_rng(2)
    for case in range(40):
        scales = [float(10 ** rng.uniform(-3, 1)) for _ in range(3)]
        zero_points = [int(v) for v in rng.integers(-128, 128, 3)]
        activation = ("none", "relu", "relu6")[case % 3]
        quantization = [v for pair in zip(scales, zero_points, strict=True) for v in pair]
        layer = add.prepare_add(64, *quantization, activation=activation)
        _expect_same(layer, *rng.integers(-128, 128, (2, 64)).astype(np.int8))


def _softmax_rows(rng, depth):
    rows = rng.integers(-128, 128, (6, depth))
    rows[1] = 127  # all equal: the largest sum
    rows[2] = -128
    rows[3, 0] = 127  # one dominant value
    rows[3, 1:] = -128
    rows[4] = 127 - rng.integers(0, 3, depth)
    return rows.astype(np.int8)


@pytest.mark.parametrize("depth", [1, 2, 7, 100, 511, 512, 2047])
def test_softmax_rows_stay_small(depth):
    rng = np.random.default_rng(depth)
    for beta, scale in ((1.0, 0.1), (1.0, 1e-4), (3.0, 2.5), (1000.0, 100.0)):
        layer = softmax.prepare_softmax((6, depth), beta, scale, 1 / 256, -128)
        _expect_same(layer, _softmax_rows(rng, depth))


def test_reciprocal_of_every_kind_of_sum():
    """reciprocal_half against gemmlowp's one_over_one_plus_x_for_x_in_0_1 at a = 2h."""
    reciprocal = device_module("reciprocal")
    rng = np.random.default_rng(3)
    h = np.concatenate(
        [
            np.arange(0, 64, 2),
            2**30 - np.arange(2, 66, 2),
            rng.integers(0, 2**29, 3000) * 2,
            (np.arange(1, 2048) << 19) % 2**30,  # sums k * 2**19 of k equal values
        ]
    ).astype(np.int64)
    expected = gemmlowp.one_over_one_plus_x_for_x_in_0_1(2 * h)
    for value, want in zip(h, expected, strict=True):
        half = reciprocal.reciprocal_half(Small(int(value)))
        got = 2**31 - 1 if half == reciprocal.SATURATED else 2 * int(half)
        assert got == want, int(value)


def test_reciprocal_saturates_for_a_power_of_two_sum():
    reciprocal = device_module("reciprocal")
    assert reciprocal.reciprocal_half(Small(0)) == reciprocal.SATURATED
    assert gemmlowp.one_over_one_plus_x_for_x_in_0_1(0) == 2**31 - 1


@pytest.mark.parametrize(
    "module", ["python_add.py", "python_lut.py", "python_softmax.py", "reciprocal.py"]
)
def test_no_big_int_constants_in_these_kernels(module):
    assert_small_constants(module)
