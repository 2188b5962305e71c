"""Signed int4 / int2 packing, low bits first (TFLite's int4 order, extended to int2)."""

import numpy as np

_BITS = (4, 2)


def _check_bits(bits: int) -> int:
    if bits not in _BITS:
        raise ValueError(f"bits must be 4 or 2, got {bits!r}")
    return bits


def packed_size(count: int, bits: int) -> int:
    """Bytes needed for `count` elements of `bits` bits each."""
    return (count * bits + 7) // 8


def pack(values, bits: int) -> bytes:
    """Pack signed integers (flat order) into bytes, element k at bit offset k*bits."""
    bits = _check_bits(bits)
    flat = np.asarray(values).reshape(-1)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if flat.size and (flat.min() < low or flat.max() > high):
        raise ValueError(f"int{bits} values must lie in [{low}, {high}]")
    per_byte = 8 // bits
    padded = np.zeros(packed_size(flat.size, bits) * per_byte, dtype=np.uint8)
    padded[: flat.size] = flat.astype(np.int64) & ((1 << bits) - 1)
    lanes = padded.reshape(-1, per_byte).astype(np.uint16)
    shifts = np.arange(per_byte, dtype=np.uint16) * bits
    return (lanes << shifts).sum(axis=1).astype(np.uint8).tobytes()


def unpack(data, count: int, bits: int) -> np.ndarray:
    """Inverse of pack: `count` sign-extended int8 values."""
    bits = _check_bits(bits)
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    if raw.size < packed_size(count, bits):
        raise ValueError(f"{count} int{bits} values need {packed_size(count, bits)} bytes")
    per_byte = 8 // bits
    shifts = np.arange(per_byte, dtype=np.uint8) * bits
    fields = (raw[:, None] >> shifts) & ((1 << bits) - 1)
    fields = fields.reshape(-1)[:count].astype(np.int8)
    sign = np.int8(1 << (bits - 1))
    return (fields ^ sign) - sign
