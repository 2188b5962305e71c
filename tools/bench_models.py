"""`make bench-models`: memory and size figures of the three reference models, plus a chart.

For the models of tools/bench_backends.py (digits MLP, micro_speech-sized CNN, ~200 KB wide MLP):
µs per inference per backend (ratio to python), the peak heap `micronn.simulate` measures on
the VM for the `ram` and `stream` weight placements against the weight bytes, and the container
bytes against the `.tflite` bytes of the same network: the int8 file TFLite would store, written
from the container's integer plan by model_tflite (tests/tflite_builder.py, no TensorFlow) and
checked to import as that same plan. Writes build/bench/bench.md and a bar chart of the speed
ratios, build/bench/bench.png.

    python tools/bench_models.py [--micropython PATH] [--seconds 0.3] [--out build/bench]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

import bench_backends  # noqa: E402
from model_tflite import tflite_bytes  # noqa: E402
from png_chart import bar_chart_png  # noqa: E402

from micronn import container, reference  # noqa: E402
from micronn.simulate import find_micropython, simulate  # noqa: E402

HEAP_BYTES = 4 * 1024 * 1024  # room for every placement: the figure is the peak, not the limit
PLACEMENTS = ("ram", "stream")


def weight_bytes(model) -> int:
    return sum(
        layer.tensors["weights"].nbytes for layer in model.layers if "weights" in layer.tensors
    )


def measure(path: Path, micropython: str, seconds: float) -> dict:
    data = path.read_bytes()
    model = container.read(data)
    rng = np.random.default_rng(bench_backends.SEED)
    x = rng.integers(-128, 128, (2, *model.input.shape)).astype(np.int8)
    expected = reference.run(model, x)
    peaks = {}
    for placement in PLACEMENTS:
        result = simulate(
            data,
            x,
            backend="python",
            weights=placement,
            micropython=micropython,
            precompiled=True,
            heap_bytes=HEAP_BYTES,
        )
        if not np.array_equal(result.outputs, expected):
            raise RuntimeError(f"{path.name}: {placement} weights differ from the reference")
        peaks[placement] = result.peak_heap
    return {
        "times": bench_backends.time_backends(path, micropython, seconds),
        "weights": weight_bytes(model),
        "peaks": peaks,
        "container": len(data),
        "tflite": tflite_bytes(model, x),
    }


def speed_table(rows) -> str:
    return bench_backends.table([(name, figures["times"]) for name, figures in rows])


def memory_table(rows) -> str:
    lines = [
        "| model | weight bytes | peak heap ram | peak heap stream | container bytes "
        "| .tflite bytes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, f in rows:
        weights = f["weights"]
        peaks = " | ".join(
            f"{f['peaks'][p]:,} ({f['peaks'][p] / weights:.2f}×)" for p in PLACEMENTS
        )
        lines.append(f"| {name} | {weights:,} | {peaks} | {f['container']:,} | {f['tflite']} |")
    return "\n".join(lines)


def report(rows) -> str:
    return "\n\n".join(
        [
            "## Speed (µs per inference on the unix VM; × python = speed-up)",
            speed_table(rows),
            "## Memory and size (peak heap: micronn.simulate, python backend; × = / weight bytes)",
            memory_table(rows),
            "Chart (bench.png): one group of bars per model, one bar per backend in the order "
            + ", ".join(bench_backends.BACKENDS)
            + " (absent backends are skipped); bar height = speed-up over python, grey line = 1×.",
        ]
    )


def ratios(rows) -> list:
    groups = []
    for _, f in rows:
        python = f["times"]["python"]
        groups.append([python / f["times"][b] for b in bench_backends.BACKENDS if b in f["times"]])
    return groups


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropython", help="MicroPython unix executable")
    parser.add_argument("--seconds", type=float, default=0.3, help="timing budget per backend")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    micropython = find_micropython(args.micropython)
    rows = []
    with tempfile.TemporaryDirectory(prefix="micronn-bench-models-") as scratch:
        for name, build in bench_backends.MODELS.items():
            rows.append((name, measure(build(Path(scratch)), micropython, args.seconds)))
    text = report(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text(text + "\n")
    (args.out / "bench.png").write_bytes(bar_chart_png(ratios(rows)))
    print(text)
    print(f"\nwrote {args.out / 'bench.md'} and {args.out / 'bench.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
