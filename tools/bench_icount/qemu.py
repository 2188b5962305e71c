"""Build the kernels and bench.c for a Cortex-M core and count instructions under qemu-system-arm.

`-icount shift=7` makes every guest instruction take 2**7 = 128 ns of guest time, whatever the
host does; the MPS2 FPGA counter counts the 25 MHz system clock of guest time, 3.2 ticks per
instruction, so instructions = round(ticks x 40 / 128) exactly (the rounding error of two
reads is below a third of an instruction). The same program gives the same counts every run.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KERNELS = ROOT / "ulab_ext" / "kernels"
RUNNER = ROOT / "tests" / "armv6m"
BENCH_C = Path(__file__).with_name("bench.c")
CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
SHIFT = 7
NS_PER_TICK = 40  # 25 MHz
OPTIMIZE = "-Os"  # what MicroPython's rp2 firmware (MinSizeRel) and natmods build with
TIMEOUT_S = 900


@dataclass(frozen=True)
class Core:
    label: str
    machine: str
    flags: tuple


CORES = (
    Core("ARMv6-M (Cortex-M0+)", "mps2-an385", ("-mcpu=cortex-m0plus", "-mthumb")),
    Core("ARMv7E-M (Cortex-M4)", "mps2-an386", ("-mcpu=cortex-m4", "-mthumb")),
)


def missing_tools() -> list:
    return [tool for tool in (CC, QEMU) if shutil.which(tool) is None]


def kernels_of_commit(commit: str, folder: Path) -> Path:
    """ulab_ext/kernels of a git commit, written into folder (git show, the work tree untouched)."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{commit}:ulab_ext/kernels"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    folder.mkdir(parents=True, exist_ok=True)
    for name in listing:
        blob = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:ulab_ext/kernels/{name}"],
            check=True,
            capture_output=True,
        ).stdout
        (folder / name).write_bytes(blob)
    return folder


def _run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... failed:\n{done.stdout}{done.stderr}")
    return done


def build(core: Core, kernels: Path, header: str, folder: Path) -> Path:
    """bench.elf for `core` from the kernels in `kernels` and the cases in `header`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.h").write_text(header)
    flags = [*core.flags, OPTIMIZE, "-std=c99", "-ffunction-sections"]
    objects = []
    for source in sorted(kernels.glob("*.c")):
        target = folder / f"{source.stem}.o"
        _run([CC, *flags, "-I", str(kernels), "-c", str(source), "-o", str(target)])
        objects.append(str(target))
    elf = folder / "bench.elf"
    _run(
        [CC, *flags, "--specs=rdimon.specs", "-nostartfiles", "-T", str(RUNNER / "link.ld")]
        + ["-I", str(kernels), "-I", str(RUNNER), "-I", str(folder), "-Wl,--gc-sections"]
        + [str(RUNNER / "startup.c"), str(BENCH_C), *objects, "-o", str(elf)]
    )
    return elf


def _instructions(ticks: int) -> int:
    return round(ticks * NS_PER_TICK / (1 << SHIFT))


def count(core: Core, elf: Path) -> list:
    """Instructions of each case, in order; RuntimeError if a case's output is not the
    reference's."""
    command = [QEMU, "-M", core.machine, "-nographic", "-monitor", "none", "-semihosting"]
    command += ["-icount", f"shift={SHIFT}", "-kernel", str(elf)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    empty = re.search(r"^empty ticks (\d+)$", done.stdout, re.M)
    cases = re.findall(r"^case (\d+) ticks (\d+) (.+)$", done.stdout, re.M)
    bad = [line for line in cases if line[2] != "ok"]
    if done.returncode != 0 or empty is None or bad:
        raise RuntimeError(f"{core.label}: {bad[:3] or 'no result'}\n{done.stdout[-2000:]}")
    overhead = _instructions(int(empty.group(1)))
    return [_instructions(int(ticks)) - overhead for _, ticks, _ in cases]
