"""The benchmark models as C: each layer one golden case (tests/armv6m/golden_case.h) whose input
is the numpy reference's value of that tensor for a seeded random input, and whose expected
output is the reference's. Tensors are written once and shared by the layers that read them."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from micronn import container
from micronn.convert import convert
from micronn.model import OPS
from micronn.ops import KERNELS
from micronn.packing import pack

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "tests" / "data" / "zoo"
SEED = 0
FILTER_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
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


def _array(ctype, name, values) -> str:
    values = np.asarray(values).reshape(-1)
    body = ",".join(map(str, values.tolist())) if values.size else "0"
    return f"static const {ctype} {name}[{max(values.size, 1)}] = {{{body}}};\n"


def _params(layer) -> np.ndarray:
    return np.array([layer.params[name] for name in OPS[layer.op].params], np.int32)


def _packed(layer) -> np.ndarray:
    flat = np.asarray(layer.weights, np.int8).reshape(-1)
    if layer.weight_bits == 8:
        return flat.view(np.uint8)
    return np.frombuffer(pack(flat, layer.weight_bits), np.uint8)


def header(model) -> tuple[str, list]:
    """(bench.h text, [LayerRow]) for the layers with a C kernel, in order."""
    values = tensor_values(model)
    parts, cases, rows, written = [], [], [], set()
    max_out = 1

    def tensor(t) -> str:
        if t not in written:
            written.add(t)
            parts.append(_array("int8_t", f"t{t}", values[t]))
        return f"t{t}"

    for i, layer in enumerate(model.layers):
        if layer.op not in DISPATCHED:
            continue
        name = f"l{i}"
        out_len = int(values[layer.output].size)
        max_out = max(max_out, out_len)
        param_count = 1 if layer.op == "LOOKUP" else len(OPS[layer.op].params)
        parts.append(_array("int32_t", f"{name}_params", _params(layer)))
        fields = {"op": OPS[layer.op].code, "params": f"{name}_params", "param_count": param_count}
        a = layer.inputs[0]
        fields |= {"a": tensor(a), "in_len": int(values[a].size), "samples": 1}
        fields |= {"expected": tensor(layer.output), "out_len": out_len}
        if len(layer.inputs) > 1:
            b = layer.inputs[1]
            fields |= {"b": tensor(b), "b_len": int(values[b].size)}
        if layer.op in FILTER_OPS:
            channels = int(np.asarray(layer.bias).size)
            weights = _packed(layer)
            for part in ("bias", "multiplier", "shift"):
                parts.append(_array("int32_t", f"{name}_{part}", getattr(layer, part)))
            parts.append(_array("uint8_t", f"{name}_weights", weights))
            parts.append(_array("int32_t", f"{name}_chunks", [0, channels]))
            fields |= {
                "weights": f"{name}_weights",
                "weights_bytes": weights.size,
                "bits": layer.weight_bits,
                "per_channel": int(np.asarray(layer.weights).size) // channels,
                "bias": f"{name}_bias",
                "bias_count": channels,
                "multiplier": f"{name}_multiplier",
                "multiplier_count": int(np.asarray(layer.multiplier).size),
                "shift": f"{name}_shift",
                "chunks": f"{name}_chunks",
                "chunk_count": 2,
            }
        if layer.op in ("LOGISTIC", "TANH", "LOOKUP"):
            parts.append(_array("int8_t", f"{name}_table", layer.table))
            fields["table"] = f"{name}_table"
        if layer.op in ("SOFTMAX", "LOG_SOFTMAX"):
            parts.append(_array("int32_t", f"{name}_exp", layer.exp))
            fields["exp"] = f"{name}_exp"
        cases.append("{" + ", ".join(f".{k} = {v}" for k, v in fields.items()) + "}")
        rows.append(LayerRow(layer.op, tuple(model.shapes[layer.output]), macs(layer)))
    parts.append(f"#define GOLDEN_CASE_COUNT {len(cases)}u\n#define GOLDEN_MAX_OUT {max_out}\n")
    parts.append("static const golden_case golden_cases[] = {\n" + ",\n".join(cases) + "};\n")
    return "".join(parts), rows
