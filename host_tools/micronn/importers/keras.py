"""Keras models without TensorFlow: `.keras` (Keras 3 zip) and legacy `.h5`, read with h5py.

A `.keras` file is a zip of config.json (the architecture) and model.weights.h5 (variables
under layers/<name>/vars/<i>); a legacy `.h5` holds the architecture as JSON in its
`model_config` attribute and the weights under model_weights/<name>, listed by `weight_names`.
Sequential models and Functional graphs with one input and one output are supported.
"""

import json
import re
import zipfile
from pathlib import Path

from micronn.graph import FloatGraph
from micronn.importers.keras_layers import KerasGraph


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ValueError("reading Keras models needs the h5py package: pip install h5py") from None
    return h5py


def _snake_case(name: str) -> str:
    """Keras' naming.to_snake_case: how a .keras weights file names a layer's group."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _weights_by_layer_name(config: dict, groups: dict) -> dict:
    """A .keras file stores each layer's variables under its class name in snake case,
    numbered in model.layers order (conv1d, conv1d_1, ...), not under the layer's own name."""
    layers = config.get("config", {}).get("layers", [])
    if config.get("class_name") == "Sequential":
        layers = [layer for layer in layers if layer["class_name"] != "InputLayer"]
    used, weights = {}, {}
    for layer in layers:
        key = _snake_case(layer["class_name"])
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        weights[layer["config"]["name"]] = groups.get(key, [])
    return weights


def _read_keras_zip(path):
    h5py = _h5py()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a Keras 3 .keras file ({error})") from None
    with archive:
        names = set(archive.namelist())
        if "config.json" not in names or "model.weights.h5" not in names:
            raise ValueError(f"{path}: a .keras file needs config.json and model.weights.h5")
        config = json.loads(archive.read("config.json"))
        with archive.open("model.weights.h5") as raw, h5py.File(raw, "r") as weights_file:
            layers = weights_file.get("layers")
            groups = {}
            if layers is not None:
                for name, group in layers.items():
                    variables = group.get("vars", {})
                    groups[name] = [variables[k][()] for k in sorted(variables, key=int)]
    return config, _weights_by_layer_name(config, groups)


def _read_legacy_h5(path):
    h5py = _h5py()
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: cannot read as HDF5 ({error})") from None
    with handle:
        if "model_config" not in handle.attrs:
            raise ValueError(
                f"{path}: holds no model architecture (saved with save_weights?); "
                "save the whole model with model.save('model.keras')"
            )
        raw = handle.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        root = handle["model_weights"] if "model_weights" in handle else handle
        weights = {}
        for name, group in root.items():
            names = [
                n.decode() if isinstance(n, bytes) else n
                for n in group.attrs.get("weight_names", [])
            ]
            weights[name] = [group[n][()] for n in names]
    return config, weights


def load_keras(path) -> FloatGraph:
    """Import a Keras model saved as `.keras` or legacy `.h5`."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        config, weights = _read_keras_zip(path)
    else:
        config, weights = _read_legacy_h5(path)
    try:
        return KerasGraph(config, weights).build()
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
