"""What both halves of the .mnq reader share: the checked stream and the format's codes.

container.py reads and checks the table, container_blocks.py the data blocks; load() drops the
first before it imports the second, so that only this small module is in the heap with both.
"""

try:
    from binascii import crc32
except ImportError:  # a build without binascii.crc32
    from .crc32 import crc32

RECORD_HEAD = 24
INT8, INT32, INT4, INT2 = 1, 2, 3, 4
DTYPE_BITS = {INT8: 8, INT32: 32, INT4: 4, INT2: 2}

DAMAGED = "the file is damaged or was cut short; copy or upload it again, or re-convert it"
RECONVERT = "re-convert the model with `micronn convert` and upload it again"
UPDATE = "update micronn on the board (`micronn flash` installs the current runtime)"


class Reader:
    """Sequential exact reads from a stream, keeping a running CRC-32."""

    def __init__(self, stream, name):
        self.stream = stream
        self.name = name
        self.crc = 0

    def fail(self, problem, advice=RECONVERT):
        raise ValueError(f"{self.name}: {problem}; {advice}")

    def fill(self, buffer, nbytes):
        got = self.stream.readinto(buffer) if nbytes else 0
        if got != nbytes:
            self.fail(f"the file ended early (wanted {nbytes} more bytes)", DAMAGED)
        self.crc = crc32(buffer, self.crc)

    def zeros(self, nbytes):
        """Read nbytes of padding; return True if they are all zero."""
        chunk = bytearray(16)
        clean = True
        while nbytes > 0:
            step = nbytes if nbytes < 16 else 16
            view = memoryview(chunk)[:step]
            self.fill(view, step)
            for byte in view:
                if byte:
                    clean = False
            nbytes -= step
        return clean
