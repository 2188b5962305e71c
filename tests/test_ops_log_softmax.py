"""LOG_SOFTMAX (code 21): against the TFLM interpreter over random shapes, scales and zero points;
the device's 31-bit logarithm against the host's transcription, every intermediate a board small
int; the device backends on the MicroPython VM."""

import os
import sys

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends
from device_package import device_module

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite
from micronn.ops import log_softmax

SMALL = 2**30
ARENA = 1 << 16


def _model(shape, scale, zero_point):
    shapes = [((1, *shape), scale, zero_point), ((1, *shape), 16 / 256, 127)]
    return tflm_models.single_op_model("LOG_SOFTMAX", shapes)


def _cases(rng, count):
    for _ in range(count):
        depth = int(rng.choice([1, 2, 3, 5, 10, 40, 300, 1000, 2047]))
        shape = (int(rng.integers(1, 4)), depth) if depth < 1000 else (depth,)
        yield shape, float(np.float32(10.0 ** rng.uniform(-3, 0.7))), int(rng.integers(-128, 128))


def _inputs(rng, shape, samples=4):
    x = rng.integers(-128, 128, (samples, *shape)).astype(np.int8)
    x[1] = rng.integers(120, 128, shape)  # many values near the maximum: a large sum
    x[2] = -128
    x[2].reshape(-1)[0] = 127  # one dominant value: a sum close to 1.0
    return x


def test_matches_tflm_over_random_shapes_scales_and_zero_points():
    rng = np.random.default_rng(70)
    for case, (shape, scale, zero_point) in enumerate(_cases(rng, 150)):
        data = _model(shape, scale, zero_point)
        model = import_tflite(data, f"log_softmax{case}.tflite")
        assert [layer.op for layer in model.layers] == ["LOG_SOFTMAX"]
        x = _inputs(rng, shape)
        expected = tflm_models.run(data, x, arena_size=ARENA)
        got = reference.run(model, x.reshape(len(x), -1)).reshape(expected.shape)
        np.testing.assert_array_equal(got, expected, err_msg=f"case {case}: {shape} {scale}")


def _sums(rng, count):
    edges = [2**19, 2**19 + 1, 2**20 - 1, 2**20, 2**29, 2**30 - 1, 2047 * 2**19]
    dense = np.arange(2**19, 2**19 + 3000)
    powers = [(1 << b) + d for b in range(19, 30) for d in (-1, 0, 1) if 2**19 <= (1 << b) + d]
    return np.concatenate([edges, dense, powers, rng.integers(2**19, 2047 * 2**19, count)])


def test_the_device_logarithm_is_the_hosts():
    count = 2_000_000 if os.environ.get("MICRONN_EXHAUSTIVE") else 100_000
    sums = _sums(np.random.default_rng(71), count)
    host = log_softmax.log_q5(sums)
    assert host.min() >= log_softmax.LOG_MIN and host.max() < log_softmax.LOG_MAX
    logarithm = device_module("logarithm")
    device = np.array([logarithm.log_q5(int(s)) for s in sums])
    mismatched = np.flatnonzero(device != host)
    assert mismatched.size == 0, sums[mismatched[:5]]


def test_every_intermediate_of_the_device_logarithm_is_a_small_int():
    logarithm = device_module("logarithm")
    fixedpoint = device_module("fixedpoint")
    reciprocal = device_module("reciprocal")
    watched = {f.__code__ for f in (logarithm.log_q5, fixedpoint.srdhm, reciprocal._high)}
    watched |= {fixedpoint.rounding_divide_by_pot.__code__, reciprocal.reciprocal_half.__code__}
    watched |= {reciprocal._times_half_denominator.__code__, logarithm._bits.__code__}
    largest = [0]

    def trace(frame, event, arg):
        if frame.f_code not in watched:
            return None
        for value in frame.f_locals.values():
            if isinstance(value, int) and not isinstance(value, bool):
                largest[0] = max(largest[0], value, -value - 1)
        if event == "return" and isinstance(arg, int):
            largest[0] = max(largest[0], arg, -arg - 1)
        return trace

    sums = _sums(np.random.default_rng(72), 3000)
    sys.settrace(trace)
    try:
        for total in sums:
            logarithm.log_q5(int(total))
    finally:
        sys.settrace(None)
    assert largest[0] < SMALL


def test_the_tables_cover_every_difference():
    layer = log_softmax.prepare_log_softmax((10,), 0.1, 16 / 256, 127)
    assert layer.diff.min() >= log_softmax.DIFF_FLOOR and layer.diff.max() <= 0
    assert layer.limit.min() >= -SMALL and layer.limit.max() < SMALL
    assert layer.diff[0] == 0 and layer.limit[0] == log_softmax.LIMIT_ALWAYS


@pytest.mark.parametrize(
    ("output", "message"), [((1 / 256, -128), "16/256"), ((16 / 256, 0), "zero point 127")]
)
def test_other_output_parameters_are_refused(output, message):
    with pytest.raises(ValueError, match=message):
        log_softmax.prepare_log_softmax((4,), 0.1, *output)


def test_a_row_too_wide_for_the_boards_is_refused():
    with pytest.raises(ValueError, match="too wide"):
        log_softmax.prepare_log_softmax((2048,), 0.1, 16 / 256, 127)


@pytest.mark.parametrize(
    ("tensor", "key", "message"),
    [
        ("limit", None, "limit table is not TFLM's"),
        ("diff", None, "diff table is not TFLM's"),
        (None, "diff_min", "diff_min"),
        (None, "depth", "size mismatch|depth"),
    ],
)
def test_container_rules_refuse(tensor, key, message):
    model = import_tflite(_model((2, 5), 0.08, 3), "ls.tflite")
    layer = model.layers[0]
    if tensor:
        layer.tensors[tensor] = layer.tensors[tensor].copy()
        layer.tensors[tensor][3] += 1
    else:
        layer.params[key] += 1
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(73)
    models, inputs = [], []
    for shape, scale, zero_point in [((3, 7), 0.05, 4), ((40,), 0.3, -20), ((2, 300), 0.01, 0)]:
        models.append(import_tflite(_model(shape, scale, zero_point), "ls.tflite"))
        inputs.append(_inputs(rng, shape).reshape(4, -1))
    shape = (5, 9)
    for scale in (0.002, 1.7):
        models.append(import_tflite(_model(shape, scale, 10), "ls.tflite"))
        inputs.append(_inputs(rng, shape).reshape(4, -1))
    run_backends(models, inputs, tmp_path, ("python", "viper", "c"))
