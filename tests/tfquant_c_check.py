"""Child process of tests/test_device_tfquant.py: the C kernels of kernels/tfquant.c, built for
the host under ASan and UBSan, run behind the device package's own tfquant.py (under CPython,
with a ctypes stand-in for the _micronn binding), on cases.json; then malformed calls.

    python tests/tfquant_c_check.py LIBRARY      (in a folder with cases.json, expected.json)
"""

import ctypes
import json
import sys
import types
from array import array
from pathlib import Path

from device_package import device_module
from tfquant_cases import normalized

STATUS_OK = 0
CODE_TYPECODES = "bBhHi"


def declare(lib):
    pointer, size = ctypes.c_void_p, ctypes.c_size_t
    lib.mnk_status_text.restype = ctypes.c_char_p
    lib.mnk_tf_quantize.argtypes = [pointer, size, ctypes.c_float, pointer, size]
    lib.mnk_tf_quantize.argtypes += [pointer, pointer, size, pointer, size]
    lib.mnk_tf_dequantize.argtypes = [pointer, size, pointer, size, pointer, pointer, size]
    lib.mnk_tf_dequantize.argtypes += [pointer, size]
    lib.mnk_tf_dequantize_fixed.argtypes = [pointer, size, pointer, size, pointer, size]
    lib.mnk_tf_dequantize_fixed.argtypes += [pointer, size]


def binding(lib):
    """A _micronn with tf_quantize, tf_dequantize and tf_dequantize_fixed over ctypes."""
    declare(lib)

    def buffer(values, name, typecode):
        if not isinstance(values, array) or values.typecode != typecode:
            raise ValueError(f"{name}: must hold typecode {typecode!r}")
        address, count = values.buffer_info()
        return ctypes.c_void_p(address), ctypes.c_size_t(count)

    def check(status):
        if status != STATUS_OK:
            raise ValueError(lib.mnk_status_text(status).decode())

    def tf_quantize(params, epsilon, x, mins, maxs, out):
        p, n = buffer(params, "params", "i")
        x = buffer(x, "x", "f")
        low, count = buffer(mins, "mins", "f")
        high, _ = buffer(maxs, "maxs", "f")
        out = buffer(out, "out", CODE_TYPECODES[params[0]])
        check(lib.mnk_tf_quantize(p, n, epsilon, *x, low, high, count, *out))

    def tf_dequantize(params, q, mins, maxs, out):
        p, n = buffer(params, "params", "i")
        q = buffer(q, "q", CODE_TYPECODES[params[0]])
        low, count = buffer(mins, "mins", "f")
        high, _ = buffer(maxs, "maxs", "f")
        out = buffer(out, "out", "f")
        check(lib.mnk_tf_dequantize(p, n, *q, low, high, count, *out))

    def tf_dequantize_fixed(params, terms, q, out):
        p, n = buffer(params, "params", "i")
        terms = buffer(terms, "terms", "q")
        q = buffer(q, "q", CODE_TYPECODES[params[0]])
        out = buffer(out, "out", "i")
        check(lib.mnk_tf_dequantize_fixed(p, n, *terms, *q, *out))

    module = types.ModuleType("_micronn")
    module.tf_quantize = tf_quantize
    module.tf_dequantize = tf_dequantize
    module.tf_dequantize_fixed = tf_dequantize_fixed
    return module


def device_answer(tfquant, case):
    """What the device package answers to a case (the VM script's steps, under CPython)."""

    def values(bits):  # big-endian hex groups
        return array("f", b"".join(bytes.fromhex(b)[::-1] for b in bits))

    kw = dict(case["kw"])
    low, high = values(case["min"]), values(case["max"])
    low = low[0] if case["scalar"][0] else low
    high = high[0] if case["scalar"][1] else high
    if case["shape"] is not None:
        kw["shape"] = case["shape"]
    T = case["T"]
    try:
        if case["op"] == "quantize":
            if "ensure_minimum_range" in kw:
                kw["ensure_minimum_range"] = values([kw["ensure_minimum_range"]])[0]
            out, lo, hi = tfquant.quantize(values(case["x"]), low, high, T, **kw)
            lo = [lo] if isinstance(lo, float) else lo
            hi = [hi] if isinstance(hi, float) else hi
            as_bits = [bytes(array("f", [v]))[::-1].hex() for v in list(lo) + list(hi)]
            return {"codes": list(out), "min": as_bits[: len(lo)], "max": as_bits[len(lo) :]}
        q = array(case.get("q_typecode") or (T if T in tuple(CODE_TYPECODES) else "i"), case["q"])
        if case["op"] == "dequantize":
            y = tfquant.dequantize(q, low, high, T=T, **kw)
            return normalized({"floats_le": bytes(y).hex()})
        frac_bits = kw.pop("frac_bits")
        return {"fixed": list(tfquant.dequantize_fixed(q, low, high, frac_bits, T=T, **kw))}
    except ValueError as error:
        return {"error": str(error)}


def malformed_calls(lib):
    """Bad params, lengths and terms: each returns a status, none touches foreign memory."""
    x = (ctypes.c_float * 6)(-1, 0, 1, 2, 3, 4)
    low, high = (ctypes.c_float * 3)(-1, -1, -1), (ctypes.c_float * 3)(1, 1, 1)
    codes = (ctypes.c_int32 * 6)()
    out = (ctypes.c_float * 6)()
    fixed = (ctypes.c_int32 * 6)()
    terms = (ctypes.c_int64 * 3)(1, 1, 1)
    big = 2**31 - 1
    bad_params = [
        [4, 0, 0, 0, 1, 1],  # too few
        [5, 0, 0, 0, 1, 1, 6],  # no such type
        [4, 3, 0, 0, 1, 1, 6],  # no such mode
        [4, 0, 2, 0, 1, 1, 6],
        [4, 0, 0, 0, 1, 0, 6],  # no slice
        [4, 1, 0, 0, 1, 3, 2],  # MIN_FIRST per axis
        [4, 0, 1, 0, 1, 1, 6],  # HALF_TO_EVEN outside SCALED
        [4, 0, 0, 0, -1, 1, 6],
        [4, 0, 0, 0, big, big, big],  # a count past size_t on 32 bits, past 6 here
        [4, 0, 0, 0, 2, 1, 6],  # 12 values for a 6-value buffer
    ]
    refused = 0
    for params in bad_params:
        p = (ctypes.c_int32 * len(params))(*params)
        status = lib.mnk_tf_quantize(
            p, len(params), ctypes.c_float(0.01), x, 6, low, high, 1, codes, 6
        )
        refused += status != STATUS_OK
        if params[2] == 1:  # HALF_TO_EVEN is dequantize's bfloat16 flag: fine for MIN_COMBINED
            params = [4, 2, 1, 0, 1, 1, 6]
        p = (ctypes.c_int32 * len(params))(*params)
        status = lib.mnk_tf_dequantize(p, len(params), codes, 6, low, high, 1, out, 6)
        refused += status != STATUS_OK
    good = (ctypes.c_int32 * 7)(4, 0, 0, 0, 1, 3, 2)
    refused += lib.mnk_tf_quantize(good, 7, ctypes.c_float(0.01), x, 5, low, high, 3, codes, 6) != 0
    refused += lib.mnk_tf_quantize(good, 7, ctypes.c_float(0.01), x, 6, low, high, 2, codes, 6) != 0
    refused += lib.mnk_tf_quantize(good, 7, ctypes.c_float(0.01), x, 6, high, low, 3, codes, 6) != 0
    refused += lib.mnk_tf_dequantize(good, 7, codes, 6, low, high, 3, out, 5) != 0
    for a, b, s in ((1, 1, 0), (1, 1, 63), (2**62, 0, 1), (0, 2**30, 1), (2**61, 2**29, 1)):
        terms[0], terms[1], terms[2] = a, b, s
        p = (ctypes.c_int32 * 4)(4, 1, 1, 6)
        refused += lib.mnk_tf_dequantize_fixed(p, 4, terms, 3, codes, 6, fixed, 6) != 0
    p = (ctypes.c_int32 * 4)(4, 1, 1, 6)
    refused += lib.mnk_tf_dequantize_fixed(p, 4, terms, 2, codes, 6, fixed, 6) != 0
    refused += lib.mnk_tf_dequantize_fixed(p, 3, terms, 3, codes, 6, fixed, 6) != 0
    total = 2 * len(bad_params) + 4 + 5 + 2
    assert refused == total, f"only {refused} of {total} malformed calls refused"
    return refused


def main():
    lib = ctypes.CDLL(sys.argv[1])
    declare(lib)
    fake = binding(lib)
    tfquant = device_module("tfquant")
    # after the package's import: its probe (backends._c_module_present) lets _micronn go again
    sys.modules["_micronn"] = fake
    tfquant._micronn = fake
    tfquant.BACKEND = "c"
    cases = json.loads(Path("cases.json").read_text())
    expected = json.loads(Path("expected.json").read_text())
    wrong = []
    for case, want in zip(cases, expected, strict=True):
        answer = device_answer(tfquant, case)
        if answer != want and not case.get("python_only"):
            wrong.append((case.get("name", case["op"]), case["T"], case["kw"], answer, want))
    if wrong:
        print(f"{len(wrong)} of {len(cases)} differ, first: {wrong[:3]}")
        sys.exit(1)
    print(f"{len(cases)} cases match")
    print(f"{malformed_calls(lib)} malformed calls refused")


if __name__ == "__main__":
    main()
