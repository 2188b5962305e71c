"""The float-model examples run end to end: import, quantize, print the accuracy table, and
agree with the numpy reference on the MicroPython VM."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_sensor_example_prints_its_table_and_matches_the_vm(tmp_path):
    pytest.importorskip("h5py")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sensor_1d" / "run.py"), "--vm-samples", "3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "| path | float | int8 | int4 |"
    assert lines[3].startswith("| .keras, micronn post-training quantization | 97.67 %")
    assert "outputs identical to the numpy reference" in lines[-1]
    assert (tmp_path / "build" / "examples" / "sensor_1d" / "x_train.npy").is_file()
