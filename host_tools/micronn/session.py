"""A conversation with the board agent: framed requests, each retried until its reply arrives.

Every request carries a sequence number; the agent answers a repeated request with its stored
reply instead of acting twice, so resending after a lost or damaged reply is always safe.
Uploads write to PATH.part, are checked frame by frame (CRC-32) and as a whole (SHA-256, or
CRC-32 where the board's hashlib lacks it), and replace PATH only once complete; an
interrupted upload resumes from the part the board holds, once its CRC matches.

Nothing the board sends is trusted: every reply's length is checked before it is unpacked, an
upload must advance with every DATA reply, and every wait has a named timeout (below; all of
them multiplied by MICRONN_TIMEOUT_SCALE, see transport.scaled). Text from the board is
shown only through board_text, without its control characters.
"""

import hashlib
import math
import re
import struct
import time
from dataclasses import dataclass

from micronn import framing
from micronn.agent_code import agent_id, installed_launcher, paste_launcher, pasted_source
from micronn.board_text import decode, one_line
from micronn.transport import (
    NOT_OUR_AGENT,
    AgentStopped,
    BoardCodeError,
    BoardError,
    LinkError,
    ProtocolError,
    scaled,
)

FRAME_PAYLOAD = 2048  # largest frame payload the host asks for (the agent may offer less)
MIN_FRAME_PAYLOAD = framing.MIN_PAYLOAD  # an agent offering less is refused
REPLY_TIMEOUT = 1.0  # seconds for a reply, on top of the time the frames take on the line
HELLO_TIMEOUT = 3.0  # the board compiles the agent before it can answer
REQUEST_ATTEMPTS = 8  # sends of one request before the link is declared broken
HELLO_ATTEMPTS = 4
INSTALLED_HELLO_ATTEMPTS = 2  # then the agent is installed (agent_install.py)
COMMIT_TIMEOUT = 5.0  # plus COMMIT_SECONDS_PER_BYTE for reading back and hashing the file
COMMIT_SECONDS_PER_BYTE = 1 / 20_000
LOAD_TIMEOUT = 60.0  # importing micronn and reading a model on a slow board
PREDICT_TIMEOUT = 60.0
BYE_TIMEOUT = 1.0
BYE_ATTEMPTS = 2  # a lost goodbye is not worth more: the agent also stops when idle
TRAILER_TIMEOUT = 1.0  # seconds to collect the raw REPL's end-of-program markers
INTERRUPTED_TRAILER_TIMEOUT = 0.3  # the same after Ctrl-C, which must end micronn within 2 s
TRAILER_POLL = 0.05
STOP_POLL = 0.05  # seconds between looks at the Ctrl-C flag while waiting for a reply

ERRNO_ADVICE = {
    30: "the board's filesystem is read-only: on CircuitPython the USB drive is mounted; "
    "eject it and add `storage.remount('/', readonly=False)` to boot.py, or flash from a "
    "MicroPython firmware",
    28: "not enough space on the board: remove models with `micronn rm`, or use int4/int2 "
    "weights for a smaller file",
    2: "no such file on the board (see `micronn ls`)",
    13: "the board refused access (EACCES); is the file open or the filesystem read-only?",
}
CTRL_C = b"\x03"
RAW_REPL_END = re.compile(rb"\x04(.*)\x04>", re.S)


@dataclass(frozen=True)
class Hello:
    mpy: int  # sys.implementation._mpy, 0 if the board does not tell
    frame_size: int
    kbd_intr_off: bool
    sha256: bool
    implementation: str
    version: str
    platform: str


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    is_dir: bool
    in_rom: bool = False  # a model of the board's ROMFS image (/rom/models), read-only


@dataclass(frozen=True)
class BoardInfo:
    implementation: str
    version: str
    platform: str
    machine: str
    mpy: int
    heap_free: int
    heap_total: int
    fs_free: int
    fs_total: int
    runtime_stamp: str
    backends: str


@dataclass(frozen=True)
class ModelInfo:
    input_shape: tuple
    output_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    backend: str
    weights: str = ""  # where the board keeps the weights: "ram", "stream" or "rom"
    labels: tuple = ()  # the class names of the output's last axis, when the model has them


@dataclass(frozen=True)
class UploadResult:
    path: str
    size: int
    resumed_from: int
    retries: int


def _strings(data: bytes) -> list:
    return [decode(part) for part in bytes(data).split(b"\0")]


def _fields(layout: str, payload: bytes, request: str, offset: int = 0) -> tuple:
    """struct.unpack_from, once the reply is known to be long enough."""
    need = offset + struct.calcsize(layout)
    if len(payload) < need:
        raise ProtocolError(
            f"the board's reply to {request} is {len(payload)} bytes, expected at least "
            f"{need}: {NOT_OUR_AGENT}"
        )
    return struct.unpack_from(layout, payload, offset)


def _board_error(payload: bytes, what: str) -> BoardError:
    code = struct.unpack_from("<h", payload)[0] if len(payload) >= 2 else 0
    message = one_line(decode(payload[2:]))
    detail = f"{message} (errno {code})" if code else message
    advice = ERRNO_ADVICE.get(code)
    text = f"the board could not {what}: {detail}"
    return BoardError(f"{text}; {advice}" if advice else text, code)


class AgentSession:
    """The board agent running on `transport`; open with `with transport.session() as s`."""

    def __init__(self, transport, use_installed=True, model=None):
        self.transport = transport
        self.use_installed = use_installed  # False: paste the whole agent (big boards only)
        self.model = model  # (path, backend): loaded before the agent starts, for load()
        self.reader = framing.FrameReader()
        self.hello = None
        self.retries = 0
        self.install = None  # agent_install.InstallReport when this session installed the agent
        self.started = ""  # "installed", "install" or "paste": how the agent was started
        self._seq = 0
        self._open = False

    # -- start and stop ---------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(clean=exc_type is None)

    def start(self) -> Hello:
        """Run the installed agent if it is this version; else install it in lib/ in small
        pieces and run it; where the board cannot store it, paste the whole agent."""
        from micronn.agent_install import install_agent

        expected = agent_id()
        self.transport.enter_raw_repl()
        try:
            if self.use_installed:
                if self._run_installed(expected, INSTALLED_HELLO_ATTEMPTS):
                    self.started = "installed"
                    return self.hello
                try:
                    self.install = install_agent(self.transport)
                except BoardCodeError:
                    pass  # a read-only or full filesystem: the paste below may still work
                else:
                    if self._run_installed(expected, HELLO_ATTEMPTS):
                        self.started = "install"
                        return self.hello
            self.transport.exec_start(paste_launcher(pasted_source()))
            self._open = True
            self.started = "paste"
            return self._hello(expected, HELLO_ATTEMPTS)
        except BaseException:  # a link failure, a refused board, or Ctrl-C
            self.stop(clean=False)
            raise

    def _run_installed(self, expected: int, attempts: int) -> bool:
        """True once the installed agent answers HELLO; False (the board back at its raw REPL
        prompt) when it is missing or another version."""
        self.transport.exec_start(installed_launcher(expected, self.model))
        self._open = True
        try:
            self._hello(expected, attempts)
            return True
        except AgentStopped:
            self.stop(clean=False)
            self.reader = framing.FrameReader()
            self.transport.enter_raw_repl()
            return False

    def _hello(self, expected_crc: int, attempts: int) -> Hello:
        payload = self._request(framing.HELLO, b"", HELLO_TIMEOUT, attempts, "start")
        crc, mpy, frame_size, flags = _fields("<IIHB", payload, "HELLO")
        if crc != expected_crc:
            raise AgentStopped("the board agent's code arrived damaged; try again")
        if frame_size < MIN_FRAME_PAYLOAD:
            raise ProtocolError(
                f"the board agent offers frames of {frame_size} bytes, fewer than the "
                f"{MIN_FRAME_PAYLOAD} it must take: {NOT_OUR_AGENT}"
            )
        names = _strings(payload[11:]) + ["", "", ""]
        self.hello = Hello(
            mpy=mpy,
            frame_size=min(frame_size, FRAME_PAYLOAD),
            kbd_intr_off=bool(flags & framing.HELLO_KBD_INTR_OFF),
            sha256=bool(flags & framing.HELLO_SHA256),
            implementation=names[0],
            version=names[1],
            platform=names[2],
        )
        if not self.hello.kbd_intr_off:
            raise BoardError(
                "this firmware cannot switch off Ctrl-C (no micropython.kbd_intr), so binary "
                "data would interrupt it; use a MicroPython firmware"
            )
        return self.hello

    def stop(self, clean: bool = True) -> None:
        """Tell the agent to finish and return the board to its normal REPL."""
        if not self._open:
            return
        self._open = False
        interrupted = self.transport.stop is not None and self.transport.stop.is_set()
        try:
            if clean and not interrupted:
                self._request(framing.BYE, b"", BYE_TIMEOUT, BYE_ATTEMPTS, "finish")
            else:
                self.transport.write(framing.encode(framing.ABORT, 0))
            self._collect_trailer(INTERRUPTED_TRAILER_TIMEOUT if interrupted else TRAILER_TIMEOUT)
            self.transport.leave_raw_repl()
        except LinkError:
            pass

    def _collect_trailer(self, timeout) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while True:
            while self.reader.next_frame() is not None:
                pass  # late replies to requests already answered
            left = deadline - time.monotonic()
            if RAW_REPL_END.search(self.reader.text) or left <= 0:
                return
            self.reader.feed(self.transport.read_some(min(left, TRAILER_POLL)))

    # -- requests ---------------------------------------------------------------------------

    def _wire_time(self, count: int) -> float:
        return count * 10 / self.transport.baudrate

    def request(self, kind: int, payload=b"", timeout=None, what="do that") -> bytes:
        """The reply's payload; sent again until it comes (BoardError if the board refuses)."""
        wait = REPLY_TIMEOUT if timeout is None else timeout
        return self._request(kind, payload, wait, REQUEST_ATTEMPTS, what)

    def _next_frame(self, kind, payload) -> bytes:
        while True:
            self._seq = (self._seq + 1) & 0xFF
            frame = framing.encode(kind, self._seq, payload)
            # Until the agent has switched Ctrl-C off, a 0x03 byte would interrupt it.
            if kind != framing.HELLO or CTRL_C not in frame:
                return frame

    def _request(self, kind, payload, timeout, attempts, what) -> bytes:
        frame = self._next_frame(kind, payload)
        room = len(frame) + framing.HEADER_SIZE + self._reply_room()
        wait = scaled(timeout) + self._wire_time(room)
        for attempt in range(attempts):
            if attempt:
                self.retries += 1
            self.transport.check_stop()
            self.transport.write(frame)
            reply = self._await(kind, self._seq, wait, what)
            if reply is not None:
                return reply
        raise LinkError(
            f"no intact reply from the board after {attempts} tries to {what}; check the "
            "cable, try a lower baud rate, and run the command again (uploads resume)"
        )

    def _reply_room(self) -> int:
        return self.hello.frame_size if self.hello else 64

    def _await(self, kind, seq, wait, what):
        """The reply payload, or None after a NAK or when `wait` seconds pass."""
        deadline = time.monotonic() + wait
        while True:
            frame = self.reader.next_frame()
            while frame is not None:
                if frame.seq == seq:
                    if frame.kind == framing.REPLY | kind:
                        return frame.payload
                    if frame.kind == framing.ERROR:
                        raise _board_error(frame.payload, what)
                    if frame.kind == framing.NAK:
                        return None
                frame = self.reader.next_frame()
            ended = RAW_REPL_END.search(self.reader.text)
            if ended:
                text = decode(ended.group(1)).strip()
                self._open = False
                last = one_line(text.splitlines()[-1]) if text else "no message"
                raise AgentStopped(f"the board agent stopped ({last})", text)
            self.transport.check_stop()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.reader.feed(self.transport.read_some(min(left, STOP_POLL)))

    # -- files ------------------------------------------------------------------------------

    def upload(self, path: str, data: bytes, progress=None, swap=False) -> UploadResult:
        """Write `data` to `path` on the board: all of it, verified, or nothing changes."""
        retries_before = self.retries
        if self.hello.sha256:
            hash_kind, digest = framing.HASH_SHA256, hashlib.sha256(data).digest()
        else:
            hash_kind, digest = framing.HASH_CRC32, struct.pack("<I", framing.crc32(data))
        flags = framing.OPEN_SWAP if swap else 0
        head = struct.pack("<IBB", len(data), flags, hash_kind) + digest
        what = f"upload {path}"
        total = len(data)
        reply = self.request(framing.OPEN, head + path.encode("utf-8"), what=what)
        have, have_crc, _ = _fields("<IIq", reply, "OPEN")
        resumable = 0 < have <= total and framing.crc32(data[:have]) == have_crc
        start = have if resumable else 0
        reply = self.request(framing.START, struct.pack("<I", start), what=what)
        (done,) = _fields("<I", reply, "START")
        if done != start:
            raise ProtocolError(
                f"asked to continue {path} at byte {start}, the board answered {done}: "
                f"{NOT_OUR_AGENT}"
            )
        chunk = self.hello.frame_size - 4
        if progress:
            progress(done, total)
        while done < total:
            piece = data[done : done + chunk]
            reply = self.request(framing.DATA, struct.pack("<I", done) + piece, what=what)
            (confirmed,) = _fields("<I", reply, "DATA")
            if not done < confirmed <= done + len(piece):
                raise ProtocolError(
                    f"the board confirmed {confirmed} bytes of {path} after bytes {done} to "
                    f"{done + len(piece)} were sent (an upload must advance): {NOT_OUR_AGENT}"
                )
            done = confirmed
            if progress:
                progress(done, total)
        commit_wait = COMMIT_TIMEOUT + total * COMMIT_SECONDS_PER_BYTE
        self.request(framing.COMMIT, b"", commit_wait, what=what)
        return UploadResult(path, total, start, self.retries - retries_before)

    def remove(self, path: str) -> None:
        self.request(framing.REMOVE, path.encode("utf-8"), what=f"remove {path}")

    def mkdir(self, path: str) -> None:
        self.request(framing.MKDIR, path.encode("utf-8"), what=f"create folder {path}")

    def listdir(self, path: str) -> list:
        payload = self.request(framing.LIST, path.encode("utf-8"), what=f"list {path}")
        entries = []
        position = 1
        while position < len(payload):
            size, is_dir = _fields("<iB", payload, "LIST", position)
            end = payload.find(b"\0", position + 5)
            if end < 0:
                raise ProtocolError(
                    f"the board's reply to LIST ends inside a name: {NOT_OUR_AGENT}"
                )
            name = decode(payload[position + 5 : end])
            entries.append(Entry(name, size, bool(is_dir)))
            position = end + 1
        return sorted(entries, key=lambda entry: entry.name)

    def read(self, path: str) -> bytes:
        return self.request(framing.READ, path.encode("utf-8"), what=f"read {path}")

    def info(self) -> BoardInfo:
        payload = self.request(framing.INFO, what="report its state")
        mpy, heap_free, heap_total, fs_free, fs_total = _fields("<IIIQQ", payload, "INFO")
        names = _strings(payload[28:]) + [""] * 6
        return BoardInfo(
            implementation=names[0],
            version=names[1],
            platform=names[2],
            machine=names[3],
            runtime_stamp=names[4].strip(),
            backends=names[5],
            mpy=mpy,
            heap_free=heap_free,
            heap_total=heap_total,
            fs_free=fs_free,
            fs_total=fs_total,
        )

    # -- models -----------------------------------------------------------------------------

    def load(self, path: str, backend: str = "auto") -> ModelInfo:
        name = backend.encode("utf-8")
        payload = bytes([len(name)]) + name + path.encode("utf-8")
        reply = self.request(framing.LOAD, payload, LOAD_TIMEOUT, what=f"load {path}")
        in_scale, in_zero, out_scale, out_zero, in_ndim, out_ndim = _fields(
            "<fifiBB", reply, "LOAD"
        )
        dims = _fields(f"<{in_ndim + out_ndim}H", reply, "LOAD", 18)
        if 0 in dims or not all(math.isfinite(s) and s > 0 for s in (in_scale, out_scale)):
            raise ProtocolError(
                f"the board describes {path} with shapes {dims[:in_ndim]} -> {dims[in_ndim:]} "
                f"and scales {in_scale}, {out_scale}, which no model has: {NOT_OUR_AGENT}"
            )
        names = _strings(reply[18 + 2 * len(dims) :]) + [""]
        labels = tuple(names[2:-1])
        if len(labels) != dims[-1]:  # none, or too many to fit the frame
            labels = ()
        return ModelInfo(
            input_shape=dims[:in_ndim],
            output_shape=dims[in_ndim:],
            input_scale=in_scale,
            input_zero_point=in_zero,
            output_scale=out_scale,
            output_zero_point=out_zero,
            backend=names[0],
            weights=names[1],
            labels=labels,
        )

    def predict(self, rows: bytes) -> bytes:
        """Output rows for whole input rows; with no rows, the one row staged by stage_input."""
        return self.request(framing.PREDICT, rows, PREDICT_TIMEOUT, what="run the model")

    def stage_input(self, row: bytes) -> None:
        """Write one input row too long for a frame into the model's input, in parts."""
        part = self.hello.frame_size - 4
        for at in range(0, len(row), part):
            piece = struct.pack("<I", at) + row[at : at + part]
            self.request(framing.INPUT, piece, what="take the input row")
