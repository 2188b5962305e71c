"""int8 MAXIMUM and MINIMUM of two tensors with broadcasting, bit-exact with TFLM
(micro/kernels/maximum_minimum.cc: no Prepare; the element-wise max / min of the raw int8 codes,
broadcast as reference_ops::MaximumMinimumBroadcastSlow).

TFLM compares codes whatever the tensors' quantization, which is the maximum of the values only
when both inputs and the output share one scale and zero point (the TFLite converter makes them
so). prepare_maximum_minimum refuses anything else. The record is the broadcast geometry only."""

import numpy as np

from micronn.model import Layer
from micronn.ops import broadcast
from micronn.ops.operator import Operator

FUNCTIONS = {"MAXIMUM": np.maximum, "MINIMUM": np.minimum}


def prepare_maximum_minimum(
    op_name: str, shape1, shape2, input1: tuple, input2: tuple, output: tuple, inputs=(0, 1),
    output_tensor=2,
) -> Layer:  # fmt: skip
    """A MAXIMUM or MINIMUM layer; input1, input2, output: (scale, zero_point), which must be
    equal (float32 scales)."""
    quantizations = [(float(np.float32(s)), int(z)) for s, z in (input1, input2, output)]
    if len(set(quantizations)) != 1:
        raise ValueError(
            f"{op_name} has inputs quantized as {quantizations[0]} and {quantizations[1]} and "
            f"output {quantizations[2]} (scale, zero point); TFLM compares raw codes, so micronn "
            "takes it only when all three are equal (re-export with the TFLite converter, which "
            "makes them so)"
        )
    params = broadcast.broadcast_geometry(shape1, shape2)
    return Layer(op_name, params, {}, tuple(inputs), output_tensor)


def _evaluate(function):
    def evaluate(layer, inputs, out_shape):
        a, b = broadcast.gather(layer, inputs)
        out = function(a, b).astype(np.int8)
        return out.reshape(out.shape[0], *out_shape)

    return evaluate


def check(where, layer, in_shapes, out_shape):
    broadcast.check_geometry(where, layer, in_shapes, out_shape)


OPERATORS = tuple(
    Operator(
        name,
        code,
        broadcast.GEOMETRY,
        check,
        _evaluate(FUNCTIONS[name]),
        broadcast.output_shape,
        family="broadcast",
        inputs=2,
    )
    for name, code in (("MAXIMUM", 15), ("MINIMUM", 16))
)
