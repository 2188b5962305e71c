"""The board agent's own heap, which `micronn run` adds to a model's memory plan.

`micronn run` loads the model from the launcher before the agent is imported (agent_code.py),
so while the model loads, when the heap is fullest, the agent's share is only the launcher's
code and the names (qstrs) that earlier sessions interned, which a board keeps until it resets.
Once the model is loaded, the agent (its core and model part) and its buffers sit beside the
loaded net. With the agent, a placement needs

    max(needed + LAUNCHER + INTERNED,  loaded + SERVING + buffers + margin)

where margin is the plan's slack and fragmentation share (memory_plan.heap_margin): once the
model is loaded its big buffers have their place, and the agent's objects (the largest its
frame of at most 2 KB) need only free runs of their own size.

Figures of the 64-bit unix VM (a 32-bit board's are smaller), measured by
tools/measure_agent_memory.py (tests/test_agent_memory.py fails when they drift by 10 %).
"""

from dataclasses import dataclass

from micronn.memory_plan import heap_bytes, heap_margin

# -- measured (tools/measure_agent_memory.py --write rewrites this block) ---------------------
VM = "3.4.0; MicroPython 9458e3a23f on 2026-07-05 (unix, 64-bit)"
LAUNCHER = 1280  # the launcher's code and names while it loads the model
INTERNED = 2688  # what one session leaves on a board until it resets: interned names
STARTED = 6496  # the agent after HELLO (core and its objects), its frame buffer not counted
SERVING = 8448  # the same with the model part imported, during LOAD and PREDICT
# -- end of measured figures ------------------------------------------------------------------

HOST_FRAME = 2048  # session.FRAME_PAYLOAD: the agent never takes more


def frame_size(free: int, row: int) -> int:
    """The frame the agent allocates with `free` bytes of heap, grown to carry one `row`."""
    size = 2048 if free > 65536 else 1024 if free > 16384 else 256
    while size < row and size < HOST_FRAME:
        size *= 2
    return size


@dataclass(frozen=True)
class AgentMemory:
    at_load: int  # bytes the agent adds while the model loads
    serving: int  # bytes of the agent and its buffers beside the loaded net
    needed: int  # the placement's needed heap with the agent
    fits: bool


def with_agent(plan, placement: str, input_size: int, output_size: int) -> AgentMemory:
    """What `placement` of `plan` (memory_plan.MemoryPlan) needs when `micronn run` serves it."""
    figures = plan.placements[placement]
    loaded = figures.stages["loaded"]
    frame = frame_size(plan.board.heap_bytes - loaded, max(input_size, output_size))
    rows = max(1, min(frame // input_size, frame // output_size))
    serving = SERVING + heap_bytes(frame) + heap_bytes(rows * output_size)
    serving += heap_bytes(output_size)
    at_load = LAUNCHER + INTERNED
    needed = max(figures.needed + at_load, loaded + serving + heap_margin(plan, figures.peak))
    return AgentMemory(at_load, serving, needed, needed <= plan.board.heap_bytes)
