"""Where the files that travel with the host package live: device package, board profiles, docs.

In a wheel they are package data under micronn/_firmware, micronn/_boards and micronn/_docs; in
the repo (editable install) they are firmware/, boards/ and docs/ at the top of the checkout.
"""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent.parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"micronn data folder not found (tried {tried}); reinstall micronn")


def device_package_dir() -> Path:
    """The device package folder `micronn/` (its parent goes on the MicroPython path)."""
    return _first_existing(
        _PACKAGE_DIR / "_firmware" / "micronn", _REPO_ROOT / "firmware" / "micronn"
    )


def boards_dir() -> Path:
    """The folder of board profiles, one `<name>.json` per board."""
    return _first_existing(_PACKAGE_DIR / "_boards", _REPO_ROOT / "boards")


def docs_dir() -> Path:
    """The documentation folder (docs/*.md and docs/boards/*.md)."""
    return _first_existing(_PACKAGE_DIR / "_docs", _REPO_ROOT / "docs")


def device_script(name: str) -> Path:
    """A MicroPython script shipped with the host package (runs on the VM, not CPython)."""
    path = _PACKAGE_DIR / "device_scripts" / name
    if not path.is_file():
        raise FileNotFoundError(f"device script {name!r} missing from {path.parent}")
    return path
