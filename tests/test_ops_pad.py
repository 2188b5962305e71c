"""PAD and PADV2 as a layer: random shapes, amounts on any axes, pad values and quantization,
imported from .tflite and run by the reference, the device kernels and TFLM."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite


def pad_model(shape, paddings, input_q, output_q, value=None) -> bytes:
    """PAD (value None) or PADV2 with an int8 constant value, of the model input."""
    paddings = np.asarray(paddings, np.int32)
    out_shape = tuple(int(d + a + b) for d, (a, b) in zip(shape, paddings, strict=True))
    tensors = [(shape, *input_q), (paddings.shape, None, None, paddings)]
    inputs = [0, 1]
    if value is not None:
        tensors.append(((1,), *output_q, np.array([value], np.int8)))
        inputs.append(2)
    tensors.append((out_shape, *output_q))
    out = len(tensors) - 1
    op = "PAD" if value is None else "PADV2"
    return tflm_models.graph_model(tensors, [(op, inputs, [out], None)], [0], [out])


def _case(rng, case):
    rank = int(rng.integers(2, 5))
    shape = (1, *(int(d) for d in rng.integers(1, 6, rank - 1)))
    paddings = rng.integers(0, 4, (rank, 2)) * (rng.random((rank, 1)) < 0.7)
    paddings[0] = 0  # the batch stays 1
    scale = float(np.float32(10 ** rng.uniform(-3, 0)))
    input_q = (scale, int(rng.integers(-128, 128)))
    # TFLM copies codes: the output may have other parameters than the input
    output_q = input_q if case % 3 else (scale * 2, int(rng.integers(-128, 128)))
    value = int(rng.integers(-128, 128)) if case % 2 else None
    return shape, paddings, input_q, output_q, value


def _inputs(rng, shape, samples=3):
    return rng.integers(-128, 128, (samples, *shape[1:])).astype(np.int8)


def test_matches_tflm_over_random_shapes_amounts_and_values():
    rng = np.random.default_rng(311)
    for case in range(80):
        shape, *spec = _case(rng, case)
        data = pad_model(shape, *spec)
        model = import_tflite(data, f"pad{case}.tflite")
        assert [layer.op for layer in model.layers] == ["PAD"]
        x = _inputs(rng, shape)
        expected = tflm_models.run(data, x)
        got = reference.run(model, x.reshape(len(x), -1))
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=str(case))


def test_padv2_value_quantized_otherwise_than_the_output_is_refused_as_tflm_does():
    shape, paddings = (1, 2, 3), [[0, 0], [1, 1], [0, 2]]
    tensors = [(shape, 0.1, 0), ((3, 2), None, None, np.array(paddings, np.int32))]
    tensors += [((1,), 0.2, 0, np.array([4], np.int8)), ((1, 4, 5), 0.1, 0)]
    data = tflm_models.graph_model(tensors, [("PADV2", [0, 1, 2], [3], None)], [0], [3])
    with pytest.raises(ValueError, match="refuses to requantize"):
        import_tflite(data, "p.tflite")


def test_a_negative_amount_is_refused():
    shape, paddings = (1, 4, 3), [[0, 0], [-1, 1], [0, 0]]
    tensors = [(shape, 0.1, 0), ((3, 2), None, None, np.array(paddings, np.int32))]
    tensors.append(((1, 4, 3), 0.1, 0))
    data = tflm_models.graph_model(tensors, [("PAD", [0, 1], [2], None)], [0], [2])
    with pytest.raises(ValueError, match="must be >= 0"):
        import_tflite(data, "p.tflite")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("in_dim3", 0, "dims must be"),
        ("pad_after3", 3, "output tensor size"),
        ("in_dim2", 4, "input tensor size"),
        ("value", 128, "pad value"),
    ],
)
def test_container_rules_refuse(key, value, message):
    model = import_tflite(pad_model((1, 2, 3), [[0, 0], [1, 1], [0, 2]], (0.1, 3), (0.1, 3)), "p")
    model.layers[0].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(312)
    models, inputs = [], []
    for case in range(8):
        shape, *spec = _case(rng, case)
        models.append(import_tflite(pad_model(shape, *spec), "p.tflite"))
        inputs.append(_inputs(rng, shape, samples=2).reshape(2, -1))
    run_backends(models, inputs, tmp_path, ("python", "viper", "c"))
