"""What the examples share: accuracy of a float model and of its quantized forms, a check on
the MicroPython VM, and the printed table."""

import argparse
from pathlib import Path

import numpy as np

from micronn import container, convert, convert_graph, reference
from micronn.simulate import simulate

BUILD = Path("build/examples")
BOARD = "rp2040"


def accuracy(scores, labels) -> float:
    """Percentage of rows whose largest score is at the label."""
    scores = np.asarray(scores).reshape(len(labels), -1)
    return 100.0 * float(np.mean(np.argmax(scores, axis=1) == labels))


def quantized_outputs(model, x) -> np.ndarray:
    """int8 outputs of the numpy reference for float inputs (any shape with the right size)."""
    x = np.asarray(x, np.float32).reshape(len(x), *model.input.shape)
    return reference.run(model, reference.quantize_input(model, x))


def quantized_accuracies(source, x_calibration, x_test, y_test, weights=("int8", "int4")):
    """{weights: (accuracy, .mnq bytes)} for a model file or a FloatGraph.

    A float source is post-training quantized with x_calibration; an int8 .tflite is imported
    with the quantization it carries (int4 re-quantizes its weights)."""
    results = {}
    for kind in weights:
        if isinstance(source, (str, Path)):
            quantized = str(source).endswith(".tflite")
            calibration = None if quantized else x_calibration
            data = convert(source, calibration=calibration, weights=kind)
        else:
            data = convert_graph(source, calibration=x_calibration, weights=kind)
        model = container.read(data)
        results[kind] = (accuracy(quantized_outputs(model, x_test), y_test), data)
    return results


def accuracies(results) -> dict:
    """{weights: accuracy} from quantized_accuracies' results."""
    return {kind: acc for kind, (acc, _) in results.items()}


def float_graph_rows(label, graph, x_train, x_test, y_test, tflite=None):
    """Table rows for a float graph quantized by micronn (calibrated on x_train) and, when given,
    for TensorFlow's own int8 .tflite of the same model; also the int8 .mnq bytes."""
    float_accuracy = accuracy(graph.predict(x_test), y_test)
    ptq = quantized_accuracies(graph, x_train, x_test, y_test)
    rows = [
        (
            f"{label}, micronn post-training quantization",
            {"float": float_accuracy} | accuracies(ptq),
        )
    ]
    if tflite is not None:
        imported = quantized_accuracies(tflite, None, x_test, y_test)
        rows.append((".tflite from TensorFlow's converter, imported", accuracies(imported)))
    return rows, ptq["int8"][1]


def vm_check(data: bytes, x, samples: int) -> str:
    """Run the first `samples` inputs on the MicroPython VM; compare with the reference."""
    model = container.read(data)
    x = np.asarray(x[:samples], np.float32).reshape(-1, *model.input.shape)
    codes = reference.quantize_input(model, x)
    result = simulate(data, codes, board=BOARD)
    same = np.array_equal(result.outputs, reference.run(model, codes))
    verdict = "identical to" if same else "DIFFERENT from"
    return (
        f"MicroPython VM ({BOARD} heap, {result.backend} kernels): {len(codes)} samples, "
        f"outputs {verdict} the numpy reference, peak heap {result.peak_heap} bytes"
    )


def table(rows, columns=("float", "int8", "int4")) -> str:
    """A Markdown table; each row is (name, {column: accuracy or None})."""
    lines = ["| path | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, values in rows:
        cells = [f"{values[c]:.2f} %" if values.get(c) is not None else "—" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def vm_samples_argument(doc: str) -> int:
    """The examples' one option, --vm-samples (0 skips the VM run)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--vm-samples", type=int, default=100, help="0 skips the VM run")
    return parser.parse_args().vm_samples


def saved_split(name: str, split):
    """split (x_train, x_test, y_train, y_test), also written under build/examples/<name>/."""
    x_train, x_test, _, y_test = split
    save_arrays(BUILD / name, x_train=x_train, x_test=x_test, y_test=y_test)
    return split


def report(heading: str, rows, int8_data: bytes, x_test, vm_samples: int) -> None:
    """Print the accuracy table and, unless vm_samples is 0, the MicroPython VM check."""
    print(heading)
    print(table(rows))
    if vm_samples:
        print(vm_check(int8_data, x_test, vm_samples))


def save_arrays(folder: Path, **arrays) -> None:
    """Write the data sets as .npy files for the command-line steps in the README."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
