"""The agent's first install (agent_install.py) on the VM behind a real pty: a bit flipped
anywhere in what the host sends to a bare board never leaves a damaged agent in lib/ (each
piece's and each file's CRC is checked on the board before the file is renamed into place; a
program that arrived damaged is sent again); the session then runs the installed agent or fails
with a TransportError, and the next one works.
An installed agent of another version, or a stray .py beside the .mpy, is replaced."""

import pytest
from serial_helpers import FLIP, Fault, FaultyLine

from micronn.agent_code import CORE
from micronn.precompiled import vm_mpy_target
from micronn.runtime import build_agent, plan_runtime
from micronn.simulate import find_micropython
from micronn.transport import TransportError
from micronn.transport_serial import SerialTransport
from micronn.virtual_board import TO_BOARD, VirtualBoard

INSTALL_SPAN = 13_000  # bytes the host sends to start the agent on a bare board


@pytest.fixture(scope="module")
def agent_files():
    return build_agent(plan_runtime(vm_mpy_target(find_micropython())))


def _agent_on_board(folder) -> dict:
    lib = folder / "lib"
    if not lib.is_dir():
        return {}
    return {f"lib/{p.name}": p.read_bytes() for p in lib.iterdir() if p.name.startswith(CORE)}


def _start(port):
    with SerialTransport(port) as transport, transport.session() as session:
        session.info()
        return session.started


@pytest.mark.parametrize("position", range(300, INSTALL_SPAN, 1600))
def test_a_flipped_bit_never_installs_a_damaged_agent(tmp_path, agent_files, position):
    line = FaultyLine()
    with VirtualBoard("rp2040", folder=tmp_path / "board", line=line) as board:
        line.board = board
        line.arm([Fault(TO_BOARD, position, FLIP, position % 7)])
        try:
            # damaged programs are sent again: the board is not left to a whole-agent paste
            assert _start(board.port) == "install"
        except TransportError:
            pass
        for path, data in _agent_on_board(board.folder).items():
            if not path.endswith(".part"):
                assert data == agent_files[path], f"{path} is on the board damaged"
        line.arm([])
        assert _start(board.port) in ("installed", "install")
        assert _agent_on_board(board.folder) == agent_files


def test_another_version_and_a_stray_source_are_replaced(tmp_path, agent_files):
    with VirtualBoard("rp2040", folder=tmp_path / "board") as board:
        lib = board.folder / "lib"
        lib.mkdir()
        (lib / f"{CORE}.py").write_text("AGENT_ID = 1\ndef ready(i):\n    return False\n")
        core = f"lib/{CORE}.mpy"
        (board.folder / core).write_bytes(agent_files[core][:-40] + bytes(40))
        assert _start(board.port) == "install"
        assert _agent_on_board(board.folder) == agent_files
        assert _start(board.port) == "installed"
