"""What `micronn flash` refuses before it opens a port: model names it would have to change, and
files that are not .mnq containers (with the command that makes one); board text made safe to
print; MICRONN_TIMEOUT_SCALE."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from serial_helpers import model_bytes

from micronn import cli
from micronn.board_text import one_line, printable
from micronn.flash import board_model_path, flash, read_model
from micronn.transport import TIMEOUT_SCALE_ENV, scaled

NO_PORT = "/dev/null-never-opened"  # opening it would fail with another message
ZOO_TFLITE = Path(__file__).parent / "data" / "zoo" / "arduino__model.tflite"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    path = folder / "small.mnq"
    path.write_bytes(model_bytes(folder, (8, 6, 4), seed=1))
    return path


@pytest.mark.parametrize(
    "name, path",
    [
        ("m", "models/m.mnq"),
        ("m.mnq", "models/m.mnq"),
        ("digits-v2_int8", "models/digits-v2_int8.mnq"),
        ("net.v1.mnq", "models/net.v1.mnq"),
    ],
)
def test_model_names_that_need_no_change(name, path):
    assert board_model_path(name) == path


@pytest.mark.parametrize(
    "name", ["../x", "/etc/passwd", "models/y", "..", ".hidden", "a b", "", ".mnq", "x\0y", "é"]
)
def test_names_that_would_be_rewritten_are_refused(name, model, capsys):
    with pytest.raises(ValueError, match="letters, digits, '-', '_' and '.'"):
        board_model_path(name)
    assert cli.main(["flash", str(model), "--port", NO_PORT, "--name", name]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot use {name!r} as a model name" in err


def test_a_file_name_that_cannot_be_a_board_name_asks_for_name(model, tmp_path, capsys):
    spaced = tmp_path / "my model.mnq"
    shutil.copy(model, spaced)
    assert cli.main(["flash", str(spaced), "--port", NO_PORT]) == 1
    err = capsys.readouterr().err
    assert "'my model.mnq' cannot be a model's name on the board; choose one with --name" in err


def _trained_files(folder: Path) -> dict:
    """{file: what flash calls it}, with the first bytes each format really starts with."""
    files = {
        "model.tflite": (ZOO_TFLITE.read_bytes(), ".tflite"),
        "renamed.bin": (ZOO_TFLITE.read_bytes(), ".tflite"),  # found by its magic
        "model.h5": (b"\x89HDF\r\n\x1a\n" + bytes(100), ".h5"),
        "weights.data": (b"\x89HDF\r\n\x1a\n" + bytes(100), ".h5"),
        "model.onnx": (b"\x08\x07\x12\x07pytorch" + bytes(50), ".onnx"),
        "model.keras": (b"PK\x03\x04" + bytes(60), ".keras"),
        "archive": (b"PK\x03\x04" + bytes(60), ".keras or .npz"),
    }
    np.savez(folder / "net.npz", w=np.zeros(3))
    files["net.npz"] = ((folder / "net.npz").read_bytes(), ".npz")
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {folder / name: kind for name, (_, kind) in files.items()}


def test_a_trained_model_file_is_sent_to_convert(tmp_path, capsys):
    for path, kind in _trained_files(tmp_path).items():
        with pytest.raises(ValueError) as refused:
            read_model(path)
        expected = (
            f"{path}: this is a {kind} file; convert it first: "
            f"micronn convert {path} -o {path.with_suffix('.mnq')}"
        )
        assert str(refused.value) == expected
    assert cli.main(["flash", str(tmp_path / "model.tflite"), "--port", NO_PORT]) == 1
    assert "convert it first: micronn convert" in capsys.readouterr().err


def test_an_input_array_is_not_a_model(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(4, np.int8))
    with pytest.raises(ValueError, match="a .npy array, not a model; give it to `micronn run"):
        flash(NO_PORT, tmp_path / "x.npy")


def test_other_bad_files_keep_the_container_message(tmp_path):
    path = tmp_path / "junk.mnq"
    path.write_bytes(b"not a model at all, long enough for a header" * 2)
    with pytest.raises(ValueError, match="not a .mnq file"):
        read_model(path)


def test_board_text_loses_its_escape_sequences():
    text = "ok\x1b[2J\x1b[1;31mred\x1b[0m \x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x9b5m\r\n\tend"
    assert printable(text) == "okred link?\n\tend"
    assert one_line("a\nb\x1b[Kc \u202eevil") == "a bc ?evil"
    assert printable("\x1b]0;never ends") == ""


def test_timeout_scale(monkeypatch, model, capsys):
    monkeypatch.setenv(TIMEOUT_SCALE_ENV, "2.5")
    assert scaled(2.0) == 5.0
    monkeypatch.delenv(TIMEOUT_SCALE_ENV)
    assert scaled(2.0) == 2.0
    for bad in ("fast", "0", "-1", "inf", "nan"):
        monkeypatch.setenv(TIMEOUT_SCALE_ENV, bad)
        with pytest.raises(ValueError, match="give a positive number"):
            scaled(1.0)
    assert cli.main(["info", "--port", "socket://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MICRONN_TIMEOUT_SCALE='nan'" in err
