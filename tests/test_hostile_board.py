"""A broken or hostile board never hangs micronn, nor makes it print a traceback or let the board's
escape sequences reach the terminal: `micronn` (in a subprocess, against tests/hostile_board.py's
fake board on a pty) ends with one line on stderr within the bound docs/flashing.md gives.
"""

import re
import struct

import numpy as np
import pytest
from hostile_board import HONEST_FRAME, TEST_TIMEOUT_SCALE, FakeBoard, run_cli
from serial_helpers import model_bytes

from micronn import agent_install, framing, session, transport_serial

SLACK = 3.0  # seconds for the raw REPL, the paste and the requests that went well, under load
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")  # must never reach the terminal
C1_CONTROLS = re.compile("[\x80-\x9f]")  # the same as characters (UTF-8 encoded)
RAW_REPL_BOUND = (
    TEST_TIMEOUT_SCALE
    * transport_serial.RAW_REPL_ATTEMPTS
    * (
        transport_serial.INTERRUPT_SETTLE
        + transport_serial.DISCARD_TIMEOUT
        + transport_serial.RAW_REPL_PROMPT_TIMEOUT
    )
)
WIRE = (HONEST_FRAME + 2 * framing.HEADER_SIZE) * 10 / 115200  # a request and a full reply
# A request the agent never answers: every attempt waits its timeout and the line time.
SILENT_AGENT_BOUND = session.REQUEST_ATTEMPTS * (TEST_TIMEOUT_SCALE * session.REPLY_TIMEOUT + WIRE)
# A board without the agent that never finishes the installer's first program.
STUCK_INSTALL_BOUND = TEST_TIMEOUT_SCALE * agent_install.EXEC_TIMEOUT
ESCAPES = b"\x1b[2J\x1b[H\x1b]0;owned\x07\x1b[31m\x9b1m\r"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    small = folder / "small.mnq"
    small.write_bytes(model_bytes(folder, (8, 6, 4), seed=1))
    wide = folder / "wide.mnq"  # several DATA frames of the fake's 1 KiB
    wide.write_bytes(model_bytes(folder, (48, 96, 64, 10), seed=2))
    np.save(folder / "x.npy", np.zeros((2, 8), np.int8))
    return {"small": small, "wide": wide, "x": folder / "x.npy"}


@pytest.fixture(scope="module")
def startup():
    """Seconds micronn takes to start and exit (imports), to separate from board time."""
    return min(run_cli("boards").seconds for _ in range(2))


def _offset(request: bytes) -> int:
    return struct.unpack_from("<I", request)[0]


def _frame_size(size):
    return lambda honest, request: honest[:8] + struct.pack("<H", size) + honest[10:]


def _error(errno, message):
    return lambda honest, request: (framing.ERROR, struct.pack("<h", errno) + message)


def _named_info(honest, request):
    head, *names = honest[:28], *honest[28:].split(b"\0")
    names[3] = b"Evil " + ESCAPES + b"board"
    return head + b"\0".join(names)


# id: (FakeBoard options, command, what stderr says, seconds allowed beyond startup + SLACK;
# 0 for a reply that breaks the protocol, which ends micronn at once, without retries)
SCENARIOS = {
    "hello-frame-size-4": (
        {"tamper": {framing.HELLO: _frame_size(4)}},
        ("flash", "small"),
        "offers frames of 4 bytes",
        0,
    ),
    "data-does-not-advance": (
        {"tamper": {framing.DATA: lambda honest, request: request[:4]}},
        ("flash", "wide"),
        "an upload must advance",
        0,
    ),
    "data-goes-backwards": (
        {
            "tamper": {
                framing.DATA: lambda honest, request: (
                    struct.pack("<I", max(0, _offset(request) - 100))
                    if _offset(request)
                    else honest
                )
            }
        },
        ("flash", "wide"),
        "an upload must advance",
        0,
    ),
    "data-beyond-what-was-sent": (
        {"tamper": {framing.DATA: lambda honest, request: struct.pack("<I", 1 << 20)}},
        ("flash", "small"),
        "an upload must advance",
        0,
    ),
    "start-elsewhere": (
        {"tamper": {framing.START: lambda honest, request: struct.pack("<I", 77)}},
        ("flash", "small"),
        "the board answered 77",
        0,
    ),
    "raw-paste-window-0": ({"window": 0}, ("info",), "raw-paste window of 0 bytes", 0),
    "short-hello": (
        {"tamper": {framing.HELLO: lambda honest, request: honest[:3]}},
        ("info",),
        "reply to HELLO is 3 bytes, expected at least 11",
        0,
    ),
    "short-open": (
        {"tamper": {framing.OPEN: lambda honest, request: honest[:4]}},
        ("flash", "small"),
        "reply to OPEN is 4 bytes, expected at least 16",
        0,
    ),
    "short-start": (
        {"tamper": {framing.START: lambda honest, request: honest[:2]}},
        ("flash", "small"),
        "reply to START is 2 bytes",
        0,
    ),
    "short-list": (
        {"tamper": {framing.LIST: lambda honest, request: b"\x00\x05\x00"}},
        ("ls",),
        "reply to LIST is 3 bytes",
        0,
    ),
    "list-name-without-end": (
        {"tamper": {framing.LIST: lambda honest, request: b"\x00" + bytes(5) + b"abc"}},
        ("ls",),
        "ends inside a name",
        0,
    ),
    "short-info": (
        {"tamper": {framing.INFO: lambda honest, request: honest[:5]}},
        ("info",),
        "reply to INFO is 5 bytes, expected at least 28",
        0,
    ),
    "short-load": (
        {"tamper": {framing.LOAD: lambda honest, request: honest[:10]}},
        ("run", "--model", "m", "--input", "x"),
        "reply to LOAD is 10 bytes, expected at least 18",
        0,
    ),
    "load-of-empty-shape": (
        {"tamper": {framing.LOAD: lambda honest, request: honest[:18] + bytes(4) + b"c"}},
        ("run", "--model", "m", "--input", "x"),
        "which no model has",
        0,
    ),
    "short-predict": (
        {"tamper": {framing.PREDICT: lambda honest, request: honest[:3]}},
        ("run", "--model", "m", "--input", "x"),
        "returned 3 output bytes for 2 rows of 4",
        0,
    ),
    "error-text-with-escapes": (
        {"tamper": {framing.OPEN: _error(28, b"disk " + ESCAPES + b"full\nsecond line")}},
        ("flash", "small"),
        "not enough space on the board",
        0,
    ),
    "agent-dies-with-escapes": (
        {"crash_on": framing.OPEN, "crash": b"Traceback " + ESCAPES + b"\r\nOSError: \x1b[5mX"},
        ("flash", "small"),
        "the board agent stopped (OSError: X)",
        0,
    ),
    "agent-falls-silent": (
        {"tamper": {framing.INFO: lambda honest, request: None}},
        ("info",),
        "no intact reply from the board after 8 tries to report its state",
        SILENT_AGENT_BOUND,
    ),
    "install-answers-with-escapes": (
        {"installer": lambda code: b"spam " + ESCAPES + b"\r\n"},
        ("info",),
        "where the board's .mpy version should be",
        0,
    ),
    "install-never-finishes": (
        {"installer": lambda code: None},
        ("flash", "small"),
        "did not finish a program in the raw REPL",
        STUCK_INSTALL_BOUND * 3,  # flash tries 3 sessions
    ),
    "no-repl": (
        {"mute": True},
        ("info",),
        "did not give a MicroPython raw REPL",
        RAW_REPL_BOUND,
    ),
    "endless-chatter-with-escapes": (
        {"chatter": b"spam " + ESCAPES + b"\n"},
        ("flash", "small"),
        "did not give a MicroPython raw REPL",
        RAW_REPL_BOUND,
    ),
}


def _command(command, files, port):
    args = [files.get(arg, arg) for arg in command]
    quiet = ["--quiet"] if command[0] == "flash" else []  # no progress lines: the error alone
    return [*args, "--port", port, *quiet]


def _assert_clean(outcome):
    assert b"Traceback" not in outcome.raw
    assert not CONTROL_BYTES.search(outcome.raw.replace(b"\n", b"")), outcome.raw
    assert not C1_CONTROLS.search(outcome.stdout + outcome.stderr), outcome.raw


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_hostile_board_ends_micronn_with_one_line(scenario, files, startup):
    options, command, says, bound = SCENARIOS[scenario]
    with FakeBoard(**options) as board:
        outcome = run_cli(*_command(command, files, board.port))
    lines = outcome.stderr.splitlines()
    assert outcome.returncode == 1, outcome
    assert len(lines) == 1 and lines[0].startswith(f"micronn {command[0]}: error: "), lines
    assert says in lines[0], lines[0]
    _assert_clean(outcome)
    allowed = startup + SLACK + bound
    print(f"{scenario}: exit after {outcome.seconds:.2f} s (startup {startup:.2f} s)")
    assert outcome.seconds < allowed, (outcome.seconds, allowed)


def test_escape_sequences_in_board_names_are_not_printed(files):
    with FakeBoard(tamper={framing.INFO: _named_info}) as board:
        outcome = run_cli("info", "--port", board.port)
    assert outcome.returncode == 0, outcome
    assert "board:        Evil " in outcome.stdout and "board (fake)" in outcome.stdout
    _assert_clean(outcome)


def test_the_honest_fake_board_flashes_and_runs(files):
    """The harness itself: without a fault the same commands succeed (so each scenario above
    fails for its one fault only)."""
    with FakeBoard() as board:
        flashed = run_cli("flash", files["wide"], "--port", board.port, "--name", "m")
        ran = run_cli("run", "--model", "m", "--input", files["x"], "--port", board.port)
        assert board.agent.files["models/m.mnq"] == files["wide"].read_bytes()
    assert flashed.returncode == 0 and ran.returncode == 0, (flashed, ran)
    assert "[[0 0 0 0]\n [0 0 0 0]]" in ran.stdout
