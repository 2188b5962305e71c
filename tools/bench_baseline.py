"""`make bench-baseline`: µs per predict on the unix VM of the device package of a git commit
against the work tree's, in one run (rounds interleaved, the median of each kept), for the
viper backend and, with $MPY_DIR (a MicroPython checkout of the VM's version, docs/building.md),
the c backend with each tree's _micronn natmod. Both trees' outputs must equal the reference's.

    python tools/bench_baseline.py --baseline COMMIT [--models NAME,...] [--rounds 3]
    python tools/bench_baseline.py --baseline COMMIT --icount   # instructions, not µs

--icount counts the instructions of one predict instead (valgrind's cachegrind, the difference
between runs of COUNT and of 0 predicts, divided by COUNT): the same on a loaded machine.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from micronn import container, reference
from micronn.convert import convert
from micronn.simulate import find_micropython

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "tests" / "data" / "zoo"
MODELS = {
    "digits CNN": ROOT / "examples" / "keras_digits_cnn" / "digits_cnn_int8.tflite",
    "micro_speech": ZOO / "tflm__examples__micro_speech__models__micro_speech_quantized.tflite",
    "MLPerf KWS": ZOO / "tiny__kws_ref_model.tflite",
}
HEAP = "4M"
# load, one predict whose output the host checks; then the timing or the counted predicts
WARM_UP = """
import time, micronn
from array import array
x = array("b", open("x.bin", "rb").read())
net = micronn.load("model.mnq", backend={backend!r})
y = array("b", bytes(len(net._result)))
net.predict(x, y)
open("y.bin", "wb").write(bytes(y))
"""
SCRIPT = (
    WARM_UP
    + """runs = 0
start = time.ticks_us()
spent = 0
while spent < {budget} or runs < 3:
    net.predict(x, y)
    runs += 1
    spent = time.ticks_diff(time.ticks_us(), start)
print(spent / runs)
"""
)
ICOUNT_SCRIPT = (
    WARM_UP
    + """for _ in range({count}):
    net.predict(x, y)
"""
)
ICOUNT_PREDICTS = 10
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--smc-check=all"]


def tree_of(commit: str, folder: Path) -> Path:
    """The repository at `commit` (git archive), written into folder."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def natmod(tree: Path, out: Path, mpy_dir: str) -> Path:
    subprocess.run(
        ["make", "-C", str(tree), "natmod", "ARCH=x64", f"MPY_DIR={mpy_dir}"]
        + [f"NATMOD_OUT={out}", f"NATMOD_PYTHON={os.environ.get('NATMOD_PYTHON', sys.executable)}"],
        check=True,
        capture_output=True,
    )
    return out


def predict_us(vm, path: Path, micropypath: str, backend: str, x, budget_us: int):
    with tempfile.TemporaryDirectory(prefix="micronn-bench-baseline-") as scratch:
        work = Path(scratch)
        (work / "model.mnq").write_bytes(path.read_bytes())
        (work / "x.bin").write_bytes(x.tobytes())
        (work / "bench.py").write_text(SCRIPT.format(backend=backend, budget=budget_us))
        done = subprocess.run(
            [vm, "-X", f"heapsize={HEAP}", "bench.py"],
            cwd=work,
            env=dict(os.environ, MICROPYPATH=micropypath),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{path.name} {backend}: {done.stdout[-800:]}{done.stderr[-800:]}")
        return float(done.stdout.split()[-1]), np.frombuffer((work / "y.bin").read_bytes(), np.int8)


def predict_instructions(vm, path: Path, micropypath: str, backend: str, x):
    """Instructions per predict (cachegrind's I refs of COUNT predicts less those of 0)."""
    refs = []
    for count in (0, ICOUNT_PREDICTS):
        with tempfile.TemporaryDirectory(prefix="micronn-bench-icount-") as scratch:
            work = Path(scratch)
            (work / "model.mnq").write_bytes(path.read_bytes())
            (work / "x.bin").write_bytes(x.tobytes())
            (work / "bench.py").write_text(ICOUNT_SCRIPT.format(backend=backend, count=count))
            done = subprocess.run(
                [*VALGRIND, "--cachegrind-out-file=/dev/null", vm, "-X", f"heapsize={HEAP}"]
                + ["bench.py"],
                cwd=work,
                env=dict(os.environ, MICROPYPATH=micropypath),
                capture_output=True,
                text=True,
            )
            found = re.findall(r"I\s+refs:\s+([\d,]+)", done.stderr)
            if done.returncode != 0 or not found:
                raise RuntimeError(f"{path.name} {backend}: {done.stderr[-800:]}")
            refs.append(int(found[-1].replace(",", "")))
            y = np.frombuffer((work / "y.bin").read_bytes(), np.int8)
    return (refs[1] - refs[0]) / ICOUNT_PREDICTS, y


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git commit of the baseline")
    parser.add_argument("--models", help="comma-separated names (default: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="timing budget per run")
    parser.add_argument("--icount", action="store_true", help="instructions per predict")
    args = parser.parse_args(argv)
    names = args.models.split(",") if args.models else list(MODELS)
    vm = find_micropython()
    mpy_dir = os.environ.get("MPY_DIR")
    with tempfile.TemporaryDirectory(prefix="micronn-baseline-") as scratch:
        folder = Path(scratch)
        base = tree_of(args.baseline, folder / "base")
        trees = {args.baseline[:10]: base, "now": ROOT}
        paths = {label: str(tree / "firmware") for label, tree in trees.items()}
        backends = ["viper"]
        if mpy_dir:
            backends.append("c")
            for label, tree in trees.items():
                out = natmod(tree, folder / f"natmod-{label}", mpy_dir)
                paths[label] += f":{out}"
        else:
            print("c backend: skipped (set MPY_DIR to a MicroPython checkout, docs/building.md)")
        rows = []
        for name in names:
            path = folder / f"{name}.mnq".replace(" ", "_")
            path.write_bytes(convert(MODELS[name]))
            model = container.read(path.read_bytes())
            rng = np.random.default_rng(0)
            x = rng.integers(-128, 128, model.input.size).astype(np.int8)
            expected = reference.run(model, x.reshape(model.input.shape)).reshape(-1)
            for backend in backends:
                times = {label: [] for label in trees}
                for _ in range(1 if args.icount else args.rounds):
                    for label in trees:
                        if args.icount:
                            us, y = predict_instructions(vm, path, paths[label], backend, x)
                        else:
                            us, y = predict_us(
                                vm, path, paths[label], backend, x, int(args.seconds * 1e6)
                            )
                        if not np.array_equal(y, expected):
                            raise RuntimeError(f"{name} {backend} {label}: not the reference")
                        times[label].append(us)
                medians = {label: statistics.median(t) for label, t in times.items()}
                rows.append((name, backend, medians))
    labels = list(trees)
    unit = "instructions" if args.icount else "µs"
    print(f"| model | backend | {labels[0]} {unit} | {labels[1]} {unit} | speed-up |")
    print("|---|---|---:|---:|---:|")
    for name, backend, medians in rows:
        old, new = medians[labels[0]], medians[labels[1]]
        digits = 0 if args.icount else 1
        print(f"| {name} | {backend} | {old:,.{digits}f} | {new:,.{digits}f} | {old / new:.2f}× |")
    if args.icount:
        print(json.dumps({"icount": True, "predicts": ICOUNT_PREDICTS}))
    else:
        print(json.dumps({"rounds": args.rounds, "seconds": args.seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
