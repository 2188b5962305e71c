"""Acceptance: on scikit-learn's digits, micronn's post-training quantization loses at most
0.5 accuracy points with int8 weights and 2 points with int4 weights, for the Keras CNN, the
PyTorch (ONNX) CNN and an scikit-learn MLP of examples/. Checked on the numpy reference."""

import sys
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

from common import accuracy, quantized_accuracies  # noqa: E402
from datasets import digits_split  # noqa: E402

MAX_LOSS = {"int8": 0.5, "int4": 2.0}


def _keras_cnn():
    pytest.importorskip("h5py")
    from micronn.importers.keras import load_keras

    return load_keras(EXAMPLES / "keras_digits_cnn" / "digits_cnn.keras"), (8, 8, 1)


def _onnx_cnn():
    pytest.importorskip("onnx")
    from micronn.importers.onnx import load_onnx

    return load_onnx(EXAMPLES / "torch_onnx_digits" / "digits_torch.onnx"), (8, 8, 1)


def _sklearn_mlp():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from micronn.importers.sklearn import graph_from_sklearn

    x_train, _, y_train, _ = digits_split()
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=600, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x_train, y_train)
    return graph_from_sklearn(mlp), (64,)


@pytest.mark.parametrize("make", [_keras_cnn, _onnx_cnn, _sklearn_mlp])
def test_post_training_quantization_keeps_digits_accuracy(make):
    graph, shape = make()
    x_train, x_test, _, y_test = digits_split(shape)
    float_accuracy = accuracy(graph.predict(x_test), y_test)
    assert float_accuracy > 95
    results = quantized_accuracies(graph, x_train, x_test, y_test)
    for kind, (quantized_accuracy, _) in results.items():
        loss = float_accuracy - quantized_accuracy
        assert loss <= MAX_LOSS[kind], f"{kind}: {float_accuracy:.2f} -> {quantized_accuracy:.2f}"


def test_tflite_import_of_the_keras_cnn_keeps_tensorflow_accuracy():
    pytest.importorskip("tflite")
    x_train, x_test, _, y_test = digits_split((8, 8, 1))
    tflite = EXAMPLES / "keras_digits_cnn" / "digits_cnn_int8.tflite"
    int8_accuracy, _ = quantized_accuracies(tflite, None, x_test, y_test, ("int8",))["int8"]
    graph, _ = _keras_cnn()
    assert accuracy(graph.predict(x_test), y_test) - int8_accuracy <= MAX_LOSS["int8"]
