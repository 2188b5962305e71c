"""PyTorch digits CNN exported to ONNX -> micronn post-training quantization. Prints accuracy
float vs int8 vs int4 and runs the int8 model on the MicroPython VM.

    python examples/torch_onnx_digits/run.py [--vm-samples 100]

micronn models take channels-last input: the ONNX model reads (N, 1, 8, 8) images, the
converted one (N, 8, 8, 1) (x.transpose(0, 2, 3, 1); with one channel the bytes are the same).
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
from datasets import digits_split  # noqa: E402

from micronn.importers.onnx import load_onnx  # noqa: E402

ONNX = HERE / "digits_torch.onnx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vm-samples", type=int, default=100, help="0 skips the VM run")
    args = parser.parse_args()

    x_train, x_test, y_train, y_test = digits_split((8, 8, 1))
    save_arrays(BUILD / "torch_onnx_digits", x_train=x_train, x_test=x_test, y_test=y_test)
    graph = load_onnx(ONNX)
    float_accuracy = accuracy(graph.predict(x_test), y_test)
    ptq = quantized_accuracies(graph, x_train, x_test, y_test)
    rows = [
        (".onnx, micronn post-training quantization", {"float": float_accuracy} | accuracies(ptq))
    ]
    print(f"PyTorch digits CNN via ONNX, {len(y_test)} test digits: accuracy")
    print(table(rows))
    if args.vm_samples:
        print(vm_check(ptq["int8"][1], x_test, args.vm_samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
