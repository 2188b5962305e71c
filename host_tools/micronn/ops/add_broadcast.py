"""int8 ADD of two tensors with broadcasting (TFLM reference_integer_ops::BroadcastAdd4DSlow,
parameters from add_common.cc CalculateOpDataAdd, in double): SUB's "rescaled" parametrisation
(ops/sub.py) with the second input added. Same-shape ADD keeps its own record (ops/add.py, code
7, a flat loop); the importer picks that one whenever no input is broadcast."""

from micronn.model import Layer
from micronn.ops import broadcast, sub
from micronn.ops.operator import Operator


def prepare_add_broadcast(
    shape1, shape2, input1, input2, output, activation="none", inputs=(0, 1), output_tensor=2
) -> Layer:
    """ADD_BROADCAST: input1 + input2, TFLM's double Prepare (add_common.cc)."""
    return sub.prepare_rescaled(
        "ADD_BROADCAST",
        shape1,
        shape2,
        input1,
        input2,
        output,
        activation,
        inputs,
        output_tensor,
        float32=False,
    )


def evaluate(layer, inputs, out_shape):
    return sub.evaluate_rescaled(layer, inputs, out_shape, 1)


OPERATORS = (
    Operator(
        "ADD_BROADCAST",
        14,
        sub.PARAMS,
        sub.check,
        evaluate,
        broadcast.output_shape,
        family="broadcast",
        inputs=2,
    ),
)
