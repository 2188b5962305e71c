"""`make bench-ulab`: the ulab backend against a hand-written ulab float network, on a VM with ulab.

The digits MLP (scikit-learn, 64-64-32-10, as in tools/bench_backends.py) runs three ways on the
MicroPython VM named by --micropython / $MICRONN_MICROPYTHON:
- micronn with backend "python" and backend "ulab" (int8 codes in, int8 codes out; outputs
  checked against the numpy reference first);
- ulab-float: what a ulab user writes by hand — float weights, np.dot, + bias, relu, softmax
  (the same function as the int8 network, whose last layer is SOFTMAX).
Prints µs per inference and the ratios. Without a VM that has ulab it says so and exits 0.

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

from micronn import container, reference
from micronn.simulate import SimulationError, find_micropython, run_device_script

SEED = 0
SAMPLES = 8
HEAP = "2M"

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


with open("float.json") as f:
    spec = json.load(f)
layers = [(np.array(w), np.array(b)) for w, b in spec["layers"]]


def forward(x):
    # the float network as a ulab user writes it: dot, bias, relu, softmax
    last = len(layers) - 1
    for i in range(len(layers)):
        w, b = layers[i]
        x = np.dot(w, x) + b
        if i < last:
            x = np.maximum(x, 0.0)
    x = np.exp(x - np.max(x))
    return x / np.sum(x)


floats = [np.array(row) for row in spec["x"]]
result = {"times": {}, "float_labels": [int(np.argmax(forward(x))) for x in floats]}
codes = open("x.bin", "rb").read()
for backend in ("python", "ulab"):
    net = micronn.load("model.mnq", backend=backend, weights="ram")
    n = len(net._x)
    y = array("b", bytes(len(net._y)))
    outputs = bytearray()
    for r in range(len(codes) // n):
        net.predict(codes[r * n:(r + 1) * n], y)
        outputs.extend(bytes(y))
    with open("y-%s.bin" % backend, "wb") as f:
        f.write(outputs)
    row = array("b", codes[:n])
    result["times"][backend] = timed(lambda: net.predict(row, y), {budget_us})
x0 = floats[0]
result["times"]["ulab-float"] = timed(lambda: forward(x0), {budget_us})
print(json.dumps(result))
"""


def digits_mlp():
    """(fitted MLPClassifier, float inputs) on scikit-learn's digits, as in bench_backends."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x, digits.target)
    return mlp, x


def vm_has_ulab(micropython: str) -> bool:
    done = subprocess.run(
        [micropython, "-c", "import ulab"], capture_output=True, text=True, check=False
    )
    return done.returncode == 0


def measure(micropython: str, seconds: float) -> dict:
    """{"times": {name: µs}, ...}; raises if a micronn backend differs from the reference."""
    from micronn import convert_sklearn

    mlp, x = digits_mlp()
    rows = x[:: len(x) // SAMPLES][:SAMPLES]
    with tempfile.TemporaryDirectory(prefix="micronn-bench-ulab-") as scratch:
        work = Path(scratch)
        convert_sklearn(mlp, x, output=work / "model.mnq")
        model = container.read((work / "model.mnq").read_bytes())
        codes = reference.quantize_input(model, rows)
        (work / "x.bin").write_bytes(codes.tobytes())
        layers = [
            [w.T.tolist(), b.tolist()] for w, b in zip(mlp.coefs_, mlp.intercepts_, strict=True)
        ]
        (work / "float.json").write_text(json.dumps({"layers": layers, "x": rows.tolist()}))
        script = SCRIPT.replace("{budget_us}", str(int(seconds * 1e6)))
        (work / "bench.py").write_text(script)
        done = run_device_script(micropython, "bench.py", work, HEAP)
        if done.returncode != 0:
            raise RuntimeError(f"the VM failed:\n{done.stdout}\n{done.stderr}")
        result = json.loads(done.stdout.splitlines()[-1])
        expected = reference.run(model, codes).reshape(len(rows), -1)
        for backend in ("python", "ulab"):
            got = np.frombuffer((work / f"y-{backend}.bin").read_bytes(), np.int8)
            if not np.array_equal(got.reshape(expected.shape), expected):
                raise RuntimeError(f"backend {backend} differs from the reference")
        result["agree"] = int(np.sum(expected.argmax(1) == np.array(result["float_labels"])))
        result["rows"] = len(rows)
    return result


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
    result = measure(micropython, args.seconds)
    times = result["times"]
    print("digits MLP (64-64-32-10), µs per inference on the VM")
    print("| variant | µs / inference | × python | × ulab-float |")
    print("|---|---:|---:|---:|")
    for name in ("python", "ulab", "ulab-float"):
        micros = times[name]
        print(
            f"| {name} | {micros:,.0f} | {times['python'] / micros:.1f} "
            f"| {times['ulab-float'] / micros:.2f} |"
        )
    print(
        f"ulab backend / ulab-float time: {times['ulab'] / times['ulab-float']:.2f} "
        f"(< 1 means the ulab backend is faster); int8 and float argmax agree on "
        f"{result['agree']}/{result['rows']} rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
