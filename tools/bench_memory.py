"""`make bench-memory`: micronn's heap on a 32-bit board against TFLM's arena, per zoo model.

For each model: TFLM's arena as the pinned tflite-micro interpreter reports it (its greedy
planner's activations and scratch, plus its persistent tail; tests/tflm_models.arena_bytes),
micronn's activation arena (planned on the host; `arena whole`: without the bands that
`micronn convert` chooses, docs/memory.md "Bands"), and micronn's peak heap (without the VM's own
objects and the runner script's) on the 32-bit webassembly VM (micronn.simulate vm="wasm32",
python backend, weights streamed, the package as .mpy as `micronn flash` installs it): over the
whole load, and while it runs (`loaded`); the smaller of two heap sizes (addresses), as a word
of data that equals a dead block's address keeps that block on one layout and not another.
The resident runtime is the package with the model's kernel modules
(memory_plan.resident_bytes); the goal is peak <= 1.25 x TFLM's arena + the
resident runtime. Last, whether the planner fits the model on the rp2040 and esp32 profiles.
Sections whose tools are missing say so.

    python tools/bench_memory.py [--placement stream] [--no-measure] [--out build/bench]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import tflm_models  # noqa: E402
import zoo_models  # noqa: E402

import micronn  # noqa: E402
from micronn import bands, container, reference, wasm_vm  # noqa: E402
from micronn.arena import plan_arena  # noqa: E402
from micronn.memory_constants_32 import SCRIPT  # noqa: E402
from micronn.memory_plan import plan_container  # noqa: E402
from micronn.simulate import simulate  # noqa: E402

MODELS = {
    "person_detect": "tflm__models__person_detect",
    "MLPerf KWS": "tiny__kws_ref_model",
    "IC ResNet-8": "tiny__pretrainedResnet_quant",
    "AD": "tiny__ad01_int8",
    "VWW": "tiny__vww_96_int8",
    "micro_speech": "tflm__examples__micro_speech__models__micro_speech_quantized",
    "streaming wakeword": "tiny__str_ww_ref_model",
}
GOAL_FACTOR = 1.25
BOARDS = ("rp2040", "esp32")


LAYOUTS = ("esp32s3", "rp2040")  # two heap sizes: the heap at other addresses


def measure(data: bytes, placement: str, romfs: bool = False) -> tuple:
    """(peak, loaded) live heap of micronn on the 32-bit VM (without the VM's own objects and
    the runner script's: its "script" stage), after checking the outputs are exact; the smaller
    of two heap layouts (LAYOUTS): the collector is conservative, and a dead block that a word of
    live data happens to point at on one layout stays live there (docs/memory.md)."""
    model = container.read(data)
    x = np.random.default_rng(0).integers(-128, 128, (1, *model.input.shape)).astype(np.int8)
    measured = []
    for board in LAYOUTS:
        result = simulate(
            data, x, board=board, backend="python", weights=placement, vm="wasm32", romfs=romfs
        )
        if not np.array_equal(result.outputs, reference.run(model, x)):
            raise SystemExit("the 32-bit VM's outputs differ from the reference: a bug")
        script = result.heap_stages["script"]
        measured.append((result.peak_heap - script, result.heap_stages["loaded"] - script))
    return min(measured)


def _band_work(model):
    """The multiply-accumulates the bands compute again, as a share of the window layers' work
    (None: the model runs whole)."""
    if model.bands is None:
        return None
    windows = [layer for layer in model.layers if layer.op in bands.WINDOW_OPS]
    total = sum(bands.work(layer) * layer.params["out_height"] for layer in windows)
    return bands.extra_work(model, model.bands) / total


def converted(name: str) -> tuple:
    """(the zoo model's .mnq bytes, TFLM's arena figures for it)."""
    path = zoo_models.ZOO / f"{name}.tflite"
    return micronn.convert(str(path)), tflm_models.arena_bytes(path)


def row(label: str, data: bytes, tflm: dict, placement: str, measure_on_vm: bool) -> dict:
    model = container.read(data)
    plan = plan_container(data, "rp2040", backend="python", runtime="mpy")
    peak, loaded = measure(data, placement) if measure_on_vm else (None, None)
    goal = round(GOAL_FACTOR * tflm["total"]) + plan.resident
    fits = {}
    for board in BOARDS:
        fits[board] = plan_container(data, board, backend="python").best or "no"
    return {
        "model": label,
        "TFLM arena": tflm["total"],
        "TFLM head": tflm["head"],
        "arena whole": plan_arena(model)[1],
        "arena": plan.arena_bytes,
        "band work": _band_work(model),
        "peak": peak,
        "running": loaded,
        "planned": plan.placements[placement].peak - SCRIPT,
        "resident": plan.resident,
        "goal": goal,
        "peak/goal": None if peak is None else peak / goal,
        **{f"fits {board}": fits[board] for board in BOARDS},
    }


def romfs_row(label: str, data: bytes, tflm: dict, measure_on_vm: bool) -> dict:
    """The runtime and the model in a ROMFS image (micronn romfs), weights read in place."""
    plan = plan_container(data, "rp2040", backend="python", runtime="romfs")
    peak, loaded = measure(data, "rom", romfs=True) if measure_on_vm else (None, None)
    goal = round(GOAL_FACTOR * tflm["total"]) + plan.resident
    return {
        "model": label,
        "TFLM arena": tflm["total"],
        "peak": peak,
        "running": loaded,
        "planned": plan.placements["rom"].peak - SCRIPT,
        "resident": plan.resident,
        "goal": goal,
        "peak/goal": None if peak is None else peak / goal,
        **{
            f"fits {board}": plan_container(data, board, backend="python", runtime="romfs").best
            or "no"
            for board in BOARDS
        },
    }


def table(rows: list) -> str:
    columns = list(rows[0])

    def cell(value):
        if value is None:
            return "-"
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placement", default="stream", choices=("ram", "stream"))
    parser.add_argument("--no-measure", action="store_true", help="planner figures only")
    parser.add_argument("--out", default=str(ROOT / "build" / "bench"))
    args = parser.parse_args()
    try:
        tflm_models._modules()
    except BaseException:  # pytest.skip: tflite-micro has wheels for Linux x86-64 only
        print(f"bench-memory: skipped: {tflm_models.NO_TFLM}")
        return
    measure_on_vm = not args.no_measure and wasm_vm.available()
    if not measure_on_vm and not args.no_measure:
        print("bench-memory: the 32-bit VM is not installed (make wasm-vm): planner figures only")
    models = {label: converted(name) for label, name in MODELS.items()}
    rows = [row(label, *m, args.placement, measure_on_vm) for label, m in models.items()]
    text = (
        f"micronn on a 32-bit board (webassembly VM, python backend, weights={args.placement}, "
        "runtime .mpy) against TFLM's arena, in bytes.\n"
        "peak: micronn's largest live heap over load and predict (the VM's own objects and "
        "the runner script's left out; the smaller of the ESP32-S3 and RP2040 profiles' heaps, "
        "whose addresses differ: the collector is conservative); running: while predict runs; "
        "planned: the planner's peak (an upper bound), likewise; arena whole: the activation "
        "arena without bands; band work: the halo work the bands compute again, as a share of "
        "the window layers' work;\n"
        f"goal: {GOAL_FACTOR} x TFLM's arena (head + tail) + micronn's resident runtime; "
        "fits: the planner's best placement on the board profile, or no.\n\n" + table(rows)
    )
    romfs_rows = [romfs_row(label, *m, measure_on_vm) for label, m in models.items()]
    text += (
        "\n\nThe runtime and the model in a ROMFS image (micronn romfs: the package's bytecode "
        "and the weights stay in flash; weights=rom), likewise:\n\n" + table(romfs_rows)
    )
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory.md").write_text(text + "\n")
    print(f"wrote {out / 'memory.md'}")


if __name__ == "__main__":
    main()
