"""1-D sensor model (Conv1D, tanh, sigmoid, residual Add, global average pooling) -> micronn,
two ways: post-training quantization of the float .keras model, and import of TensorFlow
Lite's own int8 .tflite. Prints accuracy float vs int8 vs int4 and runs the int8 model on the
MicroPython VM.

    python examples/sensor_1d/run.py [--vm-samples 100]
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common import (  # noqa: E402
    BUILD,
    accuracies,
    accuracy,
    quantized_accuracies,
    save_arrays,
    table,
    vm_check,
)
from datasets import sensor_split  # noqa: E402

from micronn.importers.keras import load_keras  # noqa: E402

KERAS = HERE / "sensor_1d.keras"
TFLITE = HERE / "sensor_1d_int8.tflite"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vm-samples", type=int, default=100, help="0 skips the VM run")
    args = parser.parse_args()

    x_train, x_test, y_train, y_test = sensor_split()
    save_arrays(BUILD / "sensor_1d", x_train=x_train, x_test=x_test, y_test=y_test)
    graph = load_keras(KERAS)
    float_accuracy = accuracy(graph.predict(x_test), y_test)
    ptq = quantized_accuracies(graph, x_train, x_test, y_test)
    tflite = quantized_accuracies(TFLITE, None, x_test, y_test)
    rows = [
        (".keras, micronn post-training quantization", {"float": float_accuracy} | accuracies(ptq)),
        (".tflite from TensorFlow's converter, imported", accuracies(tflite)),
    ]
    print(f"1-D sensor model, {len(y_test)} test windows: accuracy")
    print(table(rows))
    if args.vm_samples:
        print(vm_check(ptq["int8"][1], x_test, args.vm_samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
