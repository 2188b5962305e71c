"""Keep room for the model's tensors while the reader is imported.

Importing the reader leaves the heap in small pieces, so on a small board there may be enough
free bytes for a layer's bias but no run of them long enough. load() therefore skims the table
first (sizes only, nothing checked: a lie costs only this reservation), imports the kernel
modules, takes one block as large as the tensors it will keep, imports the reader, and frees the
block just before it reads the table: the table's checks borrow it, and once they are dropped
the tensors find one run of bytes there.
"""

import gc
import struct
import sys

from .infile import CHECK_BYTES, MOVABLE, OP_NAMES

WORDS = 2 if getattr(sys, "maxsize", 0x7FFFFFFF) > 0x7FFFFFFF else 1  # 8-byte words: twice
OBJECT_BYTES = 16 * WORDS  # an array object with its header, rounded up to a GC block
TABLE_BYTES = 1024 * WORDS  # the table's objects: about 1 KB + 330 B per layer (32-bit VM)
LAYER_BYTES = 384 * WORDS
CHECKS_BYTES = 6144 * WORDS  # the table's checks (rules.py, arena.py), with some margin
FEW_BYTES = 1024 * WORDS  # rom: tensors this small find room in the holes the reader leaves
DTYPE_BITS = (0, 8, 32, 4, 2)  # by container dtype code (docs/format.md)
IN_PLACE_CODES = {1: 3, 2: 3, 3: 3}  # placement.IN_PLACE by container code


def skim(stream, weights):
    """(bytes of room to hold for the tensors load() will keep for this placement, operator
    codes), from the unchecked table; None when the table does not add up (the reader then says
    what is wrong)."""
    head = bytearray(24)
    stream.seek(0)
    if stream.readinto(head) != 24:
        return None
    codes = []
    table_size, layer_count, tensor_count = struct.unpack_from("<IHH", head, 12)
    position = 56 + 16 * tensor_count
    if head[4] >= 2:  # versions 2 and 3: the edge counts are bytes 28 and 29 (version 1: two edges)
        stream.seek(28)
        stream.readinto(head)
        position += 12 * (head[0] + head[1] - 2)
    kept = 0
    for _ in range(layer_count):
        stream.seek(position)
        if position + 24 > table_size or stream.readinto(head) != 24:
            return None
        op, param_count, tensor_count = head[0], head[2], head[3]
        body = bytearray(4 * param_count + 12 * tensor_count)
        if stream.readinto(body) != len(body):
            return None
        position += 24 + len(body)
        if op not in codes:
            codes.append(op)
        name = OP_NAMES.get(op)
        # rom: the tensors the python and viper kernels only read stay in the file too
        in_place = IN_PLACE_CODES.get(op, 0) if weights == "rom" else 0
        for t in range(tensor_count):
            at = 4 * param_count + 12 * t
            dtype, count = body[at], struct.unpack_from("<I", body, at + 8)[0]
            bits = DTYPE_BITS[dtype] if dtype < len(DTYPE_BITS) else 8
            moved = t == 0 and name in MOVABLE and weights != "ram"
            if not moved and not in_place >> t & 1:
                kept += (count * bits + 7) // 8 + OBJECT_BYTES
    if weights == "rom" and kept <= FEW_BYTES:
        return 0, codes  # no room: the weights stay in flash, no late buffer needs a long run
    # The table is read after the release: its objects, and the table's checks while they are
    # imported, land at the start of the room. A big room keeps space for both, so that the
    # tensors still find one run of bytes after them; a small one lends itself to the checks.
    allowance = TABLE_BYTES + LAYER_BYTES * layer_count
    if kept > 4 * CHECKS_BYTES:
        allowance += CHECKS_BYTES
    return kept + CHECK_BYTES + OBJECT_BYTES + allowance, codes


_held = None  # the reservation: only this module refers to it, so release() really frees it


def hold(stream, weights):
    """Take a block as large as the tensors load() will keep (nothing if the heap has no room);
    return the operator codes of the model (empty if the table does not add up)."""
    global _held
    _held = None
    try:
        skimmed = skim(stream, weights)
        if skimmed is None:
            return ()
        if skimmed[0]:
            _held = bytearray(skimmed[0])
        return skimmed[1]
    except (MemoryError, ValueError, OSError):
        return ()


def release():
    global _held
    _held = None
    gc.collect()
