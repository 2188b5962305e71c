# micronn board agent: runs on the board (MicroPython), never under CPython.
#
# The host (micronn.transport) pastes this file through the raw REPL, after the frame
# constants of micronn.framing.agent_prelude() (the CAPITAL names not defined here), and calls
# main(crc32 of the pasted source). The agent then answers framed binary requests on stdin
# with framed binary replies on stdout until BYE, ABORT, or IDLE_MS without a valid request.
# It prints no text. Protocol and safety rules: docs/flashing.md.
#
# Files: an upload goes to PATH.part; COMMIT checks the whole file's hash, then renames it over
# PATH (if rename cannot replace, PATH is first renamed to PATH.bak, removed only once the new
# file is in place; the next OPEN of PATH restores PATH.bak if PATH is missing).
# ruff: noqa: F821
import gc
import os
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
    from hashlib import sha256
except ImportError:
    sha256 = None
try:
    from time import ticks_diff, ticks_ms
except ImportError:
    from time import time

    def ticks_ms():
        return int(time() * 1000)

    def ticks_diff(a, b):
        return a - b


EINVAL = 22
EIO = 5
ENOENT = 2
ENOSPC = 28
EFBIG = 27
POLL_MS = 200
GAP_MS = 200  # silence inside a frame that ends it


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _recover(path):
    # An interrupted rename-aside left PATH.bak: keep the new file if it made it, else the old.
    bak = path + ".bak"
    if _exists(bak):
        if _exists(path):
            os.remove(bak)
        else:
            os.rename(bak, path)


def _replace(tmp, path, swap):
    if not swap or not _exists(path):
        try:
            os.rename(tmp, path)
            return
        except OSError:
            if not _exists(path):
                raise
    bak = path + ".bak"
    _remove(bak)
    os.rename(path, bak)
    os.rename(tmp, path)
    os.remove(bak)


def _free_bytes(path):
    cut = path.rfind("/")
    folder = path[:cut] if cut > 0 else ("/" if cut == 0 else ".")
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return -1
    return st[0] * st[4] if st[1] == 0 else st[1] * st[4]


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


class Agent:
    def __init__(self, source_crc):
        self.source_crc = source_crc
        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        gc.collect()
        free = gc.mem_free() if hasattr(gc, "mem_free") else 0
        self.size = MAX_PAYLOAD if free > 64 * 1024 else 1024 if free > 16 * 1024 else MIN_PAYLOAD
        self.buf = bytearray(self.size)
        self.mv = memoryview(self.buf)
        self.head = bytearray(HEADER_SIZE)
        self.hv = memoryview(self.head)
        self.one = bytearray(1)
        self.pend = b""  # bytes read but not yet parsed (after a damaged frame)
        self.rhead = bytearray(HEADER_SIZE)
        self.rhead[0] = SYNC0
        self.rhead[1] = SYNC1
        self.last = None
        self.alive = ticks_ms()
        self.file = None
        self.path = None
        self.net = None
        self.flags = 0
        if sha256 is not None:
            self.flags |= HELLO_SHA256
        try:
            micropython.kbd_intr(-1)
            self.flags |= HELLO_KBD_INTR_OFF
        except (AttributeError, TypeError):
            pass
        self.poll = None
        if select is not None:
            try:
                self.poll = select.poll()
                self.poll.register(sys.stdin, select.POLLIN)
                self.flags |= HELLO_POLL
            except (AttributeError, OSError, TypeError):
                self.poll = None

    def close(self):
        self._close_file()
        if self.flags & HELLO_KBD_INTR_OFF:
            micropython.kbd_intr(3)

    def _close_file(self):
        if self.file is not None:
            self.file.close()
            self.file = None

    # -- frames -----------------------------------------------------------------------------

    def _wait(self):
        while self.poll is not None and not self.poll.poll(POLL_MS):
            if ticks_diff(ticks_ms(), self.alive) > IDLE_MS:
                return False
        return ticks_diff(ticks_ms(), self.alive) <= IDLE_MS

    def _take(self, mv, start, end):
        # Fill mv[start:end], first from bytes pushed back; the position reached, short when
        # the line falls silent for GAP_MS inside a frame (a frame's bytes come back to back).
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
            if not poll(GAP_MS):
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
            if h[0] != SYNC0:
                continue
            got = self._take(hv, 1, HEADER_SIZE)
            if got < HEADER_SIZE or h[1] != SYNC1:
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
            self._send(NAK, seq, b"")

    def _send(self, kind, seq, payload):
        r = self.rhead
        n = len(payload)
        struct.pack_into("<BBH", r, 2, kind, seq, n)
        struct.pack_into("<HI", r, 6, crc32(memoryview(r)[2:6]) & 0xFFFF, crc32(payload))
        frame = bytes(r) + bytes(payload)
        self.out.write(frame)
        return frame

    def serve(self):
        while True:
            got = self._read_frame()
            if got is None:
                return
            kind, seq, n = got
            self.alive = ticks_ms()
            if self.last is not None and self.last[0] == kind and self.last[1] == seq:
                self.out.write(self.last[2])
                continue
            if kind == ABORT:
                return
            try:
                reply = self._handle(kind, self.mv[0:n])
                frame = self._send(REPLY | kind, seq, reply)
            except Exception as e:  # every failure goes back to the host as a frame
                self._close_file()
                frame = self._send(ERROR, seq, _error_payload(e))
            self.last = (kind, seq, frame)
            if kind == BYE:
                return

    # -- requests ---------------------------------------------------------------------------

    def _handle(self, kind, p):
        if kind == DATA:
            return self._data(p)
        if kind == HELLO:
            impl = sys.implementation
            mpy = getattr(impl, "_mpy", 0)
            version = ".".join(str(v) for v in impl.version[:3])
            text = "\0".join((impl.name, version, sys.platform))
            head = struct.pack("<IIHB", self.source_crc, mpy, self.size, self.flags)
            return head + text.encode()
        if kind == OPEN:
            return self._open(p)
        if kind == START:
            return self._start(struct.unpack_from("<I", p)[0])
        if kind == COMMIT:
            return self._commit()
        if kind == REMOVE:
            path = str(p, "utf-8")
            if not _exists(path):
                raise OSError(ENOENT)
            os.remove(path)
            _remove(path + ".part")
            _remove(path + ".bak")
            return b""
        if kind == MKDIR:
            self._mkdir(str(p, "utf-8"))
            return b""
        if kind == LIST:
            return self._list(str(p, "utf-8"))
        if kind == READ:
            return self._read(str(p, "utf-8"))
        if kind == INFO:
            return self._info()
        if kind == LOAD:
            return self._load(p)
        if kind == PREDICT:
            return self._predict(p)
        if kind == BYE:
            return b""
        raise Failed(f"unknown request {kind}")

    def _open(self, p):
        self._close_file()
        size, flags, hash_kind = struct.unpack_from("<IBB", p)
        digest_len = 32 if hash_kind == HASH_SHA256 else 4
        if hash_kind == HASH_SHA256 and sha256 is None:
            raise Failed("no sha256 on this board")
        self.expect = bytes(p[6 : 6 + digest_len])
        self.hash_kind = hash_kind
        self.path = str(p[6 + digest_len :], "utf-8")
        self.total = size
        self.swap = flags & OPEN_SWAP
        self.tmp = self.path + ".part"
        _recover(self.path)
        have = _size(self.tmp)
        if have > size:
            os.remove(self.tmp)
            have = -1
        have = max(have, 0)
        crc = 0
        if have:
            with open(self.tmp, "rb") as f:
                left = have
                while left:
                    k = f.readinto(self.mv[0 : min(left, self.size)])
                    if not k:
                        break
                    crc = crc32(self.mv[0:k], crc)
                    left -= k
        free = _free_bytes(self.path)
        if free >= 0 and free < size - have:
            raise OSError(ENOSPC, f"need {size - have} bytes, {free} free")
        return struct.pack("<IIq", have, crc, free)

    def _start(self, offset):
        self._close_file()
        if offset == 0:
            self.file = open(self.tmp, "wb")
        elif offset == _size(self.tmp):
            self.file = open(self.tmp, "ab")
        else:
            raise Failed(f"cannot resume at {offset}")
        self.done = offset
        return struct.pack("<I", offset)

    def _data(self, p):
        offset = struct.unpack_from("<I", p)[0]
        if self.file is None:
            raise Failed("no upload open")
        if offset == self.done:
            k = len(p) - 4
            if self.done + k > self.total:
                raise Failed("more data than announced")
            self.file.write(p[4:])
            self.done += k
        return struct.pack("<I", self.done)

    def _commit(self):
        self._close_file()
        if _size(self.tmp) != self.total:
            raise Failed(f"size {_size(self.tmp)}, expected {self.total}")
        h = sha256() if self.hash_kind == HASH_SHA256 else None
        crc = 0
        with open(self.tmp, "rb") as f:
            while True:
                k = f.readinto(self.buf)
                if not k:
                    break
                if h is None:
                    crc = crc32(self.mv[0:k], crc)
                else:
                    h.update(self.mv[0:k])
        got = h.digest() if h is not None else struct.pack("<I", crc)
        if got != self.expect:
            os.remove(self.tmp)
            raise OSError(EIO, "whole-file hash differs; the temporary file was removed")
        _replace(self.tmp, self.path, self.swap)
        return b""

    def _mkdir(self, path):
        part = ""
        for name in path.split("/"):
            part = part + "/" + name if part else name
            if not _exists(part):
                os.mkdir(part)

    def _list(self, path):
        out = bytearray(1)
        try:
            entries = list(os.ilistdir(path))
        except OSError:
            return b""
        for e in entries:
            name = e[0]
            is_dir = e[1] & 0x4000
            size = e[3] if len(e) > 3 and e[3] >= 0 else _size(path + "/" + name)
            item = struct.pack("<iB", 0 if is_dir else size, 1 if is_dir else 0)
            item += name.encode() + b"\0"
            if len(out) + len(item) > self.size:
                out[0] = 1
                break
            out += item
        return out

    def _read(self, path):
        size = _size(path)
        if size < 0:
            raise OSError(ENOENT)
        if size > self.size:
            raise OSError(EFBIG, "file larger than a frame")
        with open(path, "rb") as f:
            return f.read()

    def _info(self):
        gc.collect()
        free = gc.mem_free() if hasattr(gc, "mem_free") else 0
        used = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
        fs_total = fs_free = 0
        try:
            st = os.statvfs(".")
            fs_total = st[1] * st[2]
            fs_free = st[1] * st[4]
        except (OSError, AttributeError):
            pass
        impl = sys.implementation
        machine = getattr(impl, "_machine", "")
        try:
            machine = machine or os.uname().machine
        except AttributeError:
            pass
        try:
            with open("lib/micronn/.stamp") as f:
                stamp = f.read()
        except OSError:
            stamp = ""
        try:
            from micronn import backends

            # available() sees a _micronn.mpy copied since import; an older runtime lacks it
            names = ",".join(getattr(backends, "available", lambda: backends.AVAILABLE)())
        except Exception as e:  # a missing or broken runtime is reported, not fatal
            names = "unavailable (" + type(e).__name__ + ": " + str(e) + ")"
        version = ".".join(str(v) for v in impl.version[:3])
        text = "\0".join((impl.name, version, sys.platform, machine, stamp, names))
        mpy = getattr(impl, "_mpy", 0)
        return struct.pack("<IIIQQ", mpy, free, free + used, fs_free, fs_total) + text.encode()

    def _load(self, p):
        import micronn

        self.net = None
        gc.collect()
        backend = str(p[1 : 1 + p[0]], "utf-8")
        path = str(p[1 + p[0] :], "utf-8")
        net = micronn.load(path, backend)
        if hasattr(net, "inputs"):  # only a net of several inputs or outputs has net.inputs
            net.close()
            raise Failed(
                "this model has several inputs or outputs; micronn run takes one of each: use "
                "micronn simulate, or net.predict((a, b), (y1, y2)) on the board"
            )
        n_in = 1
        for d in net.input_shape:
            n_in *= d
        n_out = 1
        for d in net.output_shape:
            n_out *= d
        from array import array

        self.x = bytearray(n_in)
        self.y = array("b", bytes(n_out))
        self.net = net
        self.reply = bytearray(self.size)
        shapes = tuple(net.input_shape) + tuple(net.output_shape)
        head = struct.pack(
            "<fifiBB",
            net.input_scale,
            net.input_zero_point,
            net.output_scale,
            net.output_zero_point,
            len(net.input_shape),
            len(net.output_shape),
        )
        for d in shapes:
            head += struct.pack("<H", d)
        return head + net.backend.encode()

    def _predict(self, p):
        if self.net is None:
            raise Failed("no model loaded")
        n_in = len(self.x)
        n_out = len(self.y)
        rows = len(p) // n_in
        if rows * n_in != len(p) or rows * n_out > self.size:
            raise Failed("bad input frame")
        for i in range(rows):
            self.x[:] = p[i * n_in : (i + 1) * n_in]
            self.net.predict(self.x, self.y)
            self.reply[i * n_out : (i + 1) * n_out] = self.y
        return memoryview(self.reply)[0 : rows * n_out]


def main(source_crc):
    # Paths from the host are relative to the board's root: "/" on a board, the folder of a
    # virtual board (the unix port, whose "/" is the host computer's).
    cwd = os.getcwd()
    if sys.platform != "linux":
        os.chdir("/")
    agent = Agent(source_crc)
    try:
        agent.serve()
    finally:
        agent.close()
        os.chdir(cwd)
