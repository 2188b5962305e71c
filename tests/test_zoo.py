"""The zoo of 34 public .tflite models as a regression test against TFLM (tests/data/zoo/zoo.json).

converts: micronn.convert then reference.run equals the TFLM interpreter exactly on random int8
inputs and on the stored sample inputs. refused: a one-line ValueError that says why. pending:
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
DENSE_OPS = {"FULLY_CONNECTED", "QUANTIZE", "DEQUANTIZE"}


def by_file(entries):
    return pytest.mark.parametrize("entry", entries, ids=[e["file"][:-7] for e in entries])


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


def test_every_model_has_its_source_line_and_stays_small():
    with open(zoo_models.ZOO / "SOURCES.tsv", newline="") as table:
        sources = {row[0]: row for row in csv.reader(table, delimiter="\t")}
    for entry in zoo_models.entries():
        assert sources[entry["file"]][1].startswith("github:"), entry["file"]
    assert all(p.stat().st_size < SIZE_LIMIT_BYTES for p in zoo_models.ZOO.rglob("*"))


@by_file([e for e in zoo_models.entries() if "inputs" in e])
def test_sample_inputs_have_the_model_input_dtype_and_shape(entry):
    samples = np.load(zoo_models.ZOO / entry["inputs"])
    [(dtype, shape)], _ = zoo_models.edge_types(zoo_models.model_path(entry).read_bytes())
    assert samples.dtype == {"INT8": np.int8, "FLOAT32": np.float32}[dtype]
    assert samples.shape[1:] == shape[1:]


@by_file(zoo_models.entries("converts"))
def test_converted_model_equals_tflm(entry, tflm):
    path = path_or_skip(entry)
    dense_only = set(zoo_models.operators(path.read_bytes())) <= DENSE_OPS
    assert entry["random"] >= MIN_RANDOM["dense" if dense_only else "other"]
    result = zoo_models.check_model(entry, path)
    assert result.compared > 0
    assert result.mismatches == 0, str(result)


@by_file(zoo_models.entries("refused"))
def test_refused_model_says_why_in_one_line(entry):
    path = path_or_skip(entry)
    with pytest.raises(ValueError) as caught:
        micronn.convert(str(path))
    message = str(caught.value)
    assert "\n" not in message
    missing = [word for word in entry["words"] if word not in message]
    assert not missing, f"{entry['reason']}: {missing} not in: {message}"


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
