"""The .mnq writer and reader (docs/format.md)."""

import struct
import zlib

import numpy as np
import pytest
from model_factory import random_dense_model

from micronn import container
from micronn.container import ContainerError


@pytest.fixture
def model():
    return random_dense_model(np.random.default_rng(7), max_width=12)


def test_roundtrip_preserves_every_field():
    rng = np.random.default_rng(11)
    for _ in range(30):
        original = random_dense_model(rng)
        restored = container.read(container.write(original))
        assert restored.input == original.input and restored.output == original.output
        for a, b in zip(original.layers, restored.layers, strict=True):
            for name in ("weights", "bias", "multiplier", "shift"):
                assert np.array_equal(getattr(a, name), getattr(b, name))
            for name in ("input_zero_point", "output_zero_point", "act_min", "act_max"):
                assert getattr(a, name) == getattr(b, name)
            assert (a.activation, a.weight_bits) == (b.activation, b.weight_bits)


def test_layout_is_aligned_and_crcs_cover_every_byte(model):
    data = container.write(model)
    magic, version, flags, file_size, table_size, count = struct.unpack_from("<4sHHIIH", data)
    assert (magic, version, flags, file_size) == (b"\x89MNQ", 1, 0, len(data))
    (table_crc,) = struct.unpack_from("<I", data, 20)
    assert table_crc == zlib.crc32(data[24:table_size], zlib.crc32(data[:20]))
    position, covered_to = 72, table_size
    for _ in range(count):
        offset, size, crc = struct.unpack_from("<III", data, position + 4)
        assert offset == covered_to and offset % 4 == 0 and size % 4 == 0
        assert zlib.crc32(data[offset : offset + size]) == crc
        for t in range(4):
            _, t_offset, _ = struct.unpack_from("<B3xII", data, position + 16 + 24 + 12 * t)
            assert t_offset % 4 == 0
        covered_to = offset + size
        position += 16 + 24 + 48
    assert covered_to == len(data)


def test_every_truncation_is_rejected(model):
    data = container.write(model)
    for length in range(len(data)):
        with pytest.raises(ContainerError):
            container.read(data[:length])


def test_every_single_byte_corruption_is_rejected(model):
    data = container.write(model)
    for position in range(len(data)):
        for pattern in (0x01, 0x80, 0xFF):
            corrupt = bytearray(data)
            corrupt[position] ^= pattern
            with pytest.raises(ContainerError):
                container.read(bytes(corrupt))


def test_appended_bytes_are_rejected(model):
    with pytest.raises(ContainerError, match="header says"):
        container.read(container.write(model) + b"\x00")


def test_writer_refuses_accumulator_beyond_31_bits(model):
    layer = model.layers[0]
    layer.bias[:] = 2**30 - 1
    with pytest.raises(ContainerError, match="31-bit"):
        container.write(model)


def test_writer_refuses_out_of_range_weights(model):
    layer = model.layers[0]
    layer.weight_bits = 4
    layer.weights[:] = 8
    with pytest.raises(ContainerError, match="int4"):
        container.write(model)


def test_writer_refuses_shapes_that_do_not_chain(model):
    model.layers.append(model.layers[0])
    with pytest.raises(ContainerError):
        container.write(model)
