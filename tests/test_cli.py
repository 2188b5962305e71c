"""The `micronn` command line, end to end on a small model and the real MicroPython VM."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from small_models import calibration_inputs, small_container, write_dense_npz

from micronn import container, reference
from micronn.cli import main


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(folder, .mnq path, Model) for a 10-8-3 stack converted through the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    npz = write_dense_npz(folder / "net.npz", (10, 8, 3), seed=4)
    np.save(folder / "calib.npy", calibration_inputs(10, rows=50))
    mnq = folder / "net.mnq"
    code = main(["convert", str(npz), "-o", str(mnq), "--calibration", str(folder / "calib.npy")])
    assert code == 0
    return folder, mnq, container.read(mnq.read_bytes())


def test_convert_writes_a_valid_container(converted, capsys):
    folder, mnq, model = converted
    assert [layer.out_features for layer in model.layers] == [8, 3]
    calibration = ["--calibration", str(folder / "calib.npy")]
    options = ["--weights", "int4", "--per-tensor", *calibration]
    assert main(["convert", str(folder / "net.npz"), "-o", str(folder / "w4.mnq"), *options]) == 0
    assert "w4.mnq" in capsys.readouterr().out
    packed = container.read((folder / "w4.mnq").read_bytes())
    assert all(layer.weight_bits == 4 and not layer.per_channel for layer in packed.layers)


def test_inspect_reports_layers_bytes_and_board_fit(converted, capsys):
    _, mnq, model = converted
    assert main(["inspect", str(mnq), "--board", "esp32"]) == 0
    out = capsys.readouterr().out
    assert "FULLY_CONNECTED" in out and "10 -> 8" in out and "8 -> 3" in out
    assert f"container bytes:    {mnq.stat().st_size}" in out
    assert "estimate" in out and "esp32" in out and "fits" in out


def test_simulate_writes_reference_integers(converted, capsys):
    folder, mnq, model = converted
    codes = np.random.default_rng(5).integers(-128, 128, (12, 10)).astype(np.int8)
    np.save(folder / "codes.npy", codes)
    out_path = folder / "out.npy"
    args = ["simulate", str(mnq), "--input", str(folder / "codes.npy"), "--output", str(out_path)]
    assert main(args) == 0
    assert "peak heap" in capsys.readouterr().out
    outputs = np.load(out_path)
    assert outputs.dtype == np.int8
    np.testing.assert_array_equal(outputs, reference.run(model, codes))


def test_simulate_float_input_with_dequantize(converted):
    folder, mnq, model = converted
    x = calibration_inputs(10, rows=4, seed=9)
    np.save(folder / "floats.npy", x)
    out_path = folder / "floats_out.npy"
    files = ["--input", str(folder / "floats.npy"), "--output", str(out_path)]
    options = ["--dequantize", "--board", "rp2350", "--backend", "python"]
    assert main(["simulate", str(mnq), *files, *options]) == 0
    expected = reference.dequantize_output(
        model, reference.run(model, reference.quantize_input(model, x))
    )
    outputs = np.load(out_path)
    assert outputs.dtype == np.float32
    np.testing.assert_array_equal(outputs, expected)


def test_simulate_runs_the_flashed_package_unless_asked_for_the_sources(tmp_path, capsys):
    mnq = tmp_path / "mlp.mnq"
    mnq.write_bytes(small_container(tmp_path, sizes=(784, 240, 10)))  # 190 KB of weights
    np.save(tmp_path / "x.npy", np.zeros((1, 784), np.int8))
    args = ["simulate", str(mnq), "--input", str(tmp_path / "x.npy"), "--board", "esp32"]
    assert main(args) == 0
    flashed = capsys.readouterr().out
    assert "weights stream" in flashed
    assert main([*args, "--mpy"]) == 0  # the old flag for the default
    assert capsys.readouterr().out == flashed
    assert main([*args[:-1], "esp32s3", "--source"]) == 0
    peaks = [
        int(re.search(r"peak heap (\d+)", out).group(1))
        for out in (flashed, capsys.readouterr().out)
    ]
    assert peaks[1] > peaks[0]  # the sources are compiled on the VM, in its heap
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--source", "--mpy"])
    assert exit_info.value.code == 2


def test_an_output_folder_that_does_not_exist_is_named_before_any_work(converted, capsys):
    folder, mnq, _ = converted
    missing = folder / "no_such_folder"
    npz = ["convert", str(folder / "net.npz"), "--calibration", str(folder / "calib.npy")]
    assert main([*npz, "-o", str(missing / "x.mnq")]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"micronn convert: error: {missing / 'x.mnq'}: the output folder {missing} does not "
        "exist; create it first or write elsewhere\n"
    )
    assert main([*npz, "-o", str(folder / "calib.npy" / "x.mnq")]) == 1
    assert "calib.npy is not a folder" in capsys.readouterr().err
    np.save(folder / "one.npy", np.zeros(10, np.int8))
    sim = ["simulate", str(mnq), "--input", str(folder / "one.npy")]
    assert main([*sim, "--output", str(missing / "y.npy")]) == 1
    assert f"the output folder {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_boards_lists_every_profile(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for name in ("esp32", "esp32s3", "rp2040", "rp2350"):
        assert name in out
    assert "xtensawin" in out and "armv6m" in out


def test_failures_exit_1_with_one_message(converted, capsys):
    folder, mnq, _ = converted
    assert main(["inspect", str(mnq), "--board", "nosuchboard"]) == 1
    err = capsys.readouterr().err
    assert "unknown board 'nosuchboard'" in err and "rp2040" in err
    assert main(["simulate", str(mnq), "--input", str(folder / "missing.npy")]) == 1
    assert "missing.npy" in capsys.readouterr().err
    assert main(["inspect", str(folder / "calib.npy")]) == 1
    assert "not a .mnq file" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "model.npz"])  # no -o
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "micronn"
    done = subprocess.run([str(script), "boards"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "rp2040" in done.stdout
