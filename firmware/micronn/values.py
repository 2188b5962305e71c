"""The rules on a layer's tensor values, checked right after its data block is read.

check(layer) returns what is wrong, or None: weights inside +-wmax with no stray bits after the
last packed one, multipliers and shifts in range, and the 31-bit bound of docs/format.md
(|bias[o]| + dot) * 2**left < 2**30, the bound that lets every evaluator keep small ints; for
SOFTMAX, the range and order of its exp table.
"""

from array import array

SMALL_INT_MAX = 0x3FFFFFFF  # 2**30 - 1, the largest small int on a board
WEIGHT_LIMIT = {8: 127, 4: 7, 2: 1}
WEIGHTS_PROBLEM = "has weights outside +-wmax (-128, -8, -2) or stray bits after the last one"


def multiplier_problem(multiplier, shift):
    """A quantized multiplier is 0 or in [2^30, 2^31), its shift in [-31, 30]."""
    if multiplier != 0 and multiplier >> 30 != 1:
        return f"multiplier {multiplier} is not 0 or in [2^30, 2^31)"
    if not -31 <= shift <= 30:
        return f"shift {shift} is outside -31..30"
    return None


def _largest_dot(name, p, wmax):
    """The largest |sum of weight x input| one output can reach."""
    if name == "FULLY_CONNECTED":
        return p[0] * 128 * wmax  # int8 inputs; the input zero point is folded into the bias
    if name == "CONV_2D":
        return p[6] * p[7] * p[2] * 255 * wmax  # kernel_h * kernel_w * in_channels * |x - zp|
    return p[6] * p[7] * 255 * wmax  # DEPTHWISE_CONV_2D: one input channel per output


def check(layer):
    if layer.name == "SOFTMAX":
        return _exp_table_problem(layer.tensors[0])
    if not layer.tensors or layer.kinds[0] != "w":
        return None
    weights, bias, multipliers, shifts = layer.tensors
    bits = layer.weight_bits
    # weights left in the file (an InFile, or a view on ROMFS) were checked chunk by chunk as
    # the reader passed them
    in_ram = type(weights) in (array, bytearray)
    if in_ram and not _weights_in_range(weights, layer.counts[0], bits):
        return (
            f"has int{bits} weights outside +-{WEIGHT_LIMIT[bits]} or stray bits after the last one"
        )
    for c in range(len(multipliers)):
        problem = multiplier_problem(multipliers[c], shifts[c])
        if problem:
            return problem
    dot = _largest_dot(layer.name, layer.params, WEIGHT_LIMIT[bits])
    per_channel = len(multipliers) > 1
    for o in range(layer.counts[1]):  # the bias may be a view on ROMFS, which has no len()
        shift = shifts[o if per_channel else 0]
        limit = SMALL_INT_MAX >> (shift if shift > 0 else 0)
        room = limit - dot if dot <= limit else -1
        if not -room <= bias[o] <= room:
            return f"output {o} can overflow 31-bit integers (bias {bias[o]}, shift {shift})"
    return None


def _exp_table_problem(exp):
    """SOFTMAX's exp[i] = exp(-i) in Q0.31: in [0, 2^31) and never increasing. (The host
    re-derives the whole table; a board trusts the CRC for the exact values.)"""
    previous = exp[0]
    for value in exp:
        if value < 0 or value > previous:
            return "has an exp table that is negative or increasing"
        previous = value
    return None


def _weights_in_range(weights, count, bits):
    """int8 weights lie in +-127, int4 in +-7, int2 in +-1; unused trailing bits are zero."""
    if not weights_in_range(weights, bits):
        return False
    return bits == 8 or tail_is_clean(weights[-1], count, len(weights), bits)


def weights_in_range(chunk, bits):
    """No int8 -128, int4 -8 or int2 -2 in chunk: any run of whole bytes of the tensor, int8
    read as signed ('b'), packed bytes signed or unsigned."""
    if bits == 8:
        return min(chunk) >= -127
    bad = _bytes_with_code(bits, 1 << (bits - 1))  # the most negative code, -8 or -2
    for byte in chunk:
        if bad[byte & 0xFF]:
            return False
    return True


def tail_is_clean(last_byte, count, nbytes, bits):
    """The bits after the last of count packed values in the tensor's last byte are zero."""
    used = count - (nbytes - 1) * (8 // bits)
    return (last_byte & 0xFF) >> (used * bits) == 0


def _bytes_with_code(bits, code):
    """A 256-entry table: 1 where some bits-wide field of the byte equals code."""
    table = bytearray(256)
    field = (1 << bits) - 1
    for byte in range(256):
        for lane in range(0, 8, bits):
            if (byte >> lane) & field == code:
                table[byte] = 1
    return table
