"""`make bench-icount` (python tools/bench_icount): instructions per inference and per MAC of
the C kernels on ARMv6-M and ARMv7E-M, counted under qemu-system-arm -icount (deterministic:
the same figures every run).

Each model of cases.MODELS is converted with micronn.convert; every layer runs once on the
reference's input for it and its output is checked against the reference's. With --baseline
COMMIT the kernels of that commit (git show, into a temp folder) are measured in the same run
and the table adds their counts and the speed-up.

    python tools/bench_icount [--baseline COMMIT] [--models NAME,...] [--layers]
"""

import argparse
import tempfile
from pathlib import Path

import cases
import qemu


def _figure(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return f"{n:.0f}"


def measure(models, kernels: dict, folder: Path) -> dict:
    """{(model name, core label, kernels label): [instructions per layer]}, and the layer rows."""
    counts, rows = {}, {}
    for bench in models:
        header, rows[bench.name] = cases.header(cases.load(bench))
        for core in qemu.CORES:
            for label, source in kernels.items():
                where = folder / f"{bench.name}-{core.machine}-{label}".replace(" ", "_")
                elf = qemu.build(core, source, header, where)
                counts[bench.name, core.label, label] = qemu.count(core, elf)
    return counts, rows


def model_table(models, counts, rows, labels) -> str:
    head = "| model | MACs | core | " + " | ".join(
        f"{label} instructions | {label} / MAC" for label in labels
    )
    if len(labels) > 1:
        head += " | speed-up"
    lines = [head + " |", "|---" * (head.count("|") - 1) + "|"]
    for bench in models:
        total_macs = sum(row.macs for row in rows[bench.name])
        for core in qemu.CORES:
            cells = [bench.name, _figure(total_macs), core.label]
            totals = [sum(counts[bench.name, core.label, label]) for label in labels]
            for total in totals:
                cells += [_figure(total), f"{total / max(total_macs, 1):.2f}"]
            if len(labels) > 1:
                cells.append(f"{totals[0] / totals[-1]:.2f}×")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def layer_table(bench, counts, rows, labels) -> str:
    lines = [f"{bench.name}, per layer (instructions; per MAC in brackets):"]
    head = "| # | op | output | MACs | " + " | ".join(
        f"{core.label} {label}" for core in qemu.CORES for label in labels
    )
    lines += [head + " |", "|---" * (head.count("|") - 1) + "|"]
    for i, row in enumerate(rows[bench.name]):
        cells = [str(i), row.op, "×".join(map(str, row.shape)), _figure(row.macs)]
        for core in qemu.CORES:
            for label in labels:
                n = counts[bench.name, core.label, label][i]
                per = f" ({n / row.macs:.2f})" if row.macs else ""
                cells.append(_figure(n) + per)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="also measure the kernels of this git commit")
    parser.add_argument("--models", help="comma-separated model names (default: all)")
    parser.add_argument("--layers", action="store_true", help="print a per-layer table too")
    args = parser.parse_args(argv)
    missing = qemu.missing_tools()
    if missing:
        print(
            f"bench-icount: skipped, {' and '.join(missing)} not found (apt-get install "
            "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
        )
        return 0
    models = cases.MODELS
    if args.models:
        wanted = [name.strip() for name in args.models.split(",")]
        models = [bench for bench in cases.MODELS if bench.name in wanted]
        unknown = set(wanted) - {bench.name for bench in models}
        if unknown:
            known = ", ".join(bench.name for bench in cases.MODELS)
            parser.error(f"unknown model {', '.join(sorted(unknown))}; choose from {known}")
    with tempfile.TemporaryDirectory(prefix="micronn-bench-icount-") as scratch:
        folder = Path(scratch)
        kernels = {}
        if args.baseline:
            kernels[args.baseline[:10]] = qemu.kernels_of_commit(args.baseline, folder / "base")
        kernels["now"] = qemu.KERNELS
        counts, rows = measure(models, kernels, folder)
    labels = list(kernels)
    print(
        f"C kernels, instructions per inference under qemu -icount ({qemu.OPTIMIZE}, "
        "every layer's output checked against the reference):"
    )
    print(model_table(models, counts, rows, labels))
    if args.layers:
        for bench in models:
            print()
            print(layer_table(bench, counts, rows, labels))
    return 0
