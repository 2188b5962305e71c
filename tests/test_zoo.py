"""The zoo of 34 public .tflite models as a regression test against TFLM (tests/data/zoo/zoo.json).

converts: micronn.convert then reference.run equals the TFLM interpreter exactly on random int8
inputs and on the stored sample inputs (uint8 edges: TFLM gets uint8 codes, micronn codes - 128).
calibrates: a float model is refused without --calibration, with a word to pass it, and with a
few calibration inputs converts and runs. refused: a one-line ValueError that says why. pending:
strict xfail on the named blocker, so a model that starts to convert says "move me".
"""

import csv

import numpy as np
import pytest
import zoo_models
from tflm_models import NO_TFLM

import micronn

SIZE_LIMIT_BYTES = 2_000_000
MIN_RANDOM = {"dense": 2000, "other": 20}
MAX_CALIBRATION = 16  # calibrates: a few inputs show it converts; accuracy is tested elsewhere
DENSE_OPS = {"FULLY_CONNECTED", "QUANTIZE", "DEQUANTIZE"}
NOT_DATA = ("README.md", "SOURCES.tsv", "zoo.json")  # the files of tests/data/zoo without a source
SAMPLE_DTYPES = {"INT8": np.int8, "UINT8": np.uint8, "FLOAT32": np.float32}


def by_file(entries):
    params = [pytest.param(e, marks=pytest.mark.long) if e.get("long") else e for e in entries]
    return pytest.mark.parametrize("entry", params, ids=[e["file"][:-7] for e in entries])


@pytest.fixture(scope="module")
def tflm():
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=NO_TFLM)


def path_or_skip(entry):
    path = zoo_models.model_path(entry)
    if path is None:
        pytest.skip(
            f"{entry['file']} is over 2 MB and not in tests/data/zoo; set $MICRONN_ZOO to a "
            "folder holding it (the shared zoo) to include it"
        )
    return path


def test_manifest_lists_exactly_the_files_present():
    stored = {path.name for path in zoo_models.ZOO.glob("*.tflite")}
    assert stored == {e["file"] for e in zoo_models.entries() if not e.get("external")}
    assert len(zoo_models.entries()) == 34


def test_every_file_has_one_source_line_and_stays_small():
    with open(zoo_models.ZOO / "SOURCES.tsv", newline="") as table:
        header, *rows = csv.reader(table, delimiter="\t")
    assert header == ["file", "repository@commit", "path or description"]
    names = [row[0] for row in rows]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    assert not duplicated, f"more than one source line for {duplicated}"
    files = {
        p.relative_to(zoo_models.ZOO).as_posix() for p in zoo_models.ZOO.rglob("*") if p.is_file()
    }
    external = {e["file"] for e in zoo_models.entries() if e.get("external")}
    wanted = files - set(NOT_DATA) | external
    assert not wanted - set(names), f"add a SOURCES.tsv line for {sorted(wanted - set(names))}"
    assert not set(names) - wanted, f"SOURCES.tsv names absent {sorted(set(names) - wanted)}"
    for row in rows:
        assert len(row) == 3 and row[1].startswith("github:") and "@" in row[1] and row[2], row
    assert all(p.stat().st_size < SIZE_LIMIT_BYTES for p in zoo_models.ZOO.rglob("*"))


@by_file([e for e in zoo_models.entries() if "inputs" in e])
def test_sample_inputs_have_the_model_input_dtype_and_shape(entry):
    samples = np.load(zoo_models.ZOO / entry["inputs"])
    [(dtype, shape)], _ = zoo_models.edge_types(zoo_models.model_path(entry).read_bytes())
    assert samples.dtype == SAMPLE_DTYPES[dtype]
    assert samples.shape[1:] == shape[1:]
    owner = zoo_models.ZOO / entry["inputs"].replace("inputs/", "").replace(".npy", ".tflite")
    if owner.is_file() and owner.name != entry["file"]:  # another model's samples: same codes
        borrowed = zoo_models.input_parameters(owner.read_bytes())
        assert zoo_models.input_parameters(zoo_models.model_path(entry).read_bytes()) == borrowed


@by_file(zoo_models.entries("converts"))
def test_converted_model_equals_tflm(entry, tflm):
    path = path_or_skip(entry)
    dense_only = set(zoo_models.operators(path.read_bytes())) <= DENSE_OPS
    assert entry["random"] >= MIN_RANDOM["dense" if dense_only else "other"]
    result = zoo_models.check_model(entry, path)
    assert result.compared > 0
    assert result.mismatches == 0, str(result)


def assert_says_why_in_one_line(entry, message: str) -> None:
    assert message, f"{entry['file']} converts: zoo.json says {entry['status']}"
    assert "\n" not in message
    missing = [word for word in entry["words"] if word not in message]
    assert not missing, f"{entry['reason']}: {missing} not in: {message}"


@by_file(zoo_models.entries("refused"))
def test_refused_model_says_why_in_one_line(entry):
    path = path_or_skip(entry)
    with pytest.raises(ValueError) as caught:
        micronn.convert(str(path))
    assert_says_why_in_one_line(entry, str(caught.value))


@by_file(zoo_models.entries("calibrates"))
def test_float_model_asks_for_calibration_and_converts_with_it(entry):
    path = path_or_skip(entry)
    result = zoo_models.check_calibrated(entry, path)
    assert_says_why_in_one_line(entry, result.refusal)
    assert 0 < entry["calibration"] <= MAX_CALIBRATION
    assert result.output == result.expected, str(result)


@by_file(zoo_models.entries("pending"))
@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="pending in zoo.json; if this XPASSes the model converts and equals TFLM: move it "
    "to converts",
)
def test_pending_model_is_blocked_by_what_zoo_json_names(entry, tflm):
    path = path_or_skip(entry)
    try:
        micronn.convert(str(path))
    except ValueError as error:
        missing = [word for word in entry["words"] if word not in str(error)]
        assert not missing, f"the blocker changed, update zoo.json: {error}"
        raise
    result = zoo_models.check_model({"random": 20, **entry}, path)
    assert result.mismatches == 0, str(result)
