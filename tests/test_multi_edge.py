"""Models with several inputs and outputs (container version 2): TFLM is the oracle.

The zoo's simple_add_model (two 128x128x1 int8 inputs -> ADD) and two small built models (one
input -> two FULLY_CONNECTED heads; two inputs -> ADD -> FULLY_CONNECTED, where the ADD's result is
also an output) convert, equal TFLM in reference.run and run on the MicroPython VM (simulate,
python and viper; net.predict with sequences of buffers, allocation-free). Version 1 files still
load; host and device refuse the same broken edge tables; the CLI takes and writes .npz.
"""

import json
import struct

import numpy as np
import pytest
import tflm_models as tm
import zoo_models
from mnq_patches import with_crcs
from vm import run

import micronn
from micronn import container, reference
from micronn.cli import main
from micronn.simulate import simulate

SIMPLE_ADD = zoo_models.ZOO / "tflm__examples__memory_footprint__models__simple_add_model.tflite"
ROWS = 200
VERSION_AT, COUNTS_AT = 4, 28


def two_heads_tflite() -> bytes:
    """One (1, 8) input, two FULLY_CONNECTED heads; the outputs are listed second head first."""
    rng = np.random.default_rng(11)
    tensors = [
        ((1, 8), 0.05, 3),
        ((5, 8), 0.02, 0, rng.integers(-127, 128, (5, 8)).astype(np.int8)),
        ((5,), 0.05 * 0.02, 0, rng.integers(-3000, 3000, 5).astype(np.int32)),
        ((1, 5), 0.1, -4),
        ((3, 8), 0.03, 0, rng.integers(-127, 128, (3, 8)).astype(np.int8)),
        ((3,), 0.05 * 0.03, 0, rng.integers(-3000, 3000, 3).astype(np.int32)),
        ((1, 3), 0.07, 2),
    ]
    fc = tm.options("FullyConnectedOptions")
    relu = tm.options("FullyConnectedOptions", fusedActivationFunction=tm.ACTIVATIONS["relu"])
    operators = [
        ("FULLY_CONNECTED", [0, 1, 2], [3], relu),
        ("FULLY_CONNECTED", [0, 4, 5], [6], fc),
    ]
    return tm.graph_model(tensors, operators, [0], [6, 3])


def add_then_dense_tflite() -> bytes:
    """Two (1, 8) inputs -> ADD -> FULLY_CONNECTED; outputs: the dense head, then the ADD."""
    rng = np.random.default_rng(12)
    tensors = [
        ((1, 8), 0.04, -2),
        ((1, 8), 0.06, 5),
        ((1, 8), 0.09, 1),
        ((4, 8), 0.02, 0, rng.integers(-127, 128, (4, 8)).astype(np.int8)),
        ((4,), 0.09 * 0.02, 0, rng.integers(-3000, 3000, 4).astype(np.int32)),
        ((1, 4), 0.15, -3),
    ]
    operators = [
        ("ADD", [0, 1], [2], tm.options("AddOptions")),
        ("FULLY_CONNECTED", [2, 3, 4], [5], tm.options("FullyConnectedOptions")),
    ]
    return tm.graph_model(tensors, operators, [0, 1], [5, 2])


def _codes(tflm, rows, seed):
    return zoo_models.random_codes(tflm, rows, seed)


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, tuple) else [outputs]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """name -> (tflite bytes, .mnq bytes, Model) for the two built models and simple_add."""
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=tm.NO_TFLM)
    folder = tmp_path_factory.mktemp("multi")
    models = {}
    for name, data in (("heads", two_heads_tflite()), ("add_dense", add_then_dense_tflite())):
        path = folder / f"{name}.tflite"
        path.write_bytes(data)
        models[name] = (data, micronn.convert(str(path)))
    models["simple_add"] = (SIMPLE_ADD.read_bytes(), micronn.convert(str(SIMPLE_ADD)))
    return {name: (t, m, container.read(m)) for name, (t, m) in models.items()}


def test_the_edges_are_the_tflite_models_in_order(built):
    _, data, model = built["heads"]
    assert data[VERSION_AT] == 2
    assert (data[COUNTS_AT], data[COUNTS_AT + 1]) == (1, 2)
    assert [tuple(s.shape) for s in model.outputs] == [(3,), (5,)]  # the .tflite's order
    assert [(s.scale, s.zero_point) for s in model.outputs] == [
        (pytest.approx(0.07), 2),
        (pytest.approx(0.1), -4),
    ]
    _, _, add_dense = built["add_dense"]
    assert [tuple(s.shape) for s in add_dense.inputs] == [(8,), (8,)]
    assert [s.zero_point for s in add_dense.inputs] == [-2, 5]
    assert add_dense.output_tensors[1] == add_dense.layers[0].output  # the ADD feeds both
    with pytest.raises(ValueError, match="use model.inputs"):
        _ = add_dense.input
    assert container.write(add_dense) == built["add_dense"][1]


@pytest.mark.parametrize("name", ["heads", "add_dense", "simple_add"])
def test_reference_equals_tflm_on_every_output(built, name):
    tflite, _, model = built[name]
    tflm = zoo_models.Tflm(tflite)
    rows = 20 if name == "simple_add" else ROWS
    codes = _codes(tflm, rows, seed=1)
    expected = tflm.run(codes)
    got = _as_list(reference.run(model, codes[0] if len(codes) == 1 else tuple(codes)))
    assert len(got) == len(expected) == len(model.outputs)
    for want, have in zip(expected, got, strict=True):
        assert have.dtype == np.int8
        np.testing.assert_array_equal(have.reshape(want.shape), want)
    assert sum(int(np.count_nonzero(w)) for w in expected) > 0


def test_reference_takes_one_sample_per_input_and_refuses_a_bare_array(built):
    _, _, model = built["add_dense"]
    a, b = np.arange(8, dtype=np.int8), np.arange(8, dtype=np.int8)[::-1].copy()
    head, total = reference.run(model, (a, b))
    assert head.shape == (4,) and total.shape == (8,)
    batch = reference.run(model, [a[np.newaxis], b[np.newaxis]])
    np.testing.assert_array_equal(batch[0][0], head)
    with pytest.raises(ValueError, match="2 inputs; pass x as a list or tuple of 2 arrays"):
        reference.run(model, a)
    with pytest.raises(ValueError, match="disagree on the batch"):
        reference.run(model, (a, np.stack([b, b])))
    floats = reference.quantize_input(model, np.full(8, 0.6, np.float32), 1)
    assert (floats == round(0.6 / 0.06) + 5).all()
    assert reference.dequantize_output(model, np.array([7], np.int8), 0)[0] == np.float32(0.15 * 10)


@pytest.mark.parametrize("backend", ["python", "viper"])
@pytest.mark.parametrize("name", ["heads", "add_dense", "simple_add"])
def test_simulate_equals_the_reference(built, name, backend):
    tflite, data, model = built[name]
    tflm = zoo_models.Tflm(tflite)
    codes = _codes(tflm, 2 if name == "simple_add" else 12, seed=2)
    x = codes[0] if len(codes) == 1 else codes
    result = simulate(data, x, board="rp2350", backend=backend)
    assert result.backend == backend
    expected = _as_list(reference.run(model, x))
    got = _as_list(result.outputs)
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_array_equal(have, want)
    for want, have in zip(tflm.run(codes), got, strict=True):
        np.testing.assert_array_equal(have.reshape(want.shape), want)


def test_simulate_quantizes_float_inputs_per_edge(built):
    _, data, model = built["add_dense"]
    rng = np.random.default_rng(4)
    floats = [rng.uniform(-3, 3, (5, 8)).astype(np.float32) for _ in range(2)]
    codes = tuple(reference.quantize_input(model, f, k) for k, f in enumerate(floats))
    assert not np.array_equal(codes[0], codes[1])
    got = simulate(data, floats, backend="python").outputs
    for want, have in zip(reference.run(model, codes), got, strict=True):
        np.testing.assert_array_equal(have, want)


# ------------------------------------------------------------------ the device API

API_SCRIPT = """
import json
import micropython
from array import array
import micronn

net = micronn.load("add_dense.mnq", backend="{backend}")
a = bytes(open("a.bin", "rb").read())
b = bytes(open("b.bin", "rb").read())
report = {{}}
report["inputs"] = [[e.shape, e.size, e.scale, e.zero_point] for e in net.inputs]
report["outputs"] = [[e.shape, e.size, e.scale, e.zero_point] for e in net.outputs]
report["input_shape"] = list(net.input_shape)
own = net.predict((a, b))
report["own"] = [list(y) for y in own]
report["own_is_tuple"] = type(own) is tuple
head, total = array("b", bytes(4)), bytearray(8)
mine = [head, total]
same = net.predict([memoryview(a), array("b", b)], mine)
report["returns_out"] = same is mine
report["given"] = [list(head), list(total)]
wide = (array("h", array("b", a)), list(array("b", b)))
report["wide"] = [list(y) for y in net.predict(wide)]
floats = [net.quantize(array("f", [0.5] * 8), None, k) for k in range(2)]
report["quantized"] = [list(f) for f in floats]
report["floats"] = [list(y) for y in net.predict((array("f", [0.5] * 8), [0.5] * 8))]
report["dequantized"] = list(net.dequantize(head, None, 0))
x = (a, b)
net.predict(x, mine)
net.predict(x)
micropython.heap_lock()
try:
    net.predict(x, mine)
    net.predict(x)
    net.predict(wide, mine)
    report["locked"] = True
except MemoryError:
    report["locked"] = False
finally:
    micropython.heap_unlock()
errors = []
for args in ((a,), ((a,),), ((a, b), head), ((a, b), (head,)), ((a, b[:3]),),
             ((a, b), (head, bytearray(7)))):
    try:
        net.predict(*args)
        errors.append("accepted")
    except ValueError as error:
        errors.append(str(error))
for call in (lambda: net.quantize([0.5] * 8, None, 2), lambda: net.dequantize(head, None, 5)):
    try:
        call()
        errors.append("accepted")
    except ValueError as error:
        errors.append(str(error))
report["errors"] = errors
one = micronn.load("heads.mnq")
y = one.predict(a)
report["heads"] = [list(v) for v in y]
report["heads_input_shape"] = list(one.input_shape)
plain = micronn.load("single.mnq")
report["single_has_inputs"] = hasattr(plain, "inputs")
print(json.dumps(report))
"""


@pytest.fixture(scope="module", params=["python", "viper"])
def device_api(request, built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    for name in ("add_dense", "heads"):
        (folder / f"{name}.mnq").write_bytes(built[name][1])
    (folder / "single.mnq").write_bytes(container.write(_single_edge_model()))
    rng = np.random.default_rng(9)
    a, b = (rng.integers(-128, 128, 8).astype(np.int8) for _ in range(2))
    (folder / "a.bin").write_bytes(a.tobytes())
    (folder / "b.bin").write_bytes(b.tobytes())
    stdout = run(API_SCRIPT.format(backend=request.param), cwd=folder)
    return json.loads(stdout.strip().splitlines()[-1]), a, b


def test_device_net_describes_its_edges(device_api, built):
    report, _, _ = device_api
    model = built["add_dense"][2]
    assert [e[:2] for e in report["inputs"]] == [[[8], 8], [[8], 8]]
    assert [e[:2] for e in report["outputs"]] == [[[4], 4], [[8], 8]]
    edges = model.inputs + model.outputs
    for got, spec in zip(report["inputs"] + report["outputs"], edges, strict=True):
        assert got[2] == pytest.approx(spec.scale, rel=1e-6) and got[3] == spec.zero_point
    assert report["input_shape"] == [8]
    assert report["single_has_inputs"] is False


def test_device_predict_takes_and_returns_sequences_without_allocating(device_api, built):
    report, a, b = device_api
    model = built["add_dense"][2]
    expected = [list(map(int, y)) for y in reference.run(model, (a, b))]
    assert report["own"] == report["given"] == report["wide"] == expected
    assert report["own_is_tuple"] and report["returns_out"]
    assert report["locked"], "predict allocated under heap_lock"
    heads = reference.run(built["heads"][2], a)
    assert report["heads"] == [list(map(int, y)) for y in heads]
    assert report["heads_input_shape"] == [8]


def test_device_floats_are_quantized_with_each_inputs_parameters(device_api, built):
    report, _, _ = device_api
    model = built["add_dense"][2]
    codes = [reference.quantize_input(model, np.full(8, 0.5, np.float32), k) for k in (0, 1)]
    assert report["quantized"] == [list(map(int, c)) for c in codes]
    assert report["floats"] == [list(map(int, y)) for y in reference.run(model, tuple(codes))]
    head = np.array(report["given"][0], np.int8)
    np.testing.assert_allclose(
        report["dequantized"], reference.dequantize_output(model, head, 0), rtol=1e-6
    )


def test_device_predict_errors_say_what_to_pass(device_api):
    report, _, _ = device_api
    errors = report["errors"]
    assert "accepted" not in errors
    assert "the model has 2 inputs: pass x as a tuple or list of 2 buffers" in errors[0]
    assert "the model has 2 inputs" in errors[1]
    assert "the model has 2 outputs: pass out as a tuple or list of 2 buffers" in errors[2]
    assert "2 outputs" in errors[3]
    assert "x[1] must be a buffer of 8 items" in errors[4]
    assert "out[1]" in errors[5] and "8 items" in errors[5]
    assert "input 2 does not exist" in errors[6] and "output 5 does not exist" in errors[7]


# ------------------------------------------------------------------ versions and broken tables


def _single_edge_model():
    from test_device_container import small_model

    return small_model()


def as_version_2(data: bytes) -> bytes:
    """A version 1 file rewritten as version 2 with one input and one output: same layout."""
    patched = bytearray(data)
    struct.pack_into("<HBB", patched, VERSION_AT, 2, 0, 0)
    patched[COUNTS_AT], patched[COUNTS_AT + 1] = 1, 1
    return with_crcs(patched)


def test_a_one_edge_model_is_written_as_version_1_and_reads_as_version_2_too():
    model = _single_edge_model()
    data = container.write(model)
    assert struct.unpack_from("<H", data, VERSION_AT)[0] == 1 and not any(data[28:32])
    v2 = container.read(as_version_2(data))
    x = np.random.default_rng(3).integers(-128, 128, (6, 3)).astype(np.int8)
    np.testing.assert_array_equal(reference.run(v2, x), reference.run(model, x))
    assert container.write(v2) == data  # the writer writes the lowest version that fits


def _edge_at(k):
    return 32 + 12 * k


def _put(fmt, at, value):
    def patch(data):
        struct.pack_into(fmt, data, at, value)

    return patch


# add_dense: inputs 0, 1 (tensors 0, 1), outputs: the dense head (tensor 3), the ADD (tensor 2)
BROKEN_EDGE_TABLES = [
    ("no inputs", _put("<B", COUNTS_AT, 0), "0 inputs"),
    ("no outputs", _put("<B", COUNTS_AT + 1, 0), "0 outputs"),
    ("more edges than the table holds", _put("<B", COUNTS_AT, 200), "do not fit the table"),
    ("reserved header bytes", _put("<H", 30, 1), "reserved header field"),
    ("read as version 1", _put("<H", VERSION_AT, 1), "unexpected bytes"),  # 4 edges, not 2
    ("two inputs name one tensor", _put("<H", _edge_at(1), 0), "reads tensor 1 before it is"),
    ("two outputs name one tensor", _put("<H", _edge_at(3), 3), "name the same tensor"),
    ("an output is an input", _put("<H", _edge_at(2), 1), "name the same tensor"),
    ("an input id past the tensors", _put("<H", _edge_at(1), 40), "input 1 is tensor 40"),
    ("an output dtype", _put("<B", _edge_at(3) + 2, 2), "output 1 has dtype code 2"),
    ("an output reserved byte", _put("<B", _edge_at(2) + 3, 1), "reserved byte"),
    ("an input scale of 0", _put("<f", _edge_at(1) + 4, 0.0), "input 1 scale"),
    ("an output zero point", _put("<i", _edge_at(3) + 8, 200), "zero point 200"),
    ("an input written by a layer", _put("<H", _edge_at(1), 2), "reads tensor 1 before it is"),
]

REFUSE_SCRIPT = """
import json
import micronn

for index in range({count}):
    try:
        micronn.load("broken%d.mnq" % index)
        print(json.dumps(["returned a net", ""]))
    except ValueError as error:
        print(json.dumps(["ValueError", str(error)]))
    except Exception as error:
        print(json.dumps([type(error).__name__, str(error)]))
"""


@pytest.fixture(scope="module")
def refusals(built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken")
    data = built["add_dense"][1]
    files = []
    for index, (label, patch, _) in enumerate(BROKEN_EDGE_TABLES):
        patched = bytearray(data)
        patch(patched)
        patched = with_crcs(patched)
        assert patched != data, label
        (folder / f"broken{index}.mnq").write_bytes(patched)
        files.append(patched)
    (folder / "good.mnq").write_bytes(data)
    lines = run(REFUSE_SCRIPT.format(count=len(files)), cwd=folder, heapsize="128K")
    return files, [json.loads(line) for line in lines.splitlines()]


@pytest.mark.parametrize("index", range(len(BROKEN_EDGE_TABLES)))
def test_host_and_device_refuse_the_same_broken_edge_tables(refusals, index):
    files, outcomes = refusals
    label, _, words = BROKEN_EDGE_TABLES[index]
    kind, message = outcomes[index]
    assert kind == "ValueError", (label, kind, message)
    assert words in message, (label, message)
    assert message.startswith(f"broken{index}.mnq: ") and ";" in message, (label, message)
    with pytest.raises(ValueError):
        container.read(files[index])


# ------------------------------------------------------------------ command line


def test_cli_converts_and_simulates_with_npz(built, tmp_path, capsys):
    tflite, _, model = built["add_dense"]
    source = tmp_path / "add_dense.tflite"
    source.write_bytes(tflite)
    mnq = tmp_path / "add_dense.mnq"
    assert main(["convert", str(source), "-o", str(mnq)]) == 0
    rng = np.random.default_rng(6)
    a, b = (rng.integers(-128, 128, (7, 8)).astype(np.int8) for _ in range(2))
    np.savez(tmp_path / "x.npz", input0=a, input1=b)
    args = ["simulate", str(mnq), "--input", str(tmp_path / "x.npz")]
    assert main([*args, "--output", str(tmp_path / "y.npz"), "--backend", "python"]) == 0
    assert "output0 int8 (7, 4), output1 int8 (7, 8)" in capsys.readouterr().out
    with np.load(tmp_path / "y.npz") as saved:
        assert saved.files == ["output0", "output1"]
        for k, want in enumerate(reference.run(model, (a, b))):
            np.testing.assert_array_equal(saved[f"output{k}"], want)
    assert main([*args, "--output", str(tmp_path / "f.npz"), "--dequantize"]) == 0
    with np.load(tmp_path / "f.npz") as saved:
        assert saved["output1"].dtype == np.float32
    np.save(tmp_path / "a.npy", a)
    assert main(["simulate", str(mnq), "--input", str(tmp_path / "a.npy")]) == 1
    error = capsys.readouterr().err.strip()
    assert "2 inputs; give an .npz with one array per input named input0, input1" in error
    assert "\n" not in error
    np.savez(tmp_path / "bad.npz", first=a, second=b)
    assert main([*args[:2], "--input", str(tmp_path / "bad.npz")]) == 1
    assert "the model's inputs are input0, input1" in capsys.readouterr().err
    assert main([*args, "--output", str(tmp_path / "y.npy")]) == 1
    assert "write them to an .npz" in capsys.readouterr().err


def test_cli_inspect_lists_every_edge(built, tmp_path, capsys):
    mnq = tmp_path / "heads.mnq"
    mnq.write_bytes(built["heads"][1])
    assert main(["inspect", str(mnq)]) == 0
    out = capsys.readouterr().out
    assert "input  int8 shape (8,)" in out
    assert "output 0 int8 shape (3,)" in out and "output 1 int8 shape (5,)" in out


def test_run_on_a_board_refuses_a_multi_edge_model_in_one_line(built, tmp_path):
    from micronn.flash import flash
    from micronn.remote import run as run_on_board
    from micronn.transport import BoardError
    from micronn.virtual_board import VirtualBoard

    path = tmp_path / "heads.mnq"
    path.write_bytes(built["heads"][1])
    with VirtualBoard("rp2040") as board:
        flash(board.port, path)
        with pytest.raises(BoardError) as caught:
            run_on_board(board.port, np.zeros((1, 8), np.int8))
    message = str(caught.value)
    assert "several inputs or outputs; micronn run takes one of each" in message
    assert "micronn simulate" in message and "\n" not in message


@pytest.mark.parametrize("name", ["heads", "add_dense"])
def test_the_memory_plan_counts_the_multi_edge_modules(built, name):
    from micronn.boards import load_board
    from micronn.memory_plan import plan_container

    _, data, model = built[name]
    x = [np.zeros((2, spec.size), np.int8) for spec in model.inputs]
    result = simulate(data, x[0] if len(x) == 1 else x, weights="ram", precompiled=True)
    plan = plan_container(
        data, load_board("rp2040"), backend=result.backend, runtime="mpy", word_bits=64
    )
    estimate = plan.placements["ram"].stages
    for stage in ("table", "network"):
        measured = result.heap_stages[stage]
        assert 0.9 * measured <= estimate[stage] <= 1.1 * measured, (stage, estimate, measured)
