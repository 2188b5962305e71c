"""Write and read .mnq containers, version 1. The specification is docs/format.md."""

import struct
import zlib

import numpy as np

from micronn.model import (
    ACTIVATION_CODES,
    SMALL_INT_LIMIT,
    WEIGHT_LIMITS,
    FullyConnected,
    Model,
    TensorSpec,
)
from micronn.packing import pack, packed_size, unpack

MAGIC = b"\x89MNQ"
VERSION = 1
HEADER = struct.Struct("<4sHHIIHHIII")
TENSOR_INFO = struct.Struct("<BBH4HfI")
RECORD_HEAD = struct.Struct("<BBBBIII")
DESCRIPTOR = struct.Struct("<B3xII")
TABLE_START = HEADER.size + 2 * TENSOR_INFO.size
CRC_OFFSET = 20

DTYPE_CODES = {"int8": 1, "int32": 2, "int4": 3, "int2": 4}
DTYPE_BITS = {1: 8, 2: 32, 3: 4, 4: 2}
WEIGHT_DTYPES = {8: 1, 4: 3, 2: 4}
OP_FULLY_CONNECTED = 1
FC_PARAM_COUNT = 6
FC_TENSOR_COUNT = 4


class ContainerError(ValueError):
    """A .mnq file or Model that breaks the format rules."""


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _crc(*chunks) -> int:
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    return crc


# --------------------------------------------------------------------------- validation


def validate(model: Model) -> None:
    """Raise ContainerError unless the model satisfies every rule of docs/format.md."""
    if not model.layers:
        raise ContainerError("a model needs at least one layer")
    for name, spec in (("input", model.input), ("output", model.output)):
        _check_tensor_spec(name, spec)
    if model.input.size != model.layers[0].in_features:
        raise ContainerError(
            f"input has {model.input.size} elements but layer 0 takes {model.layers[0].in_features}"
        )
    if model.output.size != model.layers[-1].out_features:
        raise ContainerError(
            f"output has {model.output.size} elements but the last layer gives "
            f"{model.layers[-1].out_features}"
        )
    for index, layer in enumerate(model.layers):
        _check_layer(index, layer)
        if index and layer.in_features != model.layers[index - 1].out_features:
            raise ContainerError(
                f"layer {index} takes {layer.in_features} features but layer {index - 1} "
                f"gives {model.layers[index - 1].out_features}"
            )


def _check_tensor_spec(name: str, spec: TensorSpec) -> None:
    if spec.dtype != "int8":
        raise ContainerError(f"{name} dtype must be int8, got {spec.dtype!r}")
    if not 1 <= len(spec.shape) <= 4 or any(not 1 <= d <= 0xFFFF for d in spec.shape):
        raise ContainerError(f"{name} shape must have 1-4 dims each in 1..65535: {spec.shape}")
    if not (np.isfinite(spec.scale) and spec.scale > 0):
        raise ContainerError(f"{name} scale must be finite and > 0, got {spec.scale}")
    if not -128 <= spec.zero_point <= 127:
        raise ContainerError(f"{name} zero point {spec.zero_point} is outside -128..127")


def _check_layer(index: int, layer: FullyConnected) -> None:
    where = f"layer {index} ({layer.op})"
    if layer.weight_bits not in WEIGHT_LIMITS:
        raise ContainerError(f"{where}: weight bits must be 8, 4 or 2")
    if layer.activation not in ACTIVATION_CODES:
        raise ContainerError(f"{where}: unknown activation {layer.activation!r}")
    weights = np.asarray(layer.weights)
    if weights.ndim != 2 or weights.size == 0:
        raise ContainerError(f"{where}: weights must be a non-empty [out, in] matrix")
    limit = WEIGHT_LIMITS[layer.weight_bits]
    if np.abs(weights.astype(np.int64)).max() > limit:
        raise ContainerError(f"{where}: int{layer.weight_bits} weights must be in ±{limit}")
    if layer.bias.shape != (layer.out_features,):
        raise ContainerError(f"{where}: bias must have {layer.out_features} entries")
    channels = layer.multiplier.size
    if channels not in (1, layer.out_features) or layer.shift.size != channels:
        raise ContainerError(f"{where}: multiplier/shift need 1 or {layer.out_features} entries")
    multipliers = np.asarray(layer.multiplier, np.int64)
    if np.any((multipliers != 0) & ((multipliers < 2**30) | (multipliers >= 2**31))):
        raise ContainerError(f"{where}: multipliers must be 0 or in [2^30, 2^31)")
    if np.any((layer.shift < -31) | (layer.shift > 30)):
        raise ContainerError(f"{where}: shifts must be in [-31, 30]")
    for name in ("input_zero_point", "output_zero_point", "act_min", "act_max"):
        if not -128 <= getattr(layer, name) <= 127:
            raise ContainerError(f"{where}: {name} is outside -128..127")
    if layer.act_min > layer.act_max:
        raise ContainerError(f"{where}: act_min {layer.act_min} > act_max {layer.act_max}")
    worst = int(layer.accumulator_bounds().max())
    if worst >= SMALL_INT_LIMIT:
        raise ContainerError(
            f"{where}: the accumulator can reach {worst} (>= 2^30), beyond the boards' "
            "31-bit integers; use fewer inputs per layer, smaller biases or a smaller "
            "output multiplier (a wider output range)"
        )


# --------------------------------------------------------------------------- writing


def _fc_tensors(layer: FullyConnected) -> list:
    bits = layer.weight_bits
    if bits == 8:
        weight_bytes = np.asarray(layer.weights, np.int8).tobytes()
    else:
        weight_bytes = pack(layer.weights, bits)
    return [
        (WEIGHT_DTYPES[bits], layer.weights.size, weight_bytes),
        (DTYPE_CODES["int32"], layer.out_features, layer.bias.astype("<i4").tobytes()),
        (DTYPE_CODES["int32"], layer.multiplier.size, layer.multiplier.astype("<i4").tobytes()),
        (DTYPE_CODES["int32"], layer.shift.size, layer.shift.astype("<i4").tobytes()),
    ]


def _fc_params(layer: FullyConnected) -> list:
    return [
        layer.in_features,
        layer.out_features,
        layer.input_zero_point,
        layer.output_zero_point,
        layer.act_min,
        layer.act_max,
    ]


def _pack_tensor_spec(spec: TensorSpec) -> bytes:
    dims = tuple(spec.shape) + (1,) * (4 - len(spec.shape))
    return TENSOR_INFO.pack(
        DTYPE_CODES[spec.dtype], len(spec.shape), 0, *dims, spec.scale, spec.zero_point & 0xFFFFFFFF
    )


def write(model: Model) -> bytes:
    """Serialise a validated model to .mnq bytes."""
    validate(model)
    blocks, layouts = [], []
    for layer in model.layers:
        block, descriptors = bytearray(), []
        for dtype, count, payload in _fc_tensors(layer):
            descriptors.append((dtype, len(block), count))
            block += payload
            block += bytes(_align4(len(block)) - len(block))
        blocks.append(bytes(block))
        layouts.append(descriptors)
    record_sizes = [RECORD_HEAD.size + 4 * FC_PARAM_COUNT + DESCRIPTOR.size * FC_TENSOR_COUNT]
    table_size = _align4(TABLE_START + record_sizes[0] * len(model.layers))
    records, offset = bytearray(), table_size
    for layer, block, descriptors in zip(model.layers, blocks, layouts, strict=True):
        records += RECORD_HEAD.pack(
            OP_FULLY_CONNECTED,
            ACTIVATION_CODES[layer.activation],
            FC_PARAM_COUNT,
            FC_TENSOR_COUNT,
            offset,
            len(block),
            _crc(block),
        )
        records += struct.pack(f"<{FC_PARAM_COUNT}i", *_fc_params(layer))
        for dtype, tensor_offset, count in descriptors:
            records += DESCRIPTOR.pack(dtype, tensor_offset, count)
        offset += len(block)
    table_tail = _pack_tensor_spec(model.input) + _pack_tensor_spec(model.output) + bytes(records)
    table_tail += bytes(table_size - HEADER.size - len(table_tail))
    header = HEADER.pack(MAGIC, VERSION, 0, offset, table_size, len(model.layers), 0, 0, 0, 0)
    crc = _crc(header[:CRC_OFFSET], header[CRC_OFFSET + 4 :], table_tail)
    header = HEADER.pack(MAGIC, VERSION, 0, offset, table_size, len(model.layers), 0, crc, 0, 0)
    return header + table_tail + b"".join(blocks)


# --------------------------------------------------------------------------- reading


def read(data: bytes, name: str = "container") -> Model:
    """Parse and fully validate .mnq bytes; ContainerError says what is wrong."""
    data = bytes(data)
    if len(data) < TABLE_START:
        raise ContainerError(f"{name}: {len(data)} bytes is too short for a .mnq header")
    magic, version, flags, file_size, table_size, layer_count, reserved, crc, r1, r2 = (
        HEADER.unpack_from(data)
    )
    if magic != MAGIC:
        raise ContainerError(f"{name}: not a .mnq file (bad magic {magic!r})")
    if version != VERSION:
        raise ContainerError(f"{name}: version {version} is not supported (this reader: 1)")
    if flags or reserved or r1 or r2:
        raise ContainerError(f"{name}: unknown flags or non-zero reserved header fields")
    if file_size != len(data):
        raise ContainerError(
            f"{name}: header says {file_size} bytes but the file has {len(data)} "
            "(truncated or padded copy?)"
        )
    if table_size % 4 or not TABLE_START < table_size <= file_size:
        raise ContainerError(f"{name}: table size {table_size} is invalid")
    if _crc(data[:CRC_OFFSET], data[CRC_OFFSET + 4 : table_size]) != crc:
        raise ContainerError(f"{name}: header/layer table fails its CRC check (file corrupt)")
    model_input = _read_tensor_spec(data, HEADER.size, name, "input")
    model_output = _read_tensor_spec(data, HEADER.size + TENSOR_INFO.size, name, "output")
    layers, position, expected_offset = [], TABLE_START, table_size
    for index in range(layer_count):
        layer, position, expected_offset = _read_layer(
            data, index, position, table_size, expected_offset, name
        )
        layers.append(layer)
    if any(data[position:table_size]):
        raise ContainerError(f"{name}: non-zero bytes after the layer table")
    if expected_offset != file_size:
        raise ContainerError(f"{name}: data blocks do not end at the end of the file")
    model = Model(model_input, model_output, layers)
    try:
        validate(model)
    except ContainerError as error:
        raise ContainerError(f"{name}: {error}") from None
    return model


def _read_tensor_spec(data, offset, name, what) -> TensorSpec:
    dtype, ndim, reserved, *rest = TENSOR_INFO.unpack_from(data, offset)
    dims, scale, zero_point = rest[:4], rest[4], rest[5]
    if dtype != DTYPE_CODES["int8"] or not 1 <= ndim <= 4 or reserved:
        raise ContainerError(f"{name}: {what} description is invalid")
    if any(d != 1 for d in dims[ndim:]) or 0 in dims:
        raise ContainerError(f"{name}: {what} shape is invalid")
    zero_point = zero_point - 2**32 if zero_point >= 2**31 else zero_point
    return TensorSpec(tuple(dims[:ndim]), float(scale), zero_point)


def _read_layer(data, index, position, table_size, expected_offset, name):
    where = f"{name}: layer {index}"
    if position + RECORD_HEAD.size > table_size:
        raise ContainerError(f"{where}: record runs past the layer table")
    op, activation, n_params, n_tensors, offset, size, block_crc = RECORD_HEAD.unpack_from(
        data, position
    )
    if op != OP_FULLY_CONNECTED:
        raise ContainerError(f"{where}: unknown operator code {op}")
    if (n_params, n_tensors) != (FC_PARAM_COUNT, FC_TENSOR_COUNT):
        raise ContainerError(f"{where}: wrong parameter or tensor count for FULLY_CONNECTED")
    activations = {code: label for label, code in ACTIVATION_CODES.items()}
    if activation not in activations:
        raise ContainerError(f"{where}: unknown activation code {activation}")
    end = position + RECORD_HEAD.size + 4 * n_params + DESCRIPTOR.size * n_tensors
    if end > table_size:
        raise ContainerError(f"{where}: record runs past the layer table")
    if offset != expected_offset or size % 4 or offset + size > len(data):
        raise ContainerError(f"{where}: data block is misplaced or runs past the file")
    block = data[offset : offset + size]
    if _crc(block) != block_crc:
        raise ContainerError(f"{where}: data block fails its CRC check (file corrupt)")
    params = struct.unpack_from(f"<{n_params}i", data, position + RECORD_HEAD.size)
    in_features, out_features = params[0], params[1]
    if in_features < 1 or out_features < 1:
        raise ContainerError(f"{where}: feature counts must be >= 1")
    tensors, cursor = [], 0
    for t in range(n_tensors):
        dtype, t_offset, count = DESCRIPTOR.unpack_from(
            data, position + RECORD_HEAD.size + 4 * n_params + DESCRIPTOR.size * t
        )
        if dtype not in DTYPE_BITS or t_offset % 4 or t_offset < cursor:
            raise ContainerError(f"{where}: tensor {t} has a bad dtype or offset")
        nbytes = packed_size(count, DTYPE_BITS[dtype])
        if t_offset + nbytes > size:
            raise ContainerError(f"{where}: tensor {t} does not fit its data block")
        if any(block[cursor:t_offset]):
            raise ContainerError(f"{where}: non-zero padding before tensor {t}")
        tensors.append((dtype, count, block[t_offset : t_offset + nbytes]))
        cursor = t_offset + nbytes
    if any(block[cursor:]):
        raise ContainerError(f"{where}: non-zero padding at the end of the data block")
    layer = _fc_from_tensors(where, params, activations[activation], tensors)
    return layer, end, offset + size


def _fc_from_tensors(where, params, activation, tensors) -> FullyConnected:
    in_features, out_features, in_zp, out_zp, act_min, act_max = params
    (w_dtype, w_count, w_raw), bias, multiplier, shift = tensors
    bits = {v: k for k, v in WEIGHT_DTYPES.items()}.get(w_dtype)
    if bits is None or w_count != in_features * out_features:
        raise ContainerError(
            f"{where}: weights must be int8/int4/int2 of {out_features}x{in_features}"
        )
    int32 = DTYPE_CODES["int32"]
    if bias[0] != int32 or bias[1] != out_features:
        raise ContainerError(f"{where}: bias must be {out_features} int32 values")
    if multiplier[0] != int32 or shift[0] != int32 or multiplier[1] != shift[1]:
        raise ContainerError(f"{where}: multiplier and shift must be int32 of equal count")
    if bits == 8:
        weights = np.frombuffer(w_raw, dtype=np.int8)
    else:
        weights = unpack(w_raw, w_count, bits)
    return FullyConnected(
        weights=weights.reshape(out_features, in_features).copy(),
        bias=np.frombuffer(bias[2], "<i4").astype(np.int32),
        multiplier=np.frombuffer(multiplier[2], "<i4").astype(np.int32),
        shift=np.frombuffer(shift[2], "<i4").astype(np.int32),
        input_zero_point=in_zp,
        output_zero_point=out_zp,
        act_min=act_min,
        act_max=act_max,
        activation=activation,
        weight_bits=bits,
    )
