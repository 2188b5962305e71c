"""convert(): a trained model file to .mnq bytes."""

from pathlib import Path

from micronn import bands as banding
from micronn import container
from micronn.arrays import load_npy
from micronn.importers.keras import load_keras
from micronn.importers.npz import load_npz
from micronn.importers.onnx import load_onnx
from micronn.importers.sklearn import graph_from_sklearn
from micronn.importers.tflite import check_in_scope, import_tflite, read_tflite
from micronn.importers.tflite.float_graph import float_graph, is_float_model
from micronn.labels import apply_labels, labels_argument, sklearn_labels
from micronn.messages import one_line_error
from micronn.plan import quantize_network

IMPORTERS = {".npz": load_npz, ".onnx": load_onnx, ".keras": load_keras, ".h5": load_keras}
TFLITE = ".tflite"  # int8 (imported as it is) or float32 (quantized with --calibration)


def load_model_file(path):
    suffix = Path(path).suffix.lower()
    if suffix not in IMPORTERS:
        supported = ", ".join([*IMPORTERS, TFLITE])
        raise ValueError(f"{path}: cannot import '{suffix}' files yet; supported: {supported}")
    return IMPORTERS[suffix](path)


def _load_tflite(path, calibration, weights, per_tensor, method):
    data = Path(path).read_bytes()
    graph = read_tflite(data, str(path))
    check_in_scope(graph)
    if is_float_model(graph):
        if calibration is None:
            shape = [*graph.tensors[graph.inputs[0]].shape]
            raise ValueError(
                f"{path}: this .tflite computes in float32, so micronn quantizes it from "
                f"calibration data: pass --calibration X.npy (float32 inputs shaped "
                f"[N, {', '.join(map(str, shape[1:]))}])"
            )
        return quantize_network(float_graph(graph), calibration, weights, per_tensor, method)
    if calibration is not None:
        raise ValueError(
            f"{path}: an int8 .tflite carries its own activation ranges, so --calibration does "
            "not apply; drop it (calibration is for float models: .tflite, .npz, .keras, .onnx)"
        )
    if per_tensor:
        raise ValueError(
            f"{path}: the .tflite fixes per-channel or per-tensor weights; drop --per-tensor "
            "(or re-export the model with per-tensor quantization)"
        )
    return import_tflite(data, str(path), weights)


def convert_to_model(
    model_path,
    calibration=None,
    weights="int8",
    per_tensor=False,
    method="minmax",
    labels=None,
    bands="auto",
):
    """Import and quantize; calibration is an array or a path to a .npy file; labels: None, a
    labels file (one per line) or a sequence of class names for output 0's last axis; bands:
    "auto" (the first window layers run in bands of rows when that saves heap, micronn.bands)
    or None (every layer whole).

    An int8 .tflite is imported as is (--weights int4/int2 re-quantize its weights, see
    importers/tflite/weights.py); a float .tflite is quantized from calibration like the
    other float formats. Any problem with the files is a ValueError (or a subclass) with a
    one-line message, or an OSError when a file cannot be opened."""
    try:
        names, source = labels_argument(labels)
        model = _convert_to_model(model_path, calibration, weights, per_tensor, method)
        return with_bands(apply_labels(model, names, source=source), bands)
    except ValueError as error:  # messages quote names from the file: one printable line
        raise one_line_error(error) from None


def with_bands(model, bands):
    """model, its banded stage chosen (bands "auto") or none (None)."""
    if bands not in ("auto", None):
        raise ValueError(f"bands must be 'auto' or None, not {bands!r}")
    model.bands = banding.choose(model) if bands == "auto" else None
    return model


def _convert_to_model(model_path, calibration, weights, per_tensor, method):
    if isinstance(calibration, (str, Path)):
        calibration = load_npy(calibration)
    if Path(model_path).suffix.lower() == TFLITE:
        return _load_tflite(model_path, calibration, weights, per_tensor, method)
    network = load_model_file(model_path)
    return quantize_network(network, calibration, weights, per_tensor, method)


def convert(
    model_path,
    output=None,
    calibration=None,
    weights="int8",
    per_tensor=False,
    method="minmax",
    labels=None,
    bands="auto",
) -> bytes:
    """Convert a model file to .mnq bytes, and write them to `output` when given; labels and
    bands as convert_to_model's."""
    model = convert_to_model(model_path, calibration, weights, per_tensor, method, labels, bands)
    return _written(model, output)


def convert_graph(
    graph,
    output=None,
    calibration=None,
    weights="int8",
    per_tensor=False,
    method="minmax",
    labels=None,
    bands="auto",
) -> bytes:
    """Quantize a FloatGraph (micronn.graph) to .mnq bytes, written to `output` when given;
    labels and bands as convert_to_model's."""
    if isinstance(calibration, (str, Path)):
        calibration = load_npy(calibration)
    names, source = labels_argument(labels)
    model = quantize_network(graph, calibration, weights, per_tensor, method)
    return _written(with_bands(apply_labels(model, names, source=source), bands), output)


def _written(model, output) -> bytes:
    """The container bytes of model, also written to `output` when given."""
    data = container.write(model)
    if output is not None:
        Path(output).write_bytes(data)
    return data


def convert_sklearn(
    estimator,
    calibration,
    output=None,
    weights="int8",
    per_tensor=False,
    method="minmax",
    labels=None,
) -> bytes:
    """A fitted scikit-learn MLPClassifier or MLPRegressor to .mnq bytes.

    calibration: representative inputs (e.g. the training set), as the estimator takes them.
    The model's output is predict_proba's (classifier) or predict's (regressor), quantized.
    labels: by default a classifier's classes_ (as str), when they name its outputs (not for a
    binary classifier's one output); False for none; or as convert_to_model's.
    """
    graph = graph_from_sklearn(estimator)
    if labels is None:
        labels = sklearn_labels(estimator, int(graph.output_shape[-1]))
    elif labels is False:
        labels = None
    return convert_graph(graph, output, calibration, weights, per_tensor, method, labels)
