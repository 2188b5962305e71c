"""The C kernels cross-compiled for Cortex-M0+ (ARMv6-M: 32-bit, no hardware divide, strict
alignment) and run bare-metal under qemu-system-arm (mps2-an385, semihosting) on golden vectors
from the reference. .ci/run installs gcc-arm-none-eabi, libnewlib-arm-none-eabi and
qemu-system-arm; without them these tests skip and say so."""

import shutil
import subprocess
from pathlib import Path

import pytest
from c_cases import FAMILIES, random_cases
from c_golden import header
from c_kernels import KERNELS

TESTS = Path(__file__).parent
RUNNER = TESTS / "armv6m"
CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
CPU = ["-mcpu=cortex-m0plus", "-mthumb", "-Os"]
CASES_PER_FAMILY = 25
# all kernels together, .text + .rodata + .data: 8 KiB held the first ten operators; the 28
# operators of the zoo (element-wise, data movement, resizing, reductions, log-softmax) take
# about 12 KiB; 16 KiB leaves room for the next few and still flags a kernel that bloats
SIZE_BUDGET_BYTES = 16384

missing = [tool for tool in (CC, QEMU, "arm-none-eabi-size") if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing),
    reason=f"{', '.join(missing)} not installed (apt-get install --no-install-recommends "
    "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm; .ci/run does this)",
)


def _run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}{done.stderr}"
    return done


def compile_objects(folder: Path) -> list:
    """Each kernel source to its own object, as a board build would; returns the objects."""
    objects = []
    for source in sorted(KERNELS.glob("*.c")):
        target = folder / (source.stem + ".o")
        command = [CC, *CPU, "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections"]
        _run([*command, "-I", str(KERNELS), "-c", str(source), "-o", str(target)])
        objects.append(target)
    return objects


def code_sizes(objects) -> dict:
    """arm-none-eabi-size (Berkeley) text + data per object, by kernel file."""
    done = _run(["arm-none-eabi-size", *map(str, objects)])
    sizes = {}
    for line in done.stdout.splitlines()[1:]:
        text, data, _bss, *_rest, name = line.split()
        sizes[Path(name).stem] = int(text) + int(data)
    return sizes


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    return compile_objects(tmp_path_factory.mktemp("armv6m-objects"))


def test_kernels_are_bit_exact_on_cortex_m0plus_under_qemu(objects, tmp_path):
    cases = []
    for index, family in enumerate(FAMILIES):
        cases += random_cases(family, 4000 + index, CASES_PER_FAMILY, samples=2)
    (tmp_path / "golden.h").write_text(header(cases))
    elf = tmp_path / "runner.elf"
    _run(
        [
            CC,
            *CPU,
            "-std=c99",
            "-Wall",
            "-Werror",
            "--specs=rdimon.specs",
            "-nostartfiles",
            "-T",
            str(RUNNER / "link.ld"),
            "-I",
            str(KERNELS),
            "-I",
            str(tmp_path),
            str(RUNNER / "startup.c"),
            str(RUNNER / "runner.c"),
            *map(str, objects),
            "-o",
            str(elf),
        ]
    )
    done = subprocess.run(
        [QEMU, "-M", "mps2-an385", "-nographic", "-monitor", "none", "-semihosting"]
        + ["-kernel", str(elf)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    runs = CASES_PER_FAMILY * len(FAMILIES) * 2
    summary = f"armv6m: {runs} runs of {len(cases)} cases, 0 failures"
    assert summary in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0


def test_armv6m_code_size_per_kernel(objects, capsys):
    sizes = code_sizes(objects)
    with capsys.disabled():
        listed = ", ".join(f"{name} {size} B" for name, size in sizes.items())
        print(f"\narmv6m -Os code size: {listed}; total {sum(sizes.values())} B")
    assert set(sizes) >= {"dense", "conv", "pool", "add", "lookup", "softmax"}
    # the inference kernels' budget; tfquant (TF's quantize / dequantize on the board) is a
    # separate feature a firmware may leave out
    assert sum(v for k, v in sizes.items() if k != "tfquant") < SIZE_BUDGET_BYTES
