"""int8 RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR of an (H, W, C) image, bit-exact with TFLM's
reference kernels (reference/resize_nearest_neighbor.h, reference/resize_bilinear.h
ResizeBilinearInteger; micro/kernels/resize_*.cc).

Nearest neighbour copies codes. TFLM picks the source row of output row y in float32,
min(floor or round((y + offset) * scale), in - 1); the record stores that float32 scale exactly
(mantissa * 2^exponent) and every reader repeats the float32 product and its rounding in integers
(nearest_index), so that no board needs float32 arithmetic to agree with TFLM.

RESIZE_BILINEAR is TFLM's integer path: the source position y * scale_10 (+ scale_10 / 2 - 512
with half_pixel_centers) in 1/1024 pixel, its floor y0 and ceiling y1 (clamped), and
out = (sum of the four codes x weights in 1/2^20, +-2^19 away from zero) / 2^20 truncated.
Each weight factor lies in (-512, 1536) and a factor pair sums to 1024 with |a| + |b| < 2048, so
|sum| <= 128 x 2047^2 < 2^30 by construction.
"""

import numpy as np

from micronn.model import Layer
from micronn.ops.checks import SMALL_INT_LIMIT, check_spatial_io, require
from micronn.ops.operator import Operator

IMAGE = ("in_height", "in_width", "channels", "out_height", "out_width")
SCALE = ("scale_mantissa", "scale_exponent")
NEAREST = (
    *IMAGE,
    *(f"height_{name}" for name in SCALE),
    *(f"width_{name}" for name in SCALE),
    "align_corners",
    "half_pixel_centers",
)
BILINEAR = (*IMAGE, "height_scale", "width_scale", "half_pixel_centers")
MAX_DIM = 2**15  # heights, widths and channels; positions y * scale stay far below 2^30
MANTISSA_BITS = 24  # of a float32
ONE = 1 << 10  # bilinear positions are in 1/1024 of a pixel
MIN_EXPONENT = -64  # a float32 scale of at least 2^-40 (1 / MAX_DIM) needs -40


def _check_geometry(in_shape, out_size):
    if len(in_shape) != 3:
        raise ValueError(f"resizing takes an (H, W, C) image, got shape {tuple(in_shape)}")
    for d in (*in_shape, *out_size):
        if not 1 <= int(d) <= MAX_DIM:
            raise ValueError(
                f"resize sizes must be in 1..{MAX_DIM}, got {tuple(in_shape)} -> {tuple(out_size)}"
            )


def nearest_scale(in_size, out_size, align_corners) -> tuple:
    """TFLM's float32 scale as (mantissa, exponent): scale = mantissa * 2^exponent exactly,
    mantissa 0 or in [2^23, 2^24)."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    if scale == 0:
        return 0, 0
    fraction, exponent = np.frexp(scale)  # fraction in [0.5, 1)
    mantissa = int(np.float64(fraction) * 2.0**MANTISSA_BITS)
    return mantissa, int(exponent) - MANTISSA_BITS


def nearest_index(y, in_size, mantissa, exponent, align_corners, half_pixel_centers) -> int:
    """TFLM GetNearestNeighbor in integers: (y + offset) * scale is (2y + h) * mantissa *
    2^(exponent - 1) exactly, rounded to float32's 24 bits (half to even) as the float product
    is, then floored (TfLiteRound, half away from zero, with align_corners) and clamped."""
    value = (2 * y + (1 if half_pixel_centers else 0)) * mantissa
    shift = exponent - 1
    drop = value.bit_length() - MANTISSA_BITS
    if drop > 0:
        kept = value >> drop
        rest = value - (kept << drop)
        half = 1 << (drop - 1)
        if rest > half or (rest == half and kept & 1):
            kept += 1
        value, shift = kept, shift + drop
    if shift >= 0:
        pick = value << shift
    elif align_corners:
        pick = (value + (1 << (-shift - 1))) >> -shift
    else:
        pick = value >> -shift
    return min(pick, in_size - 1)


def tflm_nearest_index(y, in_size, out_size, align_corners, half_pixel_centers):
    """TFLM GetNearestNeighbor in numpy float32 (for the tests), for an array of positions y."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    value = (np.asarray(y, np.float32) + offset) * np.float32(scale)
    if align_corners:  # TfLiteRound (std::round) of a value >= 0: exact, not a float32 sum
        picked = np.floor(value.astype(np.float64) + 0.5)
    else:
        picked = np.floor(value)
    picked = np.minimum(picked.astype(np.int64), in_size - 1)
    return np.maximum(picked, 0) if half_pixel_centers else picked


def prepare_resize_nearest(
    input_shape, size, align_corners=False, half_pixel_centers=False
) -> Layer:
    """RESIZE_NEAREST_NEIGHBOR of an (H, W, C) image to size (out_h, out_w)."""
    _check_geometry(input_shape, size)
    in_h, in_w, channels = (int(d) for d in input_shape)
    out_h, out_w = (int(d) for d in size)
    params = dict(zip(IMAGE, (in_h, in_w, channels, out_h, out_w), strict=True))
    for axis, (mantissa, exponent) in (
        ("height", nearest_scale(in_h, out_h, align_corners)),
        ("width", nearest_scale(in_w, out_w, align_corners)),
    ):
        params |= {f"{axis}_scale_mantissa": mantissa, f"{axis}_scale_exponent": exponent}
    params |= {
        "align_corners": int(bool(align_corners)),
        "half_pixel_centers": int(bool(half_pixel_centers)),
    }
    return Layer("RESIZE_NEAREST_NEIGHBOR", params, {})


def nearest_picks(p, axis) -> np.ndarray:
    """The source row (axis "height") or column ("width") of every output one."""
    mantissa, exponent = p[f"{axis}_scale_mantissa"], p[f"{axis}_scale_exponent"]
    flags = (bool(p["align_corners"]), bool(p["half_pixel_centers"]))
    size = p[f"in_{axis}"]
    return np.array(
        [nearest_index(y, size, mantissa, exponent, *flags) for y in range(p[f"out_{axis}"])],
        np.int64,
    )


def bilinear_scale(in_size, out_size, align_corners) -> int:
    """TFLM's scale_10: the input step per output pixel in 1/1024, rounded."""
    if align_corners and out_size > 1:
        return (ONE * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    return (ONE * in_size + out_size // 2) // out_size


def prepare_resize_bilinear(
    input_shape, size, align_corners=False, half_pixel_centers=False
) -> Layer:
    """RESIZE_BILINEAR of an (H, W, C) image to size (out_h, out_w), TFLM's integer path."""
    if align_corners and half_pixel_centers:
        raise ValueError("RESIZE_BILINEAR: half_pixel_centers needs align_corners False (TFLM)")
    _check_geometry(input_shape, size)
    in_h, in_w, channels = (int(d) for d in input_shape)
    out_h, out_w = (int(d) for d in size)
    params = dict(zip(IMAGE, (in_h, in_w, channels, out_h, out_w), strict=True))
    params |= {
        "height_scale": bilinear_scale(in_h, out_h, align_corners),
        "width_scale": bilinear_scale(in_w, out_w, align_corners),
        "half_pixel_centers": int(bool(half_pixel_centers)),
    }
    layer = Layer("RESIZE_BILINEAR", params, {})
    for axis in ("height", "width"):
        if _bilinear_positions(params, axis)[1].max() > params[f"in_{axis}"] - 1:
            raise ValueError(f"RESIZE_BILINEAR {input_shape} -> {size}: TFLM reads past the image")
    return layer


def _bilinear_positions(p, axis):
    """(position in 1/1024, y0, y1) of every output row (axis "height") or column ("width"),
    as TFLM's ComputeInterpolationValuesInteger (C division truncates toward zero)."""
    scale, size = p[f"{axis}_scale"], p[f"in_{axis}"]
    y = np.arange(p[f"out_{axis}"], dtype=np.int64)
    scaled = y * scale + (scale // 2 - ONE // 2 if p["half_pixel_centers"] else 0)
    lower = np.maximum(np.fix(scaled / ONE).astype(np.int64), 0)
    upper = np.minimum(np.fix((scaled + ONE - 1) / ONE).astype(np.int64), size - 1)
    return scaled, lower, upper


def _image(layer, x):
    p = layer.params
    return np.asarray(x, np.int64).reshape(x.shape[0], p["in_height"], p["in_width"], -1)


def evaluate_nearest(layer, inputs, out_shape):
    p = layer.params
    rows, columns = nearest_picks(p, "height"), nearest_picks(p, "width")
    out = _image(layer, inputs[0])[:, rows][:, :, columns]
    return out.astype(np.int8).reshape(out.shape[0], *out_shape)


def evaluate_bilinear(layer, inputs, out_shape):
    image = _image(layer, inputs[0])
    ys, y0, y1 = _bilinear_positions(layer.params, "height")
    xs, x0, x1 = _bilinear_positions(layer.params, "width")
    fy = (ys - ONE * y0)[:, None, None]
    fx = (xs - ONE * x0)[None, :, None]
    rows0, rows1 = image[:, y0], image[:, y1]
    total = (
        rows0[:, :, x0] * (ONE - fy) * (ONE - fx)
        + rows1[:, :, x0] * fy * (ONE - fx)
        + rows0[:, :, x1] * (ONE - fy) * fx
        + rows1[:, :, x1] * fy * fx
    )
    half = 1 << 19
    out = np.where(total > 0, (total + half) >> 20, -((half - total) >> 20))
    return out.astype(np.int8).reshape(out.shape[0], *out_shape)


def _check_image(where, p, in_shapes, out_shape):
    for key in IMAGE:
        require(1 <= p[key] <= MAX_DIM, f"{where}: {key} must be in 1..{MAX_DIM}")
    in_size = p["in_height"] * p["in_width"] * p["channels"]
    out_size = p["out_height"] * p["out_width"] * p["channels"]
    check_spatial_io(where, in_shapes, out_shape, in_size, out_size)


def check_nearest(where, layer, in_shapes, out_shape):
    p = layer.params
    _check_image(where, p, in_shapes, out_shape)
    for key in ("align_corners", "half_pixel_centers"):
        require(p[key] in (0, 1), f"{where}: {key} must be 0 or 1")
    for axis in ("height", "width"):
        mantissa, exponent = p[f"{axis}_scale_mantissa"], p[f"{axis}_scale_exponent"]
        require(
            mantissa == 0 or 2**23 <= mantissa < 2**24,
            f"{where}: {axis}_scale_mantissa must be 0 or in [2^23, 2^24)",
        )
        require(MIN_EXPONENT <= exponent <= 0, f"{where}: {axis}_scale_exponent must be in -64..0")


def check_bilinear(where, layer, in_shapes, out_shape):
    p = layer.params
    _check_image(where, p, in_shapes, out_shape)
    require(p["half_pixel_centers"] in (0, 1), f"{where}: half_pixel_centers must be 0 or 1")
    for axis in ("height", "width"):
        scale = p[f"{axis}_scale"]
        require(0 <= scale <= ONE * MAX_DIM, f"{where}: {axis}_scale must be in 0..2^25")
        require(p[f"out_{axis}"] * scale < SMALL_INT_LIMIT, f"{where}: {axis} positions pass 2^30")
        last = _bilinear_positions(p, axis)[1][-1]
        require(last <= p[f"in_{axis}"] - 1, f"{where}: the last {axis} position is past the input")


def _output_shape(layer):
    p = layer.params
    return (p["out_height"], p["out_width"], p["channels"])


OPERATORS = (
    Operator(
        "RESIZE_NEAREST_NEIGHBOR",
        40,
        NEAREST,
        check_nearest,
        evaluate_nearest,
        _output_shape,
        family="resize",
    ),
    Operator(
        "RESIZE_BILINEAR",
        41,
        BILINEAR,
        check_bilinear,
        evaluate_bilinear,
        _output_shape,
        family="resize",
    ),
)
