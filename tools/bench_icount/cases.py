"""The benchmark models as C: each layer one golden case (tests/armv6m/golden_case.h) whose input
is the numpy reference's value of that tensor for a seeded random input, and whose expected
output is the reference's. Tensors are written once and shared by the layers that read them."""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the golden-case writer the kernel tests use

from c_golden import c_array, case_table, layer_arrays, param_count  # noqa: E402
from c_kernels import params_of  # noqa: E402

from micronn import container  # noqa: E402
from micronn.convert import convert  # noqa: E402
from micronn.model import OPS  # noqa: E402
from micronn.ops import KERNELS  # noqa: E402

ZOO = ROOT / "tests" / "data" / "zoo"
SEED = 0
# operators tests/armv6m/dispatch.h runs (its default branch is SOFTMAX)
DISPATCHED = {name for name in OPS if name != "CONSTANT"}


@dataclass(frozen=True)
class BenchModel:
    name: str
    source: Path
    weights: str = "int8"


MODELS = (
    BenchModel("digits CNN", ROOT / "examples" / "keras_digits_cnn" / "digits_cnn_int8.tflite"),
    BenchModel(
        "digits CNN int4",
        ROOT / "examples" / "keras_digits_cnn" / "digits_cnn_int8.tflite",
        "int4",
    ),
    BenchModel(
        "micro_speech", ZOO / "tflm__examples__micro_speech__models__micro_speech_quantized.tflite"
    ),
    BenchModel("MLPerf KWS", ZOO / "tiny__kws_ref_model.tflite"),
    BenchModel("MLPerf IC ResNet-8", ZOO / "tiny__pretrainedResnet_quant.tflite"),
    BenchModel("MLPerf AD", ZOO / "tiny__ad01_int8.tflite"),
    BenchModel("person_detect", ZOO / "tflm__models__person_detect.tflite"),
)


@dataclass
class LayerRow:
    op: str
    shape: tuple
    macs: int


def load(bench: BenchModel):
    """The model as the device reads it: converted, written and read back."""
    return container.read(convert(bench.source, weights=bench.weights), bench.source.name)


def macs(layer) -> int:
    """Multiply-accumulates of one inference of a layer (taps outside the image counted)."""
    p = layer.params
    if layer.op == "FULLY_CONNECTED":
        return p["in_features"] * p["out_features"]
    if layer.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        pixels = p["out_height"] * p["out_width"] * p["out_channels"]
        taps = p["kernel_height"] * p["kernel_width"]
        return pixels * taps * (p["in_channels"] if layer.op == "CONV_2D" else 1)
    return 0


def tensor_values(model) -> dict:
    """Every activation tensor of one inference (batch 1) on a seeded random input."""
    rng = np.random.default_rng(SEED)
    values = {}
    for tensor in model.input_tensors:
        shape = model.shapes[tensor]
        values[tensor] = rng.integers(-128, 128, (1, *shape)).astype(np.int8)
    for layer in model.layers:
        inputs = [values[t] for t in layer.inputs]
        values[layer.output] = KERNELS[layer.op](layer, inputs, tuple(model.shapes[layer.output]))
    return values


def header(model) -> tuple[str, list]:
    """(bench.h text, [LayerRow]) for the layers with a C kernel, in order."""
    values = tensor_values(model)
    parts, cases, rows, written = [], [], [], set()
    max_out = 1

    def tensor(t) -> str:
        if t not in written:
            written.add(t)
            parts.append(c_array("int8_t", f"t{t}", values[t]))
        return f"t{t}"

    for i, layer in enumerate(model.layers):
        if layer.op not in DISPATCHED:
            continue
        name = f"l{i}"
        out_len = int(values[layer.output].size)
        max_out = max(max_out, out_len)
        parts.append(c_array("int32_t", f"{name}_params", params_of(layer)))
        fields = {"op": OPS[layer.op].code, "params": f"{name}_params"}
        fields["param_count"] = param_count(layer)
        a = layer.inputs[0]
        fields |= {"a": tensor(a), "in_len": int(values[a].size), "samples": 1}
        fields |= {"expected": tensor(layer.output), "out_len": out_len}
        if len(layer.inputs) > 1:
            b = layer.inputs[1]
            fields |= {"b": tensor(b), "b_len": int(values[b].size)}
        arrays, more = layer_arrays(layer, name)
        parts += arrays
        cases.append(fields | more)
        rows.append(LayerRow(layer.op, tuple(model.shapes[layer.output]), macs(layer)))
    return "".join(parts) + case_table(cases, max_out), rows
