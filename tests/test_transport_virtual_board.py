"""flash / run / info / ls / rm against the MicroPython VM through a real pty and pyserial."""

import struct
import time

import numpy as np
import pytest
from reference_models import slow_cnn
from serial_helpers import UNPLUG, Fault, FaultyLine, model_bytes

from micronn import agent_code, cli, container, framing, reference, transport_serial
from micronn.flash import flash
from micronn.remote import describe, list_models, remove_model, run
from micronn.runtime import STAMP_PATH, decode_mpy
from micronn.session import _board_error
from micronn.simulate import simulate
from micronn.transport import BoardError, NotInReplError, PortError
from micronn.transport_serial import SerialTransport
from micronn.virtual_board import TO_BOARD, Line, VirtualBoard


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    small = folder / "small.mnq"
    small.write_bytes(model_bytes(folder, (8, 6, 4), seed=1))
    wide = folder / "wide.mnq"
    wide.write_bytes(model_bytes(folder, (48, 96, 64, 10), seed=2))
    return small, wide


@pytest.fixture
def board():
    with VirtualBoard("rp2040") as vb:
        yield vb


def _codes(size, rows, seed=3):
    return np.random.default_rng(seed).integers(-128, 128, (rows, size)).astype(np.int8)


def test_flash_then_run_matches_simulate(board, models):
    _, wide = models
    report = flash(board.port, wide)
    data = wide.read_bytes()
    assert (board.folder / "models" / "wide.mnq").read_bytes() == data
    assert report.runtime.installed and report.runtime.mpy_files == report.runtime.files
    assert not list(board.folder.rglob("*.part"))
    x = _codes(48, 40)
    result = run(board.port, x)
    expected = simulate(data, x, board="rp2040").outputs
    assert result.outputs.dtype == np.int8
    np.testing.assert_array_equal(result.outputs, expected)
    floats = np.random.default_rng(5).uniform(-1, 1, (3, 48)).astype(np.float32)
    np.testing.assert_array_equal(run(board.port, floats).outputs, simulate(data, floats).outputs)


def test_an_input_row_longer_than_a_frame_goes_in_parts(board, tmp_path):
    """person_detect's 9216-byte rows: written into the model's input (INPUT), then run."""
    path = tmp_path / "long.mnq"
    path.write_bytes(model_bytes(tmp_path, (5000, 4), seed=4))
    flash(board.port, path)
    x = _codes(5000, 3)
    result = run(board.port, x, backend="python")
    np.testing.assert_array_equal(result.outputs, simulate(path.read_bytes(), x).outputs)


def test_a_predict_longer_than_the_idle_time_does_not_end_the_session(tmp_path, monkeypatch):
    """The agent's idle time counts from its last answer: person_detect's 35 s predicts on an
    emulated Cortex-M3 came back to back, and the row after the first found the agent gone."""
    monkeypatch.setattr(agent_code, "IDLE_MS", 1000)
    agent_code._bodies.cache_clear()
    agent_code.pasted_source.cache_clear()
    try:
        model = slow_cnn()
        path = tmp_path / "slow.mnq"
        path.write_bytes(container.write(model))
        x = _codes(model.input.size, 2).reshape(2, *model.input.shape)
        with VirtualBoard("rp2040") as board:
            flash(board.port, path)
            started = time.monotonic()
            result = run(board.port, x, backend="python")  # a row per frame
            assert time.monotonic() - started > 2 * 1.0  # the predicts outlast the idle time
    finally:
        agent_code._bodies.cache_clear()
        agent_code.pasted_source.cache_clear()
    np.testing.assert_array_equal(result.outputs, reference.run(model, x))


def test_runtime_is_mpy_for_the_board_and_not_resent(board, models):
    small, wide = models
    flash(board.port, small)
    stamp = (board.folder / STAMP_PATH).read_text()
    runtime = sorted(p.name for p in (board.folder / "lib" / "micronn").iterdir())
    assert runtime and all(name.endswith(".mpy") or name == ".stamp" for name in runtime)
    header = (board.folder / "lib" / "micronn" / "net.mpy").read_bytes()[:4]
    assert header[0] == ord("M") and header[1] == 6  # .mpy version 6, as the VM reports
    second = flash(board.port, wide)
    assert not second.runtime.installed
    assert (board.folder / STAMP_PATH).read_text() == stamp
    # Without the runtime upload, only the model and a little protocol cross the wire.
    assert second.bytes_written < len(wide.read_bytes()) * 1.1


def test_info_ls_rm(board, models):
    small, _ = models
    flash(board.port, small, name="first")
    flash(board.port, small, name="second.mnq")
    report = describe(board.port)
    assert report.info.implementation == "micropython"
    assert decode_mpy(report.info.mpy).arch == "x64"
    assert report.info.runtime_stamp.startswith("micronn ")
    assert report.info.backends  # names, or why the device package cannot be imported
    assert 0 < report.info.heap_free < report.info.heap_total <= 196608
    assert [m.name for m in report.models] == ["first.mnq", "second.mnq"]
    assert remove_model(board.port, "first") == "models/first.mnq"
    assert [m.name for m in list_models(board.port)] == ["second.mnq"]
    with pytest.raises(BoardError, match="no such file"):
        remove_model(board.port, "first")


def test_interrupted_upload_resumes_and_keeps_the_old_model(models, tmp_path):
    small, wide = models
    line = FaultyLine()
    with VirtualBoard("rp2040", folder=tmp_path / "board", line=line) as board:
        line.board = board
        flash(board.port, small, name="m")
        old = small.read_bytes()
        new = wide.read_bytes()
        line.arm([Fault(TO_BOARD, len(new) // 2, UNPLUG)])
        with pytest.raises(PortError, match="went away"):
            flash(board.port, wide, name="m")
        board.replug()
        line.arm([])
        target = board.folder / "models" / "m.mnq"
        assert target.read_bytes() == old
        part = (board.folder / "models" / "m.mnq.part").read_bytes()
        assert 0 < len(part) < len(new) and new.startswith(part)
        report = flash(board.port, wide, name="m")
        assert report.resumed_from == len(part)
        assert target.read_bytes() == new


def test_a_damaged_resume_file_is_not_trusted(board, models):
    small, wide = models
    flash(board.port, small, name="m")
    new = wide.read_bytes()
    part = board.folder / "models" / "m.mnq.part"
    part.write_bytes(b"\0" * 3000)  # not a prefix of the new model
    report = flash(board.port, wide, name="m")
    assert report.resumed_from == 0
    assert (board.folder / "models" / "m.mnq").read_bytes() == new


def test_rename_aside_replacement_and_recovery(board, models):
    small, wide = models
    flash(board.port, small, name="m")
    with SerialTransport(board.port) as transport, transport.session() as session:
        session.upload("models/m.mnq", wide.read_bytes(), swap=True)
    target = board.folder / "models" / "m.mnq"
    assert target.read_bytes() == wide.read_bytes()
    assert not (board.folder / "models" / "m.mnq.bak").exists()
    # A power cut between the two renames leaves only PATH.bak: the next OPEN restores it.
    target.rename(board.folder / "models" / "m.mnq.bak")
    with SerialTransport(board.port) as transport, transport.session() as session:
        head = struct.pack("<IBB", 4, 0, framing.HASH_CRC32) + bytes(4)
        session.request(framing.OPEN, head + b"models/m.mnq")
    assert target.read_bytes() == wide.read_bytes()
    assert not (board.folder / "models" / "m.mnq.bak").exists()


def test_board_errors_carry_advice():
    payload = struct.pack("<h", 28) + b"need 5000 bytes, 10 free"
    error = _board_error(payload, "upload models/m.mnq")
    assert error.errno == 28
    assert "need 5000 bytes, 10 free" in str(error) and "micronn rm" in str(error)
    assert "read-only" in str(_board_error(struct.pack("<h", 30), "upload x"))


def test_every_byte_value_survives_the_line(board):
    data = bytes(range(256)) * 64 + bytes([3, 4, 3, 3, 4, 1, 2, 5]) * 100
    with SerialTransport(board.port) as transport, transport.session() as session:
        session.upload("all-bytes.bin", data)
    assert (board.folder / "all-bytes.bin").read_bytes() == data


def test_throttled_line_carries_a_flash(models, tmp_path):
    small, _ = models
    with VirtualBoard("esp32", line=Line(baud=115200)) as board:
        report = flash(board.port, small)
        assert (board.folder / "models" / "small.mnq").read_bytes() == small.read_bytes()
        assert report.runtime.installed


def test_cli_flash_run_info(board, models, tmp_path, capsys):
    small, _ = models
    assert cli.main(["flash", str(small), "--port", board.port]) == 0
    x = _codes(8, 4)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    assert cli.main(["run", "--port", board.port, "--input", str(tmp_path / "x.npy"),
                     "--output", str(out)]) == 0  # fmt: skip
    expected = simulate(small.read_bytes(), x).outputs
    np.testing.assert_array_equal(np.load(out), expected)
    assert cli.main(["info", "--port", board.port]) == 0
    printed = capsys.readouterr().out
    assert "runtime up to date" not in printed and "ok: models/small.mnq" in printed
    assert "mpy:          v6.3 x64" in printed and "small.mnq (" in printed


def test_cli_fleet_flash(models, capsys):
    small, _ = models
    with VirtualBoard("rp2040") as one, VirtualBoard("esp32") as two:
        assert cli.main(["flash", str(small), "--port", one.port, "--port", two.port]) == 0
        for vb in (one, two):
            assert (vb.folder / "models" / "small.mnq").read_bytes() == small.read_bytes()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [one.port, two.port]


def test_cli_errors_say_what_to_do(tmp_path, models, capsys):
    small, _ = models
    assert cli.main(["info", "--port", str(tmp_path / "nope")]) == 1
    assert "does not exist: plug the board in" in capsys.readouterr().err
    bad = tmp_path / "bad.mnq"
    bad.write_bytes(b"not a model")
    assert cli.main(["flash", str(bad), "--port", str(tmp_path / "nope")]) == 1
    assert "bad.mnq" in capsys.readouterr().err


def test_busy_port_is_reported(board):
    with SerialTransport(board.port):
        with pytest.raises(PortError, match="busy"):
            SerialTransport(board.port)


def test_a_port_without_micropython_is_not_in_repl(monkeypatch):
    import os
    import pty

    monkeypatch.setattr(transport_serial, "RAW_REPL_ATTEMPTS", 2)
    monkeypatch.setattr(transport_serial, "RAW_REPL_PROMPT_TIMEOUT", 0.3)
    master, slave = pty.openpty()
    try:
        with pytest.raises(NotInReplError, match="press the board's reset button"):
            with SerialTransport(os.ttyname(slave)) as transport:
                transport.enter_raw_repl()
    finally:
        os.close(master)
        os.close(slave)


def test_container_is_checked_before_any_board_is_touched(tmp_path):
    path = tmp_path / "broken.mnq"
    path.write_bytes(framing.SYNC * 10)
    with pytest.raises(ValueError, match="broken.mnq"):
        flash("/dev/null-never-opened", path)
