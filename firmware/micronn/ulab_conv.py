"""CONV_2D and DEPTHWISE_CONV_2D (depth multiplier 1) with the ulab backend, bit-exact with
python_conv.

The input, minus its zero point, is copied once per predict into a zero-padded float image P of
(rows * columns, channels): a padded tap then adds 0, as TFLM skips it. For each kernel tap,
np.take gathers the input pixel of every output position into G (positions, channels), and
    CONV_2D:            acc += G . W_tap          (W_tap: channels x out_channels; ulab dot)
                        acc += G[:, i] * W_tap[i] per channel i when there are few channels
    DEPTHWISE_CONV_2D:  acc += G * w_tap          (w_tap: one weight per channel)
Every product is at most 255 * wmax, and the channels of a dot are cut into chunks whose sum
stays within 2**24, so every term is exact in float32; ulab_requant bounds the rest.

Layers this module cannot take (depth multiplier > 1, more than 65536 padded pixels, a ulab
older than 6.6 without np.take, a float working set above half the free heap, no output whose
requantization float can settle) run with python_conv. No run_rows: the weights stay in RAM
under every placement.
"""

import gc

from ulab import numpy as np

from . import python_conv, ulab_requant
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


class Plan:
    """A convolution prepared at load for ulab (see the module docstring)."""

    def __init__(self, op, params, tensors, rows, columns, requantizer):
        in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = params[
            :14
        ]
        input_zp = params[-4]
        self.depthwise = op.name == "DEPTHWISE_CONV_2D"
        self.geometry = (in_h, in_w, in_c, out_w, out_c, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l)
        self.input_zero_point = input_zp
        wmax = WEIGHT_LIMITS[op.weight_bits]
        taps = k_h * k_w
        self.taps = taps
        count = out_c * taps * (1 if self.depthwise else in_c)
        values = int8_values(tensors[0], op.weight_bits, count)
        positions = out_h * out_w
        self.gathered = np.zeros((positions, in_c))
        if self.depthwise:
            self.values = values.reshape((taps, out_c))
            self.terms = tuple(
                ((self.gathered, np.array(self.values[t], dtype=np.float)),) for t in range(taps)
            )
        else:
            self.values = values.reshape((out_c, taps * in_c))
            self.terms = tuple(self._conv_terms(t, in_c, wmax) for t in range(taps))
        self.products = self.depthwise or in_c <= FEW_CHANNELS  # terms: products, not dots
        self.image = np.zeros((rows * columns, in_c))
        self.interior = _interior(self.image, in_h, in_w, pad_t, pad_l, columns)
        self.origins = np.array(
            [oy * s_h * columns + ox * s_w for oy in range(out_h) for ox in range(out_w)],
            dtype=np.uint16,
        )
        self.offsets = tuple(
            ky * d_h * columns + kx * d_w for ky in range(k_h) for kx in range(k_w)
        )
        self.requantizer = requantizer
        self.input = None  # the input buffer last seen, and its row views
        self.sources = None
        self.output = None  # the output buffer last seen, and its (positions, channels) view
        self.outputs = None

    def _conv_terms(self, t, in_c, wmax):
        """Tap t of a CONV_2D as (gathered columns, weights) pairs. Few channels: one broadcast
        product per channel, (positions, 1) x (out_channels,); else dots of channel chunks
        whose sums stay within 2**24."""
        first = t * in_c
        gathered, values = self.gathered, self.values
        if in_c <= FEW_CHANNELS:
            return tuple(
                (gathered[:, i : i + 1], np.array(values[:, first + i], dtype=np.float))
                for i in range(in_c)
            )
        length = _chunk_length(wmax)
        return tuple(
            (
                gathered[:, s : min(s + length, in_c)],
                values[:, first + s : first + min(s + length, in_c)].transpose(),
            )
            for s in range(0, in_c, length)
        )

    def views(self, a, out):
        """The input's views matching self.interior and the output's view, once per buffer."""
        in_h, in_w, in_c, _, out_c = self.geometry[:5]
        if self.input is not a:
            x = np.frombuffer(a, dtype=np.int8).reshape((in_h * in_w, in_c))
            if len(self.interior) == 1:
                self.sources = (x,)
            else:
                self.sources = tuple(x[y * in_w : (y + 1) * in_w, :] for y in range(in_h))
            self.input = a
        if self.output is not out:
            view = np.frombuffer(out, dtype=np.int8).reshape((len(self.origins), out_c))
            self.output, self.outputs = out, view
        return self.sources, self.outputs

    def exact_sum(self, a, p, o):
        """bias[o] + sum of w * (x - input_zero_point) over the in-image taps of output (p, o),
        with integers."""
        in_h, in_w, in_c, out_w, _, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = self.geometry
        zp, values = self.input_zero_point, self.values
        oy, ox = divmod(p, out_w)
        total = self.requantizer.bias[o]
        for t in range(self.taps):
            ky, kx = divmod(t, k_w)
            y = oy * s_h - pad_t + ky * d_h
            x = ox * s_w - pad_l + kx * d_w
            if 0 <= y < in_h and 0 <= x < in_w:
                pixel = (y * in_w + x) * in_c
                if self.depthwise:
                    total += int(values[t][o]) * (a[pixel + o] - zp)
                else:
                    row = values[o]
                    for i in range(in_c):
                        total += int(row[t * in_c + i]) * (a[pixel + i] - zp)
        return total


def prepare(op, params, tensors):
    """A Plan, or ("python_conv", its plan) for the layers this module cannot take."""
    in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = params[:14]
    rows = max(pad_t + in_h, (out_h - 1) * s_h + (k_h - 1) * d_h + 1)
    columns = max(pad_l + in_w, (out_w - 1) * s_w + (k_w - 1) * d_w + 1)
    positions = out_h * out_w
    if (
        not HAS_TAKE
        or (op.name == "DEPTHWISE_CONV_2D" and params[14] != 1)
        or rows * columns > MAX_PIXELS
        or not _fits(rows * columns * in_c + positions * in_c + TEMPORARIES * positions * out_c)
    ):
        return ("python_conv", python_conv.prepare(op, params, tensors))
    output_zp, act_min, act_max = params[-3:]
    _, bias, multipliers, shifts = tensors
    wmax = WEIGHT_LIMITS[op.weight_bits]
    taps = k_h * k_w
    if op.name == "DEPTHWISE_CONV_2D":
        reach, terms = taps * 255 * wmax, 1
    else:
        reach = taps * in_c * 255 * wmax
        terms = in_c if in_c <= FEW_CHANNELS else -(-in_c // _chunk_length(wmax))
    requantizer = ulab_requant.Requantizer(
        bias, reach, taps * terms, multipliers, shifts, output_zp, act_min, act_max
    )
    if not requantizer.vectorized:  # integers for every output: python_conv is faster
        return ("python_conv", python_conv.prepare(op, params, tensors))
    return Plan(op, params, tensors, rows, columns, requantizer)


def _chunk_length(wmax):
    """Channels per dot so that its sum stays within 2**24 (|w * (x - zp)| <= 255 * wmax)."""
    return ulab_requant.CHUNK_LIMIT // (255 * wmax)


def _interior(image, in_h, in_w, pad_t, pad_l, columns):
    """Views of the image that receive the input: one block when its rows are contiguous."""
    if pad_l == 0 and columns == in_w:
        return (image[pad_t * columns : (pad_t + in_h) * columns, :],)
    return tuple(
        image[(y + pad_t) * columns + pad_l : (y + pad_t) * columns + pad_l + in_w, :]
        for y in range(in_h)
    )


def run(plan, a, b, out):
    if type(plan) is tuple:
        python_conv.run(plan[1], a, b, out)
        return
    sources, outputs = plan.views(a, out)
    interior, input_zp = plan.interior, plan.input_zero_point
    for y in range(len(interior)):
        row = interior[y]
        row[:] = sources[y]
        row -= input_zp
    image, origins, gathered, terms, products = (
        plan.image,
        plan.origins,
        plan.gathered,
        plan.terms,
        plan.products,
    )
    acc = None
    for t in range(len(plan.offsets)):
        np.take(image, origins + plan.offsets[t], axis=0, out=gathered)
        for left, right in terms[t]:
            term = left * right if products else np.dot(left, right)
            if acc is None:
                acc = term
            else:
                acc += term
    q = plan.requantizer
    redo = ulab_requant.requantize(acc, q, outputs)
    if redo is None:
        return
    out_c = plan.geometry[4]
    for k in range(len(redo[0])):
        p, o = int(redo[0][k]), int(redo[1][k])
        total = int(acc[p, o]) if q.sums_exact else plan.exact_sum(a, p, o)
        q.store(out, p * out_c + o, o, total)
