"""Talking to a board: the Transport base class and the errors every transport raises.

As in mpremote, a transport subclass only moves bytes and runs code in the raw REPL
(transport_serial.py); everything the host does on the board is written in terms of that:
`session()` pastes the board agent (device_scripts/board_agent.py) with `exec_start()` and
returns an AgentSession (session.py), whose file and model operations are framed binary
requests and replies (framing.py). Unlike mpremote, nothing the board prints is evaluated:
the host parses fixed binary replies and only shows text.
"""

import functools
import io
import os
import tokenize
import zlib

from micronn import framing
from micronn.resources import device_script

AGENT_SCRIPT = "board_agent.py"
AGENT_MODULE = "micronn_agent"  # the agent as installed with the runtime: lib/micronn_agent.mpy
AGENT_IDLE_MS = 8000  # the agent stops after this long without a valid request
TIMEOUT_SCALE_ENV = "MICRONN_TIMEOUT_SCALE"  # multiplies every host-side wait on the board
NOT_OUR_AGENT = (
    "the board does not answer as micronn's agent should; press its reset button and run the "
    "command again (if it persists, check the port: is it a MicroPython board?)"
)


class TransportError(Exception):
    """A board operation failed; the message says what to try next."""


class PortError(TransportError):
    """The port cannot be opened, or went away (board unplugged or reset)."""


class NotInReplError(TransportError):
    """The board did not answer as a MicroPython REPL."""


class LinkError(TransportError):
    """The board's answers did not arrive intact in time (noise, stalls); worth retrying."""


class AgentStopped(LinkError):
    """The board agent ended (crashed, or its code arrived damaged); `board_text` says why."""

    def __init__(self, message: str, board_text: str = ""):
        super().__init__(message)
        self.board_text = board_text


class BoardError(TransportError):
    """The board carried out a request and reported a failure (errno and message)."""

    def __init__(self, message: str, errno: int = 0):
        super().__init__(message)
        self.errno = errno


class ProtocolError(BoardError):
    """The board's answer breaks the protocol (short reply, no progress, impossible value):
    a broken or foreign program on the board. Not retried: the same board would answer the
    same way."""


class Interrupted(KeyboardInterrupt):
    """The user pressed Ctrl-C: a worker ends its board session at the next frame boundary."""


def timeout_scale() -> float:
    """MICRONN_TIMEOUT_SCALE (default 1); ValueError unless it is a positive number."""
    text = os.environ.get(TIMEOUT_SCALE_ENV, "").strip()
    if not text:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        scale = -1.0
    if not 0 < scale < float("inf"):
        raise ValueError(f"{TIMEOUT_SCALE_ENV}={text!r}: give a positive number, e.g. 2")
    return scale


def scaled(seconds: float) -> float:
    """`seconds` times MICRONN_TIMEOUT_SCALE: longer waits for slow boards or links, shorter
    ones in tests."""
    return seconds * timeout_scale()


def minify(source: str) -> str:
    """Python source without comments or blank lines, indented one space per level.

    Only for the agent, which has no multi-line strings and indents by 4 spaces.
    """
    cuts = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            cuts[token.start[0]] = token.start[1]
    lines = []
    for number, line in enumerate(source.splitlines(), 1):
        line = line[: cuts.get(number, len(line))].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        lines.append(" " * (indent // 4) + line.lstrip(" "))
    return "\n".join(lines) + "\n"


@functools.cache
def agent_source() -> str:
    """The agent's code as the board compiles it: frame constants, then the agent."""
    body = device_script(AGENT_SCRIPT).read_text(encoding="utf-8")
    return framing.agent_prelude() + f"IDLE_MS={AGENT_IDLE_MS}\n" + minify(body)


def agent_launcher(source: str) -> str:
    """Code to paste: runs `source` and hands it the CRC-32 of what arrived, which the host
    checks in the agent's first reply, so a damaged paste is never trusted."""
    return (
        "import binascii\n"
        f"_s={source!r}\n"
        "_g={}\n"
        "try:\n"
        " exec(_s,_g)\n"
        " _g['main'](binascii.crc32(_s))\n"
        "finally:\n"
        " del _s,_g\n"
    )


def source_crc(source: str) -> int:
    return zlib.crc32(source.encode("utf-8")) & 0xFFFFFFFF


def agent_module_source() -> str:
    """The agent as a module for the board's lib/, carrying the CRC of its source as its id."""
    source = agent_source()
    return source + f"AGENT_ID={source_crc(source)}\n"


def installed_agent_launcher(agent_id: int) -> str:
    """Code to paste: runs the installed agent if it is this version, else ends at once."""
    return (
        "import sys\n"
        f"sys.modules.pop('{AGENT_MODULE}',None)\n"
        "try:\n"
        f" import {AGENT_MODULE} as _a\n"
        "except ImportError:\n"
        " _a=None\n"
        f"if _a and _a.AGENT_ID=={agent_id}:\n"
        f" _a.main({agent_id})\n"
        "del _a\n"
    )


class Transport:
    """Bytes to and from a board, and code run in its raw REPL. Subclasses implement:

    write(data), read_some(timeout) -> bytes (at least one byte unless the time runs out),
    discard_input(), enter_raw_repl(), exec_start(code) (returns once the code runs),
    leave_raw_repl(), close(); and keep `bytes_written`, `bytes_read` and `baudrate`.
    """

    baudrate = 115200
    bytes_written = 0
    bytes_read = 0
    name = "board"
    stop = None  # a threading.Event: once set, check_stop() raises Interrupted

    def check_stop(self) -> None:
        """Raise Interrupted if the user asked to stop; called between frames, never while
        a session is being closed."""
        if self.stop is not None and self.stop.is_set():
            raise Interrupted()

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read_some(self, timeout: float) -> bytes:
        raise NotImplementedError

    def discard_input(self) -> None:
        raise NotImplementedError

    def enter_raw_repl(self) -> None:
        raise NotImplementedError

    def exec_start(self, code: str) -> None:
        raise NotImplementedError

    def leave_raw_repl(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def session(self):
        """Start the board agent; use the returned AgentSession as a context manager."""
        from micronn.session import AgentSession

        return AgentSession(self)
