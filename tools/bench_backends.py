"""`make bench-backends`: µs per inference of each kernel backend on the MicroPython VM.

Builds three reference models — the digits MLP (scikit-learn, 64-64-32-10), a micro_speech-sized
CNN (49x40x1 input: CONV_2D 8 filters 10x8 stride 2, DEPTHWISE_CONV_2D 3x3, FULLY_CONNECTED
4000->4, SOFTMAX; about 17 K parameters) and a ~200 KB wide MLP — and times `net.predict` on
the unix VM with every backend the VM offers (python, viper, and c / ulab where present). Every
backend's outputs are checked against the numpy reference before a figure is printed. Prints a
markdown table: model, backend, µs/inference, ratio to the python backend.

    python tools/bench_backends.py [--micropython PATH] [--seconds 1.0]
"""

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from micronn import container, reference
from micronn.convert import convert_graph
from micronn.graph_builder import GraphBuilder
from micronn.simulate import find_micropython, run_device_script

SEED = 0
SAMPLES = 4  # input rows each backend runs (and must match the reference on)
HEAP = "2M"
BACKENDS = ("python", "viper", "ulab", "c")

TIMING_SCRIPT = """
import json
import time
from array import array
import micronn
from micronn import backends

x = array("b", open("x.bin", "rb").read())
result = {"available": list(backends.AVAILABLE), "times": {}}
for backend in %(backends)r:
    if backend not in backends.AVAILABLE:
        continue
    net = micronn.load("model.mnq", backend=backend)
    n = len(net._x)
    y = array("b", bytes(len(net._result)))
    outputs = bytearray()
    for r in range(len(x) // n):
        net.predict(x[r * n:(r + 1) * n], y)
        outputs.extend(bytes(y))
    with open("y-%%s.bin" %% backend, "wb") as f:
        f.write(outputs)
    row = x[:n]
    runs = 0
    start = time.ticks_us()
    spent = 0
    while spent < %(budget_us)d or runs < 3:
        net.predict(row, y)
        runs += 1
        spent = time.ticks_diff(time.ticks_us(), start)
    result["times"][backend] = spent / runs
print(json.dumps(result))
"""


def digits_mlp(folder: Path) -> Path:
    """scikit-learn's MLPClassifier on the digits, as in the demo: 64 -> 64 -> 32 -> 10."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x, digits.target)
    from micronn import convert_sklearn

    path = folder / "digits_mlp.mnq"
    convert_sklearn(mlp, x, output=path)
    return path


def speech_cnn(folder: Path) -> Path:
    """A micro_speech-sized CNN with random weights, quantized from random calibration data."""
    rng = np.random.default_rng(SEED)
    g = GraphBuilder((49, 40, 1))
    conv = rng.normal(0, 0.1, (8, 10, 8, 1))
    t = g.conv2d(
        g.input, conv, rng.normal(0, 0.1, 8), stride=2, pads=(4, 3, 5, 3), activation="relu"
    )
    depthwise = rng.normal(0, 0.3, (3, 3, 8))
    t = g.depthwise_conv2d(
        t, depthwise, rng.normal(0, 0.1, 8), pads=(1, 1, 1, 1), activation="relu"
    )
    t = g.reshape(t, (4000,))
    t = g.dense(t, rng.normal(0, 0.02, (4, 4000)), rng.normal(0, 0.1, 4))
    t = g.unary("softmax", t)
    graph = g.build(t)
    calibration = rng.uniform(-1, 1, (16, 49, 40, 1)).astype(np.float32)
    path = folder / "speech_cnn.mnq"
    convert_graph(graph, path, calibration)
    return path


def wide_mlp_float():
    """The float wide MLP, 200 -> 512 -> 180 -> 10: ([(weight [out, in], bias, activation)],
    calibration inputs)."""
    rng = np.random.default_rng(SEED)
    sizes = (200, 512, 180, 10)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        weight = rng.normal(0, 1 / np.sqrt(fan_in), (fan_out, fan_in))
        last = i == len(sizes) - 2
        layers.append((weight, rng.normal(0, 0.1, fan_out), "none" if last else "relu"))
    calibration = rng.uniform(-1, 1, (32, sizes[0])).astype(np.float32)
    return layers, calibration


def wide_mlp(folder: Path) -> Path:
    """200 -> 512 -> 180 -> 10, about 196 KB of int8 weights."""
    layers, calibration = wide_mlp_float()
    g = GraphBuilder((layers[0][0].shape[1],))
    t = g.input
    for weight, bias, activation in layers:
        t = g.dense(t, weight, bias, activation)
    path = folder / "wide_mlp.mnq"
    convert_graph(g.build(t), path, calibration)
    return path


MODELS = {"digits MLP": digits_mlp, "micro_speech CNN": speech_cnn, "wide MLP 200 KB": wide_mlp}


def time_backends(path: Path, micropython: str, seconds: float) -> dict:
    """{backend: µs per inference} on the VM; raises if a backend's outputs are not exact."""
    model = container.read(path.read_bytes())
    rng = np.random.default_rng(SEED)
    x = rng.integers(-128, 128, (SAMPLES, model.input.size)).astype(np.int8)
    expected = reference.run(model, x.reshape(SAMPLES, *model.input.shape)).reshape(SAMPLES, -1)
    with tempfile.TemporaryDirectory(prefix="micronn-bench-") as scratch:
        work = Path(scratch)
        (work / "model.mnq").write_bytes(path.read_bytes())
        (work / "x.bin").write_bytes(x.tobytes())
        script = TIMING_SCRIPT % {"backends": BACKENDS, "budget_us": int(seconds * 1e6)}
        (work / "bench.py").write_text(script)
        done = run_device_script(micropython, "bench.py", work, HEAP)
        if done.returncode != 0:
            raise RuntimeError(f"the VM failed on {path.name}:\n{done.stdout}\n{done.stderr}")
        result = json.loads(done.stdout.splitlines()[-1])
        for backend in result["times"]:
            got = np.frombuffer((work / f"y-{backend}.bin").read_bytes(), np.int8)
            if not np.array_equal(got.reshape(expected.shape), expected):
                raise RuntimeError(f"{path.name}: backend {backend} differs from the reference")
    return result["times"]


def table(rows) -> str:
    lines = ["| model | backend | µs / inference | × python |", "|---|---|---:|---:|"]
    for model, times in rows:
        python = times.get("python")
        for backend in (b for b in BACKENDS if b in times):
            micros = times[backend]
            ratio = f"{python / micros:.1f}" if python else "—"
            lines.append(f"| {model} | {backend} | {micros:,.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropython", help="MicroPython unix executable")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing budget per backend")
    args = parser.parse_args(argv)
    micropython = find_micropython(args.micropython)
    rows = []
    with tempfile.TemporaryDirectory(prefix="micronn-bench-models-") as scratch:
        for name, build in MODELS.items():
            rows.append((name, time_backends(build(Path(scratch)), micropython, args.seconds)))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
