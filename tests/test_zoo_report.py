"""tools/zoo_report.py: a row says what micronn does with the model now."""

import sys
from pathlib import Path

import pytest
import zoo_models
from tflm_models import NO_TFLM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import zoo_report  # noqa: E402


def entry(name):
    [found] = [e for e in zoo_models.entries() if e["file"].startswith(name)]
    return found


def test_a_converted_model_reports_its_comparison_with_tflm():
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=NO_TFLM)
    cells = zoo_report.row(entry("tflm__examples__hello_world__models__hello_world_int8"), 110)
    assert cells[1:5] == ["FULLY_CONNECTED", "INT8 -> INT8", "converts", "converts"]
    assert cells[6:] == ["2000", "0"]


def test_a_refused_model_reports_the_first_line_of_its_error_without_the_path():
    cells = zoo_report.row(entry("tflm__models__keyword_scrambled."), 0)
    assert cells[2:5] == ["INT16 -> INT32", "refused", "refused"]
    assert cells[5].startswith("SVDF (operator 1") and "int16 state" in cells[5]


def test_a_float_model_reports_that_it_calibrates_and_what_it_says_without_calibration():
    cells = zoo_report.row(entry("tflm__examples__hello_world__models__hello_world_float"), 0)
    assert cells[2:5] == ["FLOAT32 -> FLOAT32", "calibrates", "calibrates"]
    assert cells[5].startswith("with 8 calibration inputs: int8 outputs (8, 1); without: ")
    assert "pass --calibration" in cells[5] and "zoo/" not in cells[5]


def test_a_uint8_model_reports_its_comparison_with_tflm():
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=NO_TFLM)
    cells = zoo_report.row(entry("openmv__yolo_lc_192"), 0)
    assert cells[2:5] == ["UINT8 -> FLOAT32", "converts", "converts"]
    assert cells[6:] == [str(20 * 12 * 12 * 30), "0"]


@pytest.mark.parametrize(
    ("name", "claimed", "measured"),
    [
        ("tflm__models__keyword_scrambled.", "converts", "**refused**"),
        ("tflm__examples__hello_world__models__hello_world_float", "converts", "**calibrates**"),
        ("tflm__examples__hello_world__models__hello_world_int8", "calibrates", "**converts**"),
    ],
)
def test_a_status_that_disagrees_with_zoo_json_is_in_bold(name, claimed, measured):
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=NO_TFLM)
    cells = zoo_report.row({**entry(name), "status": claimed}, 0)
    assert cells[4] == measured
