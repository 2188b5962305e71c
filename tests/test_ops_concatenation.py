"""CONCATENATION: random shapes, axes, input counts, constant operands and quantization,
imported from .tflite and run by the reference, the device kernels and TFLM."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite


def concatenation_model(shapes, axis, quantization, constants=None) -> bytes:
    """CONCATENATION of the model input (shapes[0]) with more tensors: the input itself (a
    None in constants) or int8 constants."""
    constants = constants or [None] * (len(shapes) - 1)
    tensors = [(shapes[0], *quantization)]
    inputs = [0]
    for shape, constant in zip(shapes[1:], constants, strict=True):
        if constant is None:
            inputs.append(0)
        else:
            inputs.append(len(tensors))
            tensors.append((shape, *quantization, constant))
    out_shape = list(shapes[0])
    out_shape[axis] = sum(shape[axis] for shape in shapes)
    tensors.append((tuple(out_shape), *quantization))
    out = len(tensors) - 1
    options = tflm_models.options("ConcatenationOptions", axis=axis)
    return tflm_models.graph_model(tensors, [("CONCATENATION", inputs, [out], options)], [0], [out])


def _case(rng, case):
    rank = int(rng.integers(2, 5))
    base = [1, *(int(d) for d in rng.integers(1, 6, rank - 1))]
    axis = int(rng.integers(1, rank))
    count = 2 + case % 3
    shapes, constants = [tuple(base)], []
    for _ in range(count - 1):
        if rng.random() < 0.4:
            shapes.append(tuple(base))  # the input again
            constants.append(None)
        else:
            shape = list(base)
            shape[axis] = int(rng.integers(1, 6))
            shapes.append(tuple(shape))
            constants.append(rng.integers(-128, 128, shape).astype(np.int8))
    scale = float(np.float32(10 ** rng.uniform(-3, 0)))
    quantization = (scale, int(rng.integers(-128, 128)))
    if case % 2:
        axis -= rank  # negative axes count from the end
    return shapes, axis, quantization, constants


def _inputs(rng, shape, samples=3):
    return rng.integers(-128, 128, (samples, *shape[1:])).astype(np.int8)


def test_matches_tflm_over_random_shapes_axes_and_input_counts():
    rng = np.random.default_rng(301)
    for case in range(60):
        shapes, axis, quantization, constants = _case(rng, case)
        data = concatenation_model(shapes, axis, quantization, constants)
        x = _inputs(rng, shapes[0])
        model = import_tflite(data, f"concat{case}.tflite")
        assert sum(layer.op == "CONCATENATION" for layer in model.layers) == len(shapes) - 1
        expected = tflm_models.run(data, x)
        got = reference.run(model, x.reshape(len(x), -1))
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=str(case))


def test_inputs_quantized_otherwise_than_the_output_are_refused_as_tflm_does():
    shape = (1, 2, 3)
    tensors = [(shape, 0.1, 0), (shape, 0.2, 0), ((1, 2, 6), 0.1, 0)]
    options = tflm_models.options("ConcatenationOptions", axis=2)
    data = tflm_models.graph_model(tensors, [("CONCATENATION", [0, 1], [2], options)], [0], [2])
    with pytest.raises(ValueError, match="refuses to requantize"):
        import_tflite(data, "c.tflite")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("outer", 0, "must be >= 1"), ("inner1", 7, "input 1"), ("inner2", 2, "input 2")],
)
def test_container_rules_refuse(key, value, message):
    model = import_tflite(concatenation_model([(1, 2, 3)] * 2, 2, (0.1, 3)), "c.tflite")
    model.layers[0].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(302)
    models, inputs = [], []
    for case in range(8):
        shapes, axis, quantization, constants = _case(rng, case)
        models.append(
            import_tflite(concatenation_model(shapes, axis, quantization, constants), "c")
        )
        inputs.append(_inputs(rng, shapes[0], samples=2).reshape(2, -1))
    run_backends(models, inputs, tmp_path, ("python", "viper", "c"))
