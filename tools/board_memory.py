"""The planner against a board: for each reference model (tests/reference_models.py), backend
and weight placement, the peak live heap measured on the board at PORT (micronn.board_heap, as
`micronn simulate` measures it) beside plan_container's peak for that board (its arch and heap
as it reports them), and the error. Installs the runtime and the models first (micronn flash).

    .venv/bin/python tools/board_memory.py --port /dev/pts/N [--backend python viper]
        [--natmod build/natmod-armv7m/_micronn.mpy]   # also c: lib/_micronn.mpy while it runs
        [--viper-arch armv6m]   # the viper modules compiled for another arch the board runs
    .venv/bin/python tools/board_memory.py --port /dev/pts/N --modules --viper-arch armv6m --write

--modules measures each viper kernel module's own import on the board and, with --write, writes
memory_constants_board.py (the heap each keeps beside its .mpy bytes) for the planner.

docs/memory.md, "On a board", has the figures of the 32-bit qemu board.
"""

import argparse
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reference_models import MODELS  # noqa: E402

from micronn import container, memory_constants  # noqa: E402
from micronn.board_heap import board_profile, measure_module, measure_stages  # noqa: E402
from micronn.flash import board_model_path, flash  # noqa: E402
from micronn.memory_plan import plan_container  # noqa: E402
from micronn.native_sizes import VIPER_MPY_BYTES  # noqa: E402
from micronn.runtime import NEWEST_MPY, MpyTarget, build_runtime, plan_runtime  # noqa: E402
from micronn.transport import BoardCodeError  # noqa: E402
from micronn.transport_serial import SerialTransport  # noqa: E402

NATMOD_PATH = "lib/_micronn.mpy"  # where `import micronn` finds the natmod (backends.py)
OUTPUT = (
    Path(__file__).resolve().parents[1] / "host_tools" / "micronn" / "memory_constants_board.py"
)
REPEATS = 3  # each module measured this many times (a soft reset each), the largest kept
OBJECTS_MARGIN = 128  # bytes per viper module beyond the largest measured
# what each viper module imports (memory_constants.MODULE_DEPS; viper_requant, which the others
# import, imports fixedpoint)
VIPER_DEPS = {**memory_constants.MODULE_DEPS, "viper_requant": ("fixedpoint",)}


def install(port, folder, names) -> dict:
    """Flash every model (the runtime with the first); name -> (board path, container bytes)."""
    placed = {}
    for name in names:
        data = container.write(MODELS[name]())
        path = Path(folder) / f"{name}.mnq"
        path.write_bytes(data)
        flash(port, path, name=name)
        placed[name] = (board_model_path(name), data)
    return placed


def set_natmod(port, natmod) -> None:
    """Put `natmod` (bytes) at lib/_micronn.mpy, or remove it (None)."""
    with SerialTransport(port) as transport, transport.session() as session:
        if natmod is None:
            names = [entry.name for entry in session.listdir("lib")]
            if "_micronn.mpy" in names:
                session.remove(NATMOD_PATH)
        else:
            session.upload(NATMOD_PATH, natmod)


def viper_modules() -> list:
    """The viper kernel modules (of every operator) and viper_requant, which they import."""
    names = set(memory_constants.OP_MODULES["viper"].values()) | {"viper_requant"}
    return sorted(name for name in names if name.startswith("viper_"))


def set_viper_arch(port, arch) -> None:
    """Replace the board's viper modules with those mpy-cross compiles for `arch`."""
    files = build_runtime(plan_runtime(MpyTarget(*NEWEST_MPY, arch)))
    with SerialTransport(port) as transport, transport.session() as session:
        for path, data in sorted(files.items()):
            if Path(path).name.startswith("viper_"):
                session.upload(path, data)


def measure_modules(port, arch) -> dict:
    """module -> (heap bytes of its own import on the board, its .mpy bytes for `arch`)."""
    figures = {}
    with SerialTransport(port) as transport:
        transport.enter_raw_repl()
        for name in viper_modules():
            deps = VIPER_DEPS.get(name, ())
            cost = max(measure_module(transport, name, deps) for _ in range(REPEATS))
            figures[name] = (cost, VIPER_MPY_BYTES[arch][name])
        transport.leave_raw_repl()
    return figures


def render_modules(archs, objects) -> str:
    lines = [
        '"""Heap costs measured on a 32-bit board that keeps native code in its GC heap (the qemu',
        "board of docs/flashing.md, 'Testing on a board': MPS2-AN385, Cortex-M3, .mpy arch",
        "armv7em), the runtime precompiled as micronn flash installs it. Written by",
        "tools/board_memory.py --modules --viper-arch armv6m --write; run it again when a viper",
        "module changes (docs/memory.md, 'On a board').",
        "",
        "VIPER_OBJECTS: per viper kernel module, the heap of its own import (over `import",
        "micronn`, the op table and the modules it imports, as tools/measure_memory.py measures",
        "MODULES) minus its .mpy bytes for that arch (native_sizes.py): what it keeps beside its",
        "code; the largest over the archs measured (the board runs armv6m code too) and the",
        f"repeats, + {OBJECTS_MARGIN} B (measurements of one module, a soft reset apart, differed",
        "by up to 128 B).",
        "On a board of an arch in memory_plan.HEAP_NATIVE_ARCHS a viper module costs its .mpy",
        'bytes for that arch plus this."""',
        "",
        f"MEASURED_ARCHS = {tuple(archs)!r}",
        "VIPER_OBJECTS = {",
    ]
    lines.extend(f"    {name!r}: {value + OBJECTS_MARGIN}," for name, value in objects.items())
    lines.append("}")
    return "\n".join(lines) + "\n"


def measure(port, placed, backends, placements, arch="") -> list:
    """One row per case: (model, backend, placement, measured BoardStages or error, plan)."""
    rows = []
    with SerialTransport(port) as transport:
        transport.enter_raw_repl()
        board = board_profile(transport, "qemu")
        if arch:  # the viper modules on it were compiled for `arch`
            board = replace(board, mpy_arch=arch)
        start = None  # the measuring program's live heap before `import micronn`
        for name, (path, data) in placed.items():
            for backend in backends:
                for placement in placements:
                    try:
                        measured = measure_stages(transport, "/" + path, backend, placement)
                        start = measured.start
                    except BoardCodeError as error:
                        measured = str(error)
                    # its start in place of the VM's and simulate's runner (SCRIPT)
                    at_start = replace(board, start_bytes=start)
                    plan = plan_container(data, at_start, backend=backend, runtime="mpy")
                    rows.append((name, backend, placement, measured, plan.placements[placement]))
        transport.leave_raw_repl()
    return board, rows


def print_rows(board, rows) -> None:
    print(f"board: {board.description}, arch {board.mpy_arch}, heap {board.heap_bytes} B")
    print("| model | backend | weights | measured peak B | planned peak B | error | stages |")
    print("|---|---|---|---|---|---|---|")
    for name, backend, placement, measured, planned in rows:
        if isinstance(measured, str):
            print(f"| {name} | {backend} | {placement} | {measured} | {planned.peak} | | |")
            continue
        error = 100 * (planned.peak - measured.peak) / measured.peak
        worst = max(measured.stages, key=measured.stages.get)
        print(
            f"| {name} | {backend} | {placement} | {measured.peak} | {planned.peak} | "
            f"{error:+.1f} % | peak at {worst}; start {measured.start} |"
        )
        detail = {s: (measured.stages.get(s), planned.stages.get(s)) for s in planned.stages}
        print(f"  stages (measured, planned): {detail}", file=sys.stderr)


def board_arch(port) -> str:
    with SerialTransport(port) as transport:
        transport.enter_raw_repl()
        arch = board_profile(transport).mpy_arch
        transport.leave_raw_repl()
    return arch


def modules_main(args) -> int:
    """Each viper module's own import for the board's arch and each of --viper-arch; with
    --write, VIPER_OBJECTS: the largest over them of (import - .mpy bytes), + OBJECTS_MARGIN."""
    arch = board_arch(args.port)
    archs = [arch, *(a for a in args.viper_arch if a != arch)]
    objects = {}
    try:
        for measured in archs:
            if measured != arch:
                set_viper_arch(args.port, measured)
            for name, (cost, size) in measure_modules(args.port, measured).items():
                print(
                    f"{name} ({measured}): {cost} B on the board, {size} B .mpy, {cost - size:+d}"
                )
                objects[name] = max(objects.get(name, cost - size), cost - size)
    finally:
        if archs[1:]:
            set_viper_arch(args.port, arch)
    if args.write:
        OUTPUT.write_text(render_modules(archs, objects))
        subprocess.run([sys.executable, "-m", "ruff", "format", str(OUTPUT)], check=False)
        print(f"wrote {OUTPUT}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", required=True)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--backend", nargs="+", default=["python", "viper"])
    parser.add_argument("--weights", nargs="+", default=["ram", "stream"])
    parser.add_argument("--natmod", help="a _micronn.mpy for the board: adds the c backend")
    parser.add_argument("--skip-flash", action="store_true", help="the models are on the board")
    parser.add_argument(
        "--viper-arch", nargs="*", default=[], help="viper modules for this arch meanwhile"
    )
    parser.add_argument("--modules", action="store_true", help="the viper modules' own imports")
    parser.add_argument("--write", action="store_true", help="--modules: write " + OUTPUT.name)
    args = parser.parse_args()
    if args.modules:
        return modules_main(args)
    with tempfile.TemporaryDirectory() as folder:
        if args.skip_flash:
            placed = {n: (board_model_path(n), container.write(MODELS[n]())) for n in args.models}
        else:
            placed = install(args.port, folder, args.models)
    set_natmod(args.port, None)
    viper_arch = args.viper_arch[0] if args.viper_arch else ""
    own = board_arch(args.port)
    if viper_arch:
        set_viper_arch(args.port, viper_arch)
    try:
        board, rows = measure(args.port, placed, args.backend, args.weights, viper_arch)
    finally:
        if viper_arch:
            set_viper_arch(args.port, own)
    if args.natmod:
        set_natmod(args.port, Path(args.natmod).read_bytes())
        try:
            board, more = measure(args.port, placed, ["c"], args.weights)
            rows += more
        finally:
            set_natmod(args.port, None)
    print_rows(board, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
