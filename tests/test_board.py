"""Board in the loop: `MICRONN_BOARD_PORT=PORT make test-board` runs these on the MicroPython board
at PORT (a real board, a 32-bit qemu board built by hand, or `micronn virtual-board`; see
docs/flashing.md, "Testing on a board"). They need no heap size of their own: whatever the
board's heap, the runtime is installed for its .mpy version and arch, and each model runs there
exactly as the host reference computes it (a dense model, a conv model, and a ~200 KB model that
streams its weights on any board whose heap is smaller than it, a model whose input rows are
longer than a frame), and MLPerf KWS where flash accepts the board's heap. Without
MICRONN_BOARD_PORT they are skipped; `make test` leaves them out (`-m "not board"`).

The memory planner is then checked on the board: for python and viper (where the board has
it), each model and placement the plan says fits, the peak live heap measured on the board
(micronn.board_heap, as `micronn simulate` measures it) is at most the planned peak of a board of
its arch and heap, and within 10 % of it (on a 32-bit board; on a 64-bit virtual board, whose
figures are the mean, within 10 % either way); a placement that runs out of heap was planned
not to fit.

MICRONN_BOARD_BAUD sets the baud rate (default 115200), MICRONN_TIMEOUT_SCALE the waits (a slow
emulated board may want 3).
"""

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from reference_models import digits_mlp, long_row_mlp, speech_cnn, wide_mlp

import micronn
from micronn import container, reference
from micronn.board_heap import board_profile, measure_stages
from micronn.boards import DEFAULT_BOARD
from micronn.commands import _heap_check
from micronn.flash import board_model_path, flash
from micronn.memory_plan import plan_container
from micronn.remote import describe, list_models, remove_model, run
from micronn.runtime import decode_mpy, plan_runtime
from micronn.transport import BoardCodeError, BoardError
from micronn.transport_serial import SerialTransport

PORT = os.environ.get("MICRONN_BOARD_PORT", "")
BAUD = int(os.environ.get("MICRONN_BOARD_BAUD", "115200"))
ROWS = 3
PLAN_TOLERANCE = 0.10
ZOO = Path(__file__).resolve().parent / "data" / "zoo"
MODELS = {
    "board_dense": digits_mlp,
    "board_conv": speech_cnn,
    "board_streamed": wide_mlp,
    "board_long_row": long_row_mlp,  # rows sent in parts
}

pytestmark = [
    pytest.mark.board,
    pytest.mark.skipif(
        not PORT,
        reason="MICRONN_BOARD_PORT is not set: give the serial port of a MicroPython board "
        "(docs/flashing.md, 'Testing on a board')",
    ),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("board")
    built = {}
    for name, build in MODELS.items():
        model = build()
        path = folder / f"{name}.mnq"
        path.write_bytes(container.write(model))
        built[name] = (path, model)
    return built


@pytest.fixture(scope="module")
def board(models):
    """The board's facts, once the runtime has been installed afresh (forced, so that the
    install itself is tested even where an identical runtime was there)."""
    path, _ = models["board_dense"]
    report = flash(PORT, path, baudrate=BAUD, force_runtime=True)
    assert report.runtime.installed and report.runtime.files > 0
    return describe(PORT, baudrate=BAUD).info


def test_the_runtime_is_installed_for_the_board(board):
    target = decode_mpy(board.mpy)
    assert board.runtime_stamp == plan_runtime(target).stamp
    assert board.backends and not board.backends.startswith("unavailable"), board.backends
    assert board.heap_total > 0


@pytest.mark.parametrize("name", list(MODELS))
def test_a_model_runs_on_the_board_exactly_as_the_host_reference(board, models, name):
    path, model = models[name]
    flash(PORT, path, name=name, baudrate=BAUD)
    x = np.random.default_rng(11).integers(-128, 128, (ROWS, *model.input.shape)).astype(np.int8)
    backend = "python" if name == "board_streamed" else "auto"  # (python: the least heap)
    result = run(PORT, x, model=name, backend=backend, baudrate=BAUD)
    np.testing.assert_array_equal(result.outputs, reference.run(model, x))
    if path.stat().st_size > board.heap_total:
        assert result.model.weights == "stream", result.model


def test_info_ls_rm(board, models):
    path, _ = models["board_dense"]
    flash(PORT, path, name="board_extra", baudrate=BAUD)
    names = [entry.name for entry in list_models(PORT, baudrate=BAUD)]
    assert "board_extra.mnq" in names
    report = describe(PORT, baudrate=BAUD)
    assert report.info.implementation and report.info.heap_free > 0
    assert "board_extra.mnq" in [entry.name for entry in report.models]
    assert remove_model(PORT, "board_extra", baudrate=BAUD) == "models/board_extra.mnq"
    assert "board_extra.mnq" not in [entry.name for entry in list_models(PORT, baudrate=BAUD)]
    with pytest.raises(BoardError, match="no such file"):
        remove_model(PORT, "board_extra", baudrate=BAUD)


@pytest.mark.parametrize("backend", ["python", "viper"])
def test_the_memory_plan_bounds_the_heap_measured_on_the_board(board, models, backend):
    if backend not in board.backends:
        pytest.skip(f"the board has no {backend} backend ({board.backends})")
    present = {entry.name for entry in list_models(PORT, baudrate=BAUD)}
    for name, (path, _) in models.items():
        if f"{name}.mnq" not in present:
            flash(PORT, path, name=name, baudrate=BAUD)
    checked = 0
    with SerialTransport(PORT, baudrate=BAUD) as transport:
        transport.enter_raw_repl()
        profile = board_profile(transport)
        start = None  # the measuring program's live heap before `import micronn`
        for name, (path, _) in models.items():
            for placement in ("ram", "stream"):
                case = f"{name} {backend} {placement} on {profile.description}"
                try:
                    measured = measure_stages(
                        transport, "/" + board_model_path(name), backend, placement
                    )
                except BoardCodeError as error:
                    assert "MemoryError" in str(error), f"{case}: {error}"
                    planned = _planned(path, profile, start, backend, placement)
                    assert not planned.fits, f"{case} was planned to fit: {planned}"
                    continue
                start = measured.start
                planned = _planned(path, profile, start, backend, placement)
                assert (measured.backend, measured.weights) == (backend, placement)
                error = (planned.peak - measured.peak) / measured.peak
                low = 0 if profile.word_bits == 32 else -PLAN_TOLERANCE
                assert low <= error <= PLAN_TOLERANCE, (
                    f"{case}: planned {planned.peak}, measured {measured.peak} "
                    f"({100 * error:+.1f} %); stages {planned.stages} vs {measured.stages}"
                )
                checked += 1
        transport.leave_raw_repl()
    assert checked >= 3


def _planned(path, profile, start, backend, placement):
    """The plan of a board whose live heap before micronn is the measuring program's `start`
    (as the VM's figures hold simulate's runner), or the VM's where none was measured."""
    board = replace(profile, start_bytes=start)
    plan = plan_container(path.read_bytes(), board, backend=backend, runtime="mpy")
    return plan.placements[placement]


def test_mlperf_kws_runs_exactly_where_flash_accepts_it(board, tmp_path):
    """The MLPerf Tiny KWS model (31 KB; about 86 KB of heap on a 32-bit board with the agent),
    flashed with the CLI's heap check: where flash refuses the board's heap, skipped with the
    reason; where it accepts it, the model must load and run exactly."""
    data = micronn.convert(str(ZOO / "tiny__kws_ref_model.tflite"))
    path = tmp_path / "board_kws.mnq"
    path.write_bytes(data)
    try:
        flash(PORT, path, baudrate=BAUD, check=_heap_check(data, path.name, DEFAULT_BOARD))
    except ValueError as refused:
        pytest.skip(str(refused))
    model = container.read(data)
    x = np.random.default_rng(12).integers(-128, 128, (1, *model.input.shape)).astype(np.int8)
    result = run(PORT, x, model="board_kws", baudrate=BAUD)
    np.testing.assert_array_equal(result.outputs, reference.run(model, x))
    assert remove_model(PORT, "board_kws", baudrate=BAUD) == "models/board_kws.mnq"
