"""The committed .tflite fixtures are complete, and TensorFlow Lite Micro still gives their outputs.

tools/make_tflite_fixtures.py writes tests/data/tflite/ (it needs TensorFlow). The oracle checks
re-run the TFLM Python interpreter (PyPI tflite-micro, pinned in requirements.txt) on
every fixture and require the stored .tflm.npy outputs exactly.
"""

import json
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "data" / "tflite"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
ORACLE_FIXTURES = [entry for entry in MANIFEST["fixtures"] if "unsupported" not in entry]
ORACLE_FILE_SUFFIXES = (".input.npy", ".tflm.npy", ".tflite_desktop.npy")
SIZE_LIMIT_BYTES = 300_000
NO_TFLM = (
    "tflite-micro is not installed; it is pinned in requirements.txt for Linux x86-64 (`make venv`)"
)


def by_name(entries):
    return pytest.mark.parametrize("entry", entries, ids=[entry["name"] for entry in entries])


def load(entry, suffix):
    return np.load(FIXTURES / f"{entry['name']}{suffix}")


@pytest.fixture(scope="module")
def tflm_runtime():
    return pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=NO_TFLM)


@pytest.fixture(scope="module")
def tflm_schema():
    return pytest.importorskip(
        "tflite_micro.tensorflow.lite.micro.python.schema_py_generated", reason=NO_TFLM
    )


def test_manifest_lists_exactly_the_files_present():
    expected = {"MANIFEST.json"}
    for entry in MANIFEST["fixtures"]:
        expected.add(f"{entry['name']}.tflite")
        if "unsupported" not in entry:
            expected.update(entry["name"] + suffix for suffix in ORACLE_FILE_SUFFIXES)
    assert {path.name for path in FIXTURES.iterdir()} == expected


def test_fixtures_stay_small():
    total = sum(path.stat().st_size for path in FIXTURES.iterdir())
    assert total < SIZE_LIMIT_BYTES


@by_name(ORACLE_FIXTURES)
def test_stored_arrays_have_the_model_shapes_and_types(entry):
    samples, oracle, desktop = (load(entry, suffix) for suffix in ORACLE_FILE_SUFFIXES)
    assert samples.dtype == np.dtype(entry["input"]["dtype"])
    assert samples.shape == (entry["samples"], *entry["input"]["shape"][1:])
    for outputs in (oracle, desktop):
        assert outputs.dtype == np.dtype(entry["output"]["dtype"])
        assert outputs.shape == (entry["samples"], *entry["output"]["shape"][1:])


@by_name(ORACLE_FIXTURES)
def test_tflm_reproduces_the_stored_outputs_exactly(entry, tflm_runtime):
    interpreter = tflm_runtime.Interpreter.from_bytes(
        (FIXTURES / f"{entry['name']}.tflite").read_bytes()
    )
    outputs = []
    for sample in load(entry, ".input.npy"):
        interpreter.set_input(sample[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    expected = load(entry, ".tflm.npy")
    assert np.stack(outputs).dtype == expected.dtype
    np.testing.assert_array_equal(np.stack(outputs), expected)


@by_name(MANIFEST["fixtures"])
def test_manifest_names_the_operators_in_the_flatbuffer(entry, tflm_schema):
    names = {
        value: name
        for name, value in vars(tflm_schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    model_bytes = (FIXTURES / f"{entry['name']}.tflite").read_bytes()
    model = tflm_schema.Model.GetRootAsModel(model_bytes, 0)
    subgraph = model.Subgraphs(0)
    ops = []
    for index in range(subgraph.OperatorsLength()):
        code = model.OperatorCodes(subgraph.Operators(index).OpcodeIndex())
        ops.append(names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    assert ops == entry["ops"]
