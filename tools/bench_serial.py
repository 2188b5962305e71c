"""`make bench-serial`: micronn flash against mpremote cp on virtual boards.

Prints, for a ~200 KB model: payload bytes / bytes written to the port (counted by the virtual
board's relay, the same way for both tools), and the seconds a transfer takes on a line
paced at 115200 baud against the line's theoretical time (model bytes x 10 bits / baud).
The runtime is installed first, so the figures are for a model upload (a re-flash).
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import micronn
from micronn.flash import flash
from micronn.virtual_board import TO_BOARD, Line, VirtualBoard

BAUD = 115200
LAYERS = (200, 512, 180, 10)  # about 196 KB of int8 weights
MPREMOTE_TIMEOUT = 600


class CountingLine(Line):
    """A line that counts the bytes the host writes towards the board."""

    def __init__(self, baud=None):
        super().__init__(baud)
        self.to_board = 0

    def carry(self, direction, data):
        if direction == TO_BOARD:
            self.to_board += len(data)
        return data, 0.0


def make_model(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"input_shape": np.array([LAYERS[0]])}
    for i, (fan_in, fan_out) in enumerate(zip(LAYERS, LAYERS[1:], strict=False)):
        arrays[f"layer{i}_weight"] = rng.normal(0, 1 / np.sqrt(fan_in), (fan_out, fan_in))
        arrays[f"layer{i}_bias"] = rng.normal(0, 0.1, fan_out)
        last = i == len(LAYERS) - 2
        arrays[f"layer{i}_activation"] = np.array("none" if last else "relu")
    np.savez(folder / "bench.npz", **arrays)
    calibration = rng.uniform(-1, 1, (32, LAYERS[0])).astype(np.float32)
    path = folder / "bench.mnq"
    micronn.convert(folder / "bench.npz", output=path, calibration=calibration)
    return path


def micronn_upload(model: Path, baud=None):
    line = CountingLine(baud)
    with VirtualBoard("rp2040", line=line) as board:
        flash(board.port, model, name="warmup")  # installs the runtime
        line.to_board = 0
        started = time.monotonic()
        report = flash(board.port, model)
        seconds = time.monotonic() - started
        assert (board.folder / report.board_path).read_bytes() == model.read_bytes()
    return line.to_board, seconds


def mpremote_upload(model: Path, baud=None):
    mpremote = shutil.which("mpremote") or str(Path(sys.executable).parent / "mpremote")
    line = CountingLine(baud)
    with VirtualBoard("rp2040", line=line) as board:
        started = time.monotonic()
        subprocess.run(
            [mpremote, "connect", board.port, "resume", "fs", "cp", str(model), ":bench.mnq"],
            check=True,
            capture_output=True,
            timeout=MPREMOTE_TIMEOUT,
        )
        seconds = time.monotonic() - started
        assert (board.folder / "bench.mnq").read_bytes() == model.read_bytes()
    return line.to_board, seconds


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="micronn-bench-") as scratch:
        model = make_model(Path(scratch))
        size = model.stat().st_size
        line_time = size * 10 / BAUD
        print(f"serial upload of a {size} B model to a virtual rp2040 board")
        print()
        print("payload / bytes written to the port (unpaced line)")
        rows = []
        for tool, upload in (("micronn flash", micronn_upload), ("mpremote cp", mpremote_upload)):
            written, _ = upload(model)
            rows.append((tool, written))
            print(f"  {tool:14s} {written:9d} B written   ratio {size / written:.3f}")
        print()
        print(f"seconds at {BAUD} baud (line's theoretical time for the model: {line_time:.2f} s)")
        for tool, upload in (("micronn flash", micronn_upload), ("mpremote cp", mpremote_upload)):
            _, seconds = upload(model, BAUD)
            print(f"  {tool:14s} {seconds:7.2f} s   {seconds / line_time:.3f} x theoretical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
