"""The command line's progress report for a flash: one bar per board for the whole job (the
runtime's files and the model together) with its rate and ETA, on stderr.

On a terminal the bar updates in place (one line per board for a fleet: a line at each quarter).
In a log or a pipe it prints a plain line at each quarter of the job instead; with --quiet,
nothing. flash.py tells it every file the job will send (expect) before the file's bytes
arrive (__call__), so the total is known early and the bar never runs backwards.
"""

import sys
import time

BAR_WIDTH = 30
STEP = 0.25  # plain lines (and fleet lines) at each quarter


def _kib(count: int) -> str:
    return f"{count / 1024:.1f}"


def _eta(seconds: float) -> str:
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.0f} s"


class _Job:
    def __init__(self):
        self.sizes = {}  # file -> bytes to send
        self.done = {}  # file -> bytes confirmed
        self.started = time.monotonic()
        self.step = -1

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    @property
    def sent(self) -> int:
        return sum(self.done.values())


class FlashProgress:
    """progress(port, file, done, total) and expect(port, {file: bytes}) for flash_fleet."""

    def __init__(self, fleet: bool, quiet: bool = False, stream=None):
        self._stream = stream or sys.stderr
        self._fleet = fleet
        self._quiet = quiet
        self._live = not quiet and self._stream.isatty()
        self._jobs = {}
        self._open_line = False  # an updating line without its newline yet

    def _job(self, port) -> _Job:
        return self._jobs.setdefault(port, _Job())

    def expect(self, port, files) -> None:
        self._job(port).sizes.update(files)

    def end_line(self) -> None:
        """Finish an updating line, so that a message after it starts on a line of its own."""
        if self._open_line:
            print(file=self._stream, flush=True)
            self._open_line = False

    def __call__(self, port, label, done, total):
        if self._quiet:
            return
        job = self._job(port)
        job.sizes.setdefault(label, total)
        job.done[label] = done
        sent, whole = job.sent, max(job.total, 1)
        share = min(sent / whole, 1.0)
        elapsed = max(time.monotonic() - job.started, 1e-6)
        rate = sent / elapsed
        eta = "0 s" if sent >= whole else _eta((whole - sent) / rate) if rate > 0 else "?"
        figures = f"{share:4.0%} {_kib(sent)}/{_kib(whole)} KiB {rate / 1024:6.1f} KiB/s ETA {eta}"
        if self._live and not self._fleet:
            bar = "#" * int(share * BAR_WIDTH)
            finished = sent >= whole
            line = f"\rflash [{bar:<{BAR_WIDTH}}] {figures}  {label[-28:]:<28}"
            print(line, end="\n" if finished else "", file=self._stream, flush=True)
            self._open_line = not finished
            return
        step = int(share / STEP)
        if step == job.step:
            return
        job.step = step
        print(f"{port}: flash {figures}", file=self._stream, flush=True)
