"""Labels: class names in a version 3 container, from scikit-learn's classes_ and from a labels
file, read back by the host and by the device (net.labels, net.top allocation-free), damaged
sections refused by both in one line, printed by simulate, counted by the memory planner."""

import json
import struct
import warnings
import zlib

import numpy as np
import pytest
from vm import run

from micronn import container, convert_sklearn, reference
from micronn.cli import main
from micronn.labels import pack_section
from micronn.memory_plan import labels_bytes, plan_container
from micronn.simulate import simulate

FIXTURE = "tests/data/tflite/mlp_relu_relu6.tflite"  # output (4,)
NAMES = ["up", "down", "left", "right"]


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier

    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier((8,), max_iter=200, random_state=0).fit(x, names)
    return mlp, x.astype(np.float32)


def test_scikit_learn_classes_become_the_labels(iris):
    mlp, x = iris
    data = convert_sklearn(mlp, x)
    model = container.read(data)
    assert data[4] == 3 and model.labels == ("setosa", "versicolor", "virginica")
    plain = convert_sklearn(mlp, x, labels=False)
    assert plain[4] == 1 and container.read(plain).labels is None
    assert len(data) - len(plain) == len(pack_section(model.labels))


def test_a_labels_file_round_trips_through_convert_and_inspect(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(NAMES) + "\n\n")
    out = tmp_path / "m.mnq"
    assert main(["convert", FIXTURE, "-o", str(out), "--labels", str(labels)]) == 0
    assert "labels: 4 (up, down, left, right)" in capsys.readouterr().out
    assert container.read(out.read_bytes()).labels == tuple(NAMES)
    assert main(["inspect", str(out)]) == 0
    assert "labels: 4 (up, down, left, right)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, says",
    [
        ("a\nb\nc\n", "3 labels for an output of shape (4,); give 4"),
        ("a\n\nb\nc\nd\n", "line 2 is empty"),
        ("a\nb\x01\nc\nd\n", "label 1 ('b\\x01') must be 1 to 255 bytes"),
        (b"a\nb\nc\n\xff\n", "not UTF-8 text"),
    ],
)
def test_bad_labels_files_are_refused_in_one_line(tmp_path, capsys, text, says):
    labels = tmp_path / "labels.txt"
    labels.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = main(["convert", FIXTURE, "-o", str(tmp_path / "m.mnq"), "--labels", str(labels)])
    err = capsys.readouterr().err
    assert code == 1 and says in err and err.count("\n") == 1, err


def _replace_section(data: bytes, section: bytes) -> bytes:
    """data with its labels section replaced by one of the same size."""
    size = 4 * struct.unpack_from("<H", data, 30)[0]
    assert len(section) == size
    return data[:-size] + section


def _section(output, count, entries: bytes, size: int, crc=None) -> bytes:
    entries = entries + bytes(size - 8 - len(entries))
    crc = zlib.crc32(entries) if crc is None else crc
    return struct.pack("<BBHI", output, 0, count, crc) + entries


def _damaged(data):
    size = 4 * struct.unpack_from("<H", data, 30)[0]
    good = bytes(data[-size:])
    entries = good[8:]
    flipped = bytearray(data)
    flipped[-1 - (size - 8) // 2] ^= 0x20
    bad_utf8 = bytearray(entries)
    bad_utf8[1] = 0xFF
    return {
        "crc": bytes(flipped),
        "count": _replace_section(data, _section(0, 3, entries, size)),
        "output": _replace_section(data, _section(1, 4, entries, size)),
        "utf8": _replace_section(data, _section(0, 4, bytes(bad_utf8), size)),
        "empty": _replace_section(data, _section(0, 4, b"\x00" + entries[:-1], size)),
        "trailing": _replace_section(data, _section(0, 4, entries[: size - 9] + b"\x07", size)),
    }


DEVICE_SCRIPT = """
import json, micropython, micronn
from array import array
out = array("b", bytes(4))
net = micronn.load("good.mnq")
x = array("b", open("x.bin", "rb").read())
ys = bytearray()
tops = []
a = b = None
into = array("H", bytes(8))
for r in range(len(x) // 10):
    net.predict(x[r * 10:(r + 1) * 10], out)
    ys.extend(bytes(out))
    net.top(out, 3)
    micropython.heap_lock()
    a = net.top(out, 3)
    b = net.top(out, 4, into)
    micropython.heap_unlock()
    tops.append([list(a), list(b)])
refusals = {}
for name in NAMES:
    try:
        micronn.load(name + ".mnq")
        refusals[name] = ""
    except ValueError as error:
        refusals[name] = str(error)
print(json.dumps([list(net.labels), net.labels_output, tops, refusals]))
open("y.bin", "wb").write(ys)
"""


def test_the_device_reads_labels_ranks_without_allocating_and_refuses_damage(tmp_path):
    data = container.write(_with_labels(container.read(_converted())))
    damaged = _damaged(data)
    (tmp_path / "good.mnq").write_bytes(data)
    for name, bad in damaged.items():
        (tmp_path / f"{name}.mnq").write_bytes(bad)
    x = np.random.default_rng(3).integers(-128, 128, (6, 10), dtype=np.int8)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    script = DEVICE_SCRIPT.replace("NAMES", json.dumps(sorted(damaged)))
    labels, output, tops, refusals = json.loads(run(script, cwd=tmp_path).splitlines()[-1])
    assert labels == NAMES and output == 0
    model = container.read(data)
    y = np.frombuffer((tmp_path / "y.bin").read_bytes(), np.int8).reshape(6, 4)
    np.testing.assert_array_equal(y, reference.run(model, x))
    for row, (top3, top4) in zip(y, tops, strict=True):
        order = list(np.argsort(-row.astype(int), kind="stable"))
        assert top3 == order[:3] and top4 == order
    for name, bad in damaged.items():
        assert refusals[name] and "\n" not in refusals[name], name
        with pytest.raises(container.ContainerError) as host:
            container.read(bad)
        assert "\n" not in str(host.value)
    assert "CRC" in refusals["crc"] and "3 labels" in refusals["count"]
    assert "not printable" in refusals["utf8"] and "after the last" in refusals["trailing"]


def _converted() -> bytes:
    from micronn.convert import convert

    return convert(FIXTURE)


def _with_labels(model):
    model.labels, model.labels_output = tuple(NAMES), 0
    return model


def test_simulate_prints_labels_and_the_planner_counts_them(tmp_path, capsys, iris):
    mlp, x = iris
    data = convert_sklearn(mlp, x)
    plain = convert_sklearn(mlp, x, labels=False)
    (tmp_path / "m.mnq").write_bytes(data)
    np.save(tmp_path / "x.npy", x[::50])
    assert main(["simulate", str(tmp_path / "m.mnq"), "--input", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "sample 0: setosa" in out and "sample 2: virginica" in out
    codes = reference.quantize_input(container.read(data), x[:1])
    measured = [simulate(d, codes, board="esp32s3").heap_stages for d in (data, plain)]
    planned = [
        plan_container(d, "esp32s3", word_bits=64).placements["ram"].stages for d in (data, plain)
    ]
    block = 32  # the 64-bit VM's GC block: where the labels' blocks fall shifts by one with the
    # heap's earlier contents (the temporary paths differ in length from machine to machine),
    # and a few of the labels' small strings may land in the holes the reader's dropped record
    # bodies leave
    for stage in ("network", "loaded"):
        extra_planned = planned[0][stage] - planned[1][stage]
        extra_measured = measured[0][stage] - measured[1][stage]
        assert 0 <= extra_planned - extra_measured <= 3 * block, (
            stage,
            extra_planned,
            extra_measured,
        )
    assert labels_bytes(container.read(data).labels, 64) > 0
