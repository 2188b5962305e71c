# micronn board agent, files part: OPEN START DATA COMMIT REMOVE MKDIR LIST READ INFO.
# Runs on the board (MicroPython), imported by the core (board_agent.py) at the first of these
# requests; `files_request(agent, kind, payload)` answers one, with the core's buffers.
#
# An upload goes to PATH.part; COMMIT checks the whole file's hash, then renames it over PATH (if
# rename cannot replace, PATH is first renamed to PATH.bak, removed only once the new file is in
# place; the next OPEN of PATH restores PATH.bak if PATH is missing).
# ruff: noqa: F821
import gc
import os
import struct
import sys
from binascii import crc32

try:
    from hashlib import sha256
except ImportError:
    sha256 = None
if "Failed" not in globals():  # installed as a module (pasted, the core's is defined above)
    from micronn_agent import Failed

_EIO = const(5)
_ENOENT = const(2)
_ENOSPC = const(28)
_EFBIG = const(27)


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


def _open(a, p):
    a.close_file()
    size, flags, hash_kind = struct.unpack_from("<IBB", p)
    digest_len = 32 if hash_kind == _HASH_SHA256 else 4
    if hash_kind == _HASH_SHA256 and sha256 is None:
        raise Failed("no sha256 on this board")
    a.expect = bytes(p[6 : 6 + digest_len])
    a.hash_kind = hash_kind
    a.path = str(p[6 + digest_len :], "utf-8")
    a.total = size
    a.swap = flags & _OPEN_SWAP
    a.tmp = a.path + ".part"
    _recover(a.path)
    have = _size(a.tmp)
    if have > size:
        os.remove(a.tmp)
        have = -1
    have = max(have, 0)
    crc = 0
    if have:
        with open(a.tmp, "rb") as f:
            left = have
            while left:
                k = f.readinto(a.mv[0 : min(left, a.size)])
                if not k:
                    break
                crc = crc32(a.mv[0:k], crc)
                left -= k
    free = _free_bytes(a.path)
    if free >= 0 and free < size - have:
        raise OSError(_ENOSPC, f"need {size - have} bytes, {free} free")
    return struct.pack("<IIq", have, crc, free)


def _start(a, offset):
    a.close_file()
    if offset == 0:
        a.file = open(a.tmp, "wb")
    elif offset == _size(a.tmp):
        a.file = open(a.tmp, "ab")
    else:
        raise Failed(f"cannot resume at {offset}")
    a.done = offset
    return struct.pack("<I", offset)


def _data(a, p):
    offset = struct.unpack_from("<I", p)[0]
    if a.file is None:
        raise Failed("no upload open")
    if offset == a.done:
        k = len(p) - 4
        if a.done + k > a.total:
            raise Failed("more data than announced")
        a.file.write(p[4:])
        a.done += k
    return struct.pack("<I", a.done)


def _commit(a):
    a.close_file()
    if _size(a.tmp) != a.total:
        raise Failed(f"size {_size(a.tmp)}, expected {a.total}")
    h = sha256() if a.hash_kind == _HASH_SHA256 else None
    crc = 0
    with open(a.tmp, "rb") as f:
        while True:
            k = f.readinto(a.buf)
            if not k:
                break
            if h is None:
                crc = crc32(a.mv[0:k], crc)
            else:
                h.update(a.mv[0:k])
    got = h.digest() if h is not None else struct.pack("<I", crc)
    if got != a.expect:
        os.remove(a.tmp)
        raise OSError(_EIO, "whole-file hash differs; the temporary file was removed")
    _replace(a.tmp, a.path, a.swap)
    return b""


def _mkdir(path):
    part = ""
    for name in path.split("/"):
        part = part + "/" + name if part else name
        if not _exists(part):
            os.mkdir(part)
    return b""


def _list(a, path):
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
        if len(out) + len(item) > a.size:
            out[0] = 1
            break
        out += item
    return out


def _read(a, path):
    size = _size(path)
    if size < 0:
        raise OSError(_ENOENT)
    if size > a.size:
        raise OSError(_EFBIG, "file larger than a frame")
    with open(path, "rb") as f:
        return f.read()


def _remove_file(path):
    if not _exists(path):
        raise OSError(_ENOENT)
    os.remove(path)
    _remove(path + ".part")
    _remove(path + ".bak")
    return b""


def _info():
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


def files_request(a, kind, p):
    if kind == _DATA:
        return _data(a, p)
    if kind == _OPEN:
        return _open(a, p)
    if kind == _START:
        return _start(a, struct.unpack_from("<I", p)[0])
    if kind == _COMMIT:
        return _commit(a)
    if kind == _INFO:
        return _info()
    path = str(p, "utf-8")
    if kind == _REMOVE:
        return _remove_file(path)
    if kind == _MKDIR:
        return _mkdir(path)
    if kind == _LIST:
        return _list(a, path)
    return _read(a, path)
