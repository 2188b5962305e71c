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
    magic, version, flags, file_size, table_size, layers, tensors = struct.unpack_from(
        "<4sHHIIHH", data
    )
    assert (magic, version, flags, file_size) == (b"\x89MNQ", 1, 0, len(data))
    assert tensors == len(model.layers) + 1
    (table_crc,) = struct.unpack_from("<I", data, 20)
    assert table_crc == zlib.crc32(data[24:table_size], zlib.crc32(data[:20]))
    position, covered_to = 32 + 24 + 16 * tensors, table_size
    for _ in range(layers):
        op, _, n_params, n_tensors = struct.unpack_from("<BBBB", data, position)
        offset, size, crc = struct.unpack_from("<III", data, position + 12)
        assert op == 1 and offset == covered_to and offset % 4 == 0 and size % 4 == 0
        assert zlib.crc32(data[offset : offset + size]) == crc
        descriptors = position + 24 + 4 * n_params
        for t in range(n_tensors):
            _, t_offset, _ = struct.unpack_from("<B3xII", data, descriptors + 12 * t)
            assert t_offset % 4 == 0
        covered_to = offset + size
        position = descriptors + 12 * n_tensors
    assert covered_to == len(data)


def test_chain_arena_reuses_memory():
    rng = np.random.default_rng(12)
    model = random_dense_model(rng, max_width=40)
    while len(model.layers) < 3:
        model = random_dense_model(rng, max_width=40)
    data = container.write(model)
    (arena,) = struct.unpack_from("<I", data, 24)
    assert arena < sum(model.activation_sizes) + 4 * len(model.shapes)
    pairs = zip(model.activation_sizes, model.activation_sizes[1:], strict=False)
    assert arena >= max(a + b for a, b in pairs)


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
