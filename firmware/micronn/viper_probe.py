"""Compiles only where MicroPython has its native emitter: backends.py imports it to learn
whether the viper backend can run. Without the emitter (CircuitPython, some ports) the
compiler rejects the decorator with SyntaxError; a .mpy built for another architecture fails
with ValueError or ImportError."""

import micropython


@micropython.viper
def works() -> int:
    return 1
