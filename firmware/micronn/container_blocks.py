"""Read and check a .mnq container's data blocks, once container.py has read its table.

Each layer's block is streamed straight into the arrays its tensors will live in, its CRC,
padding and values checked (values.py). The weights of chosen layers stay in the file
(placement.py): those are checked through a scratch buffer and become InFile records of where
they lie, or views of the file's bytes on a ROMFS mount. Version 3's labels section (class names
after the data blocks) is read by labels.py, imported only for a file that has one.
"""

import struct

from . import values
from .buffers import unfilled
from .infile import InFile
from .reading import DAMAGED, DTYPE_BITS, INT8, INT32, RECORD_HEAD


def read_blocks(reader, model, heads, in_file=None, scratch=None, in_place=None):
    """Read and check every data block, in order, into the model's layers.

    in_file: None, or flags by layer index (placement.py): bit 0 set, the layer's tensor 0 (its
    weights) is not kept; it is read through `scratch` (a memoryview, at least 4 bytes) to check
    its CRC and values and becomes an InFile giving its place in the file. Bit t + 1 set, tensor
    t is checked the same way and becomes in_place(offset in file, bits, count, nbytes): a view
    of the file's bytes (rom), or None to keep it in RAM after all.
    """
    for index in range(len(model.layers)):
        flags = in_file[index] if in_file is not None else 0
        layer = model.layers[index]
        _read_block(reader, index, layer, heads, flags, scratch, in_place)
    if model.labels_size:
        from .labels import read_labels

        model.labels = read_labels(reader, model)


def _new_tensor(dtype, count, nbytes):
    if dtype == INT8:
        return unfilled("b", count)
    if dtype == INT32:
        return unfilled("i", count)
    return bytearray(nbytes)


def _read_block(reader, index, layer, heads, flags=0, scratch=None, in_place=None):
    """Stream one data block into the layer's arrays; check its CRC, padding and values."""
    block_at, size, crc = struct.unpack_from("<III", heads, RECORD_HEAD * index + 12)
    reader.crc = 0
    clean = True
    position = 0
    tensors = []
    descriptors = layer.tensors
    for t in range(len(layer.counts)):
        dtype, offset, nbytes = descriptors[3 * t : 3 * t + 3]
        clean = reader.zeros(offset - position) and clean
        count = layer.counts[t]
        bits = DTYPE_BITS[dtype]
        view = None
        if flags >> (t + 1) & 1:
            view = in_place(block_at + offset, bits, count, nbytes)
        if (t == 0 and flags & 1) or view is not None:
            checked = bits if layer.kinds[t] == "w" else 0
            if not _pass_weights(reader, nbytes, count, checked, scratch):
                reader.fail(f"layer {index} ({layer.name}) {values.WEIGHTS_PROBLEM}")
            tensor = view if view is not None else InFile(block_at + offset, nbytes, count)
        else:
            tensor = _new_tensor(dtype, count, nbytes)
            reader.fill(tensor, nbytes)
        tensors.append(tensor)
        position = offset + nbytes
    clean = reader.zeros(size - position) and clean
    if reader.crc != crc:
        reader.fail(f"the data block of layer {index} fails its CRC check", DAMAGED)
    if not clean:
        reader.fail(f"the data block of layer {index} has non-zero padding")
    layer.tensors = tensors
    problem = values.check(layer)
    if problem:
        reader.fail(f"layer {index} ({layer.name}) {problem}")


def _pass_weights(reader, nbytes, count, bits, scratch):
    """Read a tensor chunk by chunk through scratch; True if every value is in range for
    weights of `bits` bits (0: not weights, nothing to check but the CRC)."""
    good = True
    view = scratch
    left = nbytes
    while left > 0:
        if left < len(view):
            view = scratch[:left]  # the last chunk: the only new object
        reader.fill(view, len(view))
        if bits:
            good = values.weights_in_range(view, bits) and good
        left -= len(view)
    if bits and bits != 8:
        good = values.tail_is_clean(view[len(view) - 1], count, nbytes, bits) and good
    return good
