"""Per float .tflite of the model zoo: does it convert with --calibration, how far the imported
float graph is from TFLM running the file in float, and how close the quantized model stays.

    python tools/float_tflite_zoo.py [--zoo ../shared/zoo] [--samples 16]

Inputs and calibration data are those of tests/float_tflite_zoo.py. Prints a Markdown table.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from float_tflite_zoo import calibration_inputs, test_inputs, tflm_float_outputs  # noqa: E402

from micronn import reference  # noqa: E402
from micronn.convert import convert_to_model  # noqa: E402
from micronn.importers.tflite import read_tflite  # noqa: E402
from micronn.importers.tflite.float_graph import float_graph  # noqa: E402

MODELS = (
    "tflm__examples__hello_world__models__hello_world_float",
    "tiny__ad01_fp32",
    "tiny__kws_ref_model_float32",
    "tiny__model_ToyCar_quant",
    "tiny__pretrainedResnet",
    "tiny__pretrainedResnet_large_float",
    "tiny__vww_96_float",
)


def measure(path: Path, samples: int) -> str:
    name = path.stem
    data = path.read_bytes()
    x = test_inputs(name, samples)
    try:
        graph = float_graph(read_tflite(data, name))
        model = convert_to_model(path, calibration=calibration_inputs(name))
    except ValueError as error:
        return f"| {name} | no: {error} | | | |"
    floats = graph.predict(x)
    tflm = tflm_float_outputs(data, x).reshape(floats.shape)
    quantized = reference.dequantize_output(
        model, reference.run(model, reference.quantize_input(model, x))
    )
    quantized = quantized.reshape(floats.shape)
    span = float(np.abs(floats).max())
    error = np.abs(quantized - floats)
    agree = np.mean(quantized.argmax(1) == floats.argmax(1))
    argmax = f"{agree:.0%}" if graph.nodes[-1].op == "softmax" else "(regression)"
    return (
        f"| {name} | yes | {float(np.abs(floats - tflm).max()):.2g} | "
        f"{error.max() / span:.1%} / {error.mean() / span:.2%} (of {span:.3g}) | {argmax} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=ROOT.parent.parent / "shared" / "zoo")
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    print(
        "| model | converts | float import vs TFLM, max abs "
        "| quantized vs float, max / mean abs | argmax agrees |"
    )
    print("|---|---|---|---|---|")
    for name in MODELS:
        print(measure(args.zoo / f"{name}.tflite", args.samples), flush=True)


if __name__ == "__main__":
    main()
