"""Sliding windows: which kernel taps of each output position fall inside the input.

Shared by the convolution and pooling kernels; used at load time only.
"""

from array import array

_shared = {}  # geometry -> (first, end), while a model loads (shared_tap_ranges)


def shared_tap_ranges(out_size, stride, pad, kernel, dilation, in_size):
    """tap_ranges, one pair of tables per geometry while a model loads: the layers, and the two
    axes of a square window, that have the same geometry share it (the tables are only read).
    load() forgets them once the net is built (forget_shared): the plans keep what they use."""
    key = (out_size, stride, pad, kernel, dilation, in_size)
    pair = _shared.get(key)
    if pair is None:
        pair = _shared[key] = tap_ranges(out_size, stride, pad, kernel, dilation, in_size)
    return pair


def forget_shared():
    _shared.clear()


def tap_ranges(out_size, stride, pad, kernel, dilation, in_size):
    """Per output position, the first and past-the-last kernel tap inside the input: a byte
    each for kernels up to 255 taps (every model in practice), else an int."""
    typecode, item = ("B", 1) if kernel < 256 else ("i", 4)
    first = array(typecode, bytes(item * out_size))
    end = array(typecode, bytes(item * out_size))
    for o in range(out_size):
        origin = o * stride - pad
        lo = kernel
        hi = 0
        for k in range(kernel):
            at = origin + k * dilation
            if 0 <= at < in_size:
                if k < lo:
                    lo = k
                hi = k + 1
        first[o] = lo if lo < hi else 0
        end[o] = hi
    return first, end
