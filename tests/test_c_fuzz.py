"""The C kernels' argument checks fuzzed with values near the integer limits (tests/c_fuzz/
kernel_fuzz.c): every call returns a status, or MNK_OK for buffers that suit its parameters in
exact arithmetic, and stays inside its buffers.

On the host the driver and the kernels are built with gcc -fsanitize=address,undefined
-fno-sanitize-recover=all, so any out-of-bounds access or undefined behaviour ends the run. On
Cortex-M0+ under QEMU (32-bit size_t, where a product of dims wraps first) they are built with
UBSan in trap mode (a trap is a HardFault, which the driver reports) and guard bytes around each
buffer. `make test` runs a few seconds of each; `make test-long` (marker `long`) runs more seeds.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from c_kernels import FUZZER, KERNELS, build_fuzzer
from test_c_armv6m import CC, CPU, QEMU, RUNNER

HOST_CALLS = 150_000  # about 2 s under the sanitizers
HOST_LONG_CALLS = 2_000_000  # per seed, about 35 s
ARMV6M_CALLS = 4_000  # about 1 s under QEMU
ARMV6M_LONG_CALLS = 150_000
ARMV6M_MAX_ALLOC = 32768  # bytes of one buffer: the board's 4 MiB RAM holds every call's
SANITIZER_OPTIONS = {
    "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:halt_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}

no_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
no_arm = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in (CC, QEMU)),
    reason=f"{CC} or {QEMU} not installed (.ci/run installs them; see test_c_armv6m.py)",
)


@pytest.fixture(scope="module")
def host_fuzzer(tmp_path_factory):
    return build_fuzzer(tmp_path_factory.mktemp("kernel-fuzz"))


def _run_host(program: Path, seed: int, calls: int, *extra: str, timeout=600):
    env = dict(os.environ, **SANITIZER_OPTIONS)
    command = [str(program), str(seed), str(calls), *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def _assert_clean(done, calls):
    report = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert f"kernel_fuzz: {calls} calls of {len(_kernels())} kernels" in done.stdout, report
    assert " 0 failures" in done.stdout, report
    assert "runtime error" not in done.stderr, report
    accepted = int(done.stdout.split("): ")[1].split(" accepted")[0])
    assert accepted > calls // 20, report  # enough calls pass the checks to run the kernels


def _kernels() -> list:
    """The kernels micronn_kernels.h exports (every function returning a status)."""
    header = (KERNELS / "micronn_kernels.h").read_text()
    return re.findall(r"^mnk_status (mnk_\w+)\(", header, re.MULTILINE)


def test_the_fuzzer_calls_every_kernel():
    table = FUZZER.read_text().split("static const op_spec OPS[] = {")[1].split("};")[0]
    missing = [name for name in _kernels() if not re.search(rf"\b{name}\b", table)]
    assert len(_kernels()) >= 25
    assert not missing, f"add them to OPS in tests/c_fuzz/kernel_fuzz.c: {missing}"


@no_gcc
def test_kernels_survive_the_fuzzer_under_asan_and_ubsan(host_fuzzer):
    _assert_clean(_run_host(host_fuzzer, 2025, HOST_CALLS), HOST_CALLS)


@no_gcc
@pytest.mark.long
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernels_survive_the_fuzzer_under_asan_and_ubsan_long(host_fuzzer, seed):
    _assert_clean(_run_host(host_fuzzer, seed, HOST_LONG_CALLS), HOST_LONG_CALLS)


@no_gcc
def test_the_fuzzer_finds_the_wrapped_weight_offset_of_issue_11(tmp_path):
    """The random calls alone (no replayed regression) find mnk_check_filter's old check, in
    which first + weight_elements wrapped past 2^64 and let the kernel read far outside."""
    kernels = tmp_path / "kernels"
    shutil.copytree(KERNELS, kernels)
    common = kernels / "common.c"
    fixed = "if (first > capacity || weight_elements > capacity - first) {"
    source = common.read_text()
    assert fixed in source
    common.write_text(source.replace(fixed, "if (first + weight_elements > capacity) {"))
    done = _run_host(build_fuzzer(tmp_path, kernels), 1, HOST_CALLS, "random-only")
    assert done.returncode != 0, done.stdout[-2000:]
    assert "AddressSanitizer" in done.stderr or "FAIL" in done.stdout, done.stderr[-2000:]


def _run_armv6m(folder: Path, seed: int, calls: int, kernels: Path = KERNELS):
    elf = folder / f"kernel_fuzz_{seed}.elf"
    build = [CC, *CPU, "-std=c99", "-Wall", "-Wextra", "-Werror"]
    build += ["-fsanitize=undefined", "-fsanitize-undefined-trap-on-error", "-DFUZZ_GUARDS"]
    build += [f"-DFUZZ_MAX_ALLOC={ARMV6M_MAX_ALLOC}", f"-DFUZZ_SEED={seed}"]
    build += [f"-DFUZZ_COUNT={calls}", "--specs=rdimon.specs", "-nostartfiles"]
    build += ["-T", str(RUNNER / "link.ld"), "-I", str(kernels), str(RUNNER / "startup.c")]
    build += [str(FUZZER), *map(str, sorted(kernels.glob("*.c"))), "-o", str(elf)]
    made = subprocess.run(build, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-3000:]
    command = [QEMU, "-M", "mps2-an385", "-nographic", "-monitor", "none", "-semihosting"]
    return subprocess.run(
        [*command, "-kernel", str(elf)], capture_output=True, text=True, timeout=900
    )


@no_arm
def test_kernels_survive_the_fuzzer_on_cortex_m0plus(tmp_path):
    _assert_clean(_run_armv6m(tmp_path, 2025, ARMV6M_CALLS), ARMV6M_CALLS)


@no_arm
@pytest.mark.long
def test_kernels_survive_the_fuzzer_on_cortex_m0plus_long(tmp_path):
    _assert_clean(_run_armv6m(tmp_path, 7, ARMV6M_LONG_CALLS), ARMV6M_LONG_CALLS)
