"""Ctrl-C (SIGINT) to `micronn flash` (one port, two ports) and `micronn run` in a subprocess, in
the middle of the work, against virtual boards (the MicroPython VM behind a pty, its line paced
like a UART so that the work takes seconds): micronn ends within 2 s, with one line on stderr and
status 130; the board's PATH.part stays, so the next flash resumes from it, and the model ends
intact."""

import signal
import subprocess
import time
from contextlib import ExitStack

import numpy as np
import pytest
from hostile_board import REPO, cli_command, cli_env
from serial_helpers import model_bytes

from micronn.flash import flash
from micronn.remote import run
from micronn.simulate import simulate
from micronn.virtual_board import TO_BOARD, Line, VirtualBoard

BAUD = 115200  # the line while micronn is interrupted: ~11 KB/s
EXIT_LIMIT = 2.0  # seconds from SIGINT to exit (issue 11)
PROGRESS_BYTES = 6000  # SIGINT once this much of the model is on the board
START_LIMIT = 30.0  # seconds for micronn to start and get that far
FLASH_INTERRUPTED = "micronn flash: interrupted; run the same command again to resume"


class CountingLine(Line):
    """A line that can be slowed down and counts the bytes towards the board."""

    def __init__(self):
        super().__init__(None)
        self.to_board = 0

    def carry(self, direction, data):
        if direction == TO_BOARD:
            self.to_board += len(data)
        return data, 0.0


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupt")
    small = folder / "small.mnq"
    small.write_bytes(model_bytes(folder, (8, 6, 4), seed=1))
    big = folder / "big.mnq"  # ~60 KB: 5 s at BAUD
    big.write_bytes(model_bytes(folder, (200, 256, 40, 10), seed=2))
    return small, big


def _ready_board(stack, small):
    """A virtual board with the runtime installed (at full speed), then slowed to BAUD."""
    line = CountingLine()
    board = stack.enter_context(VirtualBoard("rp2040", line=line))
    flash(board.port, small, name="warmup")
    line.baud = BAUD
    return board, line


def _start(*args):
    return subprocess.Popen(
        cli_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(scale=1.0),
        cwd=REPO,
    )


def _wait_until(condition, process):
    deadline = time.monotonic() + START_LIMIT
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "micronn made no progress"
        time.sleep(0.02)


def _interrupt(process):
    """SIGINT; (seconds until micronn exited, status, stdout, stderr)."""
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        out, err = process.communicate(timeout=10 * EXIT_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return time.monotonic() - sent, process.returncode, out.decode(), err.decode()


def _part(board, name):
    path = board.folder / "models" / f"{name}.mnq.part"
    return path.stat().st_size if path.exists() else 0


def _assert_interrupted(outcome, line):
    seconds, status, out, err = outcome
    print(f"exit {seconds:.2f} s after SIGINT")
    assert status == 130, (status, err)
    assert err.splitlines() == [line], err
    assert out == ""
    assert seconds < EXIT_LIMIT


def _assert_resumes(board, big, name):
    data = big.read_bytes()
    part = _part(board, name)
    assert 0 < part < len(data)
    assert not (board.folder / "models" / f"{name}.mnq").exists()
    board.line.baud = None
    report = flash(board.port, big, name=name)
    assert report.resumed_from == part
    assert report.bytes_written < len(data)
    assert (board.folder / "models" / f"{name}.mnq").read_bytes() == data


def test_ctrl_c_stops_flash_at_once_and_the_next_flash_resumes(models):
    small, big = models
    with ExitStack() as stack:
        board, _ = _ready_board(stack, small)
        process = _start("flash", big, "--port", board.port, "--name", "big", "--quiet")
        _wait_until(lambda: _part(board, "big") >= PROGRESS_BYTES, process)
        _assert_interrupted(_interrupt(process), FLASH_INTERRUPTED)
        _assert_resumes(board, big, "big")


def test_ctrl_c_stops_a_fleet_flash_on_every_board(models):
    small, big = models
    with ExitStack() as stack:
        boards = [_ready_board(stack, small)[0] for _ in range(2)]
        ports = [arg for board in boards for arg in ("--port", board.port)]
        process = _start("flash", big, *ports, "--name", "big", "--quiet")
        _wait_until(lambda: all(_part(b, "big") >= PROGRESS_BYTES for b in boards), process)
        _assert_interrupted(_interrupt(process), FLASH_INTERRUPTED)
        for board in boards:
            _assert_resumes(board, big, "big")


def test_ctrl_c_stops_run_at_once(models, tmp_path):
    small, _ = models
    x = np.random.default_rng(4).integers(-128, 128, (20000, 8)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)  # 160 KB of inputs: ~14 s at BAUD
    with ExitStack() as stack:
        board, line = _ready_board(stack, small)
        before = line.to_board
        process = _start("run", "--port", board.port, "--input", tmp_path / "x.npy")
        _wait_until(lambda: line.to_board - before > 4 * PROGRESS_BYTES, process)
        _assert_interrupted(_interrupt(process), "micronn run: interrupted")
        line.baud = None
        result = run(board.port, x[:5])  # the board answers the next command at once
        np.testing.assert_array_equal(result.outputs, simulate(small.read_bytes(), x[:5]).outputs)
