"""Pack TensorFlow's QuantizeV2/Dequantize unit-test vectors into a small test fixture.

Input: tf_quantize_test_vectors.json (63 cases from TF's own tests, each with the exact output
of tensorflow-cpu 2.21; see quantization-semantics.md). Output: gzip JSON for
tests/test_quantize_tf_vectors.py. Only what the test compares is kept: the op's arguments, TF
2.21's codes, and every float result as float32 bit patterns (hex). An input that lists every
code from one value up to another is stored as {"arange": [start, stop]}.

Usage: python tools/pack_tf_vectors.py SOURCE.json [tests/data/tf_quantize_vectors.json.gz]
"""

import gzip
import json
import sys
from pathlib import Path

import numpy as np

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "tests/data/tf_quantize_vectors.json.gz"
ARGUMENT_FIELDS = (
    "op",
    "name",
    "source",
    "T",
    "mode",
    "round_mode",
    "narrow_range",
    "axis",
    "ensure_minimum_range",
    "dtype",
    "input_shape",
    "min_range",
    "max_range",
)


def float32_hex(values):
    """Bit patterns of float32 values (exactly representable ones only) as 8-digit hex."""
    as_f32 = np.asarray(values, dtype=np.float32)
    if not np.array_equal(as_f32.astype(np.float64), np.asarray(values, dtype=np.float64)):
        raise ValueError(f"not exactly representable as float32: {values!r}")
    bits = np.atleast_1d(as_f32).view(np.uint32)
    hexes = [f"{int(b):08x}" for b in bits]
    return hexes if np.ndim(values) else hexes[0]


def compact_input(values):
    """Replace a run of consecutive integers by its arange bounds."""
    if len(values) > 1000 and all(isinstance(v, int) for v in values):
        start = values[0]
        if values == list(range(start, start + len(values))):
            return {"arange": [start, start + len(values)]}
    return values


def pack_case(case):
    packed = {field: case[field] for field in ARGUMENT_FIELDS if field in case}
    packed["input"] = compact_input(case["input"])
    for field in ("min_range", "max_range"):
        float32_hex(case[field])  # raises unless the range is exact in float32
    if case["op"] == "QuantizeV2":
        float32_hex(case["input"])
        packed["tf_output"] = case["tf_2_21_output"]
        packed["tf_output_min_hex"] = float32_hex(case["tf_2_21_output_min"])
        packed["tf_output_max_hex"] = float32_hex(case["tf_2_21_output_max"])
    else:
        hexes = case["tf_2_21_output_hex"]
        if hexes != float32_hex(case["tf_2_21_output"]):
            raise ValueError(f"{case['name']}: hex and float outputs disagree")
        packed["tf_output_hex"] = "".join(hexes)
    return packed


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[-1])
    source = Path(argv[1])
    output = Path(argv[2]) if len(argv) == 3 else DEFAULT_OUTPUT
    cases = json.loads(source.read_text())
    packed = [pack_case(case) for case in cases]
    text = json.dumps(packed, separators=(",", ":"), sort_keys=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    print(f"wrote {len(packed)} cases to {output} ({output.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv)
