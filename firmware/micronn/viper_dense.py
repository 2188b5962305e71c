"""FULLY_CONNECTED with the viper backend (MicroPython's native emitter): same integers as
python_dense, every MAC in machine code.

Accumulators go, a block of outputs at a time, into a small int32 scratch and then through
viper_requant.requantize. Each partial sum is bounded as in python_dense: |bias| +
in_features * 128 * wmax < 2**30 (the container's rule), so a 32-bit word never overflows.
"""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

from array import array

import micropython

from .viper_requant import requantize, table

BLOCK = 32  # outputs per accumulator block: 128 bytes of scratch

READ_ONLY = 2  # the bias is only read (ptr32): it may be a view on ROMFS (placement.py)


def prepare(op, params, tensors):
    in_features, out_features, _, zero_point, act_min, act_max = params
    weights, bias, multipliers, shifts = tensors
    words = table(multipliers, shifts, out_features, zero_point, act_min, act_max)
    block = out_features if out_features < BLOCK else BLOCK
    return (
        in_features,
        out_features,
        weights,
        op.weight_bits,
        bias,
        words,
        array("i", bytes(4 * block)),
    )


def run(plan, a, b, out):
    run_rows(plan, a, out, plan[2], 0, plan[1])


def run_rows(plan, a, out, weights, first, count):
    """Outputs first .. first+count-1; weights[0] is W[first, 0] (a whole tensor, or a chunk
    of it that starts on a byte boundary: the weight placement API)."""
    n, _, _, bits, bias, words, acc = plan
    block = len(acc)
    done = 0
    while done < count:
        step = count - done if count - done < block else block
        if bits == 8:
            _dot_int8(a, weights, bias, acc, n, first + done, step, done * n)
        else:
            _dot_packed(a, weights, bias, acc, n, first + done, step, done * n, bits)
        requantize(0, 0, 0, acc, out, first + done, 1, first + done, step, words)
        done += step


@micropython.viper
def _dot_int8(x: ptr8, w: ptr8, bias: ptr32, acc: ptr32, n: int, first: int, count: int, k: int):
    """acc[o] = bias[first + o] + sum_d W[first + o, d] * x[d] for o < count, W[first, 0]
    being w[k]. Two rows at a time, so that each input is loaded once for both."""
    o = 0
    while o < count:
        row = ptr8(uint(w) + k)
        s = int(bias[first + o])
        s = (s & 0xFFFF) | ((((s >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
        if o + 1 < count:
            other = ptr8(uint(row) + n)
            t = int(bias[first + o + 1])
            t = (t & 0xFFFF) | ((((t >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
            for d in range(n):
                v = (x[d] ^ 0x80) - 0x80
                s += ((row[d] ^ 0x80) - 0x80) * v
                t += ((other[d] ^ 0x80) - 0x80) * v
            acc[o] = s
            acc[o + 1] = t
            o += 2
            k += n + n
        else:
            for d in range(n):
                s += ((row[d] ^ 0x80) - 0x80) * ((x[d] ^ 0x80) - 0x80)
            acc[o] = s
            o += 1
            k += n


@micropython.viper
def _dot_packed(
    x: ptr8, w: ptr8, bias: ptr32, acc: ptr32, n: int, first: int, count: int, k: int, bits: int
):
    """As _dot_int8 for int4 (low nibble first) and int2 (low bits first) weights; element k of
    the packed stream is W[first, 0]."""
    for o in range(count):
        s = int(bias[first + o])
        s = (s & 0xFFFF) | ((((s >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
        if bits == 4:
            for d in range(n):
                s += ((((w[k >> 1] >> ((k & 1) << 2)) & 0xF) ^ 8) - 8) * ((x[d] ^ 0x80) - 0x80)
                k += 1
        else:
            for d in range(n):
                s += ((((w[k >> 2] >> ((k & 3) << 1)) & 3) ^ 2) - 2) * ((x[d] ^ 0x80) - 0x80)
                k += 1
        acc[o] = s
