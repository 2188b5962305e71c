"""Will a model fit a board's heap? The check `micronn flash` makes before it touches a board.

A model fits when some weight placement's needed heap (memory_plan) is within the heap: a board
profile's budget (--board) or the heap the board itself reports when the flash session opens.
"""

from dataclasses import replace

from micronn.boards import load_board
from micronn.memory_plan import plan_container

FORCE_HINT = "use --force to flash it anyway"


def fit_problem(data: bytes, board, runtime: str = "mpy", name: str = "the model"):
    """None if `data` fits `board` (a profile name or Board) with some placement, else a message
    that says what each placement needs and what to do."""
    profile = load_board(board) if isinstance(board, str) else board
    plan = plan_container(data, profile, runtime=runtime)
    if plan.best is not None:
        return None
    ram, stream = plan.placements["ram"], plan.placements["stream"]
    return (
        f"{name} needs about {stream.needed} B of heap even with weights='stream' "
        f"({ram.needed} B with every weight in RAM), but {profile.name} has "
        f"{profile.heap_bytes} B; use int4/int2 weights (micronn convert --weights), smaller "
        f"layers or a board with more RAM, or {FORCE_HINT}"
    )


def placement_note(data: bytes, board, runtime: str = "mpy"):
    """A line saying that the weights will be streamed, when they cannot stay in RAM; or None."""
    profile = load_board(board) if isinstance(board, str) else board
    plan = plan_container(data, profile, runtime=runtime)
    if plan.best != "stream":
        return None
    return (
        f"note: on {profile.name} micronn.load() will stream the weights from the file "
        f"(about {plan.placements['stream'].needed} B of heap; keeping them in RAM needs "
        f"{plan.placements['ram'].needed} B)"
    )


def reported_board(base, heap_total: int, label: str):
    """A board profile with the heap a board reported (its GC heap total)."""
    profile = load_board(base) if isinstance(base, str) else base
    return replace(profile, name=label, heap_bytes=int(heap_total))
