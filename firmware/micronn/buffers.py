"""Big arrays allocated without a temporary of the same size.

array("b", bytes(n)) briefly holds 2n bytes (the zeros, then the copy), which can decide whether
a model fits; array("b", range(n)) allocates only the array (int8 items wrap around). The
contents are arbitrary: callers fill the whole array before reading it.
"""

from array import array


def unfilled(typecode, count):
    """An array of `count` items of `typecode` whose contents the caller will overwrite."""
    try:
        return array(typecode, range(count))
    except OverflowError:  # CPython (host tests) checks each item's range
        return array(typecode, bytes(count * array(typecode).itemsize))
