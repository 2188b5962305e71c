"""MAXIMUM and MINIMUM: random shapes (broadcasting, constant operands on either side) with one
quantization for inputs and output, against TFLM; other quantizations are refused."""

import numpy as np
import pytest
from backend_vm import run_backends
from elementwise_models import (
    binary_model,
    check_against_tflm,
    check_backend_modules,
    device_models,
)

from micronn.importers.tflite import import_tflite


@pytest.mark.parametrize(("op", "seed"), [("MAXIMUM", 61), ("MINIMUM", 62)])
def test_matches_tflm_over_random_shapes_and_quantizations(op, seed):
    assert op in check_against_tflm(op, seed, count=60, same_quantization=True)


def test_inputs_quantized_unlike_the_output_are_refused():
    constant = np.zeros((1, 4), np.int8)
    data = binary_model("MAXIMUM", (1, 4), (1, 4), (0.1, 0), (0.1, 0), (0.2, 0), "none", constant)
    with pytest.raises(ValueError, match="MAXIMUM .*compares raw codes.*all three are equal"):
        import_tflite(data, "m.tflite")


def test_device_backends_give_the_reference_integers(tmp_path):
    models, rows = [], []
    for op, seed in (("MAXIMUM", 63), ("MINIMUM", 64)):
        more = device_models(op, seed, count=6, same_quantization=True)
        models += more[0]
        rows += more[1]
    available, modules, _ = run_backends(models, rows, tmp_path, ("python", "viper", "c"))
    assert "viper" in available
    half = len(models) // 2
    check_backend_modules(models[:half], modules_of(modules, range(half)), "MAXIMUM")
    check_backend_modules(models[half:], modules_of(modules, range(half, len(models))), "MINIMUM")


def modules_of(modules, indices):
    indices = list(indices)
    return {(indices.index(i), b): names for (i, b), names in modules.items() if i in indices}
