"""CONV_2D and DEPTHWISE_CONV_2D (depth multiplier 1) with the ulab backend, bit-exact with
kernels_conv.

The input, minus its zero point, is copied once per predict into a zero-padded float image P of
(rows * columns, channels): a padded tap then adds 0, as TFLM skips it. For each kernel tap,
np.take gathers the input pixel of every output position into G (positions, channels), and
    CONV_2D:            acc += G . W_tap          (W_tap: channels x out_channels; ulab dot)
                        acc += G[:, i] * W_tap[i] per channel i when there are few channels
    DEPTHWISE_CONV_2D:  acc += G * w_tap          (w_tap: one weight per channel)
Every product is at most 255 * wmax, and the channels of a dot are cut into chunks whose sum
stays within 2**24, so every term is exact in float32; ulab_requant bounds the rest.

Layers this module cannot take (depth multiplier > 1, more than 65536 padded pixels, a ulab
older than 6.6 without np.take, a float working set above half the free heap) run with
kernels_conv. No run_rows: the weights stay in RAM
under every placement.
"""

import gc

from ulab import numpy as np

from . import kernels_conv, ulab_requant
from .fixedpoint import Requant, requantize
from .ulab_dense import WEIGHT_LIMITS, int8_values

MAX_PIXELS = 65536  # np.take indices are uint16
FEW_CHANNELS = 4  # up to this many input channels, broadcast products beat dots
HAS_TAKE = hasattr(np, "take")  # ulab >= 6.6
TEMPORARIES = 4  # output-sized float arrays alive at once in a predict: acc, a term, t, rounded
HEAP_SHARE = 2  # the float working set may take at most 1 / HEAP_SHARE of the free heap


def _fits(floats):
    """True when `floats` ulab floats take at most 1 / HEAP_SHARE of the free heap."""
    gc.collect()
    return floats * np.zeros(1).itemsize <= gc.mem_free() // HEAP_SHARE


def prepare(op, params, tensors):
    in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = params[:14]
    input_zp, output_zp, act_min, act_max = params[-4:]
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    rows = max(pad_t + in_h, (out_h - 1) * s_h + (k_h - 1) * d_h + 1)
    columns = max(pad_l + in_w, (out_w - 1) * s_w + (k_w - 1) * d_w + 1)
    positions = out_h * out_w
    if (
        not HAS_TAKE
        or (depthwise and params[14] != 1)
        or rows * columns > MAX_PIXELS
        or not _fits(rows * columns * in_c + positions * in_c + TEMPORARIES * positions * out_c)
    ):
        return (None, kernels_conv.prepare(op, params, tensors))
    weights, bias, multipliers, shifts = tensors
    wmax = WEIGHT_LIMITS[op.weight_bits]
    taps = k_h * k_w
    values = int8_values(weights, op.weight_bits, out_c * taps * (1 if depthwise else in_c))
    gathered = np.zeros((positions, in_c))
    if depthwise:
        values = values.reshape((taps, out_c))
        terms = tuple(((gathered, np.array(values[t], dtype=np.float)),) for t in range(taps))
        reach = taps * 255 * wmax
    else:
        values = values.reshape((out_c, taps * in_c))
        terms = tuple(_conv_terms(values, t, in_c, gathered, wmax) for t in range(taps))
        reach = taps * in_c * 255 * wmax
    image = np.zeros((rows * columns, in_c))
    origins = [oy * s_h * columns + ox * s_w for oy in range(out_h) for ox in range(out_w)]
    return (
        depthwise,
        (in_h, in_w, in_c, out_w, out_c, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l, columns),
        terms,
        tuple(ky * d_h * columns + kx * d_w for ky in range(k_h) for kx in range(k_w)),
        np.array(origins, dtype=np.uint16),
        image,
        _interior(image, in_h, in_w, pad_t, pad_l, columns),
        gathered,
        depthwise or in_c <= FEW_CHANNELS,  # terms are products, not dots
        float(input_zp),
        [None, None, None, None],  # input buffer and its rows; output buffer and its view
        ulab_requant.prepare(bias, reach, taps * len(terms[0]), multipliers, shifts, output_zp),
        (values, bias, Requant(multipliers, shifts), 1 if len(multipliers) > 1 else 0, taps),
        (input_zp, output_zp, act_min, act_max, act_min - output_zp, act_max - output_zp),
    )


def _conv_terms(values, t, in_c, gathered, wmax):
    """Tap t of a CONV_2D as (gathered columns, weights) pairs. Few channels: one broadcast
    product per channel, (positions, 1) x (out_channels,); else dots of channel chunks whose
    sums stay within 2**24."""
    first = t * in_c
    if in_c <= FEW_CHANNELS:
        return tuple(
            (gathered[:, i : i + 1], np.array(values[:, first + i], dtype=np.float))
            for i in range(in_c)
        )
    length = ulab_requant.CHUNK_LIMIT // (255 * wmax)
    return tuple(
        (
            gathered[:, s : min(s + length, in_c)],
            values[:, first + s : first + min(s + length, in_c)].transpose(),
        )
        for s in range(0, in_c, length)
    )


def _interior(image, in_h, in_w, pad_t, pad_l, columns):
    """Views of the image that receive the input: one block when its rows are contiguous."""
    if pad_l == 0 and columns == in_w:
        return (image[pad_t * columns : (pad_t + in_h) * columns, :],)
    return tuple(
        image[(y + pad_t) * columns + pad_l : (y + pad_t) * columns + pad_l + in_w, :]
        for y in range(in_h)
    )


def run(plan, a, b, out):
    depthwise = plan[0]
    if depthwise is None:
        kernels_conv.run(plan[1], a, b, out)
        return
    shape, terms, offsets, origins, image, interior, gathered, products, input_zp, seen = plan[1:11]
    constants = plan[11]
    in_h, in_w, in_c, out_w, out_c = shape[:5]
    if seen[0] is not a:
        x = np.frombuffer(a, dtype=np.int8).reshape((in_h * in_w, in_c))
        rows = (
            (x,) if len(interior) == 1 else (x[y * in_w : (y + 1) * in_w, :] for y in range(in_h))
        )
        seen[0], seen[1] = a, tuple(rows)
    if seen[2] is not out:
        view = np.frombuffer(out, dtype=np.int8).reshape((len(origins), out_c))
        seen[2], seen[3] = out, view
    source = seen[1]
    for y in range(len(interior)):
        row = interior[y]
        row[:] = source[y]
        row -= input_zp
    acc = None
    for t in range(len(offsets)):
        np.take(image, origins + offsets[t], axis=0, out=gathered)
        for left, right in terms[t]:
            term = left * right if products else np.dot(left, right)
            if acc is None:
                acc = term
            else:
                acc += term
    if constants is None:
        redo = np.nonzero(acc == acc)  # every output, with integers
    else:
        clamp = plan[13]
        redo = ulab_requant.requantize(acc, constants, clamp[2], clamp[3], seen[3])
    if redo is not None:
        exact = constants is not None and constants[4]
        for k in range(len(redo[0])):
            p, o = int(redo[0][k]), int(redo[1][k])
            total = int(acc[p, o]) if exact else _accumulator(plan, a, p, o)
            _store(plan, p * out_c + o, o, total, out)


def _accumulator(plan, a, p, o):
    """bias[o] + sum of w * (x - input_zero_point) over the in-image taps of output (p, o)."""
    depthwise, shape = plan[0], plan[1]
    in_h, in_w, in_c, out_w, out_c, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = shape[:12]
    values, bias, _, _, taps = plan[12]
    zp = plan[13][0]
    oy, ox = divmod(p, out_w)
    total = bias[o]
    for t in range(taps):
        ky, kx = divmod(t, k_w)
        y = oy * s_h - pad_t + ky * d_h
        x = ox * s_w - pad_l + kx * d_w
        if 0 <= y < in_h and 0 <= x < in_w:
            pixel = (y * in_w + x) * in_c
            if depthwise:
                total += int(values[t][o]) * (a[pixel + o] - zp)
            else:
                row = values[o]
                for i in range(in_c):
                    total += int(row[t * in_c + i]) * (a[pixel + i] - zp)
    return total


def _store(plan, at, o, total, out):
    _, bias, rq, step, _ = plan[12]
    _, output_zp, act_min, act_max, low, high = plan[13]
    v = requantize(total, rq, o * step)
    if v < low:
        out[at] = act_min
    elif v > high:
        out[at] = act_max
    else:
        out[at] = v + output_zp
