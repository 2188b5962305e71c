"""ROMFS images: MicroPython's read-only filesystem in flash (`vfs.VfsRom`, MicroPython 1.25 and
later), holding the device package, the board agent and models.

A board mounts its ROMFS partition at /rom and puts /rom and /rom/lib on `sys.path`. A module
imported from there runs its bytecode in place, so only its objects take heap, and a model
there can keep its weights in flash (`micronn.load(path, weights="rom")`). `mpremote romfs
deploy IMAGE.romfs` writes an image to the board's partition (docs/memory.md, "The runtime in
flash").

The format is extmod/vfs_rom.c's: records of (kind, length, payload), lengths as big-endian
base-128 varuints, which may be padded with leading 0x80 bytes. This writer puts every file's
data first, each in a verbatim-data record whose start is ALIGN-aligned from the image's
start, then the directory tree, whose files point at their data (pointer records). A model's
tensors then keep the alignment they have in the file.
"""

HEADER = b"\xd2\xcd\x31"  # the filesystem record's kind, 0x14a6b1: "RM1"
LENGTH_WIDTH = 5  # bytes of the image's length varuint: the data's offsets never move
ALIGN = 8
PADDING, VERBATIM, POINTER, DIRECTORY, FILE = 1, 2, 3, 4, 5
POINTER_WIDTH = 5  # bytes of each varuint in a pointer record (up to 2**35)


def varuint(value: int, width: int = 0) -> bytes:
    """`value` in base 128, most significant group first, padded to `width` bytes."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    groups.extend([0x80] * (width - len(groups)))
    return bytes(reversed(groups))


def _record(kind: int, payload: bytes) -> bytes:
    return varuint(kind) + varuint(len(payload)) + payload


def _named(name: str, records: bytes) -> bytes:
    encoded = name.encode("ascii")
    return varuint(len(encoded)) + encoded + records


def build_image(files: dict) -> bytes:
    """A ROMFS image of `files` ({"lib/micronn/net.mpy": bytes, "model.mnq": bytes, ...}): each
    file's data starts ALIGN-aligned from the image's start."""
    head = len(HEADER) + LENGTH_WIDTH
    payload = bytearray()
    where = {}
    for path, data in files.items():
        _check_path(path)
        start = head + len(payload) + 1  # after the record's kind byte
        least = len(varuint(len(data)))
        width = least + (-(start + least)) % ALIGN
        payload += varuint(VERBATIM) + varuint(len(data), width) + data
        where[path] = (len(data), start + width - head)
    payload += _tree(_nested(files), "", where)
    if (head + len(payload)) % 2:  # a filesystem's size must be even (vfs_rom.c)
        payload += _record(PADDING, b"\0")
    return HEADER + varuint(len(payload), LENGTH_WIDTH) + bytes(payload)


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path.isascii() or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{path!r} is not a plain relative path for a ROMFS image")


def _nested(files: dict) -> dict:
    tree = {}
    for path in files:
        *folders, name = path.split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path!r}: {folder!r} is both a file and a folder")
        if name in node:
            raise ValueError(f"{path!r}: {name!r} is both a file and a folder")
        node[name] = path
    return tree


def _tree(node: dict, prefix: str, where: dict) -> bytes:
    out = bytearray()
    for name in sorted(node):
        entry = node[name]
        if isinstance(entry, dict):
            out += _record(DIRECTORY, _named(name, _tree(entry, prefix + name + "/", where)))
        else:
            size, offset = where[entry]
            pointer = varuint(size, POINTER_WIDTH) + varuint(offset, POINTER_WIDTH)
            out += _record(FILE, _named(name, _record(POINTER, pointer)))
    return bytes(out)
