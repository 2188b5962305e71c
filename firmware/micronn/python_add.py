"""ADD of two int8 tensors with input rescaling, bit-exact with TFLM's int8 reference (AddFunc).

Each input, offset by minus its zero point, is shifted left by left_shift (20) and requantized to
the common scale; the sum is requantized to the output. |(q + offset) << 20| <= 255 * 2**20 <
2**28 and every multiplier is below one, so all values stay small ints.
"""

from .fixedpoint import Requant, requantize


def prepare(op, params, tensors):
    size, offset1, offset2, output_offset, left_shift = params[:5]
    multipliers = (params[5], params[7], params[9])
    shifts = (params[6], params[8], params[10])
    for shift in shifts:
        if shift > 0:
            raise ValueError("ADD shifts must be <= 0; re-convert the model")
    act_min, act_max = params[11], params[12]
    return (
        size,
        offset1,
        offset2,
        left_shift,
        Requant(multipliers, shifts),  # channels 0, 1: the inputs; 2: the output
        output_offset,
        act_min,
        act_max,
        act_min - output_offset,  # v below this clamps to act_min (compared before adding
        act_max - output_offset,  # the zero point, as in python_dense)
    )


def run(plan, a, b, out):
    size, offset1, offset2, left_shift, rq, zp, act_min, act_max, low, high = plan
    for i in range(size):
        v = requantize(
            requantize((a[i] + offset1) << left_shift, rq, 0)
            + requantize((b[i] + offset2) << left_shift, rq, 1),
            rq,
            2,
        )
        if v < low:
            out[i] = act_min
        elif v > high:
            out[i] = act_max
        else:
            out[i] = v + zp
