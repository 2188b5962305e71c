"""The labels section of a version 3 container: the class names of one output's last axis.

container_blocks.read_blocks imports this module only for a file that has the section
(docs/format.md, "Labels"); load() drops it with the reader. The section follows the last data
block:

    u8 output, u8 reserved, u16 count, u32 crc32 of the entries, then `count` entries of
    u8 length + that many UTF-8 bytes, zero padding to the section's end
"""

import struct

from .reading import DAMAGED


def section_size(reader, head, room):
    """The labels section's bytes from header bytes 30 and 31; it must leave room for data."""
    size = 4 * struct.unpack_from("<H", head, 30)[0]
    if not size or size >= room:
        reader.fail(f"impossible labels section of {size} bytes", DAMAGED)
    return size


def read_labels(reader, model):
    """The labels as a tuple of str; every field of the section checked."""
    size = model.labels_size
    section = bytearray(size)
    reader.fill(section, size)
    output, reserved, count, crc = struct.unpack_from("<BBHI", section)
    outputs = len(model.edges) - model.n_in
    if reserved or output >= outputs:
        reader.fail(f"the labels section names output {output}; the model has {outputs}")
    shape = model.edges[model.n_in + output].shape
    if count != shape[len(shape) - 1]:
        reader.fail(
            f"the labels section holds {count} labels for an output whose last axis has "
            f"{shape[len(shape) - 1]} items"
        )
    if _crc(memoryview(section)[8:]) != crc:
        reader.fail("the labels section fails its CRC check", DAMAGED)
    labels = []
    position = 8
    for k in range(count):
        length = section[position] if position < size else 0
        end = position + 1 + length
        if not length or end > size:
            reader.fail(f"label {k} is empty or runs past the labels section")
        try:
            text = str(section[position + 1 : end], "utf-8")
        except UnicodeError:
            text = None
        if text is None or _has_control(section, position + 1, end):
            reader.fail(f"label {k} is not printable UTF-8 text")
        labels.append(text)
        position = end
    if size - position > 3 or any(memoryview(section)[position:]):
        reader.fail("unexpected bytes after the last label")
    model.labels_output = output
    model.plain_net = model.net  # None (Net) or edge_table.net
    model.net = labelled_net
    return tuple(labels)


def labelled_net(model, *args):
    """The network of a model with labels: what it would be without, given its labels."""
    if model.plain_net is None:
        from .net import Net

        net = Net(model, *args)
    else:
        net = model.plain_net(model, *args)
    net.labels = model.labels
    net.labels_output = model.labels_output
    return net


def _crc(data):
    try:
        from binascii import crc32
    except ImportError:  # a build without binascii.crc32
        from .crc32 import crc32
    return crc32(data)


def _has_control(data, start, end):
    for i in range(start, end):
        if data[i] < 32 or data[i] == 127:
            return True
    return False
