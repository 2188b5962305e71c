import numpy as np
import pytest

from micronn.packing import pack, packed_size, unpack


def test_int4_low_nibble_first_like_tflite():
    assert pack([1, -1], 4) == bytes([0xF1])
    assert pack([-8, 7, 3], 4) == bytes([0x78, 0x03])


def test_int2_low_bits_first():
    assert pack([1, -1, 0, -2], 2) == bytes([0b10001101])
    assert pack([1], 2) == bytes([0x01])


@pytest.mark.parametrize("bits", [4, 2])
@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 7, 8, 33])
def test_roundtrip_every_length(bits, count):
    rng = np.random.default_rng(count)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = rng.integers(low, high + 1, count)
    data = pack(values, bits)
    assert len(data) == packed_size(count, bits)
    assert unpack(data, count, bits).tolist() == values.tolist()


def test_odd_tail_is_zero():
    assert pack([-1], 4) == bytes([0x0F])
    assert pack([-1, -1, -1], 2) == bytes([0x3F])


@pytest.mark.parametrize(("bits", "bad"), [(4, 8), (4, -9), (2, 2), (2, -3)])
def test_out_of_range_values_rejected(bits, bad):
    with pytest.raises(ValueError, match=f"int{bits}"):
        pack([bad], bits)


def test_unsupported_width_and_short_data():
    with pytest.raises(ValueError, match="4 or 2"):
        pack([1], 3)
    with pytest.raises(ValueError, match="need"):
        unpack(b"\x00", 3, 4)
