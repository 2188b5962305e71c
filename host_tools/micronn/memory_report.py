"""A MemoryPlan as text for `micronn inspect --board`: a row and a bar per layer, then the peak
and needed heap of each weight placement against the board's heap."""

from micronn.memory_plan import MemoryPlan
from micronn.report import format_table

BACKEND_NOTES = {
    "python": "",
    "viper": "32-bit, its kernels' 64-bit; + its .mpy code where the port keeps it in the heap",
    "c": "32-bit, its kernels' 64-bit; + the _micronn natmod where the port keeps it in the heap",
}
WORD_NOTES = {
    32: "the board's word size: an upper bound",
    64: "the unix VM's",
}
BAR_WIDTH = 24
INDENT = "  "  # the memory section's tables stand apart from the model's layer table
NOTES = {
    "ram": "every weight in the heap; fastest",
    "rom": "weights read in place from a ROMFS mount (MicroPython >= 1.25)",
    "stream": "weights read from the file into one chunk buffer, every predict",
}


def _bar(value: int, full: int) -> str:
    filled = round(BAR_WIDTH * value / full) if full else 0
    return "#" * min(filled, BAR_WIDTH) + "." * (BAR_WIDTH - min(filled, BAR_WIDTH))


def layer_lines(plan: MemoryPlan) -> list:
    """Per layer: its weights, the arena bytes it touches, what its kernel keeps, its stream
    chunk, and a bar of the heap it takes with every weight in RAM (weights + tensors + plan)."""
    header = ("#", "op", "weights B", "other B", "activations B", "plan B", "chunk B", "in RAM")
    totals = [row.weight_bytes + row.other_bytes + row.plan_bytes for row in plan.layers]
    widest = max(totals, default=0)
    rows = [
        (
            str(row.index),
            row.op,
            str(row.weight_bytes),
            str(row.other_bytes),
            str(row.activation_bytes),
            str(row.plan_bytes),
            str(row.chunk_bytes) if row.movable else "-",
            _bar(total, widest),
        )
        for row, total in zip(plan.layers, totals, strict=True)
    ]
    return format_table(header, rows)


def placement_lines(plan: MemoryPlan) -> list:
    heap = plan.board.heap_bytes
    header = ("weights", "peak B", "needed B", "of heap", "fits", "heap used")
    rows = []
    for name, placement in plan.placements.items():
        rows.append(
            (
                name,
                str(placement.peak),
                str(placement.needed),
                f"{100 * placement.needed / heap:.0f} %",
                "yes" if placement.fits else "no",
                _bar(placement.needed, heap) + ("+" if placement.needed > heap else ""),
            )
        )
    return format_table(header, rows)


RUNTIME_NAMES = {
    "mpy": "precompiled .mpy",
    "py": "compiled from .py",
    "romfs": "precompiled .mpy in ROMFS",
}


def describe_memory(plan: MemoryPlan) -> list:
    """Lines of text: the layer table, the placement table and the verdict."""
    runtime = RUNTIME_NAMES[plan.runtime]
    best = plan.best
    verdict = (
        f"-> weights={best!r} fits ({NOTES[best]}); micronn.load(path) chooses it by itself"
        if best
        else "-> does NOT fit with any placement: use int4/int2 weights, smaller layers or a "
        "board with more RAM (micronn boards)"
    )
    lines = [
        f"memory on {plan.board.name}: {plan.board.heap_bytes} B of heap; runtime {runtime}, "
        f"backend {plan.backend}; arena {plan.arena_bytes} B",
        *layer_lines(plan),
        "",
        *placement_lines(plan),
        "peak: the largest live heap while the model loads and runs (`micronn simulate` "
        "measures it),",
        f"from the figures of a {plan.word_bits}-bit VM ({WORD_NOTES[plan.word_bits]})",
        "needed: an estimate of the smallest heap that runs it: peak + room for the compiler "
        "(.py) and fragmentation",
        verdict,
    ]
    return [lines[0], *(INDENT + line if line else line for line in lines[1:])]


def backend_lines(plans: dict) -> list:
    """One row per backend (plans: backend -> MemoryPlan of one model and board): its fastest
    placement that fits, with its peak and needed heap, and the resident runtime."""
    header = ("backend", "weights", "peak B", "needed B", "resident B", "fits", "figures")
    rows = []
    for backend, plan in plans.items():
        name = plan.best or min(plan.placements, key=lambda n: plan.placements[n].needed)
        placed = plan.placements[name]
        rows.append(
            (
                backend,
                name,
                str(placed.peak),
                str(placed.needed),
                str(plan.resident),
                "yes" if placed.fits else "no",
                BACKEND_NOTES.get(backend, "") or f"{plan.word_bits}-bit",
            )
        )
    lines = [
        f"each backend on {next(iter(plans.values())).board.name}:",
        *format_table(header, rows),
    ]
    return [lines[0], *(INDENT + line for line in lines[1:])]
