"""The live heap of each stage of micronn.load, measured on a connected board as `micronn
simulate`'s runner measures it on the VM (device_scripts/simulate_runner.py): gc.mem_alloc()
right after gc.collect(), after `import micronn`, at the end of each stage of load (its probe),
once load has returned with the caller's output buffer made, and the largest after the first
predictions (the collector's threshold set as the agent's launcher sets it). Each measurement
starts from a soft reset, as each simulate starts a new VM, and runs a short program in the raw
REPL (no agent in the heap). For the planner's bound on a board
(docs/memory.md, "On a board"; tools/board_memory.py, tests/test_board.py).
"""

import ast
import time
from dataclasses import dataclass

from micronn.boards import Board
from micronn.runtime import decode_mpy
from micronn.transport import BoardCodeError
from micronn.transport_serial import CTRL_C, CTRL_D, RAW_REPL_BANNER

RESET_TIMEOUT = 10.0  # seconds for a soft reset to give the raw REPL prompt again
RUN_TIMEOUT = 120.0  # seconds for one load and its predictions (scaled)
PREDICT_ROWS = 2  # as the runner's WATCHED_ROWS
RESULT_TAG = "MICRONN-STAGES"

# The board's program: its names are short and few, as every one of them is in the heap it
# measures (the runner's own code is in the VM's heap too). As the agent's launcher does, the GC
# collects every 1/32 of the heap allocated (gc.threshold): without it a board's GC collects only
# when the heap is full, the objects that live end up scattered over all of it, and a 16 KB
# tensor found no run of bytes in a 192 KiB heap with 42 KB live.
STAGES_PROGRAM = """import gc
gc.threshold((gc.mem_free() + gc.mem_alloc()) >> 5)
def _l():
    gc.collect()
    return gc.mem_alloc()
_s = {{"start": _l()}}
import micronn
_s["import"] = _l()
_n = micronn.load({path!r}, {backend!r}, {weights!r}, probe=lambda s: _s.update({{s: _l()}}))
_c = 1
for _d in _n.output_shape:
    _c *= _d
_o = bytearray(_c)
_s["loaded"] = _l()
_p = 0
for _r in range({rows}):
    _n.predict(_n.input, _o)
    _p = max(_p, _l())
_s["predict"] = _p
print({tag!r}, _n.backend, _n.weights, _s)
"""

FACTS_PROGRAM = """import gc, sys
gc.collect()
print(sys.implementation._mpy, gc.mem_alloc() + gc.mem_free(), sys.implementation._machine)
"""


@dataclass(frozen=True)
class BoardStages:
    backend: str
    weights: str
    stages: dict  # stage -> live heap bytes, as simulate's heap_stages
    start: int  # the live heap before `import micronn` (the program itself, the boot's leftovers)

    @property
    def peak(self) -> int:
        return max(self.stages.values())


def soft_reset(transport) -> None:
    """Ctrl-D at the raw REPL prompt: a fresh heap, and the raw REPL prompt again (a virtual
    board's VM exits and is started again at its friendly REPL: entered raw again)."""
    transport.write(CTRL_C)
    time.sleep(0.1)
    transport.discard_input()
    transport.write(CTRL_D)
    seen = transport._read_until(RAW_REPL_BANNER, RESET_TIMEOUT)
    if not seen.endswith(RAW_REPL_BANNER):
        transport.enter_raw_repl()


def _run_fresh(transport, program: str) -> str:
    """`program`'s output, run between two soft resets: from a fresh heap, and leaving none of
    its objects and modules to what runs next on the board (the agent)."""
    soft_reset(transport)
    try:
        return transport.exec_output(program, RUN_TIMEOUT, at_prompt=True)
    finally:
        soft_reset(transport)


def board_profile(transport, name: str = "connected") -> Board:
    """A Board for the planner from what the board reports: its .mpy arch and its GC heap."""
    mpy, heap, machine = transport.exec_output(FACTS_PROGRAM, 30).split(None, 2)
    target = decode_mpy(int(mpy))
    return Board(
        name=name,
        description=machine.strip(),
        mpy_arch=target.arch or "",
        heap_bytes=int(heap),
        filesystem_bytes=0,
        default_baud=transport.baudrate,
        notes=(),
        sources={"mpy_arch": "sys.implementation._mpy", "heap_bytes": "gc.mem_alloc+mem_free"},
    )


def measure_stages(transport, path: str, backend: str, weights: str) -> BoardStages:
    """Soft-reset the board (in its raw REPL) and measure micronn.load of the model at `path` on
    it with `backend` and `weights`. BoardCodeError if the board raises (MemoryError...)."""
    program = STAGES_PROGRAM.format(
        path=path, backend=backend, weights=weights, rows=PREDICT_ROWS, tag=RESULT_TAG
    )
    output = _run_fresh(transport, program)
    line = next((s for s in output.splitlines() if s.startswith(RESULT_TAG)), None)
    if line is None:
        raise BoardCodeError(f"the board printed no stages: {output[-200:]!r}")
    _, used, placed, text = line.split(" ", 3)
    stages = ast.literal_eval(text)
    start = stages.pop("start")
    return BoardStages(used, placed, stages, start)


# One module's own import over `import micronn`, the op table and what it imports, as
# tools/measure_memory.py measures MODULES on a VM; on a board that keeps native code in the
# heap, a viper module's figure holds its code too.
MODULE_PROGRAM = """import gc
gc.threshold((gc.mem_free() + gc.mem_alloc()) >> 5)
def _l():
    gc.collect()
    return gc.mem_alloc()
import micronn
__import__("micronn.ops")
for _m in {deps!r}:
    __import__("micronn." + _m)
_b = _l()
__import__("micronn." + {module!r})
print({tag!r}, _l() - _b)
"""


def measure_module(transport, module: str, deps=()) -> int:
    """Heap bytes of importing micronn.`module` on the board (soft reset first), with `deps`
    (the modules it imports) imported before: counted apart."""
    program = MODULE_PROGRAM.format(module=module, deps=tuple(deps), tag=RESULT_TAG)
    output = _run_fresh(transport, program)
    line = next((s for s in output.splitlines() if s.startswith(RESULT_TAG)), None)
    if line is None:
        raise BoardCodeError(f"the board printed no figure: {output[-200:]!r}")
    return int(line.split()[1])
