"""The rules on a layer's tensor values, checked right after its data block is read.

check(layer) returns what is wrong, or None: weights inside +-wmax with no stray bits after the
last packed one, multipliers and shifts in range, and the 31-bit bound of docs/format.md
(|bias[o]| + dot) * 2**left < 2**30, the bound that lets every evaluator keep small ints; for
SOFTMAX, the range and order of its exp table.
"""

from .rules import multiplier_problem

SMALL_INT_MAX = 0x3FFFFFFF  # 2**30 - 1, the largest small int on a board
WEIGHT_LIMIT = {8: 127, 4: 7, 2: 1}


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
    if not _weights_in_range(weights, layer.counts[0], bits):
        return (
            f"has int{bits} weights outside +-{WEIGHT_LIMIT[bits]} or stray bits after the last one"
        )
    for c in range(len(multipliers)):
        problem = multiplier_problem(multipliers[c], shifts[c])
        if problem:
            return problem
    dot = _largest_dot(layer.name, layer.params, WEIGHT_LIMIT[bits])
    per_channel = len(multipliers) > 1
    for o in range(len(bias)):
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
