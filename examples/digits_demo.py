"""micronn demo: scikit-learn digits MLP -> int8 .mnq -> MicroPython VM with the rp2040 heap.

Run with `make demo`. Prints float and int8 accuracy, the container size and the VM's peak heap,
and checks that the VM's integers equal the numpy reference's. Exits non-zero if a check fails.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import micronn
from micronn import container, reference
from micronn.boards import load_board
from micronn.simulate import simulate

BOARD = "rp2040"
SEED = 0
HIDDEN = (64, 32)
MAX_ACCURACY_DROP = 0.01
OUT_DIR = Path("build/demo")


def train(x_train, y_train) -> MLPClassifier:
    mlp = MLPClassifier(
        hidden_layer_sizes=HIDDEN, activation="relu", max_iter=600, random_state=SEED
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x_train, y_train)
    return mlp


def export_npz(mlp: MLPClassifier, input_size: int, path: Path) -> None:
    """The dense-stack layout of docs/npz.md: weights [out, in], biases, activations."""
    arrays = {"input_shape": np.array([input_size])}
    last = len(mlp.coefs_) - 1
    for i, (weight, bias) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        arrays[f"layer{i}_weight"] = weight.T.astype(np.float32)
        arrays[f"layer{i}_bias"] = bias.astype(np.float32)
        arrays[f"layer{i}_activation"] = np.array("none" if i == last else "relu")
    np.savez(path, **arrays)


def main() -> int:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=SEED, stratify=digits.target
    )
    mlp = train(x_train, y_train)
    float_accuracy = float(np.mean(mlp.predict(x_test) == y_test))

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    npz_path, mnq_path = OUT_DIR / "digits.npz", OUT_DIR / "digits.mnq"
    export_npz(mlp, x.shape[1], npz_path)
    data = micronn.convert(npz_path, output=mnq_path, calibration=x_train)
    model = container.read(data, name=str(mnq_path))

    codes = reference.quantize_input(model, x_test)
    result = simulate(data, codes, board=BOARD)
    expected = reference.run(model, codes)
    matches_reference = np.array_equal(result.outputs, expected)
    int8_accuracy = float(np.mean(np.argmax(result.outputs, axis=1) == y_test))
    heap = load_board(BOARD).heap_bytes

    rows = [
        ("float accuracy (scikit-learn)", f"{100 * float_accuracy:.2f} %"),
        (f"int8 accuracy (MicroPython VM, {BOARD})", f"{100 * int8_accuracy:.2f} %"),
        ("container bytes", f"{len(data)}"),
        ("VM peak heap", f"{result.peak_heap} of {heap} bytes"),
        ("device backend", result.backend),
        ("test samples", f"{len(y_test)}"),
        ("VM outputs == numpy reference", "yes" if matches_reference else "NO"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"micronn digits demo: MLP {x.shape[1]}-{'-'.join(map(str, HIDDEN))}-10, {mnq_path}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")

    failures = []
    if not matches_reference:
        differing = int(np.sum(np.any(result.outputs != expected, axis=1)))
        failures.append(f"VM and reference differ on {differing} samples")
    if float_accuracy - int8_accuracy > MAX_ACCURACY_DROP:
        failures.append("int8 accuracy is more than 1 point below float")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
