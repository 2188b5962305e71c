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
    cells = zoo_report.row(entry("openmv__yolo_lc_192"), 0)
    assert cells[2:5] == ["UINT8 -> FLOAT32", "refused", "refused"]
    assert cells[5].startswith("tensor 'serving_default_input_1:0'") and "UINT8" in cells[5]


def test_a_status_that_disagrees_with_zoo_json_is_in_bold():
    cells = zoo_report.row({**entry("openmv__yolo_lc_192"), "status": "converts"}, 0)
    assert cells[4] == "**refused**"
