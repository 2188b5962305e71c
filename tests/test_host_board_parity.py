"""One behaviour on host and board: `simulate` (the VM) and `run` (a board, here the VM on a
pty) take the same input arrays and refuse a NaN with the device's own words."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import vm

from micronn import cli, container, reference
from micronn.flash import flash
from micronn.importers.tflite import load_tflite
from micronn.remote import run
from micronn.simulate import simulate
from micronn.virtual_board import VirtualBoard

CONV1D = Path(__file__).parent / "data" / "tflite" / "conv1d_s1_same_relu_d1"  # input (1, 12, 2)
NAN_ITEM = 13


@pytest.fixture(scope="module")
def conv1d(tmp_path_factory):
    model = load_tflite(f"{CONV1D}.tflite")
    path = tmp_path_factory.mktemp("conv1d") / "conv1d.mnq"
    path.write_bytes(container.write(model))
    return path, container.read(path.read_bytes())


@pytest.fixture(scope="module")
def board(conv1d):
    with VirtualBoard("rp2040") as vb:
        flash(vb.port, conv1d[0])
        yield vb


def _shapes(x):
    """x, a (3, 12, 2) batch, in every layout both sides accept."""
    return {
        "conv1d batch (N, W, C)": x,
        "batch in the model's shape": x.reshape(3, 1, 12, 2),
        "flat rows": x.reshape(3, 24),
        "one sample (W, C)": x[0],
        "one sample in the model's shape": x[:1],
        "one flat sample": x[0].reshape(24),
    }


def test_run_takes_every_input_shape_that_simulate_takes(conv1d, board):
    path, model = conv1d
    codes = np.load(f"{CONV1D}.input.npy")[:3]
    floats = np.random.default_rng(4).uniform(-1, 1, (3, 12, 2)).astype(np.float32)
    for x in (codes, floats):
        for layout, shaped in _shapes(x).items():
            expected = simulate(path, shaped).outputs
            got = run(board.port, shaped).outputs
            np.testing.assert_array_equal(got, expected, err_msg=layout)
            if shaped.dtype == np.int8:
                np.testing.assert_array_equal(got, reference.run(model, shaped), err_msg=layout)


def test_a_wrong_shape_is_the_same_error_in_simulate_and_run(conv1d, board):
    path, _ = conv1d
    x = np.zeros((3, 25), np.int8)
    with pytest.raises(ValueError) as simulated:
        simulate(path, x)
    with pytest.raises(ValueError) as ran:
        run(board.port, x)
    assert str(ran.value) == str(simulated.value)
    assert "(1, 12, 2) or (12, 2) or (24,)" in str(ran.value)


DEVICE_NAN = """
import micronn
from array import array
net = micronn.load("conv1d.mnq")
x = array("f", [0.0] * 24)
x[{item}] = float("nan")
try:
    net.predict(x)
except ValueError as e:
    print(e)
"""


def test_a_nan_is_the_devices_error_in_simulate_and_run(conv1d, board, tmp_path):
    path, _ = conv1d
    (tmp_path / "conv1d.mnq").write_bytes(path.read_bytes())
    on_device = vm.run(DEVICE_NAN.format(item=NAN_ITEM), cwd=tmp_path).strip()
    assert on_device == f"input item {NAN_ITEM} is NaN; only finite numbers can be quantized"
    one = np.zeros((12, 2), np.float32)
    one.reshape(-1)[NAN_ITEM] = np.nan
    batch = np.zeros((5, 12, 2), np.float32)
    batch[3] = one
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value encountered in cast" is not it
        for call in (simulate, lambda m, x: run(board.port, x)):
            with pytest.raises(ValueError) as single:
                call(path, one)
            assert str(single.value).startswith(on_device)
            with pytest.raises(ValueError) as several:
                call(path, batch)
            assert str(several.value).startswith(f"input sample 3 item {NAN_ITEM} is NaN; only")


def test_infinities_saturate_in_simulate_and_run_as_on_the_device(conv1d, board):
    path, model = conv1d
    x = np.zeros((2, 12, 2), np.float32)
    x[0, 0, 0], x[1, 5, 1] = np.inf, -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = reference.run(model, reference.quantize_input(model, x))
        np.testing.assert_array_equal(simulate(path, x).outputs, expected)
        np.testing.assert_array_equal(run(board.port, x).outputs, expected)


def test_cli_simulate_with_a_nan_is_one_line_without_numpy_warnings(conv1d, tmp_path, capfd):
    path, _ = conv1d
    x = np.zeros((4, 24), np.float32)
    x[2, NAN_ITEM] = np.nan
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["simulate", str(path), "--input", str(tmp_path / "x.npy")]) == 1
    err = capfd.readouterr().err
    assert err == (
        f"micronn simulate: error: input sample 2 item {NAN_ITEM} is NaN; only finite numbers "
        "can be quantized: replace it, or leave that sample out\n"
    )
