"""TensorFlow's own QuantizeV2/Dequantize unit-test cases, compared bit for bit with TF 2.21.

tests/data/tf_quantize_vectors.json.gz is made by tools/pack_tf_vectors.py from the reference
tf_quantize_test_vectors.json; it holds each case's arguments and TF 2.21's exact results.
"""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from micronn.quantize import dequantize, quantize

VECTORS = Path(__file__).parent / "data" / "tf_quantize_vectors.json.gz"
CASES = json.loads(gzip.decompress(VECTORS.read_bytes()))
QUANTIZE_CASES = [case for case in CASES if case["op"] == "QuantizeV2"]
DEQUANTIZE_CASES = [case for case in CASES if case["op"] == "Dequantize"]
CODE_DTYPES = {
    "qint8": "int8",
    "quint8": "uint8",
    "qint16": "int16",
    "quint16": "uint16",
    "qint32": "int32",
}


def case_id(case):
    axis = "" if case["axis"] is None else f"-axis{case['axis']}"
    return f"{case['name']}-{case['T']}-{case['mode']}{axis}"


def case_input(case, dtype):
    values = case["input"]
    if isinstance(values, dict):
        values = np.arange(*values["arange"])
    return np.asarray(values, dtype=dtype).reshape(case["input_shape"])


def float32_bits(hexes):
    """Hex float32 bit patterns (one string of 8-digit groups, or a list) as uint32."""
    if isinstance(hexes, str) and len(hexes) > 8:
        hexes = [hexes[i : i + 8] for i in range(0, len(hexes), 8)]
    return np.asarray([int(h, 16) for h in np.atleast_1d(hexes)], dtype=np.uint32)


def bits_of(values):
    return np.atleast_1d(np.asarray(values, dtype=np.float32)).view(np.uint32)


def test_fixture_holds_all_63_cases():
    assert len(CASES) == 63
    assert len(QUANTIZE_CASES) == 26
    assert len(DEQUANTIZE_CASES) == 37


@pytest.mark.parametrize("case", QUANTIZE_CASES, ids=case_id)
def test_quantize_matches_tf(case):
    output, output_min, output_max = quantize(
        case_input(case, np.float32),
        case["min_range"],
        case["max_range"],
        case["T"],
        mode=case["mode"],
        round_mode=case["round_mode"],
        narrow_range=case["narrow_range"],
        axis=case["axis"],
        ensure_minimum_range=case["ensure_minimum_range"],
    )
    assert output.dtype == np.dtype(CODE_DTYPES[case["T"]])
    np.testing.assert_array_equal(output.reshape(-1), case["tf_output"])
    expected_min = float32_bits(case["tf_output_min_hex"])
    expected_max = float32_bits(case["tf_output_max_hex"])
    per_tensor = np.ndim(case["tf_output_min_hex"]) == 0
    assert isinstance(output_min, np.float32) == per_tensor
    np.testing.assert_array_equal(bits_of(output_min), expected_min)
    np.testing.assert_array_equal(bits_of(output_max), expected_max)


@pytest.mark.parametrize("case", DEQUANTIZE_CASES, ids=case_id)
def test_dequantize_matches_tf(case):
    output = dequantize(
        case_input(case, CODE_DTYPES[case["T"]]),
        case["min_range"],
        case["max_range"],
        mode=case["mode"],
        narrow_range=case["narrow_range"],
        axis=case["axis"],
        dtype=case["dtype"],
    )
    assert output.dtype == np.float32
    assert output.shape == tuple(case["input_shape"])
    np.testing.assert_array_equal(bits_of(output).reshape(-1), float32_bits(case["tf_output_hex"]))
