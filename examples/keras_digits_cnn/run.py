"""Keras digits CNN -> micronn, two ways: post-training quantization of the float .keras model,
and import of TensorFlow Lite's own int8 .tflite. Prints accuracy float vs int8 vs int4 and
runs the int8 model on the MicroPython VM.

    python examples/keras_digits_cnn/run.py [--vm-samples 100]
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common import float_graph_rows, report, saved_split, vm_samples_argument  # noqa: E402
from datasets import digits_split  # noqa: E402

from micronn.importers.keras import load_keras  # noqa: E402

KERAS = HERE / "digits_cnn.keras"
TFLITE = HERE / "digits_cnn_int8.tflite"


def main() -> int:
    vm_samples = vm_samples_argument(__doc__)
    x_train, x_test, _, y_test = saved_split("digits_cnn", digits_split((8, 8, 1)))
    rows, int8 = float_graph_rows(".keras", load_keras(KERAS), x_train, x_test, y_test, TFLITE)
    report(f"Keras digits CNN, {len(y_test)} test digits: accuracy", rows, int8, x_test, vm_samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
