"""predict's check of array inputs with viper: net.py copies an array of one-byte items into
the input tensor as raw bytes, which is exact for array('b') but not for an array('B') holding
items above 127 (they are no int8 codes, and predict must reject them as before)."""

# ruff: noqa: F821 - ptr8 is the viper emitter's own type

import micropython


@micropython.viper
def _first_high_byte(buffer: ptr8, count: int) -> int:
    """The index of the first byte of buffer[:count] that is 128 or more, or -1."""
    for i in range(count):
        if buffer[i] > 127:
            return i
    return -1


def above_127(x, copied, count):
    """True when the array x, whose bytes copied holds, has an item above 127: the first byte
    with its top bit set is the first such item of an array('B'); an array('b') reads it as
    negative."""
    i = _first_high_byte(copied, count)
    return i >= 0 and x[i] > 127
