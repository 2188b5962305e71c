"""Randomized faulty transfers: whatever the line does, the board holds the old model or the
new one, whole, and a successful flash always means the new one.

`make test` runs a sample; `make test-long` (marker `long`) runs 100 transfers.
"""

import time
from collections import Counter

import numpy as np
import pytest
from serial_helpers import FaultyLine, model_bytes, random_faults

from micronn import session, transport_serial
from micronn.flash import flash
from micronn.transport import TransportError
from micronn.virtual_board import VirtualBoard

TO_HOST_SPAN = 400  # reply bytes in a flash: REPL banners, HELLO, a dozen short replies
PROTOCOL_SPAN = 1500  # request bytes besides the model: raw REPL, launcher, small requests


@pytest.fixture(autouse=True)
def quick_timeouts(monkeypatch):
    """The VM answers within milliseconds: shorter waits keep the many lost replies cheap."""
    monkeypatch.setattr(session, "REPLY_TIMEOUT", 0.3)
    monkeypatch.setattr(session, "HELLO_TIMEOUT", 1.0)
    monkeypatch.setattr(transport_serial, "RAW_REPL_PROMPT_TIMEOUT", 0.5)
    monkeypatch.setattr(transport_serial, "RAW_PASTE_TIMEOUT", 1.0)


def _transfers(folder, seed: int, count: int) -> Counter:
    rng = np.random.default_rng(seed)
    paths = []
    for index, sizes in enumerate(((40, 64, 10), (64, 96, 32, 10))):
        path = folder / f"model{index}.mnq"
        path.write_bytes(model_bytes(folder, sizes, seed=seed + index))
        paths.append(path)
    versions = [path.read_bytes() for path in paths]
    line = FaultyLine()
    outcomes = Counter()
    with VirtualBoard("rp2040", folder=folder / "board", line=line) as board:
        line.board = board
        flash(board.port, paths[0], name="m")  # a clean start: runtime and the first model
        target = board.folder / "models" / "m.mnq"
        current = 0
        for _ in range(count):
            new = 1 - current
            line.arm(random_faults(rng, len(versions[new]) + PROTOCOL_SPAN, TO_HOST_SPAN))
            started = time.monotonic()
            try:
                flash(board.port, paths[new], name="m")
                succeeded = True
            except TransportError:
                succeeded = False
            if line.unplugged:
                board.replug()
            applied = line.applied
            line.arm([])
            outcomes["seconds"] += round(time.monotonic() - started, 1)
            on_board = target.read_bytes()
            assert on_board in (versions[current], versions[new]), "partial or corrupt model"
            if succeeded:
                assert on_board == versions[new], "flash reported success for the old model"
            current = versions.index(on_board)
            outcomes["succeeded" if succeeded else "failed"] += 1
            outcomes["faults"] += len(applied)
            outcomes["unplugs"] += sum(fault.kind == "unplug" for fault in applied)
        # After all that, a clean flash still works and leaves no debris but a resumable part.
        flash(board.port, paths[1 - current], name="m")
        assert target.read_bytes() == versions[1 - current]
        assert not list(board.folder.rglob("*.bak"))
    print(f"seed {seed}: {dict(outcomes)}")
    return outcomes


@pytest.mark.parametrize("seed", [11, 12])
def test_faulty_transfers_sample(tmp_path, seed):
    outcomes = _transfers(tmp_path, seed, count=5)
    assert outcomes["succeeded"] + outcomes["failed"] == 5
    assert outcomes["faults"] >= 5


@pytest.mark.long
@pytest.mark.parametrize("seed", range(100, 110))
def test_faulty_transfers_long(tmp_path, seed):
    outcomes = _transfers(tmp_path, seed, count=10)
    assert outcomes["succeeded"] + outcomes["failed"] == 10
