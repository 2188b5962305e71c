"""A Transport over pyserial: raw REPL, raw-paste with its flow-control window, and bytes.

Ports are opened with `serial_for_url`, so a device path, `socket://host:port` and
`rfc2217://host:port` all work. The board is never soft-reset (a virtual board would exit).
Every wait is bounded by a named timeout (multiplied by MICRONN_TIMEOUT_SCALE), including
against a board that never stops talking.
"""

import errno
import struct
import time

import serial

from micronn import framing
from micronn.board_text import decode
from micronn.transport import (
    Interrupted,
    LinkError,
    NotInReplError,
    PortError,
    ProtocolError,
    Transport,
    scaled,
    timeout_scale,
)

DEFAULT_BAUD = 115200
POLL_INTERVAL = 0.02  # seconds one pyserial read may block
RAW_REPL_ATTEMPTS = 6
RAW_REPL_PROMPT_TIMEOUT = 1.5  # seconds to wait for the raw REPL banner per attempt
INTERRUPT_SETTLE = 0.15  # seconds for a running program to stop after Ctrl-C
DISCARD_TIMEOUT = 0.5  # seconds of old output thrown away at most (a board may never stop)
CLEAR_SETTLE = 0.05  # seconds after clearing the raw REPL line before pasting
RAW_PASTE_TIMEOUT = 3.0  # seconds without a flow-control credit before giving up
RAW_PASTE_REPLY_TIMEOUT = 2.0  # seconds for the answer to the raw-paste request and window
RAW_CHUNK = 256  # plain raw REPL (no raw-paste): bytes per write ...
RAW_CHUNK_PAUSE = 0.01  # ... and the pause after each, as boards without flow control need

RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
RAW_PASTE_REQUEST = CTRL_E + b"A" + CTRL_A
RAW_PASTE_YES, RAW_PASTE_NO = b"R\x01", b"R\x00"


def _open_error(port: str, error: Exception) -> PortError:
    text = str(error)
    number = getattr(error, "errno", None)
    busy = number in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text or "busy" in text
    if busy:
        return PortError(
            f"{port} is busy: another program has it open (a serial terminal, mpremote, "
            "Thonny, or another micronn); close it and try again"
        )
    if number == errno.ENOENT or "No such file" in text:
        return PortError(
            f"{port} does not exist: plug the board in, then list ports with "
            "`python -m serial.tools.list_ports`"
        )
    if number == errno.EACCES or "Permission denied" in text:
        return PortError(
            f"no permission to open {port}: add your user to the port's group "
            "(often `dialout` or `uucp`) and log in again"
        )
    return PortError(f"cannot open {port}: {text}")


class SerialTransport(Transport):
    """A board on a serial port (or a socket:// / rfc2217:// URL)."""

    def __init__(self, port: str, baudrate: int = DEFAULT_BAUD):
        timeout_scale()  # a bad MICRONN_TIMEOUT_SCALE is reported before the port is opened
        self.name = port
        self.baudrate = baudrate
        self.bytes_written = 0
        self.bytes_read = 0
        try:
            self._serial = serial.serial_for_url(
                port, baudrate=baudrate, timeout=POLL_INTERVAL, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as error:
            raise _open_error(port, error) from None
        self._use_raw_paste = True
        self._unread = b""  # read from the port but not yet consumed

    def close(self) -> None:
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            pass

    # -- bytes ------------------------------------------------------------------------------

    def _gone(self, error) -> PortError:
        return PortError(
            f"{self.name} went away ({error}): the board was unplugged or reset; reconnect "
            "it and run the same command again (an interrupted upload resumes)"
        )

    def write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as error:
            raise self._gone(error) from None
        self.bytes_written += len(data)

    def read_some(self, timeout: float) -> bytes:
        if self._unread:
            data, self._unread = self._unread, b""
            return data
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            while True:
                waiting = self._serial.in_waiting
                data = self._serial.read(waiting or 1)
                if data or time.monotonic() >= deadline:
                    self.bytes_read += len(data)
                    return data
        except (serial.SerialException, OSError) as error:
            raise self._gone(error) from None

    def _waiting(self) -> int:
        try:
            return self._serial.in_waiting
        except (serial.SerialException, OSError) as error:
            raise self._gone(error) from None

    def discard_input(self) -> None:
        self._unread = b""
        deadline = time.monotonic() + scaled(DISCARD_TIMEOUT)
        while self.read_some(0) and time.monotonic() < deadline:
            pass

    def _read_until(self, ending: bytes, timeout: float) -> bytes:
        """Bytes up to and including `ending` (or all that came within `timeout`)."""
        data = b""
        deadline = time.monotonic() + scaled(timeout)
        while ending not in data:
            self.check_stop()
            left = deadline - time.monotonic()
            if left <= 0:
                return data
            data += self.read_some(min(left, POLL_INTERVAL))
        end = data.index(ending) + len(ending)
        self._unread = data[end:] + self._unread
        return data[:end]

    def _read_exactly(self, count: int, timeout: float) -> bytes:
        data = b""
        deadline = time.monotonic() + scaled(timeout)
        while len(data) < count and time.monotonic() < deadline:
            self.check_stop()
            data += self.read_some(min(deadline - time.monotonic(), POLL_INTERVAL))
        self._unread = data[count:] + self._unread
        return data[:count]

    # -- raw REPL ---------------------------------------------------------------------------

    def enter_raw_repl(self) -> None:
        """Interrupt what runs (and any stale micronn agent) and get the raw REPL prompt."""
        seen = b""
        for attempt in range(RAW_REPL_ATTEMPTS):
            self.check_stop()
            if attempt:
                self.write(framing.encode(framing.ABORT, 0))
            self.write(b"\r" + CTRL_C + CTRL_C)
            time.sleep(scaled(INTERRUPT_SETTLE))
            self.discard_input()
            self.write(b"\r" + CTRL_A)
            seen = self._read_until(RAW_REPL_BANNER, RAW_REPL_PROMPT_TIMEOUT)
            if seen.endswith(RAW_REPL_BANNER):
                return
        shown = decode(seen[-120:])
        raise NotInReplError(
            f"{self.name} did not give a MicroPython raw REPL after {RAW_REPL_ATTEMPTS} tries "
            f"(last output: {shown!r}); check the port and baud rate, press the board's reset "
            "button, and make sure no program on it has disabled Ctrl-C"
        )

    def leave_raw_repl(self) -> None:
        self.write(b"\r" + CTRL_B)

    def exec_start(self, code: str, at_prompt: bool = False) -> None:
        """Send `code` at the raw REPL prompt and return as soon as the board runs it.
        `at_prompt`: the board's prompt has just been read, so the line needs no clearing."""
        data = code.encode("utf-8")
        self.largest_paste = max(self.largest_paste, len(data))
        if not at_prompt:
            self.write(CTRL_C)  # clears anything typed into the raw REPL line since the prompt
            time.sleep(scaled(CLEAR_SETTLE))
            self.discard_input()
        if self._use_raw_paste:
            self.write(RAW_PASTE_REQUEST)
            answer = self._read_exactly(2, RAW_PASTE_REPLY_TIMEOUT)
            if answer == RAW_PASTE_YES:
                try:
                    self._raw_paste(data)
                except Interrupted:
                    self.write(CTRL_C)  # cancels the paste: the board is back at its prompt
                    raise
                return
            if answer != RAW_PASTE_NO:
                # A board that does not know raw-paste treats the request as typing plus
                # Ctrl-A, which prints the raw REPL banner again.
                self._read_until(RAW_REPL_BANNER, RAW_REPL_PROMPT_TIMEOUT)
            self._use_raw_paste = False
        for start in range(0, len(data), RAW_CHUNK):
            self.check_stop()
            self.write(data[start : start + RAW_CHUNK])
            time.sleep(RAW_CHUNK_PAUSE)
        self.write(CTRL_D)
        answer = self._read_exactly(2, RAW_PASTE_REPLY_TIMEOUT)
        if answer != b"OK":
            raise LinkError(f"the board did not accept the code (answer {answer!r})")

    def _raw_paste(self, data: bytes) -> None:
        header = self._read_exactly(2, RAW_PASTE_REPLY_TIMEOUT)
        if len(header) != 2:
            raise LinkError("the board did not announce its raw-paste window")
        window = struct.unpack("<H", header)[0]
        if window == 0:
            self.write(CTRL_D)
            raise ProtocolError(
                "the board announced a raw-paste window of 0 bytes, which no MicroPython "
                "does; press its reset button, check the port, and try again"
            )
        credit = window
        sent = 0
        credited = time.monotonic()  # when the board last made room
        while sent < len(data):
            self.check_stop()
            if credit == 0 or self._waiting():
                flow = self.read_some(POLL_INTERVAL)
                for byte in flow:
                    if byte == CTRL_A[0]:
                        credit += window
                        credited = time.monotonic()
                    elif byte == CTRL_D[0]:
                        self.write(CTRL_D)
                        raise LinkError(
                            "the board ended raw-paste early (out of memory, or damaged code)"
                        )
            if credit == 0:
                if time.monotonic() - credited > scaled(RAW_PASTE_TIMEOUT):
                    raise LinkError("the board stopped taking code during raw-paste")
                continue
            piece = data[sent : sent + credit]
            self.write(piece)
            sent += len(piece)
            credit -= len(piece)
        self.write(CTRL_D)
        ack = self._read_until(CTRL_D, RAW_PASTE_TIMEOUT)
        if not ack.endswith(CTRL_D):
            raise LinkError("the board did not confirm the end of raw-paste")
