"""The viper kernels' arithmetic is safe on 32-bit boards, where an overflow would wrap silently.

The VM's viper words are 64-bit, so the VM tests cannot see an overflow. Here the viper
functions themselves run under CPython through tests/viper_emulation.py, as on a 32-bit board
(signed ptr32 loads) and with every intermediate checked against [-2**30, 2**30 - 1], on layers
that sit exactly on the container's 31-bit bounds; the results must still be the reference's.
That is the sound, cheap check: the bounds each kernel's docstring argues (every value is the
python kernel's own, or a 16-bit half of one) are executed at their extremes, line by line.
"""

import io
from array import array

import numpy as np
import pytest
import viper_emulation
from conv_factory import (
    bound_conv,
    layer_input_shape,
    one_layer_model,
    output_shape,
    random_conv,
    random_mean,
    random_pool,
)
from conv_factory import random_inputs as image_inputs
from device_package import FIRMWARE
from graph_factory import random_residual_model
from test_device_int31 import (
    BOUND_CASES,
    HIGH,
    LOW,
    Int31Overflow,
    assert_small_constants,
    bound_model,
)
from test_device_int31_conv import DeviceOp
from test_viper_backend import VIPER_MODULES, _lookup_model, _softmax_inputs, _softmax_model

from micronn import container, reference
from micronn.model import Layer, Model, TensorSpec
from micronn.ops.mul import prepare_mul

PACKAGE = viper_emulation.load_package()


def _run(model, rows) -> np.ndarray:
    """Every row through the emulated viper backend; checks that viper ran every layer."""
    net = PACKAGE.load(io.BytesIO(container.write(model)), backend="viper", weights="ram")
    assert net.backend == "viper"
    for (run, *_), layer in zip(net._plan, model.layers, strict=True):
        module = getattr(PACKAGE, VIPER_MODULES[layer.op])
        assert run is module.run, layer.op
    outputs = []
    for row in rows:
        y = net.predict(array("b", np.asarray(row, np.int8).reshape(-1).tobytes()))
        outputs.append(np.array(y, np.int8))
    return np.stack(outputs)


def _expect_reference(model, rows):
    rows = np.asarray(rows, np.int8)
    expected = reference.run(model, rows).reshape(len(rows), -1)
    np.testing.assert_array_equal(_run(model, rows), expected)


def test_the_emulation_behaves_like_a_32_bit_board():
    @viper_emulation.viper
    def load_and_scale(
        words: viper_emulation.Ptr32, codes: viper_emulation.Ptr8, factor: int
    ) -> int:
        return words[0] * factor + codes[0]

    words, codes = array("i", [-5]), array("b", [-1])
    assert load_and_scale(words, codes, 3) == -15 + 255  # signed word, unsigned byte
    with pytest.raises(Int31Overflow):
        load_and_scale(array("i", [HIGH]), codes, 2)  # a board would wrap (or box) this
    with pytest.raises(IndexError):
        viper_emulation.Ptr8(codes)[1]
    assert LOW == -(2**30)


@pytest.mark.parametrize(("bits", "in_features", "multiplier"), BOUND_CASES)
def test_dense_on_the_bound(bits, in_features, multiplier):
    model = bound_model(bits, in_features, multiplier)
    _expect_reference(model, [np.full(in_features, -128), np.full(in_features, 127)])


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv2d", "depthwise"])
@pytest.mark.parametrize("bits", [8, 4, 2])
@pytest.mark.parametrize("multiplier", [2**30, 2**30 + 0x7FFF, 2**31 - 1])
def test_convolutions_on_the_bound(depthwise, bits, multiplier):
    rng = np.random.default_rng(bits * 7 + depthwise)
    for _ in range(2):
        layer = bound_conv(rng, depthwise, bits, multiplier)
        shape = layer_input_shape(layer)
        model = one_layer_model(layer, shape, 127)
        _expect_reference(model, [np.full(shape, -128), np.full(shape, 127)])


@pytest.mark.parametrize(
    ("count", "shift", "multiplier"),
    [(4100, 10, 2**31 - 1), (4100, 10, 2**29), (16, 17, 2**31 - 1), (4, -31, 2**30), (1, 0, 1)],
)
def test_means_on_the_bound(count, shift, multiplier):
    assert count * 255 << max(shift, 0) < 2**30
    for input_zp, output_zp in ((127, -128), (-128, 127)):
        params = {
            "in_height": 1,
            "in_width": count,
            "channels": 2,
            "input_zero_point": input_zp,
            "output_zero_point": output_zp,
            "multiplier": multiplier,
            "shift": shift,
        }
        model = one_layer_model(Layer("MEAN", params, {}), (1, count, 2), input_zp)
        _expect_reference(model, [np.full((1, count, 2), -128), np.full((1, count, 2), 127)])


@pytest.mark.parametrize("multiplier", [2**30, 2**30 + 0x7FFF, 2**31 - 1])
@pytest.mark.parametrize("output_shift", [0, -1, -19, -31])
def test_adds_on_the_bound(multiplier, output_shift):
    for offsets in ((128, -127), (-127, 128)):
        params = {
            "size": 4,
            "input1_offset": offsets[0],
            "input2_offset": offsets[1],
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
        # ADD(x, x): with offsets 128 and -127, codes 127 and -128 give +-255 * 2**20 inputs
        layer = Layer("ADD", params, {}, (0, 0), 1)
        model = Model(TensorSpec((4,), 0.1, 0), TensorSpec((4,), 0.1, 0), [layer], [(4,), (4,)])
        _expect_reference(model, [[127, -128, 127, 0], [-128, 127, -128, 5]])


@pytest.mark.parametrize("multiplier", [2**30, 2**30 + 0x7FFF, 2**31 - 1])
@pytest.mark.parametrize("output_shift", [14, 13, 0, -31])
def test_muls_on_the_bound(multiplier, output_shift):
    # MUL(x, x) with zero points -127 and 128: codes 127 and -128 give products of +-255 * 255,
    # shifted left by up to 14 (the container's limit): just below 2**30
    layer = prepare_mul((2, 3), (2, 3), (0.1, -128), (0.1, 127), (0.01, -3), inputs=(0, 0))
    layer.output = 1
    layer.params |= {"output_multiplier": multiplier, "output_shift": output_shift}
    model = Model(TensorSpec((2, 3), 0.1, 0), TensorSpec((2, 3), 0.1, 0), [layer], [(2, 3)] * 2)
    _expect_reference(model, [[127, -128, 127, 0, 1, -1], [-128, 127, -128, 5, -5, 100]])


@pytest.mark.parametrize("depth", [1, 7, 512, 2047])
def test_softmax_rows(depth):
    rng = np.random.default_rng(depth)
    model = _softmax_model(rng, 2, depth)
    _expect_reference(model, _softmax_inputs(rng, model, 4))


def test_random_layers_and_graphs():
    rng = np.random.default_rng(3232)
    for _ in range(12):
        for layer in (random_conv(rng, max_size=6)[0], random_pool(rng), random_mean(rng)[0]):
            shape = layer_input_shape(layer)
            model = one_layer_model(layer, shape, layer.params.get("input_zero_point", 0))
            _expect_reference(model, image_inputs(rng, shape, 2))
    for _ in range(6):
        model = random_residual_model(rng)
        _expect_reference(model, rng.integers(-128, 128, (2, *model.input.shape)))
    for op in ("LOGISTIC", "TANH"):
        model = _lookup_model(rng, op)
        _expect_reference(model, rng.integers(-128, 128, (2, *model.input.shape)))


def test_an_accumulator_past_the_bound_is_caught():
    """One more unit of bias than the rule allows: requantize's acc << left leaves 31 bits (a
    board would wrap it). The reader refuses such a layer, so the kernel is called directly."""
    layer = bound_conv(np.random.default_rng(0), False, 8, 2**31 - 1)
    on_the_bound = layer.bias.copy()
    left = np.maximum(layer.shift.astype(np.int64), 0)
    widened = np.where(layer.bias >= 0, layer.bias + 1, layer.bias - 1)
    layer.tensors["bias"] = np.where(left == 0, widened, layer.bias).astype(np.int32)
    kernel = PACKAGE.viper_conv
    params = [int(layer.params[name]) for name in layer.spec.params]
    tensors = [array("b", layer.weights.reshape(-1).tobytes())]
    tensors += [
        array("i", layer.tensors[name].astype(np.int32).tobytes())
        for name in ("bias", "multiplier", "shift")
    ]
    plan = kernel.prepare(DeviceOp(layer), params, tensors)
    x = array("b", bytes(np.full(layer_input_shape(layer), -128, np.int8)))
    out = array("b", bytes(int(np.prod(output_shape(layer)))))
    with pytest.raises(Int31Overflow):
        kernel.run(plan, memoryview(x), None, memoryview(out))
    tensors[1] = array("i", on_the_bound.astype(np.int32).tobytes())  # and on it, no error
    kernel.run(
        kernel.prepare(DeviceOp(layer), params, tensors), memoryview(x), None, memoryview(out)
    )


def test_requantize_rounds_as_fixedpoint():
    """viper_requant rounds once where fixedpoint rounds twice (SRDHM, then RDBP): the same
    integers for random multipliers (q2 = 0 and 1, and few low bits) and shifts, for every
    |acc << left| up to the bound and for the accumulators next to each rounding tie."""
    fixedpoint = PACKAGE.fixedpoint
    rng = np.random.default_rng(13)
    for _ in range(60):
        multiplier = int(rng.choice([rng.integers(2**30, 2**31), rng.integers(1, 2**30)]))
        if rng.random() < 0.3:  # few low bits: u * m is a multiple of 2**30 for some u
            multiplier = int(rng.choice([2**30, 3 * 2**29, 2**31 - 2**24, 2**20]))
        shift = int(rng.integers(-34, 24))
        rq = fixedpoint.Requant(array("i", [multiplier]), array("i", [shift]))
        words = PACKAGE.viper_requant.table(
            array("i", [multiplier]), array("i", [shift]), 1, 0, -128, 127
        )
        words[3], words[4] = 0, 255  # no clamp inside the int8 range: compare the values
        limit = 2**30 >> (rq.codes[0] & 31)
        right = (rq.codes[0] >> 5) & 31
        accs = [0, 1, -1, limit - 1, 1 - limit, *rng.integers(1 - limit, limit, 40)]
        for acc in accs:
            expected = fixedpoint.requantize(int(acc), rq, 0)
            if not -128 <= expected <= 127:  # the clamp hides it: find the range that shows
                continue
            got = array("b", [0])
            PACKAGE.viper_requant.requantize(
                0, 0, 0, array("i", [int(acc)]), got, 0, 1, 0, 1, words
            )
            assert got[0] == expected, (multiplier, shift, acc)
        if right:  # ties: accumulators around the ones that land on x.5 after the shifts
            scale = multiplier / 2.0 ** (31 + right - (rq.codes[0] & 31))
            for half in range(-127, 128, 4):
                centre = int((half + 0.5) / scale) if scale else 0
                for acc in range(centre - 2, centre + 3):
                    if abs(acc) >= limit:
                        continue
                    expected = fixedpoint.requantize(acc, rq, 0)
                    if not -128 <= expected <= 127:
                        continue
                    got = array("b", [0])
                    PACKAGE.viper_requant.requantize(
                        0, 0, 0, array("i", [acc]), got, 0, 1, 0, 1, words
                    )
                    assert got[0] == expected, (multiplier, shift, acc)


@pytest.mark.parametrize("zero_point, act_min, act_max", [(-128, -128, 127), (-5, 0, 127)])
def test_requantize_with_a_relu_clamp(zero_point, act_min, act_max):
    """act_min >= zero_point (ReLU, ReLU6): every accumulator <= 0 gives act_min without the
    multiply; the others are still fixedpoint's, clamped."""
    fixedpoint = PACKAGE.fixedpoint
    rng = np.random.default_rng(14)
    for _ in range(20):
        multiplier = int(rng.integers(2**30, 2**31))
        shift = int(rng.integers(-12, 2))
        rq = fixedpoint.Requant(array("i", [multiplier]), array("i", [shift]))
        words = PACKAGE.viper_requant.table(
            array("i", [multiplier]), array("i", [shift]), 1, zero_point, act_min, act_max
        )
        limit = 2**30 >> (rq.codes[0] & 31)
        for acc in [0, 1, -1, 1 - limit, limit - 1, *rng.integers(-3000, 3000, 30)]:
            value = fixedpoint.requantize(int(acc), rq, 0) + zero_point
            got = array("b", [0])
            PACKAGE.viper_requant.requantize(
                0, 0, 0, array("i", [int(acc)]), got, 0, 1, 0, 1, words
            )
            assert got[0] == min(max(value, act_min), act_max), (multiplier, shift, acc)


@pytest.mark.parametrize("module", sorted(p.name for p in FIRMWARE.glob("viper_*.py")))
def test_no_big_int_constants_in_viper_code(module):
    """A literal of 2**30 or more is not a small int on a board: viper would load it as an
    object instead of an immediate machine word."""
    assert_small_constants(module)
