"""tools/bench_icount: the instruction-count benchmark builds and runs its driver for a model
under qemu, every layer's output equal to the reference's, and gives the same count every run
(the figures themselves come from `make bench-icount`)."""

import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "bench_icount"
sys.path.insert(0, str(TOOL))

import cases  # noqa: E402
import qemu  # noqa: E402

pytestmark = pytest.mark.skipif(
    bool(qemu.missing_tools()),
    reason=f"{', '.join(qemu.missing_tools())} not installed (apt-get install "
    "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm; .ci/run does this)",
)


def test_digits_cnn_counts_are_exact_and_repeatable(tmp_path):
    bench = next(b for b in cases.MODELS if b.name == "digits CNN")
    header, rows = cases.header(cases.load(bench))
    assert [row.op for row in rows][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    core = qemu.CORES[0]
    elf = qemu.build(core, qemu.KERNELS, header, tmp_path)
    first = qemu.count(core, elf)  # raises when a layer's output is not the reference's
    assert len(first) == len(rows) and all(n > 0 for n in first)
    assert qemu.count(core, elf) == first


def test_kernels_of_a_commit_are_written_from_git(tmp_path):
    folder = qemu.kernels_of_commit("HEAD", tmp_path / "kernels")
    assert (folder / "conv.c").read_bytes() == subprocess.run(
        ["git", "-C", str(qemu.ROOT), "show", "HEAD:ulab_ext/kernels/conv.c"],
        check=True,
        capture_output=True,
    ).stdout


def test_bench_skips_with_one_line_without_its_tools(monkeypatch, capsys):
    import report

    monkeypatch.setattr(qemu, "missing_tools", lambda: ["qemu-system-arm"])
    assert report.main([]) == 0
    assert capsys.readouterr().out.startswith("bench-icount: skipped, qemu-system-arm not found")
