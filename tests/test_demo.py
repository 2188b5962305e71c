"""`make demo` end to end: int8 within 1 point of float, VM integers equal to the reference."""

import re
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "digits_demo.py"


def test_digits_demo_passes_its_checks(tmp_path):
    done = subprocess.run([sys.executable, str(DEMO)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    accuracies = [float(v) for v in re.findall(r"accuracy .*?([\d.]+) %", done.stdout)]
    assert len(accuracies) == 2 and accuracies[0] - accuracies[1] <= 1.0
    assert re.search(r"VM outputs == numpy reference\s+yes", done.stdout)
    assert (tmp_path / "build" / "demo" / "digits.mnq").is_file()
