"""The per-operator rules of a layer record, checked before any data block is read.

check_table(reader, model) checks every layer of container.read_table's model, then its bands
and its arena (load() imports this module once the table's reader is dropped).
check(name, params, in_shapes, out_shape, counts) returns what is wrong, or None. params are
the record's int32 parameters in container order, counts the element count of each tensor.
The rules are the host's (each operator's `check` in micronn.ops, docs/format.md); parameters are
read by the host's names: the _<OP>_<PARAM> indices below are generated from micronn.ops and
compiled away (const), tests/test_device_rules_parity.py keeps them current.
"""

from .model import size_of
from .ops import family_of

_PACKAGE = __name__.split(".")[0]

try:
    from micropython import const
except ImportError:  # CPython, in the tests
    const = int

# BEGIN GENERATED parameter indices (python -m micronn.device_tables)
_ADD_ACT_MAX = const(12)
_ADD_ACT_MIN = const(11)
_ADD_INPUT1_MULTIPLIER = const(5)
_ADD_INPUT1_SHIFT = const(6)
_ADD_INPUT2_MULTIPLIER = const(7)
_ADD_INPUT2_SHIFT = const(8)
_ADD_OUTPUT_MULTIPLIER = const(9)
_ADD_OUTPUT_SHIFT = const(10)
_CONV_2D_DILATION_HEIGHT = const(10)
_CONV_2D_PAD_LEFT = const(13)
_CONV_2D_PAD_TOP = const(12)
_CONV_2D_STRIDE_HEIGHT = const(8)
_DEPTHWISE_CONV_2D_DEPTH_MULTIPLIER = const(14)
_DEPTHWISE_CONV_2D_PARAM_COUNT = const(19)
_MAX_POOL_2D_ACT_MAX = const(12)
_MAX_POOL_2D_ACT_MIN = const(11)
_MAX_POOL_2D_FILTER_HEIGHT = const(5)
_MAX_POOL_2D_STRIDE_HEIGHT = const(7)
# END GENERATED

SMALL_INT_MAX = 0x3FFFFFFF  # 2**30 - 1, the largest small int on a board
SOFTMAX_MAX_DEPTH = 2047  # depth * 2**19, the Q12.19 sum of exps, stays a small int
WEIGHT_COUNT = 0  # tensor indices of the requantizing operators: weights, bias, multiplier, shift
BIAS_COUNT = 1
MULTIPLIER_COUNT = 2
SHIFT_COUNT = 3


def _int8_range(*labelled):
    """labelled: label, value, label, value, ..."""
    for k in range(0, len(labelled), 2):
        if not -128 <= labelled[k + 1] <= 127:
            return f"{labelled[k]} {labelled[k + 1]} is outside -128..127"
    return None


def _clamp(act_min, act_max):
    problem = _int8_range("act_min", act_min, "act_max", act_max)
    if problem is None and act_min > act_max:
        problem = f"act_min {act_min} > act_max {act_max}"
    return problem


def _requantization(counts, weights, channels):
    if counts[WEIGHT_COUNT] != weights:
        return f"has {counts[WEIGHT_COUNT]} weights, not {weights}"
    if counts[BIAS_COUNT] != channels:
        return f"has {counts[BIAS_COUNT]} bias values, not {channels}"
    multipliers = counts[MULTIPLIER_COUNT]
    if multipliers != 1 and multipliers != channels:
        return f"has {multipliers} multipliers; it needs 1 or {channels}"
    if counts[SHIFT_COUNT] != multipliers:
        return f"has {multipliers} multipliers but {counts[SHIFT_COUNT]} shifts"
    return None


def _fully_connected(p, in_shapes, out_shape, counts):
    in_features, out_features, input_zp, output_zp, act_min, act_max = p
    problem = _int8_range("input zero point", input_zp, "output zero point", output_zp)
    problem = problem or _clamp(act_min, act_max)
    if problem:
        return problem
    if in_features < 1 or out_features < 1:
        return f"has {in_features} inputs and {out_features} outputs"
    if size_of(in_shapes[0]) != in_features:
        return f"takes {in_features} features but receives {size_of(in_shapes[0])}"
    if size_of(out_shape) != out_features:
        return f"gives {out_features} features but its output tensor holds {size_of(out_shape)}"
    return _requantization(counts, out_features * in_features, out_features)


def _window(p, kernel_h, kernel_w, dilation_h, dilation_w):
    """p: in_height, in_width, channels, out_height, out_width, stride_height, stride_width,
    pad_top, pad_left."""
    in_h, in_w, _, out_h, out_w = p[:5]
    stride_h, stride_w, pad_t, pad_l = p[-4:]
    if in_h < 1 or in_w < 1 or out_h < 1 or out_w < 1:
        return "image heights and widths must be >= 1"
    if stride_h < 1 or stride_w < 1:
        return "strides must be >= 1"
    if kernel_h < 1 or kernel_w < 1:
        return "the window must be at least 1x1"
    if dilation_h < 1 or dilation_w < 1:
        return "dilation must be >= 1"
    if not (0 <= pad_t < (kernel_h - 1) * dilation_h + 1) or not (
        0 <= pad_l < (kernel_w - 1) * dilation_w + 1
    ):
        return "padding must be smaller than the window"
    return None


def _windows_start_inside(p):
    """An average needs a tap: every pooling window must start before the input ends."""
    in_h, in_w, _, out_h, out_w, stride_h, stride_w, pad_t, pad_l = p
    if (out_h - 1) * stride_h - pad_t >= in_h or (out_w - 1) * stride_w - pad_l >= in_w:
        return "the last window starts past the end of the input (output too large)"
    return None


def _spatial_io(in_shapes, out_shape, in_size, out_size):
    """Activations are flat in the arena: an image operator needs only the element counts."""
    if size_of(in_shapes[0]) != in_size:
        return f"expects {in_size} input values, its input tensor {in_shapes[0]} has others"
    if size_of(out_shape) != out_size:
        return f"writes {out_size} values, its output tensor {out_shape} has others"
    return None


def _conv(p, in_shapes, out_shape, counts):
    in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, _, _, d_h, d_w = p[:12]
    depthwise = len(p) == _DEPTHWISE_CONV_2D_PARAM_COUNT
    input_zp, output_zp, act_min, act_max = p[-4:]
    problem = _int8_range("input zero point", input_zp, "output zero point", output_zp)
    problem = problem or _clamp(act_min, act_max)
    if problem:
        return problem
    if in_c < 1 or out_c < 1:
        return "channels must be >= 1"
    problem = _spatial_io(in_shapes, out_shape, in_h * in_w * in_c, out_h * out_w * out_c)
    if problem:
        return problem
    depth_multiplier = p[_DEPTHWISE_CONV_2D_DEPTH_MULTIPLIER] if depthwise else 1
    if depthwise and (depth_multiplier < 1 or out_c != in_c * depth_multiplier):
        return "out_channels must be in_channels x depth_multiplier"
    window = (in_h, in_w, in_c, out_h, out_w) + p[_CONV_2D_STRIDE_HEIGHT:_CONV_2D_DILATION_HEIGHT]
    problem = _window(window + p[_CONV_2D_PAD_TOP : _CONV_2D_PAD_LEFT + 1], k_h, k_w, d_h, d_w)
    if problem:
        return problem
    weights = k_h * k_w * out_c if depthwise else out_c * k_h * k_w * in_c
    return _requantization(counts, weights, out_c)


def _pool(p, in_shapes, out_shape, counts):
    in_h, in_w, channels, out_h, out_w, f_h, f_w = p[:7]
    problem = _clamp(p[_MAX_POOL_2D_ACT_MIN], p[_MAX_POOL_2D_ACT_MAX])
    if problem:
        return problem
    if channels < 1:
        return "channels must be >= 1"
    size_in, size_out = in_h * in_w * channels, out_h * out_w * channels
    problem = _spatial_io(in_shapes, out_shape, size_in, size_out)
    window = p[:_MAX_POOL_2D_FILTER_HEIGHT] + p[_MAX_POOL_2D_STRIDE_HEIGHT:_MAX_POOL_2D_ACT_MIN]
    problem = problem or _window(window, f_h, f_w, 1, 1) or _windows_start_inside(window)
    if problem is None and f_h * f_w >= 1 << 22:
        problem = "the window is too large"
    return problem


def _mean(p, in_shapes, out_shape, counts):
    in_h, in_w, channels, input_zp, output_zp, multiplier, shift = p
    problem = _int8_range("input zero point", input_zp, "output zero point", output_zp)
    if problem:
        return problem
    if in_h < 1 or in_w < 1 or channels < 1:
        return "heights, widths and channels must be >= 1"
    count = in_h * in_w
    problem = _spatial_io(in_shapes, out_shape, count * channels, channels)
    if problem:
        return problem
    if count >= 1 << 22:
        return "too many values to average"
    # The multiplier has 1 / count folded in (TFLM's QuantizedMeanOrSum), so it may be < 2^30.
    if multiplier < 0:  # an int32: below 2^31 already
        return f"multiplier {multiplier} is not in [0, 2^31)"
    if not -31 <= shift <= 30:
        return f"shift {shift} is outside -31..30"
    if count * 255 > SMALL_INT_MAX >> (shift if shift > 0 else 0):
        return "its sum can overflow 31-bit integers"
    return None


def _add(p, in_shapes, out_shape, counts):
    size, offset1, offset2, output_offset, left_shift = p[:5]
    problem = _clamp(p[_ADD_ACT_MIN], p[_ADD_ACT_MAX])
    if problem:
        return problem
    if not size_of(in_shapes[0]) == size_of(in_shapes[1]) == size_of(out_shape) == size:
        return "both inputs and the output must have the same size"
    if not 0 <= left_shift <= 20:
        return f"left_shift {left_shift} is outside 0..20"
    if not (-127 <= offset1 <= 128 and -127 <= offset2 <= 128):
        return "input offsets must be minus an int8 zero point"
    if not -128 <= output_offset <= 127:
        return f"output_offset {output_offset} is outside -128..127"
    from .values import multiplier_problem  # imported with the blocks: here only for ADD

    for multiplier, shift in (
        (p[_ADD_INPUT1_MULTIPLIER], p[_ADD_INPUT1_SHIFT]),
        (p[_ADD_INPUT2_MULTIPLIER], p[_ADD_INPUT2_SHIFT]),
        (p[_ADD_OUTPUT_MULTIPLIER], p[_ADD_OUTPUT_SHIFT]),
    ):
        problem = multiplier_problem(multiplier, shift)
        if problem:
            return problem
        if shift > 0:
            return f"shift {shift} must be <= 0 (a right shift)"
    return None


def _lookup(p, in_shapes, out_shape, counts):
    (size,) = p
    if not size_of(in_shapes[0]) == size == size_of(out_shape):
        return "input, output and size disagree"
    if counts[0] != 256:
        return f"its lookup table has {counts[0]} entries, not 256"
    return None


def _softmax(p, in_shapes, out_shape, counts):
    rows, depth, input_multiplier, input_left_shift, diff_min = p
    if rows < 1 or not 1 <= depth <= SOFTMAX_MAX_DEPTH:
        return f"needs rows >= 1 and depth 1..{SOFTMAX_MAX_DEPTH}"
    if not size_of(in_shapes[0]) == rows * depth == size_of(out_shape):
        return "input, output and rows x depth disagree"
    if input_multiplier >> 30 != 1 or not 0 <= input_left_shift <= 31:
        return "input_multiplier must be in [2^30, 2^31) and input_left_shift in 0..31"
    if diff_min != -((31 << 26) >> input_left_shift):  # -CalculateInputRadius(5, left_shift)
        return f"diff_min {diff_min} does not match input_left_shift {input_left_shift}"
    if counts[0] != 256:
        return f"its exp table has {counts[0]} entries, not 256"
    return None


_CHECKS = {
    "FULLY_CONNECTED": _fully_connected,
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _conv,
    "MAX_POOL_2D": _pool,
    "AVERAGE_POOL_2D": _pool,
    "MEAN": _mean,
    "ADD": _add,
    "LOGISTIC": _lookup,
    "TANH": _lookup,
    "SOFTMAX": _softmax,
}


def check_table(reader, model):
    """Every layer's rules, then the bands the records mark and the arena; raises as the reader
    does (container.read_table has checked the records and the graph they form)."""
    shapes = model.shapes
    layers = model.layers
    for index in range(len(layers)):
        layer = layers[index]
        in_shapes = [shapes[t] for t in layer.inputs]
        problem = check(layer.name, layer.params, in_shapes, shapes[layer.output], layer.counts)
        if problem:
            reader.fail(f"layer {index} ({layer.name}) {problem}")
    if model.bands is not None:
        from . import bands

        model.bands, problem = bands.stage(model, model.bands)
        if problem:
            reader.fail(problem)
    from . import arena

    problem = arena.problem(model)
    if problem:
        reader.fail(problem)


def check(name, params, in_shapes, out_shape, counts):
    rule = _CHECKS.get(name)
    if rule is not None:
        return rule(params, in_shapes, out_shape, counts)
    # the later operators' rules live in one module per kernel family, imported only for a
    # model that uses them (and forgotten with this module once the table is read)
    family = family_of(name)
    module = getattr(__import__(_PACKAGE + ".rules_" + family), "rules_" + family)
    return module.check(name, params, in_shapes, out_shape, counts)
