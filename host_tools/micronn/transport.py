"""Talking to a board: the Transport base class and the errors every transport raises.

As in mpremote, a transport subclass only moves bytes and runs code in the raw REPL
(transport_serial.py); everything the host does on the board is written in terms of that:
`session()` starts the board agent (agent_code.py) with `exec_start()` and returns an
AgentSession (session.py), whose file and model operations are framed binary requests and
replies (framing.py); `exec_output()` runs a short program and returns what it printed, as
the agent's first install needs (agent_install.py). Unlike mpremote, nothing the board prints
is evaluated: the host parses fixed binary replies and numbers, and only shows text.
"""

import os
import re
import time

from micronn.board_text import decode, one_line

TIMEOUT_SCALE_ENV = "MICRONN_TIMEOUT_SCALE"  # multiplies every host-side wait on the board
NOT_OUR_AGENT = (
    "the board does not answer as micronn's agent should; press its reset button and run the "
    "command again (if it persists, check the port: is it a MicroPython board?)"
)


PROGRAM_END = re.compile(rb"(.*?)\x04(.*?)\x04>", re.S)  # output, end, errors, end, prompt
ERRNO = re.compile(r"OSError: (?:\[Errno )?(\d+)")  # "[Errno 30] EROFS" or "30"


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


class BoardCodeError(BoardError):
    """Code run in the raw REPL raised; the message ends with the board's last error line."""


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


class Transport:
    """Bytes to and from a board, and code run in its raw REPL. Subclasses implement:

    write(data), read_some(timeout) -> bytes (at least one byte unless the time runs out),
    discard_input(), enter_raw_repl(), exec_start(code) (returns once the code runs),
    leave_raw_repl(), close(); and keep `bytes_written`, `bytes_read` and `baudrate`.
    """

    baudrate = 115200
    bytes_written = 0
    bytes_read = 0
    largest_paste = 0  # bytes of the longest program sent to the raw REPL
    name = "board"
    stop = None  # a threading.Event: once set, check_stop() raises Interrupted
    EXEC_POLL = 0.05

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

    def exec_start(self, code: str, at_prompt: bool = False) -> None:
        raise NotImplementedError

    def exec_output(self, code: str, timeout: float, at_prompt: bool = False) -> str:
        """Run `code` at the raw REPL prompt; what it printed once it ends (within `timeout`
        seconds, scaled), or BoardCodeError with the board's last error line (and errno).
        `at_prompt`: the last program's prompt has been read (the line needs no clearing)."""
        self.exec_start(code, at_prompt)
        data = b""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            ended = PROGRAM_END.match(data)
            if ended:
                break
            self.check_stop()
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkError("the board did not finish a program in the raw REPL; try again")
            data += self.read_some(min(left, self.EXEC_POLL))
        # a board's UART ends lines with \r\n, the unix port with \n
        output, errors = (decode(part.replace(b"\r\n", b"\n")) for part in ended.groups())
        errors = errors.strip()
        if errors:
            number = ERRNO.search(errors)
            last = one_line(errors.splitlines()[-1])[:200]
            raise BoardCodeError(last, int(number.group(1)) if number else 0)
        return output

    def leave_raw_repl(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def session(self, model=None):
        """Start the board agent; use the returned AgentSession as a context manager. `model`:
        (path, backend) of a model that load() will ask for, loaded before the agent starts
        (a model's load needs the most heap, and then the agent is not in it)."""
        from micronn.session import AgentSession

        return AgentSession(self, model=model)
