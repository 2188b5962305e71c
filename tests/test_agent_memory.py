"""The board agent's own heap (agent_memory.py) matches the VM within 10 %, a session leaves
nothing behind but interned names, and `micronn flash` counts the agent: a model that fits a
heap without the agent but not with it is refused, in one line that says what to do."""

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from reference_models import wide_mlp

from micronn import agent_memory, container
from micronn.boards import load_board
from micronn.cli import main
from micronn.fit import fit_problem, served
from micronn.memory_plan import plan_container
from micronn.remote import describe
from micronn.virtual_board import VirtualBoard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from measure_agent_memory import measure  # noqa: E402

TOLERANCE = 0.10
FIGURES = ("LAUNCHER", "INTERNED", "STARTED", "SERVING")


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    path = tmp_path_factory.mktemp("agent-memory") / "wide.mnq"
    path.write_bytes(container.write(wide_mlp()))
    return path


def test_the_agent_figures_are_within_ten_percent_of_the_vm():
    measured = measure()
    assert measured["LEAK"] == 0, "a second session left heap behind on the board"
    for name in FIGURES:
        constant = getattr(agent_memory, name)
        assert abs(constant - measured[name]) <= TOLERANCE * measured[name], (
            f"{name}: agent_memory.py says {constant}, the VM {measured[name]}; run "
            "tools/measure_agent_memory.py --write"
        )


def _window(data: bytes):
    """(without, with): stream's needed heap on a 64 KiB-class board, without and with the
    agent (the heap does not change either figure here: the weights stream either way)."""
    board = replace(load_board("esp32"), heap_bytes=64 * 1024)
    plan = plan_container(data, board)
    return plan.placements["stream"].needed, served(data, plan)["stream"].needed


def test_a_model_that_fits_only_without_the_agent_is_refused(wide):
    data = wide.read_bytes()
    alone, with_agent = _window(data)
    assert with_agent - alone >= agent_memory.LAUNCHER + agent_memory.INTERNED
    between = replace(load_board("esp32"), name="between", heap_bytes=(alone + with_agent) // 2)
    message = fit_problem(data, between, name="wide.mnq")
    assert message is not None and "\n" not in message
    assert "which alone fits: the agent takes" in message
    assert "int4/int2 weights" in message and "--force" in message
    enough = replace(between, heap_bytes=with_agent)
    assert fit_problem(data, enough) is None


def _heap_reporting(target: int) -> int:
    """A VM heap size whose board reports about `target` bytes of heap (the GC's own tables
    come off the top)."""
    with VirtualBoard("esp32", heap_bytes=target) as board:
        reported = describe(board.port).info.heap_total
    return target * target // reported


def test_flash_refuses_a_board_whose_heap_fits_the_model_but_not_the_agent(wide, capsys):
    data = wide.read_bytes()
    alone, with_agent = _window(data)
    heap = _heap_reporting((alone + with_agent) // 2)
    with VirtualBoard("esp32", heap_bytes=heap) as board:
        reported = describe(board.port).info.heap_total
        assert alone <= reported < with_agent, (alone, reported, with_agent)
        assert main(["flash", str(wide), "--port", board.port]) == 1
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "which alone fits: the agent takes" in err[0], err
        assert not (board.folder / "models" / "wide.mnq").exists()


def test_inspect_shows_the_heap_with_the_agent(wide, capsys):
    data = wide.read_bytes()
    assert main(["inspect", str(wide), "--board", "esp32"]) == 0
    out = capsys.readouterr().out
    figures = served(data, plan_container(data, "esp32"))["stream"]
    assert f"micronn run (board agent): weights='stream' needs {figures.needed} B, fits" in out
