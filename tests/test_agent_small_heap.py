"""Issue 12, acceptance 3 on the 64-bit VM: a bare board with a 64 KiB heap gets the runtime and
the board agent, which is never pasted whole (every program sent to its raw REPL is a few
hundred bytes: the agent's .mpy goes to lib/ in pieces), and runs a ~190 KB dense model with
streamed weights, bit-exactly, with or without a reset between the two.

64-bit objects are bigger than a 32-bit board's, so this is the stricter test. On this VM the
model's load alone needs about 62 KiB (tests/test_stream_acceptance.py); `micronn run` loads it
before the agent is imported. What the flash session leaves until a reset (agent_memory.INTERNED:
the agent's interned names) used to sit in holes all over the heap, so that without a reset 72
KiB was the least heap that ran it; with run's launcher collecting every 1/32 of the heap
allocated (gc.threshold, agent_code.installed_launcher) objects and names stay in one piece and
58 KiB runs it without a reset (56 KiB does not).

`micronn run --backend auto` takes python at once on a heap under fit.viper_least_heap() (by the
memory plan viper fits no model there): a viper load that runs out of heap would leave its names
across the heap, and on the 32-bit qemu board the python load after it then failed.
"""

import numpy as np
import pytest
from small_models import small_container

from micronn import cli, container, reference
from micronn.fit import auto_python_note, viper_least_heap
from micronn.flash import flash
from micronn.remote import run
from micronn.transport_serial import SerialTransport
from micronn.virtual_board import VirtualBoard

SMALL_HEAP = 64 * 1024
SIZES = (784, 240, 10)  # 190 KB of int8 weights
LARGEST_PASTE = 800  # bytes: the launcher with a model (~790) and the pieces (~740)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small-heap")
    data = small_container(folder, sizes=SIZES)
    assert 185_000 < len(data) < 200_000
    path = folder / "mlp.mnq"
    path.write_bytes(data)
    x = np.random.default_rng(7).integers(-128, 128, (3, SIZES[0])).astype(np.int8)
    return path, x, reference.run(container.read(data), x)


class _Recorded:
    """open_transport for flash(): a SerialTransport that the test can look at afterwards."""

    def __init__(self):
        self.opened = []

    def __call__(self, port, baudrate):
        transport = SerialTransport(port, baudrate=baudrate)
        self.opened.append(transport)
        return transport


def test_the_first_start_in_a_64_kib_heap_installs_the_agent_in_pieces():
    with VirtualBoard("esp32", heap_bytes=SMALL_HEAP) as board:
        with SerialTransport(board.port) as transport:
            with transport.session() as first:
                assert first.info().heap_total <= SMALL_HEAP
            with transport.session() as second:
                second.info()
        assert first.started == "install" and first.install.files == 3
        assert second.started == "installed" and second.install is None
        assert transport.largest_paste <= LARGEST_PASTE
        assert sorted(p.name for p in (board.folder / "lib").iterdir()) == [
            "micronn_agent.mpy",
            "micronn_agent_files.mpy",
            "micronn_agent_model.mpy",
        ]


def _flash_and_run(board, mlp, reset):
    path, x, expected = mlp
    recorded = _Recorded()
    report = flash(board.port, path, name="mlp", open_transport=recorded)
    assert report.runtime.installed and report.runtime.mpy_files == report.runtime.files
    if reset:
        board.unplug()
        board.replug()
    result = run(board.port, x, model="mlp", backend="python")
    assert recorded.opened[0].largest_paste <= LARGEST_PASTE
    assert result.model.weights == "stream"
    np.testing.assert_array_equal(result.outputs, expected)


def test_a_bare_64_kib_board_gets_the_runtime_and_runs_a_190_kb_model_after_a_reset(mlp):
    with VirtualBoard("esp32", heap_bytes=SMALL_HEAP) as board:
        _flash_and_run(board, mlp, reset=True)


def test_without_a_reset_a_bare_64_kib_board_runs_it_too(mlp):
    with VirtualBoard("esp32", heap_bytes=SMALL_HEAP) as board:
        _flash_and_run(board, mlp, reset=False)


AUTO_HEAP = 48 * 1024  # under the least heap the plan gives viper (about 53 KiB)


def test_auto_takes_python_at_once_where_the_plan_fits_viper_in_no_model(tmp_path, capsys):
    assert AUTO_HEAP < viper_least_heap() < 2 * AUTO_HEAP
    data = small_container(tmp_path, sizes=(16, 8, 4))
    path = tmp_path / "small.mnq"
    path.write_bytes(data)
    x = np.random.default_rng(3).integers(-128, 128, (2, 16)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    expected = reference.run(container.read(data), x)
    ran = {}
    for heap in (AUTO_HEAP, 2 * AUTO_HEAP):
        with VirtualBoard("esp32", heap_bytes=heap) as board:
            assert cli.main(["flash", str(path), "--port", board.port, "--quiet"]) == 0
            result = run(board.port, x, model="small", backend="auto")
            np.testing.assert_array_equal(result.outputs, expected)
            ran[heap] = result.model.backend
            capsys.readouterr()
            assert cli.main(["run", "--port", board.port, "--input", str(tmp_path / "x.npy")]) == 0
            ran[heap, "note"] = auto_python_note() in capsys.readouterr().out.splitlines()
    assert ran == {
        AUTO_HEAP: "python",
        (AUTO_HEAP, "note"): True,
        2 * AUTO_HEAP: "viper",
        (2 * AUTO_HEAP, "note"): False,
    }


def test_the_launcher_puts_the_gc_threshold_back():
    """gc.threshold is the launcher's while it runs, the board's own once it ends."""
    with VirtualBoard("esp32", heap_bytes=SMALL_HEAP) as board:
        with SerialTransport(board.port) as transport:
            transport.enter_raw_repl()
            code = "import gc\ngc.threshold(12288)\nprint(gc.threshold())\n"
            before = transport.exec_output(code, 5.0).strip()
            with transport.session() as session:
                session.info()
            transport.enter_raw_repl()
            assert transport.exec_output("print(gc.threshold())\n", 5.0).strip() == before
