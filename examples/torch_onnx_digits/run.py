"""PyTorch digits CNN exported to ONNX -> micronn post-training quantization. Prints accuracy
float vs int8 vs int4 and runs the int8 model on the MicroPython VM.

    python examples/torch_onnx_digits/run.py [--vm-samples 100]

micronn models take channels-last input: the ONNX model reads (N, 1, 8, 8) images, the
converted one (N, 8, 8, 1) (x.transpose(0, 2, 3, 1); with one channel the bytes are the same).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common import float_graph_rows, report, saved_split, vm_samples_argument  # noqa: E402
from datasets import digits_split  # noqa: E402

from micronn.importers.onnx import load_onnx  # noqa: E402

ONNX = HERE / "digits_torch.onnx"


def main() -> int:
    vm_samples = vm_samples_argument(__doc__)
    x_train, x_test, _, y_test = saved_split("torch_onnx_digits", digits_split((8, 8, 1)))
    rows, int8 = float_graph_rows(".onnx", load_onnx(ONNX), x_train, x_test, y_test)
    heading = f"PyTorch digits CNN via ONNX, {len(y_test)} test digits: accuracy"
    report(heading, rows, int8, x_test, vm_samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
