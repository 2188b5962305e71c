"""`micronn inspect --board` shows the memory table; `micronn flash` refuses a model that cannot
fit the heap (the profile's with --board, the board's own when the session opens) unless
--force, and says what each placement needs; `micronn simulate --weights --mpy`."""

import numpy as np
import pytest
from model_factory import random_dense_layer
from reference_models import wide_mlp

from micronn import container
from micronn.cli import main
from micronn.model import Model, TensorSpec
from micronn.virtual_board import VirtualBoard

UNREACHABLE = "socket://127.0.0.1:9"  # nothing listens: connecting fails at once


def _huge_arena_model() -> Model:
    """120 000 int8 inputs: an arena larger than the esp32's heap, which no placement moves."""
    rng = np.random.default_rng(2)
    layer = random_dense_layer(rng, 120_000, 2, 2, False, "none")
    return Model(TensorSpec((300, 400), 0.1, 0), TensorSpec((2,), 0.1, 0), [layer])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("memory-cli")
    wide = folder / "wide.mnq"
    wide.write_bytes(container.write(wide_mlp()))
    huge = folder / "huge.mnq"
    huge.write_bytes(container.write(_huge_arena_model()))
    return wide, huge


def test_inspect_shows_layers_and_placements_against_the_board(files, capsys):
    wide, _ = files
    assert main(["inspect", str(wide), "--board", "esp32"]) == 0
    out = capsys.readouterr().out
    assert "memory on esp32: 102400 B of heap" in out
    lines = [line.strip() for line in out.splitlines()]
    ram = next(line for line in lines if line.startswith("ram "))
    stream = next(line for line in lines if line.startswith("stream "))
    assert ram.split()[5] == "no" and stream.split()[5] == "yes"
    assert "-> weights='stream' fits" in out
    assert any(line.startswith("0  FULLY_CONNECTED  200704") and "#" in line for line in lines)


def test_inspect_from_source_needs_more_heap(files, capsys):
    wide, _ = files
    assert main(["inspect", str(wide), "--board", "esp32", "--runtime", "py"]) == 0
    assert "does NOT fit with any placement" in capsys.readouterr().out


def test_flash_refuses_before_connecting_and_force_overrides(files, capsys):
    _, huge = files
    assert main(["flash", str(huge), "--port", UNREACHABLE, "--board", "esp32"]) == 1
    err = capsys.readouterr().err
    assert "even with weights='stream'" in err and "esp32 has 102400 B" in err
    assert "--force" in err
    # with --force it goes on to the port, which is not there: a different error
    assert main(["flash", str(huge), "--port", UNREACHABLE, "--board", "esp32", "--force"]) == 1
    err = capsys.readouterr().err
    assert "even with weights='stream'" not in err


def test_flash_refuses_a_board_whose_reported_heap_is_too_small(files, capsys):
    _, huge = files
    with VirtualBoard("esp32") as board:
        assert main(["flash", str(huge), "--port", board.port]) == 1
        err = capsys.readouterr().err
        assert "even with weights='stream'" in err and "--force" in err
        assert not (board.folder / "models" / "huge.mnq").exists()


def test_flash_notes_that_weights_will_stream(files, capsys):
    wide, _ = files
    with VirtualBoard("esp32") as board:
        assert main(["flash", str(wide), "--port", board.port, "--board", "esp32"]) == 0
        out = capsys.readouterr().out
        assert "will stream the weights" in out
        assert (board.folder / "models" / "wide.mnq").stat().st_size == wide.stat().st_size


def test_simulate_streams_precompiled_weights(files, tmp_path, capsys):
    wide, _ = files
    x = np.zeros((1, 784), np.int8)
    np.save(tmp_path / "x.npy", x)
    args = ["simulate", str(wide), "--input", str(tmp_path / "x.npy"), "--board", "esp32"]
    assert main([*args, "--weights", "stream", "--mpy", "--backend", "python"]) == 0
    assert "weights stream" in capsys.readouterr().out
