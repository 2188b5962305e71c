"""A scripted fake board on a pty, and micronn's CLI run against it in a subprocess.

The test process holds the master side of a pty and plays a board from a thread: a MicroPython
raw REPL (banner, raw-paste with its flow-control window, end-of-program markers) and an agent
that reads micronn's request frames with framing.FrameReader and answers with framing.encode,
as device_scripts/board_agent.py does, keeping its files in memory. A scenario changes one
thing: `tamper` rewrites the honest reply to one kind of request, `window` is the raw-paste
window it announces, `chatter` is text it writes all the time, `crash` is what it prints when
its agent "dies". The host side is micronn itself: `run_cli` starts cli.main in a subprocess,
which opens the pty's path with real pyserial through micronn's transport.
"""

import os
import pty
import select
import struct
import subprocess
import sys
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from micronn import framing
from micronn.agent_code import agent_id
from micronn.runtime import STAMP_PATH, plan_runtime
from micronn.transport import TIMEOUT_SCALE_ENV

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
FRIENDLY_BANNER = b"\r\nMicroPython v1.24.0 on fake; fake board\r\n>>> "
PROGRAM_END = b"\x04\x04>"  # end of the program's output, end of its errors, raw REPL prompt
RAW_PASTE_REQUEST = b"\x05A\x01"
HONEST_WINDOW = 128
HONEST_FRAME = 1024
FLOW_EVERY = 0.01  # seconds between the flow-control bytes of a board whose window is 0
CHATTER_EVERY = 0.005
ENOENT = 2
TEST_TIMEOUT_SCALE = 0.1  # MICRONN_TIMEOUT_SCALE in the subprocess: every host wait x 0.1
CLI_GUARD = 60.0  # seconds after which a CLI run counts as hung
CLI = "import sys; from micronn.cli import main; sys.exit(main())"
REPO = Path(__file__).resolve().parents[1]


class FakeAgent:
    """Honest answers to every request, with files in a dict (path -> bytes)."""

    def __init__(self, files=None):
        self.files = dict(files or {})
        self.files.setdefault(STAMP_PATH, plan_runtime(None).stamp.encode())
        self.part = bytearray()
        self.path = None

    def answer(self, kind: int, payload: bytes):
        """(reply kind, reply payload)."""
        try:
            return framing.REPLY | kind, self._answer(kind, payload)
        except OSError as error:
            return framing.ERROR, struct.pack("<h", error.errno) + b"no such file"

    def _answer(self, kind, p):
        if kind == framing.HELLO:
            flags = framing.HELLO_KBD_INTR_OFF | framing.HELLO_SHA256
            head = struct.pack("<IIHB", agent_id(), 0, HONEST_FRAME, flags)
            return head + b"micropython\x001.24.0\x00fake"
        if kind == framing.OPEN:
            self.path = p[38:].decode()
            self.part = bytearray()
            return struct.pack("<IIq", 0, 0, 1 << 30)
        if kind == framing.START:
            return p[:4]
        if kind == framing.DATA:
            self.part += p[4:]
            return struct.pack("<I", len(self.part))
        if kind == framing.COMMIT:
            self.files[self.path] = bytes(self.part)
            return b""
        if kind == framing.READ:
            path = p.decode()
            if path not in self.files:
                raise OSError(ENOENT, path)
            return self.files[path]
        if kind == framing.LIST:
            folder = p.decode() + "/"
            out = bytearray(1)
            for path, data in sorted(self.files.items()):
                name = path[len(folder) :]
                if path.startswith(folder) and "/" not in name:
                    out += struct.pack("<iB", len(data), 0) + name.encode() + b"\0"
            return bytes(out)
        if kind == framing.INFO:
            text = b"\0".join(
                [b"micropython", b"1.24.0", b"fake", b"Fake board", self.files[STAMP_PATH]]
                + [b"python"]
            )
            return struct.pack("<IIIQQ", 0, 0, 0, 1 << 20, 2 << 20) + text
        if kind == framing.LOAD:
            head = struct.pack("<fifiBB", 0.5, 0, 0.25, 0, 1, 1) + struct.pack("<2H", 8, 4)
            return head + b"python"
        if kind == framing.PREDICT:
            return bytes(len(p) // 8 * 4)
        return b""  # MKDIR, REMOVE, BYE


class FakeBoard:
    """A fake board on a pty; `port` is the path to give micronn. Use as a context manager.

    tamper: {request kind: function(honest reply payload, request payload) -> reply payload,
             (reply kind, payload), or None for no reply at all}
    window: the raw-paste window it announces (a board announcing 0 then keeps crediting 0)
    chatter: bytes it writes every few milliseconds, whatever it is sent
    mute: it answers nothing at all (no REPL on the port)
    crash: printed as the agent's dying words when the request kind `crash_on` arrives
    installer: None (micronn's agent is installed: every paste runs it), or a function(code)
               -> what any program but the agent's launcher prints (None: it never ends); the
               launcher then ends at once, as on a board without the agent
    """

    def __init__(
        self,
        tamper=None,
        window=HONEST_WINDOW,
        chatter=b"",
        mute=False,
        crash=b"",
        crash_on=None,
        installer=None,
    ):
        self.tamper = tamper or {}
        self.window = window
        self.chatter = chatter
        self.mute = mute
        self.crash = crash
        self.crash_on = crash_on
        self.installer = installer
        self._code = bytearray()
        self.agent = FakeAgent()
        self.requests = []  # kinds of the request frames received, in order
        self._mode = "friendly"
        self._pending = b""
        self._pasted = 0
        self._reader = None
        self._last = None
        self._running = False

    def __enter__(self):
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="fake-board", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._running = False
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)

    # -- the line ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except (BlockingIOError, OSError):
            pass  # nobody reads: the bytes are lost, as on a UART

    def _serve(self):
        next_tick = time.monotonic()
        while self._running:
            ready, _, _ = select.select([self._master], [], [], 0.002)
            if ready:
                try:
                    data = os.read(self._master, 4096)
                except OSError:
                    data = b""
                for index in range(len(data)):
                    self._byte(data[index : index + 1])
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + (CHATTER_EVERY if self.chatter else FLOW_EVERY)
                if self.chatter:
                    self._write(self.chatter)
                elif self._mode == "paste" and self.window == 0:
                    self._write(b"\x01")  # "room for 0 more bytes", again and again

    # -- the REPL ---------------------------------------------------------------------------

    def _byte(self, byte: bytes) -> None:
        if self.chatter or self.mute:
            return  # a board that only talks, or never talks, gives no prompt
        if self._mode == "agent":
            self._agent_bytes(byte)
        elif self._mode == "paste":
            self._paste_byte(byte)
        elif self._mode == "raw" and (self._pending + byte)[-3:] == RAW_PASTE_REQUEST:
            self._mode, self._pasted, self._code = "paste", 0, bytearray()
            self._write(b"R\x01" + struct.pack("<H", self.window))
        elif byte == b"\x01":
            self._mode, self._pending = "raw", b""
            self._write(RAW_BANNER)
        elif self._mode == "raw" and byte == b"\x02":
            self._mode = "friendly"
            self._write(FRIENDLY_BANNER)
        elif self._mode == "raw":
            self._pending = (self._pending + byte)[-2:]

    def _paste_byte(self, byte: bytes) -> None:
        if byte == b"\x04":
            self._write(b"\x04")
            if self.installer is not None:
                self._run_program(bytes(self._code))
                return
            self._mode = "agent"  # whatever was pasted, "the agent" now runs
            self._reader = framing.FrameReader()
            self._last = None
            return
        self._code += byte
        self._pasted += 1
        if self.window and self._pasted % self.window == 0:
            self._write(b"\x01")

    def _run_program(self, code: bytes) -> None:
        self._mode = "raw"
        if b".ready(" in code:  # the agent's launcher, on a board without the agent
            self._write(PROGRAM_END)
            return
        printed = self.installer(code)
        if printed is not None:
            self._write(printed + PROGRAM_END)

    # -- the agent --------------------------------------------------------------------------

    def _agent_bytes(self, data: bytes) -> None:
        self._reader.feed(data)
        frame = self._reader.next_frame()
        while frame is not None and self._mode == "agent":
            self._request(frame)
            frame = self._reader.next_frame()

    def _request(self, frame) -> None:
        self.requests.append(frame.kind)
        if frame.kind == framing.ABORT:
            self._end(b"")
            return
        if self._last is not None and self._last[0] == (frame.kind, frame.seq):
            self._write(self._last[1])
            return
        if frame.kind == self.crash_on:
            self._end(self.crash)
            return
        kind, payload = self.agent.answer(frame.kind, frame.payload)
        change = self.tamper.get(frame.kind)
        if change is not None and kind != framing.ERROR:
            changed = change(payload, frame.payload)
            if changed is None:
                return  # the request goes unanswered
            kind, payload = changed if isinstance(changed, tuple) else (kind, changed)
        reply = framing.encode(kind, frame.seq, payload)
        self._last = ((frame.kind, frame.seq), reply)
        self._write(reply)
        if frame.kind == framing.BYE:
            self._end(b"")

    def _end(self, errors: bytes) -> None:
        self._mode = "raw"
        self._write(b"\x04" + errors + b"\x04>")


# -- micronn in a subprocess -----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    raw: bytes  # stdout and stderr as micronn wrote them


def cli_env(scale=TEST_TIMEOUT_SCALE) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env[TIMEOUT_SCALE_ENV] = str(scale)
    return env


def cli_command(*args) -> list:
    return [sys.executable, "-c", CLI, *map(str, args)]


def run_cli(*args, scale=TEST_TIMEOUT_SCALE, guard=CLI_GUARD) -> Outcome:
    """`micronn ARGS` in a subprocess; subprocess.TimeoutExpired after `guard` seconds (hung)."""
    started = time.monotonic()
    done = subprocess.run(
        cli_command(*args),
        capture_output=True,
        env=cli_env(scale),
        cwd=REPO,
        timeout=guard,
    )
    seconds = time.monotonic() - started
    return Outcome(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
        seconds,
        done.stdout + done.stderr,
    )
