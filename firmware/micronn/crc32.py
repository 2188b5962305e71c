"""CRC-32 (zlib's) in plain Python, for builds whose binascii lacks crc32.

MicroPython has binascii.crc32 only when its deflate module is built in, and some CircuitPython
boards leave it out. The running value is kept as two 16-bit halves, so the loop uses only
small ints; only the returned 32-bit value may be a long int (load time only).
"""

from array import array

_high = None
_low = None


def _tables():
    global _high, _low
    _high = array("H", bytes(512))
    _low = array("H", bytes(512))
    for index in range(256):
        high, low = 0, index
        for _ in range(8):
            odd = low & 1
            low = (low >> 1) | ((high & 1) << 15)
            high >>= 1
            if odd:
                high ^= 0xEDB8
                low ^= 0x8320
        _high[index] = high
        _low[index] = low


def crc32(data, value=0):
    """binascii.crc32(data, value) for any buffer of bytes."""
    if _high is None:
        _tables()
    high_table, low_table = _high, _low
    high = (value >> 16) ^ 0xFFFF
    low = (value & 0xFFFF) ^ 0xFFFF
    for byte in data if type(data) is bytes or type(data) is bytearray else bytes(data):
        index = (low ^ byte) & 0xFF
        low = ((low >> 8) | ((high & 0xFF) << 8)) ^ low_table[index]
        high = (high >> 8) ^ high_table[index]
    return ((high ^ 0xFFFF) << 16) | (low ^ 0xFFFF)
