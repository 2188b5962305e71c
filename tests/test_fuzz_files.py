"""Hostile files on the host: mutants of every input format through micronn.convert (and of
.mnq containers through container.read) raise ValueError or OSError with one line, nothing
else (tests/file_fuzz.py); tiny files that declare gigabytes are refused at once, in bounded
memory; the CLI prints one line for any of them.

A failure names the mutant saved under build/fuzz-failures/ (rerun: python tests/file_fuzz.py).
"""

import io
import json
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from file_fuzz import ROOT, fuzz, seeds, summary
from tflite_builder import Op, T, build_tflite

from micronn import container, convert
from micronn.arrays import load_npy, load_npz
from micronn.cli import main

SEED = 20260101
# mutants per format in `make test` (about 40 s of CPU in all, spread over the workers);
# make test-long runs LONG_FACTOR times as many, from other seeds (about ten minutes)
COUNTS = {
    ".tflite": 1000,
    ".keras": 120,
    ".h5": 100,
    ".onnx": 1200,
    ".npz": 1000,
    ".npy": 1000,
    ".mnq": 2000,
}
LONG_FACTOR = 15
GIB = 1 << 30
FAST_SECONDS = 1.0
MEMORY_BYTES = 100 << 20


def _check(report):
    shown = "\n".join(f"  {path}: {problem}" for path, problem in report.failures[:10])
    assert not report.failures, f"{summary(report)}\n{shown}"
    assert report.refused > 0 and report.accepted > 0, summary(report)  # both outcomes reached


@pytest.mark.parametrize("suffix", COUNTS)
def test_seed_files_are_good(suffix, tmp_path):
    """The fuzzer starts from files the library accepts, so mutants reach past the parsers."""
    for seed in seeds(suffix):
        path = tmp_path / f"seed{suffix}"
        path.write_bytes(seed.data)
        if suffix == ".mnq":
            container.read(seed.data)
        elif suffix == ".npy":
            load_npy(path)
        else:
            convert(path, calibration=seed.calibration)


@pytest.mark.parametrize("suffix", COUNTS)
def test_mutated_files_raise_only_documented_errors(suffix, tmp_path):
    _check(fuzz(suffix, COUNTS[suffix], SEED, tmp_path))


@pytest.mark.long
@pytest.mark.parametrize("suffix", COUNTS)
def test_many_more_mutated_files_raise_only_documented_errors(suffix, tmp_path):
    _check(fuzz(suffix, COUNTS[suffix] * LONG_FACTOR, SEED + 1, tmp_path))


# ------------------------------------------------------------------ tiny files, huge claims


def _bounded(call, match):
    """call() raises ValueError matching `match` in under a second, allocating < 100 MB."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=match) as caught:
            call()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < FAST_SECONDS and peak < MEMORY_BYTES, (elapsed, peak)
    assert "\n" not in str(caught.value)
    return caught.value


def _npy_claiming(shape, dtype="<f8") -> bytes:
    """An .npy header declaring `shape`, followed by 16 bytes of data."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(16)


def test_a_192_byte_npy_declaring_16_gib_is_refused_at_once(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(_npy_claiming((1 << 31,)))  # 16 GiB of float64
    assert path.stat().st_size <= 192
    error = _bounded(lambda: load_npy(path), "17179869184 bytes")
    assert "numpy.save" in str(error)
    model = tmp_path / "m.npz"
    np.savez(model, input_shape=np.array([4]), layer0_weight=np.ones((2, 4)), layer0_bias=[0, 0])
    _bounded(lambda: convert(model, calibration=str(path)), "huge.npy")


def test_an_npz_member_declaring_gigabytes_is_refused_at_once(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("input_shape.npy", _npy_claiming((GIB, 4), "<i8"))
    _bounded(lambda: convert(path, calibration=np.zeros((1, 4))), "input_shape")


def test_a_zip_member_claiming_more_than_deflate_can_expand_is_refused(tmp_path):
    """A bomb: 1 KiB of deflated zeros whose directory claims 10 GiB."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(1 << 20, np.uint8))
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("input_shape.npy", buffer.getvalue())
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10 * GIB // 4)  # uncompressed size field
    path.write_bytes(bytes(data))
    _bounded(lambda: load_npz(path), "compressed ones")


def test_a_legacy_h5_dataset_declaring_16_gib_is_refused_at_once(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "huge.h5"
    layers = [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 4]}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 2, "use_bias": False}},
    ]
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(
            {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}
        )
        group = handle.create_group("model_weights/dense")
        group.attrs["weight_names"] = [b"dense/kernel"]
        group.create_dataset("dense/kernel", shape=(1 << 20, 1 << 12), dtype="f4")  # no data
    assert path.stat().st_size < 100_000
    _bounded(lambda: convert(path, calibration=np.zeros((1, 4))), "17179869184 bytes")


def test_an_onnx_initializer_declaring_gigabytes_is_refused_at_once(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 12])
    weight.raw_data = bytes(16)  # 16 GiB declared, 16 bytes held
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
        [weight],
    )
    path = tmp_path / "huge.onnx"
    onnx.save(helper.make_model(graph), path)
    _bounded(lambda: convert(path, calibration=np.zeros((1, 4))), "holds 4")


def test_a_tflite_constant_declaring_gigabytes_is_refused_at_once(tmp_path):
    weights = np.ones(4, np.int8)
    tensors = [
        T("x", (1, 4), scale=(0.1,)),
        T("w", (1 << 16, 1 << 16), data=weights, scale=(0.1,)),
        T("y", (1, 2), scale=(0.1,)),
    ]
    path = tmp_path / "huge.tflite"
    path.write_bytes(build_tflite(tensors, [Op("FULLY_CONNECTED", (0, 1, -1), (2,))], (0,), (2,)))
    _bounded(lambda: convert(path), "holds 4 values")


# ------------------------------------------------------------------ the CLI


def _keras_zip(path, config):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")
    return path


def _onnx_file(path, node, initializers=()):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2, 6, 6])],
        list(initializers),
    )
    onnx.save(helper.make_model(graph), path)
    return path


def _hostile_files(folder) -> dict:
    """Files of crashes the fuzzer found (each was a traceback before): name -> path."""
    from onnx import helper, numpy_helper

    npz = folder / "truncated.npz"
    np.savez(npz, input_shape=np.array([4]), layer0_weight=np.ones((2, 4)), layer0_bias=[0, 0])
    npz.write_bytes(npz.read_bytes()[:300])  # BadZipFile in a lazy member read
    kernel = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
    tensors = [
        T("x", (1, 4, 4, 1), scale=(0.1,)),
        T("w", (1, 1, 1, 1), data=np.ones((1, 1, 1, 1), np.int8), scale=(0.1,)),
        T("y", (1, 4, 4, 1), scale=(0.1,)),
    ]
    padding = folder / "padding.tflite"  # AttributeError in ops_conv._padding
    padding.write_bytes(
        build_tflite(tensors, [Op("CONV_2D", (0, 1, -1), (2,), {"padding": 7})], (0,), (2,))
    )
    return {
        "unknown_padding.tflite": padding,
        "truncated.npz": npz,
        "layers_not_a_list.keras": _keras_zip(  # TypeError
            folder / "layers.keras", {"class_name": "Sequential", "config": {"layers": 7}}
        ),
        "gemm_without_weights.onnx": _onnx_file(  # AttributeError in _Gemm
            folder / "gemm.onnx", helper.make_node("Gemm", ["x"], ["y"], name="fc")
        ),
        "zero_stride.onnx": _onnx_file(  # ZeroDivisionError in same_pads
            folder / "stride.onnx",
            helper.make_node(
                "Conv", ["x", "w"], ["y"], name="c", strides=[0, 1], auto_pad="SAME_UPPER"
            ),
            [kernel],
        ),
        "escapes_in_a_name.onnx": _onnx_file(  # a node name that moves the cursor
            folder / "name.onnx", helper.make_node("Gelu", ["x"], ["y"], name="a\nb\x1b[2J")
        ),
    }


def test_the_cli_prints_one_line_for_hostile_files(tmp_path, capsys):
    pytest.importorskip("onnx")
    out = tmp_path / "out.mnq"
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.zeros((2, 6, 6, 2), np.float32))
    for name, path in _hostile_files(tmp_path).items():
        assert main(["convert", str(path), "-o", str(out), "--calibration", str(calibration)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("micronn convert: error: "), (name, err)
        assert "Traceback" not in err and "\x1b" not in err and "internal error" not in err
    npz = tmp_path / "truncated.npz"
    assert main(["convert", str(npz), "-o", str(out), "--calibration", "/dev/null"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/dev/null: not a valid .npy array" in err


def test_an_unexpected_exception_is_one_line_asking_for_a_report(monkeypatch, capsys):
    """The last resort for a bug (the fuzz tests above make sure the library raises only its
    documented errors); a fake verb stands in for the bug, which cannot be caused on purpose."""
    from micronn import cli

    def broken(args):
        raise KeyError("oops\nsecond line")

    add_parser, _ = cli.VERBS["boards"]
    monkeypatch.setitem(cli.VERBS, "boards", (add_parser, broken))
    assert main(["boards"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err
    assert "please report it with the file that caused it" in err


def test_an_h5_that_sends_libhdf5_into_a_loop_is_refused_in_its_time_limit(tmp_path, monkeypatch):
    """1000 bytes of the file copied into its middle (a fuzzer's mutant): libhdf5 then spins
    forever reading the model_config attribute, where no Python code can stop it."""
    pytest.importorskip("h5py")
    import multiprocessing

    from micronn.importers import hdf5

    data = (ROOT / "examples" / "keras_digits_cnn" / "digits_cnn.h5").read_bytes()
    path = tmp_path / "loops.h5"
    path.write_bytes(data[:9297] + data[67340:68340] + data[9297:])
    monkeypatch.setattr(hdf5, "TIMEOUT_SECONDS", 2.0)  # the library's 20 s, shortened
    started = time.perf_counter()
    with pytest.raises(ValueError, match="did not finish reading it in 2 s"):
        convert(path, calibration=np.zeros((1, 8, 8, 1), np.float32))
    assert time.perf_counter() - started < 4.0
    assert not multiprocessing.active_children()  # the child was killed, not left spinning
