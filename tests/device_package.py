"""The device package firmware/micronn imported under CPython as `micronn_device`.

It shares its name with the host package, so it is loaded under another name. Tests use it to
check device code with CPython tools (the 31-bit checker, rule parity with the host reader).
"""

import importlib
import importlib.util
import sys
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware" / "micronn"
NAME = "micronn_device"


def import_device_package():
    if NAME in sys.modules:
        return sys.modules[NAME]
    spec = importlib.util.spec_from_file_location(
        NAME, FIRMWARE / "__init__.py", submodule_search_locations=[str(FIRMWARE)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = package
    spec.loader.exec_module(package)
    return package


def device_module(name: str):
    """A module of the device package, e.g. device_module("container")."""
    import_device_package()
    return importlib.import_module(f"{NAME}.{name}")
