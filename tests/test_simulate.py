"""micronn.simulate on the real MicroPython VM: same integers as the reference, clear errors."""

from pathlib import Path

import numpy as np
import pytest
import vm
from small_models import calibration_inputs, small_container

from micronn import container, reference
from micronn.boards import load_board
from micronn.fit import fit_problem
from micronn.importers.tflite import load_tflite
from micronn.precompiled import precompiled_package, vm_mpy_target
from micronn.runtime import RUNTIME_DIR, MpyTarget, build_runtime, plan_runtime
from micronn.simulate import SimulationError, find_micropython, simulate

MLP_190KB = (784, 240, 10)  # 190 KB of int8 weights: more than the esp32's heap, streamed


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    data = small_container(tmp_path_factory.mktemp("small"), sizes=(8, 6, 4))
    return data, container.read(data)


def _codes(model, rows, seed=2):
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, (rows, model.input.size)).astype(np.int8)


def test_int8_rows_match_reference(small):
    data, model = small
    codes = _codes(model, 20)
    result = simulate(data, codes, board="rp2040")
    assert result.outputs.dtype == np.int8
    np.testing.assert_array_equal(result.outputs, reference.run(model, codes))
    assert 0 < result.peak_heap <= load_board("rp2040").heap_bytes
    assert result.backend


def test_float_input_is_quantized_with_model_params(small, tmp_path):
    data, model = small
    x = calibration_inputs(model.input.size, rows=5, seed=7)
    path = tmp_path / "m.mnq"
    path.write_bytes(data)
    result = simulate(path, x)
    expected = reference.run(model, reference.quantize_input(model, x))
    np.testing.assert_array_equal(result.outputs, expected)


def test_single_sample_keeps_the_model_shape(small):
    data, model = small
    sample = _codes(model, 1)[0]
    result = simulate(data, sample)
    assert result.outputs.shape == tuple(model.output.shape)
    np.testing.assert_array_equal(result.outputs, reference.run(model, sample))


def test_conv1d_inputs_may_leave_out_the_leading_height_of_one():
    fixture = Path(__file__).parent / "data" / "tflite" / "conv1d_s1_same_relu_d1"
    model = load_tflite(f"{fixture}.tflite")
    data = container.write(model)
    x = np.load(f"{fixture}.input.npy")[:3]  # (3, 12, 2) for the model's (1, 12, 2)
    result = simulate(data, x)
    assert result.outputs.shape == (3, *model.output.shape)
    np.testing.assert_array_equal(result.outputs, reference.run(model, x))
    single = simulate(data, x[0])
    assert single.outputs.shape == tuple(model.output.shape)
    np.testing.assert_array_equal(single.outputs, result.outputs[0])


@pytest.fixture(scope="module")
def mlp_190kb(tmp_path_factory):
    data = small_container(tmp_path_factory.mktemp("mlp"), sizes=MLP_190KB)
    return data, container.read(data)


def test_by_default_the_package_runs_as_flashed_so_what_fits_the_board_runs(mlp_190kb):
    data, model = mlp_190kb
    assert fit_problem(data, "esp32") is None  # what inspect and flash accept
    codes = _codes(model, 2)
    result = simulate(data, codes, board="esp32")
    np.testing.assert_array_equal(result.outputs, reference.run(model, codes))
    assert result.weights == "stream" and result.peak_heap <= load_board("esp32").heap_bytes
    # the .py sources, compiled on the VM, take heap that a flashed board keeps (on an esp32
    # heap this model then runs out of memory or not, by a few hundred bytes of fragmentation)
    source = simulate(data, codes, board="esp32s3", precompiled=False)
    np.testing.assert_array_equal(source.outputs, result.outputs)
    assert source.heap_stages["import"] > 2 * result.heap_stages["import"]


def test_the_simulated_package_is_what_flash_installs_on_the_board():
    """Every module without native code is byte for byte the esp32's file; the viper modules
    hold the VM's machine code (x64) where the board's holds xtensawin."""
    target = vm_mpy_target(find_micropython())
    if (target.version, target.sub_version) != (6, 3):
        pytest.skip(f"this VM loads .mpy v{target.version}.{target.sub_version}, not the 6.3 here")
    board = build_runtime(plan_runtime(MpyTarget(6, 3, load_board("esp32").mpy_arch)))
    board = {
        k[len(RUNTIME_DIR) + 1 :]: v for k, v in board.items() if k.startswith(RUNTIME_DIR + "/")
    }
    folder = precompiled_package(find_micropython()) / "micronn"
    simulated = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert sorted(simulated) == sorted(board) and all(n.endswith(".mpy") for n in board)
    native = sorted(name for name in board if board[name] != simulated[name])
    assert native and all(name.startswith("viper_") for name in native)


def test_python_backend_by_name(small):
    data, model = small
    codes = _codes(model, 3)
    result = simulate(data, codes, backend="python")
    assert result.backend == "python"
    np.testing.assert_array_equal(result.outputs, reference.run(model, codes))


def test_too_small_heap_is_a_clear_error(tmp_path):
    # 400 x 300 int8 weights kept in RAM: 120 KB, more than the esp32's 100 KiB heap (with
    # weights="auto" they would stream from the file instead, and fit)
    data = small_container(tmp_path, sizes=(400, 300, 4))
    codes = _codes(container.read(data), 1)
    with pytest.raises(SimulationError) as error:
        simulate(data, codes, board="esp32", weights="ram")
    assert error.value.vm_exception == "MemoryError"
    assert "esp32" in str(error.value) and "more RAM" in str(error.value)
    assert simulate(data, codes, board="esp32s3").outputs.shape == (1, 4)


def test_unavailable_backend_reports_the_vm_error(small):
    data, model = small
    offered = vm.run("import micronn.backends as b\nprint(' '.join(b.AVAILABLE))").split()
    missing = [name for name in ("c", "ulab", "viper") if name not in offered]
    if not missing:
        pytest.skip("this VM offers every backend (a custom build with _micronn and ulab)")
    with pytest.raises(SimulationError) as error:
        simulate(data, _codes(model, 1), backend=missing[0])
    assert error.value.vm_exception
    assert str(error.value).startswith("MicroPython ")


def test_wrong_input_shape_is_refused(small):
    data, model = small
    with pytest.raises(ValueError, match="does not match"):
        simulate(data, np.zeros((2, model.input.size + 1), np.int8))


def test_wrong_input_dtype_is_refused(small):
    data, model = small
    with pytest.raises(ValueError, match="int8 codes or float"):
        simulate(data, np.zeros((2, model.input.size), np.int64))


def test_unknown_backend_and_board_are_refused(small):
    data, model = small
    codes = _codes(model, 1)
    with pytest.raises(ValueError, match="unknown backend"):
        simulate(data, codes, backend="gpu")
    with pytest.raises(ValueError, match="rp2040"):
        simulate(data, codes, board="pyboard")


def test_corrupt_container_is_refused_before_the_vm(small):
    data, model = small
    broken = bytearray(data)
    broken[-1] ^= 0xFF
    with pytest.raises(ValueError, match="CRC"):
        simulate(bytes(broken), _codes(model, 1))


def test_micropython_executable_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("MICRONN_MICROPYTHON", str(tmp_path / "missing-micropython"))
    with pytest.raises(SimulationError, match="not found"):
        find_micropython()
    monkeypatch.delenv("MICRONN_MICROPYTHON")
    assert find_micropython().endswith("micropython")
    assert find_micropython(find_micropython()) == find_micropython()
