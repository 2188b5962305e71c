"""The zoo of public .tflite models (tests/data/zoo) against the TFLM interpreter.

zoo.json states what each model is expected to do; this module finds the files, converts them
and compares micronn's reference with TFLM, for tests/test_zoo.py and tools/zoo_report.py.
Inputs and outputs are lists, one batched array per tensor, because zoo models may have several.
micronn's edges are int8: at a UINT8 edge of the .tflite, TFLM's QUANTIZE makes int8 = uint8 - 128
(docs/tflite.md "uint8 edges"), so TFLM gets the codes + 128 and micronn the codes.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from float_tflite_zoo import calibration_inputs

import micronn
from micronn import container, reference, tflite_int8
from micronn.importers.tflite.reader import read_tflite

ZOO = Path(__file__).parent / "data" / "zoo"
MANIFEST = json.loads((ZOO / "zoo.json").read_text())["models"]
ROOT = Path(__file__).resolve().parent.parent
UINT8_SHIFT = 128  # int8 code = uint8 code - 128 at a uint8 edge
# where a model too big for tests/data may be: $MICRONN_ZOO, or the shared zoo next to the clone
EXTERNAL_FOLDERS = [ROOT.parent / "shared" / "zoo", ROOT.parent.parent / "shared" / "zoo"]


def entries(status=None) -> list:
    return [entry for entry in MANIFEST if status is None or entry["status"] == status]


def model_path(entry) -> Path | None:
    """The model file, or None when an external one is not on this machine."""
    if not entry.get("external"):
        return ZOO / entry["file"]
    folders = [Path(os.environ["MICRONN_ZOO"])] if os.environ.get("MICRONN_ZOO") else []
    for folder in folders + EXTERNAL_FOLDERS:
        if (folder / entry["file"]).is_file():
            return folder / entry["file"]
    return None


def operators(data: bytes) -> list:
    return sorted({op.name for op in read_tflite(data).operators})


def edge_types(data: bytes) -> tuple:
    """([(dtype, shape)] of the inputs, the same of the outputs)."""
    graph = read_tflite(data)
    describe = [(graph.tensors[i].dtype, tuple(graph.tensors[i].shape)) for i in graph.inputs]
    return describe, [
        (graph.tensors[i].dtype, tuple(graph.tensors[i].shape)) for i in graph.outputs
    ]


def input_parameters(data: bytes) -> tuple:
    """(dtype, shape, scales, zero points) of the model's first input."""
    graph = read_tflite(data)
    tensor = graph.tensors[graph.inputs[0]]
    return tensor.dtype, tuple(tensor.shape), list(tensor.scale), list(tensor.zero_point)


class Tflm:
    """One TFLM interpreter for a model, run sample by sample (TFLM has no batch axis to spare)."""

    def __init__(self, data: bytes):
        from tflite_micro.python.tflite_micro import runtime

        graph = read_tflite(data)
        # TFLM's default arena is 10x the model's bytes: too small for a tiny model with big
        # activations (simple_add_model: 900 bytes, three 16 KB tensors)
        activations = sum(
            int(np.prod(t.shape)) * 4 for t in graph.tensors if t.data is None and len(t.shape)
        )
        arena = max(10 * len(data), 2 * activations + 65536)
        self.interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena)
        self.inputs = [self.interpreter.get_input_details(i) for i in range(len(graph.inputs))]
        self.outputs = [self.interpreter.get_output_details(i) for i in range(len(graph.outputs))]

    def run(self, inputs: list) -> list:
        """inputs: one [N, ...] array per model input, in its dtype -> one [N, ...] per output."""
        rows = [[] for _ in self.outputs]
        for sample in zip(*inputs, strict=True):
            for index, (x, details) in enumerate(zip(sample, self.inputs, strict=True)):
                tensor = np.asarray(x, details["dtype"]).reshape(details["shape"])
                self.interpreter.set_input(tensor, index)
            self.interpreter.invoke()
            for index, row in enumerate(rows):
                row.append(self.interpreter.get_output(index)[0].copy())
        return [np.stack(row) for row in rows]


@dataclass
class Comparison:
    compared: int  # output values compared
    mismatches: int

    def __str__(self):
        return f"{self.mismatches} of {self.compared} outputs differ from TFLM"


def micronn_outputs(model, codes: list) -> list:
    """reference.run on int8 codes (one array per input) -> one [N, ...] array per output."""
    out = reference.run(model, codes[0] if len(codes) == 1 else tuple(codes))
    return list(out) if isinstance(out, (list, tuple)) else [out]


def in_tflm_dtype(spec, codes: np.ndarray, dtype) -> np.ndarray:
    """micronn's int8 codes of an edge with parameters `spec` as TFLM's tensor of `dtype` holds
    them: float32 dequantized (TFLM's QUANTIZE maps it back to the same codes), uint8 + 128."""
    if np.dtype(dtype) == np.float32:
        return tflite_int8.affine_dequantize(codes, spec.scale, spec.zero_point)
    if np.dtype(dtype) == np.uint8:
        return (codes.astype(np.int16) + UINT8_SHIFT).astype(np.uint8)
    return codes


def tflm_inputs(model, tflm: Tflm, codes: list) -> list:
    """The same inputs in TFLM's input dtypes (in_tflm_dtype)."""
    return [
        in_tflm_dtype(spec, c, details["dtype"])
        for c, spec, details in zip(codes, model.inputs, tflm.inputs, strict=True)
    ]


def as_tflm_outputs(model, tflm: Tflm, outputs: list) -> list:
    """micronn's int8 outputs in TFLM's output dtypes (in_tflm_dtype)."""
    return [
        in_tflm_dtype(spec, q, details["dtype"])
        for q, spec, details in zip(outputs, model.outputs, tflm.outputs, strict=True)
    ]


def random_codes(tflm: Tflm, count: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(-128, 128, (count, *details["shape"][1:]), dtype=np.int8)
        for details in tflm.inputs
    ]


def sample_codes(model, tflm: Tflm, samples: np.ndarray) -> list:
    """The stored sample inputs (leading batch axis) as int8 codes: float samples are quantized
    with the model's input parameters, uint8 samples (codes of a uint8 input) lose 128."""
    if samples.dtype == np.int8:
        codes = samples
    elif samples.dtype == np.uint8:
        codes = (samples.astype(np.int16) - UINT8_SHIFT).astype(np.int8)
    elif samples.dtype == np.float32:
        codes = reference.quantize_input(model, samples)
    else:
        raise ValueError(f"sample inputs must be int8, uint8 or float32, got {samples.dtype}")
    return [codes.reshape(len(codes), *tflm.inputs[0]["shape"][1:])]


def compare(model, tflm: Tflm, codes: list, float_samples=None) -> Comparison:
    """micronn's reference against TFLM on the same int8 codes. TFLM gets `float_samples`
    instead when given (the float inputs the codes were quantized from; uint8 samples need no
    such care: in_tflm_dtype gives them back exactly)."""
    expected = tflm.run(
        [float_samples] if float_samples is not None else tflm_inputs(model, tflm, codes)
    )
    got = as_tflm_outputs(model, tflm, micronn_outputs(model, codes))
    compared = mismatches = 0
    for want, have in zip(expected, got, strict=True):
        have = np.asarray(have)
        if have.dtype != want.dtype or have.size != want.size:
            raise AssertionError(
                f"micronn gives {have.dtype} {have.shape}, TFLM {want.dtype} {want.shape}"
            )
        compared += want.size
        mismatches += int(np.count_nonzero(have.reshape(want.shape) != want))
    return Comparison(compared, mismatches)


def check_model(entry, path: Path) -> Comparison:
    """Convert and compare on the entry's random inputs and stored samples."""
    model = container.read(micronn.convert(str(path)))
    tflm = Tflm(path.read_bytes())
    result = compare(model, tflm, random_codes(tflm, entry["random"]))
    if "inputs" in entry:
        samples = np.load(ZOO / entry["inputs"])
        floats = samples if np.dtype(tflm.inputs[0]["dtype"]) == np.float32 else None
        more = compare(model, tflm, sample_codes(model, tflm, samples), floats)
        result = Comparison(result.compared + more.compared, result.mismatches + more.mismatches)
    return result


@dataclass
class Calibrated:
    refusal: str  # convert's error without calibration
    inputs: int  # calibration inputs used
    output: tuple  # (dtype, shape) of reference.run on those inputs
    expected: tuple  # ("int8", [inputs, *the .tflite output shape without its batch axis])

    def __str__(self):
        return f"with {self.inputs} calibration inputs: {self.output[0]} outputs {self.output[1]}"


def check_calibrated(entry, path: Path) -> Calibrated:
    """A float model: convert's refusal without calibration, then convert with entry
    ["calibration"] inputs (float_tflite_zoo.calibration_inputs) and run them."""
    try:
        micronn.convert(str(path))
        refusal = ""
    except ValueError as error:
        refusal = str(error)
    x = calibration_inputs(path.name.removesuffix(".tflite"), entry["calibration"])
    model = container.read(micronn.convert(str(path), calibration=x))
    out = reference.run(model, reference.quantize_input(model, x))
    [(_, shape)] = edge_types(path.read_bytes())[1]
    return Calibrated(refusal, len(x), (str(out.dtype), out.shape), ("int8", (len(x), *shape[1:])))
