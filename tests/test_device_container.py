"""micronn.load on the MicroPython VM refuses every damaged or invalid container with ValueError.

Every truncation and every single-byte corruption (four XOR patterns) of a small 3-layer
container (int4 / int2 / int8 weights, per-channel and per-tensor), a dense sample of both for a
larger one, and a list of rule-breaking files whose CRCs were recomputed so that the reader's
semantic checks (not only its CRCs) are what refuses them.
"""

import json
import struct
import zlib

import numpy as np
import pytest
from model_factory import random_dense_layer
from vm import run

from micronn import container
from micronn.model import Model, TensorSpec

XOR_PATTERNS = (0x01, 0x80, 0xFF, 0x5A)
VM_HEAP = "128K"  # a board-sized heap: a damaged size field must not become a MemoryError

VM_SCRIPT = """
import io
import json
import micronn

def attempt(data, use_file):
    try:
        if use_file:
            with open("case.mnq", "wb") as f:
                f.write(data)
            micronn.load("case.mnq")
        else:
            micronn.load(io.BytesIO(data))
    except ValueError as error:
        return ["ValueError", str(error)]
    except Exception as error:
        return [type(error).__name__, str(error)]
    return ["returned a net", ""]

for name in {names}:
    with open(name, "rb") as f:
        original = f.read()
    print(json.dumps([name, "original", attempt(original, True)]))
    with open(name + ".cases", "rb") as f:
        spec = json.loads(f.read())
    for length in spec["truncate"]:
        print(json.dumps([name, "truncate %d" % length, attempt(original[:length], True)]))
    for position in spec["corrupt"]:
        for pattern in {patterns}:
            data = bytearray(original)
            data[position] ^= pattern
            label = "byte %d ^ 0x%02x" % (position, pattern)
            print(json.dumps([name, label, attempt(bytes(data), pattern == 0x01)]))
for index in range({invalid}):
    with open("invalid%d.mnq" % index, "rb") as f:
        data = f.read()
    print(json.dumps(["invalid%d" % index, "", attempt(data, True)]))
"""


def small_model() -> Model:
    rng = np.random.default_rng(7)
    layers = [
        random_dense_layer(rng, 3, 5, 4, True, "relu"),  # 15 int4 weights: an odd count
        random_dense_layer(rng, 5, 3, 2, False, "relu6"),  # 15 int2 weights: one unused pair
        random_dense_layer(rng, 3, 2, 8, True, "none"),  # 6 int8 weights: 2 padding bytes
    ]
    return Model(TensorSpec((3,), 0.05, -3), TensorSpec((2,), 0.1, 5), layers)


def larger_model() -> Model:
    rng = np.random.default_rng(8)
    layers = [
        random_dense_layer(rng, 64, 32, 8, True, "relu"),
        random_dense_layer(rng, 32, 16, 4, False, "relu"),
        random_dense_layer(rng, 16, 10, 2, True, "none"),
    ]
    return Model(TensorSpec((8, 8), 0.02, 0), TensorSpec((10,), 0.25, -128), layers)


# ------------------------------------------------------------------ spec-level helpers


def layout(data) -> list:
    """Per layer: record offset, block offset and absolute tensor offsets (docs/format.md).

    Stops at the first record that does not fit the table (a patch may have broken it).
    """
    count, table_size = struct.unpack_from("<H", data, 16)[0], struct.unpack_from("<I", data, 12)[0]
    layers, position = [], 72
    for _ in range(count):
        if position + 16 > min(table_size, len(data)):
            break
        _, _, n_params, n_tensors, block, size, _ = struct.unpack_from("<BBBBIII", data, position)
        first = position + 16 + 4 * n_params
        if first + 12 * n_tensors > min(table_size, len(data)):
            break
        tensors = []
        for t in range(n_tensors):
            _, offset, _ = struct.unpack_from("<B3xII", data, first + 12 * t)
            tensors.append({"descriptor": first + 12 * t, "at": block + offset})
        layers.append({"record": position, "block": block, "size": size, "tensors": tensors})
        position += 16 + 4 * n_params + 12 * n_tensors
    return layers


def with_crcs(data) -> bytes:
    """Recompute every block CRC and then the table CRC, as a writer would."""
    data = bytearray(data)
    for layer in layout(data):
        block = data[layer["block"] : layer["block"] + layer["size"]]
        struct.pack_into("<I", data, layer["record"] + 12, zlib.crc32(block))
    table_size = struct.unpack_from("<I", data, 12)[0]
    crc = zlib.crc32(data[24:table_size], zlib.crc32(data[:20]))
    struct.pack_into("<I", data, 20, crc)
    return bytes(data)


def _record(k, field):
    """Absolute offset of a record field: op 0, act 1, P 2, N 3, offset 4, size 8, params 16+."""
    return lambda data: layout(data)[k]["record"] + field


def _descriptor(k, t, field):
    """Absolute offset of a tensor descriptor field: dtype 0, reserved 1-3, offset 4, count 8."""
    return lambda data: layout(data)[k]["tensors"][t]["descriptor"] + field


def _tensor(k, t, index=0, itemsize=4):
    return lambda data: layout(data)[k]["tensors"][t]["at"] + index * itemsize


def _put(fmt, where, value):
    def patch(data):
        offset = where if isinstance(where, int) else where(data)
        struct.pack_into(fmt, data, offset, value)

    return patch


def _add(fmt, where, delta):
    def patch(data):
        offset = where if isinstance(where, int) else where(data)
        struct.pack_into(fmt, data, offset, struct.unpack_from(fmt, data, offset)[0] + delta)

    return patch


def _both(*patches):
    def patch(data):
        for p in patches:
            p(data)

    return patch


def _append_zeros(data):
    data.extend(bytes(4))
    struct.pack_into("<I", data, 8, len(data))


def _dirty_block_end(data):
    """Grow the last block by 4 bytes of padding, one of them non-zero."""
    data.extend(b"\0\0\1\0")
    struct.pack_into("<I", data, 8, len(data))
    _add("<I", _record(2, 8), 4)(data)


LAYER0_PARAMS = 16  # in, out, input zp, output zp, act_min, act_max at +16, +20, ... +36

# (label, patch of the small container, words the error must contain); CRCs are recomputed.
INVALID = [
    ("magic", _put("<B", 0, 0x88), "not a .mnq"),
    ("version 2", _put("<H", 4, 2), "version 2"),
    ("unknown flag", _put("<H", 6, 4), "flags"),
    ("reserved at 18", _put("<H", 18, 1), "reserved"),
    ("reserved at 24", _put("<I", 24, 1), "reserved"),
    ("reserved at 28", _put("<I", 28, 1 << 31), "reserved"),
    ("file_size too large", _add("<I", 8, 4), "header says"),
    ("bytes after the end", lambda d: d.extend(bytes(4)), "after the model's end"),
    ("table_size unaligned", _add("<I", 12, 2), "table size"),
    ("table_size past the end", _add("<I", 12, 4096), "table size"),
    ("no layers", _put("<H", 16, 0), ""),
    ("layer_count too large", _put("<H", 16, 4), "runs past"),
    ("input dtype", _put("<B", 32, 2), "dtype code 2"),
    ("input ndim 0", _put("<B", 33, 0), "ndim 0"),
    ("input ndim 5", _put("<B", 33, 5), "ndim 5"),
    ("input reserved", _put("<H", 34, 1), "description is invalid"),
    ("input dim 0", _put("<H", 36, 0), "shape"),
    ("input dim past ndim", _put("<H", 38, 2), "shape"),
    ("input scale 0", _put("<f", 44, 0.0), "scale"),
    ("input scale negative", _put("<f", 44, -0.5), "scale"),
    ("input scale NaN", _put("<f", 44, float("nan")), "scale"),
    ("output scale inf", _put("<f", 64, float("inf")), "scale"),
    ("input zero point 128", _put("<i", 48, 128), "zero point 128"),
    ("output zero point -129", _put("<i", 68, -129), "zero point -129"),
    ("input size", _put("<H", 36, 4), "input has 4 elements"),
    ("output size", _put("<H", 56, 3), "output has 3 elements"),
    ("operator", _put("<B", _record(0, 0), 2), "operator code 2"),
    ("activation", _put("<B", _record(1, 1), 3), "activation code 3"),
    ("param count", _put("<B", _record(0, 2), 5), ""),
    ("tensor count", _put("<B", _record(2, 3), 3), ""),
    ("block offset", _add("<I", _record(1, 4), 4), "data block of layer 1"),
    ("block size unaligned", _add("<I", _record(0, 8), 2), "data block of layer 0"),
    ("blocks end early", _append_zeros, "data blocks end"),
    ("descriptor reserved", _put("<B", _descriptor(0, 1, 2), 1), "bad dtype"),
    ("descriptor dtype", _put("<B", _descriptor(0, 1, 0), 5), "bad dtype code 5"),
    (
        "int32 weights",
        _both(_put("<B", _descriptor(2, 0, 0), 2), _put("<I", _descriptor(2, 0, 8), 2)),
        "are int32",
    ),
    ("tensor unaligned", _add("<I", _descriptor(0, 2, 4), 2), "misaligned"),
    ("tensors overlap", _put("<I", _descriptor(0, 1, 4), 0), "overlaps"),
    ("tensor past its block", _put("<I", _descriptor(0, 3, 8), 1000), "does not fit"),
    ("weight count", _put("<I", _descriptor(2, 0, 8), 5), "has 5 weights"),
    ("bias dtype", _put("<B", _descriptor(0, 1, 0), 1), "bias"),
    ("bias count", _put("<I", _descriptor(0, 1, 8), 4), "bias"),
    (
        "two multipliers for five outputs",
        _both(_put("<I", _descriptor(0, 2, 8), 2), _put("<I", _descriptor(0, 3, 8), 2)),
        "needs 1 or 5",
    ),
    ("shift count", _put("<I", _descriptor(0, 3, 8), 1), "one length"),
    (
        "shapes do not chain",
        _both(_put("<i", _record(1, 16), 4), _put("<I", _descriptor(1, 0, 8), 12)),
        "layer 1 takes 4 features",
    ),
    ("no outputs", _put("<i", _record(0, 20), 0), "0 outputs"),
    ("input zero point param", _put("<i", _record(0, 24), 200), "input zero point 200"),
    ("output zero point param", _put("<i", _record(0, 28), -129), "output zero point -129"),
    ("act_max 128", _put("<i", _record(1, 36), 128), "act_max 128"),
    (
        "act_min > act_max",
        _both(_put("<i", _record(2, 32), 10), _put("<i", _record(2, 36), 5)),
        "act_min 10 > act_max 5",
    ),
    ("multiplier below 2^30", _put("<i", _tensor(0, 2, 1), 2**30 - 1), "multiplier 1073741823"),
    ("negative multiplier", _put("<i", _tensor(1, 2), -(2**30)), "multiplier -1073741824"),
    ("shift 31", _put("<i", _tensor(0, 3, 4), 31), "shift 31"),
    ("shift -32", _put("<i", _tensor(2, 3), -32), "shift -32"),
    ("bias at 2^30 - 1", _put("<i", _tensor(0, 1, 2), 2**30 - 1), "31-bit"),
    ("bias at -2^31", _put("<i", _tensor(1, 1), -(2**31)), "31-bit"),
    ("left shift overflows", _put("<i", _tensor(2, 3, 1), 20), "31-bit"),
    ("int8 weight -128", _put("<b", _tensor(2, 0), -128), "weights outside"),
    ("int4 weight -8", _put("<B", _tensor(0, 0, 3, 1), 0x80), "weights outside"),
    ("int4 stray nibble", _add("<B", _tensor(0, 0, 7, 1), 0x10), "stray bits"),
    ("int2 weight -2", _put("<B", _tensor(1, 0, 1, 1), 0x08), "weights outside"),
    ("int2 stray pair", _add("<B", _tensor(1, 0, 3, 1), 0x40), "stray bits"),
    ("padding between tensors", _put("<B", _tensor(2, 0, 6, 1), 1), "non-zero padding"),
    ("padding at the end of a block", _dirty_block_end, "non-zero padding"),
]

# Cut files: their CRCs stay as written.
TRUNCATED = [("shorter than a header", 40, "too short"), ("last 4 bytes cut", -4, "header says")]


def _invalid_files(data: bytes) -> list:
    files = []
    for label, patch, words in INVALID:
        patched = bytearray(data)
        patch(patched)
        files.append((label, with_crcs(patched), words))
    for label, cut, words in TRUNCATED:
        files.append((label, data[:cut], words))
    return files


def _run_vm(tmp_path, containers: dict, invalid: list) -> list:
    for name, (data, truncate, corrupt) in containers.items():
        (tmp_path / name).write_bytes(data)
        spec = {"truncate": list(truncate), "corrupt": list(corrupt)}
        (tmp_path / f"{name}.cases").write_text(json.dumps(spec))
    for index, (_, data, _) in enumerate(invalid):
        (tmp_path / f"invalid{index}.mnq").write_bytes(data)
    script = VM_SCRIPT.format(
        names=list(containers), patterns=list(XOR_PATTERNS), invalid=len(invalid)
    )
    return [json.loads(line) for line in run(script, cwd=tmp_path, heapsize=VM_HEAP).splitlines()]


@pytest.fixture(scope="module")
def vm_results(tmp_path_factory):
    small = container.write(small_model())
    larger = container.write(larger_model())
    table_size = struct.unpack_from("<I", larger, 12)[0]
    sample = sorted(set(range(table_size + 64)) | set(range(0, len(larger), 7)))
    sample += list(range(len(larger) - 16, len(larger)))
    containers = {
        "small.mnq": (small, range(len(small)), range(len(small))),
        "larger.mnq": (larger, sorted(set(sample)), sorted(set(sample))),
    }
    invalid = _invalid_files(small)
    results = _run_vm(tmp_path_factory.mktemp("damaged"), containers, invalid)
    return containers, invalid, results


def test_the_undamaged_containers_load(vm_results):
    containers, _, results = vm_results
    originals = [r for r in results if r[1] == "original"]
    assert originals == [[name, "original", ["returned a net", ""]] for name in containers]


def test_every_truncation_and_corruption_is_a_value_error(vm_results):
    containers, _, results = vm_results
    damaged = [r for r in results if r[1] != "original" and not r[0].startswith("invalid")]
    expected = sum(len(t) + len(XOR_PATTERNS) * len(c) for _, t, c in containers.values())
    assert len(damaged) == expected
    small_size = len(containers["small.mnq"][0])
    assert expected > small_size * (1 + len(XOR_PATTERNS))
    wrong = [r for r in damaged if r[2][0] != "ValueError"]
    assert not wrong, wrong[:10]
    assert all(r[2][1].startswith(("case.mnq: ", "model: ")) for r in damaged)


def test_recomputed_crcs_change_nothing_in_a_valid_file():
    data = container.write(small_model())
    assert with_crcs(data) == data


@pytest.mark.parametrize("index", range(len(INVALID) + len(TRUNCATED)))
def test_rule_breaking_file_is_refused_with_a_clear_message(vm_results, index):
    _, invalid, results = vm_results
    label, _, words = invalid[index]
    outcome = {r[0]: r[2] for r in results}[f"invalid{index}"]
    assert outcome[0] == "ValueError", (label, outcome)
    assert words in outcome[1], (label, outcome[1])
    assert "CRC" not in outcome[1], (label, outcome[1])
    assert ";" in outcome[1], f"{label}: the message should say what to do: {outcome[1]}"
