"""The C sources keep the style of .clang-format (fix with `make c-format`)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    [
        *ROOT.glob("ulab_ext/*.c"),
        *ROOT.glob("ulab_ext/kernels/*.[ch]"),
        *ROOT.glob("tests/armv6m/*.[ch]"),
        *ROOT.glob("tools/bench_icount/*.c"),
        *ROOT.glob("tests/c_fuzz/*.c"),
    ]
)


@pytest.mark.skipif(
    shutil.which("clang-format") is None,
    reason="clang-format not installed (apt-get install clang-format; .ci/run does this)",
)
def test_c_sources_are_clang_formatted():
    assert len(SOURCES) >= 10
    done = subprocess.run(
        ["clang-format", "--dry-run", "--Werror", *map(str, SOURCES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, "run `make c-format`:\n" + done.stderr[-3000:]
