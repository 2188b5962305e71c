"""A virtual board: the MicroPython unix port on a pseudo-terminal, with a board's heap.

The VM runs on one pty; the user (pyserial, mpremote, a terminal) opens a second pty whose
path `port` names. A relay thread copies bytes between the two through a `Line`, which can
pace them at a UART baud rate and, in tests, damage them. The VM's current folder is the
board's filesystem, and `lib` is on its import path as `/lib` is on a board.

The VM's pty is in raw mode, as a board's USB or UART stream is: every byte value reaches
the program. When the VM exits (Ctrl-D at the REPL, or a crash) it is started again, as a
board reboots. `unplug()` cuts power: the VM is killed and the user's pty disappears;
`replug()` brings both back (the `port` path then names the new pty).
"""

import errno
import heapq
import itertools
import os
import pty
import selectors
import signal
import subprocess
import threading
import time
import tty
from pathlib import Path

from micronn.boards import load_board
from micronn.simulate import find_micropython

BITS_PER_BYTE = 10  # UART 8N1: start bit, 8 data bits, stop bit
PACE_CHUNK = 16  # bytes released together on a paced line (1.4 ms at 115200 baud)
READ_SIZE = 4096
IDLE_WAIT = 0.05  # seconds the relay sleeps when nothing is scheduled
START_TIMEOUT = 10.0  # seconds for the VM to print its REPL prompt
STOP_TIMEOUT = 5.0

ROMFS_BOOT = """\
import gc, sys, vfs
_image = open({image!r}, "rb").read()
vfs.mount(vfs.VfsRom(_image), "/rom")
_at = sys.path.index("lib")
sys.path[_at:_at] = ["/rom", "/rom/lib"]  # as mp_init() puts them, before the port's /lib
del _image, _at, gc, sys, vfs
"""
ROMFS_BOOT_BYTES = 4096  # the boot script's own objects, left in the heap
TO_BOARD = "to_board"
TO_HOST = "to_host"


class Line:
    """A perfect cable, optionally paced at `baud` (None: as fast as the ptys go).

    Subclasses change `carry` to damage bytes; it returns (bytes to send, seconds of stall
    before them). `on_data` is called for every chunk, before `carry`.
    """

    def __init__(self, baud=None):
        self.baud = baud

    def carry(self, direction: str, data: bytes):
        return data, 0.0

    def byte_time(self) -> float:
        return BITS_PER_BYTE / self.baud if self.baud else 0.0


class _Direction:
    """Bytes in flight one way: a time-ordered schedule and where the line is free again."""

    def __init__(self):
        self.schedule = []  # heap of (release time, order, bytes)
        self.pending = b""  # released but not yet accepted by the pty
        self.line_free = 0.0
        self.order = itertools.count()

    def clear(self):
        self.schedule.clear()
        self.pending = b""


class VirtualBoard:
    """The VM on a pty with `board`'s heap (or `heap_bytes`), files in `folder`; use as a
    context manager. register: list it for `micronn devs` and a command without --port while it
    runs (micronn.ports' registry of virtual boards)."""

    def __init__(
        self,
        board="rp2040",
        folder=None,
        line=None,
        micropython=None,
        heap_bytes=None,
        register=False,
        romfs=None,
    ):
        self.profile = load_board(board)
        self.romfs = romfs  # bytes of a ROMFS image the board mounts at /rom, or None
        self._register = register
        self._entry = None  # its registry file while registered
        self.heap_bytes = self.profile.heap_bytes if heap_bytes is None else int(heap_bytes)
        self.folder = Path(folder) if folder else None
        self.line = line or Line()
        self._executable = find_micropython(micropython)
        self._selector = selectors.DefaultSelector()
        self._lock = threading.RLock()
        self._directions = {TO_BOARD: _Direction(), TO_HOST: _Direction()}
        self._vm = None
        self._vm_fd = None
        self._host_fd = None
        self._host_slave_fd = None
        self.port = None
        self._running = False
        self._powered = False
        self._thread = None
        self._temporary = None
        self.reboots = 0

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self.folder is None:
            import tempfile

            self._temporary = tempfile.TemporaryDirectory(prefix="micronn-board-")
            self.folder = Path(self._temporary.name)
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.romfs is not None:
            self._mount_romfs()
        self._running = True
        self.replug()
        self._thread = threading.Thread(target=self._relay, name="virtual-board", daemon=True)
        self._thread.start()
        if self._register:
            from micronn.ports import register_virtual_board

            self._entry = register_virtual_board(self.port, self.profile.name, self.folder)
        return self

    def stop(self):
        if self._entry is not None:
            self._entry.unlink(missing_ok=True)
            self._entry = None
        self._running = False
        self.unplug()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None
        self._selector.close()
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def unplug(self):
        """Power cut: the VM dies wherever it is and the host's port goes away."""
        with self._lock:
            self._powered = False
            self._kill_vm()
            for fd in (self._host_fd, self._host_slave_fd):
                if fd is not None:
                    self._forget(fd)
                    os.close(fd)
            self._host_fd = self._host_slave_fd = None
            for direction in self._directions.values():
                direction.clear()

    def replug(self):
        """Power back: a fresh VM on the same files and a new host-side pty at `port`."""
        with self._lock:
            self._host_fd, self._host_slave_fd = pty.openpty()
            tty.setraw(self._host_slave_fd)
            os.set_blocking(self._host_fd, False)
            self.port = os.ttyname(self._host_slave_fd)
            self._selector.register(self._host_fd, selectors.EVENT_READ, TO_BOARD)
            self._start_vm()
            self._powered = True

    # -- the VM -----------------------------------------------------------------------------

    def _start_vm(self):
        master, slave = pty.openpty()
        tty.setraw(slave)
        env = dict(os.environ, MICROPYPATH=".frozen:lib")
        heap = self.heap_bytes + (self._held if self.romfs is not None else 0)
        command = [self._executable, "-X", f"heapsize={heap}"]
        if self.romfs is not None:
            command += ["-i", self._boot]
        self._vm = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=self.folder,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        os.set_blocking(master, False)
        self._vm_fd = master
        self._selector.register(master, selectors.EVENT_READ, TO_HOST)

    def _mount_romfs(self):
        """Write the image and a boot script outside the board's filesystem: the VM runs the
        script first (-i), which mounts the image at /rom and puts /rom and /rom/lib on the path
        before lib, as a board with a ROMFS partition does. The image's bytes live in the VM's heap,
        which is made that much larger (a board keeps them in flash)."""
        import tempfile

        from micronn.romfs_vm import held_bytes

        self._romfs_folder = tempfile.TemporaryDirectory(prefix="micronn-board-romfs-")
        folder = Path(self._romfs_folder.name)
        (folder / "image.romfs").write_bytes(self.romfs)
        self._boot = str(folder / "boot.py")
        Path(self._boot).write_text(ROMFS_BOOT.format(image=str(folder / "image.romfs")))
        self._held = held_bytes(len(self.romfs), 32) + ROMFS_BOOT_BYTES

    def _kill_vm(self):
        if self._vm is not None:
            if self._vm.poll() is None:
                os.killpg(self._vm.pid, signal.SIGKILL)
            self._vm.wait(STOP_TIMEOUT)
            self._vm = None
        if self._vm_fd is not None:
            self._forget(self._vm_fd)
            os.close(self._vm_fd)
            self._vm_fd = None

    def _forget(self, fd):
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def _reboot_if_exited(self):
        if self._powered and self._vm is not None and self._vm.poll() is not None:
            self._kill_vm()
            self._directions[TO_BOARD].clear()
            self._start_vm()
            self.reboots += 1

    # -- the relay --------------------------------------------------------------------------

    def _relay(self):
        while self._running:
            with self._lock:
                self._reboot_if_exited()
                timeout = self._release_due(time.monotonic())
            events = self._selector.select(timeout) if self._selector.get_map() else []
            if not events and not self._selector.get_map():
                time.sleep(IDLE_WAIT)
            with self._lock:
                for key, _ in events:
                    self._read(key.fd, key.data)

    def _read(self, fd, direction):
        if fd not in (self._vm_fd, self._host_fd):
            return  # closed by unplug() since select() returned
        try:
            data = os.read(fd, READ_SIZE)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return
            data = b""
        if not data:
            if fd == self._vm_fd:
                self._forget(fd)  # the VM closed its side; _reboot_if_exited restarts it
            return
        self._schedule(direction, data, time.monotonic())

    def _schedule(self, name, data, now):
        data, stall = self.line.carry(name, data)
        if not data:
            return
        direction = self._directions[name]
        start = max(now, direction.line_free) + stall
        per_byte = self.line.byte_time()
        if per_byte == 0.0:
            heapq.heappush(direction.schedule, (start, next(direction.order), data))
            direction.line_free = start
            return
        for offset in range(0, len(data), PACE_CHUNK):
            piece = data[offset : offset + PACE_CHUNK]
            release = start + (offset + len(piece)) * per_byte
            heapq.heappush(direction.schedule, (release, next(direction.order), piece))
        direction.line_free = start + len(data) * per_byte

    def _release_due(self, now):
        """Write every chunk whose time has come; return seconds until the next one."""
        wait = IDLE_WAIT
        for name, direction in self._directions.items():
            fd = self._vm_fd if name == TO_BOARD else self._host_fd
            while direction.schedule and direction.schedule[0][0] <= now:
                direction.pending += heapq.heappop(direction.schedule)[2]
            if direction.pending and fd is not None:
                direction.pending = direction.pending[self._write(fd, direction.pending) :]
            if direction.pending:
                wait = min(wait, 0.001)
            elif direction.schedule:
                wait = min(wait, max(0.0, direction.schedule[0][0] - now))
        return wait

    @staticmethod
    def _write(fd, data) -> int:
        try:
            return os.write(fd, data)
        except BlockingIOError:
            return 0
        except OSError:
            return len(data)  # nobody on the other side: the bytes are lost, as on a cable
