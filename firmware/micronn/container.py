"""Read and check a .mnq version 1 container (the specification is docs/format.md).

The file is streamed: header and layer table first, then each layer's data block, every tensor
read straight into the array it will live in. Any problem raises ValueError naming it and what
to do; a model is returned only when every check of "What a reader checks" has passed.
"""

import struct
from array import array
from binascii import crc32

MAGIC = b"\x89MNQ"
VERSION = 1
TABLE_START = 72  # header (32) + input (20) + output (20)
RECORD_HEAD = 16
DESCRIPTOR = 12
FULLY_CONNECTED = 1
INT8 = 1
INT32 = 2
INT4 = 3
INT2 = 4
DTYPE_BITS = {INT8: 8, INT32: 32, INT4: 4, INT2: 2}
WEIGHT_LIMIT = {8: 127, 4: 7, 2: 1}
ACTIVATIONS = ("none", "relu", "relu6")
FC_PARAMS = 6
FC_TENSORS = 4
SMALL_INT_MAX = 0x3FFFFFFF  # 2**30 - 1, the largest small int on a board

DAMAGED = "the file is damaged or was cut short; copy or upload it again, or re-convert it"
RECONVERT = "re-convert the model with `micronn convert` and upload it again"
UPDATE = "convert it with the micronn version that runs on this board, or update the board"


class TensorInfo:
    """Shape and affine parameters (real = scale * (q - zero_point)) of the input or output."""

    def __init__(self, shape, scale, zero_point):
        self.shape = shape
        self.scale = scale
        self.zero_point = zero_point
        size = 1
        for dim in shape:
            size *= dim
        self.size = size


class DenseLayer:
    """One FULLY_CONNECTED layer as stored in the file (docs/format.md, "Operators")."""

    def __init__(self, activation, params):
        self.activation = ACTIVATIONS[activation]
        self.in_features = params[0]
        self.out_features = params[1]
        self.input_zero_point = params[2]
        self.output_zero_point = params[3]
        self.act_min = params[4]
        self.act_max = params[5]
        self.weight_bits = 8
        self.weights = None  # array('b') for int8; packed bytearray for int4 / int2
        self.bias = None  # array('i')
        self.multiplier = None  # array('i'), 1 or out_features entries
        self.shift = None  # array('i'), as many as multiplier


class Model:
    def __init__(self, input_info, output_info, layers):
        self.input = input_info
        self.output = output_info
        self.layers = layers


class _Reader:
    """Sequential exact reads from a stream, keeping a running CRC-32."""

    def __init__(self, stream, name):
        self.stream = stream
        self.name = name
        self.crc = 0

    def fail(self, problem, advice):
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


def read(stream, name="model"):
    """Parse and check a whole .mnq file from a binary stream; return a Model."""
    reader = _Reader(stream, name)
    size = stream.seek(0, 2)
    stream.seek(0)
    if size < TABLE_START:
        reader.fail(f"{size} bytes is too short for a .mnq model (at least {TABLE_START})", DAMAGED)
    head = bytearray(TABLE_START)
    reader.fill(head, TABLE_START)
    file_size, table_size, layer_count = _check_header(reader, head, size)
    reader.crc = crc32(memoryview(head)[24:], crc32(memoryview(head)[:20]))
    records, padding = _read_table(reader, table_size, layer_count)
    if reader.crc != struct.unpack_from("<I", head, 20)[0]:
        reader.fail("the header and layer table fail their CRC check", DAMAGED)
    _check_reserved(reader, head, padding)
    if not layer_count:
        reader.fail("the model has no layers", RECONVERT)
    model_input = _tensor_info(reader, head, 32, "input")
    model_output = _tensor_info(reader, head, 52, "output")
    layers = []
    layouts = []
    block_start = table_size
    for index, (record_head, body) in enumerate(records):
        layer, layout, block_start = _parse_record(
            reader, index, record_head, body, block_start, file_size
        )
        layers.append(layer)
        layouts.append(layout)
    if block_start != file_size:
        reader.fail(f"the data blocks end at byte {block_start}, not at {file_size}", RECONVERT)
    _check_chain(reader, model_input, model_output, layers)
    for index, layer in enumerate(layers):
        _read_block(reader, index, layer, layouts[index])
        _check_values(reader, index, layer)
    return Model(model_input, model_output, layers)


def _check_header(reader, head, size):
    if head[:4] != MAGIC:
        reader.fail("not a .mnq model (its first bytes are not 89 4D 4E 51)", RECONVERT)
    version, _, file_size, table_size, layer_count = struct.unpack_from("<HHIIH", head, 4)
    if version != VERSION:
        reader.fail(f"container version {version}; this micronn reads version {VERSION}", UPDATE)
    if file_size > size:
        reader.fail(f"the file has {size} bytes but its header says {file_size}", DAMAGED)
    if file_size < size:
        reader.fail(f"{size - file_size} unexpected bytes after the model's end", DAMAGED)
    if table_size % 4 or not TABLE_START <= table_size <= file_size:
        reader.fail(f"impossible layer table size {table_size}", DAMAGED)
    return file_size, table_size, layer_count


def _read_table(reader, table_size, layer_count):
    """Read the layer records (unchecked, but inside the table) and the padding after them.

    Returns the records and whether the padding is zero.
    """
    records = []
    position = TABLE_START
    for index in range(layer_count):
        if position + RECORD_HEAD > table_size:
            reader.fail(f"layer record {index} runs past the layer table", DAMAGED)
        record_head = bytearray(RECORD_HEAD)
        reader.fill(record_head, RECORD_HEAD)
        body_size = 4 * record_head[2] + DESCRIPTOR * record_head[3]
        position += RECORD_HEAD + body_size
        if position > table_size:
            reader.fail(f"layer record {index} runs past the layer table", DAMAGED)
        body = bytearray(body_size)
        reader.fill(body, body_size)
        records.append((record_head, body))
    padding = table_size - position
    if padding > 3:
        reader.fail(f"{padding} unexpected bytes after the last layer record", DAMAGED)
    return records, reader.zeros(padding)


def _check_reserved(reader, head, padding_is_zero):
    flags = struct.unpack_from("<H", head, 6)[0]
    if flags:
        reader.fail(f"unknown feature flags 0x{flags:04x}", UPDATE)
    if head[18] or head[19] or any(head[24:32]) or not padding_is_zero:
        reader.fail("a reserved header field or the table padding is not zero", RECONVERT)


def _tensor_info(reader, head, offset, what):
    dtype, ndim, reserved, d0, d1, d2, d3, scale, zero_point = struct.unpack_from(
        "<BBHHHHHfi", head, offset
    )
    dims = (d0, d1, d2, d3)
    if dtype != INT8:
        reader.fail(f"the {what} has dtype code {dtype}; version 1 knows only 1 (int8)", UPDATE)
    if not 1 <= ndim <= 4 or reserved:
        reader.fail(f"the {what} description is invalid (ndim {ndim})", RECONVERT)
    for axis in range(4):
        if dims[axis] < 1 or (axis >= ndim and dims[axis] != 1):
            reader.fail(f"the {what} shape {dims} is invalid for {ndim} dimensions", RECONVERT)
    if not 0.0 < scale < 3.5e38:  # also false for NaN
        reader.fail(f"the {what} scale {scale} is not a positive finite number", RECONVERT)
    if not -128 <= zero_point <= 127:
        reader.fail(f"the {what} zero point {zero_point} is outside -128..127", RECONVERT)
    return TensorInfo(dims[:ndim], scale, zero_point)


def _parse_record(reader, index, record_head, body, block_start, file_size):
    """Check one layer record; return the layer, its tensor layout and the next block start."""
    where = f"layer {index}"
    op, activation, n_params, n_tensors, offset, size, crc = struct.unpack_from(
        "<BBBBIII", record_head
    )
    if op != FULLY_CONNECTED:
        reader.fail(
            f"{where} has operator code {op}; this micronn knows 1 (FULLY_CONNECTED)", UPDATE
        )
    if n_params != FC_PARAMS or n_tensors != FC_TENSORS:
        reader.fail(
            f"{where} (FULLY_CONNECTED) has {n_params} params and {n_tensors} tensors, "
            f"not {FC_PARAMS} and {FC_TENSORS}",
            RECONVERT,
        )
    if activation >= len(ACTIVATIONS):
        reader.fail(f"{where} has unknown activation code {activation}", UPDATE)
    if offset != block_start or size % 4 or offset + size > file_size:
        reader.fail(
            f"the data block of {where} ({size} bytes at {offset}) is misaligned, "
            f"not right after the previous one (at {block_start}) or past the end",
            RECONVERT,
        )
    layer = DenseLayer(activation, struct.unpack_from("<6i", body))
    _check_params(reader, where, layer)
    layout = []
    end = 0
    for t in range(FC_TENSORS):
        dtype, r0, r1, r2, t_offset, count = struct.unpack_from(
            "<BBBBII", body, 4 * FC_PARAMS + DESCRIPTOR * t
        )
        bits = DTYPE_BITS.get(dtype, 0)
        if not bits or r0 or r1 or r2:
            reader.fail(
                f"tensor {t} of {where} has a bad dtype code {dtype} or non-zero reserved bytes",
                RECONVERT,
            )
        nbytes = (count * bits + 7) // 8
        if t_offset % 4 or t_offset < end or t_offset + nbytes > size:
            reader.fail(
                f"tensor {t} of {where} is misaligned, overlaps another or does not fit "
                f"its data block",
                RECONVERT,
            )
        layout.append((dtype, t_offset, count, nbytes))
        end = t_offset + nbytes
    _check_tensor_kinds(reader, where, layer, layout)
    layout.append((0, size, 0, crc))  # where the block ends, and its CRC
    return layer, layout, offset + size


def _check_params(reader, where, layer):
    if layer.in_features < 1 or layer.out_features < 1:
        reader.fail(
            f"{where} has {layer.in_features} inputs and {layer.out_features} outputs", RECONVERT
        )
    for label, value in (
        ("input zero point", layer.input_zero_point),
        ("output zero point", layer.output_zero_point),
        ("act_min", layer.act_min),
        ("act_max", layer.act_max),
    ):
        if not -128 <= value <= 127:
            reader.fail(f"{where} has {label} {value}, outside -128..127", RECONVERT)
    if layer.act_min > layer.act_max:
        reader.fail(f"{where} has act_min {layer.act_min} > act_max {layer.act_max}", RECONVERT)


def _check_tensor_kinds(reader, where, layer, layout):
    (w_dtype, _, w_count, _), bias, multiplier, shift = layout
    out_features = layer.out_features
    if w_dtype == INT32:
        reader.fail(f"the weights of {where} are int32; they must be int8, int4 or int2", RECONVERT)
    if w_count != layer.in_features * out_features:
        reader.fail(
            f"{where} has {w_count} weights, not {out_features} x {layer.in_features}", RECONVERT
        )
    layer.weight_bits = DTYPE_BITS[w_dtype]
    if bias[0] != INT32 or bias[2] != out_features:
        reader.fail(f"the bias of {where} must be {out_features} int32 values", RECONVERT)
    channels = multiplier[2]
    if multiplier[0] != INT32 or shift[0] != INT32 or shift[2] != channels:
        reader.fail(f"the multiplier and shift of {where} must be int32 of one length", RECONVERT)
    if channels != 1 and channels != out_features:
        reader.fail(f"{where} has {channels} multipliers; it needs 1 or {out_features}", RECONVERT)


def _check_chain(reader, model_input, model_output, layers):
    if model_input.size != layers[0].in_features:
        reader.fail(
            f"the input has {model_input.size} elements but layer 0 takes {layers[0].in_features}",
            RECONVERT,
        )
    for index in range(1, len(layers)):
        if layers[index].in_features != layers[index - 1].out_features:
            reader.fail(
                f"layer {index} takes {layers[index].in_features} features but layer "
                f"{index - 1} gives {layers[index - 1].out_features}",
                RECONVERT,
            )
    if model_output.size != layers[-1].out_features:
        reader.fail(
            f"the output has {model_output.size} elements but the last layer gives "
            f"{layers[-1].out_features}",
            RECONVERT,
        )


def _new_tensor(dtype, count, nbytes):
    if dtype == INT8:
        return array("b", bytes(count))
    if dtype == INT32:
        return array("i", bytes(nbytes))
    return bytearray(nbytes)


def _read_block(reader, index, layer, layout):
    """Stream one data block into the layer's arrays and check its CRC and padding."""
    reader.crc = 0
    clean = True
    position = 0
    tensors = []
    for dtype, offset, count, nbytes in layout[:FC_TENSORS]:
        clean = reader.zeros(offset - position) and clean
        tensor = _new_tensor(dtype, count, nbytes)
        reader.fill(tensor, nbytes)
        tensors.append(tensor)
        position = offset + nbytes
    _, size, _, crc = layout[FC_TENSORS]
    clean = reader.zeros(size - position) and clean
    if reader.crc != crc:
        reader.fail(f"the data block of layer {index} fails its CRC check", DAMAGED)
    if not clean:
        reader.fail(f"the data block of layer {index} has non-zero padding", RECONVERT)
    layer.weights, layer.bias, layer.multiplier, layer.shift = tensors


def _check_values(reader, index, layer):
    """Weights in range, multipliers and shifts valid, and the 31-bit accumulator bound."""
    where = f"layer {index}"
    bits = layer.weight_bits
    if not _weights_in_range(layer.weights, layer.in_features * layer.out_features, bits):
        reader.fail(
            f"{where} has int{bits} weights outside +-{WEIGHT_LIMIT[bits]} or stray bits after "
            f"the last one",
            RECONVERT,
        )
    dot = 128 * WEIGHT_LIMIT[bits]
    per_channel = len(layer.multiplier) > 1
    for c in range(len(layer.multiplier)):
        multiplier = layer.multiplier[c]
        if multiplier != 0 and multiplier >> 30 != 1:
            reader.fail(f"{where} has multiplier {multiplier}, not 0 or in [2^30, 2^31)", RECONVERT)
        shift = layer.shift[c]
        if not -31 <= shift <= 30:
            reader.fail(f"{where} has shift {shift}, outside -31..30", RECONVERT)
    for o in range(layer.out_features):
        shift = layer.shift[o if per_channel else 0]
        limit = SMALL_INT_MAX >> (shift if shift > 0 else 0)
        room = limit - layer.in_features * dot if layer.in_features <= limit // dot else -1
        bias = layer.bias[o]
        if bias > room or bias < -room:
            reader.fail(
                f"output {o} of {where} can overflow the boards' 31-bit integers "
                f"(bias {bias}, {layer.in_features} inputs, shift {shift})",
                "re-convert with a wider output range, fewer inputs per layer or smaller weights",
            )


def _weights_in_range(weights, count, bits):
    """int8 weights lie in +-127, int4 in +-7, int2 in +-1; unused trailing bits are zero."""
    if bits == 8:
        return min(weights) >= -127
    bad = _bytes_with_code(bits, 1 << (bits - 1))  # the most negative code, -8 or -2
    for byte in weights:
        if bad[byte]:
            return False
    used = count - (len(weights) - 1) * (8 // bits)
    return weights[-1] >> (used * bits) == 0


def _bytes_with_code(bits, code):
    """A 256-entry table: 1 where some bits-wide field of the byte equals code."""
    table = bytearray(256)
    field = (1 << bits) - 1
    for byte in range(256):
        for lane in range(0, 8, bits):
            if (byte >> lane) & field == code:
                table[byte] = 1
    return table
