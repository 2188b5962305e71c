"""The device's 31-bit requantize, run on the MicroPython VM, against gemmlowp's formulas.

The oracle is written in Python big ints straight from quantization-semantics.md §5.4-5.5
(TFLM's double rounding), independent of both the device code and the numpy reference.
"""

import random

import numpy as np
from vm import run

SMALL_INT_MAX = 2**30 - 1
SHIFTS = range(-31, 31)


def _trunc_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def _srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _trunc_div(ab + nudge, 1 << 31)


def _rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if x & mask > threshold else 0)


def _wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def oracle(acc: int, multiplier: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return _rounding_divide_by_pot(_srdhm(_wrap32(acc << left), multiplier), right)


def _largest_acc(shift: int) -> int:
    """The largest |acc| the container allows with this shift: |acc| * 2**left < 2**30."""
    return SMALL_INT_MAX >> max(shift, 0)


def extreme_cases():
    rng = random.Random(5)
    multipliers = [0, 2**30, 2**30 + 1, 2**30 + 0x7FFF, 2**30 + 2**15, 2**31 - 2, 2**31 - 1]
    for shift in SHIFTS:
        top = _largest_acc(shift)
        accs = {0, 1, -1, 2, -2, top, -top, top - 1, 1 - top, top >> 1, -(top >> 1)}
        accs |= {rng.randint(-top, top) for _ in range(4)}
        for multiplier in multipliers + [rng.randint(2**30, 2**31 - 1) for _ in range(3)]:
            for acc in sorted(a for a in accs if abs(a) <= top):
                yield acc, multiplier, shift


def tie_cases():
    """Accumulators whose SRDHM with 2**30 lands exactly halfway between two outputs."""
    for right in range(1, 31):
        shift = -right
        for k in range(4):
            for offset in (1 << (right - 1), -(1 << (right - 1))):
                half = k * (1 << right) + offset
                for acc in (2 * half, -2 * half, 2 * half + 1, -2 * half - 1):
                    if abs(acc) <= SMALL_INT_MAX:
                        yield acc, 2**30, shift


def random_cases(count: int):
    rng = random.Random(11)
    for _ in range(count):
        shift = rng.choice(SHIFTS)
        top = _largest_acc(shift)
        magnitude = min(top, int(2 ** rng.uniform(0, 30)))
        multiplier = 0 if rng.random() < 0.02 else rng.randint(2**30, 2**31 - 1)
        yield rng.randint(-magnitude, magnitude), multiplier, shift


VM_SCRIPT = """
from array import array
from micronn.fixedpoint import Requant, requantize

count = {count}
chunk = 1024
acc = array("i", bytes(4 * count))
multiplier = array("i", bytes(4 * count))
shift = array("i", bytes(4 * count))
for name, values in (("acc.bin", acc), ("multiplier.bin", multiplier), ("shift.bin", shift)):
    with open(name, "rb") as f:
        f.readinto(values)
result = array("i", bytes(4 * count))
for start in range(0, count, chunk):
    stop = min(start + chunk, count)
    rq = Requant(memoryview(multiplier)[start:stop], memoryview(shift)[start:stop])
    for i in range(start, stop):
        result[i] = requantize(acc[i], rq, i - start)
with open("result.bin", "wb") as f:
    f.write(result)
print("done", count)
"""


def test_requantize_on_the_vm_matches_gemmlowp(tmp_path):
    cases = list(extreme_cases()) + list(tie_cases()) + list(random_cases(50000))
    acc, multiplier, shift = (np.array(column, dtype="<i4") for column in zip(*cases, strict=True))
    for name, values in (("acc", acc), ("multiplier", multiplier), ("shift", shift)):
        (tmp_path / f"{name}.bin").write_bytes(values.tobytes())
    stdout = run(VM_SCRIPT.format(count=len(cases)), cwd=tmp_path, heapsize="4M")
    assert stdout.split() == ["done", str(len(cases))]
    got = np.frombuffer((tmp_path / "result.bin").read_bytes(), dtype="<i4")
    expected = np.array([oracle(*case) for case in cases], dtype=np.int64)
    wrong = np.flatnonzero(got != expected)
    assert wrong.size == 0, [(cases[i], int(got[i]), int(expected[i])) for i in wrong[:10]]
    assert len(cases) > 55000


def test_oracle_agrees_with_the_host_fixedpoint():
    """The independent oracle and the lead's numpy requantization are the same function."""
    from micronn.fixedpoint import multiply_by_quantized_multiplier

    cases = list(extreme_cases())[::7] + list(random_cases(3000))
    acc, multiplier, shift = (np.array(column, np.int64) for column in zip(*cases, strict=True))
    host = multiply_by_quantized_multiplier(acc, multiplier, shift)
    np.testing.assert_array_equal(host, [oracle(*case) for case in cases])
