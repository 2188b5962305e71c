"""host_tools/micronn/native_sizes.py is the current runtime's: the .mpy bytes of each viper
module for each arch whose ports keep native code in the heap (tools/native_sizes.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import native_sizes  # noqa: E402

from micronn.native_sizes import VIPER_MPY_BYTES  # noqa: E402


def test_the_viper_code_sizes_are_the_current_runtimes():
    current = native_sizes.viper_mpy_bytes()
    assert current == VIPER_MPY_BYTES, "run: .venv/bin/python tools/native_sizes.py --write"
