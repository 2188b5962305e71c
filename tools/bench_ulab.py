"""`make bench-ulab`: the ulab backend against a hand-written ulab float network, on a VM with ulab.

Two networks of tools/bench_backends.py, each run three ways on the MicroPython VM named by
--micropython / $MICRONN_MICROPYTHON:
- micronn with backend "python" and backend "ulab" (int8 codes in, int8 codes out; outputs
  checked against the numpy reference first);
- ulab-float: what a ulab user writes by hand: float weights, np.dot, + bias, relu, and a
  softmax where the network ends in one (the same function as the int8 network).
The digits MLP (64-64-32-10 + softmax) and the wide MLP (200-512-180-10, ~196 KB of int8
weights; 1.6 MB as float64 weights on the unix VM). Prints µs per inference and the ratios.
Without a VM that has ulab it says so and exits 0.

    python tools/bench_ulab.py [--micropython PATH] [--seconds 1.0]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_backends  # noqa: E402

from micronn import container, reference  # noqa: E402
from micronn.simulate import SimulationError, find_micropython, run_device_script  # noqa: E402

SEED = 0
SAMPLES = 8

SCRIPT = """
import json
import time
from array import array
from ulab import numpy as np
import micronn


def timed(step, budget_us):
    runs, start, spent = 0, time.ticks_us(), 0
    while spent < budget_us or runs < 3:
        step()
        runs += 1
        spent = time.ticks_diff(time.ticks_us(), start)
    return spent / runs


def float_layers(name, shapes):
    # float64 files on a double-precision VM, float32 on a single-precision one
    suffix = "f64" if np.zeros(1).itemsize == 8 else "f32"
    layers = []
    for i in range(len(shapes)):
        out_features, in_features = shapes[i]
        with open("%s-w%d.%s" % (name, i, suffix), "rb") as f:
            w = np.frombuffer(f.read(), dtype=np.float).reshape((out_features, in_features))
        with open("%s-b%d.%s" % (name, i, suffix), "rb") as f:
            b = np.frombuffer(f.read(), dtype=np.float)
        layers.append((w, b))
    return layers


def forward(layers, x, softmax):
    # the float network as a ulab user writes it: dot, bias, relu, softmax
    last = len(layers) - 1
    for i in range(len(layers)):
        w, b = layers[i]
        x = np.dot(w, x) + b
        if i < last:
            x = np.maximum(x, 0.0)
    if softmax:
        x = np.exp(x - np.max(x))
        x = x / np.sum(x)
    return x


with open("spec.json") as f:
    spec = json.load(f)
report = {}
for model in spec:
    name = model["name"]
    layers = float_layers(name, model["shapes"])
    floats = [np.array(row) for row in model["x"]]
    labels = [int(np.argmax(forward(layers, x, model["softmax"]))) for x in floats]
    times = {}
    codes = open(name + "-x.bin", "rb").read()
    for backend in ("python", "ulab"):
        net = micronn.load(name + ".mnq", backend=backend, weights="ram")
        n = len(net._x)
        y = array("b", bytes(len(net._result)))
        outputs = bytearray()
        for r in range(len(codes) // n):
            net.predict(codes[r * n:(r + 1) * n], y)
            outputs.extend(bytes(y))
        with open("%s-y-%s.bin" % (name, backend), "wb") as f:
            f.write(outputs)
        row = array("b", codes[:n])
        times[backend] = timed(lambda: net.predict(row, y), {budget_us})
        net = None
    x0 = floats[0]
    times["ulab-float"] = timed(lambda: forward(layers, x0, model["softmax"]), {budget_us})
    layers = floats = None
    report[name] = {"times": times, "float_labels": labels}
print(json.dumps(report))
"""


def digits_mlp():
    """(float layers [(weight [out, in], bias)], softmax, float inputs, micronn model bytes)."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from micronn import convert_sklearn

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x, digits.target)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "digits.mnq"
        convert_sklearn(mlp, x, output=path)
        data = path.read_bytes()
    layers = [(w.T, b) for w, b in zip(mlp.coefs_, mlp.intercepts_, strict=True)]
    return layers, True, x, data


def wide_mlp():
    layers, calibration = bench_backends.wide_mlp_float()
    with tempfile.TemporaryDirectory() as scratch:
        data = bench_backends.wide_mlp(Path(scratch)).read_bytes()
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1, 1, (64, calibration.shape[1])).astype(np.float32)
    return [(w, b) for w, b, _ in layers], False, x, data


# name -> (title, builder, VM heap): one VM per network, whose heap fits it (a larger heap
# makes every collection of the smaller network slower)
MODELS = {
    "digits": ("digits MLP (64-64-32-10, softmax)", digits_mlp, "2M"),
    "wide": ("wide MLP (200-512-180-10, 196 KB int8)", wide_mlp, "8M"),
}


def vm_has_ulab(micropython: str) -> bool:
    done = subprocess.run(
        [micropython, "-c", "import ulab"], capture_output=True, text=True, check=False
    )
    return done.returncode == 0


def _write_model(work: Path, name: str, build) -> tuple:
    """Files of one network for the VM; returns (spec entry, model, int8 rows)."""
    layers, softmax, x, data = build()
    rows = x[:: len(x) // SAMPLES][:SAMPLES]
    (work / f"{name}.mnq").write_bytes(data)
    model = container.read(data)
    codes = reference.quantize_input(model, rows)
    (work / f"{name}-x.bin").write_bytes(codes.tobytes())
    for i, (w, b) in enumerate(layers):
        for suffix, dtype in (("f64", "<f8"), ("f32", "<f4")):
            (work / f"{name}-w{i}.{suffix}").write_bytes(np.asarray(w, dtype).tobytes())
            (work / f"{name}-b{i}.{suffix}").write_bytes(np.asarray(b, dtype).tobytes())
    entry = {
        "name": name,
        "shapes": [list(np.shape(w)) for w, _ in layers],
        "softmax": softmax,
        "x": rows.tolist(),
    }
    return entry, model, codes


def measure(micropython: str, seconds: float) -> dict:
    """{name: {"times": {variant: µs}, "agree": n, "rows": n}}; raises if a micronn backend
    differs from the reference."""
    report = {}
    with tempfile.TemporaryDirectory(prefix="micronn-bench-ulab-") as scratch:
        work = Path(scratch)
        script = SCRIPT.replace("{budget_us}", str(int(seconds * 1e6)))
        (work / "bench.py").write_text(script)
        built = {}
        for name, (_, build, heap) in MODELS.items():
            entry, model, codes = _write_model(work, name, build)
            built[name] = (model, codes)
            (work / "spec.json").write_text(json.dumps([entry]))
            done = run_device_script(micropython, "bench.py", work, heap)
            if done.returncode != 0:
                raise RuntimeError(f"the VM failed:\n{done.stdout}\n{done.stderr}")
            report.update(json.loads(done.stdout.splitlines()[-1]))
        for name, (model, codes) in built.items():
            expected = reference.run(model, codes).reshape(len(codes), -1)
            for backend in ("python", "ulab"):
                got = np.frombuffer((work / f"{name}-y-{backend}.bin").read_bytes(), np.int8)
                if not np.array_equal(got.reshape(expected.shape), expected):
                    raise RuntimeError(f"{name}: backend {backend} differs from the reference")
            labels = np.array(report[name]["float_labels"])
            report[name]["agree"] = int(np.sum(expected.argmax(1) == labels))
            report[name]["rows"] = len(codes)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropython", help="MicroPython unix executable built with ulab")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing budget per variant")
    args = parser.parse_args(argv)
    try:
        micropython = find_micropython(args.micropython)
    except SimulationError as error:
        print(f"bench-ulab skipped: {error}")
        return 0
    if not vm_has_ulab(micropython):
        print(
            f"bench-ulab skipped: {micropython} has no ulab; set MICRONN_MICROPYTHON to a "
            "MicroPython built with ulab (docs/ulab.md)"
        )
        return 0
    report = measure(micropython, args.seconds)
    print("µs per inference on the VM: micronn python and ulab backends, hand-written ulab float")
    print("| network | variant | µs / inference | × python | × ulab-float |")
    print("|---|---|---:|---:|---:|")
    for name, (title, _, _) in MODELS.items():
        times = report[name]["times"]
        for variant in ("python", "ulab", "ulab-float"):
            micros = times[variant]
            print(
                f"| {title} | {variant} | {micros:,.0f} | {times['python'] / micros:.1f} "
                f"| {times['ulab-float'] / micros:.2f} |"
            )
    for name, (title, _, _) in MODELS.items():
        r = report[name]
        ratio = r["times"]["ulab"] / r["times"]["ulab-float"]
        print(
            f"{title}: ulab backend / ulab-float time {ratio:.2f} (< 1: the ulab backend is "
            f"faster); int8 and float argmax agree on {r['agree']}/{r['rows']} rows"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
