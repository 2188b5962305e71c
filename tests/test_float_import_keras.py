"""Keras import without TensorFlow: the float graph computes what Keras computed at export
time, and layers micronn cannot run stop the import with a message naming them."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from micronn import container, convert, reference  # noqa: E402
from micronn.importers.keras import load_keras  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RNG = np.random.default_rng(5)


@pytest.mark.parametrize(
    "path",
    [
        "keras_digits_cnn/digits_cnn.keras",
        "keras_digits_cnn/digits_cnn.h5",
        "sensor_1d/sensor_1d.keras",
    ],
)
def test_float_graph_matches_keras_outputs(path):
    expected = np.load(EXAMPLES / Path(path).parent / "expected.npz")
    graph = load_keras(EXAMPLES / path)
    got = graph.predict(expected["inputs"])
    np.testing.assert_allclose(got, expected["outputs"], rtol=1e-5, atol=1e-6)


def _layer(kind, name, **config):
    return {"class_name": kind, "config": {"name": name, **config}}


def _input(shape):
    return _layer("InputLayer", "input_layer", batch_shape=[None, *shape])


def write_keras(path, layers, weights=None, kind="Sequential"):
    """A Keras 3 .keras zip. weights: {group key in model.weights.h5: [arrays]}."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for key, arrays in (weights or {}).items():
            group = handle.create_group(f"layers/{key}/vars")
            for index, array in enumerate(arrays):
                group.create_dataset(str(index), data=array)
    config = {"class_name": kind, "config": {"name": "m", "layers": layers}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", buffer.getvalue())
    return path


def test_batch_norm_relu_and_global_max_pooling(tmp_path):
    conv_kernel = RNG.normal(size=(3, 3, 2, 4)).astype(np.float32)
    gamma, beta = RNG.normal(size=4), RNG.normal(size=4)
    mean, variance = RNG.normal(size=4), RNG.uniform(0.5, 2, 4)
    dense_kernel, dense_bias = RNG.normal(0, 0.2, (4, 3)), RNG.normal(size=3)
    layers = [
        _input((6, 5, 2)),
        _layer(
            "Conv2D",
            "c",
            filters=4,
            kernel_size=[3, 3],
            strides=[2, 1],
            padding="same",
            dilation_rate=[1, 1],
            activation="linear",
            use_bias=False,
        ),  # fmt: skip
        _layer("BatchNormalization", "bn", axis=-1, epsilon=1e-3, center=True, scale=True),
        _layer("ReLU", "relu", max_value=6.0),
        _layer("GlobalMaxPooling2D", "gmp"),
        _layer("Dropout", "drop", rate=0.5),
        _layer("Dense", "d", units=3, activation="tanh", use_bias=True),
    ]
    weights = {
        "conv2d": [conv_kernel],
        "batch_normalization": [gamma, beta, mean, variance],
        "dense": [dense_kernel, dense_bias],
    }
    graph = load_keras(write_keras(tmp_path / "bn.keras", layers, weights))
    assert [node.op for node in graph.nodes] == ["conv2d", "max_pool", "reshape", "dense", "tanh"]

    x = RNG.normal(size=(4, 6, 5, 2)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (0, 1), (1, 1), (0, 0)))  # TensorFlow's SAME: odd pad after
    conv = np.zeros((4, 3, 5, 4))
    for oy in range(3):
        for ox in range(5):
            patch = padded[:, 2 * oy : 2 * oy + 3, ox : ox + 3, :]
            conv[:, oy, ox] = np.einsum("nhwc,hwco->no", patch, conv_kernel)
    normed = (conv - mean) / np.sqrt(variance + 1e-3) * gamma + beta
    pooled = np.clip(normed, 0, 6).max(axis=(1, 2))
    expected = np.tanh(pooled @ dense_kernel + dense_bias)
    np.testing.assert_allclose(graph.predict(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([_input((8, 3)), _layer("LSTM", "my_lstm", units=4)], r"'my_lstm' \(LSTM\).*tflite"),
        ([_input((None, 3)), _layer("Flatten", "f")], "static input shape"),
        ([_input((8, 3)), _layer("Dense", "per_step", units=2)], "Flatten"),
        (
            [_input((4, 4, 2)), _layer("Conv2D", "cf", data_format="channels_first")],
            "channels_first",
        ),
        ([_input((4,)), _layer("Activation", "act", activation="gelu")], "gelu"),
    ],
)
def test_unsupported_layers_are_named(tmp_path, layers, message):
    with pytest.raises(ValueError, match=message):
        load_keras(write_keras(tmp_path / "bad.keras", layers))


def test_weights_missing_and_not_a_model(tmp_path):
    layers = [_input((4,)), _layer("Dense", "d", units=2, activation="relu", use_bias=True)]
    with pytest.raises(ValueError, match="'d': its weights are missing"):
        load_keras(write_keras(tmp_path / "noweights.keras", layers))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="cannot read as HDF5"):
        load_keras(tmp_path / "junk.h5")


def test_keras_file_converts_with_calibration_only(tmp_path):
    path = EXAMPLES / "sensor_1d" / "sensor_1d.keras"
    with pytest.raises(ValueError, match="needs calibration data"):
        convert(path)
    calibration = np.load(EXAMPLES / "sensor_1d" / "expected.npz")["inputs"]
    model = container.read(convert(path, calibration=calibration, weights="int4"))
    assert model.input.shape == (1, 64, 3)
    assert {layer.weight_bits for layer in model.layers if "weights" in layer.tensors} == {4}


def _functional(layers, output):
    return {
        "name": "m",
        "layers": layers,
        "input_layers": [["input_layer", 0, 0]],
        "output_layers": [[output, 0, 0]],
    }


def _called(layer, *sources):
    return layer | {"inbound_nodes": [[[source, 0, 0, {}] for source in sources]]}


def test_concatenate_permute_zero_padding_and_cropping(tmp_path):
    layers = [
        _input((4, 3, 2)) | {"inbound_nodes": []},
        _called(_layer("ZeroPadding2D", "zp", padding=[[1, 0], [0, 2]]), "input_layer"),
        _called(_layer("Cropping2D", "crop", cropping=[[0, 1], [1, 1]]), "zp"),
        _called(_layer("Permute", "perm", dims=[1, 3, 2]), "crop"),
        _called(_layer("Permute", "back", dims=[1, 3, 2]), "perm"),
        _called(_layer("Concatenate", "cat", axis=-1), "back", "input_layer", "back"),
    ]
    path = tmp_path / "movers.keras"
    with zipfile.ZipFile(path, "w") as archive:
        config = {"class_name": "Functional", "config": _functional(layers, "cat")}
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", _empty_weights())
    graph = load_keras(path)
    assert [node.op for node in graph.nodes] == [
        "pad", "slice", "transpose", "transpose", "concat", "concat",
    ]  # fmt: skip
    x = RNG.normal(size=(5, 4, 3, 2)).astype(np.float32)
    moved = np.pad(x, [(0, 0), (1, 0), (0, 2), (0, 0)])[:, :4, 1:4, :]
    np.testing.assert_array_equal(graph.predict(x), np.concatenate([moved, x, moved], axis=-1))
    data = convert(str(path), calibration=RNG.normal(size=(32, 4, 3, 2)).astype(np.float32))
    model = container.read(data)
    ops = [layer.op for layer in model.layers]
    assert ops == ["PAD", "STRIDED_SLICE", "TRANSPOSE", "TRANSPOSE", *["CONCATENATION"] * 2]
    codes = reference.run(model, reference.quantize_input(model, x))
    got = reference.dequantize_output(model, codes).reshape(x.shape[0], 4, 3, 6)
    # data movers add no error: every output is an input code, on the concatenation's scale
    assert np.abs(got - graph.predict(x)).max() <= model.output.scale


def _empty_weights() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w"):
        pass
    return buffer.getvalue()


def test_concatenating_a_fixed_range_output_is_refused(tmp_path):
    layers = [
        _input((4,)) | {"inbound_nodes": []},
        _called(_layer("Activation", "sig", activation="sigmoid"), "input_layer"),
        _called(_layer("Concatenate", "cat", axis=-1), "sig", "input_layer"),
    ]
    path = tmp_path / "fixed.keras"
    with zipfile.ZipFile(path, "w") as archive:
        config = {"class_name": "Functional", "config": _functional(layers, "cat")}
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", _empty_weights())
    with pytest.raises(ValueError, match="fixed int8 parameters"):
        convert(str(path), calibration=RNG.normal(size=(16, 4)).astype(np.float32))
