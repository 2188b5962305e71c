"""Keras models without TensorFlow: `.keras` (Keras 3 zip) and legacy `.h5`, read with h5py.

A `.keras` file is a zip of config.json (the architecture) and model.weights.h5 (variables
under layers/<name>/vars/<i>); a legacy `.h5` holds the architecture as JSON in its
`model_config` attribute and the weights under model_weights/<name>, listed by `weight_names`.
Sequential models and Functional graphs with one input and one output are supported.
The HDF5 parts are read in a child process with limits (importers/hdf5.py).
"""

import json
import re
import zipfile
from pathlib import Path

from micronn.arrays import ZIP_ERRORS, member_bytes
from micronn.graph import FloatGraph
from micronn.importers import hdf5
from micronn.importers.keras_layers import KerasGraph, layer_list
from micronn.messages import one_line

ADVICE = "re-export it with model.save('model.keras')"


def _snake_case(name: str) -> str:
    """Keras' naming.to_snake_case: how a .keras weights file names a layer's group."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _weights_by_layer_name(config: dict, groups: dict) -> dict:
    """A .keras file stores each layer's variables under its class name in snake case,
    numbered in model.layers order (conv1d, conv1d_1, ...), not under the layer's own name."""
    try:
        layers = layer_list(config.get("config"))
    except ValueError as error:
        raise ValueError(f"{error} ({ADVICE})") from None
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
        weights[layer["config"].get("name", layer["class_name"])] = groups.get(key, [])
    return weights


def _parse_config(text, where: str) -> dict:
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(
            f"{where}: its model config is not valid JSON ({one_line(error)}); {ADVICE}"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(f"{where}: its model config is not a JSON object; {ADVICE}")
    return config


def _keras_groups(weights: bytes, where: str) -> dict:
    """{group name: [arrays]} of model.weights.h5 (in the child process)."""
    size = len(weights)
    with hdf5.open_file(weights, where) as handle:
        if "layers" not in hdf5.names(handle, where):
            return {}
        layers = hdf5.child(handle, "layers", where, "group")
        groups = {}
        for name in hdf5.names(layers, where):
            group = hdf5.child(layers, name, where, "group")
            if "vars" not in hdf5.names(group, where):
                groups[name] = []
                continue
            variables = hdf5.child(group, "vars", where, "group")
            keys = hdf5.names(variables, where)
            if not all(k.isdigit() for k in keys):
                raise hdf5.HDF5FileError(f"{where}: layers/{name}/vars holds {keys}; {ADVICE}")
            groups[name] = [
                hdf5.array(hdf5.child(variables, k, where, "dataset"), where, size)
                for k in sorted(keys, key=int)
            ]
    return groups


def _read_keras_zip(path):
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as error:
        message = f"{where}: not a Keras 3 .keras file ({one_line(error)}); {ADVICE}"
        raise ValueError(message) from None
    with archive:
        try:
            names = set(archive.namelist())
        except ZIP_ERRORS as error:
            message = f"{where}: damaged zip directory ({one_line(error)}); {ADVICE}"
            raise ValueError(message) from None
        if "config.json" not in names or "model.weights.h5" not in names:
            raise ValueError(f"{where}: a .keras file needs config.json and model.weights.h5")
        config = _parse_config(member_bytes(archive, "config.json", where, ADVICE), where)
        weights = member_bytes(archive, "model.weights.h5", where, ADVICE)
    label = f"{where} (model.weights.h5)"
    groups = hdf5.isolated(_keras_groups, (weights, label), label, len(weights))
    return config, _weights_by_layer_name(config, groups)


def _legacy_contents(path: str) -> tuple:
    """(model_config text, {layer name: [arrays]}) of a legacy .h5 (in the child process)."""
    size = hdf5.file_size(path)
    with hdf5.open_file(path, path) as handle:
        if not hdf5.has_attribute(handle, "model_config", path):
            raise ValueError(
                f"{path}: holds no model architecture (saved with save_weights?); "
                "save the whole model with model.save('model.keras')"
            )
        raw = hdf5.attribute(handle, "model_config", path, size)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not isinstance(text, str):
            raise hdf5.HDF5FileError(f"{path}: its model_config is not text; {ADVICE}")
        top = hdf5.names(handle, path)
        root = (
            hdf5.child(handle, "model_weights", path, "group") if "model_weights" in top else handle
        )
        weights = {}
        for name in hdf5.names(root, path):
            group = hdf5.child(root, name, path, "group", optional=True)
            if group is None or not hdf5.has_attribute(group, "weight_names", path):
                continue  # not a layer's weights (optimizer state, training config)
            label = f"{path}: weight_names of '{one_line(name)}'"
            listed = hdf5.text_list(hdf5.attribute(group, "weight_names", path, size), label)
            weights[name] = [
                hdf5.array(hdf5.child(group, n, path, "dataset"), path, size) for n in listed
            ]
    return text, weights


def _read_legacy_h5(path):
    where = str(path)
    text, weights = hdf5.isolated(_legacy_contents, (where,), where, hdf5.file_size(where))
    return _parse_config(text, where), weights


def load_keras(path) -> FloatGraph:
    """Import a Keras model saved as `.keras` or legacy `.h5`."""
    path = Path(path)
    with open(path, "rb"):  # OSError (file not found) before any parsing
        pass
    config, weights = _read_keras_zip(path) if zipfile.is_zipfile(path) else _read_legacy_h5(path)
    try:
        return KerasGraph(config, weights).build()
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
