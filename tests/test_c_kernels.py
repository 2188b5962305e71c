"""The C kernels (ulab_ext/kernels) under ASan and UBSan give exactly the reference's integers.

The library is built with gcc -std=c99 -Wall -Wextra -Werror -fsanitize=address,undefined into
a tmp dir and driven through ctypes by tests/c_check.py in a child Python with the sanitizer
runtimes preloaded (a sanitized library cannot be loaded into a plain Python otherwise).
Any sanitizer report aborts the child (-fno-sanitize-recover=all), failing the test.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from c_cases import FAMILIES
from c_kernels import build, sanitizer_preload

TESTS = Path(__file__).parent
CASES_PER_FAMILY = 150
FUZZ_CALLS = 3000

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return build(tmp_path_factory.mktemp("c-kernels"), sanitize=True)


def _check(library, *args):
    env = dict(
        os.environ,
        LD_PRELOAD=sanitizer_preload(),
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
        PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    )
    command = [sys.executable, str(TESTS / "c_check.py"), str(library), *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("family", FAMILIES)
def test_kernels_match_reference_under_sanitizers(library, family):
    done = _check(library, "cases", family, 2024 + FAMILIES.index(family), CASES_PER_FAMILY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "match the reference exactly" in done.stdout
    assert "runtime error" not in done.stderr


def test_malformed_calls_return_a_status_and_never_touch_memory_they_do_not_own(library):
    done = _check(library, "fuzz", 7, FUZZ_CALLS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runtime error" not in done.stderr
    rejected = int(done.stdout.split(" rejected")[0].rsplit(" ", 1)[1])
    assert rejected > FUZZ_CALLS // 2, done.stdout


def test_sanitizer_is_really_active(library):
    done = _check(library, "overread")
    assert done.returncode != 0
    assert "AddressSanitizer" in done.stderr, done.stdout + done.stderr
