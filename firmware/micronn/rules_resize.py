"""The rules of the resizing operators (family "resize": RESIZE_NEAREST_NEIGHBOR,
RESIZE_BILINEAR), as the host's checks (micronn.ops.resize); rules.check imports this module for
a model that uses them. check() returns what is wrong, or None."""

from .rules import _spatial_io

try:
    from micropython import const
except ImportError:  # CPython, in the tests
    const = int

# BEGIN GENERATED parameter indices (python -m micronn.device_tables)
_RESIZE_BILINEAR_HALF_PIXEL_CENTERS = const(7)
_RESIZE_BILINEAR_HEIGHT_SCALE = const(5)
_RESIZE_NEAREST_NEIGHBOR_ALIGN_CORNERS = const(9)
_RESIZE_NEAREST_NEIGHBOR_HEIGHT_SCALE_MANTISSA = const(5)
_RESIZE_NEAREST_NEIGHBOR_WIDTH_SCALE_MANTISSA = const(7)
# END GENERATED

_MAX_DIM = const(0x8000)
_SMALL_INT_MAX = const(0x3FFFFFFF)


def _image(p, in_shapes, out_shape):
    """in_height, in_width, channels, out_height, out_width: each in 1..2^15."""
    for k in range(5):
        if not 1 <= p[k] <= _MAX_DIM:
            return "image sizes and channels must be in 1..32768"
    in_h, in_w, channels, out_h, out_w = p[:5]
    return _spatial_io(in_shapes, out_shape, in_h * in_w * channels, out_h * out_w * channels)


def _nearest(p, in_shapes, out_shape, counts):
    problem = _image(p, in_shapes, out_shape)
    if problem:
        return problem
    for flag in p[_RESIZE_NEAREST_NEIGHBOR_ALIGN_CORNERS:]:
        if flag != 0 and flag != 1:
            return "align_corners and half_pixel_centers must be 0 or 1"
    for k in (
        _RESIZE_NEAREST_NEIGHBOR_HEIGHT_SCALE_MANTISSA,
        _RESIZE_NEAREST_NEIGHBOR_WIDTH_SCALE_MANTISSA,
    ):
        mantissa, exponent = p[k], p[k + 1]
        if mantissa != 0 and mantissa >> 23 != 1:
            return "a scale mantissa must be 0 or in [2^23, 2^24)"
        if not -64 <= exponent <= 0:
            return "a scale exponent must be in -64..0"
    return None


def _bilinear(p, in_shapes, out_shape, counts):
    problem = _image(p, in_shapes, out_shape)
    if problem:
        return problem
    half = p[_RESIZE_BILINEAR_HALF_PIXEL_CENTERS]
    if half != 0 and half != 1:
        return "half_pixel_centers must be 0 or 1"
    for k in (0, 1):
        scale = p[_RESIZE_BILINEAR_HEIGHT_SCALE + k]
        size, count = p[k], p[3 + k]  # in_height / in_width, out_height / out_width
        if not 0 <= scale <= _MAX_DIM << 10:
            return "a scale must be in 0..2^25"
        if scale > _SMALL_INT_MAX // count:  # count * scale >= 2^30, without a long int
            return "positions pass 2^30"
        last = (count - 1) * scale + ((scale >> 1) - 512 if half else 0)
        if last > 0 and last >> 10 > size - 1:
            return "the last position is past the input"
    return None


_CHECKS = {"RESIZE_NEAREST_NEIGHBOR": _nearest, "RESIZE_BILINEAR": _bilinear}


def check(name, params, in_shapes, out_shape, counts):
    return _CHECKS[name](params, in_shapes, out_shape, counts)
