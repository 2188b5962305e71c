"""int8 REDUCE_MAX, MEAN and SUM over any axes, bit-exact with TFLM's reference kernels
(micro/kernels/reduce_common.cc; reference/reduce.h ReduceGeneric and QuantizedMeanOrSum).

The input is seen as 4 dims (its shape padded with leading 1s, batch included) and a flag per
dim that says whether it is reduced; the output holds the kept dims in order (keep_dims only
changes the output's shape, not its bytes).

- REDUCE_MAX: the largest code (TFLM requires equal input and output quantization).
- MEAN_AXES (TFLite MEAN over axes other than the spatial ones; the spatial MEAN keeps record 6):
  sum = Σ x − input_zero_point × n over the n reduced values, then MultiplyByQuantizedMultiplier
  with the scale ratio and 1 / n folded together exactly as for record 6 (ops/mean.py).
- SUM: the same sum, requantized by QuantizeMultiplier(double(s_in) / double(s_out)).

|sum| <= 255 × n and the rule n × 255 × 2^max(shift, 0) < 2^30 keeps every value a small int.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops.checks import SMALL_INT_LIMIT, check_multiplier, require, size
from micronn.ops.mean import MAX_COUNT, mean_multiplier
from micronn.ops.operator import Operator

RANK = 4
DIMS = tuple(f"dim{k}" for k in range(RANK))
FLAGS = tuple(f"reduce{k}" for k in range(RANK))
GEOMETRY = (*DIMS, *FLAGS)
REQUANT = ("input_zero_point", "output_zero_point", "multiplier", "shift")
MAX_DIM = 2**16 - 1


def reduce_geometry(shape, axes) -> dict:
    """dims and flags of a reduction of a tensor `shape` (up to 4 dims) over `axes` (TFLite's:
    negative counts from the end, repeats allowed)."""
    shape = tuple(int(d) for d in shape)
    rank = len(shape)
    if not 1 <= rank <= RANK:
        raise ValueError(f"reductions take tensors of 1 to {RANK} dims, got shape {shape}")
    resolved = set()
    for axis in np.asarray(axes, np.int64).reshape(-1):
        if not -rank <= axis < rank:
            raise ValueError(f"axis {int(axis)} is outside a {rank}-D tensor")
        resolved.add(int(axis) % rank)
    padded = (1,) * (RANK - rank) + shape
    flags = [0] * (RANK - rank) + [int(k in resolved) for k in range(rank)]
    for d in padded:
        if not 1 <= d <= MAX_DIM:
            raise ValueError(f"reduction dims must be in 1..{MAX_DIM}, got shape {shape}")
    return dict(zip(DIMS, padded, strict=True)) | dict(zip(FLAGS, flags, strict=True))


def count(p) -> int:
    """How many input values make one output value."""
    return int(np.prod([p[d] for d, f in zip(DIMS, FLAGS, strict=True) if p[f]], dtype=np.int64))


def output_shape_of(p) -> tuple:
    """The kept dims (the output of a chain model), (1,) when every dim is reduced."""
    return tuple(p[d] for d, f in zip(DIMS, FLAGS, strict=True) if not p[f]) or (1,)


def output_shape(layer) -> tuple:
    return output_shape_of(layer.params)


def _reduced(layer, x):
    """x [batch, ...] as int64 [batch, kept..., n]: the reduced values of each output last."""
    p = layer.params
    dims = [p[d] for d in DIMS]
    flags = [p[f] for f in FLAGS]
    image = np.asarray(x, np.int64).reshape(x.shape[0], *dims)
    kept = [k + 1 for k in range(RANK) if not flags[k]]
    reduced = [k + 1 for k in range(RANK) if flags[k]]
    moved = image.transpose(0, *kept, *reduced)
    return moved.reshape(x.shape[0], -1, count(p))


def prepare_reduce_max(shape, axes, input: tuple, output: tuple) -> Layer:
    """REDUCE_MAX; input / output: (scale, zero point), which TFLM requires to be equal."""
    if float(np.float32(input[0])) != float(np.float32(output[0])) or input[1] != output[1]:
        raise ValueError(
            "REDUCE_MAX needs the same input and output scale and zero point (TFLM refuses "
            "others); re-export the model with the converter"
        )
    return Layer("REDUCE_MAX", reduce_geometry(shape, axes), {})


def prepare_mean_or_sum(op, shape, axes, input: tuple, output: tuple) -> Layer:
    """MEAN_AXES or SUM; input / output: (float32 scale, int8 zero point)."""
    params = reduce_geometry(shape, axes)
    n = count(params)
    for name, (scale, zero_point) in (("input", input), ("output", output)):
        if not -128 <= zero_point <= 127:
            raise ValueError(f"{op} {name} zero point {zero_point} is outside -128..127")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"{op} {name} scale must be finite and > 0, got {scale}")
    if op == "MEAN_AXES":
        multiplier, shift = mean_multiplier(input[0], output[0], n)
    else:
        if not 1 <= n <= MAX_COUNT:
            raise ValueError(f"SUM over {n} values; micronn supports 1 to {MAX_COUNT}")
        ratio = float(np.float32(input[0])) / float(np.float32(output[0]))
        multiplier, shift = quantize_multiplier(ratio)
    if n * 255 << max(shift, 0) >= SMALL_INT_LIMIT:
        raise ValueError(
            f"{op} over {n} values with an output scale {output[0]:.6g} lets the sum pass the "
            "boards' 31-bit integers; widen the output range"
        )
    params |= {
        "input_zero_point": int(input[1]),
        "output_zero_point": int(output[1]),
        "multiplier": int(multiplier),
        "shift": int(shift),
    }
    return Layer(op, params, {})


def evaluate_max(layer, inputs, out_shape):
    out = _reduced(layer, inputs[0]).max(axis=2)
    return out.astype(np.int8).reshape(out.shape[0], *out_shape)


def evaluate_mean_or_sum(layer, inputs, out_shape):
    p = layer.params
    total = _reduced(layer, inputs[0]).sum(axis=2) - p["input_zero_point"] * count(p)
    scaled = multiply_by_quantized_multiplier(total, p["multiplier"], p["shift"])
    out = np.clip(scaled + p["output_zero_point"], -128, 127).astype(np.int8)
    return out.reshape(out.shape[0], *out_shape)


def _check_geometry(where, p, in_shapes, out_shape):
    require(all(1 <= p[d] <= MAX_DIM for d in DIMS), f"{where}: dims must be in 1..{MAX_DIM}")
    require(all(p[f] in (0, 1) for f in FLAGS), f"{where}: reduce flags must be 0 or 1")
    require(
        size(in_shapes[0]) == size([p[d] for d in DIMS]),
        f"{where}: the input tensor holds {size(in_shapes[0])} values, not the dims' product",
    )
    require(
        size(out_shape) == size(output_shape_of(p)),
        f"{where}: the output tensor holds {size(out_shape)} values, not the kept dims' product",
    )
    require(count(p) <= MAX_COUNT, f"{where}: too many values per output (at most {MAX_COUNT})")


def check_max(where, layer, in_shapes, out_shape):
    _check_geometry(where, layer.params, in_shapes, out_shape)


def check_mean_or_sum(where, layer, in_shapes, out_shape):
    p = layer.params
    _check_geometry(where, p, in_shapes, out_shape)
    for key in ("input_zero_point", "output_zero_point"):
        require(-128 <= p[key] <= 127, f"{where}: {key} is outside -128..127")
    if layer.op == "SUM":
        check_multiplier(where, [p["multiplier"]], [p["shift"]])
    else:  # 1 / n is folded into the multiplier (QuantizedMeanOrSum), so it may be below 2^30
        require(0 <= p["multiplier"] < 2**31, f"{where}: multiplier must be in [0, 2^31)")
        require(-31 <= p["shift"] <= 30, f"{where}: shift must be in [-31, 30]")
    worst = count(p) * 255 << max(p["shift"], 0)
    require(
        worst < SMALL_INT_LIMIT,
        f"{where}: the sum can reach {worst} (>= 2^30), beyond the boards' 31-bit integers; "
        "reduce fewer values or use a wider output range",
    )


OPERATORS = (
    Operator("REDUCE_MAX", 42, GEOMETRY, check_max, evaluate_max, output_shape, family="reduce"),
    Operator(
        "MEAN_AXES",
        43,
        (*GEOMETRY, *REQUANT),
        check_mean_or_sum,
        evaluate_mean_or_sum,
        output_shape,
        family="reduce",
    ),
    Operator(
        "SUM",
        44,
        (*GEOMETRY, *REQUANT),
        check_mean_or_sum,
        evaluate_mean_or_sum,
        output_shape,
        family="reduce",
    ),
)
