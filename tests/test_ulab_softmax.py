"""The ulab backend's SOFTMAX (ulab_softmax) gives exactly the reference's integers: rows of
every depth it takes (1..32) and deeper rows it hands to python_softmax, every beta and scale
the factory draws, and rows recomputed with integers (forced by a margin above 1/2).

Runs on a MicroPython built with ulab ($MICRONN_MICROPYTHON) and skips otherwise.
"""

import json

import numpy as np
import pytest
import vm
from test_ulab_backend import ULAB_SKIP
from test_viper_backend import _softmax_inputs, _softmax_model

from micronn import container, reference

pytestmark = ULAB_SKIP

SCRIPT = (
    vm.PREDICT_FILE
    + """
import json
import micronn
from micronn import python_softmax, ulab_softmax

exact_run = python_softmax.run
seen = [0]


def counted(*args):
    seen[0] += 1
    exact_run(*args)


python_softmax.run = counted
for index in range({count}):
    net = micronn.load("m%d.mnq" % index, backend="ulab", weights="ram")
    ulab = [type(step[1]) is not tuple for step in net._plan if step[0] is ulab_softmax.run]
    seen[0] = 0
    predict_file(net, "x%d.bin" % index, "y%d.bin" % index)
    redone = seen[0]
    ulab_softmax.MARGIN = 0.6  # every row with integers
    seen[0] = 0
    predict_file(net, "x%d.bin" % index, "u%d.bin" % index)
    forced = seen[0]
    ulab_softmax.MARGIN = 2.0**-13
    print(json.dumps([index, ulab, redone, forced]))
"""
)


def _run(models, inputs, folder):
    """Per model: (ulab took the layer, rows recomputed, rows recomputed when forced); both
    runs' outputs must equal the reference."""
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        (folder / f"m{index}.mnq").write_bytes(container.write(model))
        (folder / f"x{index}.bin").write_bytes(np.ascontiguousarray(x, np.int8).tobytes())
    out = vm.run(SCRIPT.replace("{count}", str(len(models))), cwd=folder, heapsize="8M")
    results = {}
    for index, ulab, redone, forced in map(json.loads, out.splitlines()):
        expected = reference.run(models[index], inputs[index])
        for name in ("y", "u"):
            got = np.frombuffer((folder / f"{name}{index}.bin").read_bytes(), np.int8)
            np.testing.assert_array_equal(got.reshape(expected.shape), expected, f"{index}{name}")
        results[index] = (ulab, redone, forced)
    assert len(results) == len(models)
    return results


@pytest.mark.parametrize("depth", [1, 2, 10, 32, 33, 100])
def test_softmax_rows_are_exact(tmp_path, depth):
    rng = np.random.default_rng(90 + depth)
    models = [_softmax_model(rng, int(rng.integers(1, 4)), depth) for _ in range(6)]
    inputs = [_softmax_inputs(rng, model, 40) for model in models]
    results = _run(models, inputs, tmp_path)
    for index, (ulab, redone, forced) in results.items():
        assert ulab == [depth <= 32]
        if depth <= 32:  # deeper layers run python_softmax whole, once per predict
            assert forced == len(inputs[index]) * models[index].input.shape[0]
            assert redone <= forced
