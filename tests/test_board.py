"""Board in the loop: `MICRONN_BOARD_PORT=PORT make test-board` runs these on the MicroPython board
at PORT (a real board, a 32-bit qemu board built by hand, or `micronn virtual-board`; see
docs/flashing.md, "Testing on a board"). They need no heap size of their own: whatever the
board's heap, the runtime is installed for its .mpy version and arch, and each model runs there
exactly as the host reference computes it (a dense model, a conv model, and a ~200 KB model that
streams its weights on any board whose heap is smaller than it, a model whose input rows are
longer than a frame), and MLPerf KWS where flash accepts the board's heap. Without
MICRONN_BOARD_PORT they are skipped; `make test` leaves them out (`-m "not board"`).

MICRONN_BOARD_BAUD sets the baud rate (default 115200), MICRONN_TIMEOUT_SCALE the waits (a slow
emulated board may want 3).
"""

import os
from pathlib import Path

import numpy as np
import pytest
from reference_models import digits_mlp, long_row_mlp, speech_cnn, wide_mlp

import micronn
from micronn import container, reference
from micronn.boards import DEFAULT_BOARD
from micronn.commands import _heap_check
from micronn.flash import flash
from micronn.remote import describe, list_models, remove_model, run
from micronn.runtime import decode_mpy, plan_runtime
from micronn.transport import BoardError

PORT = os.environ.get("MICRONN_BOARD_PORT", "")
BAUD = int(os.environ.get("MICRONN_BOARD_BAUD", "115200"))
ROWS = 3
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
