"""Views of a model file's own bytes on a ROMFS mount (MicroPython >= 1.25): the tensors a
kernel reads in place (weights="rom"). Imported while a model loads, by the blocks' reader and
by placement.py; nothing keeps the module once the network is built."""

try:
    import uctypes
except ImportError:  # CircuitPython: no uctypes and no ROMFS
    uctypes = None


def file_view(stream):
    """memoryview straight onto the file's bytes when it lives on ROMFS, else None."""
    if uctypes is None:
        return None
    try:
        return memoryview(stream)
    except TypeError:
        return None


def tensor_view(view, at, dtype_bits, count, nbytes):
    """A view of the tensor at byte `at` of the file (`view`: file_view's); None for an int32
    tensor that is not 4-byte aligned in memory (the reader then keeps it in RAM)."""
    address = uctypes.addressof(view) + at
    if dtype_bits == 32:
        if address % 4:
            return None
        kind = uctypes.INT32
    elif dtype_bits == 8:
        kind = uctypes.INT8
    else:
        return view[at : at + nbytes]  # packed bytes, read unsigned
    layout = {"t": (uctypes.ARRAY | 0, kind | count)}
    return uctypes.struct(address, layout, uctypes.LITTLE_ENDIAN).t
