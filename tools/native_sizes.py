"""Write host_tools/micronn/native_sizes.py: the bytes of each viper module's .mpy, compiled by
mpy-cross for each native arch whose MicroPython ports keep native code in the GC heap, for the
memory planner (docs/memory.md, "Native code on a board").

    .venv/bin/python tools/native_sizes.py           # print the table
    .venv/bin/python tools/native_sizes.py --write   # rewrite native_sizes.py

tests/test_native_sizes.py fails when the table is not the current runtime's.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from micronn.memory_plan import HEAP_NATIVE_ARCHS
from micronn.runtime import NEWEST_MPY, MpyTarget, build_runtime, plan_runtime

OUTPUT = Path(__file__).resolve().parents[1] / "host_tools" / "micronn" / "native_sizes.py"


def viper_mpy_bytes() -> dict:
    """arch -> {viper module: bytes of its .mpy for that arch}."""
    table = {}
    for arch in HEAP_NATIVE_ARCHS:
        files = build_runtime(plan_runtime(MpyTarget(*NEWEST_MPY, arch)))
        table[arch] = {
            Path(path).stem: len(data)
            for path, data in sorted(files.items())
            if Path(path).name.startswith("viper_") and path.endswith(".mpy")
        }
    return table


def render(table: dict) -> str:
    lines = [
        '"""Bytes of each viper module\'s .mpy per native arch: an upper bound of the native',
        "code a board that keeps native code in its GC heap holds for it (docs/memory.md).",
        'Written by tools/native_sizes.py; tests/test_native_sizes.py checks it is current."""',
        "",
        "VIPER_MPY_BYTES = {",
    ]
    for arch, sizes in table.items():
        lines.append(f"    {arch!r}: {{")
        lines.extend(f"        {module!r}: {size}," for module, size in sizes.items())
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite native_sizes.py")
    args = parser.parse_args()
    text = render(viper_mpy_bytes())
    if args.write:
        OUTPUT.write_text(text)
        subprocess.run([sys.executable, "-m", "ruff", "format", str(OUTPUT)], check=False)
        print(f"wrote {OUTPUT}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
