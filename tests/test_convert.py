"""The .npz importer, calibration and post-training quantization."""

import numpy as np
import pytest

from micronn import container, convert, reference
from micronn.convert import convert_to_model


def write_npz(path, layers, input_shape=(8,), **extra):
    arrays = {"input_shape": np.array(input_shape)}
    for i, (weight, bias, activation) in enumerate(layers):
        arrays[f"layer{i}_weight"] = weight
        arrays[f"layer{i}_bias"] = bias
        arrays[f"layer{i}_activation"] = np.array(activation)
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def stack(tmp_path):
    rng = np.random.default_rng(0)
    layers = [
        (rng.normal(size=(16, 8)).astype(np.float32), rng.normal(size=16), "relu"),
        (rng.normal(size=(4, 16)).astype(np.float32), rng.normal(size=4), "none"),
    ]
    return write_npz(tmp_path / "m.npz", layers), rng.normal(size=(300, 8)).astype(np.float32)


@pytest.mark.parametrize(("weights", "tolerance"), [("int8", 0.05), ("int4", 0.3)])
def test_quantized_model_tracks_float_model(stack, weights, tolerance):
    path, calibration = stack
    model = convert_to_model(path, calibration, weights=weights)
    from micronn.importers.npz import load_npz

    expected = load_npz(path).predict(calibration)
    got = reference.dequantize_output(
        model, reference.run(model, reference.quantize_input(model, calibration))
    )
    assert np.abs(got - expected).max() < tolerance * np.abs(expected).max()


def test_convert_writes_a_readable_container(stack, tmp_path):
    path, calibration = stack
    np.save(tmp_path / "cal.npy", calibration)
    data = convert(path, tmp_path / "out.mnq", tmp_path / "cal.npy", per_tensor=True)
    assert (tmp_path / "out.mnq").read_bytes() == data
    model = container.read(data)
    assert all(not layer.per_channel for layer in model.layers)


def test_missing_calibration_is_explained(stack):
    with pytest.raises(ValueError, match="calibration"):
        convert(stack[0])


def test_ranges_stored_in_npz_replace_calibration(tmp_path):
    rng = np.random.default_rng(1)
    layers = [(rng.normal(size=(3, 8)).astype(np.float32), np.zeros(3), "relu6")]
    path = write_npz(
        tmp_path / "r.npz",
        layers,
        input_range=np.array([-1.0, 1.0]),
        layer0_output_range=np.array([0.0, 6.0]),
    )
    model = convert_to_model(path)
    assert model.layers[0].act_min == -128 and model.output.scale == pytest.approx(6 / 255)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: a.pop("input_shape"), "input_shape"),
        (lambda a: a.pop("layer0_bias"), "bias"),
        (lambda a: a.update(layer0_activation=np.array("gelu")), "gelu"),
        (lambda a: a.update(extra_thing=np.zeros(1)), "unexpected"),
        (lambda a: a.update(layer1_weight=np.zeros((2, 5)), layer1_bias=np.zeros(2)), "inputs"),
    ],
)
def test_bad_npz_files_name_the_problem(tmp_path, mutate, message):
    arrays = {
        "input_shape": np.array([8]),
        "layer0_weight": np.ones((3, 8), np.float32),
        "layer0_bias": np.zeros(3),
    }
    mutate(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        convert(tmp_path / "bad.npz", calibration=np.zeros((4, 8)))


def test_unknown_file_type_and_bad_weights_option(tmp_path, stack):
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot import"):
        convert(tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="int8, int4 or int2"):
        convert(stack[0], calibration=stack[1], weights="int3")


def test_calibration_with_wrong_shape(stack):
    with pytest.raises(ValueError, match="whole inputs"):
        convert(stack[0], calibration=np.zeros((4, 7)))


def test_dead_neuron_with_bias_gets_a_wider_weight_range(tmp_path):
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(4, 8)).astype(np.float32)
    weight[2] = 1e-9
    bias = np.array([0.1, -0.2, 5.0, 0.0])
    path = write_npz(tmp_path / "dead.npz", [(weight, bias, "relu")])
    calibration = rng.normal(size=(200, 8)).astype(np.float32)
    model = convert_to_model(path, calibration)
    from micronn.importers.npz import load_npz

    expected = load_npz(path).predict(calibration)
    got = reference.dequantize_output(
        model, reference.run(model, reference.quantize_input(model, calibration))
    )
    assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()
