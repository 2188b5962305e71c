"""Golden cases (tests/c_cases.py) written as a C header for the bare-metal runner
tests/armv6m/runner.c: every array the kernels read, the reference's outputs, and a table of
cases."""

import numpy as np
from c_cases import FILTER_OPS
from c_kernels import packed_weights, params_of

from micronn.model import OPS


def c_array(ctype, name, values) -> str:
    values = np.asarray(values).reshape(-1)
    body = ",".join(map(str, values.tolist())) if values.size else "0"
    return f"static const {ctype} {name}[{max(values.size, 1)}] = {{{body}}};\n"


def layer_arrays(layer, name, chunks=None) -> tuple[list, dict]:
    """The arrays a layer's kernel reads besides its activations (weights, bias, multiplier,
    shift and chunk bounds; a lookup table; an exp table) as C text, and the golden_case
    fields that name them. chunks: output channel bounds, [0, channels] by default."""
    parts, fields = [], {}
    if layer.op in FILTER_OPS:
        channels = int(np.asarray(layer.bias).size)
        weights = packed_weights(layer)
        chunks = chunks or [0, channels]
        for tensor in ("bias", "multiplier", "shift"):
            parts.append(c_array("int32_t", f"{name}_{tensor}", getattr(layer, tensor)))
        parts.append(c_array("uint8_t", f"{name}_weights", weights))
        parts.append(c_array("int32_t", f"{name}_chunks", chunks))
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
            "chunk_count": len(chunks),
        }
    if layer.op in ("LOGISTIC", "TANH", "LOOKUP"):
        parts.append(c_array("int8_t", f"{name}_table", layer.table))
        fields["table"] = f"{name}_table"
    if layer.op in ("SOFTMAX", "LOG_SOFTMAX"):
        parts.append(c_array("int32_t", f"{name}_exp", layer.exp))
        fields["exp"] = f"{name}_exp"
    return parts, fields


def param_count(layer) -> int:
    return 1 if layer.op == "LOOKUP" else len(OPS[layer.op].params)  # as kernels_c passes them


def case_table(rows, max_out) -> str:
    """The golden_cases table of the rows (each a dict of golden_case fields)."""
    cases = ["{" + ", ".join(f".{k} = {v}" for k, v in row.items()) + "}" for row in rows]
    return (
        f"#define GOLDEN_CASE_COUNT {len(cases)}u\n#define GOLDEN_MAX_OUT {max_out}\n"
        "static const golden_case golden_cases[] = {\n" + ",\n".join(cases) + "};\n"
    )


def header(cases) -> str:
    parts = []
    rows = []
    max_out = 1
    for i, case in enumerate(cases):
        layer = case.layer
        name = f"c{i}"
        fields = {"op": OPS[layer.op].code}
        parts.append(c_array("int32_t", f"{name}_params", params_of(layer)))
        fields |= {"params": f"{name}_params", "param_count": param_count(layer)}
        samples, in_len = case.inputs[0].shape
        out_len = case.expected.shape[1]
        max_out = max(max_out, out_len)
        parts.append(c_array("int8_t", f"{name}_a", case.inputs[0]))
        parts.append(c_array("int8_t", f"{name}_expected", case.expected))
        fields |= {"a": f"{name}_a", "in_len": in_len, "expected": f"{name}_expected"}
        fields |= {"out_len": out_len, "samples": samples}
        if len(case.inputs) > 1:
            parts.append(c_array("int8_t", f"{name}_b", case.inputs[1]))
            fields |= {"b": f"{name}_b", "b_len": case.inputs[1].shape[1]}
        arrays, more = layer_arrays(layer, name, case.chunks)
        parts += arrays
        rows.append(fields | more)
    return "".join(parts) + case_table(rows, max_out)
