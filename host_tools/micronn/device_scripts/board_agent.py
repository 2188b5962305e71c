# micronn board agent, core: runs on the board (MicroPython), never under CPython.
#
# Frames in and out, HELLO and BYE; the other requests are answered by two parts imported when
# first needed: board_agent_files.py (files, INFO) and board_agent_model.py (LOAD, PREDICT, INPUT).
# Installed with the runtime as lib/micronn_agent.mpy, lib/micronn_agent_files.mpy and
# lib/micronn_agent_model.mpy, started by micronn.agent_code.installed_launcher(); where they
# cannot be installed, the host pastes the three as one program (agent_code.pasted_source()).
# The frame constants (the _CAPITAL names not defined here) come from
# micronn.framing.agent_prelude(). The agent answers framed binary requests on stdin with framed
# binary replies on stdout until BYE, ABORT, or _IDLE_MS without a valid request. It prints no
# text. On the way out it closes what it opened, restores Ctrl-C and forgets every module the
# session imported, so the board's heap is as it was. Protocol and rules: docs/flashing.md.
# ruff: noqa: F821
import gc
import struct
import sys
from binascii import crc32

try:
    import micropython
except ImportError:
    micropython = None
try:
    import select
except ImportError:
    select = None
try:
    from time import ticks_diff, ticks_ms
except ImportError:
    from time import time

    def ticks_ms():
        return int(time() * 1000)

    def ticks_diff(a, b):
        return a - b


_POLL_MS = const(200)
_GAP_MS = const(200)  # silence inside a frame that ends it
_FILES_KINDS = (_OPEN, _START, _DATA, _COMMIT, _REMOVE, _MKDIR, _LIST, _READ, _INFO)


class Failed(Exception):
    pass


def _error_payload(e):
    code = 0
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int):
        code = e.args[0]
        text = " ".join(str(a) for a in e.args[1:])
    elif isinstance(e, Failed):
        text = str(e)
    else:
        text = type(e).__name__ + ": " + str(e)
    return struct.pack("<h", code) + text.encode()[:200]


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _frame_size(free, preload):
    # The host never asks for more than 2048 bytes a frame; a loaded model's rows must fit.
    size = 2048 if free > 65536 else 1024 if free > 16384 else _MIN_PAYLOAD
    net = preload and preload[2]
    if hasattr(net, "input_shape"):
        row = max(_count(net.input_shape), _count(net.output_shape))
        while size < row and size < 2048:
            size *= 2
    return size


class Agent:
    def __init__(self, agent_id, preload=None):
        self.agent_id = agent_id
        self.preload = preload  # (path, backend, net or the exception its load raised)
        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        gc.collect()
        free = gc.mem_free() if hasattr(gc, "mem_free") else 0
        self.size = _frame_size(free, preload)
        self.buf = bytearray(self.size)
        self.mv = memoryview(self.buf)
        self.head = bytearray(_HEADER_SIZE)
        self.hv = memoryview(self.head)
        self.one = bytearray(1)
        self.pend = b""  # bytes read but not yet parsed (after a damaged frame)
        self.rhead = bytearray(_HEADER_SIZE)
        self.rhead[0] = _SYNC0
        self.rhead[1] = _SYNC1
        self.last = None  # (kind, seq, header, payload) of the last reply, for a repeat
        self.alive = ticks_ms()
        self.file = None
        self.net = None
        self.parts = {}
        self.flags = 0
        try:
            from hashlib import sha256  # noqa: F401

            self.flags |= _HELLO_SHA256
        except ImportError:
            pass
        try:
            micropython.kbd_intr(-1)
            self.flags |= _HELLO_KBD_INTR_OFF
        except (AttributeError, TypeError):
            pass
        self.poll = None
        if select is not None:
            try:
                self.poll = select.poll()
                self.poll.register(sys.stdin, select.POLLIN)
                self.flags |= _HELLO_POLL
            except (AttributeError, OSError, TypeError):
                self.poll = None

    def close(self):
        self.close_file()
        for net in (self.net, self.preload and self.preload[2]):
            if hasattr(net, "close"):
                net.close()
        self.net = self.preload = None
        if self.flags & _HELLO_KBD_INTR_OFF:
            micropython.kbd_intr(3)

    def close_file(self):
        if self.file is not None:
            self.file.close()
            self.file = None

    # -- frames -----------------------------------------------------------------------------

    def _wait(self):
        while self.poll is not None and not self.poll.poll(_POLL_MS):
            if ticks_diff(ticks_ms(), self.alive) > _IDLE_MS:
                return False
        return ticks_diff(ticks_ms(), self.alive) <= _IDLE_MS

    def _take(self, mv, start, end):
        # Fill mv[start:end], first from bytes pushed back; the position reached, short when
        # the line falls silent for _GAP_MS inside a frame (a frame's bytes come back to back).
        # With poll, bytes are read one at a time: a read blocks until all its bytes come.
        p = self.pend
        if p:
            k = min(len(p), end - start)
            mv[start : start + k] = p[:k]
            self.pend = p[k:]
            start += k
        if self.poll is None:
            if start < end:
                self.inp.readinto(mv[start:end])
            return end
        poll = self.poll.poll
        one = self.one
        readinto = self.inp.readinto
        while start < end:
            if not poll(_GAP_MS):
                return start
            readinto(one)
            mv[start] = one[0]
            start += 1
        return start

    def _read_frame(self):
        # The next intact request frame, or None once idle. A damaged or cut-short frame is
        # dropped and the bytes after its sync are searched again, so the frames that follow
        # it (the host's retries) are found.
        h = self.head
        hv = self.hv
        while True:
            if not self.pend and not self._wait():
                return None
            self._take(hv, 0, 1)
            if h[0] != _SYNC0:
                continue
            got = self._take(hv, 1, _HEADER_SIZE)
            if got < _HEADER_SIZE or h[1] != _SYNC1:
                self.pend = bytes(hv[1:got]) + self.pend
                continue
            kind, seq, n, hcrc, pcrc = struct.unpack_from("<BBHHI", h, 2)
            if n > self.size or crc32(hv[2:6]) & 0xFFFF != hcrc:
                self.pend = bytes(hv[2:]) + self.pend
                continue
            got = self._take(self.mv, 0, n)
            if got == n and crc32(self.mv[0:n]) == pcrc:
                return kind, seq, n
            self.pend = bytes(hv[2:]) + bytes(self.mv[0:got]) + self.pend
            self._send(_NAK, seq, b"")

    def _send(self, kind, seq, payload):
        # Header and payload go out as they are (a reply may be a view of a buffer that stays
        # unchanged until the next request); returns the header, kept for a repeat.
        r = self.rhead
        struct.pack_into("<BBH", r, 2, kind, seq, len(payload))
        struct.pack_into("<HI", r, 6, crc32(memoryview(r)[2:6]) & 0xFFFF, crc32(payload))
        self.out.write(r)
        self.out.write(payload)
        return bytes(r)

    def serve(self):
        while True:
            self.alive = ticks_ms()  # idle from the last answer: a predict may take long
            got = self._read_frame()
            if got is None:
                return
            kind, seq, n = got
            last = self.last
            if last is not None and last[0] == kind and last[1] == seq:
                self.out.write(last[2])
                self.out.write(last[3])
                continue
            if kind == _ABORT:
                return
            self.last = None
            try:
                reply = self._handle(kind, self.mv[0:n])
                self.last = (kind, seq, self._send(_REPLY | kind, seq, reply), reply)
            except Exception as e:  # every failure goes back to the host as a frame
                self.close_file()
                reply = _error_payload(e)
                self.last = (kind, seq, self._send(_ERROR, seq, reply), reply)
            if kind == _BYE:
                return

    # -- requests ---------------------------------------------------------------------------

    def _handle(self, kind, p):
        if kind == _HELLO:
            impl = sys.implementation
            mpy = getattr(impl, "_mpy", 0)
            version = ".".join(str(v) for v in impl.version[:3])
            text = "\0".join((impl.name, version, sys.platform))
            head = struct.pack("<IIHB", self.agent_id, mpy, self.size, self.flags)
            return head + text.encode()
        if kind == _BYE:
            return b""
        if kind == _LOAD or kind == _PREDICT or kind == _INPUT:
            return self.part("model")(self, kind, p)
        if kind in _FILES_KINDS:
            return self.part("files")(self, kind, p)
        raise Failed(f"unknown request {kind}")

    def part(self, name):
        # The function that answers a part's requests: from the pasted program, else imported
        # from lib/micronn_agent_NAME. A model needs the heap: the files part goes first.
        f = self.parts.get(name)
        if f is None:
            if name == "model" and "files" in self.parts:
                del self.parts["files"]
                sys.modules.pop("micronn_agent_files", None)
                gc.collect()
            f = globals().get(name + "_request")
            if f is None:
                f = getattr(__import__("micronn_agent_" + name), name + "_request")
            self.parts[name] = f
        return f


def ready(agent_id):
    # True when every part installed beside this core is this version (the launcher's check).
    for name in ("files", "model"):
        module = "micronn_agent_" + name
        try:
            found = __import__(module).AGENT_ID
        except ImportError:
            return False
        finally:
            sys.modules.pop(module, None)
        if found != agent_id:
            return False
    return agent_id == globals().get("AGENT_ID")


def main(agent_id, preload=None):
    # Paths from the host are relative to the board's root: "/" on a board, the folder of a
    # virtual board (the unix port, whose "/" is the host computer's). `preload`: a model the
    # launcher loaded before the agent was imported, for the LOAD request that names it.
    import os

    cwd = os.getcwd()
    if sys.platform != "linux":
        os.chdir("/")
    before = list(sys.modules)
    agent = Agent(agent_id, preload)
    try:
        agent.serve()
    finally:
        agent.close()
        agent = None
        for name in list(sys.modules):
            if name not in before:
                del sys.modules[name]
        os.chdir(cwd)
        gc.collect()
