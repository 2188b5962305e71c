"""ADD with broadcasting (ADD_BROADCAST, code 14) or a constant operand (a CONSTANT layer feeding
the flat ADD, code 7): random shapes, scales, zero points and fused activations against TFLM."""

import numpy as np
import pytest
import tflm_models as tm
from backend_vm import run_backends
from elementwise_models import (
    binary_model,
    check_against_tflm,
    check_backend_modules,
    device_models,
)

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite


def test_matches_tflm_over_random_shapes_scales_and_zero_points():
    used = check_against_tflm("ADD", 51)
    assert {"ADD", "ADD_BROADCAST", "CONSTANT"} <= used


def test_the_importer_picks_the_flat_add_for_one_shape():
    rng = np.random.default_rng(52)
    constant = rng.integers(-128, 128, (1, 3, 4)).astype(np.int8)
    same = binary_model("ADD", (1, 3, 4), (1, 3, 4), (0.1, 1), (0.2, 2), (0.3, 3), "none", constant)
    assert [layer.op for layer in import_tflite(same, "m.tflite").layers] == ["CONSTANT", "ADD"]
    spread = binary_model(
        "ADD", (1, 3, 4), (1, 1, 4), (0.1, 1), (0.2, 2), (0.3, 3), "none", constant[:, :1]
    )
    ops = [layer.op for layer in import_tflite(spread, "m.tflite").layers]
    assert ops == ["CONSTANT", "ADD_BROADCAST"]


def test_a_broadcast_add_of_two_computed_tensors_matches_tflm():
    """x [1, 4] + FC(x) [1, 1]: both operands computed, with different scales."""
    weights = np.array([[1, 2, 3, 4]], np.int8)
    tensors = [
        ((1, 4), 0.1, 0),
        ((1, 4), 0.01, 0, weights),
        ((1,), 0.001, 0, np.array([7], np.int32)),
        ((1, 1), 0.1, 0),
        ((1, 4), 0.2, 0),
    ]
    fused = tm.options("AddOptions", fusedActivationFunction=0)
    dense = tm.options("FullyConnectedOptions", fusedActivationFunction=0)
    operators = [("FULLY_CONNECTED", [0, 1, 2], [3], dense), ("ADD", [0, 3], [4], fused)]
    data = tm.graph_model(tensors, operators, [0], [4])
    model = import_tflite(data)
    assert [layer.op for layer in model.layers] == ["FULLY_CONNECTED", "ADD_BROADCAST"]
    x = np.random.default_rng(53).integers(-128, 128, (5, 4)).astype(np.int8)
    np.testing.assert_array_equal(reference.run(model, x), tm.run(data, x))


def test_container_rules_refuse_a_left_shift_past_20():
    rng = np.random.default_rng(54)
    constant = rng.integers(-128, 128, (1, 1, 4)).astype(np.int8)
    data = binary_model("ADD", (1, 3, 4), (1, 1, 4), (0.1, 1), (0.2, 2), (0.3, 3), "none", constant)
    model = import_tflite(data, "m.tflite")
    model.layers[-1].params["left_shift"] = 21
    with pytest.raises(ContainerError, match="left_shift"):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    models, rows = device_models("ADD", 55)
    available, modules, _ = run_backends(models, rows, tmp_path, ("python", "viper", "c"))
    assert "viper" in available
    broadcasting = [i for i, m in enumerate(models) if "ADD_BROADCAST" in [x.op for x in m.layers]]
    assert broadcasting
    check_backend_modules(
        [models[i] for i in broadcasting],
        {
            (broadcasting.index(i), b): names
            for (i, b), names in modules.items()
            if i in broadcasting
        },
        "ADD_BROADCAST",
    )
