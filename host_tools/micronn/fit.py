"""Will a model fit a board's heap? The check `micronn flash` makes before it touches a board.

A model fits when some weight placement's needed heap (memory_plan), with what micronn's board
agent adds when `micronn run` serves the model (agent_memory), is within the heap: a board
profile's budget (--board) or the heap the board itself reports when the flash session opens.
So flash refuses what run could not load.
"""

import functools
from dataclasses import replace

from micronn import container
from micronn.agent_memory import with_agent
from micronn.boards import load_board
from micronn.memory_plan import plan_container

FORCE_HINT = "use --force to flash it anyway"
CHECKED = ("ram", "stream")  # rom needs a ROMFS mount, which micronn flash does not make


def served(data: bytes, plan) -> dict:
    """placement -> agent_memory.AgentMemory: what each placement of `plan` needs under run."""
    model = container.read(data)
    size_in = sum(spec.size for spec in model.inputs)
    size_out = sum(spec.size for spec in model.outputs)
    return {name: with_agent(plan, name, size_in, size_out) for name in CHECKED}


def fit_problem(data: bytes, board, runtime: str = "mpy", name: str = "the model"):
    """None if `data` fits `board` (a profile name or Board) with some placement and the board
    agent, else a one-line message that says what each placement needs and what to do."""
    profile = load_board(board) if isinstance(board, str) else board
    plan = plan_container(data, profile, runtime=runtime)
    with_run = served(data, plan)
    if any(figures.fits for figures in with_run.values()):
        return None
    ram, stream = with_run["ram"], with_run["stream"]
    agent = stream.needed - plan.placements["stream"].needed
    alone = (
        f", which alone fits: the agent takes {agent} B" if plan.placements["stream"].fits else ""
    )
    return (
        f"{name} needs about {stream.needed} B of heap even with weights='stream' and "
        f"micronn's board agent ({ram.needed} B with every weight in RAM; "
        f"{plan.placements['stream'].needed} B without the agent{alone}), but {profile.name} "
        f"has {profile.heap_bytes} B; use int4/int2 weights (micronn convert --weights), "
        f"smaller layers or a board with more RAM, or {FORCE_HINT}"
    )


def placement_note(data: bytes, board, runtime: str = "mpy"):
    """A line saying that the weights will be streamed, when they cannot stay in RAM; or None."""
    profile = load_board(board) if isinstance(board, str) else board
    plan = plan_container(data, profile, runtime=runtime)
    with_run = served(data, plan)
    if with_run["ram"].fits or not with_run["stream"].fits:
        return None
    return (
        f"note: on {profile.name} micronn.load() will stream the weights from the file "
        f"(about {with_run['stream'].needed} B of heap with micronn's board agent; keeping "
        f"them in RAM needs {with_run['ram'].needed} B)"
    )


def reported_board(base, heap_total: int, label: str):
    """A board profile with the heap a board reported (its GC heap total)."""
    profile = load_board(base) if isinstance(base, str) else base
    return replace(profile, name=label, heap_bytes=int(heap_total))


@functools.cache
def viper_least_heap() -> int:
    """The least heap the memory plan gives any model with the viper backend under `micronn
    run`: that of a one-neuron dense model. On a board with less, run's backend 'auto' takes
    python at once (agent_code.installed_launcher): by the plan, viper fits no model there."""
    from micronn.model import FullyConnected, Model, TensorSpec

    layer = FullyConnected(
        weights=[[1]],
        bias=[0],
        multiplier=[1 << 30],
        shift=[0],
        input_zero_point=0,
        output_zero_point=0,
        act_min=-128,
        act_max=127,
        activation="none",
    )
    data = container.write(Model(TensorSpec((1,), 1.0, 0), TensorSpec((1,), 1.0, 0), [layer]))
    # the launcher does not know the board's word size: the larger of a 32-bit board's plan (with
    # its native code) and the 64-bit VM's (a virtual board), which has the bigger objects
    plans = [plan_container(data, "rp2040", backend="viper", word_bits=bits) for bits in (32, 64)]
    return max(min(f.needed for f in served(data, plan).values()) for plan in plans)


def auto_python_note() -> str:
    """What `micronn run --backend auto` says when the board ran python."""
    return (
        "note: backend auto chose python: the board has no viper, or less heap than the "
        f"{viper_least_heap()} B micronn's memory plan gives the smallest model with viper"
    )
