"""No --port: flash, run and info find the one board (a registered virtual board); with two they
list both and ask for --port; `micronn devs` lists them; stale registry entries are dropped."""

import json

import numpy as np
import pytest
from serial_helpers import model_bytes

from micronn.cli import main
from micronn.ports import REGISTRY_ENV, Candidate, choose_port, virtual_boards
from micronn.virtual_board import VirtualBoard


@pytest.fixture
def registry(tmp_path, monkeypatch):
    folder = tmp_path / "registry"
    monkeypatch.setenv(REGISTRY_ENV, str(folder))
    return folder


def test_one_virtual_board_is_found_without_port(registry, tmp_path, capsys):
    model = tmp_path / "small.mnq"
    model.write_bytes(model_bytes(tmp_path, (8, 6, 4), seed=1))
    np.save(tmp_path / "x.npy", np.zeros((2, 8), np.int8))
    with VirtualBoard("rp2040", register=True) as board:
        assert main(["devs"]) == 0
        out = capsys.readouterr().out
        assert board.port in out and "virtual rp2040 board" in out
        assert main(["flash", str(model)]) == 0
        flashed = capsys.readouterr()
        assert f"{board.port}: ok: models/small.mnq" in flashed.out
        assert f"{board.port}: flash 100%" in flashed.err and "ETA" in flashed.err
        assert main(["run", "--input", str(tmp_path / "x.npy")]) == 0
        assert f"on {board.port}" in capsys.readouterr().out
        assert main(["info"]) == 0
        info = capsys.readouterr().out
        assert "small.mnq (" in info and f"on {board.port}" in info and " KiB free of " in info
    assert not list(registry.glob("*.json"))  # stopping the board removes its entry
    assert main(["info"]) == 1
    assert "no MicroPython board found" in capsys.readouterr().err


def test_two_boards_are_listed_and_port_is_asked_for(registry, capsys):
    with VirtualBoard("rp2040", register=True) as one, VirtualBoard("esp32", register=True) as two:
        for verb in (["info"], ["flash", "m.mnq"], ["run", "--input", "x.npy"]):
            assert main(verb) == 1
            err = capsys.readouterr().err
            assert (
                err.count("\n") == 1 and "2 boards found" in err and "choose one with --port" in err
            )
            assert one.port in err and two.port in err


def test_stale_entries_are_dropped(registry):
    registry.mkdir()
    (registry / "1-gone.json").write_text(
        json.dumps({"port": "/dev/pts/nowhere", "board": "rp2040", "pid": 1})
    )
    (registry / "2-bad.json").write_text("{")
    assert virtual_boards() == []
    assert not (registry / "1-gone.json").exists()


def test_choose_port_takes_only_a_single_candidate():
    usb = Candidate("/dev/ttyACM0", "MicroPython board (RP2040 / RP2350) [2e8a:0005]", "usb", True)
    assert choose_port([usb]) == "/dev/ttyACM0"
    with pytest.raises(ValueError, match="2 boards found: /dev/ttyACM0"):
        choose_port([usb, Candidate("/dev/ttyUSB0", "CH340", "usb", True)])
