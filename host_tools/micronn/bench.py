"""On-board timing: µs per predict on every backend a board (or the VM) has, its peak heap and
where the weights lived. The same device script (device_scripts/bench_runner.py) runs on a board
through the raw REPL, after `micronn flash` has put the model there, and on the VM.

Timing is the board's own time.ticks_us around a loop of predicts (at least 3, about
SECONDS_PER_BACKEND in all), after one untimed predict; nothing is timed on the host.
"""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from micronn.boards import load_board
from micronn.precompiled import precompiled_package
from micronn.resources import device_package_dir, device_script
from micronn.simulate import SimulationError, find_micropython

SCRIPT = "bench_runner.py"
SECONDS_PER_BACKEND = 0.5
BENCH_TIMEOUT = 120.0  # seconds for the whole script on a board (every backend)
VM_TIMEOUT = 300


@dataclass(frozen=True)
class BenchRow:
    backend: str
    us_per_predict: float  # 0 when the backend failed
    peak_heap: int  # the largest live heap while loading and after a predict
    weights: str  # where the weights lived: ram, stream or rom
    heap_total: int  # the board's GC heap
    error: str = ""


def bench_script(path: str, weights: str = "auto", seconds: float = SECONDS_PER_BACKEND) -> str:
    """The device script with its arguments."""
    head = f"BENCH = ({path!r}, {weights!r}, {float(seconds)!r})\n"
    return head + device_script(SCRIPT).read_text(encoding="utf-8")


def parse_rows(output: str) -> list:
    """The BenchRows of the script's JSON lines (other output is ignored)."""
    rows = []
    for line in output.splitlines():
        if not line.startswith("["):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if len(item) == 2:
            rows.append(BenchRow(str(item[0]), 0.0, 0, "", 0, str(item[1])))
        elif len(item) == 5:
            name, us, peak, weights, total = item
            rows.append(BenchRow(str(name), float(us), int(peak), str(weights), int(total)))
    if not rows:
        raise ValueError(f"the bench printed no results: {output.strip()[-200:]!r}")
    return rows


def bench_board(port, model_path, *, weights="auto", baudrate=115200, stop=None, name=None):
    """Flash the model (and the runtime, if needed), then time it on the board; (FlashReport,
    [BenchRow])."""
    from micronn.flash import flash
    from micronn.transport_serial import SerialTransport

    report = flash(port, model_path, name=name, baudrate=baudrate, stop=stop)
    with SerialTransport(port, baudrate=baudrate) as transport:
        transport.stop = stop
        transport.enter_raw_repl()
        try:
            output = transport.exec_output(bench_script(report.board_path, weights), BENCH_TIMEOUT)
        finally:
            transport.leave_raw_repl()
    return report, parse_rows(output)


def bench_vm(data: bytes, board="rp2040", *, weights="auto", micropython=None, precompiled=True):
    """Time the model on the MicroPython unix VM with the board's heap: [BenchRow]."""
    profile = load_board(board)
    executable = find_micropython(micropython)
    package = precompiled_package(executable) if precompiled else device_package_dir().parent
    with tempfile.TemporaryDirectory(prefix="micronn-bench-") as workdir:
        work = Path(workdir)
        (work / "model.mnq").write_bytes(data)
        (work / "bench.py").write_text(bench_script("model.mnq", weights))
        done = subprocess.run(
            [executable, "-X", f"heapsize={profile.heap_bytes}", "bench.py"],
            cwd=work,
            env=dict(os.environ, MICROPYPATH=str(package)),
            capture_output=True,
            text=True,
            timeout=VM_TIMEOUT,
        )
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise SimulationError(f"the bench failed on the VM: {last[0]}")
    return parse_rows(done.stdout)


def bench_table(rows) -> list:
    """The rows as a table: backend, µs per predict, speed against python, peak heap, weights."""
    from micronn.report import format_table

    python = next((r.us_per_predict for r in rows if r.backend == "python" and not r.error), 0)
    table = []
    for row in rows:
        if row.error:
            table.append((row.backend, "-", "-", "-", "-", row.error[:70]))
            continue
        speed = f"{python / row.us_per_predict:.1f}x" if python and row.us_per_predict else "-"
        heap = f"{row.peak_heap / 1024:.1f} KiB of {row.heap_total / 1024:.0f} KiB"
        table.append((row.backend, f"{row.us_per_predict:,.0f}", speed, heap, row.weights, ""))
    header = ("backend", "us/predict", "vs python", "peak heap", "weights", "note")
    return format_table(header, table)
