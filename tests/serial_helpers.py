"""Helpers for the serial tests: models of a chosen size and a line that damages bytes.

FaultyLine plugs into the virtual board's relay (micronn.virtual_board.Line) and applies
faults at chosen byte positions of each direction's stream: flipped bits, dropped bytes,
stalls, a cut (a burst of lost bytes) and an unplug (power cut: the VM is killed and the
host's port disappears).
"""

import threading
from dataclasses import dataclass
from pathlib import Path

from small_models import calibration_inputs, write_dense_npz

import micronn
from micronn.virtual_board import TO_BOARD, TO_HOST, Line

FLIP, DROP, STALL, CUT, UNPLUG = "flip", "drop", "stall", "cut", "unplug"


def model_bytes(folder: Path, sizes, seed=0) -> bytes:
    """A valid .mnq container of a dense stack with layer `sizes`."""
    npz = write_dense_npz(Path(folder) / f"dense-{seed}.npz", sizes, seed=seed)
    return micronn.convert(npz, calibration=calibration_inputs(sizes[0]))


@dataclass(frozen=True)
class Fault:
    direction: str
    position: int  # byte offset in that direction's stream since arm()
    kind: str
    amount: float = 0  # bit index, byte count or seconds


def random_faults(rng, to_board_bytes: int, to_host_bytes: int, unplug_chance=0.15) -> list:
    """1-4 faults per direction at random positions, at most one unplug (towards the board)."""
    faults = []
    for direction, span in ((TO_BOARD, to_board_bytes), (TO_HOST, to_host_bytes)):
        for _ in range(int(rng.integers(1, 5))):
            kind = str(rng.choice([FLIP, FLIP, DROP, STALL, CUT]))
            amount = {
                FLIP: int(rng.integers(0, 8)),
                DROP: int(rng.integers(1, 4)),
                STALL: float(rng.uniform(0.1, 1.5)),
                CUT: int(rng.integers(20, 600)),
            }[kind]
            faults.append(Fault(direction, int(rng.integers(0, span)), kind, amount))
    if rng.random() < unplug_chance:
        faults.append(Fault(TO_BOARD, int(rng.integers(0, to_board_bytes)), UNPLUG))
    return faults


class FaultyLine(Line):
    """A Line that applies armed faults; `board` is told to unplug when an UNPLUG comes."""

    def __init__(self, baud=None):
        super().__init__(baud)
        self.board = None
        self._lock = threading.Lock()
        self.arm([])

    def arm(self, faults) -> None:
        with self._lock:
            self._faults = sorted(faults, key=lambda f: f.position)
            self._seen = {TO_BOARD: 0, TO_HOST: 0}
            self._cut_left = {TO_BOARD: 0, TO_HOST: 0}
            self.applied = []
            self.unplugged = False

    def carry(self, direction, data):
        with self._lock:
            if self.unplugged:
                return b"", 0.0
            start = self._seen[direction]
            self._seen[direction] = start + len(data)
            out = bytearray(data)
            stall = 0.0
            due = [
                f
                for f in self._faults
                if f.direction == direction and start <= f.position < start + len(data)
            ]
            for fault in sorted(due, key=lambda f: -f.position):
                self._faults.remove(fault)
                self.applied.append(fault)
                offset = fault.position - start
                if fault.kind == FLIP and offset < len(out):
                    out[offset] ^= 1 << int(fault.amount)
                elif fault.kind == DROP:
                    del out[offset : offset + int(fault.amount)]
                elif fault.kind == STALL:
                    stall += fault.amount
                elif fault.kind == CUT:
                    lost = len(out) - offset
                    del out[offset:]
                    self._cut_left[direction] = max(0, int(fault.amount) - lost)
                elif fault.kind == UNPLUG:
                    self.unplugged = True
            if self.unplugged:
                self.board.unplug()
                return b"", 0.0
            skip = min(self._cut_left[direction], len(out)) if not due else 0
            if skip:
                self._cut_left[direction] -= skip
                del out[:skip]
            return bytes(out), stall
