"""Cases for the board's micronn.quantize / dequantize / dequantize_fixed, with the host's
answers: TensorFlow's 63 vectors, a deterministic sample of every T x mode x round mode x
narrow_range x axis (few inputs each) and the refusals.

A case is JSON: floats travel as float32 bit patterns (hex), so that no decimal parser on
either side changes them. `host_result(case)` runs the host function, VM_SCRIPT the device's;
both answer {"codes", "min", "max"} (quantize), {"floats"} (dequantize), {"fixed"}
(dequantize_fixed) or {"error": message}, with every NaN written "nan".
"""

import gzip
import itertools
import json
from pathlib import Path

import numpy as np

import micronn
from micronn.quantize_fixed import dequantize_fixed

VECTORS = Path(__file__).parent / "data" / "tf_quantize_vectors.json.gz"
NAMES = {"b": "qint8", "B": "quint8", "h": "qint16", "H": "quint16", "i": "qint32"}
TYPECODES = {name: code for code, name in NAMES.items()}
DTYPES = {"b": np.int8, "B": np.uint8, "h": np.int16, "H": np.uint16, "i": np.int32}
MODES = ("MIN_COMBINED", "MIN_FIRST", "SCALED")
ROUND_MODES = ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN")
SHAPE = (3, 4)
AXES = (None, 0, 1, -1)
FRAC_BITS = (0, 8, 16, 24, 31)


def hexes(values):
    return np.asarray(values, np.float32).reshape(-1).view(np.uint32).tolist()


def _bits(values):
    return [f"{v:08x}" for v in hexes(values)]


def _floats(bits):
    return np.array([int(b, 16) for b in bits], np.uint32).view(np.float32)


def _nan_free(bits):
    return ["nan" if (int(b, 16) & 0x7FFFFFFF) > 0x7F800000 else b for b in bits]


def quantize_case(x, min_range, max_range, T, shape=None, **kw):
    scalar = np.ndim(min_range) == 0
    case = {"op": "quantize", "x": _bits(x), "T": T, "kw": kw, "shape": shape}
    case["min"], case["max"] = _bits(min_range), _bits(max_range)
    case["scalar"] = [scalar, np.ndim(max_range) == 0]
    if "ensure_minimum_range" in kw:
        kw["ensure_minimum_range"] = _bits(kw["ensure_minimum_range"])[0]
    return case


def dequantize_case(codes, min_range, max_range, T, shape=None, op="dequantize", **kw):
    case = {"op": op, "q": [int(c) for c in np.asarray(codes).reshape(-1)], "T": T}
    case.update(kw=kw, shape=shape, min=_bits(min_range), max=_bits(max_range))
    case["scalar"] = [np.ndim(min_range) == 0, np.ndim(max_range) == 0]
    return case


def _ranges(case):
    return [
        _floats(case[key])[0] if scalar else _floats(case[key])
        for key, scalar in zip(("min", "max"), case["scalar"], strict=True)
    ]


def host_result(case):
    """The host's answer to a case (a case with "expect" is a refusal only the board has)."""
    if "expect" in case:
        return {"error": case["expect"]}
    kw = dict(case["kw"])
    min_range, max_range = _ranges(case)
    T = case["T"]
    name = NAMES.get(T, T)
    try:
        if case["op"] == "quantize":
            if "ensure_minimum_range" in kw:
                kw["ensure_minimum_range"] = _floats([kw["ensure_minimum_range"]])[0]
            x = _floats(case["x"]).reshape(case["shape"] or -1)
            q, out_min, out_max = micronn.quantize(x, min_range, max_range, name, **kw)
            return {"codes": q.reshape(-1).tolist(), "min": _bits(out_min), "max": _bits(out_max)}
        codes = np.array(case["q"], DTYPES.get(T, np.int64)).reshape(case["shape"] or -1)
        if case["op"] == "dequantize":
            y = micronn.dequantize(codes, min_range, max_range, T=name, **kw)
            return {"floats": _nan_free(_bits(y))}
        frac_bits = kw.pop("frac_bits")
        y = dequantize_fixed(codes, min_range, max_range, frac_bits, T=name, **kw)
        return {"fixed": y.reshape(-1).tolist()}
    except ValueError as error:
        return {"error": str(error)}


def normalized(result):
    """A VM result written as host_result writes it (the VM sends floats as little-endian
    bytes in hex)."""
    if "floats_le" in result:
        values = np.frombuffer(bytes.fromhex(result.pop("floats_le")), "<f4")
        result["floats"] = _nan_free(_bits(values))
    return result


def vector_cases():
    """TensorFlow's 63 QuantizeV2 / Dequantize unit-test cases."""
    cases = []
    for vector in json.loads(gzip.decompress(VECTORS.read_bytes())):
        values = vector["input"]
        if isinstance(values, dict):
            values = np.arange(*values["arange"])
        shape = list(vector["input_shape"])
        kw = {"mode": vector["mode"], "narrow_range": vector["narrow_range"]}
        kw["axis"] = vector["axis"]
        T = TYPECODES[vector["T"]]
        if vector["op"] == "QuantizeV2":
            kw["round_mode"] = vector["round_mode"]
            kw["ensure_minimum_range"] = vector["ensure_minimum_range"]
            x = np.asarray(values, np.float32)
            case = quantize_case(x, vector["min_range"], vector["max_range"], T, shape, **kw)
        else:
            kw["dtype"] = vector["dtype"]
            case = dequantize_case(values, vector["min_range"], vector["max_range"], T, shape, **kw)
        case["name"] = vector["name"]
        case["tf"] = _tf_answer(vector)
        cases.append(case)
    return cases


def _tf_answer(vector):
    """TF 2.21's result of a vector, written as the answers are."""

    def groups(value):
        if isinstance(value, str):
            return [value[i : i + 8] for i in range(0, len(value), 8)]
        return list(value)

    if vector["op"] == "QuantizeV2":
        low, high = groups(vector["tf_output_min_hex"]), groups(vector["tf_output_max_hex"])
        return {"codes": list(vector["tf_output"]), "min": low, "max": high}
    return {"floats": _nan_free(groups(vector["tf_output_hex"]))}


def _range_pair(rng, slices):
    """Ranges of many kinds: around 0, one-sided, tiny, huge, empty; one pair per slice."""
    lows, highs = [], []
    for _ in range(slices):
        kind = rng.integers(7)
        if kind == 0:
            low, high = -rng.uniform(0, 10), rng.uniform(0, 10)
        elif kind == 1:
            low = rng.uniform(0.1, 5)
            high = low + rng.uniform(0, 5)
        elif kind == 2:
            high = -rng.uniform(0.1, 5)
            low = high - rng.uniform(0, 5)
        elif kind == 3:
            low, high = -rng.uniform(0, 1e-5), rng.uniform(0, 1e-5)
        elif kind == 4:
            low, high = -rng.uniform(0, 1e6), rng.uniform(0, 1e6)
        elif kind == 5:
            low = high = 0.0
        else:
            low, high = -(2.0 ** rng.integers(-3, 8)), 2.0 ** rng.integers(-3, 8)
        lows.append(low)
        highs.append(high)
    return np.float32(lows), np.float32(highs)


SPECIALS = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e30, 0.5, -2.5])


def _inputs(rng, low, high, count):
    span = max(float(high) - float(low), 1.0)
    x = rng.uniform(float(low) - 0.2 * span, float(high) + 0.2 * span, count)
    x = x.astype(np.float32)
    x[rng.integers(count)] = rng.choice(SPECIALS)
    x[rng.integers(count)] = rng.choice([low, high])
    return x


def combination_cases(seed=14):
    """Every T x mode x round mode x narrow_range x axis of quantize, every T x mode x
    narrow_range x axis of dequantize (float32 and bfloat16) and dequantize_fixed, 12 values
    each; the combinations TF refuses are in too (their error is the answer)."""
    rng = np.random.default_rng(seed)
    cases = []
    size = int(np.prod(SHAPE))
    for T, mode, round_mode, narrow, axis in itertools.product(
        NAMES, MODES, ROUND_MODES, (False, True), AXES
    ):
        slices = 1 if axis is None else SHAPE[axis]
        low, high = _range_pair(rng, slices)
        x = _inputs(rng, low.min(), high.max(), size)
        ensure = float(rng.choice([0.01, 0.01, 0.0, 0.25]))
        kw = {"mode": mode, "round_mode": round_mode, "narrow_range": narrow, "axis": axis}
        kw["ensure_minimum_range"] = ensure
        if axis is None:
            low, high = low[0], high[0]
        cases.append(quantize_case(x, low, high, T, list(SHAPE), **kw))
    for T, mode, narrow, axis in itertools.product(NAMES, MODES, (False, True), AXES):
        slices = 1 if axis is None else SHAPE[axis]
        low, high = _range_pair(rng, slices)
        if rng.integers(4) == 0:
            low, high = high, low  # TF takes min > max as given
        info = np.iinfo(DTYPES[T])
        codes = rng.integers(info.min, int(info.max) + 1, size, dtype=np.int64)
        codes[:3] = [info.min, info.max, 0]
        rng.shuffle(codes)
        if axis is None:
            low, high = low[0], high[0]
        kw = {"mode": mode, "narrow_range": narrow, "axis": axis}
        for dtype in ("float32", "bfloat16") if mode == "MIN_COMBINED" else ("float32",):
            cases.append(dequantize_case(codes, low, high, T, list(SHAPE), dtype=dtype, **kw))
        kw["frac_bits"] = int(rng.choice(FRAC_BITS))
        cases.append(dequantize_case(codes, low, high, T, list(SHAPE), "dequantize_fixed", **kw))
    return cases


def refusal_cases():
    """Arguments TF (or micronn) refuses; the answer is the host's message."""
    x = np.float32([-1.0, 0.0, 0.5, 2.0, 3.0, -4.0])
    codes = [-128, 0, 5, 7, 127, 1]
    quantize = [
        {"T": "q"},
        {"T": "qint64"},
        {"mode": "MAX"},
        {"round_mode": "HALF_UP"},
        {"round_mode": "HALF_TO_EVEN"},
        {"round_mode": "HALF_TO_EVEN", "mode": "MIN_FIRST"},
        {"axis": 2, "shape": [2, 3]},
        {"axis": -3, "shape": [2, 3]},
        {"axis": 1.5, "shape": [2, 3]},
        {"min_range": [-1.0, 0.0], "max_range": [1.0, 2.0]},
        {"max_range": [1.0, 2.0]},
        {"axis": 1, "shape": [2, 3]},
        {"axis": 1, "shape": [2, 3], "min_range": [-1.0, -1.0], "max_range": [1.0, 1.0, 1.0]},
        {
            "axis": 1,
            "shape": [2, 3],
            "min_range": [-1.0] * 3,
            "max_range": [1.0] * 3,
            "mode": "MIN_FIRST",
        },
        {"min_range": 2.0, "max_range": 1.0},
        {
            "axis": 0,
            "shape": [2, 3],
            "min_range": [-1.0, 3.0],
            "max_range": [1.0, 2.0],
            "mode": "SCALED",
        },
    ]
    dequantize = [
        {"T": "qint4"},
        {"mode": "MIN_LAST"},
        {"dtype": "float16"},
        {"dtype": "bfloat16", "mode": "SCALED"},
        {"axis": 2, "shape": [2, 3]},
        {"axis": -3, "shape": [3, 2]},
        {"min_range": [-1.0, 0.0]},
        {"axis": 1, "shape": [2, 3], "min_range": [-1.0] * 2, "max_range": [1.0] * 3},
        {
            "axis": 1,
            "shape": [2, 3],
            "min_range": [-1.0] * 3,
            "max_range": [1.0] * 3,
            "mode": "MIN_FIRST",
        },
    ]
    cases = []
    for changes in quantize:
        args = {"x": x, "min_range": -1.0, "max_range": 2.0, "T": "b", **changes}
        kw = {k: v for k, v in args.items() if k not in ("x", "min_range", "max_range", "T")}
        shape = kw.pop("shape", None)
        cases.append(
            quantize_case(args["x"], args["min_range"], args["max_range"], args["T"], shape, **kw)
        )
    for op in ("dequantize", "dequantize_fixed"):
        for changes in dequantize:
            if op == "dequantize_fixed" and "dtype" in changes:
                continue
            args = {"min_range": -1.0, "max_range": 2.0, "T": "b", **changes}
            kw = {k: v for k, v in args.items() if k not in ("min_range", "max_range", "T")}
            shape = kw.pop("shape", None)
            if op == "dequantize_fixed":
                kw["frac_bits"] = 16
            cases.append(
                dequantize_case(
                    codes, args["min_range"], args["max_range"], args["T"], shape, op, **kw
                )
            )
    fixed = dequantize_case(codes, -1.0, 2.0, "b", None, "dequantize_fixed", frac_bits=32)
    infinite = dequantize_case(codes, -np.inf, 2.0, "b", None, "dequantize_fixed", frac_bits=8)
    return cases + [fixed, infinite] + board_refusal_cases()


def board_refusal_cases():
    """Refusals of the board's own arguments (flat buffers and their shape, out)."""
    x = np.float32([-1.0, 0.0, 0.5, 2.0, 3.0, -4.0])
    codes = [-128, 0, 5, 7, 127, 1]
    shape = quantize_case(x, -1.0, 2.0, "b", [4, 2])
    shape["expect"] = "shape (4, 2) holds 8 values but x has 6: pass x's shape"
    wide = dequantize_case(codes, -1.0, 2.0, "B")
    wide["q_typecode"] = "i"
    wide["expect"] = "codes must lie in [0, 255] for T=quint8"
    wide["python_only"] = True  # the C binding refuses the typecode itself
    untyped = dequantize_case(codes, -1.0, 2.0, None)
    untyped["expect"] = (
        "cannot tell the quantized type of a array on the board: pass T ('b', 'B', 'h', 'H' "
        "or 'i', or TF's 'qint8', 'quint8', 'qint16', 'quint16', 'qint32')"
    )
    return [shape, wide, untyped]


# The device side: run every case of cases.json, write one JSON answer per line.
VM_SCRIPT = """
import json
import struct
from array import array
import micronn
import micronn.tfquant

BACKEND = {backend!r}
if BACKEND:
    micronn.tfquant.BACKEND = BACKEND


def f32(bits):
    return struct.unpack(">f", bytes.fromhex(bits))[0]


def floats(bits_list):
    return array("f", [f32(b) for b in bits_list])


def bits(values):
    return [struct.pack(">f", v).hex() for v in values]


CODES = {{"b": "b", "B": "B", "h": "h", "H": "H", "i": "i"}}
answers = open("answers.jsonl", "w")
count = 0
for line in open("cases.jsonl"):
    case = json.loads(line)
    count += 1
    kw = dict(case["kw"])
    low = floats(case["min"])
    high = floats(case["max"])
    low = low[0] if case["scalar"][0] else low
    high = high[0] if case["scalar"][1] else high
    if case["shape"] is not None:
        kw["shape"] = case["shape"]
    T = case["T"]
    try:
        if case["op"] == "quantize":
            if "ensure_minimum_range" in kw:
                kw["ensure_minimum_range"] = f32(kw["ensure_minimum_range"])
            out, lo, hi = micronn.quantize(floats(case["x"]), low, high, T, **kw)
            lo = [lo] if isinstance(lo, float) else lo
            hi = [hi] if isinstance(hi, float) else hi
            answer = {{"codes": list(out), "min": bits(lo), "max": bits(hi)}}
        else:
            q = array(case.get("q_typecode") or CODES.get(T, "i"), case["q"])
            if case["op"] == "dequantize":
                y = micronn.dequantize(q, low, high, T=T, **kw)
                answer = {{"floats_le": bytes(y).hex()}}
            else:
                frac_bits = kw.pop("frac_bits")
                y = micronn.dequantize_fixed(q, low, high, frac_bits, T=T, **kw)
                answer = {{"fixed": list(y)}}
    except ValueError as error:
        answer = {{"error": str(error)}}
    answers.write(json.dumps(answer))
    answers.write("\\n")
answers.close()
print("done", count)
"""
