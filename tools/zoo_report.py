"""`make zoo-report`: one table row per zoo model (tests/data/zoo/zoo.json) as micronn finds it now.

Per model: operators, input and output dtypes, the status zoo.json expects, the status measured
(converts / calibrates / refused with the first line of its error / crash with the exception
type; in bold when it disagrees with zoo.json), and for a model that converts, the outputs
compared against the TFLM interpreter and how many differ (random int8 inputs and the stored
samples, as tests/test_zoo.py). calibrates: refused without calibration, and with zoo.json's
calibration inputs it converts and runs with the model's output shape (tried for the models
zoo.json expects to calibrate; accuracy is tests/test_float_import_tflite.py's).

    python tools/zoo_report.py [--width 110]
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import zoo_models  # noqa: E402

import micronn  # noqa: E402

RANDOM_FOR_UNLISTED = 20  # random inputs for a model that converts but zoo.json does not count
# the measured status each zoo.json status expects (a pending model is refused for now)
EXPECTED = {
    "converts": "converts",
    "calibrates": "calibrates",
    "refused": "refused",
    "pending": "refused",
}


def measure(entry, path: Path) -> tuple:
    """(status, detail, compared, mismatches) of one model."""
    try:
        micronn.convert(str(path))
    except ValueError as error:
        refusal = str(error).splitlines()[0].removeprefix(f"{path}: ")
        if "calibration" not in entry:
            return "refused", refusal, "", ""
        return calibrate(entry, path, refusal)
    except Exception as error:  # noqa: BLE001 - a crash is what the report must show
        return "crash", crash(error), "", ""
    result = zoo_models.check_model({"random": RANDOM_FOR_UNLISTED, **entry}, path)
    return "converts", "", str(result.compared), str(result.mismatches)


def calibrate(entry, path: Path, refusal: str) -> tuple:
    try:
        result = zoo_models.check_calibrated(entry, path)
    except ValueError as error:
        with_it = str(error).splitlines()[0].removeprefix(f"{path}: ")
        return "refused", f"with calibration: {with_it}", "", ""
    except Exception as error:  # noqa: BLE001
        return "crash", f"with calibration: {crash(error)}", "", ""
    if result.output != result.expected:
        return "wrong shape", f"{result}, not {result.expected[0]} {result.expected[1]}", "", ""
    return "calibrates", f"{result}; without: {refusal}", "", ""


def crash(error) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0]


def row(entry, width: int) -> list:
    path = zoo_models.model_path(entry)
    if path is None:
        return [entry["file"], "", "", entry["status"], "absent", "set $MICRONN_ZOO", "", ""]
    data = path.read_bytes()
    inputs, outputs = zoo_models.edge_types(data)
    status, detail, compared, mismatches = measure(entry, path)
    agrees = status == EXPECTED[entry["status"]] and mismatches in ("", "0")
    if width and len(detail) > width:
        detail = detail[: width - 1] + "…"
    return [
        entry["file"].removesuffix(".tflite"),
        " ".join(zoo_models.operators(data)),
        ",".join(d for d, _ in inputs) + " -> " + ",".join(d for d, _ in outputs),
        entry["status"],
        status if agrees else f"**{status}**",
        detail.replace("|", "/"),
        compared,
        mismatches,
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=110, help="cut errors to N chars (0: whole)")
    args = parser.parse_args(argv)
    header = ["model", "operators", "io", "expected", "measured", "error", "compared", "differ"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    counts = {}
    for entry in zoo_models.entries():
        cells = row(entry, args.width)
        counts[cells[4]] = counts.get(cells[4], 0) + 1
        print("| " + " | ".join(cells) + " |", flush=True)
    print()
    print(", ".join(f"{status}: {n}" for status, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
