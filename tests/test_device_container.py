"""micronn.load on the MicroPython VM refuses every damaged container with ValueError.

Every truncation and every single-byte corruption (four XOR patterns) of a small 3-layer chain
(int4 / int2 / int8 weights, per-channel and per-tensor), of a 4-layer graph with five
activation tensors (a layer reading the input again, the output written before the last layer,
a dead-end head) and of a residual graph with two ADDs and shuffled tensor ids, and a dense
sample of both for a larger chain. Rule-breaking files whose
CRCs were recomputed are in test_device_container_rules.py.
"""

import json
import struct

import numpy as np
import pytest
from graph_factory import small_residual_model, two_heads_model
from mnq_patches import with_crcs
from model_factory import random_dense_layer
from vm import run

from micronn import container
from micronn.model import Model, TensorSpec

XOR_PATTERNS = (0x01, 0x80, 0xFF, 0x5A)
# A board-sized heap: a damaged size field must not become a MemoryError. 128K for the
# precompiled package `micronn flash` installs; from .py the kernels a load imports are
# compiled in the middle of it and need free runs of ~2.5 KB that the package's own compile
# leaves scattered: on 128K, 2 of 30 script paths (of other lengths) found none.
VM_HEAPS = {"mpy": "128K", "py": "256K"}

VM_SCRIPT = """
import gc
import io
import json
from array import array

# the file and its damaged copy live in two buffers made before micronn is compiled, while the
# heap is in one piece: thousands of loads later it may have no free run of a file's size
original = bytearray({size})
damaged = bytearray({size})
streams = [io.BytesIO(size) for size in {sizes}]  # refilled in place: each holds one file's bytes
import micronn

def attempt(data, use_file):
    try:
        if use_file:
            with open("case.mnq", "wb") as f:
                f.write(data)
            micronn.load("case.mnq")
        else:
            stream.seek(0)
            stream.write(data)
            micronn.load(stream)
    except ValueError as error:
        return ["ValueError", str(error)]
    except Exception as error:
        return [type(error).__name__, str(error)]
    return ["returned a net", ""]

def positions(path):
    item = array("I", [0])  # one at a time, for the same reason
    with open(path, "rb") as f:
        while f.readinto(item) == 4:
            yield item[0]

for name, stream in zip({names}, streams):
    gc.collect()
    with open(name, "rb") as f:
        n = f.readinto(original)
    whole = memoryview(original)[:n]
    print(json.dumps([name, "original", attempt(whole, True)]))
    for length in positions(name + ".truncate"):
        print(json.dumps([name, "truncate %d" % length, attempt(whole[:length], True)]))
    data = memoryview(damaged)[:n]
    for position in positions(name + ".corrupt"):
        for pattern in {patterns}:
            data[:] = whole
            data[position] ^= pattern
            label = "byte %d ^ 0x%02x" % (position, pattern)
            print(json.dumps([name, label, attempt(data, pattern == 0x01)]))
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


def _run_vm(tmp_path, containers: dict, form: str = "mpy") -> list:
    for name, (data, truncate, corrupt) in containers.items():
        (tmp_path / name).write_bytes(data)
        for kind, positions in (("truncate", truncate), ("corrupt", corrupt)):
            (tmp_path / f"{name}.{kind}").write_bytes(np.array(positions, "<u4").tobytes())
    size = max(len(data) for data, _, _ in containers.values())
    script = VM_SCRIPT.format(
        names=list(containers),
        patterns=list(XOR_PATTERNS),
        size=size,
        sizes=[len(data) for data, _, _ in containers.values()],
    )
    out = run(script, cwd=tmp_path, heapsize=VM_HEAPS[form], precompiled=form == "mpy")
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module", params=list(VM_HEAPS))
def vm_results(tmp_path_factory, request):
    small = container.write(small_model())
    graph = container.write(two_heads_model())
    residual = container.write(small_residual_model())
    larger = container.write(larger_model())
    table_size = struct.unpack_from("<I", larger, 12)[0]
    sample = sorted(set(range(table_size + 64)) | set(range(0, len(larger), 7)))
    sample += list(range(len(larger) - 16, len(larger)))
    containers = {
        "small.mnq": (small, range(len(small)), range(len(small))),
        "graph.mnq": (graph, range(len(graph)), range(len(graph))),
        "residual.mnq": (residual, range(len(residual)), range(len(residual))),
        "larger.mnq": (larger, sorted(set(sample)), sorted(set(sample))),
    }
    results = _run_vm(tmp_path_factory.mktemp("damaged"), containers, request.param)
    return containers, results


def test_the_residual_model_adds_branches():
    model = small_residual_model()
    adds = [layer for layer in model.layers if layer.op == "ADD"]
    assert len(adds) == 2 and all(a.inputs[0] != a.inputs[1] for a in adds)
    assert model.input_tensor != 0 and len(model.shapes) == 6


def test_the_graph_model_has_several_live_tensors_sharing_an_arena():
    model = two_heads_model()
    data = container.write(model)
    assert struct.unpack_from("<H", data, 18)[0] == len(model.shapes) == 5
    assert [layer.inputs for layer in model.layers] == [(0,), (1,), (0,), (2,)]
    assert model.output_tensor == 3
    arena_size = struct.unpack_from("<I", data, 24)[0]
    assert arena_size < sum(model.activation_sizes)  # some tensors share bytes


def test_the_undamaged_containers_load(vm_results):
    containers, results = vm_results
    originals = [r for r in results if r[1] == "original"]
    assert originals == [[name, "original", ["returned a net", ""]] for name in containers]


def test_every_truncation_and_corruption_is_a_value_error(vm_results):
    containers, results = vm_results
    damaged = [r for r in results if r[1] != "original"]
    expected = sum(len(t) + len(XOR_PATTERNS) * len(c) for _, t, c in containers.values())
    assert len(damaged) == expected
    for name in ("small.mnq", "graph.mnq", "residual.mnq"):
        size = len(containers[name][0])
        assert sum(r[0] == name for r in damaged) == size * (1 + len(XOR_PATTERNS))
    wrong = [r for r in damaged if r[2][0] != "ValueError"]
    assert not wrong, wrong[:10]
    assert all(r[2][1].startswith(("case.mnq: ", "model: ")) for r in damaged)


def test_recomputed_crcs_change_nothing_in_a_valid_file():
    for model in (small_model(), two_heads_model(), small_residual_model()):
        data = container.write(model)
        assert with_crcs(data) == data


CRC_FALLBACK_SCRIPT = """
import sys
from array import array
import binascii

class NoCrc32:
    pass

real_crc32 = binascii.crc32
sys.modules["binascii"] = NoCrc32()  # a build whose binascii lacks crc32
import micronn
from micronn import container
from micronn.crc32 import crc32

assert container.crc32 is crc32
with open("small.mnq", "rb") as f:
    data = f.read()
pieces = [data, data[:1], b"", bytearray(data[5:77]), memoryview(data)[3:9],
          array("b", data[:40]), array("i", data[:40])]
same = all(crc32(p, s) == real_crc32(p, s) for p in pieces for s in (0, 1, 0xFFFFFFFF))
net = micronn.load("small.mnq")
damaged = bytearray(data)
damaged[-3] ^= 1
with open("damaged.mnq", "wb") as f:
    f.write(damaged)
try:
    micronn.load("damaged.mnq")
    refused = "no"
except ValueError as error:
    refused = str(error)
print(same, net.input_shape, refused)
"""


def test_the_reader_works_without_binascii_crc32(tmp_path):
    (tmp_path / "small.mnq").write_bytes(container.write(small_model()))
    stdout = run(CRC_FALLBACK_SCRIPT, cwd=tmp_path)
    assert stdout.startswith("True (3,) damaged.mnq: the data block of layer 2 fails its CRC")
