"""Drive the sanitized C kernel library from a separate Python process (ASan must be preloaded,
so tests/test_c_kernels.py starts this script with LD_PRELOAD set).

    python c_check.py LIBRARY cases FAMILY SEED COUNT   exact comparison with the reference
    python c_check.py LIBRARY fuzz SEED COUNT           malformed params, lengths, channel ranges
    python c_check.py LIBRARY overread                  a lying length: ASan must stop us

Prints one summary line; exits 1 on any mismatch.
"""

import sys

import numpy as np
from c_cases import FAMILIES, FILTER_OPS, random_cases
from c_kernels import CKernels, KernelError, params_of

INTERESTING = (-(2**31), -1, 0, 1, 2, 7, 127, 128, 255, 65535, 65536, 2**22, 2**30, 2**31 - 1)


def check_cases(kernels, family, seed, count):
    runs = 0
    for index, case in enumerate(random_cases(family, seed, count)):
        for s in range(case.expected.shape[0]):
            got = kernels.run(
                case.layer, [x[s] for x in case.inputs], case.expected.shape[1], case.chunks
            )
            runs += 1
            if not np.array_equal(got, case.expected[s]):
                diff = np.flatnonzero(got != case.expected[s])
                print(
                    f"MISMATCH {family} seed {seed} case {index} sample {s} {case.layer.op} "
                    f"params {case.layer.params} bits {case.layer.weight_bits} "
                    f"first index {diff[0]}: got {got[diff[0]]} want {case.expected[s][diff[0]]}"
                )
                return 1
    print(f"{family}: {runs} runs of {count} random layers match the reference exactly")
    return 0


class Mutated:
    """A layer whose params come from a mutated int32 array (same op, tensors and bits)."""

    def __init__(self, layer, params):
        self.op = layer.op
        self.weight_bits = layer.weight_bits
        self.params = params
        self._layer = layer

    def __getattr__(self, name):
        return getattr(self._layer, name)


def fuzz(kernels, seed, count):
    rng = np.random.default_rng(seed)
    rejected = accepted = 0
    cases = [c for family in FAMILIES for c in random_cases(family, seed, max(count // 7, 1), 1)]
    for _ in range(count):
        case = cases[int(rng.integers(len(cases)))]
        layer = case.layer
        params = dict(layer.params)
        names = list(params)
        for _ in range(int(rng.integers(1, 3))):
            name = names[int(rng.integers(len(names)))]
            value = int(rng.choice(INTERESTING)) if rng.random() < 0.6 else params[name]
            wrapped = (value + int(rng.integers(-2, 3)) + 2**31) % 2**32 - 2**31
            params[name] = wrapped
        mutated = Mutated(layer, params)
        inputs = [x[0] for x in case.inputs]
        out_size = case.expected.shape[1] + int(rng.choice([0, 0, -1, 1]))
        chunks = None
        if layer.op in FILTER_OPS and rng.random() < 0.3:
            channels = int(np.asarray(layer.bias).size)
            chunks = sorted(int(v) for v in rng.integers(-2, channels + 3, size=2))
        try:
            params_of(mutated)
            kernels.run(mutated, inputs, max(out_size, 0), chunks)
            accepted += 1
        except (KernelError, OverflowError):
            rejected += 1
    print(f"fuzz: {count} malformed calls, {rejected} rejected with a status, {accepted} ran")
    return 0


def overread(kernels):
    """Claim one more input byte than the buffer holds: ASan must abort this process."""
    case = random_cases("lookup", 0, 1, 1)[0]
    x = np.zeros(case.inputs[0].shape[1], np.int8)
    table = np.ascontiguousarray(case.layer.table, np.int8)
    params = params_of(case.layer)
    params[0] += 1
    out = np.zeros(x.size + 1, np.int8)
    kernels.lib.mnk_lookup(
        params.ctypes.data, 1, table.ctypes.data, 256, x.ctypes.data, x.size + 1,
        out.ctypes.data, out.size,
    )  # fmt: skip
    print("overread was not detected")
    return 1


def main(argv):
    kernels = CKernels(argv[1])
    mode = argv[2]
    if mode == "cases":
        return check_cases(kernels, argv[3], int(argv[4]), int(argv[5]))
    if mode == "fuzz":
        return fuzz(kernels, int(argv[3]), int(argv[4]))
    return overread(kernels)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
