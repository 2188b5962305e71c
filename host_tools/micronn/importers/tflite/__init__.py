""".tflite import: an int8 TFLite flatbuffer to a quantized micronn Model, bit-exact with TFLM.

reader.py parses the flatbuffer, graph.py folds shape plumbing and wires layers, and each
ops_<family>.py registers builders (`@graph.register("OP")`) that compute TFLM's Prepare.
A float .tflite becomes a FloatGraph instead (float_graph.py), quantized from calibration data.
"""

from pathlib import Path

from micronn.importers.tflite.graph import import_graph, register, supported_operators
from micronn.importers.tflite.reader import read_tflite
from micronn.importers.tflite.scope import check_in_scope
from micronn.model import Model

WEIGHT_BITS = {"int8": 8, "int4": 4, "int2": 2}

__all__ = ["check_in_scope", "import_tflite", "load_tflite", "register", "supported_operators"]


def import_tflite(data: bytes, name: str = "model.tflite", weights: str = "int8") -> Model:
    """The Model of .tflite bytes. weights="int4"/"int2" re-quantizes the int8 weights
    (see weights.py); the result is then no longer bit-exact with TFLM."""
    if weights not in WEIGHT_BITS:
        raise ValueError(f"--weights must be int8, int4 or int2, got {weights!r}")
    graph = read_tflite(data, name)
    check_in_scope(graph)
    return import_graph(graph, WEIGHT_BITS[weights])


def load_tflite(path, weights: str = "int8") -> Model:
    return import_tflite(Path(path).read_bytes(), str(path), weights)
